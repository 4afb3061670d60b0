"""The numbers behind the cost-of-a-token explorer (standard library only).

The explorer lets a reader pick a model, an accelerator, a number of chips, a precision, a batch,
a context and a price per chip-hour, and shows the decode step time, the tokens per second and
the dollars per million tokens. Every number comes from :func:`tokenmath.roofline.decode_step`
(the roofline lower bound: ideal overlap, datasheet peaks, no fixed cost per step, no
communication between chips) and :mod:`tokenmath.cost`; whether a batch fits comes from
:func:`tokenmath.roofline.max_batch` (weights plus KV cache in all the HBM of the chips).

Two ways to get them:

* :func:`point` and :func:`curve` compute any point directly (the notebook explorer does this);
* :func:`grid` precomputes a grid, small enough to embed in a web page as JSON, from which a page
  without a Python kernel redraws everything (:mod:`tokenmath.explorer` builds that page).

The grid stores the step time of **one** chip. The roofline has no communication term, so ``n``
chips divide the step time by ``n`` exactly, and :meth:`Grid.lookup` returns what
``decode_step(..., n_chips=n)`` returns; the chip-seconds per token, hence the cost per token at
one batch, do not depend on ``n``. The price is linear too: the grid stores no dollars, and
``$/Mtok = 1e6 * price_per_hour / 3600 * chip_s_per_token``.

A precision is a recipe of three number formats (weights, KV cache, compute); see
:data:`PRECISIONS`. "16-bit" means bf16, or fp16 on a part without bf16 (the T4), which stores
and moves the same bytes. A recipe a part cannot run (fp8 on an A100) is marked unsupported.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from tokenmath import hardware, models
from tokenmath.roofline import DecodeAt
from tokenmath.validate import nonneg, positive_int

__all__ = [
    "Precision",
    "PRECISIONS",
    "MODELS",
    "ACCELERATORS",
    "BATCHES",
    "CONTEXTS",
    "CHIPS",
    "DEFAULT_PRICE_PER_HOUR",
    "model_label",
    "model_key",
    "hw_key",
    "dtypes",
    "Point",
    "point",
    "curve",
    "Cell",
    "Grid",
    "grid",
]


@dataclass(frozen=True)
class Precision:
    """Number formats of one serving recipe. ``"16-bit"`` is bf16, or fp16 where there is no bf16."""

    key: str
    label: str
    weight: str
    kv: str
    compute: str


_PRECISION_LIST = (
    Precision("bf16", "bf16 weights and KV cache (fp16 on a T4)", "16-bit", "16-bit", "16-bit"),
    Precision("fp8", "fp8 weights, KV cache and compute", "fp8", "fp8", "fp8"),
    Precision("int8-weights", "int8 weights, bf16 KV cache and compute", "int8", "16-bit", "16-bit"),
    Precision("int4-weights", "int4 weights, bf16 KV cache and compute", "int4", "16-bit", "16-bit"),
)
PRECISIONS: Mapping[str, Precision] = MappingProxyType({p.key: p for p in _PRECISION_LIST})

# Model presets of tokenmath.models (their sources are there), with the names readers know.
_LABELS = {
    "llama-3.2-1b": "Llama-3.2-1B",
    "llama-3-8b": "Llama-3-8B",
    "mistral-7b": "Mistral-7B (sliding window)",
    "mixtral-8x7b": "Mixtral-8x7B (MoE)",
    "llama-3-70b": "Llama-3-70B",
    "llama-3-405b": "Llama-3.1-405B",
    "deepseek-v3": "DeepSeek-V3 (MoE, MLA)",
}
MODELS: tuple[str, ...] = tuple(_LABELS)
# Accelerators of tokenmath.hardware (datasheet sources there): Colab's T4 to a B200.
ACCELERATORS: tuple[str, ...] = (
    "T4", "L4", "RTX-4090", "A100-80GB", "H100-SXM", "H200", "B200", "MI300X", "TPU-v5e",
)
BATCHES: tuple[int, ...] = tuple(2**k for k in range(13))  # 1 .. 4,096
CONTEXTS: tuple[int, ...] = tuple(2**k for k in range(8, 18))  # 256 .. 131,072
CHIPS: tuple[int, ...] = (1, 2, 4, 8)
# $2 per H100-hour: the rental rate Epoch AI assumes ("Inference economics of language models",
# arXiv 2506.04645), the catalog price of H100-SXM. The reader sets their own.
DEFAULT_PRICE_PER_HOUR = 2.0


def model_label(model: str) -> str:
    """The display name of a model preset (its preset name if it has none)."""
    return _LABELS.get(model, model)


# ----------------------------------------------------------------------------- checks


def model_key(name: object) -> str:
    """The preset name of a model (any spelling :func:`tokenmath.models.get` takes).

    ``ValueError`` naming the presets if there is none.
    """
    return _model(name)


def hw_key(name: object) -> str:
    """The catalog name of an accelerator (names and aliases of :func:`tokenmath.hardware.get`).

    ``ValueError`` naming the catalog if there is none.
    """
    return _hw(name)


def _model(name: object) -> str:
    try:
        return models.get(name).name  # type: ignore[arg-type]
    except KeyError:
        known = ", ".join(models.names())
        raise ValueError(f"model={name!r} is not a preset; use one of {known}") from None


def _hw(name: object) -> str:
    try:
        return hardware.get(name).name  # type: ignore[arg-type]
    except KeyError:
        known = ", ".join(hardware.names())
        raise ValueError(f"hw={name!r} is not in the catalog; use one of {known}") from None


def _precision(key: object) -> Precision:
    if key not in PRECISIONS:
        raise ValueError(f"precision={key!r} is not known; use one of {', '.join(PRECISIONS)}")
    return PRECISIONS[key]  # type: ignore[index]


def _axis(values: Iterable[object], name: str) -> tuple[int, ...]:
    """A grid axis: positive integers, strictly increasing, at least one."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise ValueError(f"{name} must be a sequence of positive integers, got {values!r}")
    out = tuple(positive_int(v, name) for v in values)
    if not out or any(b <= a for a, b in zip(out, out[1:])):
        raise ValueError(f"{name} must be non-empty and strictly increasing, got {list(out)!r}")
    return out


def _names(values: Iterable[object], check, name: str) -> tuple[str, ...]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise ValueError(f"{name} must be a sequence of names, got {values!r}")
    out = tuple(check(v) for v in values)
    if not out or len(set(out)) != len(out):
        raise ValueError(f"{name} must be non-empty without repeats, got {list(values)!r}")
    return out


# ----------------------------------------------------------------------------- one point


def dtypes(precision: str, hw: str) -> tuple[str, str, str]:
    """``(weight_dtype, kv_dtype, compute_dtype)`` of a recipe on a part.

    ``"16-bit"`` becomes bf16, or fp16 where the part has no bf16 FLOP/s. ``ValueError`` if the part
    has no FLOP/s for the recipe's compute format (fp8 on a T4, an A100 or a TPU v5e).
    """
    p, a = _precision(precision), hardware.get(_hw(hw))
    sixteen = "bf16" if "bf16" in a.flops else "fp16"
    w, kv, c = (sixteen if d == "16-bit" else d for d in (p.weight, p.kv, p.compute))
    if c not in a.flops:
        have = ", ".join(d for d in a.flops)
        raise ValueError(
            f"precision={precision!r}: {a.name} has no {c} FLOP/s (it has {have})"
        )
    return w, kv, c


@dataclass(frozen=True)
class Point:
    """One decode step of the explorer, and what it costs.

    ``step_s`` is the wall-clock time of the step on ``n_chips`` chips; ``tokens_per_s`` is
    ``batch / step_s``; ``chip_s_per_token = n_chips * step_s / batch`` (the price-free cost);
    ``bound`` is ``"memory"`` or ``"compute"``; ``max_batch`` is the largest batch whose weights
    and KV cache fit in the chips' HBM (0: the weights alone do not fit).
    """

    model: str
    hw: str
    precision: str
    batch: int
    context: int
    n_chips: int
    step_s: float
    bound: str
    max_batch: int

    @property
    def fits(self) -> bool:
        """Weights plus the KV cache of ``batch`` sequences fit in HBM."""
        return self.batch <= self.max_batch

    @property
    def tokens_per_s(self) -> float:
        return self.batch / self.step_s

    @property
    def chip_s_per_token(self) -> float:
        return self.n_chips * self.step_s / self.batch

    def usd_per_mtok(self, price_per_hour: float) -> float:
        """Dollars per million tokens at ``price_per_hour`` dollars per chip-hour."""
        return 1e6 * nonneg(price_per_hour, "price_per_hour") / 3600.0 * self.chip_s_per_token


def _decode_at(model: str, hw: str, precision: str, context: int, n_chips: int) -> DecodeAt:
    w, kv, c = dtypes(precision, hw)
    return DecodeAt(model, hw, context, w, kv, c, n_chips)


def curve(
    model: str,
    hw: str,
    precision: str,
    context: int,
    batches: Sequence[int],
    *,
    n_chips: int = 1,
) -> list[Point]:
    """The explorer's points at one context, one per batch in ``batches`` (computed directly)."""
    model, hw = _model(model), _hw(hw)
    context, n_chips = positive_int(context, "context"), positive_int(n_chips, "n_chips")
    batches = _axis(batches, "batches")
    at = _decode_at(model, hw, precision, context, n_chips)
    limit = at.max_batch()
    out = []
    for b in batches:
        est = at.step(b)
        out.append(Point(model, hw, precision, b, context, n_chips, est.time_s, est.bound, limit))
    return out


def point(
    model: str,
    hw: str,
    precision: str = "bf16",
    batch: int = 1,
    context: int = 1024,
    *,
    n_chips: int = 1,
) -> Point:
    """One point of the explorer, computed directly: see :class:`Point`."""
    batch = positive_int(batch, "batch")
    return curve(model, hw, precision, context, [batch], n_chips=n_chips)[0]


# ----------------------------------------------------------------------------- the grid


@dataclass(frozen=True)
class Cell:
    """One (model, accelerator, precision) of a :class:`Grid`.

    ``step_s[i][j]``: step time on one chip at ``contexts[i]`` and ``batches[j]``;
    ``bound[i][j]``: ``"m"`` (memory-bound) or ``"c"`` (compute-bound);
    ``max_batch[i][k]``: largest batch that fits at ``contexts[i]`` on ``chips[k]`` chips.
    ``unsupported`` is the reason the part cannot run the recipe (the tables are then empty).
    """

    step_s: tuple[tuple[float, ...], ...] = ()
    bound: tuple[str, ...] = ()
    max_batch: tuple[tuple[int, ...], ...] = ()
    unsupported: str | None = None


@dataclass(frozen=True)
class Grid:
    """Precomputed explorer points: see :func:`grid`. ``cells[(model, hw, precision)]``."""

    models: tuple[str, ...]
    accelerators: tuple[str, ...]
    precisions: tuple[str, ...]
    batches: tuple[int, ...]
    contexts: tuple[int, ...]
    chips: tuple[int, ...]
    cells: Mapping[tuple[str, str, str], Cell]

    @property
    def n_points(self) -> int:
        """Step times stored (supported cells only)."""
        n = len(self.batches) * len(self.contexts)
        return n * sum(1 for c in self.cells.values() if c.unsupported is None)

    def lookup(
        self, model: str, hw: str, precision: str, batch: int, context: int, n_chips: int = 1
    ) -> Point:
        """The :class:`Point` the grid gives (the same arithmetic the web page does).

        ``ValueError`` if a value is not on the grid or the part cannot run the recipe.
        """
        key = (_model(model), _hw(hw), _precision(precision).key)
        if key not in self.cells:
            raise ValueError(f"(model, hw, precision)={key!r} is not in this grid")
        cell = self.cells[key]
        if cell.unsupported:
            raise ValueError(cell.unsupported)
        i = _index(self.contexts, context, "context")
        j = _index(self.batches, batch, "batch")
        k = _index(self.chips, n_chips, "n_chips")
        return Point(
            key[0], key[1], key[2], batch, context, n_chips,
            step_s=cell.step_s[i][j] / n_chips,
            bound="compute" if cell.bound[i][j] == "c" else "memory",
            max_batch=cell.max_batch[i][k],
        )


def _index(axis: tuple[int, ...], value: int, name: str) -> int:
    if value not in axis:
        raise ValueError(f"{name}={value!r} is not on the grid; use one of {list(axis)}")
    return axis.index(value)


def grid(
    models: Iterable[str] = MODELS,
    accelerators: Iterable[str] = ACCELERATORS,
    precisions: Iterable[str] = tuple(PRECISIONS),
    batches: Iterable[int] = BATCHES,
    contexts: Iterable[int] = CONTEXTS,
    chips: Iterable[int] = CHIPS,
) -> Grid:
    """Every explorer point on a grid: step time on one chip, bound, and the largest batch that
    fits on each chip count (see :class:`Cell`). The default grid (7 models, 9 parts, 4
    precisions, 13 batches, 10 contexts) takes well under a second.
    """
    ms = _names(models, _model, "models")
    hws = _names(accelerators, _hw, "accelerators")
    ps = _names(precisions, lambda p: _precision(p).key, "precisions")
    bs, ss, ns = _axis(batches, "batches"), _axis(contexts, "contexts"), _axis(chips, "chips")
    cells: dict[tuple[str, str, str], Cell] = {}
    for m in ms:
        for a in hws:
            for p in ps:
                try:
                    w, kv, c = dtypes(p, a)
                except ValueError as e:
                    cells[(m, a, p)] = Cell(unsupported=str(e).removeprefix(f"precision={p!r}: "))
                    continue
                steps, bounds, limits = [], [], []
                for s in ss:
                    at = DecodeAt(m, a, s, w, kv, c, 1)
                    row = [at.step(b) for b in bs]
                    steps.append(tuple(e.time_s for e in row))
                    bounds.append("".join(e.bound[0] for e in row))
                    limits.append(tuple(DecodeAt(m, a, s, w, kv, c, n).max_batch() for n in ns))
                cells[(m, a, p)] = Cell(tuple(steps), tuple(bounds), tuple(limits))
    return Grid(ms, hws, ps, bs, ss, ns, MappingProxyType(cells))
