"""The T4 path on a CPU: a faked Tesla T4 (compute capability 7.5, whose bf16 torch reports as
supported because it can be emulated) must get fp16 matmuls, and no lab, script or library
module may pick its GPU dtype anywhere but `calibrate.matmul_dtype`."""

from __future__ import annotations

import re

import pytest
import torch
from notebook_files import ROOT
from tokenmath import calibrate
from tokenmath.rungs import split_kv_supported


def _fake_gpu(monkeypatch, capability, bf16_supported=True):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    # torch's default (including_emulation=True) says True on a T4
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: bf16_supported)


def test_faked_t4_gets_fp16_even_though_bf16_is_emulated(monkeypatch):
    _fake_gpu(monkeypatch, (7, 5), bf16_supported=True)
    assert calibrate.matmul_dtype("cuda") == "fp16"
    assert calibrate.TORCH_DTYPES[calibrate.matmul_dtype("cuda")] is torch.float16
    assert not split_kv_supported("cuda:0")  # no flash kernel before Ampere


@pytest.mark.parametrize("capability", [(8, 0), (8, 6), (9, 0), (10, 0)])
def test_ampere_and_later_get_bf16(monkeypatch, capability):
    _fake_gpu(monkeypatch, capability)
    assert calibrate.matmul_dtype("cuda") == "bf16"


def test_cpu_gets_fp32():
    assert calibrate.matmul_dtype("cpu") == "fp32"


SOURCES = sorted(
    [p for d in ("notebooks", "book", "exercises") for p in (ROOT / d).glob("*.md")]
    + list((ROOT / "scripts").glob("*.py"))
    + [p for p in (ROOT / "lib" / "tokenmath").rglob("*.py")
       if p.name not in {"calibrate.py", "timing.py"}]  # the decision, and a device report
)
# A dtype chosen from bf16 support or hard-wired to bf16 on "cuda" bypasses matmul_dtype.
BYPASS = re.compile(r"is_bf16_supported|bfloat16 if |bfloat16\s*\)\s*if ")


@pytest.mark.parametrize("path", SOURCES, ids=[str(p.relative_to(ROOT)) for p in SOURCES])
def test_gpu_dtype_is_chosen_in_one_place(path):
    hits = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()
            if BYPASS.search(line)]
    assert not hits, (f"{path.relative_to(ROOT)} picks a GPU dtype itself ({hits[0]!r}); use "
                      "tokenmath.calibrate.matmul_dtype(device), which gives a T4 fp16")
