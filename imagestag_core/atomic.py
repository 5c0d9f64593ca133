"""Atomic file replacement: a reader sees the old file or the complete new one.

The data goes to a short temporary name in the target's folder (the same file
system, so the rename is atomic), is flushed to disk with ``fsync``, renamed
over the target, and the folder is fsynced so the rename itself survives a
crash.  The temporary name does not grow with the target's name: a valid
255-byte file name gets a temporary name of about 25 bytes.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from .errors import ImagestagError

__all__ = ["TEMP_PREFIX", "replace_atomic", "temp_path", "write_atomic"]

#: every temporary file starts with this (hidden on POSIX, easy to spot and clean up)
TEMP_PREFIX = ".imagestag-"
_ATTEMPTS = 100


def temp_path(target: str | os.PathLike[str], suffix: str = ".tmp") -> Path:
    """A fresh, unused temporary path beside ``target`` (not created).

    ``suffix`` lets a writer that picks its format from the extension (a video
    writer) keep the real one last.
    """
    folder = Path(target).parent
    return folder / f"{TEMP_PREFIX}{os.urandom(6).hex()}{suffix}"


def _reason(exc: OSError | ValueError) -> str:  # ValueError: a NUL byte in a name
    return getattr(exc, "strerror", None) or str(exc)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # e.g. Windows, where a folder cannot be opened
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def replace_atomic(tmp: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
    """fsync the finished file ``tmp``, rename it over ``target``, fsync the folder.

    ``tmp`` is removed when anything fails; errors raise :class:`ImagestagError`.
    """
    tmp, target = Path(tmp), Path(target)

    def flush() -> None:
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    _commit(tmp, target, flush)


def _commit(tmp: Path, target: Path, prepare: Callable[[], None]) -> None:
    """Run ``prepare`` (write/flush ``tmp``), rename ``tmp`` over ``target``, fsync the folder.

    On any failure ``tmp`` is removed; an ``OSError`` becomes an ImagestagError.
    """
    try:
        prepare()
        os.replace(tmp, target)
    except (OSError, ValueError) as exc:
        tmp.unlink(missing_ok=True)
        raise ImagestagError(f"cannot write {str(target)!r}: {_reason(exc)}") from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(target.parent)


def write_atomic(target: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``target`` atomically and durably (see the module docs).

    The file gets the permissions a plain ``open(target, "wb")`` would (the
    umask applies).  An interrupted or failed write leaves ``target`` as it
    was and no temporary file behind; errors raise :class:`ImagestagError`.
    """
    target = Path(target)
    for _ in range(_ATTEMPTS):
        tmp = temp_path(target)
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                         0o666)
        except FileExistsError:
            continue
        except (OSError, ValueError) as exc:
            raise ImagestagError(f"cannot write {str(target)!r}: {_reason(exc)}") from exc
        break
    else:
        raise ImagestagError(f"cannot write {str(target)!r}: no free temporary name")

    def write() -> None:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())

    _commit(tmp, target, write)
