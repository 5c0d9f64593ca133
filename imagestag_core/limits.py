"""The decompression-bomb limit: how many pixels an encoded image may claim.

Encoded images are probed before decoding; a header claiming more than
:func:`get_max_pixels` pixels raises
:class:`~imagestag_core.errors.DecompressionBombError` before any pixel
memory is allocated.  The default limit is 178,956,970 pixels (the same
threshold at which Pillow refuses).

``IMAGESTAG_MAX_PIXELS`` (an integer, ``_`` allowed as a separator; ``0``
disables the check) overrides the default; :func:`set_max_pixels` overrides
both for the process.  Pillow's ``MAX_IMAGE_PIXELS`` is the model.
"""

from __future__ import annotations

import os

from .errors import DecompressionBombError, ImagestagError

__all__ = ["DEFAULT_MAX_PIXELS", "check_pixel_limit", "get_max_pixels", "set_max_pixels"]

DEFAULT_MAX_PIXELS = 178_956_970
_max_pixels: int | None = None


def get_max_pixels() -> int:
    """The decompression-bomb limit in pixels (0 = unlimited)."""
    if _max_pixels is not None:
        return _max_pixels
    env = os.environ.get("IMAGESTAG_MAX_PIXELS", "").strip().replace("_", "")
    if env:
        try:
            return max(0, int(env))
        except ValueError:
            raise ImagestagError(
                f"IMAGESTAG_MAX_PIXELS must be an integer pixel count, got {env!r}"
            ) from None
    return DEFAULT_MAX_PIXELS


def set_max_pixels(limit: int | None) -> None:
    """Set the decompression-bomb limit; ``0`` disables it, ``None`` restores the default/env."""
    global _max_pixels
    if limit is not None and (not isinstance(limit, int) or limit < 0):
        raise ValueError(f"max pixels must be a non-negative int or None, got {limit!r}")
    _max_pixels = limit


def check_pixel_limit(width: int, height: int) -> None:
    """Raise :class:`~imagestag_core.errors.DecompressionBombError` above the limit."""
    limit = get_max_pixels()
    if limit and width * height > limit:
        raise DecompressionBombError(width, height, limit)
