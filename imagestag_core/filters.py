"""The seed's import path: ``from imagestag_core.filters import Resize, ...``.

Core names (``FilterPipeline``, ``Filter``...) come from the core, and
``Benchmark``/``BenchmarkResult`` lazily from the application
(:mod:`imagestag_plugins.app.benchmark`); every other name resolves through the
plugin registry by *class name* (``Resize``) or registry name (``resize``), so a
third-party filter or executor imports exactly like a built-in.  Two plugins
exporting the same class name is an error naming both.
"""

from __future__ import annotations

import importlib
from typing import Any

from .errors import PluginError
from .executor import Executor, ExecutorMetrics, StageMetrics
from .filter import Filter
from .image import Image
from .pipeline import FilterPipeline
from .pixel_format import PixelFormat

_CORE = {
    "Filter": Filter,
    "FilterPipeline": FilterPipeline,
    "Image": Image,
    "PixelFormat": PixelFormat,
    "Executor": Executor,
    "ExecutorMetrics": ExecutorMetrics,
    "StageMetrics": StageMetrics,
}
# the seed's import path for the benchmark, which is application code: the one
# place the core names an application module, and only when the name is asked for
_LAZY_CORE = {
    "Benchmark": "imagestag_plugins.app.benchmark",
    "BenchmarkResult": "imagestag_plugins.app.benchmark",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY_CORE:
        return getattr(importlib.import_module(_LAZY_CORE[name]), name)
    if name.startswith("__"):
        raise AttributeError(name)
    from .plugins import get_plugin_manager

    manager = get_plugin_manager()
    owners = manager.class_exports().get(name)
    if owners:
        if len(owners) > 1:
            providers = " and ".join(e.provider for e in owners)
            raise PluginError(f"the class name {name!r} is exported by both {providers}; "
                              f"import it from its plugin module or use get_filter(name)")
        return owners[0].obj
    for registry in (manager.filters, manager.executors):
        if name in registry:
            return registry.lookup(name).obj
    known = sorted(set(_CORE) | set(_LAZY_CORE) | set(manager.class_exports()))
    raise ImportError(f"cannot import name {name!r} from 'imagestag_core.filters'; "
                      f"available: {', '.join(known)}", name=name)


def __dir__() -> list[str]:
    from .plugins import get_plugin_manager

    return sorted(set(_CORE) | set(_LAZY_CORE) | set(get_plugin_manager().class_exports()))


globals().update(_CORE)
__all__ = sorted(_CORE)
