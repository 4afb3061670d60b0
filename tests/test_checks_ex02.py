"""Chapter 2 exercise checks accept the reference and reject plausible wrong answers."""

from __future__ import annotations

import pytest
from grading_helpers import assert_passes, assert_rejected
from tokenmath import models
from tokenmath.checks import ex02_transformer_arithmetic as ex


def _shape(m):
    return dict(n_layers=m.n_layers, d_model=m.d_model, n_heads=m.n_heads,
                n_kv_heads=m.n_kv_heads, head_dim=m.head_dim, d_ff=m.d_ff,
                vocab_size=m.vocab_size, tied_embeddings=m.tied_embeddings)


@pytest.mark.parametrize("name", ["llama-3-8b", "llama-3-70b", "mistral-7b", "llama-3.2-1b",
                                  "small", "tiny"])
def test_references_agree_with_the_library(name):
    m = models.get(name)
    assert ex.param_count(**_shape(m)) == m.param_count()
    assert ex.kv_bytes_per_token(m.n_layers, m.n_heads, m.n_kv_heads, m.head_dim, 2) == (
        m.kv_bytes_per_token("bf16"))
    matmul = m.param_count() - (0 if m.tied_embeddings else m.embedding_param_count())
    assert ex.flops_per_token(matmul, m.n_layers, m.n_heads, m.n_kv_heads, m.head_dim,
                              4096) == pytest.approx(m.flops_per_token(4096))


def test_expected_experts_agrees_with_the_library():
    for name in ("mixtral-8x7b", "deepseek-v3"):
        m = models.get(name)
        for b in (1, 7, 100, 5000):
            assert ex.expected_experts_touched(m.n_experts, m.n_active_experts, b) == (
                pytest.approx(m.expected_experts_touched(b)))


def test_attention_ratio_is_s_over_8d_for_mha_with_4d_mlp():
    for d, s in ((1024, 100), (4096, 32768), (8192, 1)):
        assert ex.attention_to_matmul_ratio(d, d // 128, d // 128, 128, 4 * d, s) == (
            pytest.approx(s / (8 * d)))
    # GQA shrinks the projections, so attention catches up at a shorter context.
    gqa = ex.attention_to_matmul_ratio(4096, 32, 8, 128, 16384, 32768)
    assert gqa > 1.0


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda n_layers, d_model, n_heads, n_kv_heads, head_dim, d_ff, vocab_size,
         tied_embeddings: ex.param_count(n_layers, d_model, n_heads, n_heads, head_dim, d_ff,
                                         vocab_size, tied_embeddings), "n_kv_heads"),
        (lambda n_layers, d_model, n_heads, n_kv_heads, head_dim, d_ff, vocab_size,
         tied_embeddings: vocab_size * d_model * (1 if tied_embeddings else 2)
         + n_layers * (2 * d_model * head_dim * (n_heads + n_kv_heads) + 2 * d_model * d_ff),
         "three"),
        (lambda n_layers, d_model, n_heads, n_kv_heads, head_dim, d_ff, vocab_size,
         tied_embeddings: ex.param_count(n_layers, d_model, n_heads, n_kv_heads, head_dim, d_ff,
                                         vocab_size, True), "two V x d tables"),
        (lambda n_layers, d_model, n_heads, n_kv_heads, head_dim, d_ff, vocab_size,
         tied_embeddings: n_layers * (2 * d_model * head_dim * (n_heads + n_kv_heads)
                                      + 3 * d_model * d_ff), "embedding table"),
    ],
)
def test_param_count_wrong_answers(wrong, hint):
    assert_rejected(ex.check_param_count, wrong, hint)


def test_param_count_without_norms_passes():
    # Norm weights are below the tolerance: leaving them out is not a mistake.
    def no_norms(n_layers, d_model, n_heads, n_kv_heads, head_dim, d_ff, vocab_size,
                 tied_embeddings):
        return (vocab_size * d_model * (1 if tied_embeddings else 2)
                + n_layers * (2 * d_model * head_dim * (n_heads + n_kv_heads)
                              + 3 * d_model * d_ff))

    assert_passes(ex.check_param_count, no_norms)


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda n_layers, n_heads, n_kv_heads, head_dim, bytes_per_element:
         n_layers * n_kv_heads * head_dim * bytes_per_element, "K and V counted once"),
        (lambda n_layers, n_heads, n_kv_heads, head_dim, bytes_per_element:
         2 * n_layers * n_heads * head_dim * bytes_per_element, "n_kv_heads heads, not n_heads"),
        (lambda n_layers, n_heads, n_kv_heads, head_dim, bytes_per_element:
         2 * n_layers * n_kv_heads * head_dim * bytes_per_element / 1024, "KiB"),
        (lambda n_layers, n_heads, n_kv_heads, head_dim, bytes_per_element:
         16 * n_layers * n_kv_heads * head_dim * bytes_per_element, "bits"),
    ],
)
def test_kv_bytes_wrong_answers(wrong, hint):
    assert_rejected(ex.check_kv_bytes_per_token, wrong, hint)


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda n_matmul_params, n_layers, n_heads, n_kv_heads, head_dim, context:
         6 * n_matmul_params + 4 * n_layers * context * n_heads * head_dim, "training rule"),
        (lambda n_matmul_params, n_layers, n_heads, n_kv_heads, head_dim, context:
         n_matmul_params + 4 * n_layers * context * n_heads * head_dim, "2 FLOPs"),
        (lambda n_matmul_params, n_layers, n_heads, n_kv_heads, head_dim, context:
         2 * n_matmul_params, "Add attention"),
        (lambda n_matmul_params, n_layers, n_heads, n_kv_heads, head_dim, context:
         2 * n_matmul_params + 4 * n_layers * context * n_kv_heads * head_dim, "query heads"),
    ],
)
def test_flops_per_token_wrong_answers(wrong, hint):
    assert_rejected(ex.check_flops_per_token, wrong, hint)


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda n_experts, top_k, batch: min(n_experts, top_k * batch), "tokens overlap"),
        (lambda n_experts, top_k, batch: top_k * batch, "distinct experts"),
        (lambda n_experts, top_k, batch: n_experts * (1 - (1 - 1 / n_experts) ** batch),
         "k experts, not one"),
        (lambda n_experts, top_k, batch: 1 - (1 - top_k / n_experts) ** batch, "multiply by E"),
    ],
)
def test_expected_experts_wrong_answers(wrong, hint):
    assert_rejected(ex.check_expected_experts_touched, wrong, hint)


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda d_model, n_heads, n_kv_heads, head_dim, d_ff, context: context / (8 * d_model),
         "only for multi-head"),
        (lambda d_model, n_heads, n_kv_heads, head_dim, d_ff, context:
         4 * context * n_kv_heads * head_dim
         / (2 * (2 * d_model * head_dim * (n_heads + n_kv_heads) + 3 * d_model * d_ff)),
         "query heads"),
        (lambda d_model, n_heads, n_kv_heads, head_dim, d_ff, context:
         4 * context * n_heads * head_dim
         / (2 * d_model * head_dim * (n_heads + n_kv_heads) + 3 * d_model * d_ff),
         "factor 2"),
        (lambda d_model, n_heads, n_kv_heads, head_dim, d_ff, context:
         4 * context * n_heads * head_dim
         / (2 * (4 * d_model * head_dim * n_heads + 3 * d_model * d_ff)), "n_kv_heads heads"),
    ],
)
def test_attention_ratio_wrong_answers(wrong, hint):
    assert_rejected(ex.check_attention_to_matmul_ratio, wrong, hint)


def test_score_counts_tasks(capsys):
    for t in ex.TASKS:
        getattr(ex, f"check_{t.name}")()
    ex.check_kv_bytes_per_token(lambda **kw: 0.0)
    passed, total = ex.score()
    assert (passed, total) == (len(ex.TASKS) - 1, len(ex.TASKS))
    assert f"{passed}/{total} tasks passed" in capsys.readouterr().out


def test_step_time_with_overhead_agrees_with_the_library():
    from tokenmath import roofline

    e = roofline.decode_step("llama-3-8b", "h200", 64, 2048, overhead_s=2e-3)
    assert ex.step_time_with_overhead(
        e.flops, e.bytes, 989e12, 4.8e12, 2e-3
    ) == pytest.approx(e.time_s)


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda flops, bytes_read, peak_flops, bandwidth, overhead_s:
         max(flops / peak_flops, bytes_read / bandwidth), "left out the fixed cost"),
        (lambda flops, bytes_read, peak_flops, bandwidth, overhead_s:
         max(flops / peak_flops, bytes_read / bandwidth, overhead_s), "not a third roof"),
        (lambda flops, bytes_read, peak_flops, bandwidth, overhead_s:
         flops / peak_flops + bytes_read / bandwidth + overhead_s, "overlap"),
        (lambda flops, bytes_read, peak_flops, bandwidth, overhead_s:
         max(flops / peak_flops, bytes_read / bandwidth + overhead_s), "memory term"),
        # milliseconds instead of seconds: no known mistake, but still rejected
        (lambda flops, bytes_read, peak_flops, bandwidth, overhead_s:
         1e3 * (max(flops / peak_flops, bytes_read / bandwidth) + overhead_s), ""),
    ],
)
def test_step_time_with_overhead_wrong_answers(wrong, hint):
    if hint:
        assert_rejected(ex.check_step_time_with_overhead, wrong, hint)
    else:
        assert not ex.check_step_time_with_overhead(wrong).passed
