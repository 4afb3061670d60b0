"""tokenmath: the arithmetic of LLM inference.

The math modules (``dtypes``, ``hardware``, ``models``, ``roofline``, ``cost``) import neither
torch nor matplotlib, so ``import tokenmath`` is instant and works anywhere. Measurement
(``timing``, ``calibrate``, ``kvcache``, ``decoder``) imports torch; ``plot`` imports matplotlib.

Conventions (stated once, used everywhere):

* SI base units in every API: seconds, bytes, FLOPs, FLOP/s, bytes/s.
* Decimal prefixes: 1 GB = 1e9 bytes, 1 TB/s = 1e12 bytes/s (GiB only where named).
* Dense peak FLOP/s, never the "with sparsity" datasheet figure.
* A matmul of an ``m x k`` by a ``k x n`` matrix costs ``2 m k n`` FLOPs (multiply and add).
"""

__version__ = "0.1.0"
