"""Pixel formats an :class:`~imagestag_core.image.Image` can hold."""

from __future__ import annotations

from enum import Enum

import numpy as np

from .errors import ImageError

__all__ = ["PixelFormat"]

_DTYPES_GRAY = (np.dtype(np.uint8), np.dtype(np.uint16), np.dtype(np.float32))
_DTYPES_COLOR = (np.dtype(np.uint8),)


class PixelFormat(str, Enum):
    """Channel layout of an image.

    ``PixelFormat("rgb")``, ``PixelFormat.parse("Gray")`` and the members all
    work.  Colour formats are uint8; ``GRAY`` is also uint16 or float32.
    GRAY arrays are 2-D ``(H, W)``; the others ``(H, W, C)``.
    """

    RGB = "rgb"
    RGBA = "rgba"
    BGR = "bgr"
    BGRA = "bgra"
    GRAY = "gray"

    @classmethod
    def _missing_(cls, value: object) -> PixelFormat | None:
        if isinstance(value, str):
            key = value.strip().lower()
            key = {"grey": "gray", "l": "gray", "grayscale": "gray"}.get(key, key)
            for member in cls:
                if member.value == key:
                    return member
        return None

    @classmethod
    def parse(cls, value: PixelFormat | str) -> PixelFormat:
        """Return the member for a member or a (case-insensitive) name."""
        if isinstance(value, PixelFormat):
            return value
        try:
            return cls(value)
        except ValueError:
            names = ", ".join(m.value for m in cls)
            raise ImageError(f"unknown pixel format {value!r}; expected one of {names}") from None

    @property
    def channels(self) -> int:
        # each colour name spells its channels ("bgra": 4)
        return 1 if self is PixelFormat.GRAY else len(self.value)

    @property
    def has_alpha(self) -> bool:
        return self in (PixelFormat.RGBA, PixelFormat.BGRA)

    @property
    def allowed_dtypes(self) -> tuple[np.dtype, ...]:
        return _DTYPES_GRAY if self is PixelFormat.GRAY else _DTYPES_COLOR

    @classmethod
    def infer(cls, array: np.ndarray) -> PixelFormat:
        """Guess the format from an array's shape (RGB/RGBA for colour)."""
        if array.ndim == 2:
            return cls.GRAY
        if array.ndim == 3:
            return {1: cls.GRAY, 3: cls.RGB, 4: cls.RGBA}.get(array.shape[2]) or _bad_shape(array)
        return _bad_shape(array)

    def __str__(self) -> str:
        return self.value


def _bad_shape(array: np.ndarray) -> PixelFormat:
    raise ImageError(
        f"cannot infer a pixel format from an array of shape {array.shape}; expected "
        f"(H, W) gray, (H, W, 3) RGB or (H, W, 4) RGBA"
    )
