"""tokenmath.decoder, .rungs and .checkpoint: the cache changes no token, the rungs change no
token, and a Hugging Face Llama checkpoint gives Hugging Face's logits."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from tokenmath import models
from tokenmath.decoder import Decoder, apply_rope, logits_tolerance, rope_tables
from tokenmath.kvcache import OutOfBlocksError, PagedKVCache, StaticKVCache
from tokenmath.rungs import DecodeStep, generate, split_kv_supported

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
TINY = models.get("tiny")
FP32 = dict(zip(("rtol", "atol"), logits_tolerance(torch.float32)))


@pytest.fixture(scope="module")
def tiny():
    return Decoder(TINY, seed=0)


@pytest.fixture(scope="module")
def prompt():
    return torch.randint(0, TINY.vocab_size, (2, 7), generator=torch.Generator().manual_seed(1))


def paged(batch: int, block_size: int, num_blocks: int, dtype=torch.float32) -> PagedKVCache:
    cache = PagedKVCache(TINY, num_blocks=num_blocks, block_size=block_size, dtype=dtype)
    cache.activate([cache.blocks.add_sequence() for _ in range(batch)])
    return cache


def test_parameter_count_and_weight_bytes_match_the_config(tiny):
    tied = dataclasses.replace(TINY, name="tiny-tied", tied_embeddings=True)
    for cfg, model in ((TINY, tiny), (tied, Decoder(tied))):
        assert sum(p.numel() for p in model.parameters()) == cfg.param_count()
        assert (model.lm_head is None) == cfg.tied_embeddings
        for b in (1, 5):
            assert model.weight_bytes_read(b) == cfg.decode_weight_params(b) * 4
    assert not any(p.requires_grad for p in tiny.parameters())


def test_seeded_weights(tiny):
    w = tiny.layers[0].attn.wqkv.weight
    assert torch.equal(w, Decoder(TINY, seed=0).layers[0].attn.wqkv.weight)
    assert not torch.equal(w, Decoder(TINY, seed=1).layers[0].attn.wqkv.weight)
    assert w.std().item() == pytest.approx(0.02, rel=0.1)


def test_no_cache_static_and_paged_generate_the_same(tiny, prompt):
    base_tokens, base_logits = tiny.generate(prompt, 9, cache=False)
    assert base_tokens.shape == (2, 16) and base_logits.shape == (9, 2, TINY.vocab_size)
    assert torch.equal(base_tokens[:, :7], prompt)
    small_blocks = paged(2, 3, 12)  # attention spans 6 blocks, interleaved between sequences
    for cache in (True, small_blocks):
        tokens, logits = tiny.generate(prompt, 9, cache=cache)
        assert torch.equal(tokens, base_tokens)
        torch.testing.assert_close(logits, base_logits, **FP32)
    assert small_blocks.blocks.block_table(0) == [0, 1, 2, 6, 8]  # 15 positions: 5 blocks
    assert small_blocks.used_bytes == TINY.kv_bytes_per_token("fp32") * 2 * 15


def test_logits_choose_the_tokens(tiny, prompt):
    tokens, logits = tiny.generate(prompt, 4)
    assert torch.equal(tokens[:, 7:], logits.argmax(-1).T)
    full = tiny(tokens)  # teacher-forced forward over the result
    torch.testing.assert_close(full[:, 6:10].transpose(0, 1), logits, **FP32)


def test_sampling_is_seeded(tiny, prompt):
    a, _ = tiny.generate(prompt, 6, greedy=False, seed=3)
    b, _ = tiny.generate(prompt, 6, greedy=False, seed=3, cache=False)
    c, _ = tiny.generate(prompt, 6, greedy=False, seed=4)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_chunked_prefill_equals_one_prefill(tiny, prompt):
    full = tiny(prompt)
    tiny.setup_caches(2, 10)
    first = tiny.prefill(prompt[:, :3])
    rest = tiny.prefill(prompt[:, 3:], start=3)  # attends to the cached 3 through a mask
    torch.testing.assert_close(torch.cat([first, rest], 1), full, **FP32)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_cache_matches_teacher_forcing(dtype, prompt):
    m = Decoder(TINY, dtype=dtype)
    rtol, atol = logits_tolerance(dtype)
    for cache in (True, paged(2, 4, 6, dtype)):
        tokens, logits = m.generate(prompt, 5, cache=cache)
        full = m(tokens)
        assert full.dtype == torch.float32
        torch.testing.assert_close(full[:, 6:11].transpose(0, 1), logits, rtol=rtol, atol=atol)


def test_masked_whole_cache_step_and_fixed_length_step_equal_decode_step(tiny, prompt):
    tiny.setup_caches(2, 12)
    tiny.prefill(prompt)
    masked = DecodeStep(tiny, "eager")  # the whole cache, masked after the position
    want = tiny.decode_step(prompt[:, 0], 7)
    torch.testing.assert_close(masked(prompt[:, 0], 7), want, **FP32)
    fixed = DecodeStep(tiny, "eager", kv_len=8)  # exactly 8 keys, no mask
    torch.testing.assert_close(fixed(prompt[:, 0], 7), want, **FP32)
    with pytest.raises(ValueError, match="pos must be 7"):
        fixed(prompt[:, 0], 5)


def test_compiled_rung_gives_the_eager_tokens(tiny, prompt):
    """One tiny torch.compile case: compiling on a CPU takes seconds."""
    eager_tokens, eager_logits = generate(tiny, prompt, 5, mode="eager")
    tokens, logits = generate(tiny, prompt, 5, mode="compiled")
    assert torch.equal(tokens, eager_tokens)
    torch.testing.assert_close(logits, eager_logits, **FP32)
    assert torch.equal(tokens, tiny.generate(prompt, 5, cache=False)[0])


def test_rope_is_the_rotate_half_formula_and_relative():
    h, T = 16, 6
    inv_freq = 1.0 / 10000.0 ** (torch.arange(0, h, 2).double() / h)
    pos = torch.arange(3, 3 + T)
    cos, sin = rope_tables(pos, inv_freq, torch.float64)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 5, T, h, dtype=torch.float64, generator=gen)
    # pair (x_i, x_{i + h/2}) rotated by the angle p * inv_freq_i
    a = pos.double()[:, None] * inv_freq[None, :]
    x1, x2 = x[..., : h // 2], x[..., h // 2 :]
    want = torch.cat((x1 * a.cos() - x2 * a.sin(), x2 * a.cos() + x1 * a.sin()), dim=-1)
    got = apply_rope(x, cos, sin)
    torch.testing.assert_close(got, want)
    torch.testing.assert_close(got.norm(dim=-1), x.norm(dim=-1))  # a rotation keeps norms
    q, k = torch.randn(2, h, dtype=torch.float64, generator=gen)

    def rotated(v, p):
        c, s = rope_tables(torch.tensor([p]), inv_freq, torch.float64)
        return apply_rope(v[None], c, s)[0]

    # q.k depends only on the distance between positions (angles in fp32: 1e-5 rad at 100)
    dot = float(torch.dot(rotated(q, 7), rotated(k, 4)))
    assert dot == pytest.approx(float(torch.dot(rotated(q, 103), rotated(k, 100))), rel=1e-4)
    assert dot != pytest.approx(float(torch.dot(rotated(q, 7), rotated(k, 5))), rel=1e-3)


def _ops_per_step(n_layers: int) -> int:
    """PyTorch operations that compute something (leaf aten ops, views left out) in one eager
    decode step of the tiny preset with ``n_layers`` layers, counted by torch.profiler."""
    from torch.profiler import ProfilerActivity, profile

    views = {"as_strided", "view", "transpose", "slice", "reshape", "expand", "unsqueeze", "t",
             "resolve_conj", "_unsafe_view", "select", "split", "chunk", "alias", "detach",
             "empty", "empty_strided", "resolve_neg", "narrow", "squeeze", "permute",
             "result_type", "_reshape_alias", "empty_like", "lift_fresh"}
    m = Decoder(dataclasses.replace(TINY, n_layers=n_layers))
    m.setup_caches(1, 17)
    step = DecodeStep(m, "eager", kv_len=17)
    tokens = torch.zeros(1, dtype=torch.long)
    step(tokens, 16)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        step(tokens, 16)
    return sum(
        1
        for e in prof.events()
        if e.name.startswith("aten::") and not e.cpu_children and e.name[6:] not in views
    )


def test_a_llama_3_8b_step_runs_about_850_operations():
    """Chapter 2: 'The step runs about 850 PyTorch operations that compute something'."""
    two, four = _ops_per_step(2), _ops_per_step(4)
    per_layer = (four - two) / 2
    assert per_layer == int(per_layer) and 20 <= per_layer <= 30
    assert 800 <= two + 30 * per_layer <= 900  # llama-3-8b has 32 layers


def test_paged_cache_out_of_blocks_during_generate(tiny, prompt):
    cache = paged(2, 4, 4)  # room for 8 tokens each
    with pytest.raises(OutOfBlocksError, match="need 2 more, 0 free of 4"):
        tiny.generate(prompt, 5, cache=cache)  # 7 + 4 decode positions > 8
    assert [cache.blocks.length(i) for i in cache.active] == [8, 8]


def test_bad_input(tiny, prompt):
    for name in ("mixtral-8x7b", "deepseek-v3"):
        with pytest.raises(ValueError, match="dense"):
            Decoder(models.get(name))
    with pytest.raises(ValueError, match="Llama-style"):
        Decoder(models.get("gpt2"))
    with pytest.raises(ValueError, match="sliding window"):
        Decoder(models.get("mistral-7b"))
    with pytest.raises(ValueError, match="no cache"):
        Decoder(TINY).prefill(prompt)
    with pytest.raises(ValueError, match="dtype"):
        Decoder(TINY, dtype=torch.float64)
    with pytest.raises(ValueError, match="new_tokens"):
        tiny.generate(prompt, 0)
    with pytest.raises(ValueError, match="cache"):
        tiny.generate(prompt, 2, cache="ring")
    with pytest.raises(ValueError, match="temperature"):
        tiny.generate(prompt, 2, greedy=False, temperature=float("nan"))
    with pytest.raises(ValueError, match="prompt"):
        tiny.generate(torch.zeros(2, 3), 2)
    with pytest.raises(ValueError, match="batch 2 but the cache holds 3"):
        tiny.generate(prompt, 2, cache=StaticKVCache(TINY, batch=3, max_len=9))
    with pytest.raises(ValueError, match="built for llama-3-8b"):
        tiny.use_cache(StaticKVCache(models.get("llama-3-8b"), batch=1, max_len=1))
    with pytest.raises(ValueError, match="cache holds torch.bfloat16"):
        tiny.use_cache(paged(2, 4, 4, torch.bfloat16))
    with pytest.raises(ValueError, match="mode"):
        generate(tiny, prompt, 2, mode="fast")
    tiny.use_cache(paged(2, 4, 4))
    with pytest.raises(ValueError, match="static cache"):
        DecodeStep(tiny, "eager")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU errors")
def test_graph_rung_and_split_kv_need_cuda(tiny, prompt):
    assert not split_kv_supported("cpu")
    with pytest.raises(ValueError, match="CUDA"):
        generate(tiny, prompt, 3, mode="graph")
    with pytest.raises(ValueError, match="flash"):
        generate(tiny, prompt, 3, split_kv=True)
    tiny.setup_caches(2, 8)
    assert not DecodeStep(tiny, "eager").split_kv  # auto: off without the flash kernel


# ----------------------------------------------------------------------------- real weights


def _hf_checkpoint(tmp_path_factory, name: str, **overrides):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    kw = dict(vocab_size=160, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
              num_attention_heads=4, num_key_value_heads=2, rope_theta=50000.0,
              rms_norm_eps=1e-6, max_position_embeddings=64, tie_word_embeddings=False)
    hf = LlamaForCausalLM(LlamaConfig(**{**kw, **overrides})).eval()
    path = tmp_path_factory.mktemp(name)
    hf.save_pretrained(path)
    return hf, path


@pytest.mark.parametrize(
    "name, overrides",
    [("gqa", {}), ("tied-mha", {"tie_word_embeddings": True, "num_key_value_heads": 4})],
)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_hugging_face_llama_checkpoint_gives_its_logits(tmp_path_factory, name, overrides, dtype):
    hf, path = _hf_checkpoint(tmp_path_factory, name, **overrides)
    model = Decoder.from_pretrained(path, dtype=dtype)
    cfg = model.config
    assert cfg.tied_embeddings == (name == "tied-mha") and cfg.n_kv_heads == (4 if overrides else 2)
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in hf.parameters())
    seq = torch.randint(0, 160, (2, 12), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        want = hf.to(dtype)(seq).logits.float()
    rtol, atol = logits_tolerance(dtype)
    torch.testing.assert_close(model(seq), want, rtol=rtol, atol=atol)  # no cache
    model.setup_caches(2, 12)  # prefill 8 tokens, then 4 decode steps
    prefill = model.prefill(seq[:, :8])
    steps = [model.decode_step(seq[:, p], p) for p in range(8, 12)]
    cached = torch.cat([prefill, torch.stack(steps, 1)], 1)
    torch.testing.assert_close(cached, want, rtol=rtol, atol=atol)


def test_checkpoint_errors(tmp_path):
    with pytest.raises(ValueError, match="config.json"):
        Decoder.from_pretrained(tmp_path)
    (tmp_path / "config.json").write_text('{"model_type": "gpt2"}')
    with pytest.raises(ValueError, match="model_type must be 'llama'"):
        Decoder.from_pretrained(tmp_path)
    cfg = ('{"model_type": "llama", "hidden_size": 64, "num_attention_heads": 4, '
           '"num_hidden_layers": 1, "intermediate_size": 96, "vocab_size": 160, ')
    (tmp_path / "config.json").write_text(cfg + '"rope_scaling": {"rope_type": "llama3"}}')
    with pytest.raises(ValueError, match="default RoPE"):
        Decoder.from_pretrained(tmp_path)
    (tmp_path / "config.json").write_text(cfg + '"rope_theta": 500000.0}')
    with pytest.raises(ValueError, match="safetensors"):
        Decoder.from_pretrained(tmp_path)


# ----------------------------------------------------------------------------- GPU only


@cuda
@pytest.mark.parametrize("mode", ["graph", "compiled"])
def test_fast_rungs_equal_eager_on_cuda(mode):
    m = Decoder(TINY, device="cuda")
    prompt = torch.randint(0, TINY.vocab_size, (2, 7), device="cuda")
    eager_tokens, eager_logits = generate(m, prompt, 8)
    tokens, logits = generate(m, prompt, 8, mode=mode)
    assert torch.equal(tokens, eager_tokens)
    torch.testing.assert_close(logits, eager_logits, rtol=1e-3, atol=1e-4)
    assert torch.equal(m.generate(prompt, 8, cache=False)[0], eager_tokens)


@cuda
@pytest.mark.parametrize("batch, split_kv", [(4, None), (1, True)])
def test_graph_fixed_length_step_on_cuda_bf16(batch, split_kv):
    if split_kv and not split_kv_supported("cuda"):
        pytest.skip("no flash kernel on this GPU")
    m = Decoder(models.get("small"), device="cuda", dtype=torch.bfloat16)
    cache = m.setup_caches(batch, 4097)
    for layer in cache.layers:
        layer.k.normal_()
        layer.v.normal_()
    tok = torch.randint(0, m.config.vocab_size, (batch,), device="cuda")
    eager = DecodeStep(m, "eager", kv_len=4097, split_kv=False)(tok, 4096).clone()
    graph = DecodeStep(m, "graph", kv_len=4097, split_kv=split_kv)(tok, 4096).clone()
    rtol, atol = logits_tolerance(torch.bfloat16)
    torch.testing.assert_close(graph, eager, rtol=rtol, atol=atol)
