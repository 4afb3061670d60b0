"""Checks for ``exercises/12_memory_hierarchy``: the throughput of a server whose steps read all of
HBM, the cheapest tier to hold a cached prefix, whether a cache hit beats recomputing, and the
tokens of KV cache a weights-in-SRAM design has room for.

Symbols: ``C`` capacity (bytes), ``W`` bandwidth (bytes/s), ``p`` price of a device ($/hour),
``T`` hold time (s), ``n`` bytes, ``N`` parameters, ``b_w`` bytes per weight, ``k_B`` KV bytes per
token.
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

EXERCISE = "12_memory_hierarchy"
TIER_KINDS = ("hbm", "dram", "flash", "disk")
VERDICTS = ("hit", "recompute")
GiB = 2**30

# Datasheet and list-price numbers (tokenmath.tiers has the sources): one GPU's share of an
# H100 server. HBM: 80 GB at 3.35 TB/s, $2 per H100-hour (Epoch AI, arXiv 2506.04645). Host
# DRAM: 2 TB / 8 GPUs over PCIe Gen5 x16 (64 GB/s each way), Google Cloud memory at $0.004237 per
# GiB-hour. Flash: a 3.84 TB NVMe drive at 6.4 GB/s, Google Cloud Local SSD at $0.08 per
# GiB-month. Disk: a 20 TB Seagate Exos X20 at 285 MB/s, standard persistent disk at $0.04 per
# GiB-month.
def _sig(x: float, digits: int = 4) -> float:
    """``x`` rounded to ``digits`` significant figures (short numbers in the messages)."""
    return float(f"{x:.{digits}g}")


SERVER_TIERS = (
    ("hbm", 80e9, 3.35e12, 2.0),
    ("dram", 256e9, 64e9, _sig(0.004237 * 256e9 / GiB)),  # $1.010 per hour
    ("flash", 3.84e12, 6.4e9, _sig(0.08 * 3.84e12 / GiB / 730)),  # $0.3919
    ("disk", 20e12, 285e6, _sig(0.04 * 20e12 / GiB / 730)),  # $1.021
)
TIER = {t[0]: t for t in SERVER_TIERS}
# Llama-3-70B's 32,768-token prefix: 32,768 x 327,680 bytes of bf16 KV; its prefill on 8 H100s
# at 50% MFU takes 1.507 s of the server, 12.06 H100-seconds (tokenmath.tiers.prefix_reload).
PREFIX_70B = {"prefix_bytes": 32768 * 327680, "recompute_chip_s": 12.057,
              "chip_price_per_hour": 2.0}


# Reference solutions -------------------------------------------------------------------------


def full_memory_throughput(hbm_bytes: float, bandwidth: float, weight_bytes: float,
                           kv_bytes_per_sequence: float) -> float:
    """Tokens/s of memory-bound decode at the largest batch that fits:
    ``B = floor((C - N b_w) / kv)``, step ``(N b_w + B kv) / W``, throughput ``B / step``."""
    batch = math.floor((hbm_bytes - weight_bytes) / kv_bytes_per_sequence)
    while batch > 0 and weight_bytes + batch * kv_bytes_per_sequence > hbm_bytes:
        batch -= 1
    step = (weight_bytes + batch * kv_bytes_per_sequence) / bandwidth
    return batch / step


def _cost_per_byte(tier: tuple, hold_s: float) -> float:
    _, capacity, bandwidth, price = tier
    return price / 3600 * max(hold_s / capacity, 1 / bandwidth)


def cheapest_tier(hold_s: float, tiers: tuple) -> str:
    """The name of the tier where holding a byte for ``hold_s`` and reading it back once costs
    least: minimum of ``p / 3600 * max(T / C, 1 / W)`` over ``(name, C, W, p)`` tuples."""
    return min(tiers, key=lambda t: _cost_per_byte(t, hold_s))[0]


def hit_or_recompute(prefix_bytes: float, recompute_chip_s: float, chip_price_per_hour: float,
                     hold_s: float, capacity_bytes: float, bandwidth: float,
                     price_per_hour: float) -> str:
    """``"hit"`` if holding the prefix (``n p / 3600 * max(T / C, 1 / W)``) costs less than
    recomputing it (``recompute_chip_s * chip_price / 3600``), else ``"recompute"``."""
    hold = prefix_bytes * price_per_hour / 3600 * max(hold_s / capacity_bytes, 1 / bandwidth)
    recompute = recompute_chip_s * chip_price_per_hour / 3600
    return "hit" if hold < recompute else "recompute"


def sram_kv_tokens(sram_bytes_per_chip: float, n_chips: int, params: float,
                   bytes_per_weight: float, kv_bytes_per_token: float) -> int:
    """Tokens of KV cache in the SRAM the weights leave free on ``n`` chips:
    ``floor((n S - N b_w) / k_B)``, 0 when the weights do not fit."""
    free = n_chips * sram_bytes_per_chip - params * bytes_per_weight
    if free <= 0:
        return 0
    tokens = math.floor(free / kv_bytes_per_token)
    while tokens > 0 and tokens * kv_bytes_per_token > free:
        tokens -= 1
    return tokens


def drain_time_ms(capacity_bytes: float, bandwidth: float) -> float:
    """The worked example (not graded): ``C / W`` in milliseconds."""
    return capacity_bytes / bandwidth * 1e3


# Random inputs -------------------------------------------------------------------------------


def _random_full_memory(rng: random.Random) -> dict[str, float]:
    hbm = rng.choice([16e9, 24e9, 40e9, 80e9, 141e9, 192e9]) * rng.choice([1, 2, 4, 8])
    weights = hbm * rng.uniform(0.05, 0.7)
    kv = (hbm - weights) / rng.uniform(1.2, 300)  # at least one sequence fits
    return {"hbm_bytes": hbm, "bandwidth": hbm / log_uniform(rng, 0.015, 0.08),
            "weight_bytes": weights, "kv_bytes_per_sequence": kv}


def _random_tiers(rng: random.Random) -> tuple:
    hbm_c = rng.choice([16e9, 40e9, 80e9, 141e9, 192e9])
    dram_c = rng.choice([64e9, 128e9, 256e9, 512e9])
    flash_c = rng.choice([1.92e12, 3.84e12, 7.68e12, 15.36e12])
    disk_c = rng.choice([8e12, 12e12, 16e12, 20e12, 24e12])
    return (
        ("hbm", hbm_c, _sig(hbm_c / log_uniform(rng, 0.015, 0.05), 3),
         round(log_uniform(rng, 0.5, 5), 2)),
        ("dram", dram_c, rng.choice([16e9, 32e9, 64e9]),
         _sig(log_uniform(rng, 0.002, 0.006) * dram_c / GiB)),
        ("flash", flash_c, _sig(log_uniform(rng, 2e9, 14e9), 3),
         _sig(log_uniform(rng, 0.04, 0.12) * flash_c / GiB / 730)),
        ("disk", disk_c, _sig(log_uniform(rng, 150e6, 300e6), 3),
         _sig(log_uniform(rng, 0.01, 0.05) * disk_c / GiB / 730)),
    )


def _random_cheapest(rng: random.Random) -> dict[str, object]:
    while True:
        tiers = _random_tiers(rng)
        hold = log_uniform(rng, 1e-3, 1e6)
        costs = sorted(_cost_per_byte(t, hold) for t in tiers)
        if costs[1] > 1.1 * costs[0]:  # no near ties
            return {"hold_s": hold, "tiers": tiers}


def _random_hit(rng: random.Random) -> dict[str, float]:
    while True:
        _, capacity, bandwidth, price = rng.choice(_random_tiers(rng))
        case = {"prefix_bytes": log_uniform(rng, 1e8, 3e10),
                "recompute_chip_s": log_uniform(rng, 0.05, 50),
                "chip_price_per_hour": round(log_uniform(rng, 1, 6), 2),
                "hold_s": log_uniform(rng, 1e-2, 1e5),
                "capacity_bytes": capacity, "bandwidth": bandwidth, "price_per_hour": price}
        hold = case["prefix_bytes"] * price / 3600 * max(case["hold_s"] / capacity,
                                                         1 / bandwidth)
        recompute = case["recompute_chip_s"] * case["chip_price_per_hour"] / 3600
        if max(hold, recompute) > 1.2 * min(hold, recompute):  # no near ties
            return case


def _random_sram(rng: random.Random) -> dict[str, float]:
    sram = rng.choice([230e6, 256e6, 500e6, 44e9, 48e9])
    params = log_uniform(rng, 1e9, 4e11)
    b_w = rng.choice([0.5, 1, 2])
    need = params * b_w / sram
    n = max(1, round(need * rng.uniform(0.7, 2.5)))  # about one case in five does not fit
    return {"sram_bytes_per_chip": sram, "n_chips": n, "params": params,
            "bytes_per_weight": b_w,
            "kv_bytes_per_token": rng.choice([32768, 70272, 131072, 163840, 327680])}


# Tasks ---------------------------------------------------------------------------------------


def _fractional(hbm_bytes, bandwidth, weight_bytes, kv_bytes_per_sequence):
    batch = (hbm_bytes - weight_bytes) / kv_bytes_per_sequence
    return batch / ((weight_bytes + batch * kv_bytes_per_sequence) / bandwidth)


def _whole_memory_for_kv(hbm_bytes, bandwidth, weight_bytes, kv_bytes_per_sequence):
    batch = math.floor(hbm_bytes / kv_bytes_per_sequence)
    return batch / ((weight_bytes + batch * kv_bytes_per_sequence) / bandwidth)


def _weights_only(hbm_bytes, bandwidth, weight_bytes, kv_bytes_per_sequence):
    batch = math.floor((hbm_bytes - weight_bytes) / kv_bytes_per_sequence)
    return batch / (weight_bytes / bandwidth)


FULL_MEMORY_THROUGHPUT = Task(
    name="full_memory_throughput",
    reference=full_memory_throughput,
    cases=[
        # Llama-3-70B in bf16 (141.1 GB) on 8 H200s (1,128 GB, 38.4 TB/s) at 8,192 tokens
        # (2.684 GB of KV per sequence): 367 sequences, a 29.3 ms step, the drain time.
        Case({"hbm_bytes": 1128e9, "bandwidth": 38.4e12, "weight_bytes": 141.107e9,
              "kv_bytes_per_sequence": 8192 * 327680}, expected=12513, rtol=1e-3,
             source="Llama-3-70B, 8 x H200 (datasheet), S = 8,192: 367 sequences per 29.3 ms"),
        # Llama-3-8B (16.06 GB) on one H200 at 32,768 tokens (4.295 GB per sequence).
        Case({"hbm_bytes": 141e9, "bandwidth": 4.8e12, "weight_bytes": 16.0605e9,
              "kv_bytes_per_sequence": 32768 * 131072}),
        # A batch of exactly one: the floor decides.
        Case({"hbm_bytes": 80e9, "bandwidth": 3.35e12, "weight_bytes": 60e9,
              "kv_bytes_per_sequence": 15e9}),
    ],
    mistakes=[
        Mistake(_fractional,
                "a batch is a whole number of sequences: round (C - N b_w) / kv DOWN. A "
                "fractional sequence makes the step read all of memory, which it cannot."),
        Mistake(_whole_memory_for_kv,
                "the weights live in HBM too: only C - N b_w is left for KV caches."),
        Mistake(_weights_only,
                "every sequence's KV cache is read in every step: the step reads the weights "
                "PLUS B caches, about the whole memory (its drain time)."),
    ],
    random_cases=_random_full_memory,
    n_random=30,
    rtol=1e-3,
)


def _by_capacity_price(hold_s, tiers):
    return min(tiers, key=lambda t: t[3] / t[1])[0]


def _by_drain(hold_s, tiers):
    return min(tiers, key=lambda t: abs(math.log(t[1] / t[2] / hold_s)))[0]


def _fastest(hold_s, tiers):
    return max(tiers, key=lambda t: t[2])[0]


def _summed(hold_s, tiers):
    return min(tiers, key=lambda t: t[3] * (hold_s / t[1] + 1 / t[2]))[0]


CHEAPEST_TIER = Task(
    name="cheapest_tier",
    reference=cheapest_tier,
    kind="label",
    labels=TIER_KINDS,
    cases=[
        Case({"hold_s": 0.1, "tiers": SERVER_TIERS}, expected="hbm",
             source="H100 server tiers: a tenth of a second stays in HBM"),
        Case({"hold_s": 5.0, "tiers": SERVER_TIERS}, expected="dram",
             source="H100 server tiers: 5 s, host DRAM (drain time 4 s)"),
        Case({"hold_s": 300.0, "tiers": SERVER_TIERS}, expected="flash",
             source="a 5-minute prompt-cache TTL: flash (drain time 10 min)"),
        Case({"hold_s": 3600.0, "tiers": SERVER_TIERS}, expected="flash",
             source="a 1-hour prompt-cache TTL: still flash"),
        Case({"hold_s": 86400.0, "tiers": SERVER_TIERS}, expected="disk",
             source="a day: disk (drain time 19.5 h)"),
    ],
    mistakes=[
        Mistake(_by_capacity_price,
                "the cheapest dollars per GB-hour wins only for long holds: below its drain "
                "time a tier is paid for the bandwidth that reads the bytes back, so the cost "
                "of a byte is p max(T / C, 1 / W)."),
        Mistake(_fastest,
                "the fastest tier is the cheapest only for short holds: holding a byte in it "
                "for T seconds costs p T / C, and its capacity is the dearest."),
        Mistake(_by_drain,
                "matching the drain time to the hold time is a rule of thumb, not the answer: "
                "compare the costs p max(T / C, 1 / W)."),
        Mistake(_summed,
                "a device is paid for whichever runs out first, capacity or bandwidth: "
                "max(T / C, 1 / W), not their sum."),
    ],
    random_cases=_random_cheapest,
    n_random=40,
)


def _capacity_only(prefix_bytes, recompute_chip_s, chip_price_per_hour, hold_s,
                   capacity_bytes, bandwidth, price_per_hour):
    hold = prefix_bytes * price_per_hour / 3600 * hold_s / capacity_bytes
    return "hit" if hold < recompute_chip_s * chip_price_per_hour / 3600 else "recompute"


def _whole_device(prefix_bytes, recompute_chip_s, chip_price_per_hour, hold_s,
                  capacity_bytes, bandwidth, price_per_hour):
    hold = price_per_hour / 3600 * max(hold_s, capacity_bytes / bandwidth)
    return "hit" if hold < recompute_chip_s * chip_price_per_hour / 3600 else "recompute"


def _compare_times(prefix_bytes, recompute_chip_s, chip_price_per_hour, hold_s,
                   capacity_bytes, bandwidth, price_per_hour):
    return "hit" if prefix_bytes / bandwidth < recompute_chip_s else "recompute"


HIT_OR_RECOMPUTE = Task(
    name="hit_or_recompute",
    reference=hit_or_recompute,
    kind="label",
    labels=VERDICTS,
    cases=[
        Case({**PREFIX_70B, "hold_s": 300.0, "capacity_bytes": TIER["flash"][1],
              "bandwidth": TIER["flash"][2], "price_per_hour": TIER["flash"][3]},
             expected="hit", source="Llama-3-70B 32K prefix, 5 min on flash: 2.7% of a prefill"),
        Case({**PREFIX_70B, "hold_s": 300.0, "capacity_bytes": TIER["hbm"][1],
              "bandwidth": TIER["hbm"][2], "price_per_hour": TIER["hbm"][3]},
             expected="recompute", source="the same prefix, 5 min in HBM: 3.3 prefills"),
        Case({**PREFIX_70B, "hold_s": 300.0, "capacity_bytes": TIER["disk"][1],
              "bandwidth": TIER["disk"][2], "price_per_hour": TIER["disk"][3]},
             expected="recompute",
             source="the same prefix, 5 min on one hard disk: its read-back costs 1.6 prefills"),
        Case({**PREFIX_70B, "hold_s": 3600.0, "capacity_bytes": TIER["dram"][1],
              "bandwidth": TIER["dram"][2], "price_per_hour": TIER["dram"][3]},
             expected="recompute", source="the same prefix, 1 h in host DRAM: 6.3 prefills"),
        Case({**PREFIX_70B, "hold_s": 300.0, "capacity_bytes": TIER["dram"][1],
              "bandwidth": TIER["dram"][2], "price_per_hour": TIER["dram"][3]},
             expected="hit", source="the same prefix, 5 min in host DRAM: half a prefill"),
    ],
    mistakes=[
        Mistake(_capacity_only,
                "a short hold on a slow tier still pays for the bandwidth that reads the "
                "prefix back: the cost is n p max(T / C, 1 / W), not n p T / C."),
        Mistake(_whole_device,
                "the prefix takes a share n / C of the device, not all of it: multiply the "
                "device's price by n / C."),
        Mistake(_compare_times,
                "compare dollars, not seconds: a fast reload can still cost more to hold "
                "than the prefill it saves."),
    ],
    random_cases=_random_hit,
    n_random=40,
)


def _no_weights(sram_bytes_per_chip, n_chips, params, bytes_per_weight, kv_bytes_per_token):
    return math.floor(n_chips * sram_bytes_per_chip / kv_bytes_per_token)


def _one_chip(sram_bytes_per_chip, n_chips, params, bytes_per_weight, kv_bytes_per_token):
    return sram_kv_tokens(sram_bytes_per_chip, 1, params, bytes_per_weight, kv_bytes_per_token)


def _negative(sram_bytes_per_chip, n_chips, params, bytes_per_weight, kv_bytes_per_token):
    free = n_chips * sram_bytes_per_chip - params * bytes_per_weight
    return math.floor(free / kv_bytes_per_token)


def _params_as_bytes(sram_bytes_per_chip, n_chips, params, bytes_per_weight,
                     kv_bytes_per_token):
    return sram_kv_tokens(sram_bytes_per_chip, n_chips, params, 1, kv_bytes_per_token)


SRAM_KV_TOKENS = Task(
    name="sram_kv_tokens",
    reference=sram_kv_tokens,
    kind="integer",
    cases=[
        # One Cerebras WSE-3 (44 GB of SRAM) holding Llama-3-8B in bf16 (8.03e9 parameters),
        # bf16 KV of 131,072 bytes per token: 213,161 tokens, 26 sequences of 8,192.
        Case({"sram_bytes_per_chip": 44e9, "n_chips": 1, "params": 8.030261248e9,
              "bytes_per_weight": 2, "kv_bytes_per_token": 131072}, expected=213161,
             source="WSE-3 (44 GB SRAM, Cerebras) with Llama-3-8B bf16"),
        # Llama-3-70B (70.55e9 parameters) in int8 on Groq chips (230 MB of SRAM each): 300
        # chips hold 69 GB, not enough; 400 hold 92 GB.
        Case({"sram_bytes_per_chip": 230e6, "n_chips": 300, "params": 70.553706496e9,
              "bytes_per_weight": 1, "kv_bytes_per_token": 327680}, expected=0,
             source="300 Groq chips (230 MB each) cannot hold Llama-3-70B in int8"),
        Case({"sram_bytes_per_chip": 230e6, "n_chips": 400, "params": 70.553706496e9,
              "bytes_per_weight": 1, "kv_bytes_per_token": 327680}),
    ],
    mistakes=[
        Mistake(_no_weights,
                "the weights sit in the same SRAM: only n S - N b_w is left for the KV cache."),
        Mistake(_one_chip,
                "the model is spread over n_chips chips, and so is the cache: their SRAM adds "
                "up to n S."),
        Mistake(_negative,
                "when the weights do not fit, no KV cache fits either: return 0, not a "
                "negative count."),
        Mistake(_params_as_bytes,
                "parameters are not bytes: the weights take N b_w bytes (b_w = 2 for bf16, "
                "0.5 for int4)."),
    ],
    random_cases=_random_sram,
    n_random=40,
)

TASKS = [FULL_MEMORY_THROUGHPUT, CHEAPEST_TIER, HIT_OR_RECOMPUTE, SRAM_KV_TOKENS]
SOLUTIONS: dict[str, Callable[..., object]] = {t.name: t.reference for t in TASKS}

#: The worked example of the page: not a task, never counted in the score.
EXAMPLE = Task(
    name="drain_time_ms",
    reference=drain_time_ms,
    cases=[Case({"capacity_bytes": 141e9, "bandwidth": 4.8e12}, expected=29.375,
                source="H200 datasheet: 141 GB at 4.8 TB/s"),
           Case({"capacity_bytes": 288e9, "bandwidth": 20e12}, expected=14.4,
                source="Rubin in Pope's lecture: 288 GB at 20 TB/s")],
    mistakes=[
        Mistake(lambda capacity_bytes, bandwidth: bandwidth / capacity_bytes * 1e3,
                "upside down: the time to read C bytes at W bytes per second is C / W."),
        Mistake(lambda capacity_bytes, bandwidth: capacity_bytes / bandwidth,
                "that is seconds; the task asks for milliseconds (multiply by 1,000)."),
    ],
    rtol=1e-3,
)


def check_full_memory_throughput(fn: Callable[..., float] | None = None) -> CheckResult:
    """Check ``full_memory_throughput(hbm_bytes, bandwidth, weight_bytes,
    kv_bytes_per_sequence)``."""
    return report(run_task(EXERCISE, FULL_MEMORY_THROUGHPUT, fn))


def check_cheapest_tier(fn: Callable[..., str] | None = None) -> CheckResult:
    """Check ``cheapest_tier(hold_s, tiers)``."""
    return report(run_task(EXERCISE, CHEAPEST_TIER, fn))


def check_hit_or_recompute(fn: Callable[..., str] | None = None) -> CheckResult:
    """Check ``hit_or_recompute(prefix_bytes, recompute_chip_s, chip_price_per_hour, hold_s,
    capacity_bytes, bandwidth, price_per_hour)``."""
    return report(run_task(EXERCISE, HIT_OR_RECOMPUTE, fn))


def check_sram_kv_tokens(fn: Callable[..., int] | None = None) -> CheckResult:
    """Check ``sram_kv_tokens(sram_bytes_per_chip, n_chips, params, bytes_per_weight,
    kv_bytes_per_token)``."""
    return report(run_task(EXERCISE, SRAM_KV_TOKENS, fn))


def check_example(fn: Callable[..., float]) -> CheckResult:
    """The page's worked example: check ``drain_time_ms`` without counting it."""
    return run_example(EXERCISE, EXAMPLE, fn)


def score() -> tuple[int, int]:
    """Print the reader's score for this exercise: tasks passed out of tasks."""
    return _score(EXERCISE, TASKS)
