"""Transformer shapes, parameter counts, KV-cache bytes and FLOPs per token.

Symbols: ``L`` layers, ``d`` model width, ``H`` query heads, ``K`` KV heads, ``h`` head dim,
``f`` MLP hidden size, ``V`` vocabulary, ``E`` routed experts, ``k`` experts per token.

Parameter count of a Llama-style decoder (the defaults)::

    N = V d (embedding) + V d (LM head, if untied) + d (final norm)
        + L [ d H h + 2 d K h + H h d   (q, k, v, o)
              + 3 d f                   (SwiGLU MLP: gate, up, down)
              + 2 d ]                   (two RMSNorm weights)

Mixture-of-experts layers replace the MLP by ``E`` routed experts plus shared experts of
hidden size ``f_e`` and a router (``E d``). DeepSeek-style multi-head latent attention (MLA)
replaces q, k, v by low-rank projections (see ``_attention_params``).

GPT-2 and OPT style models are covered by four extra fields (defaults are Llama-like, so the
contract's field list constructs a Llama): ``mlp`` ("swiglu": 3 matrices, also GeGLU; "gelu" and
"relu": 2), ``norm``
("rmsnorm": weight, "layernorm": weight and bias), ``bias`` (biases on every linear except the
LM head) and ``learned_positions`` (rows of a learned absolute position table; 0 with RoPE).

Sliding-window attention (Mistral 7B, arXiv 2310.06825, sec. 2): ``n_window_layers`` of the ``L``
layers attend only to the last ``w = sliding_window`` tokens and keep only those in their cache
(a rolling buffer). A sequence of ``c`` tokens then holds ``X(c) = (L - L_w) c + L_w min(c, w)``
(layer, token) entries, and both its KV bytes and the attention FLOPs of one new token are
proportional to ``X(c)``.

A decode step reads every weight except lookup tables: of the untied input embedding (and a
learned position table) only ``batch`` rows are read. With tied embeddings the table is read
once, as the LM head.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from tokenmath import validate
from tokenmath.dtypes import bytes_per_element

__all__ = ["ModelConfig", "PRESETS", "get", "names", "from_hf_config"]

_MLP_MATRICES = {"swiglu": 3, "gelu": 2, "relu": 2}
_NORM_PARAMS = {"rmsnorm": 1, "layernorm": 2}  # vectors of size d per norm


@dataclass(frozen=True)
class ModelConfig:
    """Shape of a decoder-only transformer (dense, MoE and/or MLA)."""

    name: str
    n_layers: int
    d_model: int
    n_heads: int  # query heads
    n_kv_heads: int  # KV heads (== n_heads for MHA, 1 for MQA)
    head_dim: int
    d_ff: int  # dense MLP hidden size
    vocab_size: int
    tied_embeddings: bool = False
    # mixture of experts (all 0 for a dense model)
    n_experts: int = 0  # routed experts per MoE layer
    n_active_experts: int = 0  # routed experts each token uses (top-k)
    n_shared_experts: int = 0  # always-on experts per MoE layer
    d_ff_expert: int = 0  # hidden size of one routed expert
    n_dense_layers: int = 0  # leading layers that keep a dense MLP (DeepSeek-V3: 3)
    # DeepSeek-style multi-head latent attention (all 0 for standard attention)
    q_lora_rank: int = 0
    kv_lora_rank: int = 0
    qk_nope_head_dim: int = 0
    qk_rope_head_dim: int = 0
    v_head_dim: int = 0
    source: str = ""  # citation for the config and the published parameter count
    # GPT-2 style variants (defaults are Llama-like)
    mlp: str = "swiglu"  # "swiglu" (3 matrices: SwiGLU, GeGLU) or "gelu"/"relu" (2 matrices)
    norm: str = "rmsnorm"  # "rmsnorm" (weight) or "layernorm" (weight + bias)
    bias: bool = False  # biases on attention and MLP linears
    learned_positions: int = 0  # rows of a learned position-embedding table (0: RoPE)
    # later additions (keyword only in practice)
    d_ff_shared_expert: int = 0  # hidden size of one shared expert (0: same as d_ff_expert)
    sliding_window: int = 0  # tokens a windowed layer attends to and keeps (0: no window)
    n_window_layers: int | None = None  # layers with the window (None: all, if sliding_window)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError(f"name must be a non-empty string, got {self.name!r}")
        for f in ("n_layers", "d_model", "n_heads", "n_kv_heads", "head_dim", "d_ff", "vocab_size"):
            validate.positive_int(getattr(self, f), f)
        for f in (
            "n_experts",
            "n_active_experts",
            "n_shared_experts",
            "d_ff_expert",
            "n_dense_layers",
            "q_lora_rank",
            "kv_lora_rank",
            "qk_nope_head_dim",
            "qk_rope_head_dim",
            "v_head_dim",
            "learned_positions",
            "d_ff_shared_expert",
            "sliding_window",
        ):
            validate.nonneg_int(getattr(self, f), f)
        if self.n_window_layers is None:
            object.__setattr__(self, "n_window_layers", self.n_layers if self.sliding_window else 0)
        validate.nonneg_int(self.n_window_layers, "n_window_layers")
        if self.sliding_window and not 1 <= self.n_window_layers <= self.n_layers:
            raise ValueError(
                f"n_window_layers must be in 1..n_layers={self.n_layers} when sliding_window "
                f"is set, got {self.n_window_layers}"
            )
        if not self.sliding_window and self.n_window_layers:
            raise ValueError(
                f"n_window_layers must be 0 when sliding_window is 0, got {self.n_window_layers}"
            )
        for f in ("tied_embeddings", "bias"):
            if not isinstance(getattr(self, f), bool):
                raise ValueError(f"{f} must be a bool, got {getattr(self, f)!r}")
        if self.mlp not in _MLP_MATRICES:
            raise ValueError(f"mlp must be one of {', '.join(_MLP_MATRICES)}, got {self.mlp!r}")
        if self.norm not in _NORM_PARAMS:
            raise ValueError(f"norm must be one of {', '.join(_NORM_PARAMS)}, got {self.norm!r}")
        if self.n_kv_heads > self.n_heads or self.n_heads % self.n_kv_heads:
            raise ValueError(
                f"n_kv_heads must divide n_heads={self.n_heads}, got {self.n_kv_heads}"
            )
        if self.n_experts > 0:
            if not 1 <= self.n_active_experts <= self.n_experts:
                raise ValueError(
                    f"n_active_experts must be in 1..n_experts={self.n_experts}, "
                    f"got {self.n_active_experts}"
                )
            if self.d_ff_expert < 1:
                raise ValueError("d_ff_expert must be a positive integer for an MoE model, got 0")
            if self.n_dense_layers >= self.n_layers:
                raise ValueError(
                    f"n_dense_layers must be below n_layers={self.n_layers}, "
                    f"got {self.n_dense_layers}"
                )
        else:
            for f in (
                "n_active_experts",
                "n_shared_experts",
                "d_ff_expert",
                "d_ff_shared_expert",
                "n_dense_layers",
            ):
                if getattr(self, f):
                    raise ValueError(f"{f} must be 0 when n_experts is 0, got {getattr(self, f)}")
        if self.kv_lora_rank > 0:
            for f in ("qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim"):
                if getattr(self, f) < 1:
                    raise ValueError(f"{f} must be a positive integer for MLA (kv_lora_rank > 0)")
        else:
            for f in ("q_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim"):
                if getattr(self, f):
                    raise ValueError(
                        f"{f} must be 0 when kv_lora_rank is 0 (no MLA), got {getattr(self, f)}"
                    )

    # ---- structure -----------------------------------------------------------------------

    @property
    def is_moe(self) -> bool:
        return self.n_experts > 0

    @property
    def is_mla(self) -> bool:
        return self.kv_lora_rank > 0

    @property
    def n_moe_layers(self) -> int:
        """Layers whose MLP is a mixture of experts: ``L - n_dense_layers`` (0 if dense)."""
        return self.n_layers - self.n_dense_layers if self.is_moe else 0

    def _linear(self, n_in: int, n_out: int) -> int:
        return n_in * n_out + (n_out if self.bias else 0)

    def _mlp_params(self, hidden: int) -> int:
        """One MLP (or one expert): SwiGLU ``3 d f``, GELU ``2 d f`` (+ biases)."""
        d = self.d_model
        if self.mlp == "swiglu":
            return 2 * self._linear(d, hidden) + self._linear(hidden, d)
        return self._linear(d, hidden) + self._linear(hidden, d)

    def _norm_params(self, width: int | None = None) -> int:
        return _NORM_PARAMS[self.norm] * (self.d_model if width is None else width)

    def _attention_params(self) -> int:
        """One attention block. Standard: ``d H h + 2 d K h + H h d``. MLA: the low-rank
        projections q_a (d x r_q), q_b (r_q x H (n+r)), kv_a (d x (r_kv + r)),
        kv_b (r_kv x H (n + v)), o (H v x d), plus the two latent norms."""
        d, nh = self.d_model, self.n_heads
        if not self.is_mla:
            q = self._linear(d, nh * self.head_dim)
            kv = 2 * self._linear(d, self.n_kv_heads * self.head_dim)
            o = self._linear(nh * self.head_dim, d)
            return q + kv + o
        qk = self.qk_nope_head_dim + self.qk_rope_head_dim
        if self.q_lora_rank:
            q = (
                self._linear(d, self.q_lora_rank)
                + self._norm_params(self.q_lora_rank)
                + self._linear(self.q_lora_rank, nh * qk)
            )
        else:
            q = self._linear(d, nh * qk)
        kv = (
            self._linear(d, self.kv_lora_rank + self.qk_rope_head_dim)
            + self._norm_params(self.kv_lora_rank)
            + self._linear(self.kv_lora_rank, nh * (self.qk_nope_head_dim + self.v_head_dim))
        )
        o = self._linear(nh * self.v_head_dim, d)
        return q + kv + o

    def _expert_params(self) -> int:
        return self._mlp_params(self.d_ff_expert)

    def _shared_expert_params(self) -> int:
        return self._mlp_params(self.d_ff_shared_expert or self.d_ff_expert)

    def _routed_expert_params(self) -> int:
        """All routed experts of all MoE layers: ``L_moe E P_expert``."""
        return self.n_moe_layers * self.n_experts * self._expert_params()

    # ---- counts --------------------------------------------------------------------------

    def embedding_param_count(self) -> int:
        """The input embedding table, ``V d``."""
        return self.vocab_size * self.d_model

    def _lookup_table_params(self) -> int:
        """Tables only indexed, never multiplied: untied input embedding and learned positions."""
        table = 0 if self.tied_embeddings else self.embedding_param_count()
        return table + self.learned_positions * self.d_model

    def param_count(self) -> int:
        """Total parameters: embeddings, LM head if untied, attention, MLPs/experts, norms."""
        d = self.d_model
        n = self.embedding_param_count() * (1 if self.tied_embeddings else 2)
        n += self.learned_positions * d
        n += self._norm_params()  # final norm
        per_layer = self._attention_params() + 2 * self._norm_params()
        n += self.n_layers * per_layer
        n += (self.n_layers - self.n_moe_layers) * self._mlp_params(self.d_ff)
        if self.is_moe:
            moe_fixed = self.n_shared_experts * self._shared_expert_params() + self._linear(
                d, self.n_experts
            )
            n += self.n_moe_layers * moe_fixed + self._routed_expert_params()
        return n

    def active_param_count(self) -> int:
        """Parameters one token uses: all but the ``E - k`` routed experts it skips per MoE layer."""
        skipped = (
            self.n_moe_layers * (self.n_experts - self.n_active_experts) * self._expert_params()
        )
        return self.param_count() - skipped

    def kv_bytes_per_token(self, dtype: str = "bf16") -> float:
        """KV-cache bytes one token adds, all layers: ``k_B = 2 L K h b``; MLA caches the latent
        and the rope key, ``L (r_kv + r_rope) b``. With a sliding window this holds only while
        the sequence is shorter than the window; :meth:`kv_cache_bytes` is exact."""
        return self.n_layers * self._kv_bytes_per_layer_token(dtype)

    def _kv_bytes_per_layer_token(self, dtype: str) -> float:
        b = bytes_per_element(dtype, "dtype")
        if self.is_mla:
            return (self.kv_lora_rank + self.qk_rope_head_dim) * b
        return 2 * self.n_kv_heads * self.head_dim * b

    def cached_layer_tokens(self, context: float) -> float:
        """(layer, token) entries a sequence of ``c`` tokens keeps in its KV cache:
        ``X(c) = (L - L_w) c + L_w min(c, w)``; ``L c`` without a sliding window."""
        c = validate.nonneg(context, "context")
        n_win = self.n_window_layers or 0
        windowed = min(c, self.sliding_window) if n_win else 0.0
        return (self.n_layers - n_win) * c + n_win * windowed

    def kv_cache_bytes(self, context: float, dtype: str = "bf16") -> float:
        """Bytes the KV cache of one sequence of ``c = context`` tokens holds (and a decode step
        of that sequence reads): ``X(c) k_B / L``, which is ``c k_B`` without a window."""
        return self.cached_layer_tokens(context) * self._kv_bytes_per_layer_token(dtype)

    def expected_experts_touched(self, batch: int) -> float:
        """Routed experts a batch touches per MoE layer under uniform routing:
        ``E (1 - (1 - k/E)^B)``; ``k`` at ``B = 1``, tending to ``E``."""
        validate.positive_int(batch, "batch")
        if not self.is_moe:
            return 0.0
        e, k = self.n_experts, self.n_active_experts
        return e * -math.expm1(batch * math.log1p(-k / e)) if k < e else float(e)

    def decode_weight_params(self, batch: int) -> float:
        """Expected weight parameters one decode step of ``batch`` sequences reads.

        Everything except lookup tables, of which ``min(B, rows) d`` are read; MoE layers read
        ``E (1 - (1 - k/E)^B)`` routed experts each, plus shared experts and the router.
        """
        validate.positive_int(batch, "batch")
        d = self.d_model
        n = float(self.param_count() - self._lookup_table_params())
        if not self.tied_embeddings:
            n += min(batch, self.vocab_size) * d
        if self.learned_positions:
            n += min(batch, self.learned_positions) * d
        if self.is_moe:
            touched = self.expected_experts_touched(batch)
            n -= self.n_moe_layers * (self.n_experts - touched) * self._expert_params()
        return n

    def attention_flops_per_key(self) -> float:
        """Decode attention FLOPs per layer and cached key: scores and values, ``4 H h``.

        MLA decodes in the absorbed form (DeepSeek-V2, arXiv 2405.04434, sec. 2.1.2): the query
        is mapped into the latent space, so each head reads the cached latent and rope key,
        ``2 (r_kv + r_rope)`` FLOPs for the score and ``2 r_kv`` for the value:
        ``2 H (2 r_kv + r_rope)`` (2 x 128 x 1088 for DeepSeek-V3, 3.4x the ``2 H (n + r + v)``
        of an uncompressed head). The absorbed projections cost the same ``2N`` as before.
        """
        if self.is_mla:
            return 2.0 * self.n_heads * (2 * self.kv_lora_rank + self.qk_rope_head_dim)
        return 4.0 * self.n_heads * self.head_dim

    def attention_flops_per_token(self, context: float) -> float:
        """Attention FLOPs of one new token over ``c = context`` cached keys:
        ``X(c) a`` with ``a`` = :meth:`attention_flops_per_key`; ``4 L c H h`` for a plain
        Llama."""
        return self.cached_layer_tokens(context) * self.attention_flops_per_key()

    def prefill_attention_flops(self, tokens: int) -> float:
        """Attention FLOPs of a causal prefill of ``T`` tokens: position ``i`` (1-based) attends
        to ``min(i, w)`` keys in a windowed layer and ``i`` elsewhere, so
        ``a_p [(L - L_w) T (T + 1) / 2 + L_w sum_i min(i, w)]``.

        ``a_p = 4 H h``; MLA prefills in the uncompressed form, ``a_p = 2 H (n + r + v)``
        (with many queries per key, decompressing the keys is cheaper than absorbing).
        """
        validate.positive_int(tokens, "tokens")
        t = tokens
        if self.is_mla:
            a = (
                2.0
                * self.n_heads
                * (self.qk_nope_head_dim + self.qk_rope_head_dim + self.v_head_dim)
            )
        else:
            a = self.attention_flops_per_key()
        full = t * (t + 1) / 2
        n_win, w = self.n_window_layers or 0, self.sliding_window
        windowed = full if t <= w else w * (w + 1) / 2 + (t - w) * w
        return a * ((self.n_layers - n_win) * full + n_win * windowed)

    def flops_per_token(self, context: float) -> float:
        """Forward FLOPs of one token: ``2 (N_act - lookup tables) + attention(c)``."""
        matmul_params = self.active_param_count() - self._lookup_table_params()
        return 2.0 * matmul_params + self.attention_flops_per_token(context)


# ---- presets -----------------------------------------------------------------------------
# Shapes are the published Hugging Face config.json values; each `source` also names the
# published parameter count the tests compare param_count() against.

# Positional order: name, n_layers, d_model, n_heads, n_kv_heads, head_dim, d_ff, vocab_size.
# fmt: off
_PRESET_LIST: tuple[ModelConfig, ...] = (
    # openai-community/gpt2 config.json (n_layer 12, n_embd 768, n_head 12, n_positions 1024,
    # vocab 50257, tied). 124M: https://huggingface.co/openai-community/gpt2 (124,439,808).
    ModelConfig(
        "gpt2", 12, 768, 12, 12, 64, 3072, 50257, tied_embeddings=True,
        mlp="gelu", norm="layernorm", bias=True, learned_positions=1024,
        source="https://huggingface.co/openai-community/gpt2 (config.json; 124M params)",
    ),
    # meta-llama/Llama-2-7b-hf config.json; 6.74B params on the Hugging Face model page
    # (Llama 2 paper, arXiv 2307.09288, names it 7B).
    ModelConfig(
        "llama-2-7b", 32, 4096, 32, 32, 128, 11008, 32000,
        source="https://huggingface.co/meta-llama/Llama-2-7b-hf (config.json; 6.74B params); "
        "arXiv 2307.09288",
    ),
    # meta-llama/Llama-2-13b-hf config.json; 13.0B params.
    ModelConfig(
        "llama-2-13b", 40, 5120, 40, 40, 128, 13824, 32000,
        source="https://huggingface.co/meta-llama/Llama-2-13b-hf (config.json; 13.0B params); "
        "arXiv 2307.09288",
    ),
    # meta-llama/Llama-2-70b-hf config.json (GQA, 8 KV heads); 69.0B params on HF ("70B").
    ModelConfig(
        "llama-2-70b", 80, 8192, 64, 8, 128, 28672, 32000,
        source="https://huggingface.co/meta-llama/Llama-2-70b-hf (config.json; 69.0B params); "
        "arXiv 2307.09288",
    ),
    # meta-llama/Meta-Llama-3-8B config.json; 8.03B params.
    ModelConfig(
        "llama-3-8b", 32, 4096, 32, 8, 128, 14336, 128256,
        source="https://huggingface.co/meta-llama/Meta-Llama-3-8B (config.json; 8.03B params)",
    ),
    # meta-llama/Meta-Llama-3-70B config.json; 70.6B params.
    ModelConfig(
        "llama-3-70b", 80, 8192, 64, 8, 128, 28672, 128256,
        source="https://huggingface.co/meta-llama/Meta-Llama-3-70B (config.json; 70.6B params)",
    ),
    # meta-llama/Llama-3.1-405B config.json; 405B params (Llama 3 herd paper, arXiv 2407.21783).
    ModelConfig(
        "llama-3-405b", 126, 16384, 128, 8, 128, 53248, 128256,
        source="https://huggingface.co/meta-llama/Llama-3.1-405B (config.json); "
        "405B params, arXiv 2407.21783",
    ),
    # mistralai/Mistral-7B-v0.1 config.json (sliding_window 4096 on every layer); 7.24B params.
    ModelConfig(
        "mistral-7b", 32, 4096, 32, 8, 128, 14336, 32000, sliding_window=4096,
        source="https://huggingface.co/mistralai/Mistral-7B-v0.1 (config.json; 7.24B params); "
        "sliding window: arXiv 2310.06825",
    ),
    # mistralai/Mixtral-8x7B-v0.1 config.json (num_local_experts 8, num_experts_per_tok 2,
    # every layer MoE); 46.7B total, 12.9B active: https://mistral.ai/news/mixtral-of-experts/
    ModelConfig(
        "mixtral-8x7b", 32, 4096, 32, 8, 128, 14336, 32000,
        n_experts=8, n_active_experts=2, d_ff_expert=14336,
        source="https://huggingface.co/mistralai/Mixtral-8x7B-v0.1 (config.json); "
        "46.7B total / 12.9B active, https://mistral.ai/news/mixtral-of-experts/",
    ),
    # deepseek-ai/DeepSeek-V3 config.json. 671B total / 37B activated: DeepSeek-V3 technical
    # report, arXiv 2412.19437. The HF checkpoint also ships a ~14B multi-token-prediction
    # module (num_nextn_predict_layers 1) that the 671B excludes, and so do we. Router counted
    # as E d per MoE layer (its small score-correction bias is not counted).
    ModelConfig(
        "deepseek-v3", 61, 7168, 128, 128, 192, 18432, 129280,
        n_experts=256, n_active_experts=8, n_shared_experts=1, d_ff_expert=2048,
        n_dense_layers=3, q_lora_rank=1536, kv_lora_rank=512, qk_nope_head_dim=128,
        qk_rope_head_dim=64, v_head_dim=128,
        source="https://huggingface.co/deepseek-ai/DeepSeek-V3 (config.json); "
        "671B total / 37B activated, arXiv 2412.19437",
    ),
    # meta-llama/Llama-3.2-1B config.json (tied embeddings); 1.24B params.
    ModelConfig(
        "llama-3.2-1b", 16, 2048, 32, 8, 64, 8192, 128256, tied_embeddings=True,
        source="https://huggingface.co/meta-llama/Llama-3.2-1B (config.json; 1.24B params)",
    ),
    # Laptop configs (not published models): `tiny` for unit tests (about 0.1M params),
    # `small` (about 15.7M params) runs a decode step on a CPU in milliseconds.
    ModelConfig(
        "tiny", 2, 64, 4, 2, 16, 128, 256,
        source="tokenmath test config (GQA, 4 query heads, 2 KV heads)",
    ),
    ModelConfig(
        "small", 6, 384, 6, 2, 64, 1024, 8192,
        source="tokenmath laptop config (GQA, 6 query heads, 2 KV heads)",
    ),
)
# fmt: on

PRESETS: Mapping[str, ModelConfig] = MappingProxyType({m.name: m for m in _PRESET_LIST})


def names() -> list[str]:
    """Preset names, in catalog order."""
    return list(PRESETS)


def get(name: str | ModelConfig) -> ModelConfig:
    """A preset by name (case-insensitive, ``_`` same as ``-``); a ``ModelConfig`` passes through."""
    if isinstance(name, ModelConfig):
        return name
    if not isinstance(name, str):
        raise ValueError(f"model must be a ModelConfig or a preset name, got {name!r}")
    key = name.strip().lower().replace("_", "-")
    if key not in PRESETS:
        raise KeyError(f"unknown model {name!r}; known: {', '.join(names())}")
    return PRESETS[key]


# ---- Hugging Face config.json ------------------------------------------------------------

# transformers' default for ``tie_word_embeddings`` when a config.json omits it: False for these
# model types (their config classes set it), True for the rest (PretrainedConfig's default), e.g.
# gemma, gemma2, gpt2, opt. https://huggingface.co/docs/transformers/main_classes/configuration
_UNTIED_BY_DEFAULT = {
    "llama", "mistral", "mixtral", "qwen2", "qwen2_moe", "qwen3", "qwen3_moe", "phi3",
    "deepseek_v2", "deepseek_v3", "gpt_oss",
}  # fmt: skip
_TIED_BY_DEFAULT = {"gemma", "gemma2", "gpt2", "opt"}
_LAYER_TYPES = {"full_attention", "sliding_attention"}
# Keys that change the shape in ways ModelConfig cannot express (Llama 4, Jamba, Gemma-3 ...);
# present with any value but the harmless one, they raise rather than parse silently.
_UNMODELLED = {
    "interleave_moe_layer_step": 1,  # Llama 4: MoE every k-th layer, dense MLPs of another size
    "intermediate_size_mlp": None,  # Llama 4: the dense layers' MLP width
    "attention_chunk_size": None,  # Llama 4: chunked attention
    "attn_layer_period": None,  # Jamba: Mamba layers between attention layers
    "expert_layer_period": None,  # Jamba
    "sliding_window_pattern": None,  # Gemma-3 without layer_types
}


def _req(config: Mapping[str, Any], key: str) -> Any:
    if key not in config or config[key] is None:
        raise ValueError(f"config is missing required key {key!r}")
    return config[key]


def _opt(config: Mapping[str, Any], key: str, default: Any) -> Any:
    value = config.get(key)
    return default if value is None else value


def _int(value: Any, key: str) -> int:
    """A config value as an int, or ``ValueError`` naming its key."""
    ok = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if isinstance(value, bool) or not ok:
        raise ValueError(f"config key {key!r} must be an integer, got {value!r}")
    return int(value)


def _bool(value: Any, key: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"config key {key!r} must be true or false, got {value!r}")
    return value


def _tied(config: Mapping[str, Any], model_type: str) -> bool:
    """``tie_word_embeddings``, or transformers' default for the model type."""
    if config.get("tie_word_embeddings") is not None:
        return _bool(config["tie_word_embeddings"], "tie_word_embeddings")
    if model_type in _UNTIED_BY_DEFAULT:
        return False
    if model_type in _TIED_BY_DEFAULT:
        return True
    raise ValueError(
        f"config has no 'tie_word_embeddings' and its model_type {model_type!r} has no known "
        "default; add the key"
    )


def _window(config: Mapping[str, Any], model_type: str, n_layers: int) -> dict[str, int]:
    """``sliding_window`` and ``n_window_layers`` from the keys transformers reads.

    ``layer_types`` lists each layer's kind (gpt-oss, newer configs); Gemma-2 without it
    alternates, sliding first; Qwen2/3 apply the window only with ``use_sliding_window``, to the
    layers from ``max_window_layers`` on; otherwise (Mistral, Phi-3) every layer has it.
    """
    window = config.get("sliding_window")
    layer_types = config.get("layer_types")
    if layer_types is not None:
        if not isinstance(layer_types, list) or len(layer_types) != n_layers:
            raise ValueError(f"config key 'layer_types' must list {n_layers} layer kinds")
        unknown = sorted(set(map(str, layer_types)) - _LAYER_TYPES)
        if unknown:
            raise ValueError(
                f"config key 'layer_types' has kinds tokenmath cannot model: {unknown} "
                f"(known: {sorted(_LAYER_TYPES)})"
            )
        n_win = layer_types.count("sliding_attention")
    elif window is None:
        return {}
    elif config.get("use_sliding_window") is False:
        return {}
    elif config.get("use_sliding_window") is True:
        start = _int(_opt(config, "max_window_layers", 0), "max_window_layers")
        n_win = max(0, n_layers - start)
    elif model_type == "gemma2":
        n_win = (n_layers + 1) // 2  # layers 0, 2, 4, ... slide
    else:
        n_win = n_layers
    if n_win == 0:
        return {}
    w = _int(_req(config, "sliding_window"), "sliding_window")
    if w < 1:
        raise ValueError(f"config key 'sliding_window' must be a positive integer, got {w}")
    return {"sliding_window": w, "n_window_layers": n_win}


def _qwen_moe(config: Mapping[str, Any], n_layers: int) -> dict[str, Any]:
    """Qwen2-MoE / Qwen3-MoE experts: layer ``i`` is MoE unless it is in ``mlp_only_layers``
    or ``(i + 1) % decoder_sparse_step != 0``; an optional shared expert of its own size."""
    step = _int(_opt(config, "decoder_sparse_step", 1), "decoder_sparse_step")
    if step < 1:
        raise ValueError(f"config key 'decoder_sparse_step' must be >= 1, got {step}")
    dense_only = {_int(i, "mlp_only_layers") for i in _opt(config, "mlp_only_layers", [])}
    moe = [i for i in range(n_layers) if i not in dense_only and (i + 1) % step == 0]
    shared = _int(
        _opt(config, "shared_expert_intermediate_size", 0), "shared_expert_intermediate_size"
    )
    return dict(
        n_experts=_int(config["num_experts"], "num_experts"),
        n_active_experts=_int(_req(config, "num_experts_per_tok"), "num_experts_per_tok"),
        n_shared_experts=1 if shared else 0,
        d_ff_shared_expert=shared,
        d_ff_expert=_int(_req(config, "moe_intermediate_size"), "moe_intermediate_size"),
        n_dense_layers=n_layers - len(moe),
    )


def _gpt2(config: Mapping[str, Any], name: str) -> ModelConfig:
    d = _int(_req(config, "n_embd"), "n_embd")
    heads = _int(_req(config, "n_head"), "n_head")
    return ModelConfig(
        name=name,
        n_layers=_int(_req(config, "n_layer"), "n_layer"),
        d_model=d,
        n_heads=heads,
        n_kv_heads=heads,
        head_dim=d // heads if heads > 0 else 0,
        d_ff=_int(_opt(config, "n_inner", 4 * d), "n_inner"),
        vocab_size=_int(_req(config, "vocab_size"), "vocab_size"),
        tied_embeddings=_tied(config, "gpt2"),
        mlp="gelu",
        norm="layernorm",
        bias=True,
        learned_positions=_int(_req(config, "n_positions"), "n_positions"),
        source="Hugging Face config.json (gpt2 keys)",
    )


def _opt_model(config: Mapping[str, Any], name: str) -> ModelConfig:
    """OPT (arXiv 2205.01068): GPT-2-like, ReLU MLP of ``ffn_dim``, and a learned position table
    of ``max_position_embeddings + 2`` rows (transformers' OPTLearnedPositionalEmbedding)."""
    d = _int(_req(config, "hidden_size"), "hidden_size")
    heads = _int(_req(config, "num_attention_heads"), "num_attention_heads")
    proj = _int(_opt(config, "word_embed_proj_dim", d), "word_embed_proj_dim")
    if proj != d:
        raise ValueError(
            f"config key 'word_embed_proj_dim' ({proj}) differs from hidden_size ({d}): "
            "OPT's embedding projections are not modelled"
        )
    if config.get("activation_function", "relu") != "relu":
        raise ValueError("config key 'activation_function' must be 'relu' for an OPT model")
    return ModelConfig(
        name=name,
        n_layers=_int(_req(config, "num_hidden_layers"), "num_hidden_layers"),
        d_model=d,
        n_heads=heads,
        n_kv_heads=heads,
        head_dim=d // heads,
        d_ff=_int(_req(config, "ffn_dim"), "ffn_dim"),
        vocab_size=_int(_req(config, "vocab_size"), "vocab_size"),
        tied_embeddings=_tied(config, "opt"),
        mlp="relu",
        norm="layernorm",
        bias=_bool(_opt(config, "enable_bias", True), "enable_bias"),
        learned_positions=_int(_req(config, "max_position_embeddings"), "max_position_embeddings")
        + 2,
        source="Hugging Face config.json (opt keys)",
    )


def from_hf_config(config: Mapping[str, Any], name: str | None = None) -> ModelConfig:
    """Build a ``ModelConfig`` from a Hugging Face ``config.json`` dict.

    Reads Llama/Mistral/Qwen/Gemma/Phi-3 keys (``num_hidden_layers``, ``hidden_size``,
    ``num_attention_heads``, ``num_key_value_heads``, ``head_dim``, ``intermediate_size``,
    ``vocab_size``, ``tie_word_embeddings`` or the model type's default), sliding windows
    (``sliding_window``, ``layer_types``, ``use_sliding_window``, ``max_window_layers``),
    Mixtral and gpt-oss experts (``num_local_experts``, ``num_experts_per_tok``), Qwen-MoE
    (``num_experts``, ``moe_intermediate_size``, ``shared_expert_intermediate_size``,
    ``decoder_sparse_step``, ``mlp_only_layers``), DeepSeek-V2/V3 (``n_routed_experts``,
    ``n_shared_experts``, ``moe_intermediate_size``, ``first_k_dense_replace``,
    ``q_lora_rank``, ``kv_lora_rank``, ``qk_*_head_dim``, ``v_head_dim``), GPT-2 (``n_layer``,
    ``n_embd``, ``n_head``, ``n_positions``, ``n_inner``) and OPT (``ffn_dim``).

    Biases on attention projections (Qwen2, gpt-oss) and extra norms (Gemma-2, Qwen3) are not
    counted: under 0.01 % of the parameters. DeepSeek's multi-token-prediction layers
    (``num_nextn_predict_layers``) are left out, as the published 671B does. A missing required
    key, or a key whose structure tokenmath cannot model, raises ``ValueError`` naming it.
    """
    if not isinstance(config, Mapping):
        raise ValueError(
            f"config must be a dict (a parsed config.json), got {type(config).__name__}"
        )
    if name is None:
        name = str(config.get("_name_or_path") or config.get("model_type") or "hf-model")
    model_type = str(config.get("model_type", "")).lower()
    if model_type == "gpt2" or ("n_embd" in config and "hidden_size" not in config):
        return _gpt2(config, name)
    if model_type == "opt":
        return _opt_model(config, name)
    for key, harmless in _UNMODELLED.items():
        if config.get(key) not in (None, harmless):
            raise ValueError(f"config key {key!r} describes a structure tokenmath cannot model")
    if "num_experts" in config and "moe_intermediate_size" not in config:
        raise ValueError(
            "config has 'num_experts' without 'moe_intermediate_size': an expert layout "
            "tokenmath does not know"
        )

    d = _int(_req(config, "hidden_size"), "hidden_size")
    heads = _int(_req(config, "num_attention_heads"), "num_attention_heads")
    n_layers = _int(_req(config, "num_hidden_layers"), "num_hidden_layers")
    kw: dict[str, Any] = dict(
        name=name,
        n_layers=n_layers,
        d_model=d,
        n_heads=heads,
        n_kv_heads=_int(_opt(config, "num_key_value_heads", heads), "num_key_value_heads"),
        d_ff=_int(_req(config, "intermediate_size"), "intermediate_size"),
        vocab_size=_int(_req(config, "vocab_size"), "vocab_size"),
        tied_embeddings=_tied(config, model_type),
        source="Hugging Face config.json",
    )
    kw.update(_window(config, model_type, n_layers))
    if config.get("kv_lora_rank"):  # DeepSeek MLA
        nope = _int(_req(config, "qk_nope_head_dim"), "qk_nope_head_dim")
        rope = _int(_req(config, "qk_rope_head_dim"), "qk_rope_head_dim")
        kw.update(
            head_dim=nope + rope,
            q_lora_rank=_int(_opt(config, "q_lora_rank", 0), "q_lora_rank"),
            kv_lora_rank=_int(config["kv_lora_rank"], "kv_lora_rank"),
            qk_nope_head_dim=nope,
            qk_rope_head_dim=rope,
            v_head_dim=_int(_req(config, "v_head_dim"), "v_head_dim"),
        )
    else:
        kw["head_dim"] = _int(_opt(config, "head_dim", d // max(heads, 1)), "head_dim")
    if config.get("n_routed_experts"):  # DeepSeek MoE
        if _int(_opt(config, "moe_layer_freq", 1), "moe_layer_freq") != 1:
            raise ValueError("config key 'moe_layer_freq' other than 1 is not supported")
        kw.update(
            n_experts=_int(config["n_routed_experts"], "n_routed_experts"),
            n_active_experts=_int(_req(config, "num_experts_per_tok"), "num_experts_per_tok"),
            n_shared_experts=_int(_opt(config, "n_shared_experts", 0), "n_shared_experts"),
            d_ff_expert=_int(_req(config, "moe_intermediate_size"), "moe_intermediate_size"),
            n_dense_layers=_int(_opt(config, "first_k_dense_replace", 0), "first_k_dense_replace"),
        )
    elif config.get("num_experts"):  # Qwen2-MoE, Qwen3-MoE
        kw.update(_qwen_moe(config, n_layers))
    elif config.get("num_local_experts"):  # Mixtral, gpt-oss: every layer, experts of d_ff
        kw.update(
            n_experts=_int(config["num_local_experts"], "num_local_experts"),
            n_active_experts=_int(_req(config, "num_experts_per_tok"), "num_experts_per_tok"),
            d_ff_expert=kw["d_ff"],
        )
    return ModelConfig(**kw)
