"""Checks for ``exercises/08_cost_of_a_token``: dollars per million tokens from a step, which of
two deployments is cheaper per token, the batch where cost per token stops falling, and the
batching penalty under the two accountings of a batch-1 step.

Symbols: ``B`` batch, ``S`` context, ``N`` parameters (``N_tot`` total, ``N_act`` active per
token), ``b_w`` bytes per weight, ``k_B`` KV bytes per token (all layers), ``F`` peak FLOP/s,
``W`` bandwidth in bytes/s, ``n`` chips, ``p`` dollars per chip-hour.
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

EXERCISE = "08_cost_of_a_token"
DEPLOYMENTS = ("a", "b")
ACCOUNTINGS = ("active", "all")

# Datasheet numbers (dense FLOP/s in the compute dtype, HBM bytes/s).
H100_BF16 = {"peak_flops": 989e12, "bandwidth": 3.35e12}
H200_FP8 = {"peak_flops": 1979e12, "bandwidth": 4.8e12}
# Llama-3-70B: 70.55e9 parameters, 327,680 KV bytes per token in bf16.
LLAMA_70B = {"params": 70.55e9, "kv_bytes_per_token": 327680, "bytes_per_weight": 2}
# DeepSeek-V3: 671.0e9 total, 37.55e9 active parameters.
DEEPSEEK_V3 = {"total_params": 671.03e9, "active_params": 37.55e9}


# Reference solutions -------------------------------------------------------------------------


def dollars_per_million(step_s: float, batch: int, n_chips: int, price_per_hour: float) -> float:
    """``1e6 * p n / 3600 * step_s / B``: dollars per million tokens of a decode step."""
    return 1e6 * price_per_hour * n_chips / 3600 * step_s / batch


def cheaper_deployment(step_s_a: float, batch_a: int, n_chips_a: int, price_a: float,
                       step_s_b: float, batch_b: int, n_chips_b: int, price_b: float) -> str:
    """``"a"`` or ``"b"``: the deployment with the lower dollars per token (``"a"`` on a tie)."""
    a = dollars_per_million(step_s_a, batch_a, n_chips_a, price_a)
    b = dollars_per_million(step_s_b, batch_b, n_chips_b, price_b)
    return "b" if b < a else "a"


def cost_stops_falling(params: float, kv_bytes_per_token: float, context: int,
                       bytes_per_weight: float, peak_flops: float, bandwidth: float) -> float:
    """Balance batch with KV reads: ``(N b_w / W) / (2 N / F - S k_B / W)``; ``inf`` if the
    KV read per token is at least the compute per token (cost falls at every batch)."""
    surplus = 2 * params / peak_flops - context * kv_bytes_per_token / bandwidth
    if surplus <= 0:
        return math.inf
    return params * bytes_per_weight / bandwidth / surplus


def batching_penalty(total_params: float, active_params: float, bytes_per_weight: float,
                     peak_flops: float, bandwidth: float, accounting: str) -> float:
    """Cost per token at ``B = 1`` over the compute floor ``2 N_act / F`` (short context).

    ``accounting="active"``: the batch-1 step reads only the active weights, ``N_act b_w / W``;
    ``"all"``: it reads (or pays the chips for) all of them, ``N_tot b_w / W``. The step takes
    the larger of that read and its compute ``2 N_act / F``.
    """
    read = active_params if accounting.strip().lower() == "active" else total_params
    compute = 2 * active_params / peak_flops
    return max(compute, read * bytes_per_weight / bandwidth) / compute


def tokens_per_dollar(step_s: float, batch: int, price_per_hour: float) -> float:
    """The worked example (not graded): tokens one dollar buys on one chip."""
    return batch / step_s * 3600 / price_per_hour


# Random inputs -------------------------------------------------------------------------------


def _random_hw(rng: random.Random) -> dict[str, float]:
    bandwidth = log_uniform(rng, 1e12, 8e12)
    return {"peak_flops": bandwidth * log_uniform(rng, 60, 600), "bandwidth": bandwidth}


def _random_dollars(rng: random.Random) -> dict[str, float]:
    return {"step_s": log_uniform(rng, 2e-3, 0.1),
            "batch": rng.choice([1, 4, 16, 64, 256, 1024, 4096]),
            "n_chips": rng.choice([1, 2, 4, 8, 16, 64]),
            "price_per_hour": round(log_uniform(rng, 0.5, 10), 2)}


def _random_deployments(rng: random.Random) -> dict[str, float]:
    while True:
        a, b = _random_dollars(rng), _random_dollars(rng)
        case = {f"{k}_a" if k != "price_per_hour" else "price_a": v for k, v in a.items()}
        case |= {f"{k}_b" if k != "price_per_hour" else "price_b": v for k, v in b.items()}
        ca = dollars_per_million(**a)
        cb = dollars_per_million(**b)
        if max(ca, cb) > 1.2 * min(ca, cb):  # no near ties
            return case


def _random_falling(rng: random.Random) -> dict[str, float]:
    while True:
        case = {"params": log_uniform(rng, 1e9, 4e11),
                "kv_bytes_per_token": rng.choice([32768, 65536, 131072, 163840, 327680]),
                "context": rng.choice([0, 128, 512, 1024, 2048, 8192]),
                "bytes_per_weight": rng.choice([1, 2]),
                **_random_hw(rng)}
        if math.isfinite(cost_stops_falling(**case)):  # the checks use finite cases only
            return case


def _random_penalty(rng: random.Random) -> dict[str, float]:
    total = log_uniform(rng, 7e9, 1.2e12)
    return {"total_params": total,
            "active_params": total * rng.choice([1.0, 0.5, 0.25, 0.1, 0.056]),
            "bytes_per_weight": rng.choice([0.5, 1, 2]),
            **_random_hw(rng),
            "accounting": rng.choice(ACCOUNTINGS)}


# Tasks ---------------------------------------------------------------------------------------


DOLLARS_PER_MILLION = Task(
    name="dollars_per_million",
    reference=dollars_per_million,
    cases=[
        # Llama-3-70B, bf16, 8 x H100 at 1,024 tokens: the roofline step at B = 1 (5.2 ms) and
        # at B = 963 (17.2 ms), at $2 per chip-hour.
        Case({"step_s": 5.1993e-3, "batch": 1, "n_chips": 8, "price_per_hour": 2.0},
             expected=23.11, rtol=2e-3, source="Llama-3-70B on 8 x H100, B = 1: $23.11/Mtok"),
        Case({"step_s": 17.245e-3, "batch": 963, "n_chips": 8, "price_per_hour": 2.0}),
    ],
    mistakes=[
        Mistake(lambda step_s, batch, n_chips, price_per_hour:
                1e6 * price_per_hour / 3600 * step_s / batch,
                "the price is per chip-hour: a step on n chips bills n chips."),
        Mistake(lambda step_s, batch, n_chips, price_per_hour:
                1e6 * price_per_hour * n_chips / 3600 * step_s,
                "a step makes one token for EACH of the B sequences: divide by the batch."),
        Mistake(lambda step_s, batch, n_chips, price_per_hour:
                price_per_hour * n_chips / 3600 * step_s / batch,
                "that is dollars per token; the task asks for a million tokens."),
        Mistake(lambda step_s, batch, n_chips, price_per_hour:
                1e6 * price_per_hour * n_chips / 60 * step_s / batch,
                "an hour is 3,600 seconds, not 60."),
    ],
    random_cases=_random_dollars,
    n_random=30,
    rtol=1e-3,
)


def _per_step(step_s_a, batch_a, n_chips_a, price_a, step_s_b, batch_b, n_chips_b, price_b):
    return "b" if step_s_b * n_chips_b * price_b < step_s_a * n_chips_a * price_a else "a"


def _faster(step_s_a, batch_a, n_chips_a, price_a, step_s_b, batch_b, n_chips_b, price_b):
    return "b" if step_s_b < step_s_a else "a"


def _one_chip(step_s_a, batch_a, n_chips_a, price_a, step_s_b, batch_b, n_chips_b, price_b):
    return cheaper_deployment(step_s_a, batch_a, 1, price_a, step_s_b, batch_b, 1, price_b)


CHEAPER_DEPLOYMENT = Task(
    name="cheaper_deployment",
    reference=cheaper_deployment,
    kind="label",
    labels=DEPLOYMENTS,
    cases=[
        # DeepSeek-V3 fp8 on 8 H200s at 1,024 tokens: a batch-1 step that reads all weights
        # (17.5 ms) against the cheapest batch (3,645 sequences, 20.9 ms).
        Case({"step_s_a": 17.47e-3, "batch_a": 1, "n_chips_a": 8, "price_a": 3.0,
              "step_s_b": 20.87e-3, "batch_b": 3645, "n_chips_b": 8, "price_b": 3.0},
             expected="b", source="DeepSeek-V3 on 8 x H200: the big batch is ~3,000x cheaper"),
        # Llama-3-70B at 1,024 tokens: 8 x H100 at B = 963 (17.2 ms) against 4 x H200 at
        # B = 256 (11.7 ms), at $2 and $3.5 per chip-hour: the faster one costs more per token.
        Case({"step_s_a": 17.245e-3, "batch_a": 963, "n_chips_a": 8, "price_a": 2.0,
              "step_s_b": 11.71e-3, "batch_b": 256, "n_chips_b": 4, "price_b": 3.5},
             expected="a", source="faster steps, yet more dollars per token"),
        Case({"step_s_a": 30e-3, "batch_a": 64, "n_chips_a": 1, "price_a": 2.0,
              "step_s_b": 20e-3, "batch_b": 64, "n_chips_b": 4, "price_b": 2.0},
             expected="a", source="the faster step on 4 chips bills 4 chips"),
    ],
    mistakes=[
        Mistake(_faster,
                "the faster step is not the cheaper token: cost per token is chips x price x "
                "step time / batch."),
        Mistake(_per_step,
                "you compared the cost of a step; a step of B sequences makes B tokens, so "
                "divide by the batch."),
        Mistake(_one_chip,
                "a step on n chips bills all n of them: multiply by the chip count."),
    ],
    random_cases=_random_deployments,
    n_random=30,
)


def _no_kv(params, kv_bytes_per_token, context, bytes_per_weight, peak_flops, bandwidth):
    return cost_stops_falling(params, kv_bytes_per_token, 0, bytes_per_weight, peak_flops,
                              bandwidth)


def _one_flop(params, kv_bytes_per_token, context, bytes_per_weight, peak_flops, bandwidth):
    return cost_stops_falling(params / 2, kv_bytes_per_token, context, 2 * bytes_per_weight,
                              peak_flops, bandwidth)


def _kv_plus(params, kv_bytes_per_token, context, bytes_per_weight, peak_flops, bandwidth):
    return (params * bytes_per_weight / bandwidth
            / (2 * params / peak_flops + context * kv_bytes_per_token / bandwidth))


COST_STOPS_FALLING = Task(
    name="cost_stops_falling",
    reference=cost_stops_falling,
    cases=[
        # Llama-3-70B bf16 on H100s: 295 at no context, about 990 at 1,024 tokens (the
        # library's 963 also counts attention FLOPs and embedding rows).
        Case({**LLAMA_70B, "context": 0, **H100_BF16}, expected=295.2, rtol=2e-3,
             source="dense bf16 on an H100: the ridge F b_w / (2 W) = 295"),
        Case({**LLAMA_70B, "context": 1024, **H100_BF16}),
        Case({**LLAMA_70B, "context": 1280, **H100_BF16}),
    ],
    mistakes=[
        Mistake(_no_kv,
                "KV reads are per sequence and eat the compute surplus that pays for the "
                "shared weight read: subtract S k_B / W from 2 N / F."),
        Mistake(_kv_plus,
                "the KV read competes with compute for the step, so it REDUCES the surplus: "
                "2 N / F - S k_B / W, not plus."),
        Mistake(_one_flop,
                "a multiply-add is 2 FLOPs: a token costs 2 N FLOPs."),
    ],
    random_cases=_random_falling,
    n_random=30,
    rtol=0.01,
)


def _swapped(total_params, active_params, bytes_per_weight, peak_flops, bandwidth,
             accounting):
    other = "all" if accounting.strip().lower() == "active" else "active"
    return batching_penalty(total_params, active_params, bytes_per_weight, peak_flops,
                            bandwidth, other)


def _total_compute(total_params, active_params, bytes_per_weight, peak_flops, bandwidth,
                   accounting):
    return batching_penalty(total_params, total_params, bytes_per_weight, peak_flops,
                            bandwidth, accounting)


def _no_factor_two(total_params, active_params, bytes_per_weight, peak_flops, bandwidth,
                   accounting):
    return batching_penalty(total_params, active_params, bytes_per_weight, peak_flops,
                            bandwidth, accounting) * 2


BATCHING_PENALTY = Task(
    name="batching_penalty",
    reference=batching_penalty,
    cases=[
        # DeepSeek-V3 in fp8 on H200s: ridge 206; 206 x 671.0 / 37.55 = 3,683 when the batch-1
        # step reads every weight, 206 when it reads only its active experts.
        Case({**DEEPSEEK_V3, "bytes_per_weight": 1, **H200_FP8, "accounting": "all"},
             expected=3683, rtol=0.01, source="DeepSeek-V3 fp8, H200: ridge x N_tot / N_act"),
        Case({**DEEPSEEK_V3, "bytes_per_weight": 1, **H200_FP8, "accounting": "active"},
             expected=206.2, rtol=0.01, source="DeepSeek-V3 fp8, H200: the ridge, 206"),
        # A dense model: both accountings give the ridge, 295 on an H100 in bf16.
        Case({"total_params": 70.55e9, "active_params": 70.55e9, "bytes_per_weight": 2,
              **H100_BF16, "accounting": "all"}, expected=295.2, rtol=0.01,
             source="dense bf16 on an H100: 295"),
    ],
    mistakes=[
        Mistake(_swapped,
                "the accountings are swapped: \"all\" reads the total parameters at batch "
                "1, \"active\" only the active ones."),
        Mistake(_total_compute,
                "the floor is the compute of the ACTIVE parameters, 2 N_act / F per token: "
                "a token never multiplies by the experts it does not use."),
        Mistake(_no_factor_two,
                "a multiply-add is 2 FLOPs: the floor is 2 N_act / F per token."),
    ],
    random_cases=_random_penalty,
    n_random=30,
    rtol=0.01,
)

TASKS = [DOLLARS_PER_MILLION, CHEAPER_DEPLOYMENT, COST_STOPS_FALLING, BATCHING_PENALTY]
SOLUTIONS: dict[str, Callable[..., object]] = {t.name: t.reference for t in TASKS}

#: The worked example of the page: not a task, never counted in the score.
EXAMPLE = Task(
    name="tokens_per_dollar",
    reference=tokens_per_dollar,
    cases=[Case({"step_s": 7.39e-3, "batch": 64, "price_per_hour": 3.0},
                expected=64 / 7.39e-3 * 3600 / 3.0,
                source="stored H200 sweep, B = 64, S = 512, at $3 per hour")],
    mistakes=[
        Mistake(lambda step_s, batch, price_per_hour: 3600 / step_s / price_per_hour,
                "a decode step makes one token for EACH of the B sequences: multiply by B."),
        Mistake(lambda step_s, batch, price_per_hour: batch / step_s / price_per_hour,
                "the price is per HOUR: an hour holds 3,600 seconds of steps."),
    ],
    rtol=1e-3,
)


def check_dollars_per_million(fn: Callable[..., float] | None = None) -> CheckResult:
    """Check ``dollars_per_million(step_s, batch, n_chips, price_per_hour)``."""
    return report(run_task(EXERCISE, DOLLARS_PER_MILLION, fn))


def check_cheaper_deployment(fn: Callable[..., str] | None = None) -> CheckResult:
    """Check ``cheaper_deployment(step_s_a, batch_a, n_chips_a, price_a, step_s_b, batch_b,
    n_chips_b, price_b)``."""
    return report(run_task(EXERCISE, CHEAPER_DEPLOYMENT, fn))


def check_cost_stops_falling(fn: Callable[..., float] | None = None) -> CheckResult:
    """Check ``cost_stops_falling(params, kv_bytes_per_token, context, bytes_per_weight,
    peak_flops, bandwidth)``."""
    return report(run_task(EXERCISE, COST_STOPS_FALLING, fn))


def check_batching_penalty(fn: Callable[..., float] | None = None) -> CheckResult:
    """Check ``batching_penalty(total_params, active_params, bytes_per_weight, peak_flops,
    bandwidth, accounting)``."""
    return report(run_task(EXERCISE, BATCHING_PENALTY, fn))


def check_example(fn: Callable[..., float]) -> CheckResult:
    """The page's worked example: check ``tokens_per_dollar`` without counting it."""
    return run_example(EXERCISE, EXAMPLE, fn)


def score() -> tuple[int, int]:
    """Print the reader's score for this exercise: tasks passed out of tasks."""
    return _score(EXERCISE, TASKS)
