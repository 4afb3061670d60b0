"""Checks for ``exercises/11_beyond_one_chip``: the all-to-all bytes a token sends under expert
parallelism, which resource bounds a step spread over many chips, how many chips a latency
target needs, whether a deployment is capacity- or bandwidth-limited, and the memory per chip of
a pipeline.

Symbols: ``B`` batch (sequences, one token each per step), ``S`` context, ``n`` chips,
``N_act`` active parameters, ``k_B`` KV bytes per token, ``F`` peak FLOP/s, ``W`` HBM bandwidth,
``M_HBM`` HBM capacity (all per chip), ``W_link`` link bandwidth per chip and direction, ``d``
model width, ``E_act`` experts a token is routed to, ``L_moe`` MoE layers, ``n_pp`` pipeline
stages of ``n_ep`` chips each, ``B_mb`` micro-batch, ``M_w`` weight bytes.
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

EXERCISE = "11_beyond_one_chip"
RESOURCES = ("compute", "memory", "network")
LIMITS = ("capacity", "bandwidth")

# Datasheet numbers per chip: dense FLOP/s in fp8, HBM bytes/s, HBM bytes, NVLink bytes/s in one
# direction (half the "900 GB/s" and "1.8 TB/s" the datasheets quote for both directions).
# https://www.nvidia.com/en-us/data-center/h200/ , https://www.nvidia.com/en-us/data-center/hgx/
H200 = {"peak_flops": 1979e12, "bandwidth": 4.8e12, "link_bandwidth": 450e9}
B200 = {"peak_flops": 4500e12, "bandwidth": 7.7e12, "link_bandwidth": 900e9}
H200_HBM, B200_HBM, H100_HBM = 141e9, 180e9, 80e9
# DeepSeek-V3 (arXiv 2412.19437): 671.0e9 parameters (fp8: 1 byte each), 37.55e9 active, width
# 7168, 58 MoE layers of 8 routed experts per token; MLA cache 70,272 bytes per token in bf16.
DS_WEIGHT_BYTES = 671.03e9
DS_ACTIVE = 37.55e9
DS_KV = 70272
DS_A2A_BF16 = 58 * 8 * 7168 * 4  # bytes per token before the (n - 1) / n factor


# Reference solutions -------------------------------------------------------------------------


def all_to_all_bytes(d_model: int, experts_per_token: int, moe_layers: int,
                     dispatch_bytes: float, combine_bytes: float, n_chips: int) -> float:
    """``L_moe E_act d (b_dispatch + b_combine) (n - 1) / n``: bytes one token sends over the
    links in one decode step when the experts are spread evenly over ``n`` chips."""
    remote = (n_chips - 1) / n_chips
    return moe_layers * experts_per_token * d_model * (dispatch_bytes + combine_bytes) * remote


def _terms(batch, context, n_chips, active_params, weight_bytes, kv_bytes_per_token,
           network_bytes_per_token, peak_flops, bandwidth, link_bandwidth):
    compute = batch * 2 * active_params / (n_chips * peak_flops)
    memory = (weight_bytes + batch * context * kv_bytes_per_token) / (n_chips * bandwidth)
    network = batch * network_bytes_per_token / (n_chips * link_bandwidth)
    return compute, memory, network


def _largest(compute: float, memory: float, network: float) -> str:
    if network > max(compute, memory):
        return "network"
    return "compute" if compute >= memory else "memory"


def bound_resource(batch: int, context: int, n_chips: int, active_params: float,
                   weight_bytes: float, kv_bytes_per_token: float,
                   network_bytes_per_token: float, peak_flops: float, bandwidth: float,
                   link_bandwidth: float) -> str:
    """``"compute"``, ``"memory"`` or ``"network"``: the largest of ``B 2 N_act / (n F)``,
    ``(M_w + B S k_B) / (n W)`` and ``B M_net / (n W_link)`` (network only if strictly largest,
    compute on a tie with memory, as :func:`tokenmath.roofline.decode_step`)."""
    return _largest(*_terms(batch, context, n_chips, active_params, weight_bytes,
                            kv_bytes_per_token, network_bytes_per_token, peak_flops, bandwidth,
                            link_bandwidth))


def chips_needed(model_bytes: float, hbm_bytes: float, bandwidth: float,
                 target_s: float) -> int:
    """Smallest ``n`` with ``n M_HBM >= M`` (it fits) and ``M / (n W) <= t`` (one step reads it
    all within the target): ``max(ceil(M / M_HBM), ceil(M / (W t)))``."""
    return max(math.ceil(model_bytes / hbm_bytes), math.ceil(model_bytes / (bandwidth * target_s)))


def capacity_or_bandwidth(stored_bytes: float, read_bytes: float, hbm_bytes: float,
                          bandwidth: float, target_s: float) -> str:
    """``"capacity"`` if holding ``stored_bytes`` needs more chips than reading ``read_bytes``
    within ``target_s`` does (``M_stored / M_HBM > M_read / (W t)``), else ``"bandwidth"``."""
    return "capacity" if stored_bytes / hbm_bytes > read_bytes / (bandwidth * target_s) \
        else "bandwidth"


def pipeline_bytes_per_chip(weight_bytes: float, kv_bytes_per_sequence: float,
                            micro_batch: int, chips_per_stage: int, stages: int) -> float:
    """``M_w / (n_ep n_pp) + B_mb M_kv / n_ep``: a stage of ``n_ep`` chips stores ``1/n_pp`` of
    the weights and, for each of the ``n_pp`` micro-batches in flight, ``1/n_pp`` of every
    sequence's cache ``M_kv``."""
    return weight_bytes / (chips_per_stage * stages) + micro_batch * kv_bytes_per_sequence \
        / chips_per_stage


def latency_floor(weight_bytes: float, n_chips: int, bandwidth: float) -> float:
    """The worked example (not graded): ``M_w / (n W)``, the shortest step ``n`` chips allow."""
    return weight_bytes / (n_chips * bandwidth)


# Random inputs -------------------------------------------------------------------------------


def _random_a2a(rng: random.Random) -> dict[str, float]:
    return {"d_model": rng.choice([2048, 4096, 5120, 7168, 8192]),
            "experts_per_token": rng.choice([1, 2, 4, 6, 8]),
            "moe_layers": rng.choice([1, 24, 32, 48, 58, 60]),
            "dispatch_bytes": rng.choice([1, 2]),
            "combine_bytes": rng.choice([1, 2]),
            "n_chips": rng.choice([2, 4, 8, 16, 32, 72])}


def _random_bound(rng: random.Random) -> dict[str, float]:
    while True:
        bandwidth = log_uniform(rng, 1e12, 8e12)
        active = log_uniform(rng, 3e9, 4e11)
        case = {"batch": rng.choice([1, 16, 64, 256, 1024, 4096, 16384]),
                "context": rng.choice([128, 1024, 4096, 32768]),
                "n_chips": rng.choice([2, 8, 16, 72, 144]),
                "active_params": active,
                "weight_bytes": active * log_uniform(rng, 1, 20),
                "kv_bytes_per_token": rng.choice([35136, 70272, 131072, 327680]),
                "network_bytes_per_token": log_uniform(rng, 1e6, 1e8),
                "peak_flops": bandwidth * log_uniform(rng, 150, 600),
                "bandwidth": bandwidth,
                "link_bandwidth": rng.choice([50e9, 100e9, 450e9, 900e9])}
        terms = sorted(_terms(**case))
        if terms[2] > 1.1 * terms[1]:  # no near ties
            return case


def _fractional_part_clear(x: float) -> bool:
    return 0.02 < x - math.floor(x) < 0.98


def _random_chips(rng: random.Random) -> dict[str, float]:
    while True:
        case = {"model_bytes": log_uniform(rng, 1e10, 3e12),
                "hbm_bytes": rng.choice([24e9, 80e9, 141e9, 180e9, 192e9]),
                "bandwidth": rng.choice([1.0e12, 2.0e12, 3.35e12, 4.8e12, 7.7e12]),
                "target_s": log_uniform(rng, 1e-3, 0.1)}
        cap = case["model_bytes"] / case["hbm_bytes"]
        bw = case["model_bytes"] / (case["bandwidth"] * case["target_s"])
        if _fractional_part_clear(cap) and _fractional_part_clear(bw) \
                and max(cap, bw) > 1.1 * min(cap, bw):
            return case


def _random_limit(rng: random.Random) -> dict[str, float]:
    while True:
        stored = log_uniform(rng, 1e10, 3e12)
        case = {"stored_bytes": stored,
                "read_bytes": stored * rng.choice([1.0, 1.0, 0.5, 0.1, 0.056]),
                "hbm_bytes": rng.choice([24e9, 80e9, 141e9, 180e9, 192e9]),
                "bandwidth": rng.choice([1.0e12, 2.0e12, 3.35e12, 4.8e12, 7.7e12]),
                "target_s": log_uniform(rng, 2e-3, 0.2)}
        cap = case["stored_bytes"] / case["hbm_bytes"]
        bw = case["read_bytes"] / (case["bandwidth"] * case["target_s"])
        if max(cap, bw) > 1.1 * min(cap, bw):
            return case


def _random_pipeline(rng: random.Random) -> dict[str, float]:
    return {"weight_bytes": log_uniform(rng, 1e10, 2e12),
            "kv_bytes_per_sequence": log_uniform(rng, 1e8, 1e10),
            "micro_batch": rng.choice([1, 8, 32, 100, 256]),
            "chips_per_stage": rng.choice([2, 4, 8, 16, 72]),
            "stages": rng.choice([2, 3, 4, 8])}


# Tasks ---------------------------------------------------------------------------------------


ALL_TO_ALL_BYTES = Task(
    name="all_to_all_bytes",
    reference=all_to_all_bytes,
    cases=[
        # DeepSeek's bound on decode speed: each token goes to 9 experts of width "7K", with
        # FP8 dispatch and BF16 combine; 120.96 us for 32 tokens per GPU at 50 GB/s is
        # 189,000 bytes per token and layer (arXiv 2505.09343, section 2.3). Their EP144 unit:
        # (n - 1) / n = 0.993.
        Case({"d_model": 7000, "experts_per_token": 9, "moe_layers": 1, "dispatch_bytes": 1,
              "combine_bytes": 2, "n_chips": 144}, expected=189000, rtol=0.01,
             source="DeepSeek, arXiv 2505.09343: 120.96 us x 50 GB/s / 32 tokens"),
        # DeepSeek-V3 (d = 7168, 8 routed experts, 58 MoE layers), bf16 both ways, 8 chips.
        Case({"d_model": 7168, "experts_per_token": 8, "moe_layers": 58, "dispatch_bytes": 2,
              "combine_bytes": 2, "n_chips": 8}),
        Case({"d_model": 7168, "experts_per_token": 8, "moe_layers": 58, "dispatch_bytes": 2,
              "combine_bytes": 2, "n_chips": 1}),
    ],
    mistakes=[
        Mistake(lambda d_model, experts_per_token, moe_layers, dispatch_bytes, combine_bytes,
                n_chips: moe_layers * experts_per_token * d_model * dispatch_bytes
                * (n_chips - 1) / n_chips,
                "the experts' outputs come back: the combine sends as many elements as the "
                "dispatch, at combine_bytes each."),
        Mistake(lambda d_model, experts_per_token, moe_layers, dispatch_bytes, combine_bytes,
                n_chips: moe_layers * experts_per_token * d_model
                * (dispatch_bytes + combine_bytes),
                "an expert on the token's own chip costs no link traffic: with experts spread "
                "evenly, a fraction (n - 1) / n of them are remote."),
        Mistake(lambda d_model, experts_per_token, moe_layers, dispatch_bytes, combine_bytes,
                n_chips: all_to_all_bytes(d_model, experts_per_token, moe_layers,
                                          dispatch_bytes, combine_bytes, n_chips) / n_chips,
                "the task asks for all the bytes ONE token sends; dividing by n gives a share "
                "per chip, which is a different quantity (it appears in the time per chip)."),
        Mistake(lambda d_model, experts_per_token, moe_layers, dispatch_bytes, combine_bytes,
                n_chips: 2 * all_to_all_bytes(d_model, experts_per_token, moe_layers,
                                              dispatch_bytes, combine_bytes, n_chips),
                "each byte crosses a link once: count what is sent, not also what is "
                "received."),
    ],
    random_cases=_random_a2a,
    n_random=30,
    rtol=1e-3,
)


def _net_not_per_chip(batch, context, n_chips, active_params, weight_bytes, kv_bytes_per_token,
                      network_bytes_per_token, peak_flops, bandwidth, link_bandwidth):
    c, m, net = _terms(batch, context, n_chips, active_params, weight_bytes,
                       kv_bytes_per_token, network_bytes_per_token, peak_flops, bandwidth,
                       link_bandwidth)
    return _largest(c, m, net * n_chips)


def _net_at_hbm(batch, context, n_chips, active_params, weight_bytes, kv_bytes_per_token,
                network_bytes_per_token, peak_flops, bandwidth, link_bandwidth):
    c, m, net = _terms(batch, context, n_chips, active_params, weight_bytes,
                       kv_bytes_per_token, network_bytes_per_token, peak_flops, bandwidth,
                       link_bandwidth)
    return _largest(c, m, net * link_bandwidth / bandwidth)


def _no_kv(batch, context, n_chips, active_params, weight_bytes, kv_bytes_per_token,
           network_bytes_per_token, peak_flops, bandwidth, link_bandwidth):
    return bound_resource(batch, 0, n_chips, active_params, weight_bytes, kv_bytes_per_token,
                          network_bytes_per_token, peak_flops, bandwidth, link_bandwidth)


def _one_flop(batch, context, n_chips, active_params, weight_bytes, kv_bytes_per_token,
              network_bytes_per_token, peak_flops, bandwidth, link_bandwidth):
    return bound_resource(batch, context, n_chips, active_params / 2, weight_bytes,
                          kv_bytes_per_token, network_bytes_per_token, peak_flops, bandwidth,
                          link_bandwidth)


def _ds(batch, context, n_chips, hw, n_bytes, link=None):
    kw = dict(hw)
    if link is not None:
        kw["link_bandwidth"] = link
    return {"batch": batch, "context": context, "n_chips": n_chips, "active_params": DS_ACTIVE,
            "weight_bytes": DS_WEIGHT_BYTES, "kv_bytes_per_token": DS_KV,
            "network_bytes_per_token": DS_A2A_BF16 * (n_bytes - 1) / n_bytes, **kw}


BOUND_RESOURCE = Task(
    name="bound_resource",
    reference=bound_resource,
    kind="label",
    labels=RESOURCES,
    cases=[
        # DeepSeek-V3, fp8 weights, bf16 cache and activations, expert parallel.
        # 8 H200s at B = 64, S = 4,096: the weight read (17.5 ms) dwarfs the rest.
        Case(_ds(64, 4096, 8, H200, 8), expected="memory",
             source="DeepSeek-V3 fp8 on 8 x H200 (datasheet): weights 17.5 ms"),
        # A 72-GPU NVL72 rack of B200s at B = 16,384 and a short context: compute 3.8 ms,
        # all-to-all 3.3 ms, memory 1.7 ms.
        Case(_ds(16384, 256, 72, B200, 72), expected="compute",
             source="DeepSeek-V3 on 72 x B200 (datasheet): compute 3.8 ms"),
        # Two racks, 144 GPUs, whose all-to-all crosses 50 GB/s scale-out links.
        Case(_ds(8192, 1024, 144, B200, 144, link=50e9), expected="network",
             source="DeepSeek-V3 over 144 GPUs at 50 GB/s: all-to-all 15 ms"),
        # Llama-3-70B, tensor parallel over 16 H100-class links at 450 GB/s, bf16: 78.6 MB of
        # all-reduce per token at S = 128 and B = 512.
        Case({"batch": 512, "context": 128, "n_chips": 16, "active_params": 70.55e9,
              "weight_bytes": 141.1e9, "kv_bytes_per_token": 327680,
              "network_bytes_per_token": 2 * 80 * 2 * 15 * 8192 * 2,
              "peak_flops": 989e12, "bandwidth": 3.35e12, "link_bandwidth": 450e9}),
    ],
    mistakes=[
        Mistake(_net_not_per_chip,
                "the n chips send at the same time, each its own tokens' share: the network "
                "time is B M_net / (n W_link), divided by n like compute and memory."),
        Mistake(_net_at_hbm,
                "the all-to-all crosses the links between chips: divide by link_bandwidth, "
                "not by the HBM bandwidth."),
        Mistake(_no_kv,
                "every sequence's KV cache is read each step too: memory is "
                "(weights + B S k_B) / (n W)."),
        Mistake(_one_flop,
                "a multiply-add is 2 FLOPs: compute is B 2 N_act / (n F)."),
    ],
    random_cases=_random_bound,
    n_random=40,
)


def _bandwidth_only(model_bytes, hbm_bytes, bandwidth, target_s):
    return math.ceil(model_bytes / (bandwidth * target_s))


def _capacity_only(model_bytes, hbm_bytes, bandwidth, target_s):
    return math.ceil(model_bytes / hbm_bytes)


def _rounded_down(model_bytes, hbm_bytes, bandwidth, target_s):
    return max(int(model_bytes / hbm_bytes), int(model_bytes / (bandwidth * target_s)))


def _summed(model_bytes, hbm_bytes, bandwidth, target_s):
    return _capacity_only(model_bytes, hbm_bytes, bandwidth, target_s) \
        + _bandwidth_only(model_bytes, hbm_bytes, bandwidth, target_s)


CHIPS_NEEDED = Task(
    name="chips_needed",
    reference=chips_needed,
    kind="integer",
    cases=[
        # DeepSeek-V3 in fp8 (671 GB) on H200s: 5 chips hold it, but a 20 ms step needs 7;
        # the lecture's 8 x H200 gives 17.5 ms.
        Case({"model_bytes": DS_WEIGHT_BYTES, "hbm_bytes": H200_HBM, "bandwidth": 4.8e12,
              "target_s": 0.020}, expected=7,
             source="DeepSeek-V3 fp8 on H200s (datasheet): 671 GB / (4.8 TB/s x 20 ms)"),
        Case({"model_bytes": DS_WEIGHT_BYTES, "hbm_bytes": H200_HBM, "bandwidth": 4.8e12,
              "target_s": 0.050}, expected=5,
             source="DeepSeek-V3 fp8 on H200s: at 50 ms, memory sets it"),
        # A 1.5 ms step on B200s needs 59 of them: one 72-GPU rack, not an 8-GPU server.
        Case({"model_bytes": DS_WEIGHT_BYTES, "hbm_bytes": B200_HBM, "bandwidth": 7.7e12,
              "target_s": 0.0015}, expected=59,
             source="DeepSeek-V3 fp8 on B200s (datasheet): 1.5 ms needs 59"),
        # Llama-3-70B in bf16 on H100s at 30 ms: both needs round up to 2.
        Case({"model_bytes": 141.1e9, "hbm_bytes": H100_HBM, "bandwidth": 3.35e12,
              "target_s": 0.030}),
    ],
    mistakes=[
        Mistake(_bandwidth_only,
                "the bytes must also fit: n chips hold n M_HBM bytes, so n >= M / M_HBM as "
                "well."),
        Mistake(_capacity_only,
                "fitting is not enough: n chips read M bytes in M / (n W), so meeting the "
                "target needs n >= M / (W t) as well."),
        Mistake(_rounded_down,
                "round UP: 6.99 chips' worth of bandwidth is 7 chips. int() rounds down."),
        Mistake(_summed,
                "the same chips store the bytes and read them: take the larger of the two "
                "counts, not their sum."),
    ],
    random_cases=_random_chips,
    n_random=40,
)


def _stored_for_both(stored_bytes, read_bytes, hbm_bytes, bandwidth, target_s):
    return capacity_or_bandwidth(stored_bytes, stored_bytes, hbm_bytes, bandwidth, target_s)


def _rounded_counts(stored_bytes, read_bytes, hbm_bytes, bandwidth, target_s):
    capacity = math.ceil(stored_bytes / hbm_bytes)
    return "capacity" if capacity > math.ceil(read_bytes / (bandwidth * target_s)) \
        else "bandwidth"


def _reversed_limit(stored_bytes, read_bytes, hbm_bytes, bandwidth, target_s):
    return "bandwidth" if capacity_or_bandwidth(stored_bytes, read_bytes, hbm_bytes, bandwidth,
                                                target_s) == "capacity" else "capacity"


CAPACITY_OR_BANDWIDTH = Task(
    name="capacity_or_bandwidth",
    reference=capacity_or_bandwidth,
    kind="label",
    labels=LIMITS,
    cases=[
        # A step that reads everything it stores is bandwidth-limited when the target is below
        # the drain time M_HBM / W: 141 GB / 4.8 TB/s = 29 ms on an H200.
        Case({"stored_bytes": DS_WEIGHT_BYTES, "read_bytes": DS_WEIGHT_BYTES,
              "hbm_bytes": H200_HBM, "bandwidth": 4.8e12, "target_s": 0.020},
             expected="bandwidth", source="H200 datasheet: drain time 29 ms > 20 ms"),
        Case({"stored_bytes": DS_WEIGHT_BYTES, "read_bytes": DS_WEIGHT_BYTES,
              "hbm_bytes": H200_HBM, "bandwidth": 4.8e12, "target_s": 0.050},
             expected="capacity", source="H200 datasheet: drain time 29 ms < 50 ms"),
        # DeepSeek-V3 at batch 1 reads only the experts one token uses (36.6 GB in fp8).
        Case({"stored_bytes": DS_WEIGHT_BYTES, "read_bytes": 36.6e9, "hbm_bytes": H200_HBM,
              "bandwidth": 4.8e12, "target_s": 0.005}, expected="capacity",
             source="DeepSeek-V3 at batch 1: 37 GB read of 671 GB stored"),
        # Llama-3-70B on H100s: drain time 80 GB / 3.35 TB/s = 23.9 ms.
        Case({"stored_bytes": 141.1e9, "read_bytes": 141.1e9, "hbm_bytes": H100_HBM,
              "bandwidth": 3.35e12, "target_s": 0.025}),
    ],
    mistakes=[
        Mistake(_stored_for_both,
                "a step reads read_bytes, which can be far less than it stores: an MoE at "
                "small batch reads only the experts its tokens use."),
        Mistake(_rounded_counts,
                "compare the two requirements before rounding them to whole chips: 1.76 and "
                "1.69 chips both round to 2, yet capacity is the larger need."),
        Mistake(_reversed_limit,
                "the other way round: the requirement that needs MORE chips is the limit. "
                "Compare M_stored / M_HBM with M_read / (W t)."),
    ],
    random_cases=_random_limit,
    n_random=40,
)


def _kv_over_stages(weight_bytes, kv_bytes_per_sequence, micro_batch, chips_per_stage, stages):
    return pipeline_bytes_per_chip(weight_bytes, kv_bytes_per_sequence / stages, micro_batch,
                                   chips_per_stage, stages)


def _weights_not_split(weight_bytes, kv_bytes_per_sequence, micro_batch, chips_per_stage,
                       stages):
    return pipeline_bytes_per_chip(weight_bytes * stages, kv_bytes_per_sequence, micro_batch,
                                   chips_per_stage, stages)


def _all_caches(weight_bytes, kv_bytes_per_sequence, micro_batch, chips_per_stage, stages):
    return pipeline_bytes_per_chip(weight_bytes, kv_bytes_per_sequence * stages, micro_batch,
                                   chips_per_stage, stages)


def _kv_not_split(weight_bytes, kv_bytes_per_sequence, micro_batch, chips_per_stage, stages):
    return weight_bytes / (chips_per_stage * stages) + micro_batch * kv_bytes_per_sequence


# DeepSeek-V3 at 32,768 tokens of context: 32,768 x 70,272 bytes of bf16 cache per sequence.
DS_KV_32K = 32768 * DS_KV

PIPELINE_BYTES_PER_CHIP = Task(
    name="pipeline_bytes_per_chip",
    reference=pipeline_bytes_per_chip,
    cases=[
        # DeepSeek-V3 fp8 on stages of 8 H200s, micro-batches of 198 sequences at 32K: one stage
        # holds 140.9 GB per chip (all of an H200's 141 GB); four stages free only the weights.
        Case({"weight_bytes": DS_WEIGHT_BYTES, "kv_bytes_per_sequence": DS_KV_32K,
              "micro_batch": 198, "chips_per_stage": 8, "stages": 1}, expected=140.9e9,
             rtol=2e-3, source="DeepSeek-V3 on 8 x H200: 83.9 GB weights + 57.0 GB cache"),
        Case({"weight_bytes": DS_WEIGHT_BYTES, "kv_bytes_per_sequence": DS_KV_32K,
              "micro_batch": 198, "chips_per_stage": 8, "stages": 4}, expected=77.9e9,
             rtol=2e-3, source="R. Pope's pipeline memory per GPU (Dwarkesh, 2026)"),
        Case({"weight_bytes": DS_WEIGHT_BYTES, "kv_bytes_per_sequence": DS_KV_32K,
              "micro_batch": 64, "chips_per_stage": 8, "stages": 8}),
    ],
    mistakes=[
        Mistake(_kv_over_stages,
                "the cache does not shrink with more stages: `stages` micro-batches are in "
                "flight to keep the stages busy, and a stage holds its 1/stages share of "
                "every one of their caches, one micro-batch's worth in all."),
        Mistake(_weights_not_split,
                "a stage stores only its own share of the layers: the weights per chip are "
                "weight_bytes / (chips_per_stage x stages)."),
        Mistake(_all_caches,
                "a stage holds the cache of its own layers only: a 1/stages share of each "
                "sequence's cache, for the `stages` micro-batches in flight."),
        Mistake(_kv_not_split,
                "the chips of a stage split its cache between them: divide the cache by "
                "chips_per_stage."),
    ],
    random_cases=_random_pipeline,
    n_random=30,
    rtol=1e-3,
)

TASKS = [ALL_TO_ALL_BYTES, BOUND_RESOURCE, CHIPS_NEEDED, CAPACITY_OR_BANDWIDTH,
         PIPELINE_BYTES_PER_CHIP]
SOLUTIONS: dict[str, Callable[..., object]] = {t.name: t.reference for t in TASKS}

#: The worked example of the page: not a task, never counted in the score.
EXAMPLE = Task(
    name="latency_floor",
    reference=latency_floor,
    cases=[Case({"weight_bytes": DS_WEIGHT_BYTES, "n_chips": 8, "bandwidth": 4.8e12},
                expected=17.47e-3, rtol=2e-3,
                source="DeepSeek-V3 fp8 on 8 x H200: the lecture's ~17 ms")],
    mistakes=[
        Mistake(lambda weight_bytes, n_chips, bandwidth: weight_bytes / bandwidth,
                "each of the n chips reads its own 1/n of the weights at the same time: "
                "divide by n W."),
        Mistake(lambda weight_bytes, n_chips, bandwidth: n_chips * weight_bytes / bandwidth,
                "more chips make the step shorter, not longer: divide by n."),
    ],
    rtol=1e-3,
)


def check_all_to_all_bytes(fn: Callable[..., float] | None = None) -> CheckResult:
    """Check ``all_to_all_bytes(d_model, experts_per_token, moe_layers, dispatch_bytes,
    combine_bytes, n_chips)``."""
    return report(run_task(EXERCISE, ALL_TO_ALL_BYTES, fn))


def check_bound_resource(fn: Callable[..., str] | None = None) -> CheckResult:
    """Check ``bound_resource(batch, context, n_chips, active_params, weight_bytes,
    kv_bytes_per_token, network_bytes_per_token, peak_flops, bandwidth, link_bandwidth)``."""
    return report(run_task(EXERCISE, BOUND_RESOURCE, fn))


def check_chips_needed(fn: Callable[..., int] | None = None) -> CheckResult:
    """Check ``chips_needed(model_bytes, hbm_bytes, bandwidth, target_s)``."""
    return report(run_task(EXERCISE, CHIPS_NEEDED, fn))


def check_capacity_or_bandwidth(fn: Callable[..., str] | None = None) -> CheckResult:
    """Check ``capacity_or_bandwidth(stored_bytes, read_bytes, hbm_bytes, bandwidth,
    target_s)``."""
    return report(run_task(EXERCISE, CAPACITY_OR_BANDWIDTH, fn))


def check_pipeline_bytes_per_chip(fn: Callable[..., float] | None = None) -> CheckResult:
    """Check ``pipeline_bytes_per_chip(weight_bytes, kv_bytes_per_sequence, micro_batch,
    chips_per_stage, stages)``."""
    return report(run_task(EXERCISE, PIPELINE_BYTES_PER_CHIP, fn))


def check_example(fn: Callable[..., float]) -> CheckResult:
    """The page's worked example: check ``latency_floor`` without counting it."""
    return run_example(EXERCISE, EXAMPLE, fn)


def score() -> tuple[int, int]:
    """Print the reader's score for this exercise: tasks passed out of tasks."""
    return _score(EXERCISE, TASKS)
