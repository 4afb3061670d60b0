"""Time a whole forward pass over a prompt, without a KV cache, for several prompt lengths.

One such pass is both the prefill of a prompt and what one decode step costs when nothing is
cached (the no-cache baseline recomputes the whole prefix every step). For each length ``T`` the
JSON records the measured time, the model FLOPs ``tokenmath.roofline.prefill_flops`` counts, the
achieved FLOP/s and MFU against the datasheet, and the roofline prediction. Runs on a CPU with a
small preset too:

    PYTHONPATH=lib python scripts/measure_prefill.py --model tiny --lengths 16,64 --out /tmp/p.json
"""

from __future__ import annotations

import argparse
import json

import torch
from tokenmath import calibrate, hardware, models, roofline
from tokenmath.decoder import Decoder
from tokenmath.timing import bench, device_info, resolve_device


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="llama-3-8b")
    p.add_argument("--lengths", default="128,512,2048,8192")
    p.add_argument("--device", default=None)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--out", required=True)
    args = p.parse_args()

    dev = resolve_device(args.device)
    info = device_info(dev)
    dtype = calibrate.matmul_dtype(dev)  # bf16 where the GPU has it, fp16 without, fp32 on CPU
    config = models.get(args.model)
    model = Decoder(config, device=dev, dtype=calibrate.TORCH_DTYPES[dtype])
    ds = hardware.match_hardware(info.get("name", ""), info.get("total_memory_bytes"))
    rows = []
    for length in (int(x) for x in args.lengths.split(",")):
        tokens = torch.randint(config.vocab_size, (1, length), device=dev)
        t = bench(lambda x=tokens: model(x), warmup=2, reps=args.reps, device=dev)
        flops = roofline.prefill_flops(config, length)
        row = {
            "tokens": length,
            "time_s": t.median_s,
            "p20_s": t.p20_s,
            "p80_s": t.p80_s,
            "n_runs": t.n_runs,
            "timer": t.backend,
            "flops": flops,
            "achieved_flops": flops / t.median_s,
        }
        if ds is not None and dtype in ds.flops:
            est = roofline.prefill(config, ds, length, weight_dtype=dtype)
            row.update(
                mfu_datasheet=flops / t.median_s / ds.flops[dtype],
                roofline_datasheet_s=est.time_s,
                roofline_datasheet_bound=est.bound,
            )
        print(json.dumps(row))
        rows.append(row)
    report = {
        "what": "forward pass over a prompt of `tokens` tokens, batch 1, no KV cache (eager)",
        "model": config.name,
        "dtype": dtype,
        "datasheet": None if ds is None else {"name": ds.name, "source": ds.source},
        "device_info": info,
        "results": rows,
    }
    with open(args.out, "w", encoding="utf-8") as fh:
        json.dump(report, fh, indent=2, default=str)
        fh.write("\n")


if __name__ == "__main__":
    main()
