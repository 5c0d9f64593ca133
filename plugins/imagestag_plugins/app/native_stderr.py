"""Keep what C libraries print to stderr out of the ``imagestag`` command's output.

OpenCV, FFmpeg, libpng and libtiff write their own warnings straight to file
descriptor 2 (``[ WARN:0@0.04] ... can't open camera by index``, ``moov atom
not found``, ``libpng error: IDAT: incorrect data check``, ``TIFF_Error``)
around the one line the command prints for the same problem.  The command
says what failed, so without ``-v`` their text is dropped:

* OpenCV's and FFmpeg's own log levels are lowered through the environment
  (``OPENCV_LOG_LEVEL``, ``OPENCV_FFMPEG_LOGLEVEL``), which OpenCV reads when
  it is first imported, in this process and in worker processes it starts;
  a value the user set is kept.
* File descriptor 2 is pointed at the null device for the duration of the
  command, while ``sys.stderr`` keeps writing to the real stderr through a
  duplicate of the original descriptor: everything Python prints (errors,
  warnings, the progress bar) still shows, only native writes are dropped.

This is the application's business, not the library's: ``imagestag_core``
never touches a process's descriptors.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Iterator

__all__ = ["QUIET_ENVIRONMENT", "native_stderr_silenced"]

#: OpenCV's log level names; FFmpeg's AV_LOG_QUIET is -8
QUIET_ENVIRONMENT = {"OPENCV_LOG_LEVEL": "SILENT", "OPENCV_FFMPEG_LOGLEVEL": "-8"}


def _python_stderr_on_fd2() -> bool:
    try:
        return sys.stderr is not None and sys.stderr.fileno() == 2
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return False  # replaced by something without a descriptor (pytest's capsys, a StringIO)


@contextlib.contextmanager
def native_stderr_silenced(enabled: bool = True) -> Iterator[None]:
    """Drop what native code writes to descriptor 2 while the block runs (see the module docs).

    With ``enabled=False`` (``-v``) nothing changes.  The environment and the
    descriptor are restored afterwards.
    """
    if not enabled:
        yield
        return
    added = {k: v for k, v in QUIET_ENVIRONMENT.items() if k not in os.environ}
    os.environ.update(added)
    try:
        saved = os.dup(2)
    except OSError:  # no stderr at all (closed): nothing to protect
        saved = -1
    python_stderr = sys.stderr
    swapped = False
    try:
        if saved >= 0:
            if _python_stderr_on_fd2():
                sys.stderr.flush()
                sys.stderr = open(saved, "w", buffering=1, closefd=False,  # noqa: SIM115
                                  encoding=getattr(python_stderr, "encoding", None),
                                  errors=getattr(python_stderr, "errors", None))
                swapped = True
            null = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(null, 2)
            finally:
                os.close(null)
        yield
    finally:
        if swapped:
            try:
                sys.stderr.flush()
            finally:
                sys.stderr.close()
                sys.stderr = python_stderr
        if saved >= 0:
            os.dup2(saved, 2)
            os.close(saved)
        for key in added:
            os.environ.pop(key, None)
