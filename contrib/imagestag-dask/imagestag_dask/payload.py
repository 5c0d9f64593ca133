"""How a pipeline travels to Dask workers.

A stage whose filter comes from an installed distribution travels by its spec
(``{"filter": name, "params": {...}}``): the worker resolves the name in its
own plugin registry, exactly as the ``process`` executor's workers do.  A
filter that no installed plugin provides (defined in a notebook, a script or a
test) travels by pickle, through cloudpickle so that classes defined in
``__main__`` or inside functions work too.  Either way the decision and any
pickling error come on the client, before a frame is sent.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from imagestag_core.errors import ImagestagError, PluginError, UnknownNameError
from imagestag_core.filter import Filter
from imagestag_core.pipeline import FilterPipeline
from imagestag_core.plugins import RegistryEntry, get_filter, get_plugin_manager
from imagestag_core.spec import filter_from_dict

__all__ = ["PipelinePayload", "StagePayload", "WorkerSetupError", "make_payload"]


class WorkerSetupError(PluginError):
    """A Dask worker cannot build the pipeline (a plugin is missing there).

    ``worker`` is the worker's address, ``stage`` the stage name, ``plugin``
    the distribution or plugin that provides the filter on the client.
    """

    def __init__(self, message: str, *, worker: str | None = None, stage: str | None = None,
                 plugin: str | None = None) -> None:
        super().__init__(message)
        self.worker = worker
        self.stage = stage
        self.plugin = plugin

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_setup_error, (str(self), self.worker, self.stage, self.plugin))


def _rebuild_setup_error(message: str, worker: str | None, stage: str | None,
                         plugin: str | None) -> WorkerSetupError:
    return WorkerSetupError(message, worker=worker, stage=stage, plugin=plugin)


@dataclass(frozen=True)
class StagePayload:
    """One stage: by ``spec`` (a registered, installed filter) or by ``pickled`` bytes."""

    stage: str
    filter_name: str
    spec: dict[str, Any] | None
    pickled: bytes | None
    provider: str | None


@dataclass(frozen=True)
class PipelinePayload:
    """The pipeline as sent to workers; ``token`` keys the workers' cache of built pipelines."""

    token: str
    stages: tuple[StagePayload, ...]
    opencv_threads: int

    def describe(self) -> str:
        return " | ".join(s.filter_name for s in self.stages) or "(empty)"


def _installed_entry(cls: type[Filter]) -> RegistryEntry | None:
    """The registry entry of ``cls`` when an installed distribution provides it."""
    for entry in get_plugin_manager().filters.list(include_hidden=True):
        if entry.obj is cls and entry.distribution:
            return entry
    return None


def make_payload(pipeline: FilterPipeline, opencv_threads: int) -> PipelinePayload:
    """Decide per stage how it travels; pickling errors raise here, before any frame."""
    stages = []
    for stage_name, filt in zip(pipeline.stage_names, pipeline.filters):
        entry = _installed_entry(type(filt))
        if entry is not None:
            stages.append(StagePayload(stage_name, entry.name, filt.to_dict(), None,
                                       entry.distribution))
            continue
        import cloudpickle  # only for filters no installed plugin provides

        try:
            data = cloudpickle.dumps(filt)
        except Exception as exc:
            raise ImagestagError(
                f"stage {stage_name} ({type(filt).__qualname__}) is not provided by an installed "
                f"plugin, so it must travel to the Dask workers by pickle, and pickling failed: "
                f"{type(exc).__name__}: {exc}. Register the filter in a plugin installed on "
                f"every worker") from exc
        stages.append(StagePayload(stage_name, type(filt).name, None, data, None))
    return PipelinePayload(uuid.uuid4().hex, tuple(stages), max(1, opencv_threads))


# -- worker side -------------------------------------------------------------------------

_CACHE_SIZE = 32
_cache: OrderedDict[str, FilterPipeline] = OrderedDict()
_cache_lock = threading.Lock()


def build_pipeline(payload: PipelinePayload, worker: str) -> FilterPipeline:
    """The pipeline on this worker, built once per payload and cached (LRU).

    Raises :class:`WorkerSetupError` naming ``worker``, the stage and the
    plugin when a filter cannot be resolved or unpickled here.
    """
    with _cache_lock:
        cached = _cache.get(payload.token)
        if cached is not None:
            _cache.move_to_end(payload.token)
            return cached
    filters = [_build_stage(stage, worker) for stage in payload.stages]
    pipeline = FilterPipeline(filters)
    _keep_image_buffers_in_the_heap()
    import cv2

    # one OpenCV thread per Dask worker thread unless asked otherwise, so the
    # workers of one machine do not oversubscribe its cores
    cv2.setNumThreads(payload.opencv_threads)
    with _cache_lock:
        _cache[payload.token] = pipeline
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return pipeline


_malloc_tuned = False

#: glibc ``mallopt`` parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def _keep_image_buffers_in_the_heap() -> None:
    """Let glibc reuse frame-sized buffers instead of mapping fresh pages for each.

    Dask's nanny starts workers with ``MALLOC_TRIM_THRESHOLD_=65536``, which
    also freezes glibc's mmap threshold at its 128 KiB default: every
    frame-sized array is then mmapped and unmapped, and a 20 MP JPEG job page
    faults about 7,000 times a frame (measured: 30-50% slower stages than the
    same code in a thread pool).  Raising both thresholds once per worker
    process keeps those buffers in the heap for reuse; a process that is not
    on glibc is left alone.
    """
    global _malloc_tuned
    if _malloc_tuned:
        return
    _malloc_tuned = True
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(_M_MMAP_THRESHOLD, 64 << 20)
        libc.mallopt(_M_TRIM_THRESHOLD, 256 << 20)
    except (OSError, AttributeError):
        pass


def _build_stage(stage: StagePayload, worker: str) -> Filter:
    if stage.spec is not None:
        try:
            get_filter(stage.filter_name)
        except UnknownNameError:
            raise WorkerSetupError(
                f"Dask worker {worker!r} cannot build stage {stage.stage}: it has no filter "
                f"{stage.filter_name!r}, which the plugin distribution {stage.provider!r} "
                f"provides on the client. Install {stage.provider!r} on every worker",
                worker=worker, stage=stage.stage, plugin=stage.provider) from None
        try:
            return filter_from_dict(stage.spec)
        except ImagestagError as exc:
            raise WorkerSetupError(
                f"Dask worker {worker!r} cannot build stage {stage.stage} "
                f"({stage.filter_name!r} from {stage.provider!r}): {exc}. Install the same "
                f"version of {stage.provider!r} on every worker",
                worker=worker, stage=stage.stage, plugin=stage.provider) from None
    assert stage.pickled is not None
    import cloudpickle

    try:
        filt = cloudpickle.loads(stage.pickled)
    except Exception as exc:
        raise WorkerSetupError(
            f"Dask worker {worker!r} cannot unpickle stage {stage.stage} "
            f"({stage.filter_name!r}, not provided by an installed plugin): "
            f"{type(exc).__name__}: {exc}. Make its module importable on the workers or ship "
            f"it as a plugin", worker=worker, stage=stage.stage, plugin=None) from None
    if not isinstance(filt, Filter):
        raise WorkerSetupError(f"stage {stage.stage} unpickled to {type(filt).__name__}, "
                               f"not a Filter", worker=worker, stage=stage.stage)
    return filt
