"""Every colormap matplotlib ships, by the same names, without importing matplotlib.

The tables were sampled from matplotlib by ``tools/gen_colormaps.py`` and are
stored in ``matplotlib_colormaps.npz`` next to this module (256 RGB entries per
map, each within one level of ``cmap(np.linspace(0, 1, 256))``).  The file is
read once, when the plugin manager first collects colormaps, and only then.
"""

from __future__ import annotations

import threading
from importlib import resources
from typing import Any

import numpy as np

from imagestag_core import hookimpl

__all__ = ["load_tables"]

DATA_FILE = "matplotlib_colormaps.npz"

_tables: dict[str, np.ndarray] | None = None
_lock = threading.Lock()


def load_tables() -> dict[str, np.ndarray]:
    """Name -> read-only ``(256, 3)`` uint8 RGB table, read from the data file once."""
    global _tables
    if _tables is None:
        with _lock:
            if _tables is None:
                source = resources.files(__package__ or "imagestag_plugins.colormaps") / DATA_FILE
                with source.open("rb") as fh, np.load(fh, allow_pickle=False) as data:
                    names = [str(n) for n in data["names"]]
                    stack = np.ascontiguousarray(data["tables"], dtype=np.uint8)
                stack.flags.writeable = False
                _tables = dict(zip(names, stack))
    return _tables


@hookimpl
def register_colormaps(register: Any) -> None:
    for name, table in load_tables().items():
        register(name, table)
