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


# Each lab's GPU work, sized on a T4 (16 GB on the datasheet; CUDA leaves about 15 GB usable).
# The lines quoted are the lab's own sizing: change one, and this test asks for a new estimate.
# Labs that time decode steps through `tokenmath bench` (2, 5, 8, 9, 10) are not listed: bench
# skips every point whose weights and cache do not fit in the free memory it finds.
T4_USABLE_BYTES = 15e9
FP16 = 2


def _decoder_bytes(preset, batch, context, forward_tokens=0):
    """fp16 weights, a static cache of `batch` x `context`, and fp16 + fp32 logits of a
    forward pass over `forward_tokens` tokens (the decoder returns fp32 logits)."""
    from tokenmath import models

    m = models.get(preset)
    return (m.param_count() * FP16 + batch * m.kv_cache_bytes(context, "fp16")
            + forward_tokens * m.vocab_size * (FP16 + 4))


LAB_GPU_WORK = [
    ("notebooks/00_your_machine.md",
     ["copy_bytes = (1 << 30) if on_gpu", "n = 8192 if on_gpu"],
     2 * 2**30 + 3 * 8192**2 * FP16),
    ("notebooks/01_rooflines.md",
     ["D = F_out = 8192 if on_gpu", "max_batch = 4096 if on_gpu"],
     8192**2 * FP16 + 2 * 4096 * 8192 * FP16),
    ("notebooks/03_why_kv_cache.md",
     ['config, positions = models.get("llama-3.2-1b"), np.arange(64, 1025, 64)'],
     _decoder_bytes("llama-3.2-1b", 1, 1025, forward_tokens=1024)),
    ("notebooks/06_chasing_the_roofline.md",
     ['cfg = models.get("llama-3-8b" if big else "llama-3.2-1b")', "(16, 2048)]"],
     _decoder_bytes("llama-3.2-1b", 16, 2049)),
    ("notebooks/07_prefill_vs_decode.md",
     ['cfg = models.get("llama-3.2-1b" if on_gpu', "n = 4096 if on_gpu",
      "lengths = [16, 64, 128, 512, 2048, 8192] if on_gpu"],
     _decoder_bytes("llama-3.2-1b", 0, 1, forward_tokens=8192) + 3 * 4096**2 * FP16),
    ("notebooks/12_memory_hierarchy.md",
     ["for nbytes in (2**20, 2**24, 2**28, 2**30):"],
     2**30),
]


@pytest.mark.parametrize(("lab", "lines", "need"), LAB_GPU_WORK,
                         ids=[w[0].split("/")[1] for w in LAB_GPU_WORK])
def test_each_lab_gpu_branch_fits_a_t4(lab, lines, need):
    text = (ROOT / lab).read_text(encoding="utf-8")
    missing = [line for line in lines if line not in text]
    assert not missing, f"{lab} sizes its GPU work differently now ({missing[0]!r}): re-estimate"
    assert need <= T4_USABLE_BYTES, f"{lab}: {need / 1e9:.1f} GB on the GPU; a T4 has about 15"


def test_the_big_model_of_lab_6_is_only_taken_with_24_gb_free():
    text = (ROOT / "notebooks/06_chasing_the_roofline.md").read_text(encoding="utf-8")
    assert "big = torch.cuda.mem_get_info()[0] > 24e9" in text
    assert _decoder_bytes("llama-3-8b", 16, 2049) < 24e9
