"""Profile decode steps: how many kernels a step runs, how long they run, and the gaps between.

For each mode (``eager``, ``graph``, ``compiled``) it runs ``--steps`` decode steps of a
random-weight decoder under ``torch.profiler`` and records, per step: the number of GPU kernels
(and memcpy/memset), the sum of their durations, the span from the first kernel's start to the
last one's end, and ``span - busy``, the time the GPU sat between kernels. Kernels are grouped
(``matmul``, ``attention``, ``other``) and the 20 longest names kept. That split is what the fixed
cost per step ``t0`` of the calibrated roofline is made of. On a CPU (no kernels) it counts the
PyTorch operators per step instead. Used by ``scripts/measure_gpu.sh``:

    PYTHONPATH=lib python scripts/profile_step.py --model tiny --modes eager --out /tmp/p.json
"""

from __future__ import annotations

import argparse
import json
import re
from collections import defaultdict

import torch
from _common import device_and_dtype, write_report
from tokenmath import models
from tokenmath.decoder import Decoder, FastDecode
from tokenmath.kvcache import StaticKVCache

MATMUL = re.compile(r"gemm|gemv|cutlass|nvjet|sm\d+_xmma|splitk|cublas|matmul|mm_", re.I)
ATTENTION = re.compile(r"flash|fmha|attention|attn|cudnn", re.I)


def group(name: str) -> str:
    """``matmul``, ``attention``, ``memory`` (memcpy/memset) or ``other`` for a kernel name."""
    if ATTENTION.search(name):
        return "attention"
    if MATMUL.search(name):
        return "matmul"
    if re.search(r"memcpy|memset", name, re.I):
        return "memory"
    return "other"


def _gpu_summary(events: list, steps: int) -> dict:
    kernels = [e for e in events if e.device_type == torch.autograd.DeviceType.CUDA]
    if not kernels:
        return {"kernels_per_step": 0}
    start = min(e.time_range.start for e in kernels)
    end = max(e.time_range.end for e in kernels)
    busy_us = sum(e.time_range.elapsed_us() for e in kernels)
    by_group: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    by_name: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    for e in kernels:
        g, n = by_group[group(e.name)], by_name[e.name]
        g[0] += 1
        g[1] += e.time_range.elapsed_us()
        n[0] += 1
        n[1] += e.time_range.elapsed_us()
    top = sorted(by_name.items(), key=lambda kv: -kv[1][1])[:20]
    return {
        "kernels_per_step": len(kernels) / steps,
        "busy_s_per_step": busy_us * 1e-6 / steps,
        "span_s_per_step": (end - start) * 1e-6 / steps,
        "idle_s_per_step": ((end - start) - busy_us) * 1e-6 / steps,
        "groups": {
            k: {"kernels_per_step": c / steps, "time_s_per_step": t * 1e-6 / steps}
            for k, (c, t) in sorted(by_group.items())
        },
        "top_kernels": [
            {
                "name": n[:200],
                "group": group(n),
                "calls_per_step": c / steps,
                "time_s_per_step": t * 1e-6 / steps,
            }
            for n, (c, t) in top
        ],
    }


def _cpu_summary(prof, steps: int) -> dict:
    ops = [a for a in prof.key_averages() if a.key.startswith("aten::")]
    return {
        "aten_ops_per_step": sum(a.count for a in ops) / steps,
        "top_ops": [
            {"name": a.key, "calls_per_step": a.count / steps}
            for a in sorted(ops, key=lambda a: -a.count)[:20]
        ],
    }


def profile_mode(model, config, mode: str, batch: int, context: int, steps: int, dtype) -> dict:
    from torch.profiler import ProfilerActivity, profile

    dev = model.device
    cache = StaticKVCache(config, batch=batch, max_len=context + 1, device=dev, dtype=dtype)
    cache.length = context
    step = FastDecode(model, cache, mode, kv_len=context + 1)
    tokens = torch.randint(config.vocab_size, (batch,), device=dev)
    for _ in range(3):  # compile, capture and warm up outside the profile
        step.step(tokens, context)
    activities = [ProfilerActivity.CPU]
    if dev.type == "cuda":
        activities.append(ProfilerActivity.CUDA)
        torch.cuda.synchronize(dev)
    with profile(activities=activities) as prof:
        for _ in range(steps):
            step.step(tokens, context)
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
    row = {"mode": mode, "batch": batch, "context": context, "steps": steps}
    row.update(_cpu_summary(prof, steps))
    if dev.type == "cuda":
        row.update(_gpu_summary(list(prof.events()), steps))
    return row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="llama-3-8b")
    p.add_argument("--modes", default="eager,graph,compiled")
    p.add_argument("--points", default="1:512,64:2048", help="batch:context pairs")
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--device", default=None)
    p.add_argument("--out", required=True)
    args = p.parse_args()

    dev, info, dtype, torch_dtype = device_and_dtype(args.device)
    config = models.get(args.model)
    model = Decoder(config, device=dev, dtype=torch_dtype)
    rows = []
    for point in args.points.split(","):
        batch, context = (int(x) for x in point.split(":"))
        for mode in args.modes.split(","):
            if mode == "compiled":
                import torch._dynamo as dynamo

                dynamo.reset()
            try:
                row = profile_mode(model, config, mode, batch, context, args.steps, torch_dtype)
            except Exception as exc:  # noqa: BLE001 - record the failure, go on with the rest
                row = {"mode": mode, "batch": batch, "context": context, "error": repr(exc)[:500]}
            print(json.dumps({k: v for k, v in row.items() if not isinstance(v, (list, dict))}))
            rows.append(row)
    report = {
        "what": "kernels per decode step under torch.profiler, with busy and idle GPU time",
        "model": config.name,
        "dtype": dtype,
        "device_info": info,
        "results": rows,
    }
    write_report(args.out, report)


if __name__ == "__main__":
    main()
