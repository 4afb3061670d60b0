"""Chapter 8 exercise checks accept the reference and reject plausible wrong answers."""

from __future__ import annotations

import pytest
from grading_helpers import (
    assert_fails,
    assert_passes,
    assert_rejected,
    flipped,
    scaled,
    sig_figs,
)
from tokenmath import cost, roofline
from tokenmath.checks import ex08_cost_of_a_token as ex


def test_dollars_per_million_matches_the_library():
    step = roofline.decode_step("llama-3-70b", "H100-SXM", 64, 1024, n_chips=8)
    mine = ex.dollars_per_million(step.time_s, 64, 8, 2.0)
    assert mine == pytest.approx(cost.per_million_tokens(step, 2.0), rel=1e-12)


def test_penalty_all_weights_is_ridge_times_sparsity():
    p = ex.batching_penalty(671.03e9, 37.55e9, 1, 1979e12, 4.8e12, "all")
    assert p == pytest.approx(1979e12 / (2 * 4.8e12) * 671.03 / 37.55, rel=1e-9)
    assert ex.batching_penalty(671.03e9, 37.55e9, 1, 1979e12, 4.8e12, " Active ") \
        == pytest.approx(1979e12 / (2 * 4.8e12), rel=1e-9)


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda step_s, batch, n_chips, price_per_hour:
         1e6 * price_per_hour / 3600 * step_s / batch, "bills n chips"),
        (lambda step_s, batch, n_chips, price_per_hour:
         1e6 * price_per_hour * n_chips / 3600 * step_s, "divide by the batch"),
        (lambda step_s, batch, n_chips, price_per_hour:
         price_per_hour * n_chips / 3600 * step_s / batch, "a million tokens"),
        (lambda step_s, batch, n_chips, price_per_hour:
         1e6 * price_per_hour * n_chips / 60 * step_s / batch, "3,600 seconds"),
    ],
)
def test_dollars_per_million_wrong_answers(wrong, hint):
    assert_rejected(ex.check_dollars_per_million, wrong, hint)


def test_dollars_per_million_graded_to_a_tenth_of_a_percent():
    assert_passes(ex.check_dollars_per_million, sig_figs(ex.dollars_per_million, 4))
    assert_passes(ex.check_dollars_per_million, scaled(ex.dollars_per_million, 1.0008))
    assert_fails(ex.check_dollars_per_million, scaled(ex.dollars_per_million, 1.003))


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (ex._faster, "not the cheaper token"),
        (ex._per_step, "divide by the batch"),
        (ex._one_chip, "all n of them"),
        (flipped(ex.cheaper_deployment, ex.DEPLOYMENTS), None),
    ],
)
def test_cheaper_deployment_wrong_answers(wrong, hint):
    if hint is None:
        assert_fails(ex.check_cheaper_deployment, wrong)
    else:
        assert_rejected(ex.check_cheaper_deployment, wrong, hint)


def test_cheaper_deployment_is_case_insensitive():
    assert_passes(ex.check_cheaper_deployment,
                  lambda **kw: ex.cheaper_deployment(**kw).upper())


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (ex._no_kv, "subtract"),
        (ex._kv_plus, "not plus"),
        (ex._one_flop, "2 FLOPs"),
    ],
)
def test_cost_stops_falling_wrong_answers(wrong, hint):
    assert_rejected(ex.check_cost_stops_falling, wrong, hint)


def test_cost_stops_falling_graded_to_one_percent():
    assert_passes(ex.check_cost_stops_falling, sig_figs(ex.cost_stops_falling, 3))
    assert_passes(ex.check_cost_stops_falling, scaled(ex.cost_stops_falling, 1.008))
    assert_fails(ex.check_cost_stops_falling, scaled(ex.cost_stops_falling, 1.03))


def test_cost_stops_falling_is_near_the_library():
    mine = ex.cost_stops_falling(70.55e9, 327680, 1024, 2, 989e12, 3.35e12)
    lib = roofline.balance_batch("llama-3-70b", "H100-SXM", 1024)
    assert mine == pytest.approx(lib, rel=0.05)


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (ex._swapped, "swapped"),
        (ex._total_compute, "ACTIVE parameters"),
        (ex._no_factor_two, "2 FLOPs"),
    ],
)
def test_batching_penalty_wrong_answers(wrong, hint):
    assert_rejected(ex.check_batching_penalty, wrong, hint)


def test_batching_penalty_graded_to_one_percent():
    assert_passes(ex.check_batching_penalty, sig_figs(ex.batching_penalty, 3))
    assert_passes(ex.check_batching_penalty, scaled(ex.batching_penalty, 0.992))
    assert_fails(ex.check_batching_penalty, scaled(ex.batching_penalty, 1.03))


def test_worked_example_prints_a_hint_and_leaves_the_score_alone(capsys):
    before = ex.score()
    result = ex.check_example(lambda step_s, batch, price_per_hour:
                              3600 / step_s / price_per_hour)
    assert not result.passed and "EACH" in result.hint
    assert ex.score() == before


def test_score_counts_tasks(capsys):
    for t in ex.TASKS:
        getattr(ex, f"check_{t.name}")()
    ex.check_cheaper_deployment(lambda **kw: "a")
    passed, total = ex.score()
    assert (passed, total) == (len(ex.TASKS) - 1, len(ex.TASKS))
    assert f"{passed}/{total} tasks passed" in capsys.readouterr().out
