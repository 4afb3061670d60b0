"""Time each weight matrix of a decode step alone, at several batches: the matmul rate at the
step's own shapes.

A decode step of ``B`` sequences multiplies ``x [B, d_in]`` by every weight matrix
``W [d_out, d_in]``. The calibration measures matmul FLOP/s on one large square product, which a
product with few rows does not reach; near the ridge (``B`` about ``F / W``) the roofline needs the
rate at these shapes. For every matrix of one layer (``wqkv``, ``wo``, ``w13``, ``w2``) and the
LM head, and every batch, the JSON records the time (L2 flushed), ``flops = 2 B d_in d_out``,
``bytes = (d_out d_in + B d_in + B d_out) b``, the achieved FLOP/s and bytes/s, and the roofline of
that one product with the datasheet and with the calibrated accelerator. Used by
``scripts/measure_gpu.sh``; runs on a CPU with a small preset too:

    PYTHONPATH=lib python scripts/matmul_shapes.py --model tiny --batches 1,4 --out /tmp/m.json
"""

from __future__ import annotations

import argparse
import json

import torch
import torch.nn.functional as F
from _common import device_and_dtype, write_report
from tokenmath import calibrate, models, roofline
from tokenmath.bench import match_hardware
from tokenmath.timing import bench


def shapes(config: models.ModelConfig) -> dict[str, tuple[int, int]]:
    """``name -> (d_out, d_in)`` of the weight matrices of one layer, and of the LM head."""
    q, kv = config.n_heads * config.head_dim, config.n_kv_heads * config.head_dim
    d, ff = config.d_model, config.d_ff
    return {
        "wqkv": (q + 2 * kv, d),
        "wo": (d, q),
        "w13": (2 * ff, d),
        "w2": (d, ff),
        "lm_head": (config.vocab_size, d),
    }


def _roofline_s(flops: float, nbytes: float, peak: float | None, bw: float | None) -> float | None:
    """``max(flops / peak, nbytes / bw)`` (``roofline.step_time``), or None without a peak."""
    if not peak or not bw:
        return None
    return roofline.step_time(flops, nbytes, 0.0, peak, bw)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="llama-3-8b")
    p.add_argument("--batches", default="1,4,16,64,128,256,512")
    p.add_argument("--device", default=None)
    p.add_argument("--reps", type=int, default=20)
    p.add_argument("--calibrate", choices=("quick", "full"), default="quick")
    p.add_argument("--out", required=True)
    args = p.parse_args()

    dev, info, dtype, torch_dtype = device_and_dtype(args.device)
    bpe = torch.empty((), dtype=torch_dtype).element_size()
    config = models.get(args.model)
    ds = match_hardware(info.get("name", ""), info.get("total_memory_bytes"))
    cal = calibrate.measure_all(dev, quick=args.calibrate == "quick")
    ds_peak = ds.flops.get(dtype) if ds is not None else None
    ds_bw = ds.hbm_bandwidth if ds is not None else None
    gen = torch.Generator(device=dev).manual_seed(0)
    rows = []
    for name, (d_out, d_in) in shapes(config).items():
        w = torch.randn(d_out, d_in, device=dev, dtype=torch_dtype, generator=gen) * 0.02
        for batch in (int(b) for b in args.batches.split(",")):
            x = torch.randn(batch, d_in, device=dev, dtype=torch_dtype, generator=gen)
            t = bench(lambda x=x, w=w: F.linear(x, w), warmup=3, reps=args.reps, device=dev)
            flops = 2.0 * batch * d_in * d_out
            nbytes = float((d_out * d_in + batch * d_in + batch * d_out) * bpe)
            row = {
                "matrix": name,
                "d_out": d_out,
                "d_in": d_in,
                "batch": batch,
                "time_s": t.median_s,
                "p20_s": t.p20_s,
                "p80_s": t.p80_s,
                "n_runs": t.n_runs,
                "timer": t.backend,
                "flops": flops,
                "bytes": nbytes,
                "achieved_flops": flops / t.median_s,
                "achieved_bandwidth": nbytes / t.median_s,
                "roofline_datasheet_s": _roofline_s(flops, nbytes, ds_peak, ds_bw),
                "roofline_calibrated_s": _roofline_s(
                    flops, nbytes, cal.flops.get(dtype), cal.copy_bandwidth
                ),
            }
            print(json.dumps({k: row[k] for k in ("matrix", "batch", "time_s", "achieved_flops")}))
            rows.append(row)
        del w
    report = {
        "what": "F.linear(x [B, d_in], W [d_out, d_in]) alone, per weight matrix and batch",
        "model": config.name,
        "dtype": dtype,
        "datasheet": None if ds is None else {"name": ds.name, "source": ds.source},
        "calibration": {k: v for k, v in cal.to_dict().items() if k != "device_info"},
        "device_info": info,
        "results": rows,
    }
    write_report(args.out, report)


if __name__ == "__main__":
    main()
