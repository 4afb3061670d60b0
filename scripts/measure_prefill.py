"""Time a whole forward pass over a prompt, without a KV cache, for several prompt lengths.

One such pass is both the prefill of a prompt and what one decode step costs when nothing is
cached (the no-cache baseline recomputes the whole prefix every step). For each length ``T`` the
JSON records the measured time, the model FLOPs ``tokenmath.roofline.prefill_flops`` counts, the
achieved FLOP/s and MFU against the datasheet, and the roofline prediction. Used by
``scripts/measure_gpu.sh``; runs on a CPU with a small preset too:

    PYTHONPATH=lib python scripts/measure_prefill.py --model tiny --lengths 16,64 --out /tmp/p.json
"""

from __future__ import annotations

import argparse
import json

import torch
from _common import device_and_dtype, write_report
from tokenmath import models, roofline
from tokenmath.bench import match_hardware
from tokenmath.decoder import Decoder
from tokenmath.timing import bench


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="llama-3-8b")
    p.add_argument("--lengths", default="128,512,2048,8192")
    p.add_argument("--device", default=None)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--out", required=True)
    args = p.parse_args()

    dev, info, dtype, torch_dtype = device_and_dtype(args.device)
    config = models.get(args.model)
    model = Decoder(config, device=dev, dtype=torch_dtype)
    ds = match_hardware(info.get("name", ""), info.get("total_memory_bytes"))
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
    write_report(args.out, report)


if __name__ == "__main__":
    main()
