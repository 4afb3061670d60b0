"""Accelerator catalog: dense peak FLOP/s per dtype, HBM bandwidth and capacity, link bandwidth.

The roofline of a chip is set by two numbers: peak FLOP/s ``F`` and memory bandwidth ``W``.
Their ratio, the ridge point ``F / W`` (FLOP/byte), is the arithmetic intensity a kernel needs
before it stops being memory bound.

Conventions used in every entry:

* FLOP/s are **dense**. NVIDIA datasheets headline "with sparsity" (2:4 structured sparsity)
  figures; the dense value is half of those. Never store the sparse figure.
* ``bf16``/``fp16``/``fp8``/``int8``/``int4`` are tensor-core (matrix unit) rates; for integer
  types the entry is ops/s (TOPS). ``fp32`` is the plain FP32 (non-tensor, CUDA-core/vector)
  rate, **not** TF32.
* Bandwidth in bytes/s and memory in bytes with decimal prefixes (1 GB = 1e9 B), as the
  datasheets use them. On-chip cache (L2 / SRAM) is given in binary MiB, the way the devices
  report it (``deviceQuery`` shows 50 MiB on an H100).
* ``price_per_hour`` is set only where a cited source gives one; otherwise ``None``.
* ``link_bandwidth`` ``W_link`` is the chip's **scale-up** bandwidth in bytes/s **in one
  direction**: what one chip can send (and, at the same time, receive) to the other chips of its
  scale-up domain, all links together (NVLink through NVSwitch, AMD Infinity Fabric, TPU ICI).
  Datasheets quote NVLink as the sum of both directions (H100 SXM "900 GB/s"); the catalog
  stores half of it (450 GB/s), the figure collective costs use (scaling book, "How to Think About
  GPUs", https://jax-ml.github.io/scaling-book/gpus/ : 18 links x 25 GB/s each way). Parts
  without a scale-up link store their PCIe host link, per direction. The scale-out network
  between servers (InfiniBand/Ethernet NICs, about 50 GB/s per GPU) is not a chip property and
  is not stored; pass it as ``link_bandwidth`` to :func:`tokenmath.roofline.decode_step`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from tokenmath.dtypes import DTYPES, check_dtype
from tokenmath.validate import positive

__all__ = ["Accelerator", "CATALOG", "ALIASES", "get", "names", "match_hardware"]

T = 1e12  # tera
GB = 1e9
MiB = 2**20


@dataclass(frozen=True)
class Accelerator:
    """One chip. ``ridge(dtype) = peak_flops(dtype) / hbm_bandwidth`` in FLOP/byte.

    ``link_bandwidth`` (``W_link``, bytes/s in one direction, or ``None`` where unknown) is what
    the chip can send to the other chips of its scale-up domain; see the module docstring.
    """

    name: str
    flops: Mapping[str, float] = field(hash=False)  # dtype -> dense peak FLOP/s
    hbm_bandwidth: float = 0.0  # bytes/s
    hbm_bytes: float = 0.0  # bytes
    cache_bytes: float | None = None  # L2 / SRAM bytes
    price_per_hour: float | None = None  # $ per chip-hour, only with a cited source
    source: str = ""
    link_bandwidth: float | None = None  # scale-up bytes/s per direction (W_link), cited

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError(f"name must be a non-empty string, got {self.name!r}")
        if not isinstance(self.flops, Mapping) or len(self.flops) == 0:
            raise ValueError(
                f"flops must be a non-empty mapping dtype -> FLOP/s, got {self.flops!r}"
            )
        clean: dict[str, float] = {}
        for dtype, value in self.flops.items():
            key = check_dtype(dtype, name="flops key")
            clean[key] = positive(value, f"flops[{key!r}]")
        object.__setattr__(self, "flops", MappingProxyType(clean))
        object.__setattr__(self, "hbm_bandwidth", positive(self.hbm_bandwidth, "hbm_bandwidth"))
        object.__setattr__(self, "hbm_bytes", positive(self.hbm_bytes, "hbm_bytes"))
        if self.cache_bytes is not None:
            object.__setattr__(self, "cache_bytes", positive(self.cache_bytes, "cache_bytes"))
        if self.price_per_hour is not None:
            object.__setattr__(
                self, "price_per_hour", positive(self.price_per_hour, "price_per_hour")
            )
        if self.link_bandwidth is not None:
            object.__setattr__(
                self, "link_bandwidth", positive(self.link_bandwidth, "link_bandwidth")
            )

    def peak_flops(self, dtype: str = "bf16") -> float:
        """Dense peak FLOP/s for ``dtype``; ``ValueError`` if the part has no such rate."""
        key = check_dtype(dtype)
        if key not in self.flops:
            have = ", ".join(d for d in DTYPES if d in self.flops)
            hint = " (use fp16 instead)" if key == "bf16" and "fp16" in self.flops else ""
            raise ValueError(
                f"dtype={dtype!r}: {self.name} has no {key} support{hint}; it supports {have}"
            )
        return self.flops[key]

    def ridge(self, dtype: str = "bf16") -> float:
        """Ridge point ``F / W`` in FLOP/byte: peak FLOP/s over HBM bandwidth."""
        return self.peak_flops(dtype) / self.hbm_bandwidth

    def drain_time(self) -> float:
        """Drain time ``M_HBM / W`` in seconds: how long reading all of HBM once takes."""
        return self.hbm_bytes / self.hbm_bandwidth


def _half(sparse: float) -> float:
    """Dense rate from a datasheet "with sparsity" figure (2:4 sparsity doubles it)."""
    return sparse / 2


_NV_H100 = "https://www.nvidia.com/en-us/data-center/h100/"
_NV_A100 = "https://www.nvidia.com/en-us/data-center/a100/"
_ADA_WP = "https://images.nvidia.com/aem-dam/Solutions/geforce/ada/nvidia-ada-gpu-architecture.pdf"

_ENTRIES: tuple[Accelerator, ...] = (
    # NVIDIA T4 datasheet, https://www.nvidia.com/en-us/data-center/tesla-t4/ : FP32 8.1 TFLOPS,
    # mixed-precision FP16/FP32 65 TFLOPS, INT8 130 TOPS, INT4 260 TOPS (Turing has no sparsity),
    # 16 GB GDDR6, 320 GB/s (10 Gbps x 256-bit). No bf16 (sm_75). L2 4 MiB from deviceQuery on
    # Colab, https://github.com/sylvia-ymlin/cuda-kernels-from-scratch
    # No NVLink: interconnect bandwidth 32 GB/s (PCIe Gen3 x16, both directions) -> 16 GB/s.
    Accelerator(
        name="T4",
        flops={"fp32": 8.1 * T, "fp16": 65 * T, "int8": 130 * T, "int4": 260 * T},
        hbm_bandwidth=320 * GB,
        hbm_bytes=16 * GB,
        cache_bytes=4 * MiB,
        source="https://www.nvidia.com/en-us/data-center/tesla-t4/",
        link_bandwidth=16 * GB,
    ),
    # NVIDIA L4 datasheet, https://www.nvidia.com/en-us/data-center/l4/ : FP32 30.3 TFLOPS;
    # BF16/FP16 242 TFLOPS*, FP8 485 TFLOPS*, INT8 485 TOPS* (* with sparsity -> halve);
    # 24 GB GDDR6, 300 GB/s. L2 48 MiB is from spec databases, not the datasheet.
    # No NVLink: PCIe Gen4 x16, 64 GB/s (both directions) -> 32 GB/s.
    Accelerator(
        name="L4",
        flops={
            "fp32": 30.3 * T,
            "bf16": 121 * T,
            "fp16": 121 * T,
            "fp8": _half(485 * T),
            "int8": _half(485 * T),
        },
        hbm_bandwidth=300 * GB,
        hbm_bytes=24 * GB,
        cache_bytes=48 * MiB,
        source="https://www.nvidia.com/en-us/data-center/l4/",
        link_bandwidth=32 * GB,
    ),
    # NVIDIA A10 datasheet, https://www.nvidia.com/en-us/data-center/products/a10-gpu/ :
    # FP32 31.2 TFLOPS; BF16/FP16 125 (250*) TFLOPS; INT8 250 (500*) TOPS; INT4 500 (1000*) TOPS;
    # 24 GB GDDR6, 600 GB/s; L2 6 MiB. No NVLink: PCIe Gen4 64 GB/s (both directions) -> 32 GB/s.
    Accelerator(
        name="A10",
        flops={
            "fp32": 31.2 * T,
            "bf16": 125 * T,
            "fp16": 125 * T,
            "int8": 250 * T,
            "int4": 500 * T,
        },
        hbm_bandwidth=600 * GB,
        hbm_bytes=24 * GB,
        cache_bytes=6 * MiB,
        source="https://www.nvidia.com/en-us/data-center/products/a10-gpu/",
        link_bandwidth=32 * GB,
    ),
    # NVIDIA A100 datasheet, https://www.nvidia.com/en-us/data-center/a100/ : FP32 19.5 TFLOPS;
    # BF16/FP16 312 (624*) TFLOPS; INT8 624 (1248*) TOPS; 40 GB HBM2 at 1,555 GB/s (SXM);
    # L2 40 MiB. INT4 1248 TOPS dense: NVIDIA A100 Tensor Core GPU Architecture whitepaper, Table 1.
    # NVLink (SXM) 600 GB/s both directions -> 300 GB/s each way (12 links x 25 GB/s, scaling book
    # "GPUs" chapter, https://jax-ml.github.io/scaling-book/gpus/).
    Accelerator(
        name="A100-40GB",
        flops={
            "fp32": 19.5 * T,
            "bf16": 312 * T,
            "fp16": 312 * T,
            "int8": 624 * T,
            "int4": 1248 * T,
        },
        hbm_bandwidth=1555 * GB,
        hbm_bytes=40 * GB,
        cache_bytes=40 * MiB,
        source=_NV_A100,
        link_bandwidth=300 * GB,
    ),
    # Same datasheet, A100 80GB SXM: 80 GB HBM2e at 2,039 GB/s (the "2 TB/s" part; PCIe is 1,935);
    # NVLink 600 GB/s both directions -> 300 GB/s each way.
    Accelerator(
        name="A100-80GB",
        flops={
            "fp32": 19.5 * T,
            "bf16": 312 * T,
            "fp16": 312 * T,
            "int8": 624 * T,
            "int4": 1248 * T,
        },
        hbm_bandwidth=2039 * GB,
        hbm_bytes=80 * GB,
        cache_bytes=40 * MiB,
        source=_NV_A100,
        link_bandwidth=300 * GB,
    ),
    # NVIDIA H100 datasheet, https://www.nvidia.com/en-us/data-center/h100/ , SXM5 column:
    # FP32 67 TFLOPS; BF16/FP16 1,979 TFLOPS*; FP8 3,958 TFLOPS*; INT8 3,958 TOPS* (* with
    # sparsity -> dense 989 / 1979 / 1979, as https://jax-ml.github.io/scaling-book/gpus/ uses);
    # 80 GB HBM3 at 3.35 TB/s; L2 50 MiB. Price: $2 per H100-hour, the rental rate assumed by
    # Epoch AI, "Inference economics of language models", arXiv 2506.04645. NVLink 4: 900 GB/s
    # both directions -> 450 GB/s each way (18 links x 25 GB/s, scaling book "GPUs" chapter).
    Accelerator(
        name="H100-SXM",
        flops={
            "fp32": 67 * T,
            "bf16": 989 * T,
            "fp16": 989 * T,
            "fp8": 1979 * T,
            "int8": 1979 * T,
        },
        hbm_bandwidth=3.35e12,
        hbm_bytes=80 * GB,
        cache_bytes=50 * MiB,
        price_per_hour=2.0,
        source=_NV_H100 + " ; price: Epoch AI, arXiv 2506.04645",
        link_bandwidth=450 * GB,
    ),
    # Same datasheet, H100 PCIe column: FP32 51 TFLOPS; BF16/FP16 1,513*; FP8 3,026*; INT8 3,026*
    # (dense 756 / 1513 / 1513); 80 GB HBM2e at 2.0 TB/s; L2 50 MiB (Chips and Cheese,
    # https://chipsandcheese.com/2023/07/02/nvidias-h100-funny-l2-and-tons-of-bandwidth/).
    # An NVLink bridge joins only pairs of cards (600 GB/s between the two); a group of more than
    # two talks over PCIe Gen5 x16, 128 GB/s both directions -> 64 GB/s each way, stored here.
    Accelerator(
        name="H100-PCIe",
        flops={
            "fp32": 51 * T,
            "bf16": 756 * T,
            "fp16": 756 * T,
            "fp8": 1513 * T,
            "int8": 1513 * T,
        },
        hbm_bandwidth=2.0e12,
        hbm_bytes=80 * GB,
        cache_bytes=50 * MiB,
        source=_NV_H100,
        link_bandwidth=64 * GB,
    ),
    # NVIDIA H200 datasheet, https://www.nvidia.com/en-us/data-center/h200/ , SXM: same GH100
    # compute as H100 SXM (FP32 67; BF16 1,979*; FP8 3,958*; INT8 3,958*), 141 GB HBM3e at
    # 4.8 TB/s. L2 50 MiB inferred from the shared die. NVLink 900 GB/s both directions (same
    # datasheet) -> 450 GB/s each way.
    Accelerator(
        name="H200",
        flops={
            "fp32": 67 * T,
            "bf16": 989 * T,
            "fp16": 989 * T,
            "fp8": 1979 * T,
            "int8": 1979 * T,
        },
        hbm_bandwidth=4.8e12,
        hbm_bytes=141 * GB,
        cache_bytes=50 * MiB,
        source="https://www.nvidia.com/en-us/data-center/h200/",
        link_bandwidth=450 * GB,
    ),
    # NVIDIA HGX B200, per-GPU column of NVIDIA's Blackwell spec table (HGX platform page,
    # https://www.nvidia.com/en-us/data-center/hgx/ , reproduced at
    # https://zdszero.github.io/Computer/Artificial_Intelligence/Hardware.html): FP16/BF16 4.5 PFLOPS,
    # FP8 9 PFLOPS, INT8 9 POPS, all "with sparsity" -> dense 2.25 / 4.5 / 4.5 PFLOPS;
    # FP32 75 TFLOPS; 180 GB HBM3e at 7.7 TB/s (earlier versions of the table said 8 TB/s).
    # The same dense values (2,250 / 4,500 TFLOPS at 1,000 W) are tabulated at
    # https://glennklockwood.com/garden/processors/B200 . FP4 (9 PFLOPS dense) has no dtype here.
    # NVLink 5: 1.8 TB/s per GPU both directions (same table) -> 900 GB/s each way, in an 8-GPU
    # HGX board and in the 72-GPU GB200 NVL72 rack alike (scaling book "GPUs" chapter).
    Accelerator(
        name="B200",
        flops={
            "fp32": 75 * T,
            "bf16": _half(4500 * T),
            "fp16": _half(4500 * T),
            "fp8": _half(9000 * T),
            "int8": _half(9000 * T),
        },
        hbm_bandwidth=7.7e12,
        hbm_bytes=180 * GB,
        source="https://www.nvidia.com/en-us/data-center/hgx/",
        link_bandwidth=900 * GB,
    ),
    # NVIDIA Ada GPU architecture whitepaper (Appendix, GeForce RTX 4090), _ADA_WP: FP32 82.6
    # TFLOPS; FP16/BF16 tensor with FP32 accumulate 165.2 TFLOPS (330.4*), the rate PyTorch
    # matmuls get; FP8 with FP32 accumulate 330.3 (660.6*); INT8 660.6 (1321.2*) TOPS;
    # INT4 1321.2 (2642.4*) TOPS; 24 GB GDDR6X at 1,008 GB/s; L2 72 MiB. No NVLink: the PCIe
    # Gen4 x16 link of the L4 and A10 datasheets, 64 GB/s both directions -> 32 GB/s.
    Accelerator(
        name="RTX-4090",
        flops={
            "fp32": 82.6 * T,
            "bf16": 165.2 * T,
            "fp16": 165.2 * T,
            "fp8": 330.3 * T,
            "int8": 660.6 * T,
            "int4": 1321.2 * T,
        },
        hbm_bandwidth=1008 * GB,
        hbm_bytes=24 * GB,
        cache_bytes=72 * MiB,
        source=_ADA_WP,
        link_bandwidth=32 * GB,
    ),
    # AMD Instinct MI300X page/datasheet,
    # https://www.amd.com/en/products/accelerators/instinct/mi300/mi300x.html : FP32 vector 81.7
    # TFLOPS; BF16/FP16 1,307.4 TFLOPS dense (2,614.9 with sparsity); FP8 2,614.9; INT8 2,614.9
    # TOPS; 192 GB HBM3 at 5.3 TB/s; 256 MB AMD Infinity Cache. 7 Infinity Fabric links of 128 GB/s
    # peak (both directions) -> 7 x 64 = 448 GB/s each way. An 8-GPU platform wires them as a full
    # mesh, one link per peer and no switch: all 448 GB/s only when a chip talks to all 7 peers.
    Accelerator(
        name="MI300X",
        flops={
            "fp32": 81.7 * T,
            "bf16": 1307.4 * T,
            "fp16": 1307.4 * T,
            "fp8": 2614.9 * T,
            "int8": 2614.9 * T,
        },
        hbm_bandwidth=5.3e12,
        hbm_bytes=192 * GB,
        cache_bytes=256 * MiB,
        source="https://www.amd.com/en/products/accelerators/instinct/mi300/mi300x.html",
        link_bandwidth=448 * GB,
    ),
    # Google Cloud TPU v5e, https://cloud.google.com/tpu/docs/v5e : 197 TFLOPS bf16, 394 TOPS
    # int8, 16 GB HBM2 at 819 GB/s. VMEM 128 MiB: https://jax-ml.github.io/scaling-book/tpus/
    # Interchip interconnect 1,600 Gbps = 200 GB/s per chip: 4 ICI links x 50 GB/s one way (scaling
    # book "TPUs" chapter). ICI is a torus, not a switch: a chip reaches only its neighbours, so
    # an all-to-all over it is slower than the switched formulas of tokenmath.roofline assume.
    Accelerator(
        name="TPU-v5e",
        flops={"bf16": 197 * T, "int8": 394 * T},
        hbm_bandwidth=819 * GB,
        hbm_bytes=16 * GB,
        cache_bytes=128 * MiB,
        source="https://cloud.google.com/tpu/docs/v5e",
        link_bandwidth=200 * GB,
    ),
    # Google Cloud TPU v5p, https://cloud.google.com/tpu/docs/v5p : 459 TFLOPS bf16, 918 TOPS
    # int8, 95 GB HBM2e at 2,765 GB/s. Interchip interconnect 4,800 Gbps = 600 GB/s per chip
    # (6 links x 100 GB/s one way in a 3D torus; scaling book "TPUs" chapter).
    Accelerator(
        name="TPU-v5p",
        flops={"bf16": 459 * T, "int8": 918 * T},
        hbm_bandwidth=2765 * GB,
        hbm_bytes=95 * GB,
        source="https://cloud.google.com/tpu/docs/v5p",
        link_bandwidth=600 * GB,
    ),
    # Google Cloud TPU v6e (Trillium), https://cloud.google.com/tpu/docs/v6e : 918 TFLOPS bf16,
    # 1,836 TOPS int8, 32 GB HBM at 1,640 GB/s. Interchip interconnect 3,584 Gbps = 448 GB/s per
    # chip (2D torus).
    Accelerator(
        name="TPU-v6e",
        flops={"bf16": 918 * T, "int8": 1836 * T},
        hbm_bandwidth=1640 * GB,
        hbm_bytes=32 * GB,
        source="https://cloud.google.com/tpu/docs/v6e",
        link_bandwidth=448 * GB,
    ),
)

CATALOG: Mapping[str, Accelerator] = MappingProxyType({a.name: a for a in _ENTRIES})

# Short names readers type. Keys are normalised (lower case, "_" and " " -> "-").
ALIASES: Mapping[str, str] = MappingProxyType(
    {
        "h100": "H100-SXM",
        "h100-sxm5": "H100-SXM",
        "h100-80gb": "H100-SXM",
        "h100-pcie-80gb": "H100-PCIe",
        "h200-sxm": "H200",
        "a100": "A100-80GB",
        "a100-80g": "A100-80GB",
        "a100-40g": "A100-40GB",
        "b200-sxm": "B200",
        "4090": "RTX-4090",
        "rtx4090": "RTX-4090",
        "mi300": "MI300X",
        "v5e": "TPU-v5e",
        "tpu-v5-lite": "TPU-v5e",
        "v5p": "TPU-v5p",
        "v6e": "TPU-v6e",
        "trillium": "TPU-v6e",
    }
)


def _normalise(name: str) -> str:
    return name.strip().lower().replace("_", "-").replace(" ", "-")


_LOOKUP: dict[str, str] = {_normalise(n): n for n in CATALOG}
_LOOKUP.update({_normalise(k): v for k, v in ALIASES.items()})


def names() -> list[str]:
    """Canonical names in the catalog, in catalog order."""
    return list(CATALOG)


def get(name: str | Accelerator) -> Accelerator:
    """Look up an accelerator by name or alias (case-insensitive); an ``Accelerator`` passes through."""
    if isinstance(name, Accelerator):
        return name
    if not isinstance(name, str):
        raise ValueError(f"hw must be an Accelerator or a name, got {name!r}")
    key = _LOOKUP.get(_normalise(name))
    if key is None:
        raise KeyError(
            f"unknown accelerator {name!r}; known: {', '.join(names())} "
            f"(aliases: {', '.join(ALIASES)})"
        )
    return CATALOG[key]


def _words(name: str) -> list[str]:
    return [t for t in re.split(r"[^a-z0-9]+", name.lower()) if t]


def match_hardware(device_name: str, memory_bytes: float | None = None) -> Accelerator | None:
    """The catalog entry a device name (as torch reports it) refers to, or ``None``.

    An entry matches when its model token (the first with a digit: ``h100``, ``a100``, ``t4``,
    ``4090``) is a word of the device name. Ties go to the entry sharing more words (``pcie``,
    ``80gb``), then the closest memory size (``memory_bytes``, if given), then the entry the bare
    model token aliases to.
    """
    if not isinstance(device_name, str):
        raise ValueError(f"device_name must be a string, got {device_name!r}")
    if memory_bytes is not None:
        memory_bytes = positive(memory_bytes, "memory_bytes")
    words = set(_words(device_name))
    best, best_key = None, None
    for name in names():
        toks = _words(name)
        model = next((t for t in toks if any(ch.isdigit() for ch in t)), None)
        if model is None or model not in words:
            continue
        acc = CATALOG[name]
        overlap = sum(t in words for t in toks)
        mem = -abs(math.log(acc.hbm_bytes / memory_bytes)) if memory_bytes else 0.0
        alias = _LOOKUP.get(_normalise(model))
        key = (overlap, round(mem, 2), alias == acc.name)
        if best_key is None or key > best_key:
            best, best_key = acc, key
    return best
