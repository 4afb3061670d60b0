"""A Llama-style decoder, to read top to bottom: norm, attention, MLP, block, decoder, generate.

Symbols: ``B`` sequences, ``T`` new tokens, ``S`` keys attended, ``d`` model width, ``H`` query
heads, ``K`` KV heads (``G = H / K`` query heads share one), ``h`` head dim, ``f`` MLP width,
``V`` vocabulary. Built from a :class:`~tokenmath.models.ModelConfig` (dense, standard
attention): token embedding, ``L`` blocks of ``x += Attn(RMSNorm(x))``, ``x += SwiGLU(RMSNorm(x))``,
a final RMSNorm and the LM head (optionally tied to the embedding), with rotary positions (RoPE).

Weights are seeded random ``N(0, 0.02)`` (the text is noise; shapes, bytes and FLOPs are the real
model's) or a real checkpoint (:meth:`Decoder.from_pretrained`). Each attention layer is handed its
layer of a KV cache (:mod:`tokenmath.kvcache`) and writes it through one call,
``update(input_pos, k, v)``. The speed-ups (CUDA graph, ``torch.compile``, split-KV attention)
wrap this model in :mod:`tokenmath.rungs`. Style after nanoGPT
(https://github.com/karpathy/nanoGPT) and gpt-fast (https://github.com/pytorch-labs/gpt-fast).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from tokenmath.kvcache import PagedKVCache, StaticKVCache
from tokenmath.models import ModelConfig

__all__ = ["Decoder", "apply_rope", "attention", "logits_tolerance", "rope_tables"]

DTYPES = (torch.float32, torch.bfloat16, torch.float16)


def logits_tolerance(dtype: torch.dtype) -> tuple[float, float]:
    """``(rtol, atol)`` within which two orders of the same arithmetic agree in ``dtype``."""
    return {torch.float32: (1e-4, 1e-5), torch.bfloat16: (5e-2, 5e-2), torch.float16: (1e-2, 1e-2)}[
        dtype
    ]


class RMSNorm(nn.Module):
    """``y = x / sqrt(mean(x^2) + eps) * w`` (computed in fp32 inside ``F.rms_norm``)."""

    def __init__(self, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.rms_norm(x, self.weight.shape, self.weight, self.eps)


def rope_tables(pos: torch.Tensor, inv_freq: torch.Tensor, dtype: torch.dtype):
    """``(cos, sin)``, each ``[T, h]``: angles ``pos * inv_freq`` repeated in both halves."""
    angles = pos.float()[:, None] * inv_freq[None, :]  # [T, h/2]
    angles = torch.cat((angles, angles), dim=-1)
    return angles.cos().to(dtype), angles.sin().to(dtype)


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """``(x1, x2) -> (-x2, x1)`` on the two halves of the last axis."""
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate each pair ``(x_i, x_{i + h/2})`` by its angle: ``x cos + rotate_half(x) sin``
    (Su et al. 2021, "RoFormer", arXiv 2104.09864; the half-split layout of Llama)."""
    return x * cos + rotate_half(x) * sin


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask=None) -> torch.Tensor:
    """``softmax(q k^T / sqrt(h) + mask) v``: ``q [B, H, T, h]``, ``k, v [B, K, S, h]``.

    ``mask`` is boolean ``[T, S]`` (True: attend) or ``None``: every key for one new token,
    causal for ``T > 1``. For one new token the ``G`` query heads of each KV head are folded into
    the query axis, ``q [B, K, G, h]``: plain attention that reads each KV head once, no copy.
    """
    B, H, T, h = q.shape
    K = k.shape[1]
    if T == 1:
        y = F.scaled_dot_product_attention(q.reshape(B, K, H // K, h), k, v, attn_mask=mask)
        return y.reshape(B, H, 1, h)
    return F.scaled_dot_product_attention(
        q, k, v, attn_mask=mask, is_causal=mask is None, enable_gqa=H != K
    )


class Attention(nn.Module):
    def __init__(self, c: ModelConfig) -> None:
        super().__init__()
        self.n_heads, self.n_kv_heads, self.head_dim = c.n_heads, c.n_kv_heads, c.head_dim
        q, kv = c.n_heads * c.head_dim, c.n_kv_heads * c.head_dim
        self.wqkv = nn.Linear(c.d_model, q + 2 * kv, bias=False)  # q, k, v fused: one read
        self.wo = nn.Linear(q, c.d_model, bias=False)
        self.kv_cache = None  # this layer of a KV cache, handed over by Decoder.use_cache

    def forward(self, x, cos, sin, mask, input_pos=None, kv_len=None) -> torch.Tensor:
        B, T, _ = x.shape
        H, K, h = self.n_heads, self.n_kv_heads, self.head_dim
        qkv = self.wqkv(x).view(B, T, H + 2 * K, h).transpose(1, 2)  # [B, H + 2K, T, h]
        qk = apply_rope(qkv[:, : H + K], cos, sin)  # queries and keys rotated in one go
        q, k, v = qk[:, :H], qk[:, H:], qkv[:, H + K :]  # [B, H, T, h], [B, K, T, h] twice
        if input_pos is not None:  # store the new keys and values, attend over the cache
            k, v = self.kv_cache.update(input_pos, k, v)
            k, v = k[:, :, :kv_len], v[:, :, :kv_len]
        y = attention(q, k, v, mask)
        return self.wo(y.transpose(1, 2).reshape(B, T, H * h))


class MLP(nn.Module):
    """SwiGLU: ``w2(silu(x w1) * (x w3))``; ``w1`` and ``w3`` fused into one matrix."""

    def __init__(self, c: ModelConfig) -> None:
        super().__init__()
        self.w13 = nn.Linear(c.d_model, 2 * c.d_ff, bias=False)
        self.w2 = nn.Linear(c.d_ff, c.d_model, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, up = self.w13(x).chunk(2, dim=-1)
        return self.w2(F.silu(gate) * up)


class Block(nn.Module):
    def __init__(self, c: ModelConfig, eps: float) -> None:
        super().__init__()
        self.attn_norm, self.attn = RMSNorm(c.d_model, eps), Attention(c)
        self.mlp_norm, self.mlp = RMSNorm(c.d_model, eps), MLP(c)

    def forward(self, x, cos, sin, mask, input_pos=None, kv_len=None) -> torch.Tensor:
        x = x + self.attn(self.attn_norm(x), cos, sin, mask, input_pos, kv_len)
        return x + self.mlp(self.mlp_norm(x))


def _check_config(c: ModelConfig) -> ModelConfig:
    if not isinstance(c, ModelConfig):
        raise ValueError(f"config must be a tokenmath.models.ModelConfig, got {type(c).__name__}")
    if c.is_moe or c.is_mla:
        raise ValueError(
            f"{c.name} is a {'mixture-of-experts' if c.is_moe else 'MLA'} model; Decoder builds "
            "dense models with standard attention only (try llama-3-8b, small or tiny)"
        )
    if (c.mlp, c.norm, c.bias, c.learned_positions) != ("swiglu", "rmsnorm", False, 0):
        raise ValueError(f"{c.name}: Decoder is Llama-style (SwiGLU, RMSNorm, RoPE, no biases)")
    if c.sliding_window:
        raise ValueError(f"{c.name} has a sliding window; Decoder attends to every cached key")
    return c


class Decoder(nn.Module):
    """A Llama-style decoder on any device and dtype; parameters frozen (inference only).

    ``seed`` seeds the random weights (the same seed gives the same weights on the same kind of
    device); ``seed=None`` leaves them uninitialised, for a checkpoint to fill.
    """

    def __init__(
        self,
        config: ModelConfig,
        *,
        device: str | torch.device = "cpu",
        dtype: torch.dtype = torch.float32,
        seed: int | None = 0,
        rope_theta: float = 10000.0,
        norm_eps: float = 1e-5,
    ) -> None:
        super().__init__()
        self.config = c = _check_config(config)
        if dtype not in DTYPES:
            raise ValueError(f"dtype must be torch.float32, bfloat16 or float16, got {dtype}")
        self.dtype = dtype
        with torch.device("meta"):  # shapes only; memory is allocated once, below
            self.embed = nn.Embedding(c.vocab_size, c.d_model)
            self.layers = nn.ModuleList(Block(c, norm_eps) for _ in range(c.n_layers))
            self.norm = RMSNorm(c.d_model, norm_eps)
            self.lm_head = None if c.tied_embeddings else nn.Linear(c.d_model, c.vocab_size, bias=False)
        self.to(dtype).to_empty(device=device).requires_grad_(False)
        self.device = self.embed.weight.device
        if seed is not None:
            self._init_weights(seed)
        # RoPE frequencies 1 / theta^(2i/h), i = 0 .. h/2 - 1
        i2 = torch.arange(0, c.head_dim, 2, device=self.device).float()
        self.register_buffer("inv_freq", 1.0 / rope_theta ** (i2 / c.head_dim), persistent=False)
        self.cache: StaticKVCache | PagedKVCache | None = None

    @classmethod
    def from_pretrained(cls, path, *, device="cpu", dtype: torch.dtype = torch.float32) -> Decoder:
        """Load a Llama-architecture Hugging Face checkpoint from a local directory
        (``config.json`` and ``*.safetensors``); see :mod:`tokenmath.checkpoint`."""
        from tokenmath.checkpoint import load_pretrained

        return load_pretrained(path, device=device, dtype=dtype)

    @torch.no_grad()
    def _init_weights(self, seed: int) -> None:
        gen = torch.Generator(device=self.device).manual_seed(seed)
        for name, p in self.named_parameters():
            if name.endswith("norm.weight"):
                p.fill_(1.0)
            else:  # the residual projections scaled down by sqrt(2 L), as in GPT-2
                out = name.endswith(("wo.weight", "w2.weight"))
                std = 0.02 / math.sqrt(2 * self.config.n_layers) if out else 0.02
                p.normal_(0.0, std, generator=gen)

    def weight_bytes_read(self, batch: int) -> int:
        """Weight bytes one decode step of ``batch`` sequences reads: every parameter, but of an
        untied input embedding only the ``B`` looked-up rows (``B d b``)."""
        total = sum(p.numel() * p.element_size() for p in self.parameters())
        if self.lm_head is not None:  # untied: the table is a lookup, not a matmul
            emb = self.embed.weight
            total -= (emb.shape[0] - batch) * emb.shape[1] * emb.element_size()
        return total

    # -- caches --------------------------------------------------------------------------------

    def use_cache(self, cache: StaticKVCache | PagedKVCache | None):
        """Hand layer ``l`` of ``cache`` to attention layer ``l`` (``None``: drop the cache)."""
        shape = lambda c: (c.n_layers, c.n_kv_heads, c.head_dim)  # noqa: E731
        if cache is not None and shape(cache.config) != shape(self.config):
            raise ValueError(f"cache was built for {cache.config.name}, not {self.config.name}")
        if cache is not None and cache.layers[0].k.dtype != self.dtype:
            raise ValueError(f"cache holds {cache.layers[0].k.dtype}, the model {self.dtype}")
        self.cache = cache
        for i, block in enumerate(self.layers):
            block.attn.kv_cache = None if cache is None else cache.layers[i]
        return cache

    def setup_caches(self, batch: int, max_len: int) -> StaticKVCache:
        """A static cache of ``batch`` sequences of ``max_len`` positions, handed to the layers."""
        kw = dict(device=self.device, dtype=self.dtype)
        return self.use_cache(StaticKVCache(self.config, batch=batch, max_len=max_len, **kw))

    # -- the forward pass ----------------------------------------------------------------------

    def forward(self, tokens, input_pos=None, kv_len: int | None = None) -> torch.Tensor:
        """Logits ``[B, T, V]`` (fp32) of ``tokens [B, T]``.

        * ``input_pos=None``: the tokens are whole sequences; no cache, causal attention.
        * ``input_pos [T]`` (device tensor) and ``kv_len``: the tokens are positions
          ``kv_len - T .. kv_len - 1``; their keys and values go into the cache, and they
          attend over its first ``kv_len`` positions.
        * ``input_pos`` and ``kv_len=None``: they attend over the whole cache, each masked to the
          keys at or before its position: one shape for every position, as a graph captures it.
        """
        B, T = tokens.shape
        pos = torch.arange(T, device=tokens.device) if input_pos is None else input_pos
        cos, sin = rope_tables(pos, self.inv_freq, self.dtype)
        mask = None if input_pos is None else self._mask(input_pos, T, kv_len)
        x = self.embed(tokens)
        for block in self.layers:
            x = block(x, cos, sin, mask, input_pos, kv_len)
        x = self.norm(x)
        head = self.embed.weight if self.lm_head is None else self.lm_head.weight
        return F.linear(x, head).float()

    def _mask(self, input_pos: torch.Tensor, T: int, kv_len: int | None):
        """Boolean ``[T, S]``, True where key ``j`` is at or before the token's position."""
        if kv_len is None:  # the whole cache
            return torch.arange(self.cache.max_len, device=input_pos.device) <= input_pos[:, None]
        if T == 1 or T == kv_len:  # every key, or plain causal: no mask tensor needed
            return None
        return torch.ones(T, kv_len, dtype=torch.bool, device=input_pos.device).tril(kv_len - T)

    def prefill(self, tokens: torch.Tensor, start: int = 0) -> torch.Tensor:
        """Run ``tokens [B, T]`` at positions ``start .. start + T - 1`` of the cache."""
        if self.cache is None:
            raise ValueError("no cache: call setup_caches(batch, max_len) or use_cache first")
        T = tokens.shape[1]
        self.cache.grow_to(start + T)
        pos = torch.arange(start, start + T, device=self.device)
        return self(tokens.to(self.device), pos, kv_len=start + T)

    def decode_step(self, tokens: torch.Tensor, pos: int) -> torch.Tensor:
        """Logits ``[B, V]`` of one token per sequence (``tokens [B]``) at position ``pos``."""
        return self.prefill(tokens.reshape(-1, 1), pos)[:, -1]

    # -- generation ----------------------------------------------------------------------------

    @torch.no_grad()
    def generate(
        self,
        prompt: torch.Tensor,
        new_tokens: int,
        *,
        cache: bool | StaticKVCache | PagedKVCache = True,
        step=None,
        greedy: bool = True,
        temperature: float = 1.0,
        seed: int = 0,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Append ``new_tokens`` tokens to ``prompt [B, P]``.

        Returns ``(tokens [B, P + new_tokens], logits [new_tokens, B, V])``; row ``i`` of the
        logits chose new token ``i``. ``cache=False`` recomputes the whole prefix at every step;
        ``True`` uses a fresh static cache of ``P + new_tokens`` positions; a cache object is
        used as given. ``step(tokens [B], pos) -> logits [B, V]`` replaces :meth:`decode_step`
        (a rung of :mod:`tokenmath.rungs`). ``greedy=False`` samples at ``temperature``.
        """
        if isinstance(new_tokens, bool) or not isinstance(new_tokens, int) or new_tokens < 1:
            raise ValueError(f"new_tokens must be a positive integer, got {new_tokens!r}")
        if not greedy and not (isinstance(temperature, (int, float)) and 0 < temperature < math.inf):
            raise ValueError(f"temperature must be a positive finite number, got {temperature!r}")
        if not isinstance(prompt, torch.Tensor) or prompt.dim() != 2 or prompt.is_floating_point():
            raise ValueError("prompt must be an integer torch.Tensor of shape [batch, length]")
        seq = prompt.to(self.device)
        B, P = seq.shape
        if cache is True:
            self.setup_caches(B, P + new_tokens)
        elif cache is not False:
            if not isinstance(cache, (StaticKVCache, PagedKVCache)):
                raise ValueError(f"cache must be True, False or a KV cache, got {cache!r}")
            if cache.batch != B:
                raise ValueError(f"prompt has batch {B} but the cache holds {cache.batch} sequences")
            self.use_cache(cache)
        step = step or self.decode_step
        gen = torch.Generator(device=self.device).manual_seed(seed)

        def choose(logits: torch.Tensor) -> torch.Tensor:
            if greedy:
                return logits.argmax(-1)
            probs = torch.softmax(logits / temperature, dim=-1)
            return torch.multinomial(probs, 1, generator=gen)[:, 0]

        logits = (self(seq) if cache is False else self.prefill(seq))[:, -1]
        out = []
        for i in range(new_tokens):
            nxt = choose(logits)
            seq = torch.cat([seq, nxt[:, None]], dim=1)
            out.append(logits)
            if i + 1 < new_tokens:
                logits = self(seq)[:, -1] if cache is False else step(nxt, P + i).clone()
        return seq, torch.stack(out)
