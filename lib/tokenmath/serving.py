"""A discrete-event simulation of one model replica serving a stream of requests.

Symbols (the course's notation): ``B`` batch (sequences in a decode step), ``S`` context (keys a
sequence attends to), ``P`` prompt tokens, ``G`` output tokens of one request, ``lambda`` arrival
rate (requests/s), ``L`` mean requests in flight, ``W`` mean latency (arrival to last token).

The model, step by step (standard library only; every step time is the roofline's):

* **Arrivals.** Poisson at rate ``lambda``: exponential gaps drawn from ``random.Random(seed)``;
  request ``i`` then draws its ``P_i`` and ``G_i`` (ints, or samplers called with the same
  generator). The clock starts at 0; the same seed gives the same trace and the same result.
* **Prefill.** A request's prompt is prefilled in one non-chunked step that yields its first
  output token (as in :func:`tokenmath.roofline.generation`). Requests admitted together share one
  prefill step: ``flops = sum_i prefill_flops(P_i)`` (derated by ``mfu``),
  ``weight_bytes = decode_weight_params(sum_i P_i) b_w``, ``kv_bytes = sum_i kv_cache_bytes(P_i)``.
* **Decode.** Each later token costs one decode step of the whole running batch. The ``j``-th
  output token of a request attends to ``S = P + j`` keys, and each sequence uses its own context:
  ``flops = sum_i f(S_i)``, ``weight_bytes = decode_weight_params(B) b_w``,
  ``kv_bytes = sum_i kv_cache_bytes(S_i)``. With every ``S_i = S`` this is exactly
  :func:`tokenmath.roofline.decode_step` at ``(B, S)``. Step times are
  :func:`tokenmath.roofline.step_from_counts`' arithmetic (inlined for speed; a test checks that
  they agree); ``overhead_s`` (``t0``) is added to every step, prefill and decode.
* **Memory.** A request reserves the KV cache of its whole life, ``kv_cache_bytes(P + G)``, when
  it is admitted (a static, non-paged allocator: no preemption, no recompute). Admission needs
  ``N b_w + sum of reservations <= f n C`` (the :func:`tokenmath.roofline.max_batch` arithmetic,
  ``f = memory_fraction``), and at most ``max_batch`` sequences run at once (``None``: memory is
  the only limit). Admission is first come, first served: the head of the queue blocks the rest.
* **policy="continuous"** (iteration-level scheduling, Orca/vLLM-style, without chunked prefill):
  at each step boundary, the waiting requests that fit join the batch; if any joined, their prefill
  runs as its own step, then one decode step of every running sequence that still has tokens to
  produce (the just-prefilled ones included). A finished sequence leaves at the end of its step and
  frees its reservation at once.
* **policy="static"**: when the replica is idle, the waiting requests that fit form one batch,
  prefilled together; it decodes until its last request finishes, and only then is the next batch
  formed. Finished sequences drop out of the decode steps (no padding cost), so static here is the
  optimistic version of request-level batching.

Outputs. Latency ``W_i = finish_i - arrival_i``; ``ttft_i = first_token_i - arrival_i``;
``tpot_i = (finish_i - first_token_i) / (G_i - 1)`` (0 when ``G_i = 1``). Over the window
``[0, T]``, ``T`` the last finish: ``throughput_tokens_per_s = sum_i G_i / T`` and
``mean_in_flight`` = the time average of requests arrived and not finished, integrated over the
event timeline. Little's law ``L = lambda W`` (with ``lambda = n / T``, the throughput in
requests/s) is then an identity over the whole window, and a check on the simulation.
``steps`` logs every step (start, duration, phase, batch) in the order they ran.

:func:`highest_rate` bisects on the rate for the highest load whose ``q``-th percentiles of TTFT,
TPOT or latency stay within given limits (a service-level objective). A finite trace that outruns
the replica still finishes, so past saturation the percentiles grow with ``n_requests``: use a
trace that lasts many request latencies, or a saturated replica can look as if it met a target.
"""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from itertools import compress
from typing import TYPE_CHECKING, NamedTuple

from tokenmath import roofline
from tokenmath.dtypes import bytes_per_element
from tokenmath.validate import fraction, nonneg, positive, positive_int

if TYPE_CHECKING:
    from tokenmath.roofline import HardwareLike, ModelLike

__all__ = ["ServingResult", "Step", "simulate", "highest_rate", "POLICIES"]

POLICIES = ("continuous", "static")
Tokens = int | Callable[[random.Random], int]

_STEP_KWARGS = (
    "weight_dtype",
    "kv_dtype",
    "compute_dtype",
    "n_chips",
    "overhead_s",
    "mfu",
    "memory_fraction",
)
_PER_REQUEST = ("ttft_s", "tpot_s", "latency_s")


class Step(NamedTuple):
    """One step the replica ran: it started at ``start_s`` and took ``time_s`` (so it ended at
    ``start_s + time_s``); ``phase`` is ``"prefill"`` or ``"decode"``; ``batch`` counts the
    prompts it prefilled or the sequences it decoded."""

    start_s: float
    time_s: float
    phase: str
    batch: int


@dataclass(frozen=True)
class ServingResult:
    """The outcome of :func:`simulate`: per-request times (tuples indexed by arrival order) and
    the replica's throughput and occupancy over ``[0, duration_s]``."""

    policy: str
    rate: float
    arrival_s: tuple[float, ...]
    first_token_s: tuple[float, ...]
    finish_s: tuple[float, ...]
    prompt_tokens: tuple[int, ...]
    output_tokens: tuple[int, ...]
    ttft_s: tuple[float, ...]
    tpot_s: tuple[float, ...]
    latency_s: tuple[float, ...]
    duration_s: float
    throughput_tokens_per_s: float
    throughput_requests_per_s: float
    mean_in_flight: float
    mean_batch: float  # decode steps' B, weighted by their time
    n_steps: int  # prefill and decode steps run
    steps: tuple[Step, ...] = ()  # every step, in the order it ran

    @property
    def n_requests(self) -> int:
        return len(self.arrival_s)

    @property
    def mean_latency_s(self) -> float:
        """``W``: mean of ``finish_s - arrival_s``."""
        return math.fsum(self.latency_s) / len(self.latency_s)

    def mean(self, name: str) -> float:
        """Mean of ``"ttft_s"``, ``"tpot_s"`` or ``"latency_s"`` over the requests."""
        values = self._values(name)
        return math.fsum(values) / len(values)

    def percentile(self, name: str, q: float) -> float:
        """The ``q``-th percentile (0-100, linear interpolation) of ``"ttft_s"``, ``"tpot_s"`` or
        ``"latency_s"``."""
        q = nonneg(q, "q")
        if q > 100:
            raise ValueError(f"q must be in [0, 100], got {q!r}")
        values = sorted(self._values(name))
        pos = q / 100 * (len(values) - 1)
        lo = math.floor(pos)
        hi = min(lo + 1, len(values) - 1)
        return values[lo] + (values[hi] - values[lo]) * (pos - lo)

    def _values(self, name: str) -> tuple[float, ...]:
        if name not in _PER_REQUEST:
            raise ValueError(f"name must be one of {_PER_REQUEST}, got {name!r}")
        return getattr(self, name)


def _tokens(spec: Tokens, rng: random.Random, name: str) -> int:
    value = spec(rng) if callable(spec) else spec
    return positive_int(value, name)


def simulate(
    model: ModelLike,
    hw: HardwareLike,
    *,
    rate: float,
    prompt_tokens: Tokens,
    output_tokens: Tokens,
    n_requests: int,
    policy: str = "continuous",
    max_batch: int | None = None,
    seed: int = 0,
    **step_kwargs,
) -> ServingResult:
    """Serve ``n_requests`` Poisson arrivals at ``rate`` requests/s on one replica; see the
    module docstring for the model.

    ``prompt_tokens`` and ``output_tokens`` are ints or samplers (a callable taking a
    ``random.Random`` and returning an int). ``step_kwargs``: ``weight_dtype``, ``kv_dtype``,
    ``compute_dtype``, ``n_chips`` (as in :func:`tokenmath.roofline.decode_step`), ``overhead_s``
    (``t0`` per step), ``mfu`` (prefill only, as in :func:`tokenmath.roofline.prefill`) and
    ``memory_fraction`` (as in :func:`tokenmath.roofline.max_batch`).
    """
    rate = positive(rate, "rate")
    n_requests = positive_int(n_requests, "n_requests")
    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {POLICIES}, got {policy!r}")
    if max_batch is not None:
        max_batch = positive_int(max_batch, "max_batch")
    unknown = [k for k in step_kwargs if k not in _STEP_KWARGS]
    if unknown:
        raise ValueError(f"unknown keyword {unknown[0]!r}: step_kwargs accept {_STEP_KWARGS}")
    for name, spec in (("prompt_tokens", prompt_tokens), ("output_tokens", output_tokens)):
        if not callable(spec):
            positive_int(spec, name)
    overhead_s = nonneg(step_kwargs.get("overhead_s", 0.0), "overhead_s")
    mfu = fraction(step_kwargs.get("mfu", 1.0), "mfu")
    memory_fraction = fraction(step_kwargs.get("memory_fraction", 1.0), "memory_fraction")
    at = roofline.DecodeAt(
        model,
        hw,
        1,
        step_kwargs.get("weight_dtype", "bf16"),
        step_kwargs.get("kv_dtype"),
        step_kwargs.get("compute_dtype"),
        step_kwargs.get("n_chips", 1),
    )
    m, a, n_chips = at.model, at.hw, at.n_chips
    b_w, kv_dtype = bytes_per_element(at.weight_dtype), at.kv_dtype
    peak, bw = at.peak_flops, a.hbm_bandwidth
    capacity = memory_fraction * n_chips * a.hbm_bytes
    budget = capacity - m.param_count() * b_w
    if budget <= 0:
        raise ValueError(
            f"model: weights ({m.param_count() * b_w / 1e9:.3g} GB) do not fit in "
            f"memory_fraction * n_chips * hbm_bytes = {capacity / 1e9:.3g} GB"
        )

    # ---- the trace: arrival, P, G per request, all from one generator
    rng = random.Random(seed)
    arrival, prompt, output, need = [], [], [], []
    t = 0.0
    for _ in range(n_requests):
        t += rng.expovariate(rate)
        p = _tokens(prompt_tokens, rng, "prompt_tokens")
        g = _tokens(output_tokens, rng, "output_tokens")
        kv = m.kv_cache_bytes(p + g, kv_dtype)
        if kv > budget:
            raise ValueError(
                f"prompt_tokens + output_tokens = {p} + {g}: the KV cache of one request "
                f"({kv / 1e9:.3g} GB) does not fit next to the weights "
                f"({budget / 1e9:.3g} GB left of {capacity / 1e9:.3g} GB)"
            )
        arrival.append(t)
        prompt.append(p)
        output.append(g)
        need.append(kv)

    # ---- per-context and per-batch counts, each computed once
    # f_tab[s], kv_tab[s]: FLOPs and KV bytes of one token at context s, for every context a
    # decode step will see (P_i + 1 .. P_i + G_i - 1) and every prompt length.
    top = max(p + g for p, g in zip(prompt, output))
    used = bytearray(top + 1)
    for p, g in zip(prompt, output):
        used[p] = 1
        used[p + 1 : p + g] = b"\x01" * (g - 1)
    f_tab: list[float] = [0.0] * (top + 1)
    kv_tab: list[float] = list(f_tab)
    for s in compress(range(top + 1), used):
        f_tab[s] = m.flops_per_token(s)
        kv_tab[s] = m.kv_cache_bytes(s, kv_dtype)
    w_cache: dict[int, float] = {}
    pf_cache: dict[int, float] = {}

    def prefill_flops_of(tokens: int) -> float:
        v = pf_cache.get(tokens)
        if v is None:
            v = pf_cache[tokens] = roofline.prefill_flops(m, tokens)
        return v

    def weights_of(tokens: int) -> float:
        v = w_cache.get(tokens)
        if v is None:
            v = w_cache[tokens] = m.decode_weight_params(tokens) * b_w
        return v

    # The roofline step of :func:`tokenmath.roofline.step_from_counts`, the same arithmetic in
    # the same order (so the same floats), without re-checking its arguments at every step:
    # max(flops / (n F mfu), weight_bytes / (n W) + kv_bytes / (n W)) + t0.
    prefill_den, decode_den, bw_den = n_chips * peak * mfu, n_chips * peak * 1.0, n_chips * bw

    def prefill_s(ids: list[int]) -> float:
        tokens = sum(prompt[r] for r in ids)
        compute = math.fsum(prefill_flops_of(prompt[r]) for r in ids) / prefill_den
        memory = weights_of(tokens) / bw_den + math.fsum(kv_tab[prompt[r]] for r in ids) / bw_den
        return max(compute, memory) + overhead_s

    def decode_s(contexts: list[int]) -> float:
        compute = math.fsum(map(f_tab.__getitem__, contexts)) / decode_den
        memory = (weights_of(len(contexts)) / bw_den
                  + math.fsum(map(kv_tab.__getitem__, contexts)) / bw_den)
        return max(compute, memory) + overhead_s

    # ---- the event loop: one iteration per step boundary
    cap = max_batch if max_batch is not None else n_requests
    first = [0.0] * n_requests
    finish = [0.0] * n_requests
    waiting: deque[int] = deque()
    # The running sequences, in the order they joined, as parallel lists: at decode step k
    # (counting every decode step run so far) a sequence's token attends to base + k keys.
    # ending[k]: the requests whose last token decode step k makes, in the order they joined.
    run_req: list[int] = []
    run_base: list[int] = []
    ending: dict[int, list[int]] = {}
    reserved, done, nxt, t, k = 0.0, 0, 0, 0.0, 0
    n_steps, batch_time, decode_time = 0, 0.0, 0.0
    log: list[Step] = []
    while done < n_requests:
        while nxt < n_requests and arrival[nxt] <= t:
            waiting.append(nxt)
            nxt += 1
        if not run_req and not waiting:
            t = arrival[nxt]
            continue
        if policy == "continuous" or not run_req:
            admitted = []
            while (
                waiting
                and len(run_req) + len(admitted) < cap
                and reserved + need[waiting[0]] <= budget
            ):
                r = waiting.popleft()
                reserved += need[r]
                admitted.append(r)
            if admitted:
                dt = prefill_s(admitted)
                log.append(Step(t, dt, "prefill", len(admitted)))
                t += dt
                n_steps += 1
                for r in admitted:
                    first[r] = t
                    if output[r] == 1:
                        finish[r] = t
                        reserved -= need[r]
                        done += 1
                    else:
                        run_req.append(r)
                        run_base.append(prompt[r] + 1 - k)
                        ending.setdefault(k + output[r] - 2, []).append(r)
        if run_req:
            b = len(run_req)
            dt = decode_s(list(map(k.__add__, run_base)))
            log.append(Step(t, dt, "decode", b))
            t += dt
            n_steps += 1
            batch_time += b * dt
            decode_time += dt
            gone = ending.pop(k, None)
            if gone:  # these sequences made their last token
                for r in gone:
                    finish[r] = t
                    reserved -= need[r]
                    done += 1
                    i = run_req.index(r)
                    del run_req[i], run_base[i]
                if not run_req:
                    reserved = 0.0  # drop float residue
            k += 1

    # ---- outputs
    duration = max(finish)
    events = sorted([(x, 1) for x in arrival] + [(x, -1) for x in finish])
    area, level, last = 0.0, 0, 0.0
    for when, step in events:
        area += level * (when - last)
        level += step
        last = when
    ttft = tuple(first[i] - arrival[i] for i in range(n_requests))
    tpot = tuple(
        (finish[i] - first[i]) / (output[i] - 1) if output[i] > 1 else 0.0
        for i in range(n_requests)
    )
    return ServingResult(
        policy=policy,
        rate=rate,
        arrival_s=tuple(arrival),
        first_token_s=tuple(first),
        finish_s=tuple(finish),
        prompt_tokens=tuple(prompt),
        output_tokens=tuple(output),
        ttft_s=ttft,
        tpot_s=tpot,
        latency_s=tuple(finish[i] - arrival[i] for i in range(n_requests)),
        duration_s=duration,
        throughput_tokens_per_s=sum(output) / duration,
        throughput_requests_per_s=n_requests / duration,
        mean_in_flight=area / duration,
        mean_batch=batch_time / decode_time if decode_time > 0 else 0.0,
        n_steps=n_steps,
        steps=tuple(log),
    )


def highest_rate(
    model: ModelLike,
    hw: HardwareLike,
    *,
    limits: dict[str, float],
    hi: float,
    lo: float | None = None,
    q: float = 90.0,
    rel_tol: float = 0.01,
    duration_s: float | None = None,
    **simulate_kwargs,
) -> ServingResult | None:
    """The highest arrival rate in ``[lo, hi]`` whose ``q``-th percentiles meet ``limits``.

    ``limits`` maps ``"ttft_s"``, ``"tpot_s"`` or ``"latency_s"`` to the most seconds allowed at
    the ``q``-th percentile, e.g. ``{"tpot_s": 0.05, "ttft_s": 1.0}`` for p90 TPOT <= 50 ms and
    p90 TTFT <= 1 s. ``simulate_kwargs`` go to :func:`simulate` (``prompt_tokens``,
    ``output_tokens``, ``n_requests`` and the rest; not ``rate``). ``duration_s`` instead of
    ``n_requests`` simulates that many seconds of arrivals at every rate tried
    (``n_requests = ceil(rate * duration_s)``), so that a rate past saturation has as long to
    build its queue as any other. With a fixed ``seed`` the trace at rate ``r`` is the same trace
    with its arrival times divided by ``r``, so the percentiles tend to grow with the rate and a
    bisection applies: geometric, until ``hi / lo <= 1 + rel_tol`` (``lo`` defaults to
    ``hi / 1000``).

    Returns the :func:`simulate` result at the highest rate found to meet every limit (its
    ``rate`` is the answer): ``hi`` itself if ``hi`` meets them, ``None`` if even ``lo`` does not.
    """
    if not isinstance(limits, dict) or not limits:
        raise ValueError(f"limits must be a non-empty dict like {{'tpot_s': 0.05}}, got {limits!r}")
    for name, limit in limits.items():
        if name not in _PER_REQUEST:
            raise ValueError(f"limits keys must be among {_PER_REQUEST}, got {name!r}")
        positive(limit, f"limits[{name!r}]")
    hi = positive(hi, "hi")
    lo = hi / 1000 if lo is None else positive(lo, "lo")
    if lo >= hi:
        raise ValueError(f"lo must be below hi = {hi!r}, got {lo!r}")
    q = nonneg(q, "q")
    if q > 100:
        raise ValueError(f"q must be in [0, 100], got {q!r}")
    rel_tol = positive(rel_tol, "rel_tol")
    if "rate" in simulate_kwargs:
        raise ValueError("rate: highest_rate chooses the rate; pass lo and hi instead")
    if duration_s is not None:
        duration_s = positive(duration_s, "duration_s")
        if "n_requests" in simulate_kwargs:
            raise ValueError("duration_s: pass either duration_s or n_requests, not both")

    def run(rate: float) -> tuple[ServingResult, bool]:
        if duration_s is not None:
            simulate_kwargs["n_requests"] = math.ceil(rate * duration_s)
        r = simulate(model, hw, rate=rate, **simulate_kwargs)
        return r, all(r.percentile(name, q) <= limit for name, limit in limits.items())

    top, ok = run(hi)
    if ok:
        return top
    best, ok = run(lo)
    if not ok:
        return None
    while hi / lo > 1 + rel_tol:
        mid = math.sqrt(lo * hi)
        r, ok = run(mid)
        if ok:
            lo, best = mid, r
        else:
            hi = mid
    return best
