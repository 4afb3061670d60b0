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
  :func:`tokenmath.roofline.decode_step` at ``(B, S)``. Steps are built with
  :func:`tokenmath.roofline.step_from_counts`; ``overhead_s`` (``t0``) is added to every step,
  prefill and decode.
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
"""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tokenmath import roofline
from tokenmath.dtypes import bytes_per_element
from tokenmath.validate import fraction, nonneg, positive, positive_int

if TYPE_CHECKING:
    from tokenmath.roofline import HardwareLike, ModelLike

__all__ = ["ServingResult", "simulate", "POLICIES"]

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

    # ---- cached per-context and per-batch counts
    f_cache: dict[int, float] = {}
    kv_cache: dict[int, float] = {}
    w_cache: dict[int, float] = {}

    def f_of(s: int) -> float:
        v = f_cache.get(s)
        if v is None:
            v = f_cache[s] = m.flops_per_token(s)
        return v

    def kv_of(s: int) -> float:
        v = kv_cache.get(s)
        if v is None:
            v = kv_cache[s] = m.kv_cache_bytes(s, kv_dtype)
        return v

    def weights_of(tokens: int) -> float:
        v = w_cache.get(tokens)
        if v is None:
            v = w_cache[tokens] = m.decode_weight_params(tokens) * b_w
        return v

    def prefill_s(ids: list[int]) -> float:
        tokens = sum(prompt[r] for r in ids)
        return roofline.step_from_counts(
            math.fsum(roofline.prefill_flops(m, prompt[r]) for r in ids),
            weights_of(tokens),
            math.fsum(kv_of(prompt[r]) for r in ids),
            peak,
            bw,
            batch=len(ids),
            tokens=tokens,
            n_chips=n_chips,
            mfu=mfu,
            phase="prefill",
            overhead_s=overhead_s,
        ).time_s

    def decode_s(contexts: list[int]) -> float:
        return roofline.step_from_counts(
            math.fsum(f_of(s) for s in contexts),
            weights_of(len(contexts)),
            math.fsum(kv_of(s) for s in contexts),
            peak,
            bw,
            batch=len(contexts),
            n_chips=n_chips,
            overhead_s=overhead_s,
        ).time_s

    # ---- the event loop: one iteration per step boundary
    cap = max_batch if max_batch is not None else n_requests
    first = [0.0] * n_requests
    finish = [0.0] * n_requests
    waiting: deque[int] = deque()
    running: list[list[int]] = []  # [request, context of its next token, tokens left]
    reserved, done, nxt, t = 0.0, 0, 0, 0.0
    n_steps, batch_time, decode_time = 0, 0.0, 0.0
    while done < n_requests:
        while nxt < n_requests and arrival[nxt] <= t:
            waiting.append(nxt)
            nxt += 1
        if not running and not waiting:
            t = arrival[nxt]
            continue
        if policy == "continuous" or not running:
            admitted = []
            while (
                waiting
                and len(running) + len(admitted) < cap
                and reserved + need[waiting[0]] <= budget
            ):
                r = waiting.popleft()
                reserved += need[r]
                admitted.append(r)
            if admitted:
                t += prefill_s(admitted)
                n_steps += 1
                for r in admitted:
                    first[r] = t
                    if output[r] == 1:
                        finish[r] = t
                        reserved -= need[r]
                        done += 1
                    else:
                        running.append([r, prompt[r] + 1, output[r] - 1])
        if running:
            dt = decode_s([seq[1] for seq in running])
            t += dt
            n_steps += 1
            batch_time += len(running) * dt
            decode_time += dt
            still = []
            for seq in running:
                seq[1] += 1
                seq[2] -= 1
                if seq[2] == 0:
                    finish[seq[0]] = t
                    reserved -= need[seq[0]]
                    done += 1
                else:
                    still.append(seq)
            running = still
            if not running:
                reserved = 0.0  # drop float residue

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
    )
