"""The corrections of book/errata.md, recomputed with the same library calls.

Each test pins what the errata page says about a number (which side of the source's figure it
falls, roughly how far), not the digits: a library change that breaks an erratum fails here
before the page quietly says something else.
"""

from __future__ import annotations

import pytest
from tokenmath import cost, hardware, models, roofline, tiers
from tokenmath.hardware import Accelerator
from tokenmath.models import ModelConfig

GB, TB = 1e9, 1e12
H100, H200, B200 = (hardware.get(n) for n in ("H100-SXM", "H200", "B200"))
V5E, V5P = hardware.get("TPU-v5e"), hardware.get("TPU-v5p")
DS = models.get("deepseek-v3")

# The invented or historical shapes the page builds, as the sources give them.
SCALING_BOOK_INFERENCE = ModelConfig(
    "scaling-book-inference", 64, 4096, 32, 8, 256, 4 * 4096, 32128, tied_embeddings=True
)
KIPPLY_52B = ModelConfig(
    "kipply-52b", 64, 8192, 64, 64, 128, 4 * 8192, 65536,
    tied_embeddings=True, mlp="gelu", norm="layernorm", bias=True,
)


def test_e1_deepseek_parameter_ratio_is_about_18_not_32_or_8():
    assert DS.n_active_experts == 8 and DS.n_experts == 256 and DS.n_shared_experts == 1
    ratio = DS.param_count() / DS.active_param_count()
    assert 17 < ratio < 19
    b_star = H100.ridge("bf16") * ratio
    assert b_star > 2 * 300 * 8  # more than twice the lecture's 2,400
    assert roofline.balance_batch(DS, H100, 0) == pytest.approx(b_star, rel=0.05)


def test_e2_latency_floor_counts_total_not_active_parameters():
    total = roofline.latency_floor(DS, H200, weight_dtype="fp8", n_chips=8)
    one = roofline.latency_floor(DS, H200, weight_dtype="fp8", n_chips=8, batch=1)
    assert total == pytest.approx(17.5e-3, rel=0.02)
    assert total / one > 15
    assert DS.expected_experts_touched(64) / DS.n_experts > 0.8


def test_e3_the_lectures_ratio_and_the_implied_kv_size():
    f16, f8, w = H100.peak_flops("bf16"), H100.peak_flops("fp8"), H100.hbm_bandwidth
    assert f16 / w == pytest.approx(295, rel=0.01)
    assert f8 / w == pytest.approx(2 * f16 / w, rel=0.01)  # MatX's "600": the same chip
    k_fp8 = 2 * 1e11 * w / (f8 * 2e5)
    k_bf16 = 2 * 1e11 * w / (f16 * 2e5)
    assert k_fp8 == pytest.approx(1.7e3, rel=0.02)  # the lecture's 1.7 KB is fp8
    assert k_bf16 == pytest.approx(2 * k_fp8, rel=0.01)
    for name in ("llama-3-8b", "llama-3-70b", "llama-3-405b", "deepseek-v3"):
        assert roofline.critical_context(name, H100) < 2e5 / 10
        assert models.get(name).kv_bytes_per_token() > 30 * k_bf16 / 2


def test_e4_a_rack_of_72_blackwells_has_about_13_tb_of_hbm():
    hbm = 72 * B200.hbm_bytes
    assert 12 * TB < hbm < 14 * TB
    assert hbm + 17 * TB > 20 * TB  # "tens of TB" needs the CPUs' memory


def test_e5_the_constant_offset_is_the_weight_read_time():
    steps = [roofline.decode_step("llama-3-70b", H100, b, 1024, n_chips=8) for b in (1, 64, 256)]
    assert max(s.weight_s for s in steps) == pytest.approx(min(s.weight_s for s in steps),
                                                           rel=1e-3)
    w8 = roofline.decode_step("llama-3-8b", H100, 1, 1024, n_chips=8).weight_s
    assert steps[0].weight_s / w8 > 5


def test_e6_attention_flops_match_matmuls_at_tens_of_thousands_of_tokens():
    s_x = {}
    for name in ("llama-3-8b", "llama-3-70b", "llama-3-405b", "deepseek-v3"):
        m = models.get(name)
        s_x[name] = m.flops_per_token(0) / m.attention_flops_per_token(1)
    assert max(s_x.values()) < 1e6 / 5
    assert min(s_x, key=s_x.get) == "deepseek-v3"  # the page names the extremes
    assert max(s_x, key=s_x.get) == "llama-3-405b"


def test_e7_storage_drain_times_are_many_times_the_lectures():
    drains = {name: tiers.get(name).drain_s for name in tiers.CACHE_TIERS}
    assert 0.01 < drains["HBM-H100"] < 0.04
    assert 1 < drains["DRAM-PCIe5"] < 10  # the lecture's "1 to 10 s" holds
    assert tiers.get("NVMe").drain_s > 5 * 60  # flash: "about a minute"
    assert tiers.get("HDD").drain_s > 10 * 3600  # disk: "about an hour"


def test_e8_sparse_flops_double_the_ridge():
    viewer = Accelerator(name="viewer", flops={"fp16": 1979e12}, hbm_bandwidth=3072e9,
                         hbm_bytes=80e9)
    assert viewer.ridge("fp16") / H100.ridge("fp16") == pytest.approx(2 * 3.35 / 3.072,
                                                                      rel=0.01)


def test_e9_gb_labelled_gib():
    kv13 = models.get("llama-2-13b").kv_cache_bytes(8192)
    assert kv13 / GB == pytest.approx(6.7, abs=0.05)
    assert kv13 / 2**30 == pytest.approx(6.25)
    k70 = models.get("llama-3-70b").kv_bytes_per_token("int8")
    assert k70 == 160 * 1024
    assert k70 * 32768 / GB == pytest.approx(5.37, abs=0.01)


def test_e10_kipplys_rounded_cache_size_changes_the_batch():
    kv = KIPPLY_52B.kv_bytes_per_token()
    assert kv == 2_097_152
    assert 16 * GB / kv == pytest.approx(7629, abs=1)
    assert 23_000 < 56 * GB / kv < 28_000
    assert KIPPLY_52B.param_count() == pytest.approx(52e9, rel=0.01)
    a100 = hardware.get("A100-40GB")
    assert roofline.max_batch(KIPPLY_52B, a100, 2048, n_chips=3) == 3  # the post says 4


def test_e11_rounded_dimensions_undercount_the_parameters():
    q1 = ModelConfig("scaling-book-q1", 64, 4096, 32, 32, 128, 4 * 4096, 32000)
    assert q1.param_count() == pytest.approx(17.4e9, rel=0.005)  # the book says 16e9
    assert q1.kv_bytes_per_token("int8") == 512 * 1024


def test_e12_one_bandwidth_for_the_v5e():
    assert V5E.ridge("bf16") == pytest.approx(240.5, abs=0.1)
    assert V5E.peak_flops("bf16") / 8.1e11 == pytest.approx(243, abs=0.5)
    assert SCALING_BOOK_INFERENCE.param_count() == pytest.approx(18.4e9, rel=0.005)
    t = roofline.latency_floor(SCALING_BOOK_INFERENCE, V5E, weight_dtype="int8", n_chips=16)
    assert t == pytest.approx(1.40e-3, abs=0.005e-3)  # not "1.3ms"


def test_e13_flops_per_dollar_need_the_3600():
    for chip, price, published in ((V5E, 1.2, 5.8e17), (V5P, 4.2, 3.9e17)):
        step = roofline.step_from_counts(1e18, 0, 0, chip.peak_flops("bf16"), chip.hbm_bandwidth)
        per_dollar = 1e18 / cost.per_token(step, price)
        assert per_dollar == pytest.approx(chip.peak_flops("bf16") * 3600 / price)
        assert per_dollar == pytest.approx(published, rel=0.02)


def test_e14_the_answer_depends_on_what_128k_means():
    kw = dict(weight_dtype="int8", n_chips=16)
    assert roofline.max_batch(SCALING_BOOK_INFERENCE, V5E, 128_000, **kw) == 7
    assert roofline.max_batch(SCALING_BOOK_INFERENCE, V5E, 128 * 1024, **kw) == 6


def test_e15_the_3_tb_cache_is_one_byte_per_element():
    palm = ModelConfig("palm-540b-mha", 118, 18432, 48, 48, 256, 4 * 18432, 256000,
                       tied_embeddings=True)
    kv8 = 512 * palm.kv_cache_bytes(2048, "int8")
    assert kv8 == pytest.approx(3 * TB, rel=0.05)
    assert 512 * palm.kv_cache_bytes(2048, "bf16") == pytest.approx(2 * kv8)
    assert kv8 / (540e9 * 2) == pytest.approx(3, rel=0.1)
