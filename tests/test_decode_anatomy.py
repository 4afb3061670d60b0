"""roofline.latency_floor: the weight bytes over the bandwidth of the chips that hold them."""

from __future__ import annotations

import pytest
from tokenmath import hardware, models, roofline


def test_deepseek_v3_fp8_on_eight_h200s_is_about_17_5_ms():
    floor = roofline.latency_floor("deepseek-v3", "H200", weight_dtype="fp8", n_chips=8)
    assert floor == pytest.approx(17.5e-3, rel=0.01)
    # Total, not active, parameters: about 18 times the active-parameter figure.
    m = models.get("deepseek-v3")
    active = m.active_param_count() / (8 * hardware.get("H200").hbm_bandwidth)
    assert floor / active > 15


def test_floor_falls_as_one_over_chips():
    one = roofline.latency_floor("llama-3-70b", "H100-SXM")
    for n in (2, 4, 8):
        assert roofline.latency_floor("llama-3-70b", "H100-SXM", n_chips=n) == pytest.approx(
            one / n)


@pytest.mark.parametrize("name", ["llama-3-8b", "mixtral-8x7b", "deepseek-v3"])
def test_floor_is_below_every_large_batch_step(name):
    floor = roofline.latency_floor(name, "H200", n_chips=8)
    for b in (1024, 4096):
        step = roofline.decode_step(name, "H200", b, 1, n_chips=8)
        assert floor <= step.weight_s <= step.time_s
        assert step.weight_s == pytest.approx(floor, rel=0.01)


def test_floor_at_a_batch_is_the_steps_weight_time():
    for b in (1, 16):
        step = roofline.decode_step("deepseek-v3", "H200", b, 128, weight_dtype="fp8",
                                    compute_dtype="bf16", n_chips=8)
        floor = roofline.latency_floor("deepseek-v3", "H200", weight_dtype="fp8",
                                       n_chips=8, batch=b)
        assert floor == pytest.approx(step.weight_s)
    assert floor < roofline.latency_floor("deepseek-v3", "H200", weight_dtype="fp8",
                                          n_chips=8)


def test_bad_arguments_raise():
    with pytest.raises(ValueError):
        roofline.latency_floor("llama-3-8b", "H200", n_chips=0)
    with pytest.raises(ValueError):
        roofline.latency_floor("llama-3-8b", "H200", weight_dtype="fp7")
