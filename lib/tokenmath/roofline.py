"""The roofline model of LLM inference: decode steps, prefill, whole generations.

Symbols (the course's notation): ``B`` batch (sequences, one new token each per decode step),
``S`` context (KV-cache length each sequence attends to), ``N`` parameters, ``F`` peak FLOP/s of
one chip in the compute dtype, ``W`` HBM bandwidth of one chip in bytes/s, ``b_w`` bytes per
weight, ``k_B`` KV bytes per token (all layers), ``n`` chips.

One decode step (ideal overlap of compute and memory traffic, no communication):

* ``flops = B * flops_per_token(S)``
* ``weight_bytes = decode_weight_params(B) * b_w`` (every weight except the untied input
  embedding, of which only ``B`` rows are read; MoE: the experts ``B`` tokens touch in expectation)
* ``kv_bytes = B * kv_cache_bytes(S)`` (``B S k_B`` without a sliding window)
* ``compute_s = flops / (n F)``, ``weight_s = weight_bytes / (n W)``, ``kv_s = kv_bytes / (n W)``
* ``memory_s = weight_s + kv_s``, ``time_s = max(compute_s, memory_s)``, ``tokens/s = B / time_s``

``time_s`` is the roofline *lower bound*; ``compute_s + memory_s`` (no overlap at all) is an upper
bound at most twice as large.

Communication between chips (:func:`decode_step` with ``parallelism``; off by default, which keeps
the ideal, free sharding above). ``W_link`` is one chip's scale-up link bandwidth in bytes/s per
direction (``Accelerator.link_bandwidth``), ``b_a`` bytes per activation element, ``d`` the model
width, ``L`` layers of which ``L_moe`` are mixtures of experts, ``E_act`` routed experts per
token. Each formula is the bytes that all ``n`` chips together send over their links in one
decode step of ``B`` tokens (:func:`network_bytes`), over a switched domain where every chip
reaches every other at ``W_link`` (NVLink through NVSwitch):

* tensor parallelism (``"tp"``): every layer ends its attention and its MLP with an all-reduce of
  the ``[B, d]`` activations; a bandwidth-optimal all-reduce makes each chip send
  ``2 (n - 1) / n`` times the array, so ``M_net = 2 L * 2 (n - 1) * B d b_a``;
* expert parallelism (``"ep"``, attention data-parallel): in each MoE layer every token is
  dispatched to its ``E_act`` routed experts and their outputs are combined back; a fraction
  ``(n - 1) / n`` of the experts live on other chips, so
  ``M_net = 2 L_moe * B E_act d b_a (n - 1) / n`` (one copy per expert, no deduplication of
  experts that share a chip).

``network_s = M_net / (n W_link) + n_coll * alpha`` with ``n_coll`` collectives per step
(``2 L`` or ``2 L_moe``) and ``alpha = collective_latency_s`` (default 0), and the step is
``time_s = max(compute_s, memory_s, network_s) + t0``: the communication roofline, which assumes
transfers overlap compute and memory traffic perfectly (two micro-batches, one computing while the
other communicates). ``serial_s`` is the no-overlap sum. Compute and memory stay ideally sharded
(``1/n`` of every FLOP and byte per chip), which expert parallelism with replicated attention
weights, or tensor parallelism of a cache shared by all heads (MLA), do not reach.

A real step also pays a fixed cost ``t0`` that no byte or FLOP count sees: hundreds of kernels, each
with its launch, ramp-up and tail. ``overhead_s=t0`` adds it, ``time_s = max(...) + t0``, and
:func:`fit_overhead` fits it on a few measured steps. With measured ``F`` and ``W`` this is the
calibrated roofline ``max(C / F_meas, M / W_meas) + t0``: measured ceilings plus an overhead term,
the correction kipply's "Transformer Inference Arithmetic"
(https://kipp.ly/transformer-inference-arithmetic/) applies to a pure roofline.

Each public function checks its arguments once; :class:`DecodeAt` holds the checked inputs of
decode at one context, for callers (:mod:`tokenmath.cost`, :mod:`tokenmath.plot`) that estimate
many batches.

Quantized weights usually compute in bf16 (the int4/int8 values are dequantized on the fly): pass
``weight_dtype="int8", compute_dtype="bf16"``. ``compute_dtype`` defaults to ``weight_dtype``, and a
part without FLOP/s for it (int4 on most GPUs, bf16 on a T4) raises the hardware's ``ValueError``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Union

from tokenmath import hardware, models
from tokenmath.dtypes import bytes_per_element, check_dtype
from tokenmath.validate import fraction, nonneg, nonneg_int, positive, positive_int

if TYPE_CHECKING:
    from tokenmath.hardware import Accelerator
    from tokenmath.models import ModelConfig

ModelLike = Union["ModelConfig", str]
HardwareLike = Union["Accelerator", str]

__all__ = [
    "StepEstimate",
    "Generation",
    "step_time",
    "step_from_counts",
    "network_bytes",
    "DecodeAt",
    "decode_step",
    "prefill_flops",
    "prefill",
    "generation",
    "balance_batch",
    "critical_context",
    "latency_floor",
    "max_batch",
    "mbu",
    "mfu",
    "fit_overhead",
]

PARALLELISMS = ("tp", "ep")


# ----------------------------------------------------------------------------- helpers
# Private helpers take values the public function calling them has already checked.


def _dtypes(
    weight_dtype: str, kv_dtype: str | None, compute_dtype: str | None
) -> tuple[str, str, str]:
    w = check_dtype(weight_dtype, "weight_dtype")
    kv = w if kv_dtype is None else check_dtype(kv_dtype, "kv_dtype")
    c = w if compute_dtype is None else check_dtype(compute_dtype, "compute_dtype")
    return w, kv, c


def _peak(a: Accelerator, compute_dtype: str, weight_dtype: str) -> float:
    """``a.peak_flops(compute_dtype)``, its ``ValueError`` prefixed with the parameter's name."""
    try:
        return a.peak_flops(compute_dtype)
    except ValueError as e:
        msg = str(e)
        msg = msg.removeprefix(f"dtype={compute_dtype!r}: ")
        hint = ""
        if compute_dtype == weight_dtype and compute_dtype in ("int4", "int8", "fp8"):
            hint = "; quantized weights usually compute in bf16: pass compute_dtype='bf16'"
        raise ValueError(
            f"compute_dtype={compute_dtype!r} (defaults to weight_dtype): {msg}{hint}"
        ) from None


# ----------------------------------------------------------------------------- the estimate


@dataclass(frozen=True)
class StepEstimate:
    """One roofline step: its work, its traffic, and the time each takes.

    ``time_s = max(compute_s, memory_s, network_s) + overhead_s`` with
    ``memory_s = weight_s + kv_s``; ``bound`` names the largest: ``"compute"`` or ``"memory"``,
    or ``"network"`` when communication outlasts both (``network_s`` is 0 unless a parallelism is
    given, see :func:`decode_step`). ``tokens`` counts tokens the step handles:
    ``B`` for a decode step (one new token per sequence), ``B * T`` for a prefill of ``T`` prompt
    tokens. ``tokens_per_s = tokens / time_s``.
    Times are wall-clock for the ``n_chips`` chips together; bytes and FLOPs are totals over them
    (``network_bytes``: bytes all chips send over their links).
    """

    flops: float
    weight_bytes: float
    kv_bytes: float
    compute_s: float
    weight_s: float
    kv_s: float
    memory_s: float
    time_s: float
    bound: str
    tokens_per_s: float
    batch: int
    tokens: int
    context: int = 0
    n_chips: int = 1
    phase: str = "decode"
    overhead_s: float = 0.0
    network_bytes: float = 0.0
    network_s: float = 0.0

    @property
    def bytes(self) -> float:
        """HBM bytes moved: ``weight_bytes + kv_bytes``."""
        return self.weight_bytes + self.kv_bytes

    @property
    def intensity(self) -> float:
        """Arithmetic intensity ``flops / bytes`` in FLOP/byte."""
        return self.flops / self.bytes if self.bytes > 0 else math.inf

    @property
    def serial_s(self) -> float:
        """No-overlap upper bound ``compute_s + memory_s + network_s + overhead_s``: at most
        ``2 * time_s`` without communication, ``3 * time_s`` with it."""
        return self.compute_s + self.memory_s + self.network_s + self.overhead_s

    @property
    def time_per_token_s(self) -> float:
        """``time_s / tokens``: seconds of the whole machine per token."""
        return self.time_s / self.tokens


def _step(
    flops: float,
    weight_bytes: float,
    kv_bytes: float,
    peak_flops: float,
    bandwidth: float,
    *,
    batch: int,
    tokens: int,
    context: int,
    n_chips: int,
    mfu: float = 1.0,
    phase: str = "decode",
    overhead_s: float = 0.0,
    network_bytes: float = 0.0,
    link_bandwidth: float | None = None,
    latency_s: float = 0.0,
) -> StepEstimate:
    compute_s = flops / (n_chips * peak_flops * mfu)
    weight_s = weight_bytes / (n_chips * bandwidth)
    kv_s = kv_bytes / (n_chips * bandwidth)
    memory_s = weight_s + kv_s
    if max(compute_s, memory_s) <= 0:
        raise ValueError("flops, weight_bytes and kv_bytes are all zero: the step takes no time")
    network_s = latency_s
    if network_bytes > 0:
        network_s += network_bytes / (n_chips * link_bandwidth)  # type: ignore[operator]
    time_s = max(compute_s, memory_s, network_s) + overhead_s
    if network_s > max(compute_s, memory_s):
        bound = "network"
    else:
        bound = "compute" if compute_s >= memory_s else "memory"
    return StepEstimate(
        flops=flops,
        weight_bytes=weight_bytes,
        kv_bytes=kv_bytes,
        compute_s=compute_s,
        weight_s=weight_s,
        kv_s=kv_s,
        memory_s=memory_s,
        time_s=time_s,
        bound=bound,
        tokens_per_s=tokens / time_s,
        batch=batch,
        tokens=tokens,
        context=context,
        n_chips=n_chips,
        phase=phase,
        overhead_s=overhead_s,
        network_bytes=network_bytes,
        network_s=network_s,
    )


def _link(a: Accelerator, link_bandwidth: float | None, name: str = "link_bandwidth") -> float:
    """``link_bandwidth`` checked, else the catalog's; ``ValueError`` if neither is known."""
    if link_bandwidth is not None:
        return positive(link_bandwidth, name)
    if a.link_bandwidth is None:
        raise ValueError(
            f"{name}=None: {a.name} has no link bandwidth in the catalog; pass "
            f"{name} in bytes/s per direction"
        )
    return a.link_bandwidth


def _network_bytes(
    m: ModelConfig, batch: int, n_chips: int, parallelism: str, b_a: float
) -> tuple[float, int]:
    """(bytes all chips send per decode step, collectives per step); inputs already checked."""
    if parallelism == "tp":
        return 2 * m.n_layers * 2 * (n_chips - 1) * batch * m.d_model * b_a, 2 * m.n_layers
    remote = (n_chips - 1) / n_chips
    moe = m.n_moe_layers
    return 2 * moe * batch * m.n_active_experts * m.d_model * b_a * remote, 2 * moe


def _parallelism(value: object, m: ModelConfig) -> str:
    if not isinstance(value, str) or value.strip().lower() not in PARALLELISMS:
        raise ValueError(
            f"parallelism must be {' or '.join(map(repr, PARALLELISMS))}, got {value!r}"
        )
    p = value.strip().lower()
    if p == "ep" and not m.is_moe:
        raise ValueError(
            f"parallelism='ep': {m.name} is dense; expert parallelism needs a mixture of "
            "experts (use 'tp')"
        )
    return p


def network_bytes(
    model: ModelLike,
    batch: int,
    n_chips: int,
    parallelism: str,
    *,
    activation_dtype: str = "bf16",
) -> float:
    """Bytes all ``n`` chips send over their links in one decode step of ``B`` tokens.

    ``parallelism="tp"`` (tensor parallelism: two all-reduces of ``[B, d]`` per layer, each chip
    sending ``2 (n - 1) / n`` of the array per all-reduce):
    ``M_net = 2 L * 2 (n - 1) * B d b_a``, that is ``4 L (n - 1) / n * B d b_a`` per chip, which
    does not shrink as ``n`` grows.

    ``parallelism="ep"`` (expert parallelism with data-parallel attention: each token goes to
    its ``E_act`` routed experts and back in every MoE layer, ``(n - 1) / n`` of them remote):
    ``M_net = 2 L_moe * B E_act d b_a (n - 1) / n``, so ``2 L_moe E_act d b_a (n - 1) / n``
    bytes per token (DeepSeek-V3 in bf16 on 8 chips: 11.6 MB), ``1/n`` of it per chip.

    ``b_a`` is ``bytes_per_element(activation_dtype)``. ``n = 1`` sends nothing. The embedding,
    the LM head and the shared experts (replicated on every chip) are not counted.
    """
    m = models.get(model)
    b_a = bytes_per_element(check_dtype(activation_dtype, "activation_dtype"))
    p = _parallelism(parallelism, m)
    return _network_bytes(m, positive_int(batch, "batch"), positive_int(n_chips, "n_chips"),
                          p, b_a)[0]


def step_from_counts(
    flops: float,
    weight_bytes: float,
    kv_bytes: float,
    peak_flops: float,
    bandwidth: float,
    *,
    batch: int = 1,
    tokens: int | None = None,
    context: int = 0,
    n_chips: int = 1,
    mfu: float = 1.0,
    phase: str = "decode",
    overhead_s: float = 0.0,
    network_bytes: float = 0.0,
    link_bandwidth: float | None = None,
) -> StepEstimate:
    """Build a :class:`StepEstimate` from raw counts (per-chip ``peak_flops`` and ``bandwidth``).

    ``compute_s = flops / (n_chips * peak_flops * mfu)``; ``weight_s``, ``kv_s`` divide by
    ``n_chips * bandwidth``; ``network_s = network_bytes / (n_chips * link_bandwidth)`` (bytes
    all chips send, per-chip ``W_link``; needs ``link_bandwidth`` when ``network_bytes > 0``);
    ``time_s = max(compute_s, weight_s + kv_s, network_s) + overhead_s``.
    """
    batch = positive_int(batch, "batch")
    net = nonneg(network_bytes, "network_bytes")
    if link_bandwidth is not None:
        link_bandwidth = positive(link_bandwidth, "link_bandwidth")
    elif net > 0:
        raise ValueError(
            f"link_bandwidth=None with network_bytes={network_bytes!r}: pass the per-chip link "
            "bandwidth in bytes/s per direction"
        )
    return _step(
        nonneg(flops, "flops"),
        nonneg(weight_bytes, "weight_bytes"),
        nonneg(kv_bytes, "kv_bytes"),
        positive(peak_flops, "peak_flops"),
        positive(bandwidth, "bandwidth"),
        batch=batch,
        tokens=batch if tokens is None else positive_int(tokens, "tokens"),
        context=nonneg_int(context, "context"),
        n_chips=positive_int(n_chips, "n_chips"),
        mfu=fraction(mfu, "mfu"),
        phase=phase,
        overhead_s=nonneg(overhead_s, "overhead_s"),
        network_bytes=net,
        link_bandwidth=link_bandwidth,
    )


def step_time(
    flops: float,
    weight_bytes: float,
    kv_bytes: float,
    peak_flops: float,
    bandwidth: float,
    *,
    n_chips: int = 1,
    separate_kv: bool = False,
    overhead_s: float = 0.0,
) -> float:
    """Step time in seconds from raw counts (the exercise-sized version of :func:`decode_step`).

    Default (full overlap): ``max(flops / (n F), (weight_bytes + kv_bytes) / (n W))``.
    ``separate_kv=True`` is the scaling-book "general step time": attention reads the KV cache in
    its own memory-bound kernels that do not overlap the matmuls, so
    ``kv_bytes / (n W) + max(flops / (n F), weight_bytes / (n W))``. ``overhead_s`` (``t0``) is
    added to either.
    """
    est = step_from_counts(
        flops, weight_bytes, kv_bytes, peak_flops, bandwidth, n_chips=n_chips, overhead_s=overhead_s
    )
    if separate_kv:
        return est.kv_s + max(est.compute_s, est.weight_s) + est.overhead_s
    return est.time_s


# ----------------------------------------------------------------------------- decode


@dataclass(frozen=True)
class DecodeAt:
    """Decode of one model on ``n_chips`` of one accelerator at a fixed context ``S``.

    The inputs are checked once, here; :meth:`step`, :meth:`balance_batch` and :meth:`max_batch`
    then reuse them (what :mod:`tokenmath.cost` does when it scans many batches). ``model`` and
    ``hw`` may be names; ``kv_dtype`` and ``compute_dtype`` default to ``weight_dtype``. The
    compute dtype is looked up on the hardware only when a step or the balance batch needs it.
    ``parallelism``, ``link_bandwidth``, ``activation_dtype`` and ``collective_latency_s`` add the
    network term of :func:`decode_step` to :meth:`step`; :meth:`balance_batch` and
    :meth:`max_batch` ignore it.
    """

    model: ModelLike
    hw: HardwareLike
    context: int
    weight_dtype: str = "bf16"
    kv_dtype: str | None = None
    compute_dtype: str | None = None
    n_chips: int = 1
    parallelism: str | None = None
    link_bandwidth: float | None = None
    activation_dtype: str = "bf16"
    collective_latency_s: float = 0.0

    def __post_init__(self) -> None:
        w, kv, c = _dtypes(self.weight_dtype, self.kv_dtype, self.compute_dtype)
        m, a = models.get(self.model), hardware.get(self.hw)
        n = positive_int(self.n_chips, "n_chips")
        p, link = None, self.link_bandwidth
        if self.parallelism is not None:
            p = _parallelism(self.parallelism, m)
            link = _link(a, link) if n > 1 else link
        elif link is not None:
            link = positive(link, "link_bandwidth")
        checked = dict(
            model=m,
            hw=a,
            context=nonneg_int(self.context, "context"),
            weight_dtype=w,
            kv_dtype=kv,
            compute_dtype=c,
            n_chips=n,
            parallelism=p,
            link_bandwidth=link,
            activation_dtype=check_dtype(self.activation_dtype, "activation_dtype"),
            collective_latency_s=nonneg(self.collective_latency_s, "collective_latency_s"),
        )
        for name, value in checked.items():
            object.__setattr__(self, name, value)

    @cached_property
    def peak_flops(self) -> float:
        """Dense peak FLOP/s of one chip in ``compute_dtype`` (``ValueError`` if it has none)."""
        return _peak(self.hw, self.compute_dtype, self.weight_dtype)

    def step(self, batch: int, overhead_s: float = 0.0) -> StepEstimate:
        """One decode step of ``B = batch`` sequences: see :func:`decode_step`."""
        batch = positive_int(batch, "batch")
        m, s = self.model, self.context
        net, n_coll = 0.0, 0
        if self.parallelism is not None and self.n_chips > 1:
            b_a = bytes_per_element(self.activation_dtype)
            net, n_coll = _network_bytes(m, batch, self.n_chips, self.parallelism, b_a)
        return _step(
            flops=batch * m.flops_per_token(s),
            weight_bytes=m.decode_weight_params(batch) * bytes_per_element(self.weight_dtype),
            kv_bytes=batch * m.kv_cache_bytes(s, self.kv_dtype),
            peak_flops=self.peak_flops,
            bandwidth=self.hw.hbm_bandwidth,
            batch=batch,
            tokens=batch,
            context=s,
            n_chips=self.n_chips,
            overhead_s=nonneg(overhead_s, "overhead_s"),
            network_bytes=net,
            link_bandwidth=self.link_bandwidth,
            latency_s=n_coll * self.collective_latency_s,
        )

    def balance_batch(self) -> float:
        """The batch where compute time reaches memory time: see :func:`balance_batch`."""
        m, F, W = self.model, self.peak_flops, self.hw.hbm_bandwidth
        b_w, s = bytes_per_element(self.weight_dtype), self.context
        per_token_s = m.flops_per_token(s) / F - m.kv_cache_bytes(s, self.kv_dtype) / W

        def g(batch: int) -> float:  # compute time minus memory time, per chip, in seconds
            return batch * per_token_s - m.decode_weight_params(batch) * b_w / W

        big = 2**40
        slope_rows = m.decode_weight_params(big + 1) - m.decode_weight_params(big)  # ~0: capped
        if per_token_s - slope_rows * b_w / W <= 0:
            return math.inf
        g1 = g(1)
        if g1 >= 0:  # balanced below one sequence: extend P linearly to B = 0
            g0 = -(2 * m.decode_weight_params(1) - m.decode_weight_params(2)) * b_w / W
            return -g0 / (g1 - g0)
        lo, hi = 1, 2
        while g(hi) < 0:
            lo, hi = hi, hi * 2
            if hi > big:
                return math.inf
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if g(mid) < 0 else (lo, mid)
        g_lo, g_hi = g(lo), g(hi)
        return lo + (-g_lo) / (g_hi - g_lo)  # exact where P is linear on [lo, hi] (dense models)

    def max_batch(self, memory_fraction: float = 1.0) -> int:
        """Largest batch whose weights and KV cache fit: see :func:`max_batch`."""
        if self.context < 1:
            raise ValueError(
                f"context must be a positive integer, got {self.context!r} "
                "(an empty KV cache would let any batch fit)"
            )
        memory_fraction = fraction(memory_fraction, "memory_fraction")
        m = self.model
        capacity = memory_fraction * self.n_chips * self.hw.hbm_bytes
        weights = m.param_count() * bytes_per_element(self.weight_dtype)
        per_seq = m.kv_cache_bytes(self.context, self.kv_dtype)

        def fits(b: int) -> bool:
            return weights + b * per_seq <= capacity

        if not fits(0):
            return 0
        b = int((capacity - weights) // per_seq)
        while fits(b + 1):  # guard the float floor in both directions
            b += 1
        while b > 0 and not fits(b):
            b -= 1
        return b


def decode_step(
    model: ModelLike,
    hw: HardwareLike,
    batch: int,
    context: int,
    *,
    weight_dtype: str = "bf16",
    kv_dtype: str | None = None,
    compute_dtype: str | None = None,
    n_chips: int = 1,
    overhead_s: float = 0.0,
    parallelism: str | None = None,
    link_bandwidth: float | None = None,
    activation_dtype: str = "bf16",
    collective_latency_s: float = 0.0,
) -> StepEstimate:
    """One decode step of ``B`` sequences, each attending to ``S`` cached tokens.

    ``flops = B * flops_per_token(S)``; ``weight_bytes = decode_weight_params(B) * b_w``;
    ``kv_bytes = B * kv_cache_bytes(S)`` (``B S k_B`` without a sliding window);
    ``time_s = max(flops / (n F), (weight_bytes + kv_bytes) / (n W)) + t0`` with
    ``t0 = overhead_s`` (default 0: the pure roofline; see :func:`fit_overhead`).
    ``kv_dtype`` and ``compute_dtype`` default to ``weight_dtype``.

    ``parallelism`` (``None``: no communication, the default) adds the network term:
    ``"tp"`` (tensor parallelism) or ``"ep"`` (expert parallelism, MoE only) over the ``n``
    chips, with ``M_net`` = :func:`network_bytes` and
    ``network_s = M_net / (n W_link) + n_coll * collective_latency_s``;
    ``time_s = max(compute_s, memory_s, network_s) + t0`` (transfers overlap compute and memory:
    the lower bound). ``link_bandwidth`` (bytes/s per direction per chip) defaults to the
    catalog's ``W_link``; pass the scale-out figure (about 50e9 per GPU) for chips in different
    servers or racks. ``activation_dtype`` sets ``b_a``.
    """
    at = DecodeAt(model, hw, context, weight_dtype, kv_dtype, compute_dtype, n_chips,
                  parallelism, link_bandwidth, activation_dtype, collective_latency_s)
    return at.step(batch, overhead_s)


def fit_overhead(predicted_s, measured_s) -> float:
    """The fixed cost per step ``t0`` that best fits measured steps to a roofline, in seconds.

    Least squares for a constant offset: ``t0 = mean(t_meas - t_roof)`` over the points given
    (fit it on a few points, e.g. the 3 smallest steps, and predict the rest). A negative mean
    means the roofline is already slower than the measurement there; ``t0`` cannot be negative,
    so that raises ``ValueError`` instead of hiding it.
    """
    try:
        pred, meas = list(predicted_s), list(measured_s)
    except TypeError:
        raise ValueError(
            "predicted_s and measured_s must be sequences of times in seconds"
        ) from None
    if not pred or len(pred) != len(meas):
        raise ValueError(
            f"predicted_s and measured_s must be non-empty and of equal length, got "
            f"{len(pred)} and {len(meas)}"
        )
    pred = [positive(p, "predicted_s") for p in pred]
    meas = [positive(m, "measured_s") for m in meas]
    t0 = math.fsum(m - p for m, p in zip(meas, pred)) / len(pred)
    if t0 < 0:
        raise ValueError(
            f"measured_s is below predicted_s by {-t0:.3g} s on average: the roofline is "
            "pessimistic there, and a fixed cost per step cannot be negative"
        )
    return t0


# ----------------------------------------------------------------------------- prefill


def _prefill_flops(m: ModelConfig, tokens: int, batch: int) -> float:
    return batch * (tokens * m.flops_per_token(0) + m.prefill_attention_flops(tokens))


def prefill_flops(model: ModelLike, tokens: int, *, batch: int = 1) -> float:
    """Forward FLOPs of a causal prefill of ``T`` tokens for ``B`` sequences.

    Position ``i`` (1-based) attends to ``i`` keys (``min(i, w)`` in a sliding-window layer):
    ``B * (T * flops_per_token(0) + prefill_attention_flops(T))``, which is
    ``B * (T * f(0) + 4 L H h T (T + 1) / 2)`` for a plain Llama.
    The LM head is counted at every position (the ``2N`` convention); a server that computes logits
    only for the last position does ``2 * vocab * d_model`` fewer FLOPs per prompt token.
    """
    m = models.get(model)
    return _prefill_flops(m, positive_int(tokens, "tokens"), positive_int(batch, "batch"))


def _prefill(
    m: ModelConfig,
    a: Accelerator,
    tokens: int,
    batch: int,
    mfu: float,
    dtypes: tuple[str, str, str],
    n_chips: int,
) -> StepEstimate:
    w, kv, c = dtypes
    return _step(
        flops=_prefill_flops(m, tokens, batch),
        weight_bytes=m.decode_weight_params(batch * tokens) * bytes_per_element(w),
        kv_bytes=batch * m.kv_cache_bytes(tokens, kv),
        peak_flops=_peak(a, c, w),
        bandwidth=a.hbm_bandwidth,
        batch=batch,
        tokens=batch * tokens,
        context=tokens,
        n_chips=n_chips,
        mfu=mfu,
        phase="prefill",
    )


def prefill(
    model: ModelLike,
    hw: HardwareLike,
    tokens: int,
    *,
    batch: int = 1,
    mfu: float = 1.0,
    weight_dtype: str = "bf16",
    kv_dtype: str | None = None,
    compute_dtype: str | None = None,
    n_chips: int = 1,
) -> StepEstimate:
    """Prefill of ``T = tokens`` prompt tokens for each of ``B = batch`` sequences, in one pass.

    ``flops`` = :func:`prefill_flops`; ``compute_s = flops / (n F mfu)``; the weights are read once,
    ``decode_weight_params(B T) * b_w`` (MoE: experts touched by ``B T`` tokens), and the KV cache
    is written once, ``B * kv_cache_bytes(T)`` bytes. ``tokens`` of the estimate is ``B T``
    (prompt tokens), so ``tokens_per_s`` is the prefill throughput. Without the ``mfu`` derating
    prefill is strongly compute-bound; ``mfu`` 0.4-0.6 is typical of published serving numbers.
    """
    return _prefill(
        models.get(model),
        hardware.get(hw),
        positive_int(tokens, "tokens"),
        positive_int(batch, "batch"),
        fraction(mfu, "mfu"),
        _dtypes(weight_dtype, kv_dtype, compute_dtype),
        positive_int(n_chips, "n_chips"),
    )


# ----------------------------------------------------------------------------- generation


@dataclass(frozen=True)
class Generation:
    """A whole request batch: prefill, then decode steps while the context grows.

    ``ttft_s`` (time to first token) is the prefill time; ``mean_tpot_s`` the mean time per later
    output token (0 when ``output_len == 1``); ``total_s = ttft_s + decode_s``;
    ``tokens_per_s = B * output_len / total_s`` (output tokens over all sequences).
    """

    ttft_s: float
    mean_tpot_s: float
    total_s: float
    tokens_per_s: float
    prefill_s: float
    decode_s: float
    batch: int
    prompt_len: int
    output_len: int
    n_chips: int = 1

    @property
    def tokens(self) -> int:
        """Output tokens over all sequences, ``B * output_len``."""
        return self.batch * self.output_len

    @property
    def time_s(self) -> float:
        """Alias of ``total_s`` (so cost functions treat it like a step)."""
        return self.total_s


def generation(
    model: ModelLike,
    hw: HardwareLike,
    batch: int,
    prompt_len: int,
    output_len: int,
    *,
    mfu: float = 1.0,
    weight_dtype: str = "bf16",
    kv_dtype: str | None = None,
    compute_dtype: str | None = None,
    n_chips: int = 1,
) -> Generation:
    """Generate ``G = output_len`` tokens for each of ``B`` prompts of ``P = prompt_len`` tokens.

    The prefill (derated by ``mfu``) yields the first output token. Then ``G - 1`` decode steps
    run; step ``j`` (1-based) feeds the ``j``-th output token, which attends to ``S = P + j`` keys.
    Each step's time is exactly :func:`decode_step`'s ``time_s``, so
    ``decode_s = sum_j max(B f(S_j) / (n F), (P(B) b_w + B kv_cache_bytes(S_j)) / (n W))``.
    """
    m, a = models.get(model), hardware.get(hw)
    batch = positive_int(batch, "batch")
    prompt_len = positive_int(prompt_len, "prompt_len")
    output_len = positive_int(output_len, "output_len")
    mfu = fraction(mfu, "mfu")
    n_chips = positive_int(n_chips, "n_chips")
    dtypes = _dtypes(weight_dtype, kv_dtype, compute_dtype)
    pre = _prefill(m, a, prompt_len, batch, mfu, dtypes, n_chips)
    w, kv, c = dtypes
    peak, bw = n_chips * _peak(a, c, w), n_chips * a.hbm_bandwidth
    weight_s = m.decode_weight_params(batch) * bytes_per_element(w) / bw
    decode_s = math.fsum(
        max(
            batch * m.flops_per_token(s) / peak,
            weight_s + batch * m.kv_cache_bytes(s, kv) / bw,
        )
        for s in range(prompt_len + 1, prompt_len + output_len)
    )
    total_s = pre.time_s + decode_s
    return Generation(
        ttft_s=pre.time_s,
        mean_tpot_s=decode_s / (output_len - 1) if output_len > 1 else 0.0,
        total_s=total_s,
        tokens_per_s=batch * output_len / total_s,
        prefill_s=pre.time_s,
        decode_s=decode_s,
        batch=batch,
        prompt_len=prompt_len,
        output_len=output_len,
        n_chips=n_chips,
    )


# ----------------------------------------------------------------------------- balance and capacity


def balance_batch(
    model: ModelLike,
    hw: HardwareLike,
    context: int,
    *,
    weight_dtype: str = "bf16",
    kv_dtype: str | None = None,
    compute_dtype: str | None = None,
    n_chips: int = 1,
) -> float:
    """The batch ``B*`` where decode compute time reaches memory time, including KV traffic.

    Solves ``B f(S) / F = (P(B) b_w + B k(S)) / W`` (``k(S) = kv_cache_bytes(S)``, ``S k_B``
    without a sliding window) with ``f = flops_per_token`` and
    ``P = decode_weight_params``. Dense: ``P(B) = P0 + d B`` (``d`` embedding rows), so
    ``B* = (P0 b_w / W) / (f(S)/F - (d b_w + S k_B) / W)``: about ``F/W`` (295 on an H100 in bf16)
    at short context, half that for int8 weights computed in bf16. MoE: ``P(B)`` is concave, so
    ``compute - memory`` is convex in ``B`` and crosses zero once. Both cases use one path: integer
    bisection for the bracketing ``[B, B + 1]``, then linear interpolation, which is the dense
    closed form exactly (``P`` is linear between integers). Returns ``math.inf`` when KV traffic
    per token outweighs compute per token, ``S k_B / W >= f(S) / F``: the step is then
    memory-bound at every batch. ``n_chips`` cancels (both ``F`` and ``W`` scale).
    """
    at = DecodeAt(model, hw, context, weight_dtype, kv_dtype, compute_dtype, n_chips)
    return at.balance_batch()


def critical_context(
    model: ModelLike,
    hw: HardwareLike,
    *,
    weight_dtype: str = "bf16",
    kv_dtype: str | None = None,
    compute_dtype: str | None = None,
) -> float:
    """Context ``S*`` beyond which no batch is compute-bound (:func:`balance_batch` is infinite).

    Per token, compute ``f(S) / F = (f(0) + a L S) / F`` (``a`` attention FLOPs per layer and key)
    meets the KV read ``S k_B / W`` at ``S* = (f(0) / F) / (k_B / W - a L / F)``; ``math.inf`` if
    attention FLOPs per key outpace KV bytes per key (``a L / F >= k_B / W``). Ignoring ``a``,
    ``S* = 2 N_act W / (F k_B)``: about 0.4K tokens for Llama-3-8B on an H100 in bf16.

    With a sliding window both sides grow with the cached (layer, token) entries ``X(S)``
    instead of ``L S``: solve for ``X*`` and invert ``X(S) = (L - L_w) S + L_w min(S, w)``;
    ``math.inf`` when every layer is windowed and ``X*`` lies beyond ``L w``.
    """
    m, a = models.get(model), hardware.get(hw)
    w, kv, c = _dtypes(weight_dtype, kv_dtype, compute_dtype)
    F, W = _peak(a, c, w), a.hbm_bandwidth
    L = m.n_layers
    per_entry_s = m.kv_bytes_per_token(kv) / L / W - m.attention_flops_per_key() / F
    if per_entry_s <= 0:
        return math.inf
    x_star = m.flops_per_token(0) / F / per_entry_s  # (layer, token) entries
    n_win, window = m.n_window_layers, m.sliding_window
    if not n_win or x_star <= L * window:
        return x_star / L
    if n_win == L:
        return math.inf
    return (x_star - n_win * window) / (L - n_win)


def latency_floor(
    model: ModelLike,
    hw: HardwareLike,
    *,
    weight_dtype: str = "bf16",
    n_chips: int = 1,
    batch: int | None = None,
) -> float:
    """The shortest decode step the weights allow, in seconds: their bytes over ``n W``.

    ``batch=None``: a batch that touches every expert, so every weight is read, total and not
    active parameters: ``N_read b_w / (n W)`` with ``N_read = param_count()`` less the untied
    input embedding (a step reads only its ``B`` looked-up rows). DeepSeek-V3 in fp8 on 8 H200s:
    about 17.5 ms. ``batch=B``: the weights a step of ``B`` sequences reads,
    ``decode_weight_params(B) b_w / (n W)``, the ``weight_s`` of :func:`decode_step` (fewer for
    an MoE at small ``B``). Compute, KV reads and communication between chips only add to it;
    more chips lower it as ``1/n`` because each reads its own share of the weights.
    """
    m, a = models.get(model), hardware.get(hw)
    b_w = bytes_per_element(check_dtype(weight_dtype, "weight_dtype"))
    n_chips = positive_int(n_chips, "n_chips")
    if batch is None:
        params = m.param_count() - (0 if m.tied_embeddings else m.embedding_param_count())
    else:
        params = m.decode_weight_params(positive_int(batch, "batch"))
    return params * b_w / (n_chips * a.hbm_bandwidth)


def max_batch(
    model: ModelLike,
    hw: HardwareLike,
    context: int,
    *,
    weight_dtype: str = "bf16",
    kv_dtype: str | None = None,
    memory_fraction: float = 1.0,
    n_chips: int = 1,
) -> int:
    """Largest ``B`` whose weights and KV cache fit: ``N b_w + B k(S) <= f n C``, with
    ``k(S) = kv_cache_bytes(S)`` (``S k_B`` without a sliding window).

    ``N = param_count()`` (all weights are stored, embedding included), ``C = hbm_bytes`` per chip,
    ``f = memory_fraction``. Returns 0 if the weights alone do not fit. ``context`` must be >= 1
    (an empty KV cache would let any batch fit).
    """
    at = DecodeAt(model, hw, context, weight_dtype, kv_dtype, None, n_chips)
    return at.max_batch(memory_fraction)


# ----------------------------------------------------------------------------- measured utilization


def mbu(estimate_or_bytes: StepEstimate | float, measured_time_s: float, bandwidth: float) -> float:
    """Model bandwidth utilization: ``bytes / measured_time_s / bandwidth``.

    ``bytes`` is the estimate's ``weight_bytes + kv_bytes`` (or a number). ``bandwidth`` is the
    bytes/s of all chips that moved them (``n_chips * W`` for a sharded step).
    """
    if isinstance(estimate_or_bytes, StepEstimate):
        nbytes = estimate_or_bytes.bytes
    else:
        nbytes = nonneg(estimate_or_bytes, "estimate_or_bytes")
    return nbytes / positive(measured_time_s, "measured_time_s") / positive(bandwidth, "bandwidth")


def mfu(
    estimate_or_flops: StepEstimate | float, measured_time_s: float, peak_flops: float
) -> float:
    """Model FLOP/s utilization: ``flops / measured_time_s / peak_flops`` (all chips' peak)."""
    if isinstance(estimate_or_flops, StepEstimate):
        flops = estimate_or_flops.flops
    else:
        flops = nonneg(estimate_or_flops, "estimate_or_flops")
    return flops / positive(measured_time_s, "measured_time_s") / positive(peak_flops, "peak_flops")
