"""Checks for ``exercises/10_serving``: requests in flight by Little's law, the mean wait to board
a train of steps, which limit binds a replica under a TPOT target, the highest load that meets
the target, and the replicas a monthly token demand needs.

Symbols (chapter 10): ``lambda`` arrival rate in requests/s, ``G`` output tokens per request,
``t_w`` the weight read of a decode step (the part the batch shares), ``t_seq`` what each
sequence adds to a decode step, ``t_pf`` the prefill of one request, ``tau`` a TPOT target,
``B_max`` the largest batch whose KV caches fit in memory. The step-time model is
``t(B) = t_w + B t_seq``; prefills stall the decode, so ``TPOT = t(B) / (1 - lambda t_pf)``; and
Little's law gives the decode batch ``B = lambda G TPOT``. Together, below the memory limit,
``TPOT = t_w / (1 - lambda / lambda_max)`` with ``lambda_max = 1 / (t_pf + G t_seq)``.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

from tokenmath.checks._grading import (
    Case,
    CheckResult,
    Mistake,
    Task,
    log_uniform,
    report,
    run_example,
    run_task,
)
from tokenmath.checks._grading import score as _score

EXERCISE = "10_serving"
LIMITS = ("tpot", "memory")
SECONDS_PER_MONTH = 30 * 86400  # the task's convention: a 30-day month

# Llama-3-8B in bf16 on one H100 SXM with chapter 10's chat-like workload (prompts of 128 to
# 1,024 tokens, answers of 32 to 512): weight read 4.48 ms, 29.2 us of KV read per sequence at
# the mean context, 9.10 ms of prefill per request, 273 output tokens, 576 sequences fit.
LLAMA_8B_H100 = {"weights_s": 4.48e-3, "seq_s": 29.2e-6, "prefill_s": 9.10e-3,
                 "output_tokens": 273, "max_batch": 576}


def _llama(tpot_target_s: float) -> dict[str, float]:
    """Chapter 10's replica with a TPOT target, in the order of the functions' parameters."""
    case = dict(LLAMA_8B_H100)
    max_batch = case.pop("max_batch")
    return {**case, "tpot_target_s": tpot_target_s, "max_batch": max_batch}


# Reference solutions -------------------------------------------------------------------------


def requests_in_flight(rate: float, ttft_s: float, tpot_s: float, output_tokens: int) -> float:
    """Little's law: ``lambda (TTFT + (G - 1) TPOT)``, the mean requests arrived and not done."""
    return rate * (ttft_s + (output_tokens - 1) * tpot_s)


def mean_wait_to_board(step_times_s: list[float]) -> float:
    """``sum t_i^2 / (2 sum t_i)``: a random arrival lands in step ``i`` with probability
    ``t_i / sum t`` and then waits ``t_i / 2`` on average."""
    return math.fsum(t * t for t in step_times_s) / (2 * math.fsum(step_times_s))


def _rates(weights_s, seq_s, prefill_s, output_tokens, tpot_target_s, max_batch):
    """(lambda at which mean TPOT reaches the target, the batch there, lambda_sat)."""
    lam_tau = (1 - weights_s / tpot_target_s) / (prefill_s + output_tokens * seq_s)
    batch = lam_tau * output_tokens * tpot_target_s
    lam_sat = 1 / (prefill_s + output_tokens * (seq_s + weights_s / max_batch))
    return lam_tau, batch, lam_sat


def binding_limit(weights_s: float, seq_s: float, prefill_s: float, output_tokens: int,
                  tpot_target_s: float, max_batch: float) -> str:
    """``"tpot"`` if the TPOT target stops the load before the KV cache fills the memory,
    ``"memory"`` if the memory fills first (the batch the target allows exceeds ``B_max``)."""
    if tpot_target_s <= weights_s:
        return "tpot"  # not even batch 1 meets it
    _, batch, _ = _rates(weights_s, seq_s, prefill_s, output_tokens, tpot_target_s, max_batch)
    return "memory" if batch > max_batch else "tpot"


def highest_rate(weights_s: float, seq_s: float, prefill_s: float, output_tokens: int,
                 tpot_target_s: float, max_batch: float) -> float:
    """Highest load (requests/s) with mean TPOT within the target and the batch within memory:
    ``lambda_max (1 - t_w / tau)``, or ``1 / (t_pf + G t(B_max) / B_max)`` where the memory
    binds first; 0 if the target is below the batch-1 step."""
    if tpot_target_s <= weights_s:
        return 0.0
    lam_tau, batch, lam_sat = _rates(weights_s, seq_s, prefill_s, output_tokens, tpot_target_s,
                                     max_batch)
    return lam_sat if batch > max_batch else lam_tau


def replicas_needed(tokens_per_month: float, batch: int, step_s: float) -> int:
    """Replicas, each making ``B / T`` tokens/s, for a demand given per 30-day month."""
    return math.ceil(tokens_per_month / SECONDS_PER_MONTH / (batch / step_s))


def decode_batch(tokens_per_s: float, tpot_s: float) -> float:
    """The worked example (not graded): Little's law for decode, ``B = tokens/s x TPOT``."""
    return tokens_per_s * tpot_s


# Random inputs -------------------------------------------------------------------------------


def _random_in_flight(rng: random.Random) -> dict[str, float]:
    return {"rate": round(log_uniform(rng, 0.5, 500), 2),
            "ttft_s": round(log_uniform(rng, 0.01, 3.0), 4),
            "tpot_s": round(log_uniform(rng, 2e-3, 0.1), 5),
            "output_tokens": rng.randint(2, 400)}


def _random_steps(rng: random.Random) -> dict[str, list[float]]:
    decode = round(log_uniform(rng, 3e-3, 40e-3), 5)
    steps = [round(decode * rng.uniform(0.8, 1.2), 5) for _ in range(rng.randint(2, 12))]
    for _ in range(rng.randint(1, 2)):  # one or two long steps that carry a prefill
        steps.insert(rng.randrange(len(steps) + 1), round(decode * rng.uniform(2, 12), 5))
    return {"step_times_s": steps}


def _random_replica(rng: random.Random) -> dict[str, float]:
    """A replica and a target away from the point where the two limits swap."""
    while True:
        case = {"weights_s": round(log_uniform(rng, 1e-3, 30e-3), 6),
                "seq_s": round(log_uniform(rng, 2e-6, 200e-6), 8),
                "prefill_s": round(log_uniform(rng, 1e-3, 0.2), 5),
                "output_tokens": rng.randint(20, 2000),
                "max_batch": rng.choice([16, 32, 64, 128, 256, 512, 1024, 2048])}
        case["tpot_target_s"] = round(case["weights_s"] * log_uniform(rng, 1.3, 15), 6)
        lam_tau, batch, _ = _rates(**case)
        if not 0.8 < batch / case["max_batch"] < 1.25:
            order = ("weights_s", "seq_s", "prefill_s", "output_tokens", "tpot_target_s",
                     "max_batch")
            return {k: case[k] for k in order}


def _random_demand(rng: random.Random) -> dict[str, float]:
    while True:
        case = {"tokens_per_month": float(f"{log_uniform(rng, 1e10, 1e16):.3g}"),
                "batch": rng.choice([1, 8, 64, 256, 1000, 2000, 4096]),
                "step_s": round(log_uniform(rng, 5e-3, 50e-3), 4)}
        x = case["tokens_per_month"] / SECONDS_PER_MONTH / (case["batch"] / case["step_s"])
        if x > 1 and min(x % 1, 1 - x % 1) > 1e-6:  # no exact integers: rounding up is clear
            return case


# Tasks ---------------------------------------------------------------------------------------


REQUESTS_IN_FLIGHT = Task(
    name="requests_in_flight",
    reference=requests_in_flight,
    cases=[
        # Chapter 10's replica at 30 requests/s: mean TTFT 17.7 ms, TPOT 9.0 ms, 273 tokens.
        Case({"rate": 30.0, "ttft_s": 0.0177, "tpot_s": 0.0090, "output_tokens": 273}),
        Case({"rate": 2.0, "ttft_s": 1.5, "tpot_s": 0.02, "output_tokens": 11},
             expected=3.4, rtol=1e-9),  # 2 req/s x (1.5 s + 10 x 20 ms)
        Case({"rate": 100.0, "ttft_s": 0.2, "tpot_s": 0.05, "output_tokens": 2}),
    ],
    mistakes=[
        Mistake(lambda rate, ttft_s, tpot_s, output_tokens:
                rate * (output_tokens - 1) * tpot_s,
                "a request is in flight from the moment it arrives: its time in the system "
                "starts with the TTFT."),
        Mistake(lambda rate, ttft_s, tpot_s, output_tokens:
                rate * (ttft_s + output_tokens * tpot_s),
                "the first token arrives at the TTFT; only the G - 1 tokens after it are one "
                "TPOT apart."),
        Mistake(lambda rate, ttft_s, tpot_s, output_tokens:
                (ttft_s + (output_tokens - 1) * tpot_s) / rate,
                "Little's law multiplies: requests in flight = arrival rate x time in the "
                "system."),
    ],
    random_cases=_random_in_flight,
    n_random=30,
    rtol=1e-3,
)


def _half_mean(step_times_s):
    return math.fsum(step_times_s) / len(step_times_s) / 2


MEAN_WAIT_TO_BOARD = Task(
    name="mean_wait_to_board",
    reference=mean_wait_to_board,
    cases=[
        # One 60 ms step with a prefill, then ten decode steps of 12 ms (the chapter's problem).
        Case({"step_times_s": [0.060] + [0.012] * 10}, expected=0.014, rtol=1e-9),
        Case({"step_times_s": [0.02, 0.02, 0.02]}, expected=0.01, rtol=1e-9),  # half a step
        Case({"step_times_s": [0.0171, 0.0065, 0.0065, 0.0065, 0.0066, 0.0064]}),
    ],
    mistakes=[
        Mistake(_half_mean,
                "half the mean step is right only if every step is equally long: a random "
                "arrival is more likely to land in a long step (step i with probability "
                "t_i / sum t), and then waits half of THAT step."),
        Mistake(lambda step_times_s: 2 * _half_mean(step_times_s),
                "an arrival lands somewhere inside a step, on average halfway: it waits half "
                "a step, not a whole one."),
        Mistake(lambda step_times_s: max(step_times_s) / 2,
                "not every arrival lands in the longest step: weight each step by the chance "
                "t_i / sum t of landing in it."),
    ],
    random_cases=_random_steps,
    n_random=30,
    rtol=1e-3,
)


def _no_prefill(weights_s, seq_s, prefill_s, output_tokens, tpot_target_s, max_batch):
    return (weights_s, seq_s, 0.0, output_tokens, tpot_target_s, max_batch)


def _per_token_limit(weights_s, seq_s, prefill_s, output_tokens, tpot_target_s, max_batch):
    """Reads TPOT as the step over the batch, t(B) / B: any large batch meets it."""
    return "memory" if (weights_s + max_batch * seq_s) / max_batch <= tpot_target_s else "tpot"


BINDING_LIMIT = Task(
    name="binding_limit",
    reference=binding_limit,
    kind="label",
    labels=LIMITS,
    cases=[
        # Llama-3-8B on an H100 (chapter 10): p90 TPOT <= 50 ms lets the batch grow past the
        # 576 sequences that fit, so memory saturates the replica first; 20 ms binds first.
        Case(_llama(0.050), expected="memory"),
        Case(_llama(0.020), expected="tpot"),
        # The step alone would allow (35 - 4.48) / 0.0292 = 1,045 sequences, more than fit;
        # with the prefill stalls the target allows 488.
        Case(_llama(0.035), expected="tpot"),
        Case(_llama(0.004), expected="tpot"),  # below the batch-1 step: binds at any load
    ],
    mistakes=[
        Mistake(lambda **kw: binding_limit(*_no_prefill(**kw)),
                "prefills stall the decode: TPOT = t(B) / (1 - lambda t_pf), so a TPOT target "
                "allows a smaller batch than (tau - t_w) / t_seq. Use B = lambda G tau at the "
                "highest lambda that meets the target."),
        Mistake(_per_token_limit,
                "TPOT is the time of a whole decode step, t(B), not the step divided by the "
                "batch: every sequence waits for the whole step to get its next token."),
        Mistake(lambda **kw: "memory" if binding_limit(**kw) == "tpot" else "tpot",
                "the labels are swapped: \"memory\" means the KV caches fill the memory before "
                "TPOT reaches the target."),
    ],
    random_cases=_random_replica,
    n_random=40,
)


def _rate_no_memory(weights_s, seq_s, prefill_s, output_tokens, tpot_target_s, max_batch):
    if tpot_target_s <= weights_s:
        return 0.0
    return _rates(weights_s, seq_s, prefill_s, output_tokens, tpot_target_s, max_batch)[0]


def _rate_at_target_when_full(weights_s, seq_s, prefill_s, output_tokens, tpot_target_s,
                              max_batch):
    """Where memory binds, B_max / (G tau): as if the full batch still ran at the target."""
    rate = highest_rate(weights_s, seq_s, prefill_s, output_tokens, tpot_target_s, max_batch)
    if binding_limit(weights_s, seq_s, prefill_s, output_tokens, tpot_target_s,
                     max_batch) == "memory":
        return max_batch / (output_tokens * tpot_target_s)
    return rate


HIGHEST_RATE = Task(
    name="highest_rate",
    reference=highest_rate,
    cases=[
        # Chapter 10: the closed form gives 52.1 requests/s where memory binds (50 ms) and
        # 45.5 for a 20 ms target (the simulation's p90 answers: 51 and 43).
        Case(_llama(0.050), expected=52.10, rtol=2e-3),
        Case(_llama(0.020), expected=45.46, rtol=2e-3),
        Case(_llama(0.010)),
        Case({"weights_s": 4.5e-3, "seq_s": 1e-5, "prefill_s": 1e-2, "output_tokens": 1000,
              "tpot_target_s": 9e-3, "max_batch": 10_000}, expected=25.0, rtol=1e-9),
        # lambda_max = 1 / (10 ms + 1000 x 10 us) = 50; 50 x (1 - 4.5 / 9) = 25
        Case(_llama(0.004), expected=0.0, atol=1e-12),  # no load meets it
    ],
    mistakes=[
        Mistake(lambda **kw: highest_rate(*_no_prefill(**kw)),
                "each request also costs its prefill, t_pf, which stalls every decoding "
                "sequence: lambda_max = 1 / (t_pf + G t_seq)."),
        Mistake(_rate_no_memory,
                "check the memory: the batch at that load, lambda G tau, may exceed B_max. "
                "Then the replica saturates first, at 1 / (t_pf + G t(B_max) / B_max)."),
        Mistake(_rate_at_target_when_full,
                "when the memory binds, the full batch steps faster than the target: its TPOT "
                "is t(B_max) / (1 - lambda t_pf), not tau."),
        Mistake(lambda **kw: highest_rate(**kw) * kw["output_tokens"],
                "that is output tokens per second; the task asks for requests per second."),
    ],
    random_cases=_random_replica,
    n_random=40,
    rtol=0.01,
)


def _replicas_no_batch(tokens_per_month, batch, step_s):
    return math.ceil(tokens_per_month / SECONDS_PER_MONTH * step_s)


def _replicas_floor(tokens_per_month, batch, step_s):
    return math.floor(tokens_per_month / SECONDS_PER_MONTH / (batch / step_s))


def _replicas_calendar(tokens_per_month, batch, step_s):
    return math.ceil(tokens_per_month / (365.25 / 12 * 86400) / (batch / step_s))


REPLICAS_NEEDED = Task(
    name="replicas_needed",
    reference=replicas_needed,
    kind="integer",
    cases=[
        # Google reported over 480 trillion tokens a month at I/O in May 2025
        # (https://blog.google/technology/ai/io-2025-keynote/); Reiner Pope's replica runs
        # 2,000 sequences every 15.6 ms (https://www.dwarkesh.com/p/reiner-pope).
        Case({"tokens_per_month": 480e12, "batch": 2000, "step_s": 15.6e-3}, expected=1445,
             source="Google I/O 2025: 480T tokens/month; Pope: B = 2,000 at T = 15.6 ms"),
        Case({"tokens_per_month": 1e12, "batch": 256, "step_s": 20e-3}),
    ],
    mistakes=[
        Mistake(_replicas_no_batch,
                "a replica makes one token for EACH of the B sequences per step: B / T "
                "tokens/s, not 1 / T."),
        Mistake(_replicas_floor,
                "round up: a fraction of a replica still needs a whole replica."),
        Mistake(_replicas_calendar,
                "the task counts a month as 30 days, 2,592,000 seconds."),
    ],
    random_cases=_random_demand,
    n_random=30,
)

TASKS = [REQUESTS_IN_FLIGHT, MEAN_WAIT_TO_BOARD, BINDING_LIMIT, HIGHEST_RATE, REPLICAS_NEEDED]
SOLUTIONS: dict[str, Callable[..., object]] = {t.name: t.reference for t in TASKS}

#: The worked example of the page: not a task, never counted in the score.
EXAMPLE = Task(
    name="decode_batch",
    reference=decode_batch,
    cases=[Case({"tokens_per_s": 2000 / 15.6e-3, "tpot_s": 15.6e-3}, expected=2000.0,
                rtol=1e-6, source="Pope: 2,000 sequences every 15.6 ms, 128,205 tokens/s")],
    mistakes=[
        Mistake(lambda tokens_per_s, tpot_s: tokens_per_s / tpot_s,
                "Little's law multiplies: sequences decoding = tokens/s x seconds per token."),
    ],
    rtol=1e-3,
)


def check_requests_in_flight(fn: Callable[..., float] | None = None) -> CheckResult:
    """Check ``requests_in_flight(rate, ttft_s, tpot_s, output_tokens)``."""
    return report(run_task(EXERCISE, REQUESTS_IN_FLIGHT, fn))


def check_mean_wait_to_board(fn: Callable[..., float] | None = None) -> CheckResult:
    """Check ``mean_wait_to_board(step_times_s)``."""
    return report(run_task(EXERCISE, MEAN_WAIT_TO_BOARD, fn))


def check_binding_limit(fn: Callable[..., str] | None = None) -> CheckResult:
    """Check ``binding_limit(weights_s, seq_s, prefill_s, output_tokens, tpot_target_s,
    max_batch)``."""
    return report(run_task(EXERCISE, BINDING_LIMIT, fn))


def check_highest_rate(fn: Callable[..., float] | None = None) -> CheckResult:
    """Check ``highest_rate(weights_s, seq_s, prefill_s, output_tokens, tpot_target_s,
    max_batch)``."""
    return report(run_task(EXERCISE, HIGHEST_RATE, fn))


def check_replicas_needed(fn: Callable[..., int] | None = None) -> CheckResult:
    """Check ``replicas_needed(tokens_per_month, batch, step_s)``."""
    return report(run_task(EXERCISE, REPLICAS_NEEDED, fn))


def check_example(fn: Callable[..., float]) -> CheckResult:
    """The page's worked example: check ``decode_batch`` without counting it."""
    return run_example(EXERCISE, EXAMPLE, fn)


def score() -> tuple[int, int]:
    """Print the reader's score for this exercise: tasks passed out of tasks."""
    return _score(EXERCISE, TASKS)
