"""tokenmath: the arithmetic of LLM inference.

The math modules (``validate``, ``dtypes``, ``hardware``, ``models``, ``roofline``, ``cost``,
``serving``, ``tiers``, ``paging``, ``tables``, ``explore``) and the exercise graders (``checks``)
use the standard library only, so ``import tokenmath`` is instant and works anywhere, Pyodide
included. Measurement (``timing``, ``calibrate``, ``bench``) and the engine (``decoder``,
``kvcache``, ``rungs``, ``checkpoint``) import torch; ``plot`` imports matplotlib and ``explorer``
ipywidgets and Plotly; ``cli`` sits on top. Each public function checks its arguments where they
enter (a one-line ``ValueError`` naming the parameter); the helpers behind it take checked values.

Conventions (stated once, used everywhere):

* SI base units in every API: seconds, bytes, FLOPs, FLOP/s, bytes/s.
* Decimal prefixes: 1 GB = 1e9 bytes, 1 TB/s = 1e12 bytes/s (GiB only where named).
* Dense peak FLOP/s, never the "with sparsity" datasheet figure.
* A matmul of an ``m x k`` by a ``k x n`` matrix costs ``2 m k n`` FLOPs (multiply and add).
"""

__version__ = "0.1.0"
