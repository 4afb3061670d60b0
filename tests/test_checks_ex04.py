"""The KV-memory exercise's checks accept the reference and reject plausible wrong answers."""

from __future__ import annotations

import math
import random

import pytest
from grading_helpers import assert_rejected
from tokenmath import hardware, models, roofline
from tokenmath.checks import ex04_kv_cache_memory as ex
from tokenmath.dtypes import bytes_per_element


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda n_layers, n_kv_heads, head_dim, dtype:
         n_layers * n_kv_heads * head_dim * bytes_per_element(dtype), "K and V counted once"),
        (lambda n_layers, n_kv_heads, head_dim, dtype:
         2 * n_layers * n_kv_heads * head_dim * bytes_per_element(dtype) / 1024, "KiB"),
        (lambda n_layers, n_kv_heads, head_dim, dtype: 4 * n_layers * n_kv_heads * head_dim,
         "ignored the dtype"),
        (lambda n_layers, n_kv_heads, head_dim, dtype:
         16 * n_layers * n_kv_heads * head_dim * bytes_per_element(dtype), "bits"),
    ],
)
def test_kv_bytes_per_token_wrong_answers(wrong, hint):
    assert_rejected(ex.check_kv_bytes_per_token, wrong, hint)


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda memory_bytes, n_params, bytes_per_param, kv_bytes_per_token, context:
         memory_bytes // (context * kv_bytes_per_token), "forgot the weights"),
        (lambda memory_bytes, n_params, bytes_per_param, kv_bytes_per_token, context:
         max(0, math.ceil((memory_bytes - n_params * bytes_per_param)
                          / (context * kv_bytes_per_token))), "ceil"),
        (lambda memory_bytes, n_params, bytes_per_param, kv_bytes_per_token, context:
         (memory_bytes - n_params * bytes_per_param) // (context * kv_bytes_per_token),
         "return 0"),
        (lambda memory_bytes, n_params, bytes_per_param, kv_bytes_per_token, context:
         max(0, (memory_bytes - n_params) // (context * kv_bytes_per_token)), "not N"),
    ],
)
def test_max_batch_wrong_answers(wrong, hint):
    assert_rejected(ex.check_max_batch_that_fits, wrong, hint)


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda length, block_size: length // block_size, "floor drops"),
        (lambda length, block_size: length // block_size + 1, "floor + 1"),
        (lambda length, block_size: length / block_size, "round n / s up"),
    ],
)
def test_blocks_needed_wrong_answers(wrong, hint):
    assert_rejected(ex.check_blocks_needed, wrong, hint)


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda lengths, block_size:
         (block_size * sum(math.ceil(n / block_size) for n in lengths) - sum(lengths))
         / sum(lengths), "not by the tokens"),
        (lambda lengths, block_size:
         100 * (1 - sum(lengths) / (block_size * sum(math.ceil(n / block_size) for n in lengths))),
         "percentage"),
        (lambda lengths, block_size:
         sum(lengths) / (block_size * sum(math.ceil(n / block_size) for n in lengths)),
         "used fraction"),
        (lambda lengths, block_size:
         1 - sum(lengths) / (block_size * sum(n // block_size + 1 for n in lengths)), "floor + 1"),
    ],
)
def test_paged_waste_wrong_answers(wrong, hint):
    assert_rejected(ex.check_paged_waste, wrong, hint)


def test_references_agree_with_the_library():
    for name in ("llama-3-8b", "llama-3-70b", "mistral-7b", "small"):
        m = models.get(name)
        for dtype in ("bf16", "int8", "fp32", "int4"):
            assert ex.kv_bytes_per_token(m.n_layers, m.n_kv_heads, m.head_dim, dtype) == \
                m.kv_bytes_per_token(dtype)
    # max_batch_that_fits is roofline.max_batch with N = param_count().
    for name, hw, context in [("llama-3-8b", "H100-SXM", 8192), ("llama-3-8b", "A100-40GB", 2048),
                              ("llama-2-13b", "A100-40GB", 2048), ("llama-3-70b", "H200", 4096)]:
        m = models.get(name)
        a = hardware.get(hw)
        ours = ex.max_batch_that_fits(a.hbm_bytes, m.param_count(), 2,
                                      m.kv_bytes_per_token("bf16"), context)
        assert ours == roofline.max_batch(m, a, context)


def test_paged_waste_matches_the_paging_module_and_stays_below_one_block():
    from tokenmath import paging

    rng = random.Random(1)
    for _ in range(50):
        lengths = [rng.randint(1, 3000) for _ in range(rng.randint(1, 30))]
        s = rng.choice([1, 8, 16, 64])
        w = ex.paged_waste(lengths, s)
        assert w == pytest.approx(paging.paged_waste(lengths, s), abs=1e-12)
        # at most s - 1 empty slots per sequence
        assert w * s * sum(ex.blocks_needed(n, s) for n in lengths) <= len(lengths) * (s - 1) + 1e-9
