"""The speed-up ladder: one decode step of a :class:`~tokenmath.decoder.Decoder`, run faster.

A decode step at small batch is hundreds of small kernels. Each rung wraps the plain model and
removes one cost, so a chapter can time them one by one (``tokenmath bench --mode``):

* ``eager``: the plain model; Python launches one kernel at a time;
* ``graph``: the step captured once as a CUDA graph and replayed, which removes the CPU's launch
  cost (CUDA only; https://pytorch.org/blog/accelerating-pytorch-with-cuda-graphs/);
* ``compiled``: ``torch.compile(mode="reduce-overhead")``, which fuses the small kernels and
  replays them as CUDA graphs (gpt-fast's setting, https://github.com/pytorch-labs/gpt-fast).

And one switch for the attention kernel, ``split_kv``: with one new token the attention of a
batch has only ``B K`` independent (sequence, KV head) pairs of work. The flash kernel then splits
the keys across thread blocks ("Flash-Decoding", Dao et al. 2023,
https://crfm.stanford.edu/2023/10/12/flashdecoding.html); the cuDNN kernel that SDPA prefers on
Hopper does not, and at batch 1 read a 32k-token cache at 315 GB/s against flash's 2330 GB/s on
an H200 (``lib/tokenmath/data/measurements/NVIDIA-H200-attention.json``). With 128 pairs or more cuDNN was as
fast. ``split_kv`` chooses the flash backend with ``torch.nn.attention.sdpa_kernel`` where the
device has it (CUDA, compute capability >= 8.0: A100, H100, not the T4).
"""

from __future__ import annotations

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

from tokenmath.decoder import Decoder
from tokenmath.kvcache import StaticKVCache

__all__ = ["MODES", "DecodeStep", "generate", "split_kv_supported"]

MODES = ("eager", "graph", "compiled")
SPLIT_KV_MAX_PAIRS = 128  # below this many (sequence, KV head) pairs split-KV pays off
# cuDNN left out: SDPA takes flash where it applies, else the efficient or the math kernel
_SPLIT_KV_BACKENDS = [SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH]


def split_kv_supported(device: torch.device | str) -> bool:
    """Whether ``device`` has PyTorch's flash kernel: CUDA with compute capability >= 8.0."""
    device = torch.device(device)
    return device.type == "cuda" and torch.cuda.get_device_capability(device)[0] >= 8


class DecodeStep:
    """One decode step of ``model`` over its static cache (``model.setup_caches``), as rung
    ``mode``. ``step(tokens [B], pos)`` returns logits ``[B, V]`` in a buffer that the next call
    overwrites (clone them to keep them).

    ``kv_len=None``: attend over the whole cache with a mask, at any position (what generation
    needs). ``kv_len=n``: exactly ``n`` keys and no mask, every call at position ``n - 1`` (the
    benchmark's fixed-context step; the only form in which the flash kernel applies).
    ``split_kv=None`` turns split-KV attention on where the device has the flash kernel and the
    batch has fewer than 128 (sequence, KV head) pairs.
    """

    def __init__(
        self,
        model: Decoder,
        mode: str = "eager",
        *,
        kv_len: int | None = None,
        split_kv: bool | None = None,
    ) -> None:
        cache = model.cache
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        if not isinstance(cache, StaticKVCache):
            raise ValueError("DecodeStep needs a static cache: call model.setup_caches first")
        if kv_len is not None and not 1 <= kv_len <= cache.max_len:
            raise ValueError(f"kv_len must be in 1..max_len={cache.max_len}, got {kv_len!r}")
        if mode == "graph" and model.device.type != "cuda":
            raise ValueError("mode='graph' captures a CUDA graph and needs a CUDA device")
        supported = split_kv_supported(model.device)
        if split_kv is None:
            split_kv = supported and cache.batch * model.config.n_kv_heads < SPLIT_KV_MAX_PAIRS
        if split_kv and not supported:
            raise ValueError("split_kv needs the flash kernel: CUDA, compute capability >= 8.0")
        self.model, self.cache, self.mode, self.kv_len, self.split_kv = (
            model, cache, mode, kv_len, split_kv
        )
        self._fn = self._split_kv_step if split_kv else self._step
        self._tokens = torch.zeros(cache.batch, 1, dtype=torch.long, device=model.device)
        # warm-up and capture write K and V at this position: the one the benchmark measures,
        # or the last of the cache, which no masked step reads before a real step writes it
        warm = cache.max_len - 1 if kv_len is None else kv_len - 1
        self._pos = torch.full((1,), warm, dtype=torch.long, device=model.device)
        self._graph = None
        if mode == "compiled":
            self._fn = torch.compile(self._fn, mode="reduce-overhead", fullgraph=True)
        elif mode == "graph":
            self._capture()

    def _step(self, tokens: torch.Tensor, input_pos: torch.Tensor) -> torch.Tensor:
        return self.model(tokens, input_pos, self.kv_len)[:, -1]

    def _split_kv_step(self, tokens: torch.Tensor, input_pos: torch.Tensor) -> torch.Tensor:
        with sdpa_kernel(_SPLIT_KV_BACKENDS):
            return self.model(tokens, input_pos, self.kv_len)[:, -1]

    @torch.no_grad()
    def _capture(self) -> None:
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):  # warm up (cuBLAS handles, kernel choice) off the main stream
            for _ in range(3):
                self._fn(self._tokens, self._pos)
        torch.cuda.current_stream().wait_stream(side)
        self._graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self._graph):
            self._out = self._fn(self._tokens, self._pos)
        torch.cuda.synchronize()

    @torch.no_grad()
    def __call__(self, tokens: torch.Tensor, pos: int) -> torch.Tensor:
        if self.kv_len is not None and pos != self.kv_len - 1:
            raise ValueError(f"this step attends over kv_len={self.kv_len} keys: pos must be "
                             f"{self.kv_len - 1}, got {pos}")
        if not 0 <= pos < self.cache.max_len:
            raise ValueError(f"pos must be in 0..{self.cache.max_len - 1}, got {pos}")
        self._tokens.copy_(tokens.reshape(-1, 1))
        self._pos.fill_(pos)
        if self._graph is not None:
            self._graph.replay()
            return self._out
        if self.mode == "compiled":
            torch.compiler.cudagraph_mark_step_begin()
        return self._fn(self._tokens, self._pos)


def generate(model: Decoder, prompt: torch.Tensor, new_tokens: int, *, mode: str = "eager",
             split_kv: bool | None = None, **kwargs) -> tuple[torch.Tensor, torch.Tensor]:
    """``model.generate`` on a fresh static cache, its decode steps run as rung ``mode``."""
    cache = model.setup_caches(prompt.shape[0], prompt.shape[1] + new_tokens)
    step = DecodeStep(model, mode, split_kv=split_kv)
    return model.generate(prompt, new_tokens, cache=cache, step=step, **kwargs)
