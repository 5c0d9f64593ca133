"""Non-array image sources: files read for their bytes, PIL images read for their pixels.

Only regular files are read (a FIFO blocks forever, ``/dev/zero`` never ends):
the path is ``stat``-ed, opened non-blocking, and re-checked with ``fstat`` in
case it was swapped; a file over :func:`~imagestag_core.limits.get_max_file_bytes`
is refused before it is read.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ImageError, ImageFileNotFoundError
from .limits import get_max_file_bytes
from .pixel_format import PixelFormat

__all__ = ["from_pil", "is_pil", "read_file"]

_KINDS = {stat.S_IFDIR: "a directory", stat.S_IFIFO: "a FIFO (named pipe)", stat.S_IFCHR:
          "a character device", stat.S_IFBLK: "a block device", stat.S_IFSOCK: "a socket"}
_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(
    os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)


def _check(path: Path, status: os.stat_result, limit: int) -> None:
    if not stat.S_ISREG(status.st_mode):
        kind = _KINDS.get(stat.S_IFMT(status.st_mode), "not a file")
        raise ImageFileNotFoundError(path, f"it is {kind}; only regular files are read")
    if limit and status.st_size > limit:
        raise ImageError(f"cannot read image {str(path)!r}: it holds {status.st_size:,} bytes, "
                         f"more than the file size limit of {limit:,} (raise it with "
                         f"set_max_file_bytes or IMAGESTAG_MAX_FILE_BYTES)")


def read_file(path: Path) -> bytes:
    """The bytes of regular file ``path``; else ImageFileNotFoundError (ImageError: too big)."""
    if "\x00" in os.fspath(path):
        raise ImageFileNotFoundError(path, "the path contains a NUL byte")
    limit = get_max_file_bytes()
    try:
        _check(path, os.stat(path), limit)
        with os.fdopen(os.open(path, _FLAGS), "rb") as handle:
            _check(path, os.fstat(handle.fileno()), limit)
            data = handle.read(limit + 1) if limit else handle.read()
    except ImageError:
        raise
    except PermissionError:
        raise ImageFileNotFoundError(path, "permission denied") from None
    except OSError as exc:
        reason = "no such file" if isinstance(exc, FileNotFoundError) else exc.strerror
        raise ImageFileNotFoundError(path, reason or str(exc)) from None
    if limit and len(data) > limit:  # it grew after the fstat
        raise ImageError(f"cannot read image {str(path)!r}: it grew past the file size "
                         f"limit of {limit:,} bytes while being read")
    return data


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
