"""Chapter 1 exercise checks accept the reference and reject plausible wrong answers."""

from __future__ import annotations

import pytest
from grading_helpers import assert_rejected
from tokenmath import hardware
from tokenmath.checks import ex01_rooflines as ex

TIB = 2**40

def test_intensity_tends_to_batch_in_bf16():
    # 2BDF / (2BD + 2DF + 2BF) -> B for B << D, F (scaling book roofline.md).
    for b in (1, 4, 16, 64):
        assert ex.arithmetic_intensity(b, 65536, 65536, 2) == pytest.approx(b, rel=3e-3)
    # int8 weights and int8 activations: about 2B.
    assert ex.arithmetic_intensity(8, 65536, 65536, 1) == pytest.approx(16, rel=1e-3)


def test_critical_batch_agrees_with_the_catalog_ridge():
    h100 = hardware.get("h100")
    assert ex.critical_batch(h100.peak_flops("bf16"), h100.hbm_bandwidth, 2) == pytest.approx(
        h100.ridge("bf16"))
    # int8 weights with int8 compute: the same batch as bf16 (scaling book).
    assert ex.critical_batch(h100.peak_flops("int8"), h100.hbm_bandwidth, 1) == pytest.approx(
        h100.ridge("bf16"), rel=1e-3)


def test_matmul_time_is_memory_bound_below_the_ridge_and_compute_bound_above():
    t1 = ex.matmul_time(1, 8192, 8192, 2, 989e12, 3.35e12)
    t2 = ex.matmul_time(2, 8192, 8192, 2, 989e12, 3.35e12)
    assert t2 == pytest.approx(t1, rel=1e-3)  # flat: the weights dominate
    t_big = ex.matmul_time(4096, 8192, 8192, 2, 989e12, 3.35e12)
    assert t_big == pytest.approx(2 * 4096 * 8192**2 / 989e12)


def test_datasheet_ridge_is_the_catalog_ridge():
    assert ex.datasheet_ridge(1979, 3.35) == pytest.approx(hardware.get("h100").ridge("bf16"),
                                                           rel=1e-3)


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda batch, d_in, d_out, bytes_per_element:
         batch * d_in * d_out / (bytes_per_element * (batch * d_in + d_in * d_out
                                                      + batch * d_out)), "2 FLOPs"),
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
        (lambda intensity, peak_flops, bandwidth: max(peak_flops, intensity * bandwidth),
         "not the max"),
        (lambda intensity, peak_flops, bandwidth: intensity * bandwidth, "compute roof"),
        (lambda intensity, peak_flops, bandwidth: peak_flops, "memory limits"),
        (lambda intensity, peak_flops, bandwidth: min(peak_flops, bandwidth / intensity),
         "multiply"),
    ],
)
def test_attainable_flops_wrong_answers(wrong, hint):
    assert_rejected(ex.check_attainable_flops, wrong, hint)


def _bytes(batch, d_in, d_out, b):
    return b * (batch * d_in + d_in * d_out + batch * d_out)


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda batch, d_in, d_out, bytes_per_element, peak_flops, bandwidth:
         2 * batch * d_in * d_out / peak_flops
         + _bytes(batch, d_in, d_out, bytes_per_element) / bandwidth, "no overlap"),
        (lambda batch, d_in, d_out, bytes_per_element, peak_flops, bandwidth:
         max(batch * d_in * d_out / peak_flops,
             _bytes(batch, d_in, d_out, bytes_per_element) / bandwidth), "2 FLOPs"),
        (lambda batch, d_in, d_out, bytes_per_element, peak_flops, bandwidth:
         max(2 * batch * d_in * d_out / peak_flops,
             bytes_per_element * d_in * d_out / bandwidth), "weight bytes"),
        (lambda batch, d_in, d_out, bytes_per_element, peak_flops, bandwidth:
         1000 * max(2 * batch * d_in * d_out / peak_flops,
                    _bytes(batch, d_in, d_out, bytes_per_element) / bandwidth), "milliseconds"),
    ],
)
def test_matmul_time_wrong_answers(wrong, hint):
    assert_rejected(ex.check_matmul_time, wrong, hint)


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda peak_flops, bandwidth, bytes_per_weight: peak_flops / bandwidth, "2-byte weights"),
        (lambda peak_flops, bandwidth, bytes_per_weight: peak_flops * bytes_per_weight / bandwidth,
         "sparsity"),
        (lambda peak_flops, bandwidth, bytes_per_weight:
         2 * peak_flops / (bytes_per_weight * bandwidth), "don't divide"),
    ],
)
def test_critical_batch_wrong_answers(wrong, hint):
    assert_rejected(ex.check_critical_batch, wrong, hint)


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


def test_sparse_datasheet_message_names_the_published_case():
    result = ex.check_datasheet_ridge(lambda tflops_with_sparsity, bandwidth_tb_per_s:
                                      tflops_with_sparsity / bandwidth_tb_per_s)
    assert "published" in result.message and "295" in result.message


def test_score_counts_tasks(capsys):
    for t in ex.TASKS:
        getattr(ex, f"check_{t.name}")()
    ex.check_matmul_time(lambda **kw: 0.0)
    passed, total = ex.score()
    assert (passed, total) == (len(ex.TASKS) - 1, len(ex.TASKS))
    assert f"{passed}/{total} tasks passed" in capsys.readouterr().out
