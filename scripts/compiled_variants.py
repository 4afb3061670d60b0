"""Time the compiled decode step under several TorchInductor settings, to find a faster fast path.

``FastDecode(mode="compiled")`` is ``torch.compile(mode="reduce-overhead")``. Each variant below
changes Inductor's settings (``torch._inductor.config.patch``) or how the compiled step is
replayed, compiles the step from scratch, and times it at each ``batch:context`` point with
``tokenmath.timing.bench``. The JSON (rewritten after every variant, so a run cut short keeps what
it measured) records step time, MBU against the datasheet and the compile time, with device_info.

    PYTHONPATH=lib python scripts/compiled_variants.py --out v.json               # on a GPU
    PYTHONPATH=lib python scripts/compiled_variants.py --model tiny --device cpu \\
        --points 1:16 --variants default --out /tmp/v.json                        # smoke test
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from _common import device_and_dtype, write_report
from tokenmath import models
from tokenmath.bench import match_hardware, weight_bytes_read
from tokenmath.decoder import Decoder, FastDecode
from tokenmath.kvcache import StaticKVCache
from tokenmath.timing import bench

# name -> (Inductor settings, replay): "trees" is reduce-overhead's CUDA-graph trees; "manual"
# compiles without CUDA graphs and captures the compiled step in one torch.cuda.CUDAGraph.
# In order of promise, so that a run cut short keeps the likeliest wins:
# - enable_pdl: programmatic dependent launch (Hopper on): a generated kernel starts while the
#   one before it drains, which hides the gaps between the many small kernels of a step;
# - coordinate_descent_tuning: tune each generated kernel's block sizes (gpt-fast's setting); alone
#   it gave 4.65 ms against 4.79 ms at batch 1, context 512 on an H200 and nothing at the other two
#   points (NVIDIA-H200-compiled-coordinate-descent.json), so it is tried here together with PDL;
# - max_autotune_gemm: benchmark Triton matmul templates against cuBLAS for every shape.
VARIANTS: dict[str, tuple[dict, str]] = {
    "default": ({}, "trees"),
    "pdl": ({"triton.enable_pdl": True}, "trees"),
    "pdl_coordinate_descent": (
        {"triton.enable_pdl": True, "coordinate_descent_tuning": True},
        "trees",
    ),
    "max_autotune_gemm": ({"max_autotune_gemm": True}, "trees"),
    "pdl_max_autotune_gemm": ({"triton.enable_pdl": True, "max_autotune_gemm": True}, "trees"),
    "manual_graph": ({}, "manual"),
}


def has_setting(config, key: str) -> bool:
    """Whether Inductor's ``config`` module has the (possibly dotted) setting ``key``."""
    obj = config
    for part in key.split("."):
        if not hasattr(obj, part):
            return False
        obj = getattr(obj, part)
    return True


class _CompiledStep:
    """The compiled decode step of ``FastDecode`` with a chosen replay."""

    def __init__(self, model, cache, kv_len: int, replay: str) -> None:
        if replay == "trees":
            self.fd = FastDecode(model, cache, "compiled", kv_len=kv_len)
            self.run = lambda tokens: self.fd.step(tokens, kv_len - 1)
            return
        fd = FastDecode(model, cache, "eager", kv_len=kv_len)  # the capturable step module
        fn = torch.compile(fd.module, fullgraph=True)
        tokens, pos = fd._tokens, fd._pos
        pos.fill_(kv_len - 1)
        if model.device.type != "cuda":  # nothing to capture: the compiled step as it is
            self.run = lambda t: fn(t.reshape(-1, 1), pos)
            return
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(3):
                fn(tokens, pos)
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            out = fn(tokens, pos)

        def run(t: torch.Tensor) -> torch.Tensor:
            tokens.copy_(t.reshape(-1, 1))
            graph.replay()
            return out

        self.run = run


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="llama-3-8b")
    p.add_argument("--points", default="1:512,64:2048", help="batch:context pairs")
    p.add_argument("--variants", default=",".join(VARIANTS))
    p.add_argument("--reps", type=int, default=20)
    p.add_argument("--device", default=None)
    p.add_argument("--out", required=True)
    args = p.parse_args()
    names = args.variants.split(",")
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        p.error(f"--variants: unknown {unknown}; known: {', '.join(VARIANTS)}")

    import torch._dynamo as dynamo
    import torch._inductor.config as inductor_config

    dev, info, dtype, torch_dtype = device_and_dtype(args.device)
    config = models.get(args.model)
    ds = match_hardware(info.get("name", ""), info.get("total_memory_bytes"))
    model = Decoder(config, device=dev, dtype=torch_dtype)
    kv_per_token = config.kv_bytes_per_token(dtype)
    report = {
        "what": "compiled decode step under several Inductor settings",
        "model": config.name,
        "dtype": dtype,
        "variants": {n: {"inductor": VARIANTS[n][0], "replay": VARIANTS[n][1]} for n in names},
        "datasheet": None
        if ds is None
        else {"name": ds.name, "hbm_bandwidth": ds.hbm_bandwidth, "source": ds.source},
        "device_info": info,
        "results": [],
    }
    for name in names:
        settings, replay = VARIANTS[name]
        for point in args.points.split(","):
            batch, context = (int(x) for x in point.split(":"))
            row = {"variant": name, "batch": batch, "context": context}
            cache = step = None
            try:
                missing = [k for k in settings if not has_setting(inductor_config, k)]
                if missing:
                    raise ValueError(f"this torch has no Inductor setting {missing}")
                dynamo.reset()
                kv_len = context + 1
                cache = StaticKVCache(
                    config, batch=batch, max_len=kv_len, device=dev, dtype=torch_dtype
                )
                cache.length = context
                tokens = torch.randint(config.vocab_size, (batch,), device=dev)
                with inductor_config.patch(settings):
                    t_start = time.perf_counter()
                    step = _CompiledStep(model, cache, kv_len, replay)
                    step.run(tokens)
                    if dev.type == "cuda":
                        torch.cuda.synchronize(dev)
                    row["compile_s"] = time.perf_counter() - t_start
                    t = bench(
                        lambda s=step, x=tokens: s.run(x), warmup=3, reps=args.reps, device=dev
                    )
                nbytes = weight_bytes_read(model, batch) + kv_per_token * batch * kv_len
                row.update(
                    step_time_s=t.median_s,
                    p20_s=t.p20_s,
                    p80_s=t.p80_s,
                    n_runs=t.n_runs,
                    timer=t.backend,
                    bytes_read=nbytes,
                    achieved_bandwidth=nbytes / t.median_s,
                    mbu_datasheet=nbytes / t.median_s / ds.hbm_bandwidth if ds else None,
                )
            except Exception as exc:  # noqa: BLE001 - record the failure, go on with the rest
                row["error"] = repr(exc)[:500]
            finally:
                cache = step = None
                if dev.type == "cuda":
                    torch.cuda.empty_cache()
            print(json.dumps(row), flush=True)
            report["results"].append(row)
            write_report(args.out, report)


if __name__ == "__main__":
    main()
