"""Dollars per token from the roofline step time.

Rent ``n`` chips at ``p`` dollars per chip-hour. A step of ``time_s`` seconds yields ``tokens``
tokens, so ``$ per token = p n / 3600 * time_s / tokens`` and ``$/Mtok`` is that times ``1e6``.
Per token, a decode step costs ``max(f(S)/F, (P(B) b_w / B + S k_B) / W)`` chip-seconds: the
weight fetch is shared by the batch (a hyperbola in ``B``), compute and KV reads are not, so cost
falls from "almost infinity" at ``B = 1`` to a floor. The argument is the scaling book's
(https://jax-ml.github.io/scaling-book/inference/) and kipply's "Transformer Inference
Arithmetic" (https://kipp.ly/transformer-inference-arithmetic/).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from tokenmath import hardware, models
from tokenmath.dtypes import bytes_per_element
from tokenmath.roofline import DecodeAt, Generation, HardwareLike, ModelLike, StepEstimate
from tokenmath.validate import nonneg, positive_int

__all__ = [
    "per_million_tokens",
    "per_token",
    "chip_seconds_per_token",
    "cost_vs_batch",
    "cost_vs_context",
    "cheapest_batch",
    "batching_penalty",
]


def _chips(estimate: StepEstimate | Generation, n_chips: int | None) -> int:
    """The chips billed: the estimate's own ``n_chips``; an explicit ``n_chips`` must agree."""
    if not isinstance(estimate, (StepEstimate, Generation)):
        raise ValueError(
            f"estimate must be a StepEstimate or Generation, got {type(estimate).__name__}"
        )
    if n_chips is not None:
        n_chips = positive_int(n_chips, "n_chips")
        if n_chips != estimate.n_chips:
            raise ValueError(
                f"n_chips={n_chips} disagrees with the estimate's n_chips={estimate.n_chips}; "
                "the estimate already carries its chip count"
            )
    return estimate.n_chips


def _chip_seconds(estimate: StepEstimate | Generation) -> float:
    return estimate.n_chips * estimate.time_s / estimate.tokens


def chip_seconds_per_token(estimate: StepEstimate | Generation) -> float:
    """``n_chips * time_s / tokens``: the chip-time one token occupies (price-free cost)."""
    _chips(estimate, None)
    return _chip_seconds(estimate)


def per_token(
    estimate: StepEstimate | Generation, price_per_hour: float, *, n_chips: int | None = None
) -> float:
    """Dollars per token: ``price_per_hour * n_chips / 3600 * time_s / tokens``.

    ``price_per_hour`` is per chip. The chips billed are ``estimate.n_chips`` (the estimate knows
    how many chips it ran on); ``n_chips``, if given, must equal it (a guard, not an override).
    """
    _chips(estimate, n_chips)
    return nonneg(price_per_hour, "price_per_hour") / 3600.0 * _chip_seconds(estimate)


def per_million_tokens(
    estimate: StepEstimate | Generation, price_per_hour: float, *, n_chips: int | None = None
) -> float:
    """Dollars per million tokens: ``1e6 * price_per_hour * n_chips / 3600 * time_s / tokens``.

    Same billing rule as :func:`per_token`. For a prefill estimate the tokens are prompt tokens.
    """
    return 1e6 * per_token(estimate, price_per_hour, n_chips=n_chips)


def _decode_kwargs(kwargs: dict[str, object]) -> tuple[dict[str, object], float]:
    """Split :func:`~tokenmath.roofline.decode_step` keywords into ``DecodeAt``'s and ``t0``."""
    kw = dict(kwargs)
    return kw, kw.pop("overhead_s", 0.0)  # type: ignore[return-value]


def cost_vs_batch(
    model: ModelLike,
    hw: HardwareLike,
    context: int,
    batches: Iterable[int],
    price_per_hour: float,
    **kwargs: object,
) -> list[float]:
    """``$/Mtok`` of a decode step at each batch (``kwargs`` go to :func:`decode_step`)."""
    price = nonneg(price_per_hour, "price_per_hour")
    kw, t0 = _decode_kwargs(kwargs)
    at = DecodeAt(model, hw, context, **kw)  # type: ignore[arg-type]
    return [1e6 * price / 3600.0 * _chip_seconds(at.step(b, t0)) for b in batches]


def cost_vs_context(
    model: ModelLike,
    hw: HardwareLike,
    batch: int,
    contexts: Iterable[int],
    price_per_hour: float,
    **kwargs: object,
) -> list[float]:
    """``$/Mtok`` of a decode step at each context (``kwargs`` go to :func:`decode_step`)."""
    m, a = models.get(model), hardware.get(hw)
    price = nonneg(price_per_hour, "price_per_hour")
    batch = positive_int(batch, "batch")
    kw, t0 = _decode_kwargs(kwargs)
    steps = [DecodeAt(m, a, s, **kw).step(batch, t0) for s in contexts]  # type: ignore[arg-type]
    return [1e6 * price / 3600.0 * _chip_seconds(e) for e in steps]


def _candidates(limit: int, extra: Sequence[float]) -> list[int]:
    grid = {1, limit}
    b = 1.0
    while b < limit:
        grid.add(int(b))
        b *= 1.25
    for x in extra:
        if math.isfinite(x):
            for v in (math.floor(x), math.ceil(x)):
                if 1 <= v <= limit:
                    grid.add(int(v))
    return sorted(grid)


def _cheapest(at: DecodeAt, limit: int) -> tuple[int, float]:
    """``(B, chip-seconds per token)`` minimizing decode cost over ``1..limit`` at ``at``."""
    cache: dict[int, float] = {}

    def cpt(b: int) -> float:
        if b not in cache:
            cache[b] = _chip_seconds(at.step(b))
        return cache[b]

    best = min(_candidates(limit, [at.balance_batch()]), key=lambda b: (cpt(b), b))
    improved = True
    while improved:  # local refinement by unit steps
        improved = False
        for nb in (best - 1, best + 1):
            if 1 <= nb <= limit and cpt(nb) < cpt(best) * (1 - 1e-12):
                best, improved = nb, True
    return best, cpt(best)


def _limit(at: DecodeAt, memory_fraction: float, batch_limit: int | None) -> int:
    """The largest batch considered: ``batch_limit``, else ``max_batch``; raises if 0."""
    if batch_limit is not None:
        return positive_int(batch_limit, "batch_limit")
    limit = at.max_batch(memory_fraction)
    if limit == 0:
        where = f"{at.n_chips} x {at.hw.name} (memory_fraction={memory_fraction})"
        weights = at.model.param_count() * bytes_per_element(at.weight_dtype)
        if weights > memory_fraction * at.n_chips * at.hw.hbm_bytes:
            what = f"the weights of {at.model.name} in {at.weight_dtype} do not fit"
        else:
            what = (f"the weights of {at.model.name} fit, but not with the KV cache of one "
                    f"sequence at context {at.context:,}: no batch fits")
        raise ValueError(f"{what} in {where}")
    return limit


def cheapest_batch(
    model: ModelLike,
    hw: HardwareLike,
    context: int,
    *,
    weight_dtype: str = "bf16",
    kv_dtype: str | None = None,
    compute_dtype: str | None = None,
    n_chips: int = 1,
    memory_fraction: float = 1.0,
    batch_limit: int | None = None,
) -> tuple[int, float]:
    """``(B, chip-seconds per token)`` minimizing decode cost per token over ``1..max_batch``.

    Scans a geometric grid (ratio 1.25) plus the balance batch, then refines by integer steps around
    the best point. Cost per token is non-increasing in ``B`` under this model, so the optimum is the
    balance batch (or any larger fitting batch) when it fits, else ``max_batch``; the scan does not
    rely on that. Ties go to the smallest batch. ``ValueError`` if the weights do not fit.
    ``batch_limit`` replaces ``max_batch`` as the largest batch considered: it ignores HBM capacity
    (as the published "thousand times worse" arithmetic does), so use it knowingly.
    """
    at = DecodeAt(model, hw, context, weight_dtype, kv_dtype, compute_dtype, n_chips)
    return _cheapest(at, _limit(at, memory_fraction, batch_limit))


def batching_penalty(
    model: ModelLike,
    hw: HardwareLike,
    context: int,
    *,
    weight_dtype: str = "bf16",
    kv_dtype: str | None = None,
    compute_dtype: str | None = None,
    n_chips: int = 1,
    memory_fraction: float = 1.0,
    batch_limit: int | None = None,
) -> float:
    """Cost per token at ``B = 1`` over the lowest cost per token at any batch that fits.

    The price per chip-hour cancels. Ideally (short context, the balance batch fits) this is the
    balance batch ``B*`` (~295 for a dense model on an H100 in bf16): "a thousand times worse"
    needs a sparse MoE, and then only if ``B = 1`` had to read all experts, which under expected
    routing it does not. KV reads, which batching cannot share, shrink it at long context, and so
    does HBM capacity (``batch_limit`` lifts that limit; see :func:`cheapest_batch`).
    """
    at = DecodeAt(model, hw, context, weight_dtype, kv_dtype, compute_dtype, n_chips)
    _, best = _cheapest(at, _limit(at, memory_fraction, batch_limit))
    return _chip_seconds(at.step(1)) / best
