"""What ``imagestag run`` does with files: a pipeline over many inputs, each to its output.

* :func:`~imagestag_plugins.app.planning.plan_jobs` decides the inputs and outputs.
* The main thread only reads file bytes and header (cheap); decoding happens in
  the executor's workers, because an encoded :class:`Image` decodes lazily.
  Shrink-on-load is the pipeline's: each input goes through
  :meth:`FilterPipeline.prepare_source` (executors call it too; a second call
  is a no-op), which asks the first filter's ``decode_hint`` how much smaller
  the codec may decode (a ``resize`` to a quarter of a JPEG decodes it at 1/4
  directly, as libvips does) without decoding anything.  The report says the
  factor the first input gets.
* Every output is written with :func:`imagestag_core.atomic.write_atomic`, so
  an interrupted run leaves finished files and nothing half-written.
  :attr:`RunControl.stop` (set by the CLI's SIGINT handler) stops feeding new
  inputs; frames in flight finish and are written.
* Renditions (a pipeline ending in ``tee``): the frame's result carries every
  rendition by name (``result.renditions``); each one the job still needs is
  written to its own file, counted per rendition in
  :attr:`RunReport.renditions`.  A frame that fails writes none of them.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imagestag_core.atomic import write_atomic
from imagestag_core.errors import FrameError, ImagestagError
from imagestag_core.executor import Executor
from imagestag_core.image import Image
from imagestag_core.pipeline import FilterPipeline
from imagestag_core.plugins import codec_for_path, get_executor_class

from .planning import FileJob

__all__ = ["RunControl", "RunReport", "build_executor", "describe", "run_files", "tick"]


@dataclass
class RunControl:
    """Shared between the runner and whoever may stop it (a signal handler).

    ``stop``: feed no more frames; those in flight finish and are written.
    ``progress``: an object with ``update(n)``/``close()`` (a tqdm bar), or None.
    """

    stop: threading.Event = field(default_factory=threading.Event)
    progress: Any = None


@dataclass
class RunReport:
    """What a run did; ``failures`` pairs an input (path or frame) with its error,
    ``skipped`` an input that was not read (a broken symbolic link) with why."""

    executor: str = ""
    workers: int = 0
    written: int = 0
    skipped_existing: int = 0
    ignored: int = 0
    hidden: int = 0
    frames_in: int = 0
    frames_out: int = 0
    dropped: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    elapsed_s: float = 0.0
    latency_p50_ms: float = 0.0
    latency_p95_ms: float = 0.0
    interrupted: bool = False
    #: inputs never read because ``on_error="raise"`` stopped the run at a failure
    not_run: int = 0
    output: str = ""
    #: (codec name, shrink-on-load factor) -> how many inputs were read that way
    decodes: Counter[tuple[str, int]] = field(default_factory=Counter)
    #: rendition name -> files written (a pipeline that ends in ``tee``)
    renditions: Counter[str] = field(default_factory=Counter)
    trace: dict[str, Any] | None = None

    @property
    def fps(self) -> float:
        return self.frames_out / self.elapsed_s if self.elapsed_s > 0 else 0.0


def build_executor(name: str, pipeline: FilterPipeline, *, workers: int | None,
                   trace: bool, **options: Any) -> Executor:
    """The executor registered as ``name``; options it does not accept are dropped
    (``on_error`` is always passed, ``workers`` must be accepted)."""
    cls = get_executor_class(name)
    accepted = cls.accepted_options()
    if workers is not None:
        if "num_workers" not in accepted:
            raise ImagestagError(f"the {name!r} executor has no worker count; drop -j/--workers")
        options["num_workers"] = workers
    for key in [k for k in options if k not in ("on_error", "num_workers")]:
        if key not in accepted:
            del options[key]
    return cls(pipeline, trace=trace, **options)


def describe(exc: BaseException) -> str:
    """One line for a failed input: the stage and error of a frame, or the error."""
    if isinstance(exc, FrameError):
        # stage None: the frame failed before its first stage (reading the input)
        where = exc.stage if exc.stage is not None else "reading the input"
        return f"{where}: {type(exc.error).__name__}: {exc.error}"
    return f"{type(exc).__name__}: {exc}"


def _write_result(result: Image, dst: Path) -> Path:
    if result.encoded is not None and result.codec is not None:
        if dst.suffix.lower() not in result.codec.extensions:
            dst = dst.with_suffix(result.codec.extensions[0])
        data = result.encoded
    else:
        data = result.encode(codec_for_path(dst).name)
    dst.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(dst, data)
    return dst


def _write_job(result: Image, job: FileJob, report: RunReport) -> None:
    """Write ``result`` (or each rendition ``job`` still needs) and count the files."""
    if not job.renditions:
        _write_result(result, job.dst)
        report.written += 1
        return
    renditions: Mapping[str, Image] = getattr(result, "renditions", {})
    for name, dst in job.renditions:
        if name not in renditions:
            raise ImagestagError(f"the result has no rendition {name!r} (it has "
                                 f"{', '.join(renditions) or 'none'})")
        _write_result(renditions[name], dst)
        report.written += 1
        report.renditions[name] += 1


def run_files(pipeline: FilterPipeline, jobs: Sequence[FileJob], *, executor: str = "batch",
              workers: int | None = None, on_error: str = "raise", trace: bool = False,
              control: RunControl | None = None,
              executor_options: Mapping[str, Any] | None = None) -> RunReport:
    """Process ``jobs``; see the module docs.  ``on_error="raise"`` stops feeding at
    the first failure (frames in flight still finish and are written).
    ``executor_options`` are keyword options of the executor."""
    control = control or RunControl()
    report = RunReport()
    if not jobs:
        return report
    ex = build_executor(executor, pipeline, workers=workers, trace=trace,
                        **{**(executor_options or {}), "on_error": "collect"})
    report.executor, report.workers = executor, ex.num_workers
    by_seq: list[FileJob] = []

    def failed(where: Path, message: str) -> None:
        report.failures.append((str(where), message))
        if on_error == "raise":
            control.stop.set()

    def source() -> Iterator[Image]:
        for job in jobs:
            if control.stop.is_set():
                return
            report.frames_in += 1
            try:
                # reads bytes and the header only; the workers decode (at the reduced
                # size prepare_source picks; executors call it too, which is a no-op then)
                source_image = Image(job.src)
                image = pipeline.prepare_source(source_image)
            except (ImagestagError, OSError) as exc:
                failed(job.src, f"reading the input: {describe(exc)}")  # as a FrameError says
                tick(control)
                continue
            report.decodes[(source_image.encoded_format or "", image.decode_reduction)] += 1
            by_seq.append(job)
            yield image

    t0 = time.perf_counter()
    with ex:
        for seq, result in ex.imap(source(), with_seq=True):
            job = by_seq[seq]
            if isinstance(result, FrameError):
                failed(job.src, describe(result))
            else:
                try:
                    _write_job(result, job, report)
                    report.frames_out += 1
                except (ImagestagError, OSError) as exc:
                    failed(job.src, f"writing {str(job.dst)!r}: {describe(exc)}")
            tick(control)
    report.elapsed_s = time.perf_counter() - t0
    report.workers = ex.num_workers  # an existing cluster's size is known once connected
    metrics = ex.get_metrics()
    report.latency_p50_ms, report.latency_p95_ms = metrics.latency_p50_ms, metrics.latency_p95_ms
    report.interrupted = control.stop.is_set() and not (on_error == "raise" and report.failures)
    if on_error == "raise" and report.failures:
        report.not_run = len(jobs) - report.frames_in
    if trace:
        report.trace = ex.trace_events()
    return report


def tick(control: RunControl) -> None:
    """Advance the progress bar by one input, if there is one."""
    if control.progress is not None:
        control.progress.update(1)
