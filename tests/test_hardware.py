"""Accelerator catalog: published ridge points, dense-vs-sparse hygiene, lookups, validation."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tokenmath import hardware
from tokenmath.dtypes import DTYPES
from tokenmath.hardware import Accelerator

EXPECTED = [
    "T4",
    "L4",
    "A10",
    "A100-40GB",
    "A100-80GB",
    "H100-SXM",
    "H100-PCIe",
    "H200",
    "B200",
    "RTX-4090",
    "MI300X",
    "TPU-v5e",
    "TPU-v5p",
    "TPU-v6e",
]


def test_catalog_has_every_part_with_a_source():
    assert hardware.names() == EXPECTED
    for name in EXPECTED:
        hw = hardware.get(name)
        assert hw.name == name
        assert hw.source.startswith("http"), name
        assert hw.hbm_bandwidth > 1e11 and hw.hbm_bytes >= 16e9
        assert set(hw.flops) <= set(DTYPES)


def test_ridge_h100_sxm_bf16_is_295():
    # Scaling book, https://jax-ml.github.io/scaling-book/roofline/ : 9.89e14 / 3.35e12 ~ 295 FLOP/B.
    assert hardware.get("H100-SXM").ridge("bf16") == pytest.approx(295, rel=0.01)


def test_drain_time_h200_is_29_ms():
    # 141 GB / 4.8 TB/s (NVIDIA H200 datasheet)
    assert hardware.get("H200").drain_time() == pytest.approx(141e9 / 4.8e12)


def test_ridge_a100_kipply_208():
    # kipply, https://kipp.ly/transformer-inference-arithmetic/ : 312e12 / 1.5e12 = 208.
    a100_eff = Accelerator("A100-kipply", {"bf16": 312e12}, hbm_bandwidth=1.5e12, hbm_bytes=40e9)
    assert a100_eff.ridge() == pytest.approx(208, rel=1e-12)


def test_dense_not_sparse_h100():
    # https://www.nvidia.com/en-us/data-center/h100/ : the sheet's "1,979 TFLOPS with sparsity"
    # is 989e12 dense (scaling book, "GPUs" chapter); the ridge is ~295, not ~590.
    h100 = hardware.get("h100")
    assert h100.peak_flops("bf16") == pytest.approx(989e12, rel=1e-3)
    assert h100.ridge() < 300
    assert h100.peak_flops("fp8") == pytest.approx(2 * h100.peak_flops("bf16"), rel=1e-3)


@pytest.mark.parametrize(
    "name, bf16_dense",
    [
        # Third-party pages list sparse numbers as dense; these are the datasheets' dense ones.
        ("H200", 989e12),
        ("MI300X", 1307.4e12),
        ("B200", 2.25e15),  # NVIDIA HGX B200: 4.5 PFLOPS with sparsity -> 2.25 dense
        # GeForce: the FP32-accumulate rate (Ada whitepaper), not the FP16-accumulate 330.
        ("RTX-4090", 165.2e12),
        ("A100-80GB", 312e12),
    ],
)
def test_dense_bf16_values(name, bf16_dense):
    assert hardware.get(name).peak_flops("bf16") == pytest.approx(bf16_dense, rel=1e-3)


@pytest.mark.parametrize(
    "name, ridge",
    # Derived: dense bf16 FLOP/s over HBM bytes/s from each catalog entry's datasheet.
    [
        ("H100-PCIe", 378),
        ("H200", 206),
        ("A100-40GB", 201),
        ("A100-80GB", 153),
        ("L4", 403),
        ("A10", 208),
        ("RTX-4090", 164),
        ("MI300X", 247),
        ("TPU-v5e", 241),
        ("TPU-v5p", 166),
        ("TPU-v6e", 560),
    ],
)
def test_ridge_table(name, ridge):
    assert hardware.get(name).ridge("bf16") == pytest.approx(ridge, rel=0.01)


def test_t4_has_no_bf16():
    t4 = hardware.get("t4")
    with pytest.raises(ValueError, match="no bf16.*fp16"):
        t4.peak_flops("bf16")
    with pytest.raises(ValueError, match="bf16"):
        t4.ridge()
    assert t4.ridge("fp16") == pytest.approx(203, rel=0.01)  # 65e12 / 320e9


def test_fp32_is_non_tensor_rate():
    # The plain FP32 rate (H100 SXM 67 TFLOPS), not TF32 (495 dense) or a tensor rate.
    assert hardware.get("H100-SXM").peak_flops("fp32") == pytest.approx(67e12)
    for name in EXPECTED:
        hw = hardware.get(name)
        if "fp32" in hw.flops:
            assert hw.flops["fp32"] <= hw.flops.get("fp16", hw.flops.get("bf16", math.inf)) / 2


def test_unknown_dtype_raises_value_error():
    with pytest.raises(ValueError, match="dtype"):
        hardware.get("h100").peak_flops("fp64")


@pytest.mark.parametrize(
    "alias, name",
    [
        ("h100", "H100-SXM"),
        ("H100", "H100-SXM"),
        ("a100", "A100-80GB"),
        ("h200", "H200"),
        ("4090", "RTX-4090"),
        ("mi300x", "MI300X"),
        ("v5e", "TPU-v5e"),
        ("v5p", "TPU-v5p"),
        ("v6e", "TPU-v6e"),
        ("h100_pcie", "H100-PCIe"),
        ("tpu v6e", "TPU-v6e"),
        ("b200", "B200"),
    ],
)
def test_aliases(alias, name):
    assert hardware.get(alias) is hardware.get(name)


def test_unknown_name_lists_known_names():
    with pytest.raises(KeyError) as info:
        hardware.get("h900")
    msg = str(info.value)
    assert "h900" in msg
    for name in EXPECTED:
        assert name in msg


def test_get_passes_accelerator_through_and_rejects_non_names():
    hw = hardware.get("h100")
    assert hardware.get(hw) is hw
    with pytest.raises(ValueError, match="hw"):
        hardware.get(3)  # type: ignore[arg-type]


def test_price_only_where_cited():
    assert hardware.get("h100").price_per_hour == 2.0  # Epoch AI, arXiv 2506.04645
    assert hardware.get("T4").price_per_hour is None


@pytest.mark.parametrize(
    "name, per_direction",
    [
        # NVIDIA datasheets quote NVLink as both directions together; the catalog stores half:
        # H100/H200 SXM "900GB/s", B200 "1.8TB/s", A100 SXM "600GB/s" (datasheet URLs in
        # hardware.py; per-direction figures as in https://jax-ml.github.io/scaling-book/gpus/).
        ("H100-SXM", 450e9),
        ("H200", 450e9),
        ("B200", 900e9),
        ("A100-80GB", 300e9),
        ("A100-40GB", 300e9),
        # PCIe Gen4 x16 parts: 64 GB/s both directions (L4 and A10 datasheets).
        ("L4", 32e9),
        ("A10", 32e9),
        ("T4", 16e9),  # PCIe Gen3 x16, 32 GB/s both directions
        ("MI300X", 448e9),  # 7 Infinity Fabric links x 128 GB/s both directions, halved
    ],
)
def test_link_bandwidth_is_per_direction(name, per_direction):
    assert hardware.get(name).link_bandwidth == pytest.approx(per_direction, rel=1e-12)


def test_every_part_has_a_link_slower_than_its_memory():
    for name in EXPECTED:
        hw = hardware.get(name)
        assert hw.link_bandwidth is not None, name
        assert 1e10 <= hw.link_bandwidth < hw.hbm_bandwidth, name
    # a part built by hand has none unless given
    plain = Accelerator("x", {"bf16": 1e12}, hbm_bandwidth=1e12, hbm_bytes=1e9)
    assert plain.link_bandwidth is None


def test_frozen_hashable_and_flops_read_only():
    hw = hardware.get("h100")
    assert hash(hw) == hash(hardware.get("H100-SXM"))
    assert len({hw, hardware.get("a100")}) == 2
    with pytest.raises(TypeError):
        hw.flops["bf16"] = 1.0  # type: ignore[index]
    with pytest.raises(AttributeError):
        hw.hbm_bandwidth = 1.0  # type: ignore[misc]


@pytest.mark.parametrize(
    "kwargs, field",
    [
        (dict(flops={}), "flops"),
        (dict(flops={"bf16": -1.0}), "flops"),
        (dict(flops={"bf16": math.nan}), "flops"),
        (dict(flops={"fp64": 1e12}), "flops key"),
        (dict(hbm_bandwidth=0.0), "hbm_bandwidth"),
        (dict(hbm_bandwidth=math.inf), "hbm_bandwidth"),
        (dict(hbm_bytes=-5.0), "hbm_bytes"),
        (dict(cache_bytes=math.nan), "cache_bytes"),
        (dict(price_per_hour=-1.0), "price_per_hour"),
        (dict(link_bandwidth=0.0), "link_bandwidth"),
        (dict(link_bandwidth=math.inf), "link_bandwidth"),
        (dict(link_bandwidth="900 GB/s"), "link_bandwidth"),
        (dict(name=""), "name"),
    ],
)
def test_bad_fields_raise_value_error_naming_field(kwargs, field):
    base = dict(name="x", flops={"bf16": 1e12}, hbm_bandwidth=1e12, hbm_bytes=1e9)
    base.update(kwargs)
    with pytest.raises(ValueError, match=field):
        Accelerator(**base)


@given(
    flops=st.floats(min_value=1e9, max_value=1e18),
    bw=st.floats(min_value=1e9, max_value=1e14),
)
def test_ridge_is_flops_over_bandwidth(flops, bw):
    hw = Accelerator("x", {"fp16": flops}, hbm_bandwidth=bw, hbm_bytes=1e9)
    assert hw.ridge("fp16") == pytest.approx(flops / bw)


@pytest.mark.parametrize(
    "name, memory, want",
    [
        ("NVIDIA H100 80GB HBM3", 85e9, "H100-SXM"),
        ("NVIDIA H100 PCIe", 85e9, "H100-PCIe"),
        ("NVIDIA H100", None, "H100-SXM"),  # the bare model token's alias breaks the tie
        ("NVIDIA H200", 150e9, "H200"),
        ("Tesla T4", 15.8e9, "T4"),
        ("NVIDIA A100-SXM4-80GB", 85e9, "A100-80GB"),
        ("NVIDIA A100-SXM4-40GB", 42e9, "A100-40GB"),
        ("NVIDIA A100-PCIE-40GB", 42e9, "A100-40GB"),
        ("NVIDIA A100-PCIE", 42e9, "A100-40GB"),  # no size in the name: the memory decides
        ("NVIDIA A100-PCIE", 85e9, "A100-80GB"),
        ("NVIDIA A10", 24e9, "A10"),
        ("NVIDIA L4", 24e9, "L4"),
        ("NVIDIA GeForce RTX 4090", 25e9, "RTX-4090"),
        ("AMD Instinct MI300X", 206e9, "MI300X"),
        ("NVIDIA L40S", 48e9, None),
        ("AMD EPYC", 25e9, None),
        ("", None, None),
    ],
)
def test_match_hardware(name, memory, want):
    got = hardware.match_hardware(name, memory)
    assert (got.name if got else None) == want


def test_match_hardware_rejects_bad_input():
    with pytest.raises(ValueError, match="device_name"):
        hardware.match_hardware(None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="memory_bytes"):
        hardware.match_hardware("NVIDIA H100", -1.0)
