"""The KV-cache exercise's checks accept the reference and reject plausible wrong answers."""

from __future__ import annotations

import pytest
from grading_helpers import assert_rejected
from tokenmath import models
from tokenmath.checks import ex03_why_kv_cache as ex


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda n_params, prompt_len, new_tokens:
         2 * n_params * (new_tokens * prompt_len + new_tokens * (new_tokens + 1) / 2), "off by one"),
        (lambda n_params, prompt_len, new_tokens:
         2 * n_params * new_tokens * (new_tokens - 1) / 2, "forgot the prompt"),
        (lambda n_params, prompt_len, new_tokens:
         n_params * (new_tokens * prompt_len + new_tokens * (new_tokens - 1) / 2), "factor 2"),
        (lambda n_params, prompt_len, new_tokens:
         2 * n_params * (prompt_len + new_tokens - 1), "with* a cache"),
    ],
)
def test_flops_without_cache_wrong_answers(wrong, hint):
    assert_rejected(ex.check_flops_without_cache, wrong, hint)


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda n_params, prompt_len, new_tokens: 2 * n_params * (prompt_len + new_tokens),
         "one step too many"),
        (lambda n_params, prompt_len, new_tokens: 2 * n_params * new_tokens, "forgot the prompt"),
        (lambda n_params, prompt_len, new_tokens: n_params * (prompt_len + new_tokens - 1),
         "factor 2"),
    ],
)
def test_flops_with_cache_wrong_answers(wrong, hint):
    assert_rejected(ex.check_flops_with_cache, wrong, hint)


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda prompt_len, new_tokens: new_tokens / 2, "ignores the prompt"),
        (lambda prompt_len, new_tokens:
         (new_tokens * prompt_len + new_tokens * (new_tokens - 1) / 2) / new_tokens, "P + G - 1"),
        (lambda prompt_len, new_tokens:
         (prompt_len + new_tokens - 1)
         / (new_tokens * prompt_len + new_tokens * (new_tokens - 1) / 2), "upside down"),
    ],
)
def test_recompute_ratio_wrong_answers(wrong, hint):
    assert_rejected(ex.check_recompute_ratio, wrong, hint)


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda n_layers, n_kv_heads, head_dim, bytes_per_element, tokens:
         n_layers * n_kv_heads * head_dim * bytes_per_element * tokens, "K and V counted once"),
        (lambda n_layers, n_kv_heads, head_dim, bytes_per_element, tokens:
         2 * n_layers * n_kv_heads * head_dim * bytes_per_element * tokens / 2**30, "GiB"),
        (lambda n_layers, n_kv_heads, head_dim, bytes_per_element, tokens:
         16 * n_layers * n_kv_heads * head_dim * bytes_per_element * tokens, "bits"),
        (lambda n_layers, n_kv_heads, head_dim, bytes_per_element, tokens:
         2 * n_kv_heads * head_dim * bytes_per_element * tokens, "n_layers"),
    ],
)
def test_kv_cache_bytes_wrong_answers(wrong, hint):
    assert_rejected(ex.check_kv_cache_bytes, wrong, hint)


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda peak_flops, bandwidth, bytes_per_param, batch:
         peak_flops * bytes_per_param / (batch * bandwidth), "factor 2"),
        (lambda peak_flops, bandwidth, bytes_per_param, batch:
         peak_flops / (batch * bandwidth), "2-byte weights"),
        (lambda peak_flops, bandwidth, bytes_per_param, batch:
         peak_flops * bytes_per_param / (2 * bandwidth), "divide by the batch"),
        (lambda peak_flops, bandwidth, bytes_per_param, batch:
         peak_flops / (2 * batch * bandwidth), "bytes_per_param"),
    ],
)
def test_recompute_crossover_wrong_answers(wrong, hint):
    assert_rejected(ex.check_recompute_crossover, wrong, hint)


def test_f_over_w_passes_the_published_cases_but_not_the_random_ones():
    # kipply's 208 is F / W because bf16 weights take 2 bytes: right there, wrong for int8.
    result = ex.check_recompute_crossover(
        lambda peak_flops, bandwidth, bytes_per_param, batch: peak_flops / bandwidth / batch
    )
    assert not result.passed and "published" not in result.message


def test_reference_agrees_with_the_model_catalog():
    # kv_cache_bytes per token equals ModelConfig.kv_bytes_per_token for real presets.
    for name, dtype, b in [("llama-3-8b", "bf16", 2), ("llama-3-70b", "int8", 1),
                           ("llama-2-13b", "fp16", 2)]:
        m = models.get(name)
        assert ex.kv_cache_bytes(m.n_layers, m.n_kv_heads, m.head_dim, b, 1) == \
            m.kv_bytes_per_token(dtype)
    assert ex.kv_cache_bytes(80, 8, 128, 2, 1) == 327_680  # Llama-3-70B bf16: 320 KiB


def test_ratio_is_the_quotient_of_the_two_counts_and_grows_with_length():
    for p, g in [(1, 2), (1000, 1000), (128, 4096), (8192, 16)]:
        ratio = ex.flops_without_cache(1e9, p, g) / ex.flops_with_cache(1e9, p, g)
        assert ex.recompute_ratio(p, g) == pytest.approx(ratio, rel=1e-12)
    assert ex.recompute_ratio(1, 1) == 1.0  # one token: a single forward pass either way
    assert ex.recompute_ratio(1000, 2000) > ex.recompute_ratio(1000, 1000)
