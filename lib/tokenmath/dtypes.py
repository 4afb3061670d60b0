"""Number formats by name, and how many bytes one element takes.

``fp32`` 4 B, ``bf16`` 2 B, ``fp16`` 2 B, ``fp8`` 1 B, ``int8`` 1 B, ``int4`` 0.5 B.
"""

from __future__ import annotations

BYTES_PER_ELEMENT: dict[str, float] = {
    "fp32": 4.0,
    "bf16": 2.0,
    "fp16": 2.0,
    "fp8": 1.0,
    "int8": 1.0,
    "int4": 0.5,
}

DTYPES: tuple[str, ...] = tuple(BYTES_PER_ELEMENT)


def check_dtype(dtype: str, name: str = "dtype") -> str:
    """Return ``dtype`` lower-cased, or raise ``ValueError`` naming the parameter ``name``."""
    key = dtype.lower() if isinstance(dtype, str) else dtype
    if key not in BYTES_PER_ELEMENT:
        raise ValueError(f"{name}={dtype!r} is not a known dtype; use one of {', '.join(DTYPES)}")
    return key


def bytes_per_element(dtype: str, name: str = "dtype") -> float:
    """Bytes one element of ``dtype`` takes (``int4`` is 0.5)."""
    return BYTES_PER_ELEMENT[check_dtype(dtype, name)]
