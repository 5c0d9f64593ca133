"""The functions Dask runs on its workers.

A filter that raises (any ``BaseException``, ``SystemExit`` and
``KeyboardInterrupt`` included) does *not* make the Dask task fail: the task
returns a :class:`Outcome` holding the error and naming the stage, so the
worker lives on, Dask never retries a frame whose filter is at fault, and the
executor applies its error policy.  Only a lost
worker, a lost connection or a crash outside the filters surfaces as a failed
task, and only those are retried.
"""

from __future__ import annotations

import os
import pickle
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imagestag_core.errors import ImagestagError
from imagestag_core.image import Image, write_atomic

from .payload import PipelinePayload, WorkerSetupError, build_pipeline

__all__ = ["Outcome", "PathJob", "PathResult", "check_worker", "run_frame", "run_path_job"]


@dataclass(frozen=True)
class PathJob:
    """A file to read on a worker and where to write the result (shared storage).

    ``output`` has no extension yet when ``suffix`` is None: the worker picks
    it from the result (an encoded image's codec) or the input's suffix.
    """

    input: str
    output_stem: str
    suffix: str | None = None


@dataclass(frozen=True)
class PathResult:
    """What path mode returns per frame: paths and sizes, never pixels."""

    input: str
    output: str
    size: tuple[int, int]
    bytes_written: int


@dataclass
class Outcome:
    """A task's result: ``value`` on success, else ``stage`` (None: outside the
    stages, e.g. reading the file) and ``error``; ``timings`` per finished stage."""

    value: Any = None
    stage: int | None = None
    error: BaseException | None = None
    timings: list[float] = field(default_factory=list)
    worker: str = ""

    @property
    def ok(self) -> bool:
        return self.error is None


class RemoteFilterError(ImagestagError):
    """Stands for a worker-side exception that could not be pickled back."""


def _worker_address() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except ValueError:  # not inside a Dask worker (tests calling directly)
        return f"pid {os.getpid()}"


def _portable(exc: BaseException) -> BaseException:
    """``exc`` if it survives pickling, else a :class:`RemoteFilterError` with its text."""
    try:
        pickle.loads(pickle.dumps(exc))
    except BaseException:
        return RemoteFilterError(f"{type(exc).__module__}.{type(exc).__qualname__}: {exc}")
    return exc


def check_worker(payload: PipelinePayload, dask_worker: Any = None) -> str | None:
    """Run on every worker by ``client.run`` (which passes ``dask_worker``) before the
    first frame: None, or why this worker cannot build the pipeline."""
    address = str(dask_worker.address) if dask_worker is not None else _worker_address()
    try:
        build_pipeline(payload, address)
    except WorkerSetupError as exc:
        return str(exc)
    except Exception as exc:
        return f"Dask worker {address!r} cannot build the pipeline: {type(exc).__name__}: {exc}"
    return None


def _apply(payload: PipelinePayload, image: Image, outcome: Outcome) -> Image | None:
    try:
        pipeline = build_pipeline(payload, outcome.worker)
    except Exception as exc:
        outcome.error = _portable(exc)
        return None
    try:
        # shrink-on-load, once per input frame before stage 0, as every executor does
        image = pipeline.prepare_source(image)
    except BaseException as exc:
        outcome.error = _portable(exc)
        return None
    for index, filt in enumerate(pipeline.filters):
        t0 = time.perf_counter()
        try:
            out = filt.apply(image)
        except BaseException as exc:
            # SystemExit, KeyboardInterrupt, GeneratorExit or a custom BaseException
            # escaping the task would kill the worker (and Dask would retry the frame
            # on the next one): like any other filter error, it fails this frame here
            outcome.stage, outcome.error = index, _portable(exc)
            return None
        if not isinstance(out, Image):
            outcome.stage = index
            outcome.error = ImagestagError(f"{type(filt).__name__}.apply returned "
                                           f"{type(out).__name__}, not an Image")
            return None
        outcome.timings.append(time.perf_counter() - t0)
        image = out
    return image


def run_frame(payload: PipelinePayload, image: Image) -> Outcome:
    """In-memory mode: the frame's pixels came through Dask; the result goes back."""
    outcome = Outcome(worker=_worker_address())
    outcome.value = _apply(payload, image, outcome)
    return outcome


def run_path_job(payload: PipelinePayload, job: PathJob) -> Outcome:
    """Path mode: read ``job.input``, run the pipeline, write the output atomically.

    ``Image(path)`` only reads the header; ``prepare_source`` (in ``_apply``)
    then lets the first stage decode it at a reduced size.
    """
    outcome = Outcome(worker=_worker_address())
    try:
        image = Image(job.input)
    except ImagestagError as exc:
        outcome.error = _portable(exc)
        return outcome
    result = _apply(payload, image, outcome)
    if result is None:
        return outcome
    try:
        outcome.value = _write(result, job)
    except BaseException as exc:
        outcome.error = _portable(exc)
    return outcome


def _write(image: Image, job: PathJob) -> PathResult:
    if image.encoded is not None and image.codec is not None and job.suffix is None:
        # the pipeline ended in an encoder: write its bytes as they are
        target = Path(job.output_stem + image.codec.extensions[0])
        data = image.encoded
        write_atomic(target, data)
        written = len(data)
    else:
        suffix = job.suffix if job.suffix is not None else Path(job.input).suffix
        target = image.save(job.output_stem + suffix)  # temp file + rename
        written = target.stat().st_size
    return PathResult(job.input, str(target), image.size, written)
