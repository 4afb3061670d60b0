"""What the measurement scripts share: the device and its dtype, and writing a report."""

from __future__ import annotations

import json
from typing import Any

import torch
from tokenmath import calibrate
from tokenmath.timing import device_info, resolve_device


def device_and_dtype(device: str | None) -> tuple[torch.device, dict[str, Any], str, torch.dtype]:
    """``(device, device_info, dtype name, torch dtype)``: bf16 on GPUs that have it, fp16 on
    those that do not, fp32 on a CPU (``tokenmath.calibrate.matmul_dtype``)."""
    dev = resolve_device(device)
    dtype = calibrate.matmul_dtype(dev)
    return dev, device_info(dev), dtype, calibrate.TORCH_DTYPES[dtype]


def write_report(path: str, report: dict[str, Any]) -> None:
    """Write ``report`` as indented JSON (what is not JSON becomes its ``str``)."""
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(report, fh, indent=2, default=str)
        fh.write("\n")
