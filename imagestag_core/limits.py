"""The decompression-bomb limits: pixels an image may have, bytes a file may hold.

A header (probed) or an array (before any copy) over :func:`get_max_pixels` pixels
raises DecompressionBombError before pixel memory is allocated; the default is
Pillow's 178,956,970.  ``IMAGESTAG_MAX_PIXELS`` (an integer >= 0, ``_`` allowed, ``0``
disables it) overrides it, :func:`set_max_pixels` both; other values are errors, not "off".

Only regular files of at most :func:`get_max_file_bytes` bytes are read: by
default 8 bytes per pixel of the pixel limit (uncompressed 16-bit RGBA) plus
64 MiB, unlimited when the pixel limit is off; ``IMAGESTAG_MAX_FILE_BYTES``
(same syntax) and :func:`set_max_file_bytes` override it.
"""

from __future__ import annotations

import os

from .errors import DecompressionBombError, ImagestagError

__all__ = ["DEFAULT_MAX_PIXELS", "check_pixel_limit", "get_max_file_bytes", "get_max_pixels",
           "set_max_file_bytes", "set_max_pixels"]

DEFAULT_MAX_PIXELS = 178_956_970
_overrides: dict[str, int | None] = {"pixels": None, "file bytes": None}


def _limit(what: str, variable: str) -> int | None:
    if _overrides[what] is not None:
        return _overrides[what]
    raw = os.environ.get(variable, "")
    text = raw.strip().replace("_", "")
    if text and not text.isdecimal():  # signs, decimals and exponents alike
        raise ImagestagError(f"{variable} must be a non-negative integer count of {what} "
                             f"(0 disables the limit), got {raw!r}")
    return int(text) if text else None


def _set(what: str, limit: int | None) -> None:
    if limit is not None and (type(limit) is not int or limit < 0):
        raise ValueError(f"max {what} must be a non-negative int or None, got {limit!r}")
    _overrides[what] = limit


def get_max_pixels() -> int:
    """The decompression-bomb limit in pixels (0 = unlimited)."""
    limit = _limit("pixels", "IMAGESTAG_MAX_PIXELS")
    return DEFAULT_MAX_PIXELS if limit is None else limit


def set_max_pixels(limit: int | None) -> None:
    """Set the decompression-bomb limit; ``0`` disables it, ``None`` restores the default/env."""
    _set("pixels", limit)


def get_max_file_bytes() -> int:
    """The largest image file read, in bytes (0 = unlimited; see the module docs)."""
    limit = _limit("file bytes", "IMAGESTAG_MAX_FILE_BYTES")
    if limit is not None:
        return limit
    pixels = get_max_pixels()
    return pixels * 8 + (64 << 20) if pixels else 0


def set_max_file_bytes(limit: int | None) -> None:
    """Set the file size limit; ``0`` disables it, ``None`` restores the default/env."""
    _set("file bytes", limit)


def check_pixel_limit(width: int, height: int, *, source: str | None = None) -> None:
    """Raise DecompressionBombError above the limit; ``source`` names what has that
    size when it is not a header (``"an array"``)."""
    limit = get_max_pixels()
    if limit and width * height > limit:
        error = DecompressionBombError(width, height, limit)
        if source is not None:
            error.args = (str(error).replace("image header claims", f"{source} of", 1),)
        raise error
