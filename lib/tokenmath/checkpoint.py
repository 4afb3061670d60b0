"""Load a Llama-architecture Hugging Face checkpoint into a :class:`~tokenmath.decoder.Decoder`.

A checkpoint directory holds ``config.json`` (the shape, read by
:func:`tokenmath.models.from_hf_config`, plus ``rope_theta``, ``rms_norm_eps`` and
``tie_word_embeddings``) and the weights in one or more ``*.safetensors`` files
(https://huggingface.co/docs/safetensors). Tensor names, Hugging Face's against the decoder's::

    model.embed_tokens                   embed
    model.layers.l.input_layernorm       layers.l.attn_norm
    model.layers.l.self_attn.q_proj      layers.l.attn.wqkv, rows 0 .. H h
                    .k_proj / .v_proj    the next K h rows each
    model.layers.l.self_attn.o_proj      layers.l.attn.wo
    model.layers.l.post_attention_layernorm  layers.l.mlp_norm
    model.layers.l.mlp.gate_proj         layers.l.mlp.w13, rows 0 .. f
                  .up_proj               rows f .. 2 f
    model.layers.l.mlp.down_proj         layers.l.mlp.w2
    model.norm / lm_head                 norm / lm_head (absent when tied to the embedding)

The query and key rows of a Hugging Face Llama checkpoint are already in the half-split RoPE
layout that :func:`tokenmath.decoder.apply_rope` uses, so every tensor loads as it is.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from tokenmath.decoder import Decoder
from tokenmath.models import ModelConfig, from_hf_config

__all__ = ["load_pretrained", "read_config"]


def read_config(path: str | Path) -> tuple[ModelConfig, dict]:
    """``(ModelConfig, decoder keyword arguments)`` from ``path/config.json`` of a Llama model."""
    path = Path(path)
    file = path / "config.json"
    if not file.is_file():
        raise ValueError(f"path must be a checkpoint directory with a config.json, got {path}")
    hf = json.loads(file.read_text(encoding="utf-8"))
    if hf.get("model_type") != "llama":
        raise ValueError(f"model_type must be 'llama', got {hf.get('model_type')!r}")
    if hf.get("hidden_act", "silu") != "silu" or hf.get("attention_bias") or hf.get("mlp_bias"):
        raise ValueError("the decoder needs hidden_act='silu' and no attention or MLP biases")
    rope = hf.get("rope_parameters") or hf.get("rope_scaling") or {}  # transformers 5 / 4
    if rope.get("rope_type", rope.get("type", "default")) != "default":
        raise ValueError(f"only the default RoPE is implemented, got rope parameters {rope}")
    theta = float(rope.get("rope_theta", hf.get("rope_theta", 10000.0)))
    name = path.name  # in the Hugging Face cache: models--owner--repo/snapshots/<commit>
    if path.parent.name == "snapshots" and path.parent.parent.name.startswith("models--"):
        name = path.parent.parent.name.removeprefix("models--").replace("--", "/")
    config = from_hf_config(hf, name=name)
    return config, {"rope_theta": theta, "norm_eps": float(hf.get("rms_norm_eps", 1e-6))}


def _targets(c: ModelConfig) -> dict[str, tuple[str, int]]:
    """Hugging Face name -> (decoder parameter, first row it fills)."""
    q, kv = c.n_heads * c.head_dim, c.n_kv_heads * c.head_dim
    out = {"model.embed_tokens.weight": ("embed.weight", 0), "model.norm.weight": ("norm.weight", 0)}
    if not c.tied_embeddings:
        out["lm_head.weight"] = ("lm_head.weight", 0)
    for i in range(c.n_layers):
        hf, us = f"model.layers.{i}.", f"layers.{i}."
        out.update({
            hf + "input_layernorm.weight": (us + "attn_norm.weight", 0),
            hf + "self_attn.q_proj.weight": (us + "attn.wqkv.weight", 0),
            hf + "self_attn.k_proj.weight": (us + "attn.wqkv.weight", q),
            hf + "self_attn.v_proj.weight": (us + "attn.wqkv.weight", q + kv),
            hf + "self_attn.o_proj.weight": (us + "attn.wo.weight", 0),
            hf + "post_attention_layernorm.weight": (us + "mlp_norm.weight", 0),
            hf + "mlp.gate_proj.weight": (us + "mlp.w13.weight", 0),
            hf + "mlp.up_proj.weight": (us + "mlp.w13.weight", c.d_ff),
            hf + "mlp.down_proj.weight": (us + "mlp.w2.weight", 0),
        })
    return out


@torch.no_grad()
def load_pretrained(
    path: str | Path, *, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32
) -> Decoder:
    """A :class:`Decoder` with the weights of the checkpoint in directory ``path``."""
    from safetensors import safe_open

    config, kw = read_config(path)
    files = sorted(Path(path).glob("*.safetensors"))
    if not files:
        raise ValueError(f"path has no *.safetensors weights: {path}")
    model = Decoder(config, device=device, dtype=dtype, seed=None, **kw)
    params = dict(model.named_parameters())
    targets = _targets(config)
    rows_filled = dict.fromkeys(params, 0)
    for file in files:
        with safe_open(str(file), framework="pt", device="cpu") as f:
            for name in f.keys():  # noqa: SIM118 - safe_open is not a dict
                if name not in targets:
                    if config.tied_embeddings and name == "lm_head.weight":
                        continue  # a tied checkpoint that stores the head anyway
                    raise ValueError(f"{file.name}: unexpected tensor {name!r} for {config.name}")
                ours, start = targets[name]
                w = f.get_tensor(name)
                params[ours][start : start + w.shape[0]].copy_(w)
                rows_filled[ours] += w.shape[0]
    missing = [n for n, p in params.items() if rows_filled[n] != p.shape[0]]
    if missing:
        raise ValueError(f"checkpoint at {path} lacks weights for {', '.join(missing[:4])}")
    return model
