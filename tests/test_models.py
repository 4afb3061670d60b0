"""Model presets: published parameter counts, KV bytes per token, decode weights, FLOPs, HF configs."""

from __future__ import annotations

import dataclasses
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tokenmath import models
from tokenmath.models import ModelConfig

# (preset, published total, published active or None, source)
PUBLISHED = [
    ("gpt2", 124e6, None),  # https://huggingface.co/openai-community/gpt2 (124M; exact 124,439,808)
    ("llama-2-7b", 6.74e9, None),  # https://huggingface.co/meta-llama/Llama-2-7b-hf (6.74B)
    ("llama-2-13b", 13.0e9, None),  # https://huggingface.co/meta-llama/Llama-2-13b-hf (13B)
    ("llama-2-70b", 69.0e9, None),  # https://huggingface.co/meta-llama/Llama-2-70b-hf (69B; "70B")
    ("llama-3-8b", 8.03e9, None),  # https://huggingface.co/meta-llama/Meta-Llama-3-8B (8.03B)
    ("llama-3-70b", 70.6e9, None),  # https://huggingface.co/meta-llama/Meta-Llama-3-70B (70.6B)
    ("llama-3-405b", 405e9, None),  # Llama 3 herd paper, arXiv 2407.21783 (405B)
    ("mistral-7b", 7.24e9, None),  # https://huggingface.co/mistralai/Mistral-7B-v0.1 (7.24B)
    # https://mistral.ai/news/mixtral-of-experts/ : 46.7B total, 12.9B used per token
    ("mixtral-8x7b", 46.7e9, 12.9e9),
    # DeepSeek-V3 technical report, arXiv 2412.19437: 671B total, 37B activated per token
    ("deepseek-v3", 671e9, 37e9),
    ("llama-3.2-1b", 1.24e9, None),  # https://huggingface.co/meta-llama/Llama-3.2-1B (1.24B)
]


@pytest.mark.parametrize("name, total, active", PUBLISHED)
def test_published_parameter_counts_within_2_percent(name, total, active):
    m = models.get(name)
    assert m.param_count() == pytest.approx(total, rel=0.02)
    if active is None:
        assert m.active_param_count() == m.param_count()
    else:
        assert m.active_param_count() == pytest.approx(active, rel=0.02)
    assert m.source


def test_exact_counts_where_known():
    # gpt2: 124,439,808 (HF); Llama-3-8B: 8,030,261,248 (HF safetensors metadata).
    assert models.get("gpt2").param_count() == 124_439_808
    assert models.get("llama-3-8b").param_count() == 8_030_261_248


def test_laptop_presets():
    tiny, small = models.get("tiny"), models.get("small")
    assert tiny.param_count() < 1_000_000 and tiny.vocab_size == 256 and tiny.n_layers == 2
    assert tiny.n_kv_heads < tiny.n_heads
    assert 10e6 <= small.param_count() <= 20e6
    assert small.n_kv_heads < small.n_heads and small.vocab_size <= 32000


# ---- KV bytes per token --------------------------------------------------------------------


def test_kv_llama3_70b_int8_is_160kB():
    # Scaling book, https://jax-ml.github.io/scaling-book/applied-inference/: L=80, K=8, h=128, 1 byte -> 163,840 B.
    assert models.get("llama-3-70b").kv_bytes_per_token("int8") == 163_840


def test_kv_llama3_bf16():
    # 2 L K h b: Llama-3-8B 128 KiB, 70B 320 KiB (bf16).
    assert models.get("llama-3-8b").kv_bytes_per_token() == 131_072
    assert models.get("llama-3-70b").kv_bytes_per_token("bf16") == 327_680


def test_kv_opt13b_like_mha_vllm_paper():
    # vLLM paper (Kwon et al., SOSP 2023, arXiv 2309.06180): OPT-13B, 2 x 5120 x 40 x 2 B = 800 KB.
    opt13b = ModelConfig("opt-13b-like", 40, 5120, 40, 40, 128, 20480, 50272)
    assert opt13b.kv_bytes_per_token("fp16") == 819_200


def test_kv_deepseek_v3_mla():
    # MLA caches the 512-d latent and the 64-d rope key: 61 x 576 x 2 B = 70,272 (DeepSeek-V2 paper, arXiv 2405.04434, Table 1).
    assert models.get("deepseek-v3").kv_bytes_per_token("bf16") == 61 * 576 * 2 == 70_272


def test_kv_scales_with_dtype_and_rejects_unknown():
    m = models.get("llama-3-8b")
    assert m.kv_bytes_per_token("fp32") == 2 * m.kv_bytes_per_token("bf16")
    assert m.kv_bytes_per_token("int4") == m.kv_bytes_per_token("bf16") / 4
    with pytest.raises(ValueError, match="dtype"):
        m.kv_bytes_per_token("fp64")


# ---- decode weights ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["llama-3-8b", "llama-2-70b", "mistral-7b", "small", "tiny"])
@pytest.mark.parametrize("batch", [1, 7, 64])
def test_decode_weight_params_dense_untied(name, batch):
    m = models.get(name)
    expected = m.param_count() - m.embedding_param_count() + batch * m.d_model
    assert m.decode_weight_params(batch) == expected


def test_decode_weight_params_tied_reads_table_once():
    m = models.get("llama-3.2-1b")
    assert m.decode_weight_params(1) == m.param_count()
    assert m.decode_weight_params(512) == m.param_count()


def test_decode_weight_params_gpt2_skips_position_table():
    m = models.get("gpt2")
    assert m.decode_weight_params(4) == m.param_count() - 1024 * 768 + 4 * 768


@pytest.mark.parametrize("name", ["mixtral-8x7b", "deepseek-v3"])
def test_moe_decode_weights_batch_one_uses_top_k(name):
    m = models.get(name)
    assert m.expected_experts_touched(1) == pytest.approx(m.n_active_experts)
    at_1 = m.decode_weight_params(1)
    assert at_1 == pytest.approx(m.active_param_count() - m.embedding_param_count() + m.d_model)


@pytest.mark.parametrize("name", ["mixtral-8x7b", "deepseek-v3"])
def test_moe_decode_weights_large_batch_reads_all_experts(name):
    m = models.get(name)
    all_weights = m.param_count() - m.embedding_param_count()
    big = m.decode_weight_params(10_000)
    assert big == pytest.approx(all_weights + 10_000 * m.d_model, rel=1e-6)
    assert m.expected_experts_touched(10_000) == pytest.approx(m.n_experts)


def test_mixtral_expected_experts_formula():
    m = models.get("mixtral-8x7b")
    # E (1 - (1 - k/E)^B) with E=8, k=2, B=3: 8 (1 - 0.75^3) = 4.625
    assert m.expected_experts_touched(3) == pytest.approx(4.625)


@given(batch=st.integers(min_value=1, max_value=4096))
def test_moe_decode_weights_monotone_in_batch(batch):
    for name in ("mixtral-8x7b", "deepseek-v3"):
        m = models.get(name)
        assert m.decode_weight_params(batch + 1) >= m.decode_weight_params(batch)
        assert m.decode_weight_params(batch) <= m.param_count()


@pytest.mark.parametrize("batch", [0, -1, 1.5, True, None])
def test_decode_weight_params_rejects_bad_batch(batch):
    with pytest.raises(ValueError, match="batch"):
        models.get("tiny").decode_weight_params(batch)


# ---- FLOPs ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [n for n, _, _ in PUBLISHED])
def test_flops_per_token_is_about_two_active_params_at_zero_context(name):
    m = models.get(name)
    f0 = m.flops_per_token(0)
    assert f0 == pytest.approx(2 * m.active_param_count(), rel=0.15)
    assert f0 <= 2 * m.active_param_count()


def test_flops_llama3_8b_exact_at_zero_context():
    m = models.get("llama-3-8b")
    assert m.flops_per_token(0) == 2 * (m.param_count() - m.embedding_param_count())


@given(context=st.integers(min_value=0, max_value=1_000_000))
def test_attention_flops_linear_in_context(context):
    m = models.get("llama-3-70b")
    per_key = 4 * m.n_layers * m.n_heads * m.head_dim
    assert m.attention_flops_per_token(context) == per_key * context
    assert m.flops_per_token(context) - m.flops_per_token(0) == pytest.approx(per_key * context)


def test_mla_decode_attention_is_absorbed():
    # Each head reads the cached latent (512) and rope key (64): 2 (512 + 64) FLOPs per key for
    # the score and 2 x 512 for the value, 2 x 1088 in all; not 2 (n + r + v) = 640.
    m = models.get("deepseek-v3")
    assert m.attention_flops_per_key() == 2 * 128 * 1088
    assert m.attention_flops_per_token(1000) == 61 * 1000 * 2 * 128 * 1088
    assert m.attention_flops_per_key() / (2 * 128 * (128 + 64 + 128)) == pytest.approx(3.4)


def test_mla_prefill_attention_is_uncompressed():
    m = models.get("deepseek-v3")
    assert m.prefill_attention_flops(10) == 61 * 2 * 128 * (128 + 64 + 128) * 55


@given(tokens=st.integers(min_value=1, max_value=300), window=st.integers(1, 100))
def test_prefill_attention_sums_the_decode_attention_of_each_position(tokens, window):
    m = ModelConfig(**{**BASE, "sliding_window": window, "n_window_layers": 1})
    total = sum(m.attention_flops_per_token(i) for i in range(1, tokens + 1))
    assert m.prefill_attention_flops(tokens) == pytest.approx(total)


# ---- sliding windows -----------------------------------------------------------------------


def test_window_caps_kv_bytes_and_attention_of_windowed_layers():
    m = ModelConfig(**{**BASE, "sliding_window": 100, "n_window_layers": 1})  # 1 of 2 layers
    per_layer = m.kv_bytes_per_token("bf16") / 2
    assert m.kv_cache_bytes(50) == 50 * m.kv_bytes_per_token("bf16")
    assert m.kv_cache_bytes(1000) == per_layer * (1000 + 100)
    assert m.attention_flops_per_token(1000) == m.attention_flops_per_key() * 1100
    assert m.cached_layer_tokens(1000) == 1100


def test_window_defaults_to_every_layer():
    m = ModelConfig(**{**BASE, "sliding_window": 64})
    assert m.n_window_layers == 2 and m.kv_cache_bytes(10_000) == 64 * m.kv_bytes_per_token()


def test_mistral_preset_has_its_window():
    m = models.get("mistral-7b")
    assert m.kv_cache_bytes(32768) == 4096 * m.kv_bytes_per_token()


def test_roofline_uses_the_window():
    from tokenmath import roofline

    m = models.get("mistral-7b")
    step = roofline.decode_step(m, "h100", batch=4, context=32768)
    assert step.kv_bytes == 4 * 4096 * m.kv_bytes_per_token()
    full = dataclasses.replace(m, sliding_window=0, n_window_layers=0)
    assert roofline.max_batch(m, "h100", 32768) > 7 * roofline.max_batch(full, "h100", 32768)
    # S* (about 370 tokens) is inside the 4096 window, so the window does not move it; with a
    # 100-token window the KV read stops growing first and some batch is always compute-bound
    assert roofline.critical_context(m, "h100") == roofline.critical_context(full, "h100") < 400
    short = dataclasses.replace(m, sliding_window=100)
    assert roofline.critical_context(short, "h100") == math.inf


@pytest.mark.parametrize("context", [1, 100, 5000, 50_000])
def test_critical_context_with_some_windowed_layers_balances(context):
    from tokenmath import roofline

    m = ModelConfig(**{**BASE, "sliding_window": 300, "n_window_layers": 1})
    s = roofline.critical_context(m, "h100")
    F, W = 989e12, 3.35e12
    assert m.flops_per_token(s) / F == pytest.approx(m.kv_cache_bytes(s) / W, rel=1e-9)
    assert (m.flops_per_token(context) / F > m.kv_cache_bytes(context) / W) == (context < s)


@pytest.mark.parametrize(
    "change, field",
    [
        (dict(sliding_window=-1), "sliding_window"),
        (dict(sliding_window=64, n_window_layers=3), "n_window_layers"),
        (dict(sliding_window=64, n_window_layers=0), "n_window_layers"),
        (dict(n_window_layers=1), "n_window_layers"),
        (dict(d_ff_shared_expert=64), "d_ff_shared_expert"),
    ],
)
def test_bad_window_and_expert_fields(change, field):
    with pytest.raises(ValueError, match=field):
        ModelConfig(**{**BASE, **change})


@pytest.mark.parametrize("context", [-1, math.nan, math.inf, "8", True])
def test_bad_context_raises(context):
    with pytest.raises(ValueError, match="context"):
        models.get("tiny").flops_per_token(context)


# ---- lookups -------------------------------------------------------------------------------


def test_names_and_case_insensitive_get():
    expected = {n for n, _, _ in PUBLISHED} | {"tiny", "small"}
    assert set(models.names()) == expected
    assert models.get("Llama-3-8B") is models.get("llama_3_8b")
    m = models.get("tiny")
    assert models.get(m) is m


def test_unknown_model_lists_names():
    with pytest.raises(KeyError) as info:
        models.get("llama-9")
    for name in models.names():
        assert name in str(info.value)


# ---- Hugging Face config.json round trips --------------------------------------------------

# meta-llama/Meta-Llama-3-8B config.json (architecture keys)
LLAMA3_8B = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "hidden_size": 4096,
    "intermediate_size": 14336,
    "num_attention_heads": 32,
    "num_hidden_layers": 32,
    "num_key_value_heads": 8,
    "vocab_size": 128256,
    "max_position_embeddings": 8192,
    "rms_norm_eps": 1e-05,
    "rope_theta": 500000.0,
    "tie_word_embeddings": False,
    "torch_dtype": "bfloat16",
}
# mistralai/Mixtral-8x7B-v0.1 config.json
MIXTRAL = {
    "architectures": ["MixtralForCausalLM"],
    "model_type": "mixtral",
    "hidden_size": 4096,
    "intermediate_size": 14336,
    "num_attention_heads": 32,
    "num_hidden_layers": 32,
    "num_key_value_heads": 8,
    "num_local_experts": 8,
    "num_experts_per_tok": 2,
    "vocab_size": 32000,
    "max_position_embeddings": 32768,
    "tie_word_embeddings": False,
    "router_aux_loss_coef": 0.02,
    "sliding_window": None,
}
# deepseek-ai/DeepSeek-V3 config.json
DEEPSEEK_V3 = {
    "architectures": ["DeepseekV3ForCausalLM"],
    "model_type": "deepseek_v3",
    "hidden_size": 7168,
    "intermediate_size": 18432,
    "moe_intermediate_size": 2048,
    "num_hidden_layers": 61,
    "num_nextn_predict_layers": 1,
    "num_attention_heads": 128,
    "num_key_value_heads": 128,
    "n_shared_experts": 1,
    "n_routed_experts": 256,
    "num_experts_per_tok": 8,
    "first_k_dense_replace": 3,
    "moe_layer_freq": 1,
    "q_lora_rank": 1536,
    "kv_lora_rank": 512,
    "qk_nope_head_dim": 128,
    "qk_rope_head_dim": 64,
    "v_head_dim": 128,
    "vocab_size": 129280,
    "tie_word_embeddings": False,
    "topk_method": "noaux_tc",
    "n_group": 8,
    "topk_group": 4,
}
# openai-community/gpt2 config.json
GPT2 = {
    "model_type": "gpt2",
    "n_ctx": 1024,
    "n_embd": 768,
    "n_head": 12,
    "n_layer": 12,
    "n_positions": 1024,
    "vocab_size": 50257,
    "activation_function": "gelu_new",
}


@pytest.mark.parametrize(
    "config, preset",
    [
        (LLAMA3_8B, "llama-3-8b"),
        (MIXTRAL, "mixtral-8x7b"),
        (DEEPSEEK_V3, "deepseek-v3"),
        (GPT2, "gpt2"),
    ],
)
def test_from_hf_config_round_trips_to_preset(config, preset):
    p = models.get(preset)
    m = models.from_hf_config(config, name=preset)
    assert dataclasses.replace(m, source=p.source) == p
    assert m.param_count() == p.param_count()


def test_from_hf_config_default_name_and_kv_heads():
    cfg = {k: v for k, v in LLAMA3_8B.items() if k != "num_key_value_heads"}
    m = models.from_hf_config(cfg)
    assert m.name == "llama" and m.n_kv_heads == m.n_heads  # MHA when the key is absent


@pytest.mark.parametrize(
    "drop",
    ["hidden_size", "num_hidden_layers", "num_attention_heads", "vocab_size", "intermediate_size"],
)
def test_from_hf_config_missing_key_names_it(drop):
    cfg = {k: v for k, v in LLAMA3_8B.items() if k != drop}
    with pytest.raises(ValueError, match=drop):
        models.from_hf_config(cfg)


def test_from_hf_config_missing_moe_key():
    cfg = {k: v for k, v in DEEPSEEK_V3.items() if k != "moe_intermediate_size"}
    with pytest.raises(ValueError, match="moe_intermediate_size"):
        models.from_hf_config(cfg)


def test_from_hf_config_rejects_non_dict():
    with pytest.raises(ValueError, match="config"):
        models.from_hf_config([1, 2])  # type: ignore[arg-type]


# ---- validation ----------------------------------------------------------------------------

BASE = dict(
    name="m", n_layers=2, d_model=64, n_heads=4, n_kv_heads=2, head_dim=16, d_ff=128, vocab_size=256
)


@pytest.mark.parametrize(
    "change, field",
    [
        (dict(n_layers=0), "n_layers"),
        (dict(d_model=-64), "d_model"),
        (dict(n_heads=4.0), "n_heads"),
        (dict(n_kv_heads=3), "n_kv_heads"),
        (dict(n_kv_heads=8), "n_kv_heads"),
        (dict(head_dim=True), "head_dim"),
        (dict(vocab_size=0), "vocab_size"),
        (dict(name=""), "name"),
        (dict(n_experts=4, n_active_experts=5, d_ff_expert=32), "n_active_experts"),
        (dict(n_experts=4, n_active_experts=0, d_ff_expert=32), "n_active_experts"),
        (dict(n_experts=4, n_active_experts=2), "d_ff_expert"),
        (dict(n_active_experts=2), "n_active_experts"),
        (dict(n_experts=4, n_active_experts=2, d_ff_expert=32, n_dense_layers=2), "n_dense_layers"),
        (dict(n_shared_experts=-1), "n_shared_experts"),
        (dict(kv_lora_rank=32), "qk_nope_head_dim"),
        (dict(v_head_dim=16), "v_head_dim"),
        (dict(mlp="geglu"), "mlp"),
        (dict(norm="batchnorm"), "norm"),
        (dict(tied_embeddings=1), "tied_embeddings"),
    ],
)
def test_bad_fields_raise_value_error_naming_field(change, field):
    with pytest.raises(ValueError, match=field):
        ModelConfig(**{**BASE, **change})


def test_frozen_and_hashable():
    m = models.get("tiny")
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.n_layers = 3  # type: ignore[misc]
    assert len({m, models.get("small"), models.get("tiny")}) == 2


@pytest.mark.parametrize(
    "extra, key",
    [
        (dict(layer_types=["full_attention", "chunked_attention"] * 16), "layer_types"),
        (dict(layer_types=["full_attention"] * 3), "layer_types"),
        (dict(sliding_window=4096, sliding_window_pattern=6), "sliding_window_pattern"),
        (dict(sliding_window=4096, use_sliding_window=True, max_window_layers="x"),
         "max_window_layers"),
        (dict(num_experts=8, num_experts_per_tok=2), "moe_intermediate_size"),
        (dict(num_experts=8, num_experts_per_tok=2, moe_intermediate_size=64,
              decoder_sparse_step=0), "decoder_sparse_step"),
        (dict(tie_word_embeddings="yes"), "tie_word_embeddings"),
        (dict(interleave_moe_layer_step=2), "interleave_moe_layer_step"),
        (dict(attention_chunk_size=8192), "attention_chunk_size"),
        (dict(n_routed_experts=8, num_experts_per_tok=2, moe_intermediate_size=64,
              moe_layer_freq=2), "moe_layer_freq"),
    ],
)
def test_from_hf_config_raises_on_what_it_cannot_model(extra, key):
    with pytest.raises(ValueError, match=key):
        models.from_hf_config({**LLAMA3_8B, **extra})


def test_unknown_model_type_without_tie_key_raises():
    cfg = {k: v for k, v in LLAMA3_8B.items() if k != "tie_word_embeddings"}
    assert models.from_hf_config(cfg).tied_embeddings is False  # llama: untied by default
    with pytest.raises(ValueError, match="tie_word_embeddings"):
        models.from_hf_config({**cfg, "model_type": "newarch"})


def test_qwen_moe_layers_follow_sparse_step_and_mlp_only_layers():
    cfg = {**LLAMA3_8B, "num_experts": 8, "num_experts_per_tok": 2, "moe_intermediate_size": 64,
           "decoder_sparse_step": 2, "mlp_only_layers": [1, 2]}  # fmt: skip
    m = models.from_hf_config(cfg)
    # 32 layers; MoE where (i + 1) % 2 == 0 (16 layers), less layer 1: 15 MoE, 17 dense
    assert m.n_moe_layers == 15 and m.n_dense_layers == 17


def test_opt_keys_and_projection_error():
    opt = dict(model_type="opt", hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
               vocab_size=50272, ffn_dim=3072, max_position_embeddings=2048)  # fmt: skip
    m = models.from_hf_config(opt)
    # OPT-125m as transformers builds it: 125,239,296 parameters.
    assert m.param_count() == 125_239_296 and m.learned_positions == 2050 and m.mlp == "relu"
    with pytest.raises(ValueError, match="word_embed_proj_dim"):
        models.from_hf_config({**opt, "word_embed_proj_dim": 512})


@pytest.mark.parametrize("bad", ["4096", 4096.5, math.nan, math.inf, True])
def test_from_hf_config_bad_value_names_key(bad):
    with pytest.raises(ValueError, match="hidden_size"):
        models.from_hf_config({**LLAMA3_8B, "hidden_size": bad})
