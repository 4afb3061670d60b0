"""Memory tiers: where a model's bytes can live, how fast each place drains, what it costs.

Symbols: ``C`` capacity of one device of a tier (bytes), ``W`` the bandwidth at which that device
is read into the accelerator (bytes/s, the slower of the device and the link in between), ``p``
the price of the device ($/hour), ``n`` bytes, ``T`` hold time (s).

* **Drain time** ``C / W``: the time to read the whole device once. HBM drains in tens of
  milliseconds, host DRAM over PCIe in seconds, a flash drive in minutes, a hard disk in hours.
* **Holding** ``n`` bytes for ``T`` seconds and reading them back ``r`` times (``reads``) takes a
  share ``n / C`` of the device's capacity for ``T`` and ``r n / W`` seconds of its bandwidth.
  A fleet serving a steady stream of such objects needs ``max(held bytes / C, traffic / W)``
  devices (Little's law: held bytes = arrival rate x ``T``), so the cost is
  ``n p / 3600 * max(T / C, r / W)``: bandwidth-bound (flat in ``T``) below the hold time
  ``r C / W``, capacity-bound (linear in ``T``) above it. For ``r = 1`` the kink is the drain time,
  which is why the cheapest tier for a hold time is roughly the one whose drain time matches it.
* A cached prefix is worth keeping while its holding cost is below the cost of recomputing it
  (a prefill); :func:`break_even_hold_s` solves for the hold time where they meet, and
  :func:`prefix_reload` compares the time to reload a prefix's KV cache over a link with the time
  to recompute it.

The catalog's numbers each carry a public source (datasheets and list prices). Prices of HBM come
from renting the whole accelerator (its memory is what a cached prefix occupies); prices of the
other tiers are cloud list prices per GiB-month or GiB-hour, converted to one device. They are
illustrations of the method, not quotes: put your own in with :class:`Tier`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING

from tokenmath import hardware, models, roofline
from tokenmath.dtypes import check_dtype
from tokenmath.validate import fraction, nonneg, positive, positive_int

if TYPE_CHECKING:
    from tokenmath.hardware import Accelerator
    from tokenmath.models import ModelConfig

__all__ = [
    "Tier",
    "KINDS",
    "CATALOG",
    "CACHE_TIERS",
    "PCIE_X16_BANDWIDTH",
    "get",
    "names",
    "drain_time",
    "transfer_time",
    "hold_cost",
    "cheapest_tier",
    "break_even_hold_s",
    "PrefixReload",
    "prefix_reload",
    "sram_kv_tokens",
]

GB = 1e9
GiB = 2**30
KINDS = ("sram", "hbm", "dram", "flash", "disk")
HOURS_PER_MONTH = 730  # the month cloud list prices use (8,760 hours / 12)


@dataclass(frozen=True)
class Tier:
    """One device of a memory tier: ``capacity_bytes`` ``C``, read ``bandwidth`` ``W`` (bytes/s
    into the accelerator) and, where a source gives one, ``price_per_hour`` ``p`` ($ per device).

    ``drain_s = C / W``; ``price_per_byte_s = p / 3600 / C`` ($ to hold one byte one second).
    """

    name: str
    capacity_bytes: float
    bandwidth: float
    price_per_hour: float | None = None
    kind: str = ""  # one of KINDS: "sram", "hbm", "dram", "flash", "disk"
    source: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError(f"name must be a non-empty string, got {self.name!r}")
        object.__setattr__(
            self, "capacity_bytes", positive(self.capacity_bytes, "capacity_bytes")
        )
        object.__setattr__(self, "bandwidth", positive(self.bandwidth, "bandwidth"))
        if self.kind and self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)} (or empty), got {self.kind!r}")
        if self.price_per_hour is not None:
            object.__setattr__(
                self, "price_per_hour", positive(self.price_per_hour, "price_per_hour")
            )

    @property
    def drain_s(self) -> float:
        """Drain time ``C / W`` in seconds: reading the whole device once."""
        return self.capacity_bytes / self.bandwidth

    @property
    def price_per_byte_s(self) -> float:
        """``p / 3600 / C``: dollars to hold one byte for one second (``ValueError`` unpriced)."""
        return _price(self) / 3600 / self.capacity_bytes


def _price(tier: Tier) -> float:
    if tier.price_per_hour is None:
        raise ValueError(
            f"tier={tier.name!r} has no price_per_hour; give the Tier a price to cost it"
        )
    return tier.price_per_hour


def _per_gib_month(dollars: float, capacity_bytes: float) -> float:
    """$/hour of a device of ``capacity_bytes`` priced at ``dollars`` per GiB-month."""
    return dollars * capacity_bytes / GiB / HOURS_PER_MONTH


# PCIe x16 host link, bytes/s in ONE direction: half of what NVIDIA datasheets quote (they add
# both directions). T4 "PCIe Gen3 x16 32 GB/s", https://www.nvidia.com/en-us/data-center/tesla-t4/
# ; A100 "PCIe Gen4 64 GB/s", https://www.nvidia.com/en-us/data-center/a100/ ; H100 "PCIe Gen5
# 128 GB/s", https://www.nvidia.com/en-us/data-center/h100/ . The raw signalling rates are 8, 16
# and 32 GT/s per lane (PCI-SIG, https://pcisig.com/specifications): 15.8, 31.5, 63 GB/s after
# 128b/130b encoding, before protocol overhead.
PCIE_X16_BANDWIDTH: Mapping[int, float] = MappingProxyType({3: 16 * GB, 4: 32 * GB, 5: 64 * GB})

_H100 = hardware.get("H100-SXM")
_H200 = hardware.get("H200")

# An 8-GPU Hopper server (NVIDIA DGX H100/H200: 2 TB of system memory, 8 x 3.84 TB NVMe U.2
# data drives; https://www.nvidia.com/en-us/data-center/dgx-h200/ and the DGX H100 user guide,
# https://docs.nvidia.com/dgx/dgxh100-user-guide/introduction-to-dgxh100.html ; MLCommons
# Inference v4.1 lists the same 2 TB for NVIDIA's 8 x H200 system,
# https://github.com/mlcommons/inference_results_v4.1/blob/main/closed/NVIDIA/systems/H200-SXM-141GBx8_TRT_MaxQ.json).
# The host tiers below are one GPU's share: 2 TB (32 x 64 GB DIMMs) / 8 of DRAM behind its own
# PCIe Gen5 x16 link, and one of the eight drives.
_DRAM_PER_GPU = 2048 * GB / 8
_GCP_N2_MEMORY_PER_GIB_HOUR = 0.004237  # https://cloud.google.com/compute/vm-instance-pricing
_GCP_LOCAL_SSD_PER_GIB_MONTH = 0.080  # https://cloud.google.com/compute/disks-image-pricing
_GCP_PD_STANDARD_PER_GIB_MONTH = 0.040  # same page: "200 GB standard Persistent Disk ... $8.00"

_ENTRIES: tuple[Tier, ...] = (
    # Groq: 230 MB of on-chip SRAM per LPU at about 80 TB/s, no DRAM,
    # https://groq.com/blog/the-groq-lpu-explained
    Tier("SRAM-Groq", 230e6, 80e12, kind="sram",
         source="https://groq.com/blog/the-groq-lpu-explained"),
    # Cerebras WSE-3: 44 GB of on-wafer SRAM, 21 PB/s, press release of 2024-03-13,
    # https://www.cerebras.ai/press-release/cerebras-announces-third-generation-wafer-scale-engine
    Tier("SRAM-WSE3", 44e9, 21e15, kind="sram",
         source="https://www.cerebras.ai/press-release/"
         "cerebras-announces-third-generation-wafer-scale-engine"),
    # The accelerators' own HBM, from tokenmath.hardware (datasheets). Renting an H100 at $2 per
    # hour (Epoch AI, arXiv 2506.04645) is the price of its 80 GB.
    Tier("HBM-H100", _H100.hbm_bytes, _H100.hbm_bandwidth, _H100.price_per_hour, kind="hbm",
         source=_H100.source),
    Tier("HBM-H200", _H200.hbm_bytes, _H200.hbm_bandwidth, kind="hbm", source=_H200.source),
    # One GPU's share of host DRAM, read over its PCIe Gen5 x16 link (64 GB/s each way); priced
    # as cloud memory, Google Cloud N2 at $0.004237 per GiB-hour (us-central1, on demand).
    Tier("DRAM-PCIe5", _DRAM_PER_GPU, PCIE_X16_BANDWIDTH[5],
         _GCP_N2_MEMORY_PER_GIB_HOUR * _DRAM_PER_GPU / GiB, kind="dram",
         source="https://www.nvidia.com/en-us/data-center/dgx-h200/ ; PCIe Gen5 x16: "
         "https://www.nvidia.com/en-us/data-center/h100/ ; price: "
         "https://cloud.google.com/compute/vm-instance-pricing"),
    # One 3.84 TB NVMe U.2 data drive of the server. Samsung PM1733 U.2, a PCIe Gen4 drive of that
    # class: 6.4 GB/s sequential read
    # (https://semiconductor.samsung.com/ssd/enterprise-ssd/pm1733-pm1735/ ;
    # https://www.hardwareluxx.de/index.php/news/hardware/festplatten/50889-samsungs-ssds-sterben-nicht-mehr-und-erreichen-8-gb-s.html).
    # Priced as Google Cloud Local SSD, $0.080 per GiB-month.
    Tier("NVMe", 3.84e12, 6.4 * GB,
         _per_gib_month(_GCP_LOCAL_SSD_PER_GIB_MONTH, 3.84e12), kind="flash",
         source="https://semiconductor.samsung.com/ssd/enterprise-ssd/pm1733-pm1735/ ; price: "
         "https://cloud.google.com/compute/disks-image-pricing"),
    # One 20 TB hard disk: Seagate Exos X20, 285 MB/s maximum sustained transfer
    # (https://www.seagate.com/products/enterprise-drives/exos-x/x20/ ; Blocks and Files,
    # https://blocksandfiles.com/2022/03/28/seagate-launches-10-platter-20tb-video-surveillance-disk-drive/).
    # Priced as Google Cloud standard (HDD-backed) Persistent Disk, $0.040 per GiB-month.
    Tier("HDD", 20e12, 285e6, _per_gib_month(_GCP_PD_STANDARD_PER_GIB_MONTH, 20e12), kind="disk",
         source="https://www.seagate.com/products/enterprise-drives/exos-x/x20/ ; price: "
         "https://cloud.google.com/compute/disks-image-pricing"),
)

CATALOG: Mapping[str, Tier] = MappingProxyType({t.name: t for t in _ENTRIES})

#: The priced tiers of one GPU's share of an H100 server, fastest first: where a prompt cache
#: can live (HBM, host DRAM over PCIe, a local flash drive, a hard disk).
CACHE_TIERS: tuple[str, ...] = ("HBM-H100", "DRAM-PCIe5", "NVMe", "HDD")

_LOOKUP = {n.lower(): n for n in CATALOG}


def names() -> list[str]:
    """Tier names in catalog order: on-chip SRAM first, then HBM, host DRAM, flash, disk."""
    return list(CATALOG)


def get(name: str | Tier) -> Tier:
    """A tier by name (case-insensitive); a :class:`Tier` passes through."""
    if isinstance(name, Tier):
        return name
    if not isinstance(name, str):
        raise ValueError(f"tier must be a Tier or a name, got {name!r}")
    key = _LOOKUP.get(name.strip().lower())
    if key is None:
        raise KeyError(f"unknown tier {name!r}; known: {', '.join(names())}")
    return CATALOG[key]


def drain_time(capacity_bytes: float, bandwidth: float) -> float:
    """Drain time ``C / W`` in seconds: reading a memory of ``C`` bytes once at ``W`` bytes/s.

    An H200 (141 GB, 4.8 TB/s) drains in 29 ms; a decode step that fills HBM with weights and
    KV cache reads about all of it, so its memory time is about the drain time.
    """
    return positive(capacity_bytes, "capacity_bytes") / positive(bandwidth, "bandwidth")


def transfer_time(nbytes: float, bandwidth: float) -> float:
    """Seconds to move ``nbytes`` at ``bandwidth`` bytes/s: ``n / W`` (0 for no bytes)."""
    return nonneg(nbytes, "nbytes") / positive(bandwidth, "bandwidth")


def _reads(reads: object) -> int:
    return positive_int(reads, "reads")


def _cost_per_byte(tier: Tier, hold_s: float, reads: int) -> float:
    return _price(tier) / 3600 * max(hold_s / tier.capacity_bytes, reads / tier.bandwidth)


def hold_cost(tier: str | Tier, nbytes: float, hold_s: float, *, reads: int = 1) -> float:
    """Dollars to keep ``nbytes`` in ``tier`` for ``hold_s`` seconds and read them ``reads`` times.

    ``n p / 3600 * max(T / C, r / W)``: the bytes take a share ``n / C`` of a device for ``T``
    seconds, or ``r n / W`` seconds of its bandwidth, whichever is the larger use of the device
    (a fleet is sized by the scarcer of the two). Flat in ``T`` below ``r C / W`` (the drain
    time for ``r = 1``), linear above.
    """
    t = get(tier)
    n = nonneg(nbytes, "nbytes")
    return n * _cost_per_byte(t, nonneg(hold_s, "hold_s"), _reads(reads))


def cheapest_tier(
    hold_s: float, tiers: Iterable[str | Tier] | None = None, *, reads: int = 1
) -> Tier:
    """The tier where holding a byte for ``hold_s`` seconds (read back ``reads`` times) costs
    least: the minimum over ``tiers`` (default :data:`CACHE_TIERS`) of
    ``p / 3600 * max(T / C, r / W)``. Ties go to the tier listed first."""
    hold_s = nonneg(hold_s, "hold_s")
    reads = _reads(reads)
    chosen = [get(t) for t in (CACHE_TIERS if tiers is None else tiers)]
    if not chosen:
        raise ValueError("tiers must name at least one tier")
    return min(chosen, key=lambda t: _cost_per_byte(t, hold_s, reads))


def break_even_hold_s(
    tier: str | Tier, nbytes: float, recompute_cost: float, *, reads: int = 1
) -> float:
    """The hold time (s) at which keeping ``nbytes`` in ``tier`` costs as much as recomputing
    them, ``recompute_cost`` dollars: ``T* = R C / (n p / 3600)``.

    Holding is cheaper for any shorter hold. Returns 0.0 when even the bandwidth share alone,
    ``n p r / (3600 W)``, costs at least ``R``: on that tier a hit never beats recomputing.
    """
    t = get(tier)
    n = positive(nbytes, "nbytes")
    r = positive(recompute_cost, "recompute_cost")
    reads = _reads(reads)
    per_s = n * _price(t) / 3600
    if per_s * reads / t.bandwidth >= r:
        return 0.0
    return r * t.capacity_bytes / per_s


@dataclass(frozen=True)
class PrefixReload:
    """Reloading the KV cache of a prefix of ``tokens`` tokens against recomputing it.

    ``reload_s = kv_bytes / (n_chips W_link)`` (each chip reloads its shard over its own link);
    ``recompute_s`` is the roofline prefill time of the prefix
    (:func:`tokenmath.roofline.prefill`).
    ``breakeven_bandwidth`` is the link bandwidth per chip at which the two take equal time.
    """

    tokens: int
    kv_bytes: float
    link_bandwidth: float
    n_chips: int
    reload_s: float
    recompute_s: float

    @property
    def speedup(self) -> float:
        """``recompute_s / reload_s``: how many times faster a reload is than a recompute."""
        return self.recompute_s / self.reload_s

    @property
    def breakeven_bandwidth(self) -> float:
        """Bytes/s per chip at which reloading takes as long as recomputing:
        ``kv_bytes / (n_chips recompute_s)``."""
        return self.kv_bytes / (self.n_chips * self.recompute_s)


def prefix_reload(
    model: str | ModelConfig,
    hw: str | Accelerator,
    tokens: int,
    link_bandwidth: float,
    *,
    mfu: float = 1.0,
    weight_dtype: str = "bf16",
    kv_dtype: str | None = None,
    n_chips: int = 1,
) -> PrefixReload:
    """Time to reload a cached prefix of ``tokens`` tokens over a link, and to recompute it.

    ``kv_bytes = kv_cache_bytes(tokens)`` in ``kv_dtype`` (default ``weight_dtype``);
    ``reload_s = kv_bytes / (n_chips * link_bandwidth)``; ``recompute_s`` is
    ``roofline.prefill(model, hw, tokens, mfu=mfu, ...).time_s`` on ``n_chips`` chips. Without
    attention FLOPs the ratio is ``recompute / reload = 2 N W_link / (k_B F mfu)``: a model with
    many FLOPs per byte of KV (large, or with a compressed cache) is cheap to reload.
    """
    m = models.get(model)
    tokens = positive_int(tokens, "tokens")
    link = positive(link_bandwidth, "link_bandwidth")
    n_chips = positive_int(n_chips, "n_chips")
    kv = check_dtype(weight_dtype if kv_dtype is None else kv_dtype, "kv_dtype")
    pre = roofline.prefill(m, hw, tokens, mfu=fraction(mfu, "mfu"), weight_dtype=weight_dtype,
                           kv_dtype=kv, n_chips=n_chips)
    kv_bytes = m.kv_cache_bytes(tokens, kv)
    return PrefixReload(
        tokens=tokens,
        kv_bytes=kv_bytes,
        link_bandwidth=link,
        n_chips=n_chips,
        reload_s=kv_bytes / (n_chips * link),
        recompute_s=pre.time_s,
    )


def sram_kv_tokens(sram_bytes: float, weight_bytes: float, kv_bytes_per_token: float) -> int:
    """Tokens of KV cache that fit in the SRAM left over once the weights are in it:
    ``floor((S - N b_w) / k_B)``, 0 when the weights alone do not fit.

    ``sram_bytes`` is the SRAM of every chip together. The tokens are shared by the whole batch:
    ``B`` sequences of ``c`` tokens need ``B c`` of them.
    """
    s = positive(sram_bytes, "sram_bytes")
    w = nonneg(weight_bytes, "weight_bytes")
    k = positive(kv_bytes_per_token, "kv_bytes_per_token")
    if w >= s:
        return 0
    tokens = math.floor((s - w) / k)
    while tokens > 0 and w + tokens * k > s:  # guard the float floor
        tokens -= 1
    return tokens
