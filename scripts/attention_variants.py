"""Time one-token (decode) attention over a long KV cache with each SDPA kernel, on a GPU.

Shapes are llama-3-8b's attention (K = 8 KV heads, G = 4 query heads each, h = 128) in bf16, the
``G`` query heads of a KV head folded into the query axis as ``tokenmath.decoder.attention`` does.
Each variant is ``torch.nn.functional.scaled_dot_product_attention`` with one backend chosen by
``torch.nn.attention.sdpa_kernel`` (or SDPA's own choice, or the plain math as a reference), timed
with ``tokenmath.timing`` and reported as GB/s of K and V read. A variant that fails records its
error and the sweep goes on. Writes JSON with device_info.

    PYTHONPATH=lib python scripts/attention_variants.py --out attn.json
"""

from __future__ import annotations

import argparse
import json
import math

import torch
import torch.nn.functional as F
from tokenmath import calibrate
from tokenmath.timing import bench, bench_graph, device_info
from torch.nn.attention import SDPBackend, sdpa_kernel

K, G, h = 8, 4, 128


def sdpa_backend(backend: SDPBackend):
    def fn(q, k, v):
        with sdpa_kernel(backend):
            return F.scaled_dot_product_attention(q, k, v)

    return fn


def manual_math(q, k, v):
    """``softmax(q k^T / sqrt(h)) v`` in three plain operations."""
    s = torch.matmul(q * (1.0 / math.sqrt(h)), k.transpose(-1, -2))
    return torch.matmul(torch.softmax(s.float(), -1).to(v.dtype), v)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--device", default="cuda")
    p.add_argument("--small", action="store_true", help="short caches (a CPU smoke test)")
    args = p.parse_args()
    dev = torch.device(args.device)
    dtype = calibrate.TORCH_DTYPES[calibrate.matmul_dtype(dev)]
    variants = {
        "sdpa_default": F.scaled_dot_product_attention,
        "sdpa_flash": sdpa_backend(SDPBackend.FLASH_ATTENTION),
        "sdpa_efficient": sdpa_backend(SDPBackend.EFFICIENT_ATTENTION),
        "sdpa_cudnn": sdpa_backend(SDPBackend.CUDNN_ATTENTION),
        "manual_math": manual_math,
    }
    shapes = [(1, 4097), (2, 4096)] if args.small else [
        (1, 32769), (1, 32768), (4, 32769), (1, 8193), (16, 32769), (64, 2049)
    ]
    rows = []
    for B, S in shapes:
        q = torch.randn(B, K, G, h, device=dev, dtype=dtype)
        k = torch.randn(B, K, S, h, device=dev, dtype=dtype)
        v = torch.randn(B, K, S, h, device=dev, dtype=dtype)
        ref = F.scaled_dot_product_attention(q.float(), k.float(), v.float())
        nbytes = 2 * k.numel() * k.element_size()
        for name, fn in variants.items():
            row = {"batch": B, "keys": S, "variant": name, "kv_bytes": nbytes}
            try:
                err = (fn(q, k, v).float() - ref).abs().max().item()
                if dev.type == "cuda":
                    t = bench_graph(lambda f=fn, a=(q, k, v): f(*a), reps=20)
                else:
                    t = bench(lambda f=fn, a=(q, k, v): f(*a), warmup=3, reps=20)
                row.update(time_s=t.median_s, timer=t.backend, max_abs_err=err,
                           gb_per_s=nbytes / t.median_s / 1e9)
            except Exception as exc:  # noqa: BLE001 - a backend that cannot run this shape
                row["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
            print(json.dumps(row))
            rows.append(row)
    with open(args.out, "w", encoding="utf-8") as fh:
        json.dump({"device_info": device_info(dev), "results": rows}, fh, indent=2, default=str)


if __name__ == "__main__":
    main()
