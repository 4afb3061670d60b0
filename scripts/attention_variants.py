"""Time one-token (decode) attention over a long KV cache, several ways, on a GPU.

Shapes are llama-3-8b's attention (K = 8 KV heads, G = 4 query heads each, h = 128) in bf16.
Each variant is timed on its own with ``tokenmath.timing`` and reported as GB/s of K and V read.
A variant that fails prints its error and the sweep goes on. Writes JSON with device_info.

    PYTHONPATH=lib python scripts/attention_variants.py --out attn.json
"""

from __future__ import annotations

import argparse
import json
import math

import torch
import torch.nn.functional as F
from tokenmath.timing import bench, bench_graph, device_info

K, G, h = 8, 4, 128


def split_kv_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Attention of ``q [B, K, G, h]`` over ``k, v [B, K, S, h]`` with the keys split in chunks.

    ``scores = q k^T / sqrt(h)`` is one batched matmul (parallel over all ``S`` keys), the softmax
    ``p`` runs in fp32 over the small ``[B, K, G, S]`` scores, and ``p v`` is summed chunk by
    chunk: ``y = sum_c p_c v_c`` over ``P`` chunks of ``c`` keys (plus a remainder), so the long
    reduction over ``S`` is spread over ``B K P`` matmuls. Each of K and V is read once.
    """
    B, K, G, h = q.shape
    S = k.shape[2]
    scores = torch.matmul(q * (1.0 / math.sqrt(h)), k.transpose(-1, -2))  # [B, K, G, S]
    p = torch.softmax(scores.float(), dim=-1).to(v.dtype)
    P = max(1, min(256 // (B * K), S // 256))
    c = S // P
    main = P * c
    pc = p[..., :main].reshape(B, K, G, P, c).transpose(2, 3)  # [B, K, P, G, c]
    vc = v[:, :, :main].reshape(B, K, P, c, h)  # [B, K, P, c, h]
    y = torch.matmul(pc, vc).sum(dim=2, dtype=torch.float32)  # [B, K, G, h]
    if main < S:
        y = y + torch.matmul(p[..., main:], v[:, :, main:]).float()
    return y.to(v.dtype)


def sdpa_backend(name):
    from torch.nn.attention import SDPBackend, sdpa_kernel

    backend = getattr(SDPBackend, name)

    def fn(q, k, v):
        with sdpa_kernel(backend):
            return F.scaled_dot_product_attention(q, k, v)

    return fn


def manual_math(q, k, v):
    s = torch.matmul(q * (1.0 / math.sqrt(h)), k.transpose(-1, -2))
    return torch.matmul(torch.softmax(s.float(), -1).to(v.dtype), v)


def flash_lse_chunks(q, k, v, P=32):
    """Chunks as extra heads through the flash kernel, combined with the returned log-sum-exp."""
    B, Kh, S, hd = k.shape
    c = S // P
    kc = k[:, :, : P * c].reshape(B, Kh * P, c, hd)
    vc = v[:, :, : P * c].reshape(B, Kh * P, c, hd)
    qc = q[:, :, None].expand(B, Kh, P, q.shape[2], hd).reshape(B, Kh * P, q.shape[2], hd)
    out = torch.ops.aten._scaled_dot_product_flash_attention(qc, kc, vc)
    o, lse = out[0], out[1]  # o [B, KP, G, h], lse [B, KP, G]
    o = o.view(B, Kh, P, -1, hd).float()
    lse = lse.view(B, Kh, P, -1)
    w = torch.softmax(lse, dim=2)[..., None]
    return (o * w).sum(2).to(v.dtype)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--device", default="cuda")
    p.add_argument("--small", action="store_true", help="tiny shapes (a CPU smoke test)")
    args = p.parse_args()
    dev = torch.device(args.device)
    dtype = torch.bfloat16 if dev.type == "cuda" else torch.float32
    variants = {
        "sdpa_default": F.scaled_dot_product_attention,
        "sdpa_flash": sdpa_backend("FLASH_ATTENTION"),
        "sdpa_efficient": sdpa_backend("EFFICIENT_ATTENTION"),
        "sdpa_cudnn": sdpa_backend("CUDNN_ATTENTION"),
        "manual_math": manual_math,
        "split_kv_attention": split_kv_attention,
        "flash_lse_chunks": flash_lse_chunks,
    }
    flex = None
    try:
        from torch.nn.attention.flex_attention import flex_attention

        flex = torch.compile(flex_attention, dynamic=False)
    except Exception as exc:  # noqa: BLE001
        print("flex_attention unavailable:", exc)
    rows = []
    shapes = [(1, 32769), (1, 32768), (4, 32769), (1, 8193), (16, 32769), (64, 2049)]
    for B, S in [(1, 4097), (2, 4096)] if args.small else shapes:
        q = torch.randn(B, K, G, h, device=dev, dtype=dtype)
        k = torch.randn(B, K, S, h, device=dev, dtype=dtype)
        v = torch.randn(B, K, S, h, device=dev, dtype=dtype)
        ref = F.scaled_dot_product_attention(q.float(), k.float(), v.float())
        nbytes = 2 * k.numel() * k.element_size()
        todo = dict(variants)
        if flex is not None and B * S <= 4 * 32769:  # one compile per shape: long ones only
            qh = q.reshape(B, K * G, 1, h)
            todo["flex_compiled"] = lambda q_, k_, v_, qh=qh: flex(qh, k_, v_, enable_gqa=True)
        for name, fn in todo.items():
            row = {"batch": B, "keys": S, "variant": name, "kv_bytes": nbytes}
            try:
                out = fn(q, k, v)
                err = (out.float().reshape(ref.shape) - ref).abs().max().item()
                if dev.type == "cuda" and name != "flex_compiled":
                    t = bench_graph(lambda f=fn, a=(q, k, v): f(*a), reps=20)
                else:
                    t = bench(lambda f=fn, a=(q, k, v): f(*a), warmup=3, reps=20)
                row.update(
                    time_s=t.median_s,
                    timer=t.backend,
                    max_abs_err=err,
                    gb_per_s=nbytes / t.median_s / 1e9,
                )
            except Exception as exc:  # noqa: BLE001
                row["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
            print(json.dumps(row))
            rows.append(row)
    with open(args.out, "w", encoding="utf-8") as fh:
        json.dump({"device_info": device_info(dev), "results": rows}, fh, indent=2, default=str)


if __name__ == "__main__":
    main()
