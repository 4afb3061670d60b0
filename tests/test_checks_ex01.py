"""Chapter 1 exercise checks accept the reference and reject plausible wrong answers."""

from __future__ import annotations

import math

import pytest
from grading_helpers import (
    assert_fails,
    assert_passes,
    assert_rejected,
    flipped,
    scaled,
    sig_figs,
)
from tokenmath import hardware
from tokenmath.checks import ex01_rooflines as ex

TIB = 2**40


def _bytes(batch, d_in, d_out, b):
    return b * (batch * d_in + d_in * d_out + batch * d_out)


def test_intensity_tends_to_batch_in_bf16():
    # 2BDF / (2BD + 2DF + 2BF) -> B for B << D, F (https://jax-ml.github.io/scaling-book/roofline/).
    for b in (1, 4, 16, 64):
        assert ex.arithmetic_intensity(b, 65536, 65536, 2) == pytest.approx(b, rel=3e-3)
    # int8 weights and int8 activations: about 2B.
    assert ex.arithmetic_intensity(8, 65536, 65536, 1) == pytest.approx(16, rel=1e-3)


def test_min_compute_bound_batch_is_the_boundary():
    h100 = hardware.get("h100")
    f, w = h100.peak_flops("bf16"), h100.hbm_bandwidth
    b = ex.min_compute_bound_batch(8192, 8192, 2, f, w)
    assert ex.matmul_regime(b, 8192, 8192, 2, f, w) == "compute"
    assert ex.matmul_regime(b - 1, 8192, 8192, 2, f, w) == "memory"
    assert b > h100.ridge("bf16")  # the activations' bytes push it past the small-batch rule
    # A huge weight: the small-batch rule becomes exact.
    assert ex.min_compute_bound_batch(2**20, 2**20, 2, f, w) == math.ceil(f / w)


def test_datasheet_ridge_is_the_catalog_ridge():
    assert ex.datasheet_ridge(1979, 3.35) == pytest.approx(hardware.get("h100").ridge("bf16"),
                                                           rel=1e-3)


def test_cheaper_chip_depends_on_the_regime():
    h100, a100 = (989e12, 3.35e12, 3.0), (312e12, 2.039e12, 1.5)
    decode = {"flops": 14e9, "bytes_moved": 14e9}
    matmul = {"flops": 2 * 8192**3, "bytes_moved": 3 * 8192**2 * 2}
    for work, answer in ((decode, "b"), (matmul, "a")):
        assert ex.cheaper_chip(**work, peak_flops_a=h100[0], bandwidth_a=h100[1],
                               usd_per_hour_a=h100[2], peak_flops_b=a100[0],
                               bandwidth_b=a100[1], usd_per_hour_b=a100[2]) == answer


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda batch, d_in, d_out, bytes_per_element:
         batch * d_in * d_out / _bytes(batch, d_in, d_out, bytes_per_element), "2 FLOPs"),
        (lambda batch, d_in, d_out, bytes_per_element:
         2 * batch * d_in * d_out / (bytes_per_element * d_in * d_out), "weight bytes"),
        (lambda batch, d_in, d_out, bytes_per_element:
         2 * batch * d_in * d_out / (batch * d_in + d_in * d_out + batch * d_out), "elements"),
        (lambda batch, d_in, d_out, bytes_per_element: batch, "small-batch limit"),
    ],
)
def test_arithmetic_intensity_wrong_answers(wrong, hint):
    assert_rejected(ex.check_arithmetic_intensity, wrong, hint)


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (flipped(ex.matmul_regime, ("compute", "memory")), "swapped"),
        (lambda batch, d_in, d_out, bytes_per_element, peak_flops, bandwidth:
         "compute" if batch > peak_flops / bandwidth else "memory", "2-byte elements"),
        (lambda batch, d_in, d_out, bytes_per_element, peak_flops, bandwidth:
         "COMPUTE" if 2 * batch / bytes_per_element > peak_flops / bandwidth else "MEMORY",
         "activations' bytes"),
        (lambda batch, d_in, d_out, bytes_per_element, peak_flops, bandwidth:
         "compute" if batch * d_in * d_out / peak_flops
         > _bytes(batch, d_in, d_out, bytes_per_element) / bandwidth else "memory", "2 FLOPs"),
    ],
)
def test_matmul_regime_wrong_answers(wrong, hint):
    assert_rejected(ex.check_matmul_regime, wrong, hint)


def _exact_batch(d_in, d_out, bytes_per_element, peak_flops, bandwidth):
    p, b = peak_flops, bytes_per_element
    return p * b * d_in * d_out / (2 * d_in * d_out * bandwidth - p * b * (d_in + d_out))


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        # int() instead of ceil: differs only where the solution is not whole.
        (lambda **kw: int(_exact_batch(**kw)), "round UP"),
        (lambda **kw: round(_exact_batch(**kw)), "not to the nearest"),
        (lambda d_in, d_out, bytes_per_element, peak_flops, bandwidth:
         math.ceil(peak_flops * bytes_per_element / (2 * bandwidth)), "small-batch rule"),
        (lambda d_in, d_out, bytes_per_element, peak_flops, bandwidth:
         math.ceil(peak_flops / bandwidth), "2-byte elements only"),
    ],
)
def test_min_compute_bound_batch_wrong_answers(wrong, hint):
    assert_rejected(ex.check_min_compute_bound_batch, wrong, hint)


def test_min_compute_bound_batch_is_exact_and_accepts_a_search():
    def search(d_in, d_out, bytes_per_element, peak_flops, bandwidth):
        batch = 1
        while (2 * batch * d_in * d_out / peak_flops
               < _bytes(batch, d_in, d_out, bytes_per_element) / bandwidth):
            batch += 1
        return batch

    assert_passes(ex.check_min_compute_bound_batch, search)
    assert_passes(ex.check_min_compute_bound_batch, lambda **kw: float(search(**kw)))
    result = assert_fails(ex.check_min_compute_bound_batch, _exact_batch)  # not rounded
    assert "whole number" in result.message
    assert_fails(ex.check_min_compute_bound_batch, lambda **kw: search(**kw) + 1)


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda tflops_with_sparsity, bandwidth_tb_per_s:
         tflops_with_sparsity / bandwidth_tb_per_s, "with sparsity"),
        (lambda tflops_with_sparsity, bandwidth_tb_per_s:
         tflops_with_sparsity / 2 * 1e12 / (bandwidth_tb_per_s * TIB), "GiB against GB"),
        (lambda tflops_with_sparsity, bandwidth_tb_per_s:
         tflops_with_sparsity * 1e12 / (bandwidth_tb_per_s * TIB), "two slips"),
        (lambda tflops_with_sparsity, bandwidth_tb_per_s:
         bandwidth_tb_per_s / (tflops_with_sparsity / 2), "FLOPs per byte"),
    ],
)
def test_datasheet_ridge_wrong_answers(wrong, hint):
    assert_rejected(ex.check_datasheet_ridge, wrong, hint)


def _time(flops, bytes_moved, peak, bandwidth):
    return max(flops / peak, bytes_moved / bandwidth)


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda flops, bytes_moved, peak_flops_a, bandwidth_a, usd_per_hour_a, peak_flops_b,
         bandwidth_b, usd_per_hour_b: "a" if usd_per_hour_a < usd_per_hour_b else "b",
         "hourly price"),
        (lambda flops, bytes_moved, peak_flops_a, bandwidth_a, usd_per_hour_a, peak_flops_b,
         bandwidth_b, usd_per_hour_b:
         "a" if _time(flops, bytes_moved, peak_flops_a, bandwidth_a)
         < _time(flops, bytes_moved, peak_flops_b, bandwidth_b) else "b", "faster chip"),
        # FLOP/s per dollar: right whenever both chips are compute-bound, so it fails only on
        # some cases; the hint still comes.
        (lambda flops, bytes_moved, peak_flops_a, bandwidth_a, usd_per_hour_a, peak_flops_b,
         bandwidth_b, usd_per_hour_b:
         "A" if peak_flops_a / usd_per_hour_a > peak_flops_b / usd_per_hour_b else "B",
         "FLOP/s per dollar"),
        (lambda flops, bytes_moved, peak_flops_a, bandwidth_a, usd_per_hour_a, peak_flops_b,
         bandwidth_b, usd_per_hour_b:
         "a" if bandwidth_a / usd_per_hour_a > bandwidth_b / usd_per_hour_b else "b",
         "bandwidth per dollar"),
    ],
)
def test_cheaper_chip_wrong_answers(wrong, hint):
    assert_rejected(ex.check_cheaper_chip, wrong, hint)


@pytest.mark.parametrize(
    ("check", "reference"),
    [(ex.check_arithmetic_intensity, ex.arithmetic_intensity),
     (ex.check_datasheet_ridge, ex.datasheet_ridge)],
)
def test_graded_to_a_tenth_of_a_percent(check, reference):
    assert_passes(check, sig_figs(reference, 4))
    assert_passes(check, scaled(reference, 0.9995))
    assert_fails(check, scaled(reference, 0.997))


def test_sparse_datasheet_message_names_the_published_case():
    result = ex.check_datasheet_ridge(lambda tflops_with_sparsity, bandwidth_tb_per_s:
                                      tflops_with_sparsity / bandwidth_tb_per_s)
    assert "published" in result.message and "295" in result.message


def test_worked_example_prints_a_hint_and_leaves_the_score_alone(capsys):
    before = ex.score()
    result = ex.check_example(lambda n_bytes, bandwidth: 1e3 * n_bytes / bandwidth)
    assert not result.passed and "milliseconds" in result.hint
    assert ex.score() == before


def test_score_counts_tasks(capsys):
    for t in ex.TASKS:
        getattr(ex, f"check_{t.name}")()
    ex.check_cheaper_chip(lambda **kw: "a")
    passed, total = ex.score()
    assert (passed, total) == (len(ex.TASKS) - 1, len(ex.TASKS))
    assert f"{passed}/{total} tasks passed" in capsys.readouterr().out
