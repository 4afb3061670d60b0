"""Checks for ``exercises/07_prefill_vs_decode``: prefill against decode, time to first token,
and why output tokens cost more than input tokens.

Symbols: ``N`` parameters multiplied per token (2 N matmul FLOPs per token processed; attention
FLOPs are left out), ``b_w`` bytes per parameter, ``P`` prompt tokens, ``B`` batch, ``S`` context
(cached tokens each sequence attends to), ``k_B`` KV bytes per token, ``F`` peak FLOP/s, ``W``
memory bandwidth in bytes/s, ``m`` the prefill's MFU (achieved FLOP/s over ``F``). A step's
roofline time is ``max(FLOPs / (F m), bytes / W)``; decode steps use ``m = 1``.
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
    precision_text,
    report,
    run_example,
    run_task,
)
from tokenmath.checks._grading import score as _score

EXERCISE = "07_prefill_vs_decode"

#: Labels ``prefill_bound`` returns.
COMPUTE, MEMORY = "compute", "memory"
#: Labels ``cheaper_deployment`` returns.
A, B = "a", "b"


# Reference solutions -------------------------------------------------------------------------


def ttft(n_params: float, bytes_per_param: float, prompt_len: int, batch: int,
         peak_flops: float, bandwidth: float, mfu: float) -> float:
    """Time to first token: one prefill of ``B`` prompts of ``P`` tokens,
    ``max(2 N B P / (F m), N b_w / W)`` (the weights are read once for the whole pass)."""
    compute = 2.0 * n_params * batch * prompt_len / (peak_flops * mfu)
    memory = n_params * bytes_per_param / bandwidth
    return max(compute, memory)


def prefill_bound(n_params: float, bytes_per_param: float, prompt_len: int,
                  peak_flops: float, bandwidth: float) -> str:
    """``"compute"`` if a batch-1 prefill of ``P`` tokens takes longer in arithmetic
    (``2 N P / F``) than in reading the weights (``N b_w / W``), else ``"memory"``."""
    compute = 2.0 * n_params * prompt_len / peak_flops
    memory = n_params * bytes_per_param / bandwidth
    return COMPUTE if compute >= memory else MEMORY


def compute_bound_prompt_len(peak_flops: float, bandwidth: float,
                             bytes_per_param: float) -> int:
    """Shortest prompt whose batch-1 prefill is compute-bound: ``2 N P / F >= N b_w / W``, so
    ``P = ceil(F b_w / (2 W))`` (at least 1). ``N`` cancels."""
    x = peak_flops * bytes_per_param / (2.0 * bandwidth)
    return max(1, math.ceil(x * (1 - 1e-12)))


def _decode_cost_per_token(n_params: float, bytes_per_param: float,
                           kv_bytes_per_token: float, context: int, batch: int,
                           peak_flops: float, bandwidth: float) -> float:
    """Chip-seconds per output token of a decode step: ``t_step / B``."""
    step = max(2.0 * n_params * batch / peak_flops,
               (n_params * bytes_per_param + batch * context * kv_bytes_per_token) / bandwidth)
    return step / batch


def cheaper_deployment(n_params: float, bytes_per_param: float, kv_bytes_per_token: float,
                       context: int, price_a: float, peak_flops_a: float,
                       bandwidth_a: float, batch_a: int, price_b: float,
                       peak_flops_b: float, bandwidth_b: float, batch_b: int) -> str:
    """``"a"`` if deployment A's decode costs less per output token, else ``"b"``.

    Cost per token = price per second times the step time over the batch,
    ``price / 3600 * max(2 N B / F, (N b_w + B S k_B) / W) / B``.
    """
    common = (n_params, bytes_per_param, kv_bytes_per_token, context)
    cost_a = price_a * _decode_cost_per_token(*common, batch_a, peak_flops_a, bandwidth_a)
    cost_b = price_b * _decode_cost_per_token(*common, batch_b, peak_flops_b, bandwidth_b)
    return A if cost_a <= cost_b else B


def output_input_cost_ratio(n_params: float, bytes_per_param: float,
                            kv_bytes_per_token: float, context: int, batch: int,
                            peak_flops: float, bandwidth: float, prefill_mfu: float) -> float:
    """Chip-seconds per output token (decode at batch ``B``, context ``S``) over chip-seconds per
    input token (a long, compute-bound prefill at MFU ``m``: ``2 N / (F m)``)."""
    decode = _decode_cost_per_token(n_params, bytes_per_param, kv_bytes_per_token, context,
                                    batch, peak_flops, bandwidth)
    prefill = 2.0 * n_params / (peak_flops * prefill_mfu)
    return decode / prefill


# Random inputs ---------------------------------------------------------------------------------


def _random_hardware(rng: random.Random, suffix: str = "") -> dict[str, float]:
    return {
        "peak_flops" + suffix: log_uniform(rng, 5e13, 5e15),
        "bandwidth" + suffix: log_uniform(rng, 3e11, 8e12),
    }


def _random_ttft(rng: random.Random) -> dict[str, float]:
    return {
        "n_params": log_uniform(rng, 1e9, 4e11),
        "bytes_per_param": rng.choice([0.5, 1, 2, 2, 4]),
        "prompt_len": rng.randint(1, 32768),
        "batch": rng.choice([1, 1, 2, 4, 8, 16]),
        **_random_hardware(rng),
        "mfu": rng.uniform(0.2, 0.8),
    }


def _random_bound(rng: random.Random) -> dict[str, float]:
    """A prefill that is clearly (by more than 3 %) compute- or memory-bound."""
    while True:
        kwargs = {
            "n_params": log_uniform(rng, 1e9, 4e11),
            "bytes_per_param": rng.choice([0.5, 1, 2, 2, 4]),
            "prompt_len": round(log_uniform(rng, 1, 4096)),
            **_random_hardware(rng),
        }
        ratio = (2 * kwargs["prompt_len"] * kwargs["bandwidth"]
                 / (kwargs["peak_flops"] * kwargs["bytes_per_param"]))
        if abs(math.log(ratio)) > 0.03:
            return kwargs


def _random_prompt_len(rng: random.Random) -> dict[str, float]:
    """Hardware whose crossover is not within a hair of a whole number (float order)."""
    while True:
        kwargs = {**_random_hardware(rng), "bytes_per_param": rng.choice([0.5, 1, 2, 2, 4])}
        x = kwargs["peak_flops"] * kwargs["bytes_per_param"] / (2 * kwargs["bandwidth"])
        if 1e-6 < x - math.floor(x) < 1 - 1e-6:
            return kwargs


def _random_model(rng: random.Random) -> dict[str, float]:
    return {
        "n_params": log_uniform(rng, 1e9, 4e11),
        "bytes_per_param": rng.choice([0.5, 1, 2, 2]),
        "kv_bytes_per_token": log_uniform(rng, 3e4, 1e6),
        "context": rng.randint(0, 32768),
    }


def _random_deployments(rng: random.Random) -> dict[str, float]:
    """Two deployments whose costs per token differ by more than 3 %."""
    while True:
        kwargs = {
            **_random_model(rng),
            "price_a": rng.uniform(1, 12),
            **_random_hardware(rng, "_a"),
            "batch_a": rng.choice([1, 4, 8, 16, 32, 64, 128, 256, 512]),
            "price_b": rng.uniform(1, 12),
            **_random_hardware(rng, "_b"),
            "batch_b": rng.choice([1, 4, 8, 16, 32, 64, 128, 256, 512]),
        }
        a, b = _deployment_costs(**kwargs)
        if abs(math.log(a / b)) > 0.03:
            return kwargs


def _random_cost_ratio(rng: random.Random) -> dict[str, float]:
    return {
        **_random_model(rng),
        "batch": rng.choice([1, 8, 32, 64, 128, 256, 1024]),
        **_random_hardware(rng),
        "prefill_mfu": rng.uniform(0.3, 0.8),
    }


# Tasks ---------------------------------------------------------------------------------------

# Llama-3-8B (8.03e9 parameters, 2-byte weights, 131,072 KV bytes per token) on an H100 SXM
# (989e12 dense bf16 FLOP/s, 3.35e12 B/s: NVIDIA's datasheet, the scaling book's numbers) and an
# H200 (same FLOP/s, 4.8e12 B/s: https://www.nvidia.com/en-us/data-center/h200/).
_LLAMA = {"n_params": 8.03e9, "bytes_per_param": 2}
_H100 = {"peak_flops": 989e12, "bandwidth": 3.35e12}
_H200 = {"peak_flops": 989e12, "bandwidth": 4.8e12}

# TTFT ------------------------------------------------------------------------------------------


def _ttft_peak(n_params, bytes_per_param, prompt_len, batch, peak_flops, bandwidth, mfu):
    return ttft(n_params, bytes_per_param, prompt_len, batch, peak_flops, bandwidth, 1.0)


def _ttft_compute_only(n_params, bytes_per_param, prompt_len, batch, peak_flops, bandwidth,
                       mfu):
    return 2.0 * n_params * batch * prompt_len / (peak_flops * mfu)


def _ttft_no_batch(n_params, bytes_per_param, prompt_len, batch, peak_flops, bandwidth, mfu):
    return ttft(n_params, bytes_per_param, prompt_len, 1, peak_flops, bandwidth, mfu)


def _ttft_times_mfu(n_params, bytes_per_param, prompt_len, batch, peak_flops, bandwidth, mfu):
    return max(2.0 * n_params * batch * prompt_len * mfu / peak_flops,
               n_params * bytes_per_param / bandwidth)


def _ttft_one_flop(n_params, bytes_per_param, prompt_len, batch, peak_flops, bandwidth, mfu):
    return max(n_params * batch * prompt_len / (peak_flops * mfu),
               n_params * bytes_per_param / bandwidth)


def _ttft_reads_per_token(n_params, bytes_per_param, prompt_len, batch, peak_flops, bandwidth,
                          mfu):
    """The weights read once per prompt token, as if the prompt were decoded token by token."""
    return max(2.0 * n_params * batch * prompt_len / (peak_flops * mfu),
               prompt_len * n_params * bytes_per_param / bandwidth)


TTFT = Task(
    name="ttft",
    reference=ttft,
    cases=[
        # By hand: 2 * 8.03e9 * 2000 / (989e12 * 0.5) = 64.96 ms; the weight read is 4.79 ms.
        Case({**_LLAMA, "prompt_len": 2000, "batch": 1, **_H100, "mfu": 0.5},
             expected=2 * 8.03e9 * 2000 / (989e12 * 0.5), rtol=1e-6,
             source="2N rule, worked by hand (H100 datasheet)"),
        # A 50-token prompt: 1.6 ms of arithmetic hides in the 4.79 ms weight read.
        Case({**_LLAMA, "prompt_len": 50, "batch": 1, **_H100, "mfu": 0.5},
             expected=8.03e9 * 2 / 3.35e12, rtol=1e-6,
             source="worked by hand: short prompts are memory-bound"),
        # Eight 1,000-token prompts arriving together on an H200, at 55 % MFU.
        Case({**_LLAMA, "prompt_len": 1000, "batch": 8, **_H200, "mfu": 0.55}),
    ],
    mistakes=[
        Mistake(_ttft_peak,
                "that is the time at peak FLOP/s. A real prefill runs at an MFU below 1: "
                "divide the compute time by mfu."),
        Mistake(_ttft_times_mfu,
                "mfu is the fraction of peak you achieve, so the compute time is "
                "FLOPs / (peak_flops * mfu): divide by it, do not multiply."),
        Mistake(_ttft_compute_only,
                "a short prompt does little arithmetic, but the pass still reads every "
                "weight once: the time is at least N b_w / W (take the max)."),
        Mistake(_ttft_no_batch,
                "the batch's prompts are prefilled together: 2 N B P FLOPs, so the first "
                "token of every sequence waits for all of them."),
        Mistake(_ttft_one_flop,
                "a factor 2 went missing: each parameter costs a multiply and an add per "
                "token."),
        Mistake(_ttft_reads_per_token,
                "a prefill reads each weight once for the whole prompt, not once per token: "
                "that is what makes it compute-bound."),
    ],
    random_cases=_random_ttft,
    rtol=0.01,
    precision="graded to 1 %",
)

# Compute- or memory-bound ---------------------------------------------------------------------


def _bound_no_factor_2(n_params, bytes_per_param, prompt_len, peak_flops, bandwidth):
    compute = n_params * prompt_len / peak_flops
    return COMPUTE if compute >= n_params * bytes_per_param / bandwidth else MEMORY


def _bound_two_bytes(n_params, bytes_per_param, prompt_len, peak_flops, bandwidth):
    return prefill_bound(n_params, 2, prompt_len, peak_flops, bandwidth)


PREFILL_BOUND = Task(
    name="prefill_bound",
    reference=prefill_bound,
    cases=[
        # H100 ridge 295 FLOP/byte (scaling book): a 100-token prompt is memory-bound ...
        Case({**_LLAMA, "prompt_len": 100, **_H100}, expected=MEMORY,
             source="scaling book: H100 ridge 295"),
        # ... a 1,000-token prompt compute-bound.
        Case({**_LLAMA, "prompt_len": 1000, **_H100}, expected=COMPUTE,
             source="scaling book: H100 ridge 295"),
        # int8 weights halve the weight read: 200 tokens are past F b_w / (2W) = 148.
        Case({**_LLAMA, "bytes_per_param": 1, "prompt_len": 200, **_H100}, expected=COMPUTE,
             source="worked by hand: int8 weights, H100"),
        # 400 tokens: past 295, but short of the 590 a missing factor 2 would give.
        Case({**_LLAMA, "prompt_len": 400, **_H100}, expected=COMPUTE,
             source="worked by hand: H100"),
        # H200: more bandwidth, same FLOP/s, so the crossover is earlier (206 tokens).
        Case({**_LLAMA, "prompt_len": 250, **_H200}),
    ],
    mistakes=[
        Mistake(lambda **kwargs: COMPUTE,
                "prefill is not always compute-bound: a short prompt does too little "
                "arithmetic to outlast the weight read. Compare 2 N P / F with N b_w / W."),
        Mistake(_bound_no_factor_2,
                "a factor 2 went missing: each parameter costs a multiply and an add per "
                "token, 2 N P FLOPs in all."),
        Mistake(_bound_two_bytes,
                "the weight read takes N * bytes_per_param bytes: with int8 or int4 weights "
                "it is shorter and the prefill turns compute-bound sooner."),
        Mistake(lambda **kwargs: MEMORY if prefill_bound(**kwargs) == COMPUTE else COMPUTE,
                "the labels are swapped: \"compute\" when the arithmetic takes longer than "
                "reading the weights."),
    ],
    random_cases=_random_bound,
    kind="label",
    labels=(COMPUTE, MEMORY),
    precision='a label, "compute" or "memory" (case and spaces do not matter); '
              "no case is a near-tie",
)

# The prompt length where prefill turns compute-bound ------------------------------------------

COMPUTE_BOUND_PROMPT_LEN = Task(
    name="compute_bound_prompt_len",
    reference=compute_bound_prompt_len,
    cases=[
        # H100 SXM, bf16: F / W = 295.2 (the scaling book's ridge), so 296 tokens.
        Case({**_H100, "bytes_per_param": 2}, expected=296,
             source="scaling book: H100 ridge 295"),
        # H200, bf16: 989 / 4.8 = 206.04, so 207 tokens.
        Case({**_H200, "bytes_per_param": 2}, expected=207,
             source="NVIDIA H200 datasheet, worked by hand"),
        # kipply's A100 (312e12 FLOP/s, 1.5e12 B/s): exactly 208, and 208 is compute-bound.
        Case({"peak_flops": 312e12, "bandwidth": 1.5e12, "bytes_per_param": 2},
             expected=208, source="kipply: A100, 208"),
        # int8 weights on an H100: half the weight read, 147.6, so 148.
        Case({**_H100, "bytes_per_param": 1}, expected=148,
             source="scaling book: H100 ridge 295, int8 weights"),
    ],
    mistakes=[
        Mistake(lambda peak_flops, bandwidth, bytes_per_param:
                math.floor(peak_flops * bytes_per_param / (2 * bandwidth)),
                "floor gives the longest prompt that is still memory-bound; the first "
                "compute-bound one is the bound rounded *up* (math.ceil)."),
        Mistake(lambda peak_flops, bandwidth, bytes_per_param:
                round(peak_flops * bytes_per_param / (2 * bandwidth)),
                "round() can round down, to a prompt that is still memory-bound; round the "
                "bound up (math.ceil)."),
        Mistake(lambda peak_flops, bandwidth, bytes_per_param:
                peak_flops * bytes_per_param / (2 * bandwidth),
                "a prompt is a whole number of tokens: round the bound up."),
        Mistake(lambda peak_flops, bandwidth, bytes_per_param:
                math.ceil(peak_flops * bytes_per_param / bandwidth),
                "a factor 2 went missing: a prompt token costs 2 N FLOPs (multiply and add)."),
        Mistake(lambda peak_flops, bandwidth, bytes_per_param:
                math.ceil(peak_flops / bandwidth),
                "F / W is right only for 2-byte weights: the bytes per parameter and the 2 "
                "FLOPs per parameter are separate factors."),
    ],
    random_cases=_random_prompt_len,
    kind="integer",
    precision="an exact whole number (7 or 7.0)",
)

# Which deployment is cheaper per output token --------------------------------------------------


def _deployment_costs(n_params, bytes_per_param, kv_bytes_per_token, context, price_a,
                      peak_flops_a, bandwidth_a, batch_a, price_b, peak_flops_b, bandwidth_b,
                      batch_b, *, kv=True, per_token=True, priced=True):
    common = (n_params, bytes_per_param, kv_bytes_per_token if kv else 0.0, context)
    out = []
    for price, f, w, b in ((price_a, peak_flops_a, bandwidth_a, batch_a),
                           (price_b, peak_flops_b, bandwidth_b, batch_b)):
        cost = _decode_cost_per_token(*common, b, f, w) * (b if not per_token else 1)
        out.append(cost * (price if priced else 1))
    return tuple(out)


def _cheaper(**options) -> Callable[..., str]:
    def decide(**kwargs):
        a, b = _deployment_costs(**kwargs, **options)
        return A if a <= b else B

    return decide


CHEAPER_DEPLOYMENT = Task(
    name="cheaper_deployment",
    reference=cheaper_deployment,
    cases=[
        # Llama-3-8B at context 2,048: A is an H200 at $5/h serving batch 64, B an H100 at
        # $3/h serving batch 16. B's chip is cheaper and its steps faster; A is 2.1x cheaper
        # per token. (Prices are illustrative, not quotes.)
        Case({**_LLAMA, "kv_bytes_per_token": 131_072, "context": 2048,
              "price_a": 5.0, "peak_flops_a": 989e12, "bandwidth_a": 4.8e12, "batch_a": 64,
              "price_b": 3.0, "peak_flops_b": 989e12, "bandwidth_b": 3.35e12, "batch_b": 16},
             expected=A, source="worked by hand: H100 and H200 datasheets"),
        # The same chips at context 32,768, batch 8 on both (50 GB: it fits either): both are
        # memory-bound, so cost goes as price / bandwidth, and the H200's 43 % more bandwidth
        # does not pay for its 67 % higher price.
        Case({**_LLAMA, "kv_bytes_per_token": 131_072, "context": 32768,
              "price_a": 5.0, "peak_flops_a": 989e12, "bandwidth_a": 4.8e12, "batch_a": 8,
              "price_b": 3.0, "peak_flops_b": 989e12, "bandwidth_b": 3.35e12, "batch_b": 8},
             expected=B, source="worked by hand: H100 and H200 datasheets"),
        # A short context, batch 256 on a $3 H100 against batch 32 on a $2 H100: the big
        # batch shares each weight read among 8x the tokens.
        Case({**_LLAMA, "kv_bytes_per_token": 131_072, "context": 256,
              "price_a": 2.0, "peak_flops_a": 989e12, "bandwidth_a": 3.35e12, "batch_a": 32,
              "price_b": 3.0, "peak_flops_b": 989e12, "bandwidth_b": 3.35e12,
              "batch_b": 256}),
    ],
    mistakes=[
        Mistake(lambda **kw: A if kw["price_a"] <= kw["price_b"] else B,
                "the cheaper chip is not the cheaper token: cost per token is the price per "
                "second times the step time, divided by the tokens the step makes (B)."),
        Mistake(_cheaper(per_token=False),
                "that compares the cost of a step (or its speed), not of a token: a step "
                "makes B tokens, so divide its cost by the batch."),
        Mistake(_cheaper(kv=False),
                "each decode step also reads every sequence's KV cache, B S k_B bytes: at "
                "long contexts that read, not the weights, sets the time."),
        Mistake(_cheaper(priced=False),
                "chip-seconds per token are not dollars: multiply by each chip's price."),
        Mistake(lambda **kw: B if cheaper_deployment(**kw) == A else A,
                "the labels are swapped: return \"a\" when deployment A's tokens are "
                "cheaper."),
    ],
    random_cases=_random_deployments,
    kind="label",
    labels=(A, B),
    precision='a label, "a" or "b" (case and spaces do not matter); no case is a near-tie',
)

# Output against input cost ----------------------------------------------------------------


def _ratio_inverted(**kw):
    return 1.0 / output_input_cost_ratio(**kw)


def _ratio_peak_prefill(**kw):
    return output_input_cost_ratio(**{**kw, "prefill_mfu": 1.0})


def _ratio_no_kv(**kw):
    return output_input_cost_ratio(**{**kw, "kv_bytes_per_token": 0.0})


def _ratio_per_step(**kw):
    """The whole decode step charged to one token."""
    return output_input_cost_ratio(**kw) * kw["batch"]


OUTPUT_INPUT_COST_RATIO = Task(
    name="output_input_cost_ratio",
    reference=output_input_cost_ratio,
    cases=[
        # The chapter's example: Llama-3-8B on an H100, batch 64 at context 2,048, prefill at
        # 50 % MFU: about 4.6, inside the "3-5x" of public price lists.
        Case({**_LLAMA, "kv_bytes_per_token": 131_072, "context": 2048, "batch": 64, **_H100,
              "prefill_mfu": 0.5}),
        # Batch 1 at a short context: every output token pays the whole weight read, ~150x.
        Case({**_LLAMA, "kv_bytes_per_token": 131_072, "context": 100, "batch": 1, **_H100,
              "prefill_mfu": 0.5}),
        # Batch 512 at a short context: decode is compute-bound, cheaper than the prefill.
        Case({**_LLAMA, "kv_bytes_per_token": 131_072, "context": 64, "batch": 512, **_H100,
              "prefill_mfu": 0.5}, expected=0.5, rtol=0.01,
             source="worked by hand: both compute-bound, ratio = MFU"),
    ],
    mistakes=[
        Mistake(_ratio_inverted,
                "the ratio is upside down: output (decode) cost per token over input "
                "(prefill) cost per token."),
        Mistake(_ratio_peak_prefill,
                "the prefill runs at prefill_mfu of peak, not at peak: an input token takes "
                "2 N / (F * prefill_mfu) chip-seconds."),
        Mistake(_ratio_no_kv,
                "a decode step also reads each sequence's KV cache, B S k_B bytes, on top of "
                "the weights."),
        Mistake(_ratio_per_step,
                "a decode step makes B output tokens: divide its time by the batch."),
    ],
    random_cases=_random_cost_ratio,
    rtol=0.02,
    precision="graded to 2 %",
)

# A worked example of a wrong answer for the page (not graded): a prefill's matmul FLOPs.
EXAMPLE = Task(
    name="prefill_flops",
    reference=lambda n_params, prompt_len: 2.0 * n_params * prompt_len,
    cases=[Case({"n_params": 8e9, "prompt_len": 1000}, expected=1.6e13, source="2N rule")],
    mistakes=[
        Mistake(lambda n_params, prompt_len: 2.0 * n_params,
                "that is one token: a prefill runs every prompt token through the weights, "
                "2 N FLOPs each."),
    ],
    random_cases=lambda rng: {"n_params": log_uniform(rng, 1e6, 1e12),
                              "prompt_len": rng.randint(2, 8192)},
    rtol=1e-3,
)

TASKS = [TTFT, PREFILL_BOUND, COMPUTE_BOUND_PROMPT_LEN, CHEAPER_DEPLOYMENT,
         OUTPUT_INPUT_COST_RATIO]
SOLUTIONS: dict[str, Callable[..., object]] = {t.name: t.reference for t in TASKS}


def check_example(fn: Callable[..., float]) -> CheckResult:
    """Check a worked example, ``prefill_flops(n_params, prompt_len)``; it does not count."""
    return run_example(EXERCISE, EXAMPLE, fn)


def precision(name: str) -> str:
    """How the task ``name`` is graded, in words."""
    return precision_text({t.name: t for t in TASKS}[name])


def check_ttft(fn: Callable[..., float] | None = None) -> CheckResult:
    """Check ``ttft(n_params, bytes_per_param, prompt_len, batch, peak_flops, bandwidth,
    mfu)``."""
    return report(run_task(EXERCISE, TTFT, fn))


def check_prefill_bound(fn: Callable[..., str] | None = None) -> CheckResult:
    """Check ``prefill_bound(n_params, bytes_per_param, prompt_len, peak_flops,
    bandwidth)``."""
    return report(run_task(EXERCISE, PREFILL_BOUND, fn))


def check_compute_bound_prompt_len(fn: Callable[..., int] | None = None) -> CheckResult:
    """Check ``compute_bound_prompt_len(peak_flops, bandwidth, bytes_per_param)``."""
    return report(run_task(EXERCISE, COMPUTE_BOUND_PROMPT_LEN, fn))


def check_cheaper_deployment(fn: Callable[..., str] | None = None) -> CheckResult:
    """Check ``cheaper_deployment(n_params, bytes_per_param, kv_bytes_per_token, context,
    price_a, peak_flops_a, bandwidth_a, batch_a, price_b, peak_flops_b, bandwidth_b,
    batch_b)``."""
    return report(run_task(EXERCISE, CHEAPER_DEPLOYMENT, fn))


def check_output_input_cost_ratio(fn: Callable[..., float] | None = None) -> CheckResult:
    """Check ``output_input_cost_ratio(n_params, bytes_per_param, kv_bytes_per_token,
    context, batch, peak_flops, bandwidth, prefill_mfu)``."""
    return report(run_task(EXERCISE, OUTPUT_INPUT_COST_RATIO, fn))


def score() -> tuple[int, int]:
    """Print the reader's score for this exercise: tasks passed out of tasks."""
    return _score(EXERCISE, TASKS)
