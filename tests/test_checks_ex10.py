"""Chapter 10 exercise checks accept the reference and reject plausible wrong answers."""

from __future__ import annotations

import math
import random

import pytest
from grading_helpers import (
    assert_fails,
    assert_passes,
    assert_rejected,
    flipped,
    scaled,
    sig_figs,
)
from tokenmath import serving
from tokenmath.checks import ex10_serving as ex

# requests_in_flight ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (ex.REQUESTS_IN_FLIGHT.mistakes[0].fn, "starts with the TTFT"),
        (ex.REQUESTS_IN_FLIGHT.mistakes[1].fn, "G - 1"),
        (ex.REQUESTS_IN_FLIGHT.mistakes[2].fn, "multiplies"),
    ],
)
def test_requests_in_flight_wrong_answers(wrong, hint):
    assert_rejected(ex.check_requests_in_flight, wrong, hint)


def test_requests_in_flight_graded_to_a_tenth_of_a_percent():
    assert_passes(ex.check_requests_in_flight, sig_figs(ex.requests_in_flight, 4))
    assert_fails(ex.check_requests_in_flight, scaled(ex.requests_in_flight, 1.003))


def test_requests_in_flight_is_littles_law_on_the_simulator():
    """The formula, fed the simulator's own means, gives the simulator's in-flight count."""
    r = serving.simulate("llama-3-8b", "H100-SXM", rate=10.0, n_requests=300, seed=2,
                         prompt_tokens=lambda g: g.randint(128, 1024), output_tokens=100)
    mine = ex.requests_in_flight(r.throughput_requests_per_s, r.mean("ttft_s"),
                                 r.mean("tpot_s"), 100)
    assert mine == pytest.approx(r.mean_in_flight, rel=1e-9)


# mean_wait_to_board ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (ex._half_mean, "more likely to land in a long step"),
        (lambda step_times_s: 2 * ex._half_mean(step_times_s), "not a whole one"),
        (lambda step_times_s: max(step_times_s) / 2, "longest step"),
    ],
)
def test_mean_wait_to_board_wrong_answers(wrong, hint):
    assert_rejected(ex.check_mean_wait_to_board, wrong, hint)


def test_mean_wait_to_board_accepts_any_sequence_type():
    assert_passes(ex.check_mean_wait_to_board,
                  lambda step_times_s: ex.mean_wait_to_board(tuple(step_times_s)))
    assert_fails(ex.check_mean_wait_to_board, scaled(ex.mean_wait_to_board, 1.01))


def test_mean_wait_to_board_matches_random_arrivals():
    """Monte Carlo: arrivals uniform over a repeating cycle wait for the end of their step."""
    steps = [0.060] + [0.012] * 10
    ends = [sum(steps[: i + 1]) for i in range(len(steps))]
    rng = random.Random(0)
    waits = []
    for _ in range(100_000):
        t = rng.uniform(0, ends[-1])
        waits.append(next(e for e in ends if e >= t) - t)
    assert sum(waits) / len(waits) == pytest.approx(ex.mean_wait_to_board(steps), rel=0.02)


# binding_limit and highest_rate -------------------------------------------------------------


def test_random_replicas_cover_both_limits():
    rng = random.Random(ex.BINDING_LIMIT.seed)
    labels = [ex.binding_limit(**ex._random_replica(rng)) for _ in range(200)]
    assert 0.2 < labels.count("memory") / len(labels) < 0.8


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (ex.BINDING_LIMIT.mistakes[0].fn, "prefills stall"),
        (ex._per_token_limit, "whole decode step"),
        (flipped(ex.binding_limit, ex.LIMITS), "swapped"),
    ],
)
def test_binding_limit_wrong_answers(wrong, hint):
    assert_rejected(ex.check_binding_limit, wrong, hint)


def test_binding_limit_is_case_insensitive():
    assert_passes(ex.check_binding_limit, lambda **kw: f" {ex.binding_limit(**kw).upper()} ")


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (ex.HIGHEST_RATE.mistakes[0].fn, "prefill"),
        (ex._rate_no_memory, "check the memory"),
        (ex._rate_at_target_when_full, "steps faster than the target"),
        (ex.HIGHEST_RATE.mistakes[3].fn, "requests per second"),
    ],
)
def test_highest_rate_wrong_answers(wrong, hint):
    assert_rejected(ex.check_highest_rate, wrong, hint)


def test_highest_rate_graded_to_one_percent():
    assert_passes(ex.check_highest_rate, sig_figs(ex.highest_rate, 3))
    assert_passes(ex.check_highest_rate, scaled(ex.highest_rate, 1.008))
    assert_fails(ex.check_highest_rate, scaled(ex.highest_rate, 1.03))


def test_highest_rate_meets_the_target_exactly_and_is_continuous():
    """At the answer, the closed form's TPOT is the target (TPOT bound) or the batch is B_max
    (memory bound); the two answers meet where the limits swap."""
    rng = random.Random(5)
    for _ in range(200):
        case = ex._random_replica(rng)
        rate = ex.highest_rate(**case)
        w, s, pf, g = (case[k] for k in ("weights_s", "seq_s", "prefill_s", "output_tokens"))
        lam_max = 1 / (pf + g * s)
        tpot = w / (1 - rate / lam_max)
        if ex.binding_limit(**case) == "tpot":
            assert tpot == pytest.approx(case["tpot_target_s"], rel=1e-9)
            assert rate * g * tpot <= case["max_batch"]
        else:
            assert rate * g * tpot == pytest.approx(case["max_batch"], rel=1e-9)
            assert tpot < case["tpot_target_s"]
    # continuity at the swap: the target whose batch is exactly B_max
    base = dict(ex.LLAMA_8B_H100)
    lam_sat = ex._rates(**base, tpot_target_s=1.0)[2]
    tau = base["max_batch"] / (lam_sat * base["output_tokens"])
    below = ex.highest_rate(**base, tpot_target_s=tau * (1 - 1e-9))
    above = ex.highest_rate(**base, tpot_target_s=tau * (1 + 1e-9))
    assert below == pytest.approx(above, rel=1e-6)


def test_the_closed_form_is_near_the_simulated_answer():
    """The chapter's named case: the closed form against serving.highest_rate on the
    simulator, for a 20 ms target (mean TPOT; the closed form is a little optimistic)."""
    work = dict(prompt_tokens=lambda g: g.randint(128, 1024),
                output_tokens=lambda g: g.randint(32, 512), seed=1)
    closed = ex.highest_rate(**ex.LLAMA_8B_H100, tpot_target_s=0.020)
    r = serving.simulate("llama-3-8b", "H100-SXM", rate=closed, n_requests=math.ceil(40 * closed),
                         **work)
    assert r.mean("tpot_s") == pytest.approx(0.020, rel=0.15)


# replicas_needed ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (ex._replicas_no_batch, "EACH of the B sequences"),
        (ex._replicas_floor, "round up"),
        (ex._replicas_calendar, "30 days"),
    ],
)
def test_replicas_needed_wrong_answers(wrong, hint):
    assert_rejected(ex.check_replicas_needed, wrong, hint)


def test_replicas_needed_accepts_a_whole_float():
    assert_passes(ex.check_replicas_needed, lambda **kw: float(ex.replicas_needed(**kw)))
    assert_fails(ex.check_replicas_needed, lambda **kw: ex.replicas_needed(**kw) + 1)


def test_published_case_google_and_pope():
    assert ex.replicas_needed(480e12, 2000, 15.6e-3) == 1445  # 185M tokens/s over 128k


# worked example and score ---------------------------------------------------------------------


def test_worked_example_prints_a_hint_and_leaves_the_score_alone(capsys):
    before = ex.score()
    result = ex.check_example(lambda tokens_per_s, tpot_s: tokens_per_s / tpot_s)
    assert not result.passed and "multiplies" in result.hint
    assert ex.score() == before


def test_score_counts_tasks(capsys):
    for t in ex.TASKS:
        getattr(ex, f"check_{t.name}")()
    ex.check_binding_limit(lambda **kw: "tpot")
    passed, total = ex.score()
    assert (passed, total) == (len(ex.TASKS) - 1, len(ex.TASKS))
    assert f"{passed}/{total} tasks passed" in capsys.readouterr().out
