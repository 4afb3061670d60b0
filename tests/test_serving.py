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


@pytest.mark.parametrize("policy", serving.POLICIES)
def test_steps_log_every_step(policy):
    r = _mixed(20.0, policy, max_batch=16)
    assert len(r.steps) == r.n_steps
    assert {s.phase for s in r.steps} == {"prefill", "decode"}
    # in order, never overlapping; gaps are idle time
    for a, b in zip(r.steps, r.steps[1:]):
        assert a.start_s + a.time_s <= b.start_s * (1 + 1e-12)
    assert r.steps[-1].start_s + r.steps[-1].time_s == pytest.approx(r.duration_s)
    # every request gets its first token at the end of a prefill step that included it
    ends = {s.start_s + s.time_s: s for s in r.steps if s.phase == "prefill"}
    assert all(f in ends for f in r.first_token_s)
    assert sum(s.batch for s in r.steps if s.phase == "prefill") == r.n_requests
    # decode steps: one token per sequence, and the time-weighted batch is mean_batch
    decode = [s for s in r.steps if s.phase == "decode"]
    assert sum(s.batch for s in decode) == sum(g - 1 for g in r.output_tokens)
    weighted = math.fsum(s.batch * s.time_s for s in decode) / math.fsum(s.time_s for s in decode)
    assert weighted == pytest.approx(r.mean_batch)
    assert max(s.batch for s in decode) <= 16


def test_steps_at_low_rate_are_one_prefill_then_decodes():
    P, G = 300, 5
    r = serving.simulate(M, HW, rate=1e-3, prompt_tokens=P, output_tokens=G, n_requests=3)
    assert [s.phase for s in r.steps] == (["prefill"] + ["decode"] * (G - 1)) * 3
    assert r.steps[0].time_s == pytest.approx(roofline.prefill(M, HW, P).time_s)
    assert r.steps[0].start_s == r.arrival_s[0]


HR = dict(prompt_tokens=lambda g: g.randint(100, 1000), output_tokens=lambda g: g.randint(20, 200),
          n_requests=300, seed=3)


def test_highest_rate_meets_the_limit_and_a_little_more_does_not():
    limits = {"tpot_s": 0.012}
    best = serving.highest_rate(M, HW, limits=limits, lo=1.0, hi=200.0, rel_tol=0.01, **HR)
    assert best is not None and 1.0 < best.rate < 200.0
    assert best.percentile("tpot_s", 90) <= 0.012
    above = serving.simulate(M, HW, rate=best.rate * 1.02, **HR)
    assert above.percentile("tpot_s", 90) > 0.012
    # two limits: the answer is at most the rate each allows alone
    both = serving.highest_rate(M, HW, limits={**limits, "ttft_s": 0.03}, lo=1.0, hi=200.0,
                                **HR)
    assert both is not None and both.rate <= best.rate * (1 + 1e-9)
    assert both.percentile("ttft_s", 90) <= 0.03


def test_highest_rate_with_a_duration_runs_as_long_at_every_rate():
    hr = {k: v for k, v in HR.items() if k != "n_requests"}
    best = serving.highest_rate(M, HW, limits={"tpot_s": 0.012}, lo=1.0, hi=200.0,
                                duration_s=10.0, **hr)
    assert best is not None
    assert best.n_requests == math.ceil(best.rate * 10.0)
    assert best.percentile("tpot_s", 90) <= 0.012
    same = serving.simulate(M, HW, rate=best.rate, n_requests=best.n_requests, **hr)
    assert same == best


def test_highest_rate_edges():
    floor = roofline.decode_step(M, HW, 1, 100).time_s
    # a TPOT below the batch-1 step: no load meets it
    assert serving.highest_rate(M, HW, limits={"tpot_s": 0.9 * floor}, hi=50.0, **HR) is None
    # a loose limit: hi itself
    loose = serving.highest_rate(M, HW, limits={"latency_s": 100.0}, hi=5.0, **HR)
    assert loose is not None and loose.rate == 5.0


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(limits={}), "limits"),
        (dict(limits={"tpot": 0.05}), "limits"),
        (dict(limits={"tpot_s": -1.0}), "tpot_s"),
        (dict(hi=0.0), "hi"),
        (dict(lo=20.0), "lo"),
        (dict(q=120), "q"),
        (dict(rel_tol=0.0), "rel_tol"),
        (dict(rate=3.0), "rate"),
        (dict(duration_s=10.0), "duration_s"),
        (dict(duration_s=-1.0, n_requests=None), "duration_s"),
    ],
)
def test_highest_rate_bad_inputs(kwargs, name):
    args = dict(limits={"tpot_s": 0.05}, hi=10.0) | HR | kwargs
    args = {k: v for k, v in args.items() if v is not None}
    with pytest.raises(ValueError, match=name) as info:
        serving.highest_rate(M, HW, **args)
    assert "\n" not in str(info.value)


def test_step_times_are_the_roofline_steps():
    # Static batches of identical requests: every step is a roofline step at a known (B, S).
    # The first request runs alone; the next eight arrive meanwhile and run as two batches of 4.
    P, G, B = 700, 6, 4
    kw = dict(weight_dtype="int8", compute_dtype="bf16", n_chips=2, overhead_s=2e-4)
    r = serving.simulate(M, HW, rate=1e6, prompt_tokens=P, output_tokens=G, n_requests=1 + 2 * B,
                         policy="static", max_batch=B, mfu=0.5, **kw)
    at = roofline.DecodeAt(M, HW, 1, "int8", None, "bf16", 2)

    def prefill(b):
        return roofline.step_from_counts(
            b * roofline.prefill_flops(at.model, P), at.model.decode_weight_params(b * P) * 1,
            b * at.model.kv_cache_bytes(P, "int8"), at.peak_flops, at.hw.hbm_bandwidth,
            batch=b, tokens=b * P, n_chips=2, mfu=0.5, phase="prefill", overhead_s=2e-4).time_s

    def run(b):
        return [prefill(b)] + [roofline.decode_step(M, HW, b, P + j, **kw).time_s
                               for j in range(1, G)]

    expected = run(1) + run(B) + run(B)
    assert [s.batch for s in r.steps] == [1] * G + [B] * (2 * G)
    assert len(r.steps) == len(expected)
    for got, want in zip([s.time_s for s in r.steps], expected):
        assert got == pytest.approx(want, rel=1e-12)
