"""Non-array image sources: files read for their bytes, PIL images read for their pixels."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .errors import ImageError, ImageFileNotFoundError
from .pixel_format import PixelFormat

__all__ = ["from_pil", "is_pil", "read_file"]


def read_file(path: Path) -> bytes:
    """The bytes of ``path``; a missing or unreadable file is an ImageFileNotFoundError."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ImageFileNotFoundError(path) from None
    except IsADirectoryError:
        raise ImageFileNotFoundError(path, "it is a directory") from None
    except PermissionError:
        raise ImageFileNotFoundError(path, "permission denied") from None
    except OSError as exc:
        raise ImageFileNotFoundError(path, exc.strerror or str(exc)) from None


def is_pil(obj: Any) -> bool:
    """True for a ``PIL.Image.Image`` (without importing PIL for anything else)."""
    module = type(obj).__module__
    if not module.startswith("PIL."):
        return False
    from PIL import Image as PILImage

    return isinstance(obj, PILImage.Image)


def from_pil(pil: Any) -> tuple[np.ndarray, PixelFormat]:
    """The pixels of a PIL image and their format (16-bit and float modes as GRAY)."""
    mode = pil.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N"):
        return np.asarray(pil, dtype=np.uint16), PixelFormat.GRAY
    if mode == "F":
        return np.asarray(pil, dtype=np.float32), PixelFormat.GRAY
    if mode == "I":
        array = np.asarray(pil)
        if array.min(initial=0) < 0 or array.max(initial=0) > 65535:
            raise ImageError("a PIL mode 'I' image with values outside 0..65535 has no "
                             "imagestag format; convert it to 'F' first")
        return array.astype(np.uint16), PixelFormat.GRAY
    if mode == "1":
        pil = pil.convert("L")
        mode = "L"
    if mode == "L":
        return np.asarray(pil), PixelFormat.GRAY
    if mode == "RGB":
        return np.asarray(pil), PixelFormat.RGB
    if mode == "RGBA":
        return np.asarray(pil), PixelFormat.RGBA
    has_alpha = "A" in mode or "transparency" in pil.info
    pil = pil.convert("RGBA" if has_alpha else "RGB")
    return np.asarray(pil), PixelFormat.RGBA if has_alpha else PixelFormat.RGB
