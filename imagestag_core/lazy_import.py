"""Deferred imports of heavy modules (OpenCV) until pixels are touched.

``import imagestag_core``, building the plugin manager and listing filters or
codecs must not pay for OpenCV (most of a CLI start before it was deferred).
A module that needs ``cv2`` in its functions writes::

    from typing import TYPE_CHECKING

    from imagestag_core.lazy_import import lazy_module

    if TYPE_CHECKING:
        import cv2
    else:
        cv2 = lazy_module("cv2", globals())

and keeps calling ``cv2.resize(...)`` as before.  Type checkers see the real
module; at run time the first attribute access imports it and rebinds the
module's global ``cv2`` to the real module, so every later call is an ordinary
global look-up with no proxy in between (the hot path stays as fast as with a
top-level import).  Module-level tables of OpenCV constants must be built on
first use for the same reason (a cached function), not at import time.
"""

from __future__ import annotations

import importlib
from collections.abc import MutableMapping
from types import ModuleType
from typing import Any

__all__ = ["LazyModule", "lazy_module"]


class LazyModule:
    """Stand-in for the module ``name``, bound as ``namespace[bind_as]``.

    Args:
        name: the module to import on first attribute access (``"cv2"``).
        namespace: the globals of the module that uses it; the first access
            replaces the stand-in there with the real module.
        bind_as: the global name holding the stand-in (defaults to the last
            component of ``name``).

    A stand-in copied elsewhere (``from mod import cv2`` before first use)
    keeps working: each access is forwarded, it just skips the rebinding.
    """

    __slots__ = ("_bind_as", "_name", "_namespace")

    def __init__(self, name: str, namespace: MutableMapping[str, Any],
                 bind_as: str | None = None) -> None:
        self._name = name
        self._namespace = namespace
        self._bind_as = bind_as or name.rpartition(".")[2]

    def load(self) -> ModuleType:
        """Import the module (once; the import system caches it) and rebind the global."""
        module = importlib.import_module(self._name)
        # Only replace our own binding: the user may have rebound the name on purpose.
        if self._namespace.get(self._bind_as) is self:
            self._namespace[self._bind_as] = module
        return module

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.load(), attr)

    def __repr__(self) -> str:
        return f"<lazy module {self._name!r}>"


def lazy_module(name: str, namespace: MutableMapping[str, Any],
                bind_as: str | None = None) -> Any:
    """A :class:`LazyModule` for ``name``; typed ``Any`` because callers declare the
    real module for type checkers under ``if TYPE_CHECKING:``."""
    return LazyModule(name, namespace, bind_as)
