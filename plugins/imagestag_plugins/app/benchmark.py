"""``Benchmark``: every registered executor on the same pipeline and frames.

The seed's API::

    from imagestag_core.filters import Benchmark   # or imagestag_plugins.app.benchmark

    result = Benchmark.run_pipeline(pipeline, source=image, num_frames=30, target_fps=60)
    result.print()

How it measures
---------------
* The pipeline is applied once in the calling thread first, so one-time costs
  (lookup tables, codec imports) are paid before any executor is timed.
* Each executor is built from the registry (every registered one once, under
  its registry name, aliases not repeated, third-party ones included), started,
  and fed ``warmup`` frames that are not timed.  Then ``num_frames`` frames of
  the same source go through :meth:`Executor.imap`, and the time from the
  first submit to the last result is what the report shows.
* Outputs are read and dropped as they arrive (only the first is kept, for the
  output size), so ``num_frames=10_000`` runs in the memory of a few frames.
* The *ideal* is the CPU count this process may use times the ``sequential``
  executor's fps (OpenCV at one thread): what perfect data parallelism would
  reach.  Every executor's fps is also shown as a fraction of it.
"""

from __future__ import annotations

import itertools
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from imagestag_core.executor import Executor, ExecutorMetrics, Span, StageMetrics, available_cpus
from imagestag_core.filter import Filter
from imagestag_core.image import Image
from imagestag_core.pipeline import FilterPipeline
from imagestag_core.plugins import RegistryEntry, get_plugin_manager

from .bench_result import REFERENCE, BenchmarkResult, ExecutorRun

__all__ = ["Benchmark", "BenchmarkResult", "ExecutorRun"]


class Benchmark:
    """Runs a pipeline through executors side by side (see the module docs)."""

    @staticmethod
    def run_pipeline(pipeline: FilterPipeline | Iterable[Filter | str] | str,
                     source: Any = None, num_frames: int = 30,
                     target_fps: float | None = None,
                     executors: Sequence[str] | None = None,
                     num_workers: int | None = None, *,
                     warmup: int | None = None,
                     executor_options: Mapping[str, Mapping[str, Any]] | None = None,
                     trace: bool = False, show_progress: bool = False) -> BenchmarkResult:
        """Time ``pipeline`` on ``num_frames`` copies of ``source`` with each executor.

        Args:
            pipeline: a :class:`FilterPipeline`, a list of filters or a spec string.
            source: anything ``Image(...)`` accepts; default the 20 MP
                :func:`~imagestag_plugins.app.samples.photo_like` frame.
            num_frames: timed frames per executor.
            target_fps: the report says PASSED when the best executor reaches it.
            executors: registry names or aliases; default every registered one
                (``sequential`` first, then by name), each once.
            num_workers: passed to every executor that takes ``num_workers``.
            warmup: untimed frames per executor before the timed ones
                (default: twice its worker count, at least 2).
            executor_options: extra options per executor name, e.g.
                ``{"streaming": {"num_workers": "auto"}}``.
            trace: record spans of the timed frames (``result.trace_events()``).
            show_progress: a progress bar per executor (on stderr).
        """
        if num_frames < 1:
            raise ValueError(f"num_frames must be >= 1, got {num_frames}")
        pipe = pipeline if isinstance(pipeline, FilterPipeline) else FilterPipeline(pipeline)
        if source is None:
            from .samples import photo_like

            frame = photo_like()
        else:
            frame = source if isinstance(source, Image) else Image(source)
        entries = _select(executors)
        options = {k: dict(v) for k, v in (executor_options or {}).items()}

        # one-time costs (LUTs, codec imports, the source's own decode) before any timing
        first_out = pipe.apply(frame)
        output_size = first_out.size
        output_format = first_out.encoded_format
        del first_out

        runs = [_run_one(entry, pipe, frame, num_frames, num_workers, warmup,
                         {**options.get(entry.name, {}),
                          **{k: v for a in entry.aliases for k, v in options.get(a, {}).items()}},
                         trace, show_progress)
                for entry in entries]
        result = BenchmarkResult(
            pipeline=pipe.to_string(), description=pipe.describe(), source_size=frame.size,
            output_size=output_size, output_format=output_format, frames=num_frames,
            warmup=warmup, cpus=available_cpus(),
            target_fps=target_fps, runs=runs)
        ideal = result.ideal_fps
        for r in runs:
            r.fraction_of_ideal = r.fps / ideal if ideal and not r.error else None
        return result


def _select(names: Sequence[str] | None) -> list[RegistryEntry]:
    registry = get_plugin_manager().executors
    if names is None:
        entries = registry.list()
        return sorted(entries, key=lambda e: (e.name != REFERENCE, e.name.lower()))
    chosen: list[RegistryEntry] = []
    for name in names:
        entry = registry.lookup(name)
        if entry not in chosen:
            chosen.append(entry)
    return chosen


def _run_one(entry: RegistryEntry, pipeline: FilterPipeline, frame: Image, num_frames: int,
             num_workers: int | None, warmup: int | None, extra: dict[str, Any], trace: bool,
             show_progress: bool) -> ExecutorRun:
    cls: type[Executor] = entry.obj
    run = ExecutorRun(name=entry.name, aliases=tuple(entry.aliases),
                      distribution=entry.distribution, stage_parallel=cls.stage_parallel)
    options = dict(extra)
    if num_workers is not None and "num_workers" in cls.accepted_options():
        options.setdefault("num_workers", num_workers)
    if trace:
        options["trace"] = True
    try:
        with cls(pipeline, **options) as executor:
            n_warm = warmup if warmup is not None else max(2, 2 * executor.num_workers)
            for _ in executor.imap(itertools.repeat(frame, n_warm)):
                pass
            before = executor.get_metrics()
            bar = show_progress and sys.stderr.isatty()
            t0 = time.perf_counter()
            done = 0
            # outputs are dropped as they come: memory stays at the in-flight window
            for _ in executor.imap(itertools.repeat(frame, num_frames), show_progress=bar):
                done += 1
            elapsed = time.perf_counter() - t0
            after = executor.get_metrics()
            spans = [s for s in executor.spans() if s.seq >= n_warm] if trace else []
    except Exception as exc:  # one broken executor must not hide the others' figures
        run.error = f"{type(exc).__name__}: {exc}".splitlines()[0]
        return run
    run.workers = after.workers
    run.frames = done
    run.time_s = elapsed
    run.fps = done / elapsed if elapsed > 0 else 0.0
    run.per_frame_ms = 1000 * elapsed / done if done else 0.0
    run.latency_p50_ms = after.latency_p50_ms
    run.latency_p95_ms = after.latency_p95_ms
    run.opencv_threads = after.opencv_threads
    run.warmup_frames = n_warm
    run.stages = _stage_delta(before, after, elapsed)
    run.spans = [Span(s.stage, s.seq - n_warm, s.thread, s.start, s.end) for s in spans]
    return run


def _stage_delta(before: ExecutorMetrics, after: ExecutorMetrics,
                 elapsed: float) -> list[StageMetrics]:
    """Per-stage figures of the timed frames only (``after`` minus ``before``)."""
    out = []
    for b, a in zip(before.stages, after.stages):
        frames = a.frames - b.frames
        total_ms = a.avg_time_ms * a.frames - b.avg_time_ms * b.frames
        avg = total_ms / frames if frames > 0 else 0.0
        busy = (total_ms / 1000) / (elapsed * max(1, a.workers)) if elapsed > 0 else 0.0
        out.append(StageMetrics(
            stage_name=a.stage_name, frames=frames, workers=a.workers, avg_time_ms=avg,
            p50_ms=a.p50_ms, p95_ms=a.p95_ms, busy_fraction=min(1.0, busy),
            queue_high_water=a.queue_high_water, blocked_ms=a.blocked_ms - b.blocked_ms))
    return out
