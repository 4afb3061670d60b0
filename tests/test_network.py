"""The network term of tokenmath.roofline: tensor- and expert-parallel traffic of a decode step.

Published cases: the scaling book's GPU chapter ("How to Think About GPUs",
https://jax-ml.github.io/scaling-book/gpus/: collective costs on an 8 x H100 node at 450 GB/s per
GPU and direction) and DeepSeek-AI, "Insights into DeepSeek-V3: Scaling Challenges and
Reflections on Hardware for AI Architectures" (arXiv 2505.09343: the expert-parallel
communication time of one layer at 50 GB/s). The others are derived by hand from the formulas.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tokenmath import cost, hardware, models
from tokenmath.hardware import Accelerator
from tokenmath.models import ModelConfig
from tokenmath.roofline import DecodeAt, decode_step, network_bytes, step_from_counts

DS = models.get("deepseek-v3")
LLAMA70 = models.get("llama-3-70b")
H200 = hardware.get("H200")


def one_layer(d_model: int, **moe) -> ModelConfig:
    """A one-layer model of width ``d_model`` (attention and MLP sizes do not matter here)."""
    return ModelConfig("one-layer", n_layers=1, d_model=d_model, n_heads=8, n_kv_heads=8,
                       head_dim=d_model // 8, d_ff=4 * d_model, vocab_size=1000, **moe)


# ----------------------------------------------------------------------------- published cases


def test_scaling_book_all_reduce_on_an_h100_node():
    """An AllGather of bf16[1024, 16384] on 8 x H100 at 450 GB/s takes 2 B F (8 - 1) /
    (8 * 450e9) = 65 us, and an AllReduce twice that (scaling book, GPU chapter, pop quiz 1).

    A one-layer tensor-parallel model of width 16384 at B = 1024 does two such all-reduces."""
    m = one_layer(16384)
    e = decode_step(m, "H100-SXM", 1024, 0, n_chips=8, parallelism="tp")
    per_all_reduce = e.network_s / 2
    assert per_all_reduce == pytest.approx(2 * 65.2e-6, rel=0.01)
    assert e.network_bytes == 2 * 2 * 7 * 1024 * 16384 * 2


def test_scaling_book_all_to_all_is_bytes_over_n_squared():
    """An AllToAll of an array of M bytes spread over N GPUs costs M (N - 1) / (W N^2) (scaling
    book, GPU chapter): one routed expert, dispatch only, is half of the "ep" term."""
    m = one_layer(4096, n_experts=64, n_active_experts=1, d_ff_expert=1024)
    n, batch = 8, 2048
    array = batch * 4096 * 2  # bf16[B, d]
    e = decode_step(m, "H100-SXM", batch, 0, n_chips=n, parallelism="ep")
    assert e.network_s / 2 == pytest.approx(array * (n - 1) / (450e9 * n**2), rel=1e-12)


def test_deepseek_insights_expert_parallel_layer_time():
    """DeepSeek's inference-speed bound: 32 tokens per GPU, each sent to 9 experts of width
    "7K", FP8 dispatch (1 byte) and BF16 combine (2 bytes), over 400 Gb/s InfiniBand
    (50 GB/s): (1 + 2) * 32 * 9 * 7000 / 50e9 = 120.96 us per layer (arXiv 2505.09343, 2.3)."""
    m = one_layer(7000, n_experts=256, n_active_experts=9, d_ff_expert=2048)
    n = 144  # the EP144 decode unit of DeepSeek's inference system
    kw = dict(n_chips=n, parallelism="ep", link_bandwidth=50e9)
    fp8 = decode_step(m, H200, 32 * n, 0, activation_dtype="fp8", **kw).network_s
    bf16 = decode_step(m, H200, 32 * n, 0, activation_dtype="bf16", **kw).network_s
    layer_s = (fp8 + bf16) / 2  # dispatch in fp8, combine in bf16
    assert layer_s == pytest.approx(120.96e-6, rel=0.01)  # (n - 1) / n = 0.993


# ----------------------------------------------------------------------------- formulas by hand


def test_tensor_parallel_bytes_by_hand():
    b = 16
    want = 2 * 80 * 2 * 7 * b * 8192 * 2  # 2 L all-reduces, 2 (n - 1) B d b_a bytes each
    assert network_bytes("llama-3-70b", b, 8, "tp") == want
    e = decode_step("llama-3-70b", "H100-SXM", b, 1024, n_chips=8, parallelism="tp")
    assert e.network_bytes == want
    assert e.network_s == pytest.approx(want / (8 * 450e9), rel=1e-12)
    # per chip it does not shrink with n: 4 L (n - 1) / n B d b_a
    per_chip = [network_bytes("llama-3-70b", b, n, "tp") / n for n in (2, 8, 64)]
    assert per_chip[0] < per_chip[1] < per_chip[2] < 4 * 80 * b * 8192 * 2


def test_expert_parallel_bytes_by_hand_deepseek():
    b = 64
    want = 2 * 58 * b * 8 * 7168 * 2 * 7 / 8  # 2 L_moe B E_act d b_a (n - 1) / n
    assert network_bytes(DS, b, 8, "ep") == pytest.approx(want, rel=1e-12)
    assert network_bytes(DS, 1, 8, "ep") == pytest.approx(11.64e6, rel=1e-3)  # per token
    fp8 = network_bytes(DS, b, 8, "ep", activation_dtype="fp8")
    assert fp8 == pytest.approx(want / 2, rel=1e-12)
    e = decode_step(DS, H200, b, 4096, weight_dtype="fp8", n_chips=8, parallelism="EP")
    assert e.network_s == pytest.approx(want / (8 * 450e9), rel=1e-12)


def test_one_chip_sends_nothing():
    for p, m in (("tp", LLAMA70), ("ep", DS)):
        assert network_bytes(m, 64, 1, p) == 0
        e = decode_step(m, "B200", 64, 1024, weight_dtype="fp8", parallelism=p)
        assert e.network_s == 0 and e.network_bytes == 0


# ------------------------------------------------------------------- backward compatibility


@pytest.mark.parametrize("model", ["llama-3-8b", "llama-3-70b", "deepseek-v3"])
@pytest.mark.parametrize("n", [1, 8])
def test_default_has_no_network_term(model, n):
    e = decode_step(model, "H200", 32, 2048, weight_dtype="fp8", n_chips=n)
    assert e.network_s == 0.0 and e.network_bytes == 0.0
    assert e.time_s == max(e.compute_s, e.memory_s)
    assert e.bound == ("compute" if e.compute_s >= e.memory_s else "memory")
    assert e.serial_s == e.compute_s + e.memory_s
    old = DecodeAt(model, "H200", 2048, "fp8", None, None, n).step(32)  # positional, as before
    assert old == e


def test_step_from_counts_network_term():
    base = step_from_counts(1e12, 1e9, 0.0, 1e15, 1e12, n_chips=4)
    same = step_from_counts(1e12, 1e9, 0.0, 1e15, 1e12, n_chips=4, network_bytes=0.0)
    assert base == same and base.network_s == 0.0
    e = step_from_counts(1e12, 1e9, 0.0, 1e15, 1e12, n_chips=4, network_bytes=8e9,
                         link_bandwidth=1e11)
    assert e.network_s == pytest.approx(8e9 / (4 * 1e11))  # 20 ms
    assert e.bound == "network" and e.time_s == e.network_s
    assert e.serial_s == pytest.approx(e.compute_s + e.memory_s + e.network_s)
    assert e.serial_s <= 3 * e.time_s


# ----------------------------------------------------------------------------- what the term says


def test_expert_parallelism_across_racks_is_network_bound():
    """Within an NVL72 rack (900 GB/s per GPU) the all-to-all stays below compute; over 50 GB/s
    scale-out links it bounds the step (one rack bounds an expert layer)."""
    kw = dict(weight_dtype="fp8", kv_dtype="bf16", parallelism="ep")
    rack = decode_step(DS, "B200", 4096, 1024, n_chips=72, **kw)
    assert rack.bound != "network" and rack.network_s < rack.compute_s
    racks = decode_step(DS, "B200", 8192, 1024, n_chips=144, link_bandwidth=50e9, **kw)
    assert racks.bound == "network" and racks.time_s == racks.network_s


def test_tensor_parallelism_turns_network_bound_as_chips_grow():
    """Per token, TP's all-reduce time per chip stays put while compute per chip falls as 1/n:
    Llama-3-70B on H100 links crosses over between 8 and 16 chips (scaling book, GPU chapter:
    TP is compute-bound only up to about F W / C ~ 13-way on an H100)."""
    def ratio(n):
        e = decode_step(LLAMA70, "H100-SXM", 256, 1024, n_chips=n, parallelism="tp")
        return e.network_s / e.compute_s

    assert ratio(8) < 1 < ratio(16)
    assert ratio(32) / ratio(16) == pytest.approx(31 / 15, rel=1e-9)


def test_collective_latency_adds_per_collective():
    kw = dict(n_chips=8, overhead_s=0.0)
    tp0 = decode_step(LLAMA70, "H100-SXM", 4, 1024, parallelism="tp", **kw)
    tp = decode_step(LLAMA70, "H100-SXM", 4, 1024, parallelism="tp", collective_latency_s=5e-6,
                     **kw)
    assert tp.network_s - tp0.network_s == pytest.approx(2 * 80 * 5e-6)
    ep0 = decode_step(DS, H200, 4, 1024, weight_dtype="fp8", parallelism="ep", **kw)
    ep = decode_step(DS, H200, 4, 1024, weight_dtype="fp8", parallelism="ep",
                     collective_latency_s=5e-6, **kw)
    assert ep.network_s - ep0.network_s == pytest.approx(2 * 58 * 5e-6)


def test_link_bandwidth_defaults_to_the_catalog_and_can_be_overridden():
    kw = dict(n_chips=8, parallelism="tp")
    lib = decode_step(LLAMA70, "H100-SXM", 64, 1024, **kw)
    same = decode_step(LLAMA70, "H100-SXM", 64, 1024, link_bandwidth=450e9, **kw)
    slow = decode_step(LLAMA70, "H100-SXM", 64, 1024, link_bandwidth=50e9, **kw)
    assert lib == same
    assert slow.network_s == pytest.approx(9 * lib.network_s)


def test_cost_functions_pass_the_network_term_through():
    free = cost.cost_vs_batch(DS, "B200", 1024, [8192], 2.0, weight_dtype="fp8", n_chips=144)
    paid = cost.cost_vs_batch(DS, "B200", 1024, [8192], 2.0, weight_dtype="fp8", n_chips=144,
                              parallelism="ep", link_bandwidth=50e9)
    assert paid[0] > free[0]


@settings(max_examples=50, deadline=None)
@given(batch=st.integers(1, 20000), n=st.integers(2, 512))
def test_expert_traffic_per_token_and_chip(batch, n):
    """EP: bytes per token do not depend on the batch, and the network time per chip is
    (B / n) tokens' worth: it falls as 1/n, like compute."""
    per_token = network_bytes(DS, batch, n, "ep") / batch
    assert per_token == pytest.approx(2 * 58 * 8 * 7168 * 2 * (n - 1) / n, rel=1e-9)


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(parallelism="dp"), "parallelism"),
        (dict(parallelism=1), "parallelism"),
        (dict(parallelism="tp", link_bandwidth=-1.0), "link_bandwidth"),
        (dict(parallelism="tp", link_bandwidth=math.nan), "link_bandwidth"),
        (dict(parallelism="tp", activation_dtype="fp64"), "activation_dtype"),
        (dict(parallelism="tp", collective_latency_s=-1e-6), "collective_latency_s"),
        (dict(link_bandwidth=0.0), "link_bandwidth"),
    ],
)
def test_bad_network_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        decode_step(LLAMA70, "H100-SXM", 8, 1024, n_chips=8, **kwargs)


def test_expert_parallelism_of_a_dense_model_is_an_error():
    with pytest.raises(ValueError, match="dense"):
        decode_step(LLAMA70, "H100-SXM", 8, 1024, n_chips=8, parallelism="ep")
    with pytest.raises(ValueError, match="dense"):
        network_bytes("llama-3-8b", 8, 8, "ep")


def test_missing_link_bandwidth_names_the_parameter():
    chip = Accelerator("no-link", {"bf16": 1e15}, hbm_bandwidth=3e12, hbm_bytes=80e9)
    assert chip.link_bandwidth is None
    with pytest.raises(ValueError, match="link_bandwidth.*no-link"):
        decode_step(LLAMA70, chip, 8, 1024, n_chips=8, parallelism="tp")
    e = decode_step(LLAMA70, chip, 8, 1024, n_chips=8, parallelism="tp", link_bandwidth=1e11)
    assert e.network_s > 0
    assert decode_step(LLAMA70, chip, 8, 1024, n_chips=1, parallelism="tp").network_s == 0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(network_bytes=1e9), "link_bandwidth"),
        (dict(network_bytes=-1.0, link_bandwidth=1e11), "network_bytes"),
        (dict(network_bytes=1e9, link_bandwidth=0.0), "link_bandwidth"),
    ],
)
def test_step_from_counts_bad_network_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        step_from_counts(1e12, 1e9, 0.0, 1e15, 1e12, **kwargs)


@pytest.mark.parametrize(
    "args, match",
    [
        ((DS, 0, 8, "ep"), "batch"),
        ((DS, 8, 0, "ep"), "n_chips"),
        ((DS, 8, 8, "pp"), "parallelism"),
        (("no-such-model", 8, 8, "tp"), "no-such-model"),
    ],
)
def test_network_bytes_bad_input(args, match):
    with pytest.raises((ValueError, KeyError), match=match):
        network_bytes(*args)
    with pytest.raises(ValueError, match="activation_dtype"):
        network_bytes(DS, 8, 8, "ep", activation_dtype="int3")
