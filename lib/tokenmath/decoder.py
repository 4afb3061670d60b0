"""A Llama-style decoder with random weights, for measuring what the roofline predicts.

Built from a :class:`~tokenmath.models.ModelConfig` (dense, standard attention): token embedding,
``L`` blocks of ``x += Attn(RMSNorm(x))``, ``x += SwiGLU(RMSNorm(x))``, a final RMSNorm and the LM
head (optionally tied to the embedding). Attention uses RoPE and grouped-query attention: ``H``
query heads share ``K`` KV heads, ``G = H / K`` query heads per KV head.

Three ways to generate, which give the same tokens and, within float rounding, the same logits:

* ``cache=None``: the no-cache baseline; every step recomputes the whole prefix;
* ``cache="static"``: a preallocated :class:`~tokenmath.kvcache.StaticKVCache`;
* ``cache="paged"``: a :class:`~tokenmath.kvcache.PagedKVCache` (attention gathers the blocks).

A decode step can also run as one captured CUDA graph (``mode="graph"``) or through
``torch.compile(mode="reduce-overhead")`` (``mode="compiled"``), see :class:`FastDecode`.
The weights are random (``N(0, 0.02)``), so the text is noise; the shapes, bytes and FLOPs are
those of the real model. Style after nanoGPT and gpt-fast.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from tokenmath.kvcache import PagedKVCache, StaticKVCache
from tokenmath.models import ModelConfig

__all__ = [
    "Decoder",
    "FastDecode",
    "attention",
    "logits_tolerance",
    "MODES",
    "flash_decode_supported",
]

MODES = ("eager", "graph", "compiled")

# kv_fn(layer, k, v) -> (keys, values, mask or None, is_causal)
KVFn = Callable[[int, torch.Tensor, torch.Tensor], tuple]


def logits_tolerance(dtype: torch.dtype) -> tuple[float, float]:
    """``(rtol, atol)`` within which cached and uncached logits agree for ``dtype``."""
    return {torch.float32: (1e-4, 1e-5), torch.bfloat16: (5e-2, 5e-2), torch.float16: (1e-2, 1e-2)}[
        dtype
    ]


def _has_enable_gqa() -> bool:
    q = torch.zeros(1, 2, 1, 4)
    kv = torch.zeros(1, 1, 1, 4)
    try:
        F.scaled_dot_product_attention(q, kv, kv, enable_gqa=True)
    except TypeError:
        return False
    return True


_ENABLE_GQA = _has_enable_gqa()
_HAS_RMS_NORM = hasattr(F, "rms_norm")  # torch >= 2.4


# Decode attention on CUDA: with one query per sequence the kernel has only B * K independent
# (sequence, KV head) pairs of work. PyTorch's flash kernel then splits the keys across thread
# blocks (split-KV, "flash-decoding"); the cuDNN kernel that SDPA prefers on Hopper does not, and
# at batch 1 read a 32k-token cache at 315 GB/s against flash's 2330 GB/s on an H200
# (data/measurements/NVIDIA-H200-attention.json). With many pairs cuDNN is as fast or faster.
_FLASH_DECODE_MAX_PAIRS = 128
_FLASH_OP = getattr(torch.ops.aten, "_scaled_dot_product_flash_attention", None)


def flash_decode_supported(device: torch.device) -> bool:
    """Whether ``device`` has PyTorch's flash kernel: CUDA with compute capability >= 8.0 (A100,
    H100, RTX 30xx on; not the T4)."""
    return (
        _FLASH_OP is not None
        and device.type == "cuda"
        and torch.cuda.get_device_capability(device)[0] >= 8
    )


def _use_flash_decode(q: torch.Tensor, k: torch.Tensor) -> bool:
    """Whether one-token attention should call the flash kernel directly (CUDA, half precision,
    a head size flash supports, and fewer than 128 (sequence, KV head) pairs)."""
    return (
        _FLASH_OP is not None
        and q.is_cuda
        and q.dtype in (torch.float16, torch.bfloat16)
        and q.shape[-1] % 8 == 0
        and q.shape[-1] <= 256
        and q.shape[0] * q.shape[1] < _FLASH_DECODE_MAX_PAIRS
    )


def attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None = None,
    is_causal: bool = False,
    *,
    flash_decode: bool = False,
) -> torch.Tensor:
    """Grouped-query attention: ``q [B, H, T, h]``, ``k, v [B, K, S, h]`` -> ``[B, H, T, h]``.

    ``mask`` is boolean ``[T, S]`` (True: attend). For one new token (``T = 1``) the ``G`` query
    heads of each KV head are folded into the query axis, ``[B, K, G, h]``: plain attention that
    reads each KV head once, with no copy of the cache. ``flash_decode=True`` (only where
    :func:`flash_decode_supported`) sends such a step with few (sequence, KV head) pairs to the
    flash kernel, which splits the keys across thread blocks.
    """
    B, H, T, h = q.shape
    K = k.shape[1]
    G = H // K
    if T == 1 and not is_causal:
        qg = q.reshape(B, K, G, h)
        if flash_decode and mask is None and _use_flash_decode(qg, k):
            y = torch.ops.aten._scaled_dot_product_flash_attention(qg, k, v)[0]
            return y.reshape(B, H, 1, h)
        y = F.scaled_dot_product_attention(qg, k, v, attn_mask=mask)
        return y.reshape(B, H, 1, h)
    if G > 1:
        if _ENABLE_GQA:
            return F.scaled_dot_product_attention(
                q, k, v, attn_mask=mask, is_causal=is_causal, enable_gqa=True
            )
        k, v = k.repeat_interleave(G, dim=1), v.repeat_interleave(G, dim=1)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=is_causal)


class RMSNorm(nn.Module):
    """``y = x / sqrt(mean(x^2) + eps) * w``, computed in fp32."""

    def __init__(self, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if _HAS_RMS_NORM:  # one fused kernel on recent CUDA builds; upcasts to fp32 inside
            return F.rms_norm(x, self.weight.shape, self.weight, self.eps)
        x32 = x.float()
        y = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)
        return (y * self.weight.float()).type_as(x)


def rope_tables(
    pos: torch.Tensor, inv_freq: torch.Tensor, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor]:
    """RoPE tables ``(cos, sin_signed)``, each ``[T, h]``, for positions ``pos [T]``.

    Angles ``pos * inv_freq`` fill both halves of the head. ``sin_signed`` carries the sign of
    ``rotate_half(x) = (-x2, x1)``, so that :func:`apply_rope` needs no negation.
    """
    freqs = pos.float()[:, None] * inv_freq[None, :]  # [T, h/2]
    cos, sin = freqs.cos(), freqs.sin()
    return torch.cat((cos, cos), dim=-1).to(dtype), torch.cat((-sin, sin), dim=-1).to(dtype)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin_signed: torch.Tensor) -> torch.Tensor:
    """``x * cos + rotate_half(x) * sin`` with ``rotate_half(x) = (-x2, x1)``.

    ``rotate_half(x) * sin`` is ``roll(x, h/2) * sin_signed``: three kernels (mul, roll,
    addcmul) instead of five (mul, neg, cat, mul, add), per layer, in the eager and graph steps.
    """
    return torch.addcmul(x * cos, torch.roll(x, x.shape[-1] // 2, dims=-1), sin_signed)


class Attention(nn.Module):
    def __init__(self, c: ModelConfig) -> None:
        super().__init__()
        self.n_heads, self.n_kv_heads, self.head_dim = c.n_heads, c.n_kv_heads, c.head_dim
        q, kv = c.n_heads * c.head_dim, c.n_kv_heads * c.head_dim
        self.wqkv = nn.Linear(c.d_model, q + 2 * kv, bias=False)  # q, k, v fused: one read
        self.wo = nn.Linear(q, c.d_model, bias=False)
        self.flash_decode = False  # set by Decoder where the device has the flash kernel

    def forward(self, x, cos, sin_signed, kv_fn: KVFn, layer: int) -> torch.Tensor:
        B, T, _ = x.shape
        H, K, h = self.n_heads, self.n_kv_heads, self.head_dim
        qkv = self.wqkv(x).view(B, T, H + 2 * K, h)
        # RoPE on the H query heads and K key heads together (one set of kernels, not two)
        qk = apply_rope(qkv[:, :, : H + K], cos[:, None, :], sin_signed[:, None, :])  # [T, 1, h]
        q = qk[:, :, :H].transpose(1, 2)  # [B, H, T, h]
        k = qk[:, :, H:].transpose(1, 2)  # [B, K, T, h]
        v = qkv[:, :, H + K :].transpose(1, 2)
        keys, values, mask, is_causal = kv_fn(layer, k, v)
        y = attention(q, keys, values, mask, is_causal, flash_decode=self.flash_decode)
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
    def __init__(self, c: ModelConfig) -> None:
        super().__init__()
        self.attn_norm, self.attn = RMSNorm(c.d_model), Attention(c)
        self.mlp_norm, self.mlp = RMSNorm(c.d_model), MLP(c)

    def forward(self, x, cos, sin_signed, kv_fn: KVFn, layer: int) -> torch.Tensor:
        x = x + self.attn(self.attn_norm(x), cos, sin_signed, kv_fn, layer)
        return x + self.mlp(self.mlp_norm(x))


def _check_config(config: ModelConfig) -> ModelConfig:
    if not isinstance(config, ModelConfig):
        raise ValueError(
            f"config must be a tokenmath.models.ModelConfig, got {type(config).__name__}"
        )
    if config.is_moe or config.is_mla:
        kind = "mixture-of-experts" if config.is_moe else "MLA"
        raise ValueError(
            f"{config.name} is a {kind} model; Decoder builds dense models with standard "
            "attention only (try llama-3-8b, mistral-7b, small or tiny)"
        )
    extras = {
        "mlp": (config.mlp, "swiglu"),
        "norm": (getattr(config, "norm", "rmsnorm"), "rmsnorm"),
        "bias": (getattr(config, "bias", False), False),
        "learned_positions": (getattr(config, "learned_positions", 0), 0),
    }
    for name, (value, want) in extras.items():
        if value != want:
            raise ValueError(
                f"{config.name}: Decoder is Llama-style and needs {name}={want!r}, got {value!r}"
            )
    return config


class Decoder(nn.Module):
    """A Llama-style decoder with seeded random weights on any device and dtype.

    The random stream depends on the device: the same seed gives the same weights on the same
    kind of device. Parameters are frozen (inference only).
    """

    def __init__(
        self,
        config: ModelConfig,
        *,
        device: str | torch.device = "cpu",
        dtype: torch.dtype = torch.float32,
        seed: int = 0,
        rope_theta: float = 10000.0,
    ) -> None:
        super().__init__()
        self.config = c = _check_config(config)
        if dtype not in (torch.float32, torch.bfloat16, torch.float16):
            raise ValueError(f"dtype must be torch.float32, bfloat16 or float16, got {dtype}")
        self.dtype = dtype
        with torch.device("meta"):  # shapes only; memory is allocated once, below
            self.embed = nn.Embedding(c.vocab_size, c.d_model)
            self.layers = nn.ModuleList(Block(c) for _ in range(c.n_layers))
            self.norm = RMSNorm(c.d_model)
            self.lm_head = (
                None if c.tied_embeddings else nn.Linear(c.d_model, c.vocab_size, bias=False)
            )
        self.to(dtype)  # on meta tensors: free
        self.to_empty(device=device)
        self.device = next(self.parameters()).device
        self._init_weights(seed)
        self.requires_grad_(False)
        flash = flash_decode_supported(self.device)
        for block in self.layers:
            block.attn.flash_decode = flash
        inv_freq = 1.0 / rope_theta ** (
            torch.arange(0, c.head_dim, 2, device=self.device).float() / c.head_dim
        )
        self.register_buffer("inv_freq", inv_freq, persistent=False)

    def _init_weights(self, seed: int) -> None:
        gen = torch.Generator(device=self.device).manual_seed(seed)
        resid_std = 0.02 / math.sqrt(2 * self.config.n_layers)
        with torch.no_grad():
            for name, p in self.named_parameters():
                if name.endswith("norm.weight"):
                    p.fill_(1.0)
                else:
                    std = resid_std if name.endswith(("wo.weight", "w2.weight")) else 0.02
                    p.normal_(0.0, std, generator=gen)

    # -- the forward pass ----------------------------------------------------------------------

    def _forward(self, tokens: torch.Tensor, pos: torch.Tensor, kv_fn: KVFn) -> torch.Tensor:
        """Logits ``[B, T, V]`` (fp32) for ``tokens [B, T]`` at positions ``pos [T]``."""
        x = self.embed(tokens)
        cos, sin_signed = rope_tables(pos, self.inv_freq, x.dtype)
        for i, block in enumerate(self.layers):
            x = block(x, cos, sin_signed, kv_fn, i)
        x = self.norm(x)
        head = self.embed.weight if self.lm_head is None else self.lm_head.weight
        return F.linear(x, head).float()

    def _check_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        if not isinstance(tokens, torch.Tensor) or tokens.dtype not in (torch.int64, torch.int32):
            raise ValueError("tokens must be an integer torch.Tensor of shape [batch, length]")
        if tokens.dim() == 1:
            tokens = tokens[None]
        if tokens.dim() != 2 or tokens.numel() == 0:
            raise ValueError(f"tokens must have shape [batch, length], got {tuple(tokens.shape)}")
        return tokens.to(self.device, torch.long)

    @torch.no_grad()
    def forward(
        self, tokens: torch.Tensor, cache: StaticKVCache | PagedKVCache | None = None
    ) -> torch.Tensor:
        """Logits ``[B, T, V]`` for ``tokens [B, T]``.

        Without a cache the tokens are the whole sequence (causal attention over them). With a
        cache they are appended after what the cache holds, and attend to all of it.
        """
        tokens = self._check_tokens(tokens)
        B, T = tokens.shape
        if cache is None:
            pos = torch.arange(T, device=self.device)
            return self._forward(tokens, pos, lambda i, k, v: (k, v, None, T > 1))
        rows = cache.batch if isinstance(cache, StaticKVCache) else len(cache.active)
        if rows != B:
            raise ValueError(f"tokens has batch {B} but the cache holds {rows} sequences")
        start = cache.reserve(T)
        pos = torch.arange(start, start + T, device=self.device)
        # Keys 0..start+T-1. One new token sees them all; a fresh prompt is plain causal;
        # a chunk after cached tokens needs the explicit mask j <= start + i.
        mask = None
        if T > 1 and start > 0:
            mask = torch.arange(start + T, device=self.device)[None, :] <= pos[:, None]
        causal = T > 1 and start == 0

        def kv_fn(i: int, k: torch.Tensor, v: torch.Tensor):
            keys, values = cache.update(i, k, v, start)
            return keys, values, mask, causal

        return self._forward(tokens, pos, kv_fn)

    def prefill(
        self, tokens: torch.Tensor, cache: StaticKVCache | PagedKVCache | None
    ) -> torch.Tensor:
        """Run the prompt ``[B, T]`` through the model, filling ``cache``; logits ``[B, T, V]``."""
        return self.forward(tokens, cache)

    def decode_step(
        self, tokens: torch.Tensor, cache: StaticKVCache | PagedKVCache
    ) -> torch.Tensor:
        """One new token per sequence (``[B]`` or ``[B, 1]``) -> logits ``[B, V]``."""
        if cache is None:
            raise ValueError("decode_step needs a cache; use forward(whole_sequence) without one")
        return self.forward(tokens.reshape(-1, 1), cache)[:, -1]

    # -- caches and generation ------------------------------------------------------------------

    def new_cache(
        self,
        kind: str,
        batch: int,
        max_len: int,
        *,
        block_size: int = 16,
        num_blocks: int | None = None,
    ) -> StaticKVCache | PagedKVCache:
        """A ``"static"`` cache of ``max_len`` positions, or a ``"paged"`` one with ``batch``
        active sequences and (default) just enough blocks for ``max_len`` tokens each."""
        kw = dict(device=self.device, dtype=self.dtype)
        if kind == "static":
            return StaticKVCache(self.config, batch=batch, max_len=max_len, **kw)
        if kind == "paged":
            if num_blocks is None:
                num_blocks = batch * math.ceil(max_len / block_size)
            cache = PagedKVCache(self.config, num_blocks=num_blocks, block_size=block_size, **kw)
            cache.activate([cache.add_sequence() for _ in range(batch)])
            return cache
        raise ValueError(f"cache must be 'static', 'paged' or None, got {kind!r}")

    @torch.no_grad()
    def generate(
        self,
        prompt: torch.Tensor,
        new_tokens: int,
        cache: str | StaticKVCache | PagedKVCache | None = "static",
        greedy: bool = True,
        *,
        mode: str = "eager",
        temperature: float = 1.0,
        seed: int = 0,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Append ``new_tokens`` tokens to ``prompt [B, P]``.

        Returns ``(tokens [B, P + new_tokens], logits [new_tokens, B, V])``: row ``i`` of the
        logits chose new token ``i``. ``cache=None`` recomputes the whole prefix each step.
        ``mode`` ``"graph"``/``"compiled"`` run the decode steps through :class:`FastDecode`
        (static cache only). ``greedy=False`` samples at ``temperature`` with a seeded generator.
        """
        if isinstance(new_tokens, bool) or not isinstance(new_tokens, int) or new_tokens < 1:
            raise ValueError(f"new_tokens must be a positive integer, got {new_tokens!r}")
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        if not greedy and not (
            isinstance(temperature, (int, float)) and 0 < temperature < math.inf
        ):
            raise ValueError(f"temperature must be a positive finite number, got {temperature!r}")
        seq = self._check_tokens(prompt)
        B, P = seq.shape
        gen = torch.Generator(device=self.device).manual_seed(seed)

        def choose(logits: torch.Tensor) -> torch.Tensor:
            if greedy:
                return logits.argmax(-1)
            probs = torch.softmax(logits / temperature, dim=-1)
            return torch.multinomial(probs, 1, generator=gen)[:, 0]

        out_tokens, out_logits = [], []
        if cache is None:
            if mode != "eager":
                raise ValueError(f"mode={mode!r} needs a static cache; cache=None runs eagerly")
            for _ in range(new_tokens):
                logits = self.forward(seq)[:, -1]
                nxt = choose(logits)
                seq = torch.cat([seq, nxt[:, None]], dim=1)
                out_logits.append(logits)
            return seq, torch.stack(out_logits)

        kv = self.new_cache(cache, B, P + new_tokens) if isinstance(cache, str) else cache
        logits = self.prefill(seq, kv)[:, -1]
        if mode == "eager":
            step = lambda t: self.decode_step(t, kv)  # noqa: E731
        else:
            if not isinstance(kv, StaticKVCache):
                raise ValueError(f"mode={mode!r} needs cache='static', got {type(kv).__name__}")
            step = FastDecode(self, kv, mode)
        for i in range(new_tokens):
            nxt = choose(logits)
            out_tokens.append(nxt)
            out_logits.append(logits)
            if i + 1 < new_tokens:
                logits = step(nxt).clone()
        return torch.cat([seq, torch.stack(out_tokens, dim=1)], dim=1), torch.stack(out_logits)


class _DecodeStep(nn.Module):
    """One decode step over a static cache, written with device tensors only (capturable)."""

    def __init__(self, model: Decoder, cache: StaticKVCache, kv_len: int | None) -> None:
        super().__init__()
        self.model, self.cache = model, cache
        self.fixed = kv_len is not None
        n = cache.max_len if kv_len is None else kv_len
        self.register_buffer("key_pos", torch.arange(n, device=model.device), persistent=False)

    def forward(self, tokens: torch.Tensor, input_pos: torch.Tensor) -> torch.Tensor:
        n = self.key_pos.shape[0]

        def kv_fn(i: int, k: torch.Tensor, v: torch.Tensor):
            self.cache.write_at(i, k, v, input_pos)
            kv = self.cache.layers[i]
            # fixed: the step is at position n - 1, every key is valid and no mask is needed
            # (so the flash kernel, with its split-KV path, applies); else mask keys after input_pos.
            mask = None if self.fixed else self.key_pos[None, :] <= input_pos[:, None]
            return kv.k[:, :, :n], kv.v[:, :, :n], mask, False

        return self.model._forward(tokens, input_pos, kv_fn)[:, -1]


class FastDecode:
    """A decode step over a :class:`StaticKVCache` in ``eager``, ``graph`` or ``compiled`` form.

    * ``eager``: the step as plain PyTorch calls (one kernel launch at a time);
    * ``graph``: the step captured once in a ``torch.cuda.CUDAGraph`` with static input buffers
      and replayed (CUDA only);
    * ``compiled``: ``torch.compile(mode="reduce-overhead")`` (fused kernels plus CUDA graphs).

    All three attend over the whole preallocated cache with a mask (``kv_len=None``), or over
    exactly ``kv_len`` keys with no mask when every step runs at position ``kv_len - 1``: the
    benchmark's fixed-context step. ``fd(tokens)`` advances the cache by one position;
    ``fd.step(tokens, pos)`` runs at ``pos`` without bookkeeping. The returned logits are a buffer
    that the next call overwrites: clone them to keep them.
    """

    def __init__(
        self,
        model: Decoder,
        cache: StaticKVCache,
        mode: str = "graph",
        *,
        kv_len: int | None = None,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        if not isinstance(cache, StaticKVCache):
            raise ValueError(f"FastDecode needs a StaticKVCache, got {type(cache).__name__}")
        if kv_len is not None and not 1 <= kv_len <= cache.max_len:
            raise ValueError(f"kv_len must be in 1..max_len={cache.max_len}, got {kv_len!r}")
        if mode == "graph" and model.device.type != "cuda":
            raise RuntimeError(
                "mode='graph' captures a CUDA graph and needs a CUDA device; use 'eager'"
            )
        self.model, self.cache, self.mode, self.kv_len = model, cache, mode, kv_len
        self.module = _DecodeStep(model, cache, kv_len)
        dev = model.device
        self._tokens = torch.zeros(cache.batch, 1, dtype=torch.long, device=dev)
        # The warm-up and capture write K/V at this position; it is rewritten by the first real
        # step before anything reads it.
        warm = kv_len - 1 if kv_len is not None else min(cache.length, cache.max_len - 1)
        self._pos = torch.full((1,), warm, dtype=torch.long, device=dev)
        self._graph = None
        self._fn: Callable[..., torch.Tensor] = self.module
        if mode == "compiled":
            # Coordinate-descent tuning of the generated kernels (gpt-fast's setting) was measured
            # on an H200 and gained nothing overall (data/measurements/README.md): not used.
            self._fn = torch.compile(self.module, mode="reduce-overhead", fullgraph=True)
        elif mode == "graph":
            self._capture()

    @torch.no_grad()
    def _capture(self) -> None:
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):  # warm-up (cuBLAS handles, SDPA choice) off the main stream
            for _ in range(3):
                self.module(self._tokens, self._pos)
        torch.cuda.current_stream().wait_stream(side)
        self._graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self._graph):
            self._out = self.module(self._tokens, self._pos)
        torch.cuda.synchronize()

    @torch.no_grad()
    def step(self, tokens: torch.Tensor, pos: int) -> torch.Tensor:
        """Logits ``[B, V]`` of ``tokens [B]`` placed at position ``pos`` of the cache."""
        if self.kv_len is not None and pos != self.kv_len - 1:
            raise ValueError(
                f"this FastDecode attends over kv_len={self.kv_len} keys; pos must be {self.kv_len - 1}"
            )
        if not 0 <= pos < self.cache.max_len:
            raise ValueError(f"pos must be in 0..{self.cache.max_len - 1}, got {pos}")
        self._tokens.copy_(tokens.reshape(-1, 1))
        self._pos.fill_(pos)
        if self._graph is not None:
            self._graph.replay()
            return self._out
        if self.mode == "compiled" and hasattr(torch.compiler, "cudagraph_mark_step_begin"):
            torch.compiler.cudagraph_mark_step_begin()
        return self._fn(self._tokens, self._pos)

    def __call__(self, tokens: torch.Tensor) -> torch.Tensor:
        """Decode one token per sequence at the next free position (advances the cache)."""
        pos = self.cache.reserve(1)
        return self.step(tokens, pos)
