"""Value ranges shared by the filters of this pack."""

from __future__ import annotations

import numpy as np


def full_scale(dtype: np.dtype) -> float:
    """The value of "white": 255 for uint8, 65535 for uint16, 1.0 for float images."""
    if np.issubdtype(dtype, np.integer):
        return float(np.iinfo(dtype).max)
    return 1.0


def to_dtype(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Round and clip float ``values`` into an integer ``dtype``; floats pass through."""
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return np.clip(np.rint(values), info.min, info.max).astype(dtype)
    return values.astype(dtype, copy=False)
