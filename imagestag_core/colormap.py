"""Colormaps: 256-entry RGB lookup tables, their validation and look-up.

Plugins contribute tables through the ``register_colormaps`` hook; each is
checked by :func:`validate_lut` and stored read-only.  ``<name>_r`` resolves
to the reversed table of ``<name>`` unless a plugin registered it itself.
"""

from __future__ import annotations

import re
import threading
from typing import Any

import numpy as np

from .errors import PluginError, UnknownNameError
from .registry import Registry, RegistryEntry

__all__ = ["ColormapRegistry", "check_colormap_name", "get_colormap", "list_colormaps",
           "validate_lut"]

_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_.\-]*")


def check_colormap_name(name: object) -> str:
    """``name`` if it is a valid colormap name (letters, digits, ``_.-``), else PluginError."""
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise PluginError(f"register_colormaps: invalid colormap name {name!r}")
    return name


def validate_lut(lut: Any, name: str = "colormap") -> np.ndarray:
    """Check a colormap table: (256, 3) uint8 RGB.  Returns a read-only copy."""
    try:
        table = np.array(lut)
    except Exception as exc:
        raise PluginError(f"colormap {name!r}: not an array: {exc}") from None
    if table.shape != (256, 3):
        raise PluginError(f"colormap {name!r}: the table must have shape (256, 3), "
                          f"got {table.shape}")
    if table.dtype != np.uint8:
        if not np.issubdtype(table.dtype, np.integer) or table.min() < 0 or table.max() > 255:
            raise PluginError(f"colormap {name!r}: the table must be uint8 (0..255), "
                              f"got {table.dtype}")
        table = table.astype(np.uint8)
    table = np.ascontiguousarray(table)
    table.flags.writeable = False
    return table


class ColormapRegistry(Registry[np.ndarray]):
    """A registry of tables that also answers ``<name>_r`` with the reversed table."""

    def __init__(self, kind: str = "colormap", *, show_hidden: bool = False) -> None:
        super().__init__(kind, show_hidden=show_hidden)
        self._reversed: dict[str, tuple[RegistryEntry[np.ndarray], RegistryEntry[np.ndarray]]]
        self._reversed = {}
        self._reversed_lock = threading.Lock()

    def lookup(self, name: str) -> RegistryEntry[np.ndarray]:
        try:
            return super().lookup(name)
        except UnknownNameError:
            if not (isinstance(name, str) and name.endswith("_r")):
                raise
            base = super().lookup(name[:-2])
        with self._reversed_lock:
            cached = self._reversed.get(name)
            if cached is None or cached[0] is not base:  # the base was re-registered
                table = base.obj[::-1].copy()
                table.flags.writeable = False
                derived = RegistryEntry(self.kind, name, table, (), base.plugin,
                                        base.distribution, base.version, base.hidden)
                cached = self._reversed[name] = (base, derived)
            return cached[1]


def get_colormap(name: str) -> np.ndarray:
    """A (256, 3) uint8 RGB table, read-only; ``<name>_r`` gives it reversed."""
    from .plugins import get_plugin_manager

    return get_plugin_manager().colormaps.get(name)


def list_colormaps() -> list[RegistryEntry[np.ndarray]]:
    """Every registered colormap, sorted by name, with its provider."""
    from .plugins import get_plugin_manager

    return get_plugin_manager().colormaps.list()

