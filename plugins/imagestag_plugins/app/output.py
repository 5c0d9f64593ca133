"""What every ``imagestag`` subcommand prints and writes, and its exit statuses.

Bad input prints one line on stderr (``imagestag: error: ...``) and exits 1;
usage errors exit 2 (argparse), an interrupted run 130.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from imagestag_core.errors import ImagestagError, SpecError

__all__ = ["EXIT_ERROR", "EXIT_INTERRUPTED", "CLIError", "err", "note", "one_line",
           "progress", "write_json"]

EXIT_ERROR = 1
EXIT_INTERRUPTED = 130


class CLIError(ImagestagError):
    """A problem with what the user asked for, reported as one line."""


def err(message: str) -> None:
    """``imagestag: <message>`` on stderr."""
    print(f"imagestag: {message}", file=sys.stderr)


def one_line(exc: BaseException) -> str:
    """The error as one line (a spec error keeps its position and expectation)."""
    if isinstance(exc, SpecError) and exc.position is not None:
        text = f"invalid pipeline spec: {exc.reason} at position {exc.position}"
        if exc.text is not None:
            text += f" of {exc.text!r}"
        if exc.expected:
            text += f" (expected {exc.expected})"
        return text
    if isinstance(exc, OSError) and not isinstance(exc, ImagestagError):
        where = f" {exc.filename!r}" if exc.filename else ""
        return f"{exc.strerror or exc}{where}"
    return " ".join(str(exc).split())


def progress(total: int | None, desc: str, quiet: bool) -> Any:
    """A tqdm bar on stderr (an object with ``update(n)``/``close()``)."""
    from tqdm import tqdm

    # disable=None: a bar on a terminal, nothing when stderr is a pipe or a file
    return tqdm(total=total, desc=desc, unit="frame", file=sys.stderr, leave=False,
                disable=True if quiet else None)


def note(args: argparse.Namespace, text: str) -> None:
    """An informational line: on stdout, or on stderr when stdout carries ``--json``."""
    print(text, file=sys.stderr if getattr(args, "json", False) else sys.stdout)


def write_json(path: Path, doc: Any) -> None:
    """``doc`` as a JSON file, written atomically."""
    from imagestag_core.atomic import write_atomic

    write_atomic(path, json.dumps(doc).encode())
