"""The warm-up exercise's checks accept the reference and reject plausible wrong answers."""

from __future__ import annotations

import pytest
from grading_helpers import (
    assert_fails,
    assert_passes,
    assert_rejected,
    scaled,
    sig_figs,
)
from tokenmath.checks import ex00_warmup as ex

GIB = 2**30


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda peak_flops, bandwidth: bandwidth / peak_flops, "divide the FLOP/s by the bytes/s"),
        (lambda peak_flops, bandwidth: 2 * peak_flops / bandwidth, "sparsity"),
        (lambda peak_flops, bandwidth: peak_flops / bandwidth / 2, "factor 2"),
        (lambda peak_flops, bandwidth: (peak_flops / 1e9) / (bandwidth / GIB), "GiB against GB"),
    ],
)
def test_ridge_point_wrong_answers(wrong, hint):
    assert_rejected(ex.check_ridge_point, wrong, hint)


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda flops, bytes_moved, peak_flops, bandwidth:
         flops / peak_flops + bytes_moved / bandwidth, "upper bound"),
        (lambda flops, bytes_moved, peak_flops, bandwidth:
         min(flops / peak_flops, bytes_moved / bandwidth), "maximum, not the minimum"),
        (lambda flops, bytes_moved, peak_flops, bandwidth: flops / peak_flops, "memory time"),
        (lambda flops, bytes_moved, peak_flops, bandwidth:
         1000 * max(flops / peak_flops, bytes_moved / bandwidth), "milliseconds"),
    ],
)
def test_time_lower_bound_wrong_answers(wrong, hint):
    assert_rejected(ex.check_time_lower_bound, wrong, hint)


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda flops, bytes_moved, peak_flops, bandwidth:
         "memory" if flops / peak_flops >= bytes_moved / bandwidth else "compute", "swapped"),
        (lambda flops, bytes_moved, peak_flops, bandwidth:
         "Compute" if flops > bytes_moved else "Memory", "comparing FLOPs with bytes"),
        (lambda flops, bytes_moved, peak_flops, bandwidth:
         "compute" if flops / bytes_moved > bandwidth / peak_flops else "memory", "inverse"),
    ],
)
def test_limiting_resource_wrong_answers(wrong, hint):
    assert_rejected(ex.check_limiting_resource, wrong, hint)


def test_limiting_resource_labels_ignore_case_and_spaces():
    assert_passes(ex.check_limiting_resource,
                  lambda **kw: f" {ex.limiting_resource(**kw).upper()} ")


def test_limiting_resource_rejects_non_labels():
    result = assert_fails(ex.check_limiting_resource, lambda **kw: 1.0)
    assert "return a string" in result.message and "'compute'" in result.message
    result = assert_fails(ex.check_limiting_resource, lambda **kw: "memory-bound")
    assert "return one of 'compute', 'memory'" in result.message


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda bytes_moved, peak_flops, bandwidth: bytes_moved * bandwidth / peak_flops,
         "upside down"),
        (lambda bytes_moved, peak_flops, bandwidth: bytes_moved / bandwidth, "memory time"),
        (lambda bytes_moved, peak_flops, bandwidth: peak_flops / bandwidth, "that is the ridge"),
    ],
)
def test_hidden_flops_wrong_answers(wrong, hint):
    assert_rejected(ex.check_hidden_flops, wrong, hint)


@pytest.mark.parametrize(
    ("check", "reference"),
    [(ex.check_ridge_point, ex.ridge_point), (ex.check_time_lower_bound, ex.time_lower_bound),
     (ex.check_hidden_flops, ex.hidden_flops)],
)
def test_graded_to_a_tenth_of_a_percent(check, reference):
    # "Graded to 0.1 %": 4 significant figures and an error of 0.05 % pass; 0.3 % fails.
    assert_passes(check, sig_figs(reference, 4))
    assert_passes(check, scaled(reference, 1.0005))
    assert_fails(check, scaled(reference, 1.003))


def test_published_ridge_case_is_named_in_the_message():
    result = ex.check_ridge_point(lambda peak_flops, bandwidth: 2 * peak_flops / bandwidth)
    assert "9.89e+14" in result.message and "295" in result.message
    assert "published" in result.message


def test_exception_in_reader_code_is_a_message_not_a_traceback():
    def buggy(peak_flops, bandwidth):
        return peak_flops / undefined_name  # noqa: F821

    result = ex.check_ridge_point(buggy)
    assert not result.passed
    assert "NameError" in result.message and "on input ridge_point(" in result.message
    assert "Traceback" not in result.message


def test_non_number_return_is_reported():
    result = ex.check_ridge_point(lambda peak_flops, bandwidth: "295")
    assert not result.passed and "return a number" in result.message
    result = ex.check_ridge_point(lambda peak_flops, bandwidth: None)
    assert not result.passed and "return a number" in result.message


def test_wrong_answer_on_random_cases_only_is_caught():
    # Right on both published cases, wrong elsewhere: only the randomized cases catch it.
    def special_cased(peak_flops, bandwidth):
        if (peak_flops, bandwidth) == (989e12, 3.35e12):
            return 295.0
        if (peak_flops, bandwidth) == (312e12, 1.5e12):
            return 208.0
        return peak_flops / bandwidth * 1.1

    assert not ex.check_ridge_point(special_cased).passed


def test_worked_example_prints_a_hint_and_leaves_the_score_alone(capsys):
    before = ex.score()
    result = ex.check_example(lambda n_params, bytes_per_param: n_params * bytes_per_param / GIB)
    assert not result.passed and "GiB" in result.hint
    out = capsys.readouterr().out
    assert "not counted" in out and "not implemented" not in out
    assert ex.score() == before
    assert "weight_bytes" not in capsys.readouterr().out


def test_score_counts_tasks(capsys):
    for t in ex.TASKS:
        getattr(ex, f"check_{t.name}")()
    ex.check_time_lower_bound(lambda flops, bytes_moved, peak_flops, bandwidth: 0.0)
    passed, total = ex.score()
    assert (passed, total) == (len(ex.TASKS) - 1, len(ex.TASKS))
    assert f"{passed}/{total} tasks passed" in capsys.readouterr().out
