"""Real Hugging Face configs parse to their published parameter counts and KV-cache sizes.

Each config below holds the architecture keys of the model's published ``config.json`` (the
other keys do not change the counts), written inline. Published counts carry their source;
a count matches when it is within one unit of the last digit the publisher gives.
"""

from __future__ import annotations

import pytest
from tokenmath import models

SW, FA = "sliding_attention", "full_attention"

CONFIGS = {
    "gpt2": dict(model_type="gpt2", vocab_size=50257, n_embd=768, n_layer=12, n_head=12,
                 n_positions=1024, activation_function="gelu_new"),
    "opt-125m": dict(model_type="opt", hidden_size=768, num_hidden_layers=12,
                     num_attention_heads=12, vocab_size=50272, ffn_dim=3072,
                     max_position_embeddings=2048, word_embed_proj_dim=768,
                     activation_function="relu"),
    "llama-2-7b": dict(model_type="llama", hidden_size=4096, num_hidden_layers=32,
                       num_attention_heads=32, num_key_value_heads=32, intermediate_size=11008,
                       vocab_size=32000, tie_word_embeddings=False),
    "llama-2-13b": dict(model_type="llama", hidden_size=5120, num_hidden_layers=40,
                        num_attention_heads=40, num_key_value_heads=40, intermediate_size=13824,
                        vocab_size=32000, tie_word_embeddings=False),
    "llama-3.1-8b": dict(model_type="llama", hidden_size=4096, num_hidden_layers=32,
                         num_attention_heads=32, num_key_value_heads=8, intermediate_size=14336,
                         vocab_size=128256, tie_word_embeddings=False),
    "llama-3.1-70b": dict(model_type="llama", hidden_size=8192, num_hidden_layers=80,
                          num_attention_heads=64, num_key_value_heads=8,
                          intermediate_size=28672, vocab_size=128256, tie_word_embeddings=False),
    "llama-3.1-405b": dict(model_type="llama", hidden_size=16384, num_hidden_layers=126,
                           num_attention_heads=128, num_key_value_heads=8,
                           intermediate_size=53248, vocab_size=128256,
                           tie_word_embeddings=False),
    "llama-3.2-1b": dict(model_type="llama", hidden_size=2048, num_hidden_layers=16,
                         num_attention_heads=32, num_key_value_heads=8, head_dim=64,
                         intermediate_size=8192, vocab_size=128256, tie_word_embeddings=True),
    "llama-3.2-3b": dict(model_type="llama", hidden_size=3072, num_hidden_layers=28,
                         num_attention_heads=24, num_key_value_heads=8, head_dim=128,
                         intermediate_size=8192, vocab_size=128256, tie_word_embeddings=True),
    "mistral-7b": dict(model_type="mistral", hidden_size=4096, num_hidden_layers=32,
                       num_attention_heads=32, num_key_value_heads=8, intermediate_size=14336,
                       vocab_size=32000, tie_word_embeddings=False, sliding_window=4096),
    "mixtral-8x7b": dict(model_type="mixtral", hidden_size=4096, num_hidden_layers=32,
                         num_attention_heads=32, num_key_value_heads=8,
                         intermediate_size=14336, vocab_size=32000, tie_word_embeddings=False,
                         sliding_window=None, num_local_experts=8, num_experts_per_tok=2),
    "mixtral-8x22b": dict(model_type="mixtral", hidden_size=6144, num_hidden_layers=56,
                          num_attention_heads=48, num_key_value_heads=8,
                          intermediate_size=16384, vocab_size=32000, tie_word_embeddings=False,
                          sliding_window=None, num_local_experts=8, num_experts_per_tok=2),
    "phi-3.5-mini": dict(model_type="phi3", hidden_size=3072, num_hidden_layers=32,
                         num_attention_heads=32, num_key_value_heads=32, intermediate_size=8192,
                         vocab_size=32064, tie_word_embeddings=False, sliding_window=262144),
    "gemma-2-9b": dict(model_type="gemma2", hidden_size=3584, num_hidden_layers=42,
                       num_attention_heads=16, num_key_value_heads=8, head_dim=256,
                       intermediate_size=14336, vocab_size=256000, sliding_window=4096),
    "qwen2.5-7b": dict(model_type="qwen2", hidden_size=3584, num_hidden_layers=28,
                       num_attention_heads=28, num_key_value_heads=4, intermediate_size=18944,
                       vocab_size=152064, tie_word_embeddings=False, sliding_window=131072,
                       use_sliding_window=False, max_window_layers=28),
    "qwen2.5-72b-instruct": dict(model_type="qwen2", hidden_size=8192, num_hidden_layers=80,
                                 num_attention_heads=64, num_key_value_heads=8,
                                 intermediate_size=29568, vocab_size=152064,
                                 tie_word_embeddings=False, sliding_window=131072,
                                 use_sliding_window=False, max_window_layers=70),
    "qwen3-8b": dict(model_type="qwen3", hidden_size=4096, num_hidden_layers=36,
                     num_attention_heads=32, num_key_value_heads=8, head_dim=128,
                     intermediate_size=12288, vocab_size=151936, tie_word_embeddings=False,
                     sliding_window=None, use_sliding_window=False, max_window_layers=36),
    "qwen3-32b": dict(model_type="qwen3", hidden_size=5120, num_hidden_layers=64,
                      num_attention_heads=64, num_key_value_heads=8, head_dim=128,
                      intermediate_size=25600, vocab_size=151936, tie_word_embeddings=False,
                      sliding_window=None, use_sliding_window=False, max_window_layers=64),
    "qwen1.5-moe-a2.7b": dict(model_type="qwen2_moe", hidden_size=2048, num_hidden_layers=24,
                              num_attention_heads=16, num_key_value_heads=16,
                              intermediate_size=5632, vocab_size=151936,
                              tie_word_embeddings=False, sliding_window=32768,
                              use_sliding_window=False, max_window_layers=21, num_experts=60,
                              num_experts_per_tok=4, moe_intermediate_size=1408,
                              shared_expert_intermediate_size=5632, decoder_sparse_step=1),
    "qwen3-30b-a3b": dict(model_type="qwen3_moe", hidden_size=2048, num_hidden_layers=48,
                          num_attention_heads=32, num_key_value_heads=4, head_dim=128,
                          intermediate_size=6144, vocab_size=151936, tie_word_embeddings=False,
                          sliding_window=None, use_sliding_window=False, max_window_layers=48,
                          num_experts=128, num_experts_per_tok=8, moe_intermediate_size=768,
                          decoder_sparse_step=1, mlp_only_layers=[]),
    "qwen3-235b-a22b": dict(model_type="qwen3_moe", hidden_size=4096, num_hidden_layers=94,
                            num_attention_heads=64, num_key_value_heads=4, head_dim=128,
                            intermediate_size=12288, vocab_size=151936,
                            tie_word_embeddings=False, sliding_window=None,
                            use_sliding_window=False, max_window_layers=94, num_experts=128,
                            num_experts_per_tok=8, moe_intermediate_size=1536,
                            decoder_sparse_step=1, mlp_only_layers=[]),
    "gpt-oss-20b": dict(model_type="gpt_oss", hidden_size=2880, num_hidden_layers=24,
                        num_attention_heads=64, num_key_value_heads=8, head_dim=64,
                        intermediate_size=2880, vocab_size=201088, tie_word_embeddings=False,
                        sliding_window=128, layer_types=[SW, FA] * 12, num_local_experts=32,
                        num_experts_per_tok=4),
    "deepseek-v2-lite": dict(model_type="deepseek_v2", hidden_size=2048, num_hidden_layers=27,
                             num_attention_heads=16, num_key_value_heads=16,
                             intermediate_size=10944, vocab_size=102400, num_experts_per_tok=6,
                             moe_intermediate_size=1408, n_routed_experts=64, n_shared_experts=2,
                             first_k_dense_replace=1, moe_layer_freq=1, kv_lora_rank=512,
                             qk_nope_head_dim=128, qk_rope_head_dim=64, v_head_dim=128),
    "deepseek-v3": dict(model_type="deepseek_v3", hidden_size=7168, num_hidden_layers=61,
                        num_attention_heads=128, num_key_value_heads=128,
                        intermediate_size=18432, vocab_size=129280, tie_word_embeddings=False,
                        num_experts_per_tok=8, moe_intermediate_size=2048, n_routed_experts=256,
                        n_shared_experts=1, first_k_dense_replace=3, moe_layer_freq=1,
                        q_lora_rank=1536, kv_lora_rank=512, qk_nope_head_dim=128,
                        qk_rope_head_dim=64, v_head_dim=128, num_nextn_predict_layers=1),
}  # fmt: skip

# (config, what is counted, published value as printed, unit, source). What is counted:
# "total"; "active" (per token, embeddings included); "active-no-input-embedding" (the input
# table is a lookup, not a matmul); "non-embedding" (total minus input and output tables).
PUBLISHED = [
    ("gpt2", "total", "124", 1e6, "https://huggingface.co/openai-community/gpt2"),
    ("opt-125m", "total", "125", 1e6, "OPT paper, arXiv 2205.01068, Table 1"),
    ("llama-2-7b", "total", "6.74", 1e9, "https://huggingface.co/meta-llama/Llama-2-7b-hf"),
    ("llama-2-13b", "total", "13.0", 1e9, "https://huggingface.co/meta-llama/Llama-2-13b-hf"),
    ("llama-3.1-8b", "total", "8.03", 1e9, "https://huggingface.co/meta-llama/Llama-3.1-8B"),
    ("llama-3.1-70b", "total", "70.6", 1e9, "https://huggingface.co/meta-llama/Llama-3.1-70B"),
    ("llama-3.1-405b", "total", "405", 1e9, "Llama 3 herd paper, arXiv 2407.21783"),
    ("llama-3.2-1b", "total", "1.24", 1e9, "https://huggingface.co/meta-llama/Llama-3.2-1B"),
    ("llama-3.2-3b", "total", "3.21", 1e9, "https://huggingface.co/meta-llama/Llama-3.2-3B"),
    ("mistral-7b", "total", "7.24", 1e9, "https://huggingface.co/mistralai/Mistral-7B-v0.1"),
    ("mixtral-8x7b", "total", "46.7", 1e9, "https://mistral.ai/news/mixtral-of-experts/"),
    ("mixtral-8x7b", "active", "12.9", 1e9, "https://mistral.ai/news/mixtral-of-experts/"),
    ("mixtral-8x22b", "total", "141", 1e9, "https://mistral.ai/news/mixtral-8x22b/"),
    ("mixtral-8x22b", "active", "39", 1e9, "https://mistral.ai/news/mixtral-8x22b/"),
    ("phi-3.5-mini", "total", "3.8", 1e9,
     "https://huggingface.co/microsoft/Phi-3.5-mini-instruct"),
    # Gemma 2 paper, arXiv 2408.00118, Table 2: 917,504,000 embedding + 8,324,201,984 others
    # (tokenmath counts 2 of Gemma-2's 4 norms per layer: 150,528 fewer).
    ("gemma-2-9b", "total", "9.24", 1e9, "arXiv 2408.00118, Table 2"),
    ("gemma-2-9b", "non-embedding", "8.32", 1e9, "arXiv 2408.00118, Table 2"),
    ("qwen2.5-7b", "total", "7.61", 1e9, "https://huggingface.co/Qwen/Qwen2.5-7B"),
    ("qwen2.5-7b", "non-embedding", "6.53", 1e9, "https://huggingface.co/Qwen/Qwen2.5-7B"),
    ("qwen2.5-72b-instruct", "total", "72.7", 1e9,
     "https://huggingface.co/Qwen/Qwen2.5-72B-Instruct"),
    # The card prints 70.0B; the shapes give 70.2B without either 1.25B table (0.3 % apart).
    ("qwen2.5-72b-instruct", "non-embedding", "70", 1e9,
     "https://huggingface.co/Qwen/Qwen2.5-72B-Instruct"),
    ("qwen3-8b", "total", "8.2", 1e9, "https://huggingface.co/Qwen/Qwen3-8B"),
    ("qwen3-8b", "non-embedding", "6.95", 1e9, "https://huggingface.co/Qwen/Qwen3-8B"),
    ("qwen3-32b", "total", "32.8", 1e9, "https://huggingface.co/Qwen/Qwen3-32B"),
    ("qwen3-32b", "non-embedding", "31.2", 1e9, "https://huggingface.co/Qwen/Qwen3-32B"),
    ("qwen1.5-moe-a2.7b", "total", "14.3", 1e9, "https://huggingface.co/Qwen/Qwen1.5-MoE-A2.7B"),
    ("qwen1.5-moe-a2.7b", "active", "2.7", 1e9, "https://huggingface.co/Qwen/Qwen1.5-MoE-A2.7B"),
    ("qwen3-30b-a3b", "total", "30.5", 1e9, "https://huggingface.co/Qwen/Qwen3-30B-A3B"),
    ("qwen3-30b-a3b", "active", "3.3", 1e9, "https://huggingface.co/Qwen/Qwen3-30B-A3B"),
    ("qwen3-30b-a3b", "non-embedding", "29.9", 1e9, "https://huggingface.co/Qwen/Qwen3-30B-A3B"),
    ("qwen3-235b-a22b", "total", "235", 1e9, "https://huggingface.co/Qwen/Qwen3-235B-A22B"),
    ("qwen3-235b-a22b", "active", "22", 1e9, "https://huggingface.co/Qwen/Qwen3-235B-A22B"),
    ("qwen3-235b-a22b", "non-embedding", "234", 1e9,
     "https://huggingface.co/Qwen/Qwen3-235B-A22B"),
    ("gpt-oss-20b", "total", "20.9", 1e9, "gpt-oss model card, arXiv 2508.10925, Table 1"),
    ("gpt-oss-20b", "active-no-input-embedding", "3.61", 1e9,
     "gpt-oss model card, arXiv 2508.10925, Table 1"),
    ("deepseek-v2-lite", "total", "15.7", 1e9,
     "https://huggingface.co/deepseek-ai/DeepSeek-V2-Lite"),
    ("deepseek-v2-lite", "active-no-input-embedding", "2.4", 1e9,
     "https://huggingface.co/deepseek-ai/DeepSeek-V2-Lite"),
    ("deepseek-v3", "total", "671", 1e9, "DeepSeek-V3 technical report, arXiv 2412.19437"),
    ("deepseek-v3", "active", "37", 1e9, "DeepSeek-V3 technical report, arXiv 2412.19437"),
]  # fmt: skip


def _count(m: models.ModelConfig, what: str) -> int:
    emb = m.embedding_param_count()
    return {
        "total": m.param_count(),
        "active": m.active_param_count(),
        "active-no-input-embedding": m.active_param_count() - emb,
        "non-embedding": m.param_count() - emb * (1 if m.tied_embeddings else 2),
    }[what]


def _last_digit(printed: str) -> float:
    """One unit of the last printed digit: "2.7" -> 0.1, "235" -> 1."""
    return 10.0 ** -len(printed.split(".")[1]) if "." in printed else 1.0


@pytest.mark.parametrize("name, what, printed, unit, source", PUBLISHED)
def test_published_parameter_counts(name, what, printed, unit, source):
    m = models.from_hf_config(CONFIGS[name], name=name)
    assert _count(m, what) / unit == pytest.approx(float(printed), abs=_last_digit(printed))


def test_every_config_has_a_published_total():
    assert {n for n, what, *_ in PUBLISHED if what == "total"} == set(CONFIGS)


@pytest.mark.parametrize(
    "name, kv_kb_per_token",
    [
        ("llama-3.1-70b", 327.680),  # 2 x 80 x 8 x 128 x 2 B, the scaling book's 70B example
        ("qwen2.5-7b", 57.344),  # 2 x 28 x 4 x 128 x 2 B
        ("gemma-2-9b", 344.064),  # 2 x 42 x 8 x 256 x 2 B
        ("deepseek-v3", 70.272),  # MLA: 61 x (512 + 64) x 2 B (DeepSeek-V2 paper, Table 1)
        ("deepseek-v2-lite", 31.104),  # 27 x 576 x 2 B
    ],
)
def test_kv_bytes_per_token_bf16(name, kv_kb_per_token):
    m = models.from_hf_config(CONFIGS[name])
    assert m.kv_bytes_per_token("bf16") == pytest.approx(kv_kb_per_token * 1e3)


def _kv_ratio(name: str, context: int) -> float:
    """Full-attention KV bytes over the windowed cache at ``context`` tokens."""
    m = models.from_hf_config(CONFIGS[name])
    return context * m.kv_bytes_per_token() / m.kv_cache_bytes(context)


def test_mistral_rolling_buffer_is_8x_smaller_at_32k():
    # Mistral 7B paper, arXiv 2310.06825, sec. 2: "on a sequence length of 32k tokens, this
    # reduces the cache memory usage by 8x".
    assert _kv_ratio("mistral-7b", 32768) == 8.0


def test_gemma2_alternating_windows_at_8k():
    # 21 of 42 layers keep 4096 tokens, the rest all 8192: the full count overstates by 33 %.
    assert _kv_ratio("gemma-2-9b", 8192) == pytest.approx(4 / 3)
    assert models.from_hf_config(CONFIGS["gemma-2-9b"]).n_window_layers == 21


def test_gpt_oss_half_its_layers_keep_128_tokens():
    r = _kv_ratio("gpt-oss-20b", 131072)
    assert r == pytest.approx(2 * 131072 / (131072 + 128))


@pytest.mark.parametrize("name", ["qwen2.5-7b", "qwen1.5-moe-a2.7b", "llama-3.1-8b", "qwen3-8b"])
def test_no_window_when_the_config_disables_it(name):
    m = models.from_hf_config(CONFIGS[name])
    assert m.sliding_window == 0 and _kv_ratio(name, 100_000) == 1.0


def test_phi35_window_beyond_its_context_changes_nothing():
    assert _kv_ratio("phi-3.5-mini", 131072) == 1.0


def test_qwen_moe_is_not_parsed_as_dense():
    m = models.from_hf_config(CONFIGS["qwen3-30b-a3b"])
    assert (m.n_experts, m.n_active_experts, m.d_ff_expert, m.n_dense_layers) == (128, 8, 768, 0)
    q15 = models.from_hf_config(CONFIGS["qwen1.5-moe-a2.7b"])
    assert (q15.n_shared_experts, q15.d_ff_shared_expert) == (1, 5632)


def test_gemma2_ties_its_embeddings_without_the_key():
    assert models.from_hf_config(CONFIGS["gemma-2-9b"]).tied_embeddings is True
