"""Dollars per token from the roofline step time.

Rent ``n`` chips at ``p`` dollars per chip-hour. A step of ``time_s`` seconds yields ``tokens``
tokens, so ``$ per token = p n / 3600 * time_s / tokens`` and ``$/Mtok`` is that times ``1e6``.
Per token, a decode step costs ``max(f(S)/F, (P(B) b_w / B + S k_B) / W)`` chip-seconds: the
weight fetch is shared by the batch (a hyperbola in ``B``), compute and KV reads are not, so cost
falls from "almost infinity" at ``B = 1`` to a floor (claims.md C4, C5).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from tokenmath.roofline import (
    Generation,
    HardwareLike,
    ModelLike,
    StepEstimate,
    _finite,
    _hw,
    _model,
    _positive_int,
    balance_batch,
    decode_step,
    max_batch,
)

__all__ = [
    "per_million_tokens",
    "per_token",
    "chip_seconds_per_token",
    "cost_vs_batch",
    "cost_vs_context",
    "cheapest_batch",
    "batching_penalty",
]


def _price(price_per_hour: float) -> float:
    return _finite(price_per_hour, "price_per_hour", nonneg=True)


def _chips(estimate: StepEstimate | Generation, n_chips: int | None) -> int:
    """The chips billed: the estimate's own ``n_chips``; an explicit ``n_chips`` must agree."""
    if not isinstance(estimate, (StepEstimate, Generation)):
        raise ValueError(
            f"estimate must be a StepEstimate or Generation, got {type(estimate).__name__}"
        )
    if n_chips is not None:
        n_chips = _positive_int(n_chips, "n_chips")
        if n_chips != estimate.n_chips:
            raise ValueError(
                f"n_chips={n_chips} disagrees with the estimate's n_chips={estimate.n_chips}; "
                "the estimate already carries its chip count"
            )
    return estimate.n_chips


def chip_seconds_per_token(estimate: StepEstimate | Generation) -> float:
    """``n_chips * time_s / tokens``: the chip-time one token occupies (price-free cost)."""
    return _chips(estimate, None) * estimate.time_s / estimate.tokens


def per_token(
    estimate: StepEstimate | Generation, price_per_hour: float, *, n_chips: int | None = None
) -> float:
    """Dollars per token: ``price_per_hour * n_chips / 3600 * time_s / tokens``.

    ``price_per_hour`` is per chip. The chips billed are ``estimate.n_chips`` (the estimate knows
    how many chips it ran on); ``n_chips``, if given, must equal it (a guard, not an override).
    """
    chips = _chips(estimate, n_chips)
    return _price(price_per_hour) * chips / 3600.0 * estimate.time_s / estimate.tokens


def per_million_tokens(
    estimate: StepEstimate | Generation, price_per_hour: float, *, n_chips: int | None = None
) -> float:
    """Dollars per million tokens: ``1e6 * price_per_hour * n_chips / 3600 * time_s / tokens``.

    Same billing rule as :func:`per_token`. For a prefill estimate the tokens are prompt tokens.
    """
    return 1e6 * per_token(estimate, price_per_hour, n_chips=n_chips)


def cost_vs_batch(
    model: ModelLike,
    hw: HardwareLike,
    context: int,
    batches: Iterable[int],
    price_per_hour: float,
    **kwargs: object,
) -> list[float]:
    """``$/Mtok`` of a decode step at each batch (``kwargs`` go to :func:`decode_step`)."""
    m, a = _model(model), _hw(hw)
    return [
        per_million_tokens(decode_step(m, a, b, context, **kwargs), price_per_hour) for b in batches
    ]


def cost_vs_context(
    model: ModelLike,
    hw: HardwareLike,
    batch: int,
    contexts: Iterable[int],
    price_per_hour: float,
    **kwargs: object,
) -> list[float]:
    """``$/Mtok`` of a decode step at each context (``kwargs`` go to :func:`decode_step`)."""
    m, a = _model(model), _hw(hw)
    return [
        per_million_tokens(decode_step(m, a, batch, s, **kwargs), price_per_hour) for s in contexts
    ]


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
    m, a = _model(model), _hw(hw)
    if batch_limit is not None:
        limit = _positive_int(batch_limit, "batch_limit")
    else:
        limit = max_batch(
            m,
            a,
            context,
            weight_dtype=weight_dtype,
            kv_dtype=kv_dtype,
            memory_fraction=memory_fraction,
            n_chips=n_chips,
        )
    if limit == 0:
        raise ValueError(
            f"the weights of {m.name} in {weight_dtype} do not fit in "
            f"{n_chips} x {a.name} (memory_fraction={memory_fraction})"
        )
    kw = dict(
        weight_dtype=weight_dtype, kv_dtype=kv_dtype, compute_dtype=compute_dtype, n_chips=n_chips
    )
    b_star = balance_batch(m, a, context, **kw)

    cache: dict[int, float] = {}

    def cpt(b: int) -> float:
        if b not in cache:
            cache[b] = chip_seconds_per_token(decode_step(m, a, b, context, **kw))
        return cache[b]

    best = min(_candidates(limit, [b_star]), key=lambda b: (cpt(b), b))
    improved = True
    while improved:  # local refinement by unit steps
        improved = False
        for nb in (best - 1, best + 1):
            if 1 <= nb <= limit and cpt(nb) < cpt(best) * (1 - 1e-12):
                best, improved = nb, True
    return best, cpt(best)


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
    m, a = _model(model), _hw(hw)
    _, best = cheapest_batch(
        m,
        a,
        context,
        weight_dtype=weight_dtype,
        kv_dtype=kv_dtype,
        compute_dtype=compute_dtype,
        n_chips=n_chips,
        memory_fraction=memory_fraction,
        batch_limit=batch_limit,
    )
    one = decode_step(
        m,
        a,
        1,
        context,
        weight_dtype=weight_dtype,
        kv_dtype=kv_dtype,
        compute_dtype=compute_dtype,
        n_chips=n_chips,
    )
    return chip_seconds_per_token(one) / best
