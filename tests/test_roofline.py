"""tokenmath.roofline: published cases, properties and validation.

Published cases come from the scaling book (https://jax-ml.github.io/scaling-book/), kipply's
"Transformer Inference Arithmetic" (https://kipp.ly/transformer-inference-arithmetic/) and
Databricks' "LLM Inference Performance Engineering: Best Practices"
(https://www.databricks.com/blog/llm-inference-performance-engineering-best-practices); the
others are derived by hand from datasheet numbers. Each test names its source.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tokenmath import hardware, models, roofline
from tokenmath.hardware import Accelerator
from tokenmath.models import ModelConfig
from tokenmath.roofline import (
    DecodeAt,
    balance_batch,
    critical_context,
    decode_step,
    fit_overhead,
    generation,
    max_batch,
    mbu,
    mfu,
    prefill,
    prefill_flops,
    step_time,
)

# The scaling-book pop-quiz chip (TPU v5e-like): 1.97e14 FLOP/s, 8.2e11 B/s per chip.
# https://jax-ml.github.io/scaling-book/inference/ and .../applied-inference/
QUIZ_CHIP = Accelerator(
    name="quiz-chip",
    flops={"bf16": 1.97e14, "int8": 1.97e14},
    hbm_bandwidth=8.2e11,
    hbm_bytes=16e9,
    source="https://jax-ml.github.io/scaling-book/inference/",
)


def rel(a: float, b: float) -> float:
    return abs(a - b) / abs(b)


# ----------------------------------------------------------------------------- published cases


def test_case1_h100_ridge_and_dense_balance_batch_295():
    """H100 SXM dense bf16 9.89e14 / 3.35e12 -> 295 FLOP/B (scaling book, "Rooflines" and
    "GPUs" chapters: https://jax-ml.github.io/scaling-book/roofline/).

    A dense model's balance batch at context 0 is F/W up to the embedding rows read per sequence.
    """
    h100 = hardware.get("h100")
    assert rel(h100.ridge("bf16"), 295) < 0.01
    b = balance_batch("llama-3-8b", "h100", 0)
    assert rel(b, 295) < 0.01
    # int8 weights computed in bf16 halve it (scaling book, "Rooflines": B_crit / 2).
    b8 = balance_batch("llama-3-8b", "h100", 0, weight_dtype="int8", compute_dtype="bf16")
    assert rel(b8, b / 2) < 1e-3
    # int8 weights with int8 compute keep it near F_int8 / (W / 1 byte) = 2 * 295 / 2 ... the ridge
    # in weights: 1979e12 / 3.35e12 = 591 FLOP/B over 1 byte/weight, i.e. B* ~ 295 again.
    b88 = balance_batch("llama-3-8b", "h100", 0, weight_dtype="int8", compute_dtype="int8")
    assert rel(b88, 295) < 0.01


def test_case2_a100_kipply_ridge_208():
    """A100 312e12 FLOP/s over kipply's effective 1.5e12 B/s -> 208 (kipply, "Transformer
    Inference Arithmetic", 2022, https://kipp.ly/transformer-inference-arithmetic/)."""
    a100 = Accelerator(
        name="A100-kipply", flops={"bf16": 312e12}, hbm_bandwidth=1.5e12, hbm_bytes=40e9
    )
    assert a100.ridge() == pytest.approx(208, rel=1e-12)
    assert rel(balance_batch("llama-3-70b", a100, 0), 208) < 1e-3


def test_case4_kv_bytes_llama3_70b_int8():
    """L=80, K=8, H=128, 1 byte -> 163,840 B per token (scaling book, "Serving LLaMA 3-70B on
    TPUs": https://jax-ml.github.io/scaling-book/applied-inference/)."""
    e = decode_step("llama-3-70b", "h100", 2, 1000, weight_dtype="int8", compute_dtype="bf16")
    assert e.kv_bytes == 2 * 1000 * 163_840


@pytest.mark.parametrize("batch, expected_s", [(4, 2.5e-3), (256, 21e-3)])
def test_case5_general_step_time(batch, expected_s):
    """30e9 int8 params on 16 chips of (1.97e14, 8.2e11), KV 100 kB/token at 8192 context:
    B=4 -> 2.5 ms, B=256 -> 21 ms within 5% (scaling book, "All About Transformer Inference"
    pop quiz: https://jax-ml.github.io/scaling-book/inference/).

    The book's formula keeps attention's KV reads out of the overlap
    (``kv + max(compute, weights)``): that is ``separate_kv=True``. The full-overlap roofline
    (``decode_step``'s convention) is a lower bound: the same at B=4, 13% lower (18.3 ms) at B=256.
    """
    flops = 2 * batch * 30e9
    weight_bytes = 30e9
    kv_bytes = batch * 8192 * 100e3
    t = step_time(flops, weight_bytes, kv_bytes, 1.97e14, 8.2e11, n_chips=16, separate_kv=True)
    assert rel(t, expected_s) < 0.05
    overlap = step_time(flops, weight_bytes, kv_bytes, 1.97e14, 8.2e11, n_chips=16)
    assert overlap <= t
    if batch == 256:
        assert rel(overlap, 18.27e-3) < 0.01


def test_case6_prefill_time_at_mfu():
    """70e9 params, 8192 tokens on 16 x 1.97e14 FLOP/s at MFU 0.4 -> 0.91 s within 1%
    (https://jax-ml.github.io/scaling-book/applied-inference/). A one-layer model with 70e9 matmul weights and a
    one-wide head keeps attention FLOPs negligible, as the book's 2 N T formula assumes."""
    m = ModelConfig(
        "70b-matmul",
        n_layers=1,
        d_model=8192,
        n_heads=1,
        n_kv_heads=1,
        head_dim=1,
        d_ff=2_848_307,
        vocab_size=2,
    )
    assert rel(m.flops_per_token(0), 2 * 70e9) < 1e-6
    e = prefill(m, QUIZ_CHIP, 8192, mfu=0.4, weight_dtype="int8", n_chips=16)
    assert e.bound == "compute"
    assert rel(e.time_s, 0.91) < 0.01
    assert e.tokens == 8192 and e.phase == "prefill"


def test_case7_mbu_databricks():
    """7B fp16 (14e9 B) per token in 14 ms on 2e12 B/s -> 50% MBU (Databricks, "LLM
    Inference Performance Engineering: Best Practices", 2023,
    https://www.databricks.com/blog/llm-inference-performance-engineering-best-practices)."""
    assert mbu(14e9, 14e-3, 2e12) == pytest.approx(0.5, rel=1e-12)


# ----------------------------------------------------------------------------- derived by hand


def test_llama3_8b_h100_batch_scaling():
    """Derived by hand: Llama-3-8B bf16 on H100 SXM. Weights 15.0 GB without the embedding;
    B=1 ctx 1k 4.5 ms, 221 tok/s; B=64 ctx 1k 23.6 GB, 7.0 ms memory vs 0.97 ms of 2N FLOPs (N without
    the input embedding),
    9.1k tok/s, 41x batch 1. Ours: 1.006 ms of FLOPs (+3.7%) because we also count the
    attention FLOPs (4 L S H h per token) that 2N leaves out."""
    one = decode_step("llama-3-8b", "h100", 1, 1024)
    b64 = decode_step("llama-3-8b", "h100", 64, 1024)
    assert rel(one.weight_bytes, 15.0e9) < 0.01
    assert rel(one.time_s, 4.5e-3) < 0.01
    assert rel(one.tokens_per_s, 221) < 0.01
    assert rel(b64.bytes, 23.6e9) < 0.01
    assert rel(b64.memory_s, 7.0e-3) < 0.01
    assert rel(b64.compute_s, 0.97e-3) < 0.05
    assert rel(b64.tokens_per_s, 9.1e3) < 0.01
    assert rel(b64.tokens_per_s / one.tokens_per_s, 41) < 0.01
    assert one.bound == b64.bound == "memory"


def test_deepseek_v3_latency_floor_8xh200():
    """671 GB (FP8 DeepSeek-V3, arXiv 2412.19437) on 8 x H200 at 4.8 TB/s -> about 17 ms per
    step once the batch touches every expert: 671e9 / (8 * 4.8e12). Ours: 17.45 ms (3%)."""
    e = decode_step("deepseek-v3", "h200", 4096, 0, weight_dtype="fp8", n_chips=8)
    assert rel(e.weight_s, 17e-3) < 0.05


@pytest.mark.parametrize("hw, dtype, expected", [("h100", "bf16", 5400), ("h200", "fp8", 3700)])
def test_deepseek_balance_batch(hw, dtype, expected):
    """B* = ridge x N_tot/N_act ~ 5,400 (H100 bf16) or ~3,700 (H200 fp8) for DeepSeek-V3
    (671B total, 37B active). Ours, with expected experts touched: 5,402 and 3,772 (2%)."""
    assert rel(balance_batch("deepseek-v3", hw, 0, weight_dtype=dtype), expected) < 0.02


@pytest.mark.parametrize("name, expected", [("llama-3-8b", 400), ("llama-3-70b", 1500)])
def test_kv_crossover_context(name, expected):
    """Large-B crossover L* = 2 N_act / (295 k_B) ~ 0.4K (8B), 1.5K (70B) tokens on an H100 in
    bf16 (derived by hand). Ours (with attention FLOPs): 393 and 1,477."""
    s = critical_context(name, "h100")
    assert rel(s, expected) < 0.03
    assert math.isfinite(balance_batch(name, "h100", int(s * 0.95)))
    assert balance_batch(name, "h100", int(s * 1.05)) == math.inf


def test_critical_context_deepseek_counts_mla_attention_flops():
    """DeepSeek-V3 (arXiv 2412.19437): 61 layers, 128 heads, latent d_c = 512 plus a RoPE key of
    64, KV (d_c + 64) * 61 * 2 B = 70,272 B/token in bf16. Decoding with the up-projections
    absorbed, each key costs 2 * 128 * 576 (scores) + 2 * 128 * 512 (values) FLOPs per layer, so
    S* = (f(0) / F) / (k_B / W - a L / F): about 19.5K tokens, not the 3.5K of 2N alone."""
    m, h100 = models.get("deepseek-v3"), hardware.get("h100")
    F, W = 989e12, 3.35e12
    k_b, a, L = 576 * 61 * 2, 2 * 128 * 576 + 2 * 128 * 512, 61
    assert m.kv_bytes_per_token("bf16") == k_b and m.attention_flops_per_key() == a
    f0 = m.flops_per_token(0)
    s = critical_context(m, h100)
    assert s == pytest.approx((f0 / F) / (k_b / W - a * L / F), rel=1e-6)
    assert 19_000 < s < 20_000
    assert f0 / F / (k_b / W) < 3_600  # without attention FLOPs


# ----------------------------------------------------------------------------- behaviour


def test_decode_step_formula_by_hand():
    m, hw = models.get("tiny"), hardware.get("h100")
    e = decode_step(m, hw, 3, 10, n_chips=2)
    assert e.flops == 3 * m.flops_per_token(10)
    assert e.weight_bytes == m.decode_weight_params(3) * 2
    assert e.kv_bytes == 3 * 10 * m.kv_bytes_per_token("bf16")
    assert e.compute_s == pytest.approx(e.flops / (2 * 989e12))
    assert e.memory_s == pytest.approx((e.weight_bytes + e.kv_bytes) / (2 * 3.35e12))
    assert e.time_s == max(e.compute_s, e.memory_s)
    assert e.tokens_per_s == pytest.approx(3 / e.time_s)
    assert (e.batch, e.tokens, e.context, e.n_chips, e.phase) == (3, 3, 10, 2, "decode")


def test_preset_names_and_objects_are_interchangeable():
    assert decode_step("llama-3-8b", "h100", 4, 128) == decode_step(
        models.get("llama-3-8b"), hardware.get("H100-SXM"), 4, 128
    )


def test_dtypes_default_and_override():
    e = decode_step("llama-3-8b", "h100", 8, 1024, weight_dtype="int8", compute_dtype="bf16")
    f = decode_step(
        "llama-3-8b", "h100", 8, 1024, weight_dtype="int8", kv_dtype="bf16", compute_dtype="bf16"
    )
    assert f.kv_bytes == 2 * e.kv_bytes
    assert e.compute_s == pytest.approx(e.flops / 989e12)


def test_balance_batch_brackets_the_crossover():
    for name, ctx in [
        ("llama-3-8b", 0),
        ("llama-3-70b", 512),
        ("mixtral-8x7b", 0),
        ("deepseek-v3", 1024),
    ]:
        b = balance_batch(name, "h100", ctx)
        lo, hi = (
            decode_step(name, "h100", math.floor(b), ctx),
            decode_step(name, "h100", math.ceil(b), ctx),
        )
        assert lo.bound == "memory" or lo.compute_s == pytest.approx(lo.memory_s)
        assert hi.bound == "compute" or hi.compute_s == pytest.approx(hi.memory_s)


def test_balance_batch_dense_matches_closed_form():
    """Dense: B* = (P0 b_w / W) / (f(S)/F - (d b_w + S k_B)/W)."""
    m, S = models.get("llama-2-7b"), 30
    F, W = 989e12, 3.35e12
    d = m.d_model
    p0 = m.decode_weight_params(1) - d
    expected = (p0 * 2 / W) / (m.flops_per_token(S) / F - (d * 2 + S * m.kv_bytes_per_token()) / W)
    assert expected > 295  # KV traffic raises the balance batch
    assert balance_batch(m, "h100", S) == pytest.approx(expected, rel=1e-9)


def test_balance_batch_moe_exceeds_dense_by_sparsity():
    """B* scales with N_tot / N_act. Mixtral (46.7B/12.9B, arXiv 2401.04088) sits near 295 x 3.6."""
    b = balance_batch("mixtral-8x7b", "h100", 0)
    assert 2.5 * 295 < b < 3.8 * 295


def test_balance_batch_is_inf_when_kv_dominates():
    assert balance_batch("llama-3-8b", "h100", 8192) == math.inf
    assert balance_batch("llama-3-8b", "h100", 8192, n_chips=4) == math.inf


def test_max_batch_by_hand():
    m = models.get("llama-3-8b")
    cap = 80e9
    expected = int((cap - m.param_count() * 2) // (1024 * m.kv_bytes_per_token()))
    assert max_batch(m, "h100", 1024) == expected
    assert max_batch("llama-3-405b", "h100", 1024) == 0  # 811 GB of weights on one 80 GB chip
    assert max_batch("llama-3-405b", "h100", 1024, n_chips=16) > 0
    assert max_batch(m, "h100", 1024, memory_fraction=0.5) < expected


def test_prefill_flops_is_the_exact_causal_sum():
    m = models.get("tiny")
    brute = sum(m.flops_per_token(i) for i in range(1, 51))
    assert prefill_flops(m, 50, batch=3) == pytest.approx(3 * brute, rel=1e-12)


def test_prefill_mfu_scales_compute_only():
    a = prefill("llama-3-8b", "h100", 2048)
    b = prefill("llama-3-8b", "h100", 2048, mfu=0.5)
    assert b.compute_s == pytest.approx(2 * a.compute_s)
    assert b.memory_s == a.memory_s
    assert a.bound == "compute"
    assert a.kv_bytes == 2048 * models.get("llama-3-8b").kv_bytes_per_token()


def test_generation_sums_decode_steps_exactly():
    m, hw = "llama-3-8b", "h100"
    g = generation(m, hw, 16, 100, 40, mfu=0.5)
    steps = [decode_step(m, hw, 16, 100 + j).time_s for j in range(1, 40)]
    assert g.decode_s == pytest.approx(sum(steps), rel=1e-12)
    assert g.ttft_s == prefill(m, hw, 100, batch=16, mfu=0.5).time_s
    assert g.mean_tpot_s == pytest.approx(sum(steps) / 39)
    assert g.total_s == pytest.approx(g.ttft_s + g.decode_s)
    assert g.tokens_per_s == pytest.approx(16 * 40 / g.total_s)
    one = generation(m, hw, 1, 10, 1)
    assert one.mean_tpot_s == 0.0 and one.total_s == one.ttft_s


def test_generation_long_output_is_fast():
    g = generation("llama-3-8b", "h100", 8, 1024, 100_000)
    assert g.mean_tpot_s > decode_step("llama-3-8b", "h100", 8, 1025).time_s


def test_mbu_mfu_take_estimates():
    e = decode_step("llama-3-8b", "h100", 1, 1024)
    assert mbu(e, e.time_s, 3.35e12) == pytest.approx(1.0)
    assert mfu(e, e.time_s, 989e12) == pytest.approx(e.compute_s / e.time_s)
    assert mfu(1e12, 1.0, 2e12) == 0.5


def test_estimate_properties():
    e = decode_step("llama-3-8b", "h100", 64, 1024)
    assert e.bytes == e.weight_bytes + e.kv_bytes
    assert e.intensity == pytest.approx(e.flops / e.bytes)
    assert e.serial_s == e.compute_s + e.memory_s
    assert e.time_per_token_s == pytest.approx(e.time_s / 64)
    assert e.serial_s <= 2 * e.time_s


def test_overhead_adds_a_fixed_cost_per_step():
    base = decode_step("llama-3-8b", "h200", 16, 2048)
    t0 = 2.1e-3
    e = decode_step("llama-3-8b", "h200", 16, 2048, overhead_s=t0)
    assert e.time_s == pytest.approx(max(e.compute_s, e.memory_s) + t0)
    assert e.time_s == pytest.approx(base.time_s + t0)
    assert e.bound == base.bound and e.overhead_s == t0 and base.overhead_s == 0.0
    assert e.tokens_per_s == pytest.approx(16 / e.time_s)
    assert e.serial_s == pytest.approx(e.compute_s + e.memory_s + t0)
    args = (e.flops, e.weight_bytes, e.kv_bytes, hardware.get("h200").flops["bf16"], 4.8e12)
    assert step_time(*args, overhead_s=t0) == pytest.approx(e.time_s)
    assert step_time(*args, separate_kv=True, overhead_s=t0) == pytest.approx(
        e.kv_s + max(e.compute_s, e.weight_s) + t0
    )
    for bad in (-1e-3, float("nan"), "1ms"):
        with pytest.raises(ValueError, match="overhead_s"):
            decode_step("llama-3-8b", "h200", 1, 512, overhead_s=bad)


def test_fit_overhead_is_the_mean_offset():
    assert fit_overhead([1.0, 2.0, 3.0], [1.5, 2.5, 3.5]) == pytest.approx(0.5)
    assert fit_overhead((2e-3,), (5e-3,)) == pytest.approx(3e-3)
    # least squares for a constant offset: the mean, not the median
    assert fit_overhead([1.0, 1.0, 1.0], [1.1, 1.2, 1.6]) == pytest.approx(0.3)
    assert fit_overhead([1.0], [1.0]) == 0.0


@pytest.mark.parametrize(
    "pred, meas, word",
    [
        ([], [], "non-empty"),
        ([1.0, 2.0], [1.0], "equal length"),
        ([1.0], [0.0], "measured_s"),
        ([float("nan")], [1.0], "predicted_s"),
        (3.0, 4.0, "sequences"),
        ([2.0, 2.0], [1.0, 1.5], "pessimistic"),
    ],
)
def test_fit_overhead_rejects_bad_input(pred, meas, word):
    with pytest.raises(ValueError, match=word):
        fit_overhead(pred, meas)


# ----------------------------------------------------------------------------- properties

MODELS = ["tiny", "llama-3-8b", "llama-3-70b", "mixtral-8x7b", "deepseek-v3", "gpt2"]
HWS = ["h100", "a100", "mi300x", "tpu-v5e", "l4"]
DTYPES = [
    ("bf16", None, None),
    ("int8", None, "bf16"),
    ("int8", "bf16", "int8"),
    ("int4", "fp8", "bf16"),
    ("fp8", "fp8", "fp8"),
]

model_st = st.sampled_from(MODELS)
hw_st = st.sampled_from(HWS)
dt_st = st.sampled_from(DTYPES)
batch_st = st.integers(1, 4096)
ctx_st = st.integers(0, 131072)


def _kw(dt, hw):
    w, kv, c = dt
    if c == "fp8" or (c is None and w == "fp8"):
        if "fp8" not in hardware.get(hw).flops:
            c = "bf16"
    return dict(weight_dtype=w, kv_dtype=kv, compute_dtype=c)


@settings(max_examples=50, deadline=None)
@given(model_st, hw_st, dt_st, batch_st, batch_st, ctx_st)
def test_time_nondecreasing_in_batch(m, hw, dt, b1, b2, ctx):
    lo, hi = sorted((b1, b2))
    kw = _kw(dt, hw)
    assert decode_step(m, hw, lo, ctx, **kw).time_s <= decode_step(m, hw, hi, ctx, **kw).time_s


@settings(max_examples=50, deadline=None)
@given(model_st, hw_st, dt_st, batch_st, ctx_st, ctx_st)
def test_time_nondecreasing_in_context(m, hw, dt, b, s1, s2):
    lo, hi = sorted((s1, s2))
    kw = _kw(dt, hw)
    assert decode_step(m, hw, b, lo, **kw).time_s <= decode_step(m, hw, b, hi, **kw).time_s


@settings(max_examples=50, deadline=None)
@given(model_st, hw_st, dt_st, batch_st, ctx_st, st.integers(1, 64))
def test_time_bounds_and_chips(m, hw, dt, b, ctx, n):
    kw = _kw(dt, hw)
    e = decode_step(m, hw, b, ctx, n_chips=n, **kw)
    for term in (e.compute_s, e.weight_s, e.kv_s, e.memory_s):
        assert e.time_s >= term
    assert e.compute_s + e.memory_s <= 2 * e.time_s
    assert decode_step(m, hw, b, ctx, n_chips=2 * n, **kw).time_s <= e.time_s


@settings(max_examples=50, deadline=None)
@given(model_st, hw_st, dt_st, st.integers(1, 131072), st.integers(1, 16), st.floats(0.05, 1.0))
def test_max_batch_fits_and_one_more_does_not(m, hw, dt, ctx, n, frac):
    w, kv, _ = dt
    mb = max_batch(m, hw, ctx, weight_dtype=w, kv_dtype=kv, memory_fraction=frac, n_chips=n)
    cfg, a = models.get(m), hardware.get(hw)
    kv_b = cfg.kv_bytes_per_token(kv or w)
    cap = frac * n * a.hbm_bytes

    def used(b):
        return cfg.param_count() * cfg_bytes(w) + b * ctx * kv_b

    if mb > 0:
        assert used(mb) <= cap
    assert used(mb + 1) > cap


def cfg_bytes(dtype):
    from tokenmath.dtypes import bytes_per_element

    return bytes_per_element(dtype)


# ----------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "kwargs, word",
    [
        (dict(batch=0), "batch"),
        (dict(batch=-3), "batch"),
        (dict(batch=2.5), "batch"),
        (dict(batch=True), "batch"),
        (dict(context=-1), "context"),
        (dict(context=float("nan")), "context"),
        (dict(weight_dtype="int3"), "weight_dtype"),
        (dict(kv_dtype="float"), "kv_dtype"),
        (dict(compute_dtype="int4"), "compute_dtype"),
        (dict(n_chips=0), "n_chips"),
        (dict(n_chips=1.5), "n_chips"),
    ],
)
def test_decode_step_validation(kwargs, word):
    args = dict(batch=4, context=128)
    args.update(kwargs)
    with pytest.raises(ValueError, match=word):
        decode_step("llama-3-8b", "h100", args.pop("batch"), args.pop("context"), **args)


def test_dtype_the_hardware_lacks():
    with pytest.raises(ValueError, match="T4 has no bf16"):
        decode_step("llama-3-8b", "t4", 1, 128)
    with pytest.raises(ValueError, match="compute_dtype='bf16'"):
        decode_step("llama-3-8b", "t4", 1, 128)
    assert decode_step("llama-3-8b", "t4", 1, 128, weight_dtype="fp16").bound == "memory"
    with pytest.raises(ValueError, match="compute_dtype"):
        balance_batch("llama-3-8b", "h100", 0, weight_dtype="int4")


@pytest.mark.parametrize("bad", [0.0, -0.1, 1.5, float("nan"), float("inf")])
def test_fraction_validation(bad):
    with pytest.raises(ValueError, match="mfu"):
        prefill("tiny", "h100", 16, mfu=bad)
    with pytest.raises(ValueError, match="memory_fraction"):
        max_batch("tiny", "h100", 16, memory_fraction=bad)


def test_other_validation():
    with pytest.raises(ValueError, match="tokens"):
        prefill("tiny", "h100", 0)
    with pytest.raises(ValueError, match="context"):
        max_batch("tiny", "h100", 0)
    with pytest.raises(ValueError, match="output_len"):
        generation("tiny", "h100", 1, 8, 0)
    with pytest.raises(ValueError, match="prompt_len"):
        generation("tiny", "h100", 1, -8, 4)
    with pytest.raises(ValueError, match="measured_time_s"):
        mbu(1e9, 0.0, 1e12)
    with pytest.raises(ValueError, match="bandwidth"):
        mbu(1e9, 1.0, float("inf"))
    with pytest.raises(ValueError, match="peak_flops"):
        mfu(1e9, 1.0, float("nan"))
    with pytest.raises(ValueError, match="estimate_or_flops"):
        mfu(float("nan"), 1.0, 1e12)
    with pytest.raises(ValueError, match="flops"):
        step_time(-1.0, 1.0, 1.0, 1e12, 1e12)
    with pytest.raises(KeyError, match="unknown model"):
        decode_step("no-such-model", "h100", 1, 1)
    with pytest.raises(KeyError, match="unknown accelerator"):
        decode_step("tiny", "no-such-chip", 1, 1)



# ----------------------------------------------------------------------------- checked once


def test_decode_at_is_decode_step():
    at = DecodeAt("llama-3-8b", "h100", 1024, weight_dtype="int8", compute_dtype="bf16")
    kw = dict(weight_dtype="int8", compute_dtype="bf16")
    assert at.step(64) == decode_step("llama-3-8b", "h100", 64, 1024, **kw)
    assert at.balance_batch() == balance_batch("llama-3-8b", "h100", 1024, **kw)
    assert at.max_batch(0.9) == max_batch(
        "llama-3-8b", "h100", 1024, weight_dtype="int8", memory_fraction=0.9
    )
    assert at.model is models.get("llama-3-8b") and at.hw is hardware.get("h100")
    assert (at.kv_dtype, at.peak_flops) == ("int8", 989e12)


def test_decode_at_checks_inputs_at_construction():
    with pytest.raises(ValueError, match="context"):
        DecodeAt("tiny", "h100", -1)
    with pytest.raises(ValueError, match="n_chips"):
        DecodeAt("tiny", "h100", 8, n_chips=0)
    with pytest.raises(ValueError, match="kv_dtype"):
        DecodeAt("tiny", "h100", 8, kv_dtype="int3")
    with pytest.raises(KeyError, match="unknown model"):
        DecodeAt("nope", "h100", 8)
    at = DecodeAt("tiny", "h100", 0, weight_dtype="int4")  # no int4 FLOP/s: fine for capacity
    with pytest.raises(ValueError, match="context"):
        at.max_batch()  # an empty cache would let any batch fit
    with pytest.raises(ValueError, match="compute_dtype"):
        at.step(1)
    with pytest.raises(ValueError, match="batch"):
        DecodeAt("tiny", "h100", 8).step(0)


def _count_checks(monkeypatch, module, name):
    """Patch ``module.<name>`` (a tokenmath.validate check) to count calls per parameter."""
    calls: dict[str, int] = {}
    real = getattr(module, name)

    def counting(value, param):
        calls[param] = calls.get(param, 0) + 1
        return real(value, param)

    monkeypatch.setattr(module, name, counting)
    return calls


def test_batching_penalty_checks_context_once(monkeypatch):
    from tokenmath import cost

    calls = _count_checks(monkeypatch, roofline, "nonneg_int")
    cost.batching_penalty("llama-3-8b", "h100", 1024)
    assert calls.get("context") == 1
    calls.clear()
    cost.cost_vs_batch("llama-3-8b", "h100", 1024, [1, 2, 4, 8], 2.0)
    assert calls.get("context") == 1
