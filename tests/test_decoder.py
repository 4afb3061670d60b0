"""tokenmath.decoder: the no-cache, static and paged paths agree; fast paths equal eager."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F
from tokenmath import models
from tokenmath.decoder import Decoder, FastDecode, logits_tolerance
from tokenmath.kvcache import PagedKVCache, StaticKVCache

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
TINY = models.get("tiny")


@pytest.fixture(scope="module")
def tiny():
    return Decoder(TINY, seed=0)


@pytest.fixture(scope="module")
def prompt():
    return torch.randint(0, TINY.vocab_size, (2, 7), generator=torch.Generator().manual_seed(1))


def test_parameter_count_matches_the_config(tiny):
    assert sum(p.numel() for p in tiny.parameters()) == TINY.param_count()
    tied = dataclasses.replace(TINY, name="tiny-tied", tied_embeddings=True)
    m = Decoder(tied)
    assert m.lm_head is None
    assert sum(p.numel() for p in m.parameters()) == tied.param_count()
    assert not any(p.requires_grad for p in m.parameters())


def test_seeded_weights(tiny):
    same = Decoder(TINY, seed=0)
    other = Decoder(TINY, seed=1)
    w = tiny.layers[0].attn.wqkv.weight
    assert torch.equal(w, same.layers[0].attn.wqkv.weight)
    assert not torch.equal(w, other.layers[0].attn.wqkv.weight)
    assert w.std().item() == pytest.approx(0.02, rel=0.1)


def test_no_cache_static_and_paged_generate_the_same(tiny, prompt):
    rtol, atol = logits_tolerance(torch.float32)
    base_tokens, base_logits = tiny.generate(prompt, 9, cache=None)
    assert base_tokens.shape == (2, 16) and base_logits.shape == (9, 2, TINY.vocab_size)
    assert torch.equal(base_tokens[:, :7], prompt)
    paged_small_blocks = tiny.new_cache("paged", 2, 16, block_size=3)  # attention spans 6 blocks
    for cache in ("static", "paged", paged_small_blocks):
        tokens, logits = tiny.generate(prompt, 9, cache=cache)
        assert torch.equal(tokens, base_tokens), cache
        torch.testing.assert_close(logits, base_logits, rtol=rtol, atol=atol)
    assert paged_small_blocks.used_bytes == TINY.kv_bytes_per_token("fp32") * 2 * 15


def test_logits_choose_the_tokens(tiny, prompt):
    tokens, logits = tiny.generate(prompt, 4)
    assert torch.equal(tokens[:, 7:], logits.argmax(-1).T)
    full = tiny(tokens)  # teacher-forced forward over the result
    torch.testing.assert_close(full[:, 6:10].transpose(0, 1), logits, rtol=1e-4, atol=1e-5)


def test_sampling_is_seeded(tiny, prompt):
    a, _ = tiny.generate(prompt, 6, greedy=False, seed=3)
    b, _ = tiny.generate(prompt, 6, greedy=False, seed=3, cache=None)
    assert torch.equal(a, b)


def test_chunked_prefill_equals_one_prefill(tiny, prompt):
    full = tiny(prompt)
    cache = tiny.new_cache("static", 2, 10)
    first = tiny.prefill(prompt[:, :3], cache)
    rest = tiny.prefill(prompt[:, 3:], cache)  # attends to the cached 3 with a mask
    torch.testing.assert_close(torch.cat([first, rest], 1), full, rtol=1e-4, atol=1e-5)
    assert cache.length == 7 and cache.used_bytes == TINY.kv_bytes_per_token("fp32") * 2 * 7


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_cache_matches_teacher_forcing(dtype, prompt):
    m = Decoder(TINY, dtype=dtype)
    rtol, atol = logits_tolerance(dtype)
    for cache in ("static", "paged"):
        tokens, logits = m.generate(prompt, 5, cache=cache)
        full = m(tokens)
        assert full.dtype == torch.float32
        torch.testing.assert_close(full[:, 6:11].transpose(0, 1), logits, rtol=rtol, atol=atol)


def test_fast_decode_eager_equals_decode_step(tiny, prompt):
    a = tiny.new_cache("static", 2, 12)
    b = tiny.new_cache("static", 2, 12)
    tiny.prefill(prompt, a)
    tiny.prefill(prompt, b)
    fd = FastDecode(tiny, b, "eager")  # masked attention over the whole cache
    tok = prompt[:, -1]
    for _ in range(4):
        want = tiny.decode_step(tok, a)
        got = fd(tok)
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)
        tok = want.argmax(-1)
    assert a.length == b.length == 11


def test_fixed_length_step_equals_decode_step(tiny, prompt):
    a = tiny.new_cache("static", 2, 8)
    tiny.prefill(prompt, a)
    b = StaticKVCache(TINY, batch=2, max_len=8)
    for la, lb in zip(a.layers, b.layers):
        lb.k.copy_(la.k)
        lb.v.copy_(la.v)
    fd = FastDecode(tiny, b, "eager", kv_len=8)
    tok = prompt[:, 0]
    got = fd.step(tok, 7).clone()
    torch.testing.assert_close(got, tiny.decode_step(tok, a), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="pos must be 7"):
        fd.step(tok, 5)


def test_bad_input(tiny, prompt):
    for name in ("mixtral-8x7b", "deepseek-v3"):
        with pytest.raises(ValueError, match="dense"):
            Decoder(models.get(name))
    with pytest.raises(ValueError, match="Llama-style"):
        Decoder(models.get("gpt2"))
    with pytest.raises(ValueError, match="new_tokens"):
        tiny.generate(prompt, 0)
    with pytest.raises(ValueError, match="cache"):
        tiny.generate(prompt, 2, cache="ring")
    with pytest.raises(ValueError, match="mode"):
        tiny.generate(prompt, 2, mode="fast")
    with pytest.raises(ValueError, match="temperature"):
        tiny.generate(prompt, 2, greedy=False, temperature=float("nan"))
    with pytest.raises(ValueError, match="static"):
        tiny.generate(prompt, 2, cache="paged", mode="compiled")
    with pytest.raises(ValueError, match="tokens"):
        tiny(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="batch"):
        tiny.prefill(prompt, tiny.new_cache("static", 3, 8))
    with pytest.raises(ValueError, match="dtype"):
        Decoder(TINY, dtype=torch.float64)


def test_rope_is_the_rotate_half_formula_and_relative():
    from tokenmath.decoder import apply_rope, rope_tables

    h, T = 16, 6
    inv_freq = 1.0 / 10000.0 ** (torch.arange(0, h, 2).float() / h)
    pos = torch.arange(3, 3 + T)
    cos, sin_signed = rope_tables(pos, inv_freq, torch.float64)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, T, 5, h, dtype=torch.float64, generator=gen)
    # the textbook form: angles in both halves, rotate_half(x) = (-x2, x1)
    angles = pos.double()[:, None] * inv_freq.double()[None, :]
    emb = torch.cat((angles, angles), dim=-1)[:, None, :]
    x1, x2 = x.chunk(2, dim=-1)
    want = x * emb.cos() + torch.cat((-x2, x1), dim=-1) * emb.sin()
    got = apply_rope(x, cos[:, None, :], sin_signed[:, None, :])
    torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-6)
    # a rotation: norms are kept, and q.k depends only on the distance between positions
    torch.testing.assert_close(got.norm(dim=-1), x.norm(dim=-1))
    q, k = torch.randn(2, h, dtype=torch.float64, generator=gen)

    def rotated(v, p):
        c, s = rope_tables(torch.tensor([p]), inv_freq, torch.float64)
        return apply_rope(v[None], c, s)[0]

    # (the angles are fp32, as in the decoder: position 100 carries about 1e-5 rad of rounding)
    assert float(torch.dot(rotated(q, 7), rotated(k, 4))) == pytest.approx(
        float(torch.dot(rotated(q, 103), rotated(k, 100))), rel=1e-4
    )
    assert float(torch.dot(rotated(q, 7), rotated(k, 4))) != pytest.approx(
        float(torch.dot(rotated(q, 7), rotated(k, 5))), rel=1e-3
    )


def _ops_per_step(n_layers: int) -> int:
    """PyTorch operations that compute something (leaf aten ops, views left out) in one eager
    decode step of the tiny preset with ``n_layers`` layers, counted by torch.profiler."""
    from torch.profiler import ProfilerActivity, profile

    views = {"as_strided", "view", "transpose", "slice", "reshape", "expand", "unsqueeze", "t",
             "resolve_conj", "_unsafe_view", "select", "split", "chunk", "alias", "detach",
             "empty", "empty_strided", "resolve_neg", "narrow", "squeeze", "permute",
             "result_type", "_reshape_alias", "empty_like", "lift_fresh"}
    config = dataclasses.replace(TINY, n_layers=n_layers)
    cache = StaticKVCache(config, batch=1, max_len=17)
    cache.length = 16
    step = FastDecode(Decoder(config), cache, "eager", kv_len=17)
    tokens = torch.zeros(1, dtype=torch.long)
    step.step(tokens, 16)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        step.step(tokens, 16)
    return sum(
        1
        for e in prof.events()
        if e.name.startswith("aten::") and not e.cpu_children and e.name[6:] not in views
    )


def test_a_llama_3_8b_step_runs_about_800_operations():
    """Chapter 2: 'The step runs about 800 PyTorch operations that compute something'."""
    two, four = _ops_per_step(2), _ops_per_step(4)
    per_layer = (four - two) / 2
    assert per_layer == int(per_layer) and 15 <= per_layer <= 30
    assert 700 <= two + 30 * per_layer <= 900  # llama-3-8b has 32 layers


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU error")
def test_graph_mode_needs_cuda(tiny, prompt):
    with pytest.raises(RuntimeError, match="CUDA"):
        tiny.generate(prompt, 3, mode="graph")


def test_paged_cache_out_of_blocks_during_generate(tiny, prompt):
    cache = tiny.new_cache("paged", 2, 8, block_size=4)  # room for 8 tokens each
    from tokenmath.kvcache import OutOfBlocksError

    with pytest.raises(OutOfBlocksError):
        tiny.generate(prompt, 5, cache=cache)  # 7 + 4 decode positions > 8
    assert isinstance(cache, PagedKVCache)


# ----------------------------------------------------------------------------- GPU only


@cuda
@pytest.mark.parametrize("mode", ["graph", "compiled"])
def test_fast_modes_equal_eager_on_cuda(mode):
    m = Decoder(TINY, device="cuda")
    prompt = torch.randint(0, TINY.vocab_size, (2, 7), device="cuda")
    eager_tokens, eager_logits = m.generate(prompt, 8, cache="static")
    tokens, logits = m.generate(prompt, 8, cache="static", mode=mode)
    assert torch.equal(tokens, eager_tokens)
    torch.testing.assert_close(logits, eager_logits, rtol=1e-3, atol=1e-4)
    base_tokens, _ = m.generate(prompt, 8, cache=None)
    assert torch.equal(base_tokens, eager_tokens)


@cuda
def test_graph_fixed_length_step_on_cuda_bf16():
    m = Decoder(models.get("small"), device="cuda", dtype=torch.bfloat16)
    cache = StaticKVCache(m.config, batch=4, max_len=65, device="cuda", dtype=torch.bfloat16)
    for layer in cache.layers:
        layer.k.normal_()
        layer.v.normal_()
    cache.length = 64
    tok = torch.randint(0, m.config.vocab_size, (4,), device="cuda")
    eager = FastDecode(m, cache, "eager", kv_len=65).step(tok, 64).clone()
    graph = FastDecode(m, cache, "graph", kv_len=65).step(tok, 64).clone()
    rtol, atol = logits_tolerance(torch.bfloat16)
    torch.testing.assert_close(graph, eager, rtol=rtol, atol=atol)


def test_flash_decode_only_on_cuda_half_precision_and_few_pairs():
    from tokenmath.decoder import _use_flash_decode, flash_decode_supported

    assert not flash_decode_supported(torch.device("cpu"))
    assert not Decoder(TINY).layers[0].attn.flash_decode
    q = torch.zeros(1, 8, 4, 128, dtype=torch.bfloat16)
    assert not _use_flash_decode(q, q)  # CPU: SDPA's own choice
    if torch.cuda.is_available():
        sm80 = torch.cuda.get_device_capability()[0] >= 8
        assert flash_decode_supported(torch.device("cuda")) == sm80
        assert Decoder(TINY, device="cuda").layers[0].attn.flash_decode == sm80
        qc = q.cuda()
        assert _use_flash_decode(qc, qc)
        assert not _use_flash_decode(qc.float(), qc.float())  # flash is half precision only
        many = torch.zeros(16, 8, 4, 128, dtype=torch.bfloat16, device="cuda")
        assert not _use_flash_decode(many, many)  # 128 pairs: cuDNN is as fast


@cuda
@pytest.mark.parametrize("batch, keys", [(1, 4097), (2, 300), (16, 64)])
def test_flash_decode_attention_matches_sdpa_on_cuda(batch, keys):
    from tokenmath.decoder import attention, flash_decode_supported

    g = torch.Generator(device="cuda").manual_seed(0)
    q = torch.randn(batch, 32, 1, 128, device="cuda", generator=g).bfloat16()
    k = torch.randn(batch, 8, keys, 128, device="cuda", generator=g).bfloat16()
    v = torch.randn(batch, 8, keys, 128, device="cuda", generator=g).bfloat16()
    ref = F.scaled_dot_product_attention(
        q.float(), k.float().repeat_interleave(4, 1), v.float().repeat_interleave(4, 1)
    )
    flash = flash_decode_supported(q.device)
    y = attention(q, k, v, flash_decode=flash)
    torch.testing.assert_close(y.float(), ref, rtol=2e-2, atol=2e-2)
