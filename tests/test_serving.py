"""tokenmath.serving: the discrete-event simulation of one replica."""

from __future__ import annotations

import math
import time

import pytest
from tokenmath import roofline, serving

M, HW = "llama-3-8b", "H100-SXM"


def _mixed(rate: float, policy: str = "continuous", seed: int = 0, n: int = 200, **kw):
    return serving.simulate(
        M,
        HW,
        rate=rate,
        prompt_tokens=lambda g: g.randint(100, 2000),
        output_tokens=lambda g: g.randint(1, 300),
        n_requests=n,
        policy=policy,
        seed=seed,
        **kw,
    )


@pytest.mark.parametrize("policy", serving.POLICIES)
@pytest.mark.parametrize("max_batch", [None, 4])
def test_every_request_finishes_once_in_causal_order(policy, max_batch):
    r = _mixed(20.0, policy, max_batch=max_batch)
    n = r.n_requests
    assert n == 200
    for field in ("arrival_s", "first_token_s", "finish_s", "ttft_s", "tpot_s", "latency_s"):
        assert len(getattr(r, field)) == n
    assert list(r.arrival_s) == sorted(r.arrival_s)
    for a, f, e in zip(r.arrival_s, r.first_token_s, r.finish_s):
        assert 0 < a <= f <= e
    for f, e, g in zip(r.first_token_s, r.finish_s, r.output_tokens):
        assert (f == e) == (g == 1)
    assert r.duration_s == max(r.finish_s)
    assert r.throughput_tokens_per_s == pytest.approx(sum(r.output_tokens) / r.duration_s)
    if max_batch is not None:
        assert r.mean_batch <= max_batch


@pytest.mark.parametrize("policy", serving.POLICIES)
@pytest.mark.parametrize("rate", [2.0, 20.0])
def test_littles_law(policy, rate):
    r = _mixed(rate, policy, n=400)
    # L = lambda W over [0, T], lambda the measured throughput in requests/s: the time integral
    # of the in-flight count equals the sum of the latencies.
    assert r.mean_in_flight == pytest.approx(r.throughput_requests_per_s * r.mean_latency_s)
    # and with the offered rate, within sampling error (the replica keeps up at these loads)
    assert r.mean_in_flight == pytest.approx(rate * r.mean_latency_s, rel=0.15)


@pytest.mark.parametrize("rate", [2.0, 10.0, 50.0, 1e6])
def test_continuous_never_worse_than_static(rate):
    kw = dict(rate=rate, prompt_tokens=1000, output_tokens=200, n_requests=150)
    cont = serving.simulate(M, HW, policy="continuous", **kw)
    stat = serving.simulate(M, HW, policy="static", **kw)
    assert cont.arrival_s == stat.arrival_s
    assert cont.mean_latency_s <= stat.mean_latency_s * (1 + 1e-9)
    assert cont.throughput_tokens_per_s >= stat.throughput_tokens_per_s * (1 - 1e-9)


def test_low_rate_is_batch_one():
    P, G = 1000, 100
    r = serving.simulate(M, HW, rate=1e-3, prompt_tokens=P, output_tokens=G, n_requests=20)
    step = roofline.decode_step(M, HW, 1, P + G // 2).time_s
    gen = roofline.generation(M, HW, 1, P, G)
    pre = roofline.prefill(M, HW, P).time_s
    for tpot, ttft in zip(r.tpot_s, r.ttft_s):
        assert tpot == pytest.approx(step, rel=1e-3)
        assert tpot == pytest.approx(gen.mean_tpot_s, rel=1e-9)
        assert ttft == pytest.approx(pre, rel=1e-9)
    assert r.mean_batch == pytest.approx(1.0)


def test_overhead_and_dtypes_reach_the_roofline():
    P, G, t0 = 500, 50, 1e-3
    kw = dict(weight_dtype="int8", compute_dtype="bf16", n_chips=2, overhead_s=t0)
    r = serving.simulate(M, HW, rate=1e-3, prompt_tokens=P, output_tokens=G, n_requests=3, **kw)
    gen = roofline.generation(M, HW, 1, P, G, weight_dtype="int8", compute_dtype="bf16", n_chips=2)
    assert r.tpot_s[0] == pytest.approx(gen.mean_tpot_s + t0, rel=1e-9)
    assert r.ttft_s[0] == pytest.approx(gen.ttft_s + t0, rel=1e-9)


def test_saturation_throughput_approaches_largest_batch_over_its_step():
    hw, P, G = "L4", 100, 1000
    B = roofline.max_batch(M, hw, P + G)
    assert B > 10
    ceiling = B / roofline.decode_step(M, hw, B, P + G // 2).time_s
    r = serving.simulate(M, hw, rate=1e6, prompt_tokens=P, output_tokens=G, n_requests=3 * B)
    assert 0.95 * ceiling < r.throughput_tokens_per_s <= ceiling * (1 + 1e-9)
    assert r.mean_batch == pytest.approx(B, rel=0.01)
    capped = serving.simulate(
        M, hw, rate=1e6, prompt_tokens=P, output_tokens=G, n_requests=40, max_batch=8
    )
    assert capped.mean_batch <= 8
    assert capped.throughput_tokens_per_s < r.throughput_tokens_per_s


def test_memory_fraction_limits_the_batch():
    full = serving.simulate(M, "L4", rate=1e6, prompt_tokens=100, output_tokens=1000, n_requests=60)
    part = serving.simulate(
        M, "L4", rate=1e6, prompt_tokens=100, output_tokens=1000, n_requests=60, memory_fraction=0.8
    )
    assert part.mean_batch <= roofline.max_batch(M, "L4", 1100, memory_fraction=0.8)
    assert part.mean_batch < full.mean_batch


def test_same_seed_same_result_other_seed_other_result():
    a, b, c = _mixed(10.0, seed=1), _mixed(10.0, seed=1), _mixed(10.0, seed=2)
    assert a == b
    assert a.arrival_s != c.arrival_s
    assert a.finish_s != c.finish_s


def test_percentiles():
    r = _mixed(10.0)
    for name in ("ttft_s", "tpot_s", "latency_s"):
        values = getattr(r, name)
        assert r.percentile(name, 0) == min(values)
        assert r.percentile(name, 100) == max(values)
        assert r.percentile(name, 50) <= r.percentile(name, 90) <= r.percentile(name, 99)
        assert r.mean(name) == pytest.approx(math.fsum(values) / len(values))
    with pytest.raises(ValueError, match="name"):
        r.percentile("latency", 50)
    with pytest.raises(ValueError, match="q"):
        r.percentile("ttft_s", 101)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(rate=0), "rate"),
        (dict(rate=-1.0), "rate"),
        (dict(rate=math.nan), "rate"),
        (dict(n_requests=0), "n_requests"),
        (dict(policy="fifo"), "policy"),
        (dict(max_batch=0), "max_batch"),
        (dict(prompt_tokens=0), "prompt_tokens"),
        (dict(output_tokens=lambda g: -1), "output_tokens"),
        (dict(prompt_tokens=1_000_000), "prompt_tokens"),
        (dict(weight_dtype="fp7"), "weight_dtype"),
        (dict(n_chips=0), "n_chips"),
        (dict(mfu=1.5), "mfu"),
        (dict(batch_size=3), "batch_size"),
    ],
)
def test_bad_inputs_name_the_parameter(kwargs, name):
    args = dict(rate=1.0, prompt_tokens=100, output_tokens=10, n_requests=5) | kwargs
    with pytest.raises(ValueError, match=name) as info:
        serving.simulate(M, HW, **args)
    assert "\n" not in str(info.value)


def test_weights_that_do_not_fit():
    with pytest.raises(ValueError, match="model"):
        serving.simulate(
            "llama-3-70b", "L4", rate=1.0, prompt_tokens=10, output_tokens=10, n_requests=1
        )


def test_a_sweep_of_20_loads_is_fast():
    start = time.perf_counter()
    latencies = [_mixed(0.5 * (i + 1)).mean_latency_s for i in range(20)]
    assert time.perf_counter() - start < 10
    assert latencies[-1] > latencies[0]
