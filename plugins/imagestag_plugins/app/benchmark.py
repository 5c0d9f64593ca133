"""``Benchmark``: every registered executor on the same pipeline and frames.

The seed's API::

    from imagestag_core.filters import Benchmark

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

import inspect
import itertools
import json
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from .executor import Executor, ExecutorMetrics, Span, StageMetrics, available_cpus
from .filter import Filter
from .image import Image
from .pipeline import FilterPipeline
from .plugins import RegistryEntry, get_plugin_manager

__all__ = ["Benchmark", "BenchmarkResult", "ExecutorRun"]

_RULE = "=" * 60
_THIN = "-" * 60
REFERENCE = "sequential"


@dataclass
class ExecutorRun:
    """One executor's timed run.

    Times in seconds (``time_s``) and milliseconds (``*_ms``).  ``stages`` cover
    the timed frames only (warm-up excluded).  ``fraction_of_ideal`` is None
    when the ``sequential`` reference was not run.  ``error`` is set (and the
    figures are zero) when the executor could not run the pipeline.
    """

    name: str
    aliases: tuple[str, ...] = ()
    distribution: str | None = None
    workers: int = 0
    frames: int = 0
    time_s: float = 0.0
    fps: float = 0.0
    per_frame_ms: float = 0.0
    fraction_of_ideal: float | None = None
    latency_p50_ms: float = 0.0
    latency_p95_ms: float = 0.0
    opencv_threads: int | None = None
    warmup_frames: int = 0
    stages: list[StageMetrics] = field(default_factory=list)
    error: str | None = None
    spans: list[Span] = field(default_factory=list, repr=False)

    @property
    def label(self) -> str:
        """``"batch (data_parallel)"``: the registry name with the seed's alias beside it."""
        return f"{self.name} ({', '.join(self.aliases)})" if self.aliases else self.name

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "aliases": list(self.aliases), "label": self.label,
            "distribution": self.distribution, "workers": self.workers,
            "frames": self.frames, "time_s": self.time_s, "fps": self.fps,
            "per_frame_ms": self.per_frame_ms, "fraction_of_ideal": self.fraction_of_ideal,
            "latency_p50_ms": self.latency_p50_ms, "latency_p95_ms": self.latency_p95_ms,
            "opencv_threads": self.opencv_threads, "warmup_frames": self.warmup_frames,
            "stages": [vars(s).copy() for s in self.stages], "error": self.error,
        }


@dataclass
class BenchmarkResult:
    """What :meth:`Benchmark.run_pipeline` measured; ``print()`` shows the seed's report.

    ``ideal_fps`` is ``cpus`` x the ``sequential`` fps (None without that run).
    ``passed`` is None when no ``target_fps`` was given.
    """

    pipeline: str
    description: str
    source_size: tuple[int, int]
    output_size: tuple[int, int] | None
    output_format: str | None
    frames: int
    warmup: int | None
    cpus: int
    target_fps: float | None
    runs: list[ExecutorRun]

    @property
    def reference(self) -> ExecutorRun | None:
        return next((r for r in self.runs if r.name == REFERENCE and not r.error), None)

    @property
    def ideal_fps(self) -> float | None:
        ref = self.reference
        return self.cpus * ref.fps if ref is not None and ref.fps > 0 else None

    @property
    def best(self) -> ExecutorRun | None:
        ok = [r for r in self.runs if not r.error]
        return max(ok, key=lambda r: r.fps) if ok else None

    @property
    def passed(self) -> bool | None:
        if self.target_fps is None:
            return None
        best = self.best
        return best is not None and best.fps >= self.target_fps

    def run(self, name: str) -> ExecutorRun:
        """The run of executor ``name`` (registry name or alias)."""
        for r in self.runs:
            if name == r.name or name in r.aliases:
                return r
        raise KeyError(f"no run of executor {name!r}; ran: {', '.join(r.name for r in self.runs)}")

    def breakdown_run(self) -> ExecutorRun | None:
        """The run whose stage times the report shows: the streaming one, as in the seed."""
        for name in ("streaming", "stage_parallel"):
            for r in self.runs:
                if (r.name == name or name in r.aliases) and not r.error and r.stages:
                    return r
        return next((r for r in self.runs if not r.error and r.stages), None)

    # -- output -----------------------------------------------------------------------

    def format(self) -> str:
        """The report as text (what :meth:`print` writes)."""
        w, h = self.source_size
        label_width = max(20, *(len(r.label) + 1 for r in self.runs)) if self.runs else 20
        width = max(60, label_width + 52)
        rule, thin = "=" * width, "-" * width
        out = [rule, f"BENCHMARK: Pipeline: {self.description}", rule, "",
               f"Source: {w}x{h} ({w * h / 1e6:.2f} MP)"]
        if self.output_size is not None:
            ow, oh = self.output_size
            encoded = f" ({self.output_format})" if self.output_format else ""
            out.append(f"Output: {ow}x{oh}{encoded}")
        out += [f"Frames: {self.frames}", f"CPUs: {self.cpus}", "", thin,
                f"{'Executor':<{label_width}}{'Time':>9}{'FPS':>11}{'Per-frame':>13}"
                f"{'of ideal':>11}", thin]
        for r in self.runs:
            if r.error:
                out.append(f"{r.label:<{label_width}}  FAILED: {r.error}")
                continue
            frac = f"{r.fraction_of_ideal:.0%}" if r.fraction_of_ideal is not None else "-"
            out.append(f"{r.label:<{label_width}}{r.time_s:>8.3f}s{r.fps:>11.1f}"
                       f"{r.per_frame_ms:>11.1f}ms{frac:>11}")
        out.append(thin)
        ideal, ref = self.ideal_fps, self.reference
        if ideal is not None and ref is not None:
            out.append(f"Ideal: {self.cpus} CPUs x {ref.fps:.1f} FPS ({REFERENCE}) = "
                       f"{ideal:.1f} FPS; 'of ideal' is each executor's FPS / ideal")
        else:
            out.append(f"Ideal: n/a (needs the {REFERENCE!r} executor in the run)")
        shown = self.breakdown_run()
        if shown is not None:
            out += ["", f"Stage breakdown ({shown.label}):"]
            out += [f"  {s.stage_name}: {s.avg_time_ms:.1f}ms avg" for s in shown.stages]
        out += ["", rule]
        best = self.best
        best_text = f"Best: {best.fps:.1f} FPS ({best.name})" if best else "Best: n/a"
        if self.target_fps is not None:
            verdict = "PASSED" if self.passed else "FAILED"
            out.append(f"Target: {self.target_fps:g} FPS | {best_text} | {verdict}")
        else:
            out.append(best_text)
        out.append(rule)
        return "\n".join(out)

    def print(self, file: IO[str] | None = None) -> None:
        """Print the seed-style report (to stdout unless ``file`` is given)."""
        print(self.format(), file=file if file is not None else sys.stdout)

    def to_dict(self) -> dict[str, Any]:
        best = self.best
        return {
            "pipeline": self.pipeline, "description": self.description,
            "source": {"width": self.source_size[0], "height": self.source_size[1],
                       "megapixels": self.source_size[0] * self.source_size[1] / 1e6},
            "output": None if self.output_size is None else {
                "width": self.output_size[0], "height": self.output_size[1],
                "format": self.output_format},
            "frames": self.frames, "warmup": self.warmup, "cpus": self.cpus,
            "target_fps": self.target_fps, "ideal_fps": self.ideal_fps,
            "best": best.name if best else None, "best_fps": best.fps if best else None,
            "passed": self.passed,
            "executors": [r.to_dict() for r in self.runs],
        }

    def to_json(self, **kwargs: Any) -> str:
        kwargs.setdefault("indent", 2)
        return json.dumps(self.to_dict(), **kwargs)

    def trace_events(self) -> dict[str, Any]:
        """The timed frames' spans as one Chrome trace-event document.

        Each executor is a process row (``pid`` 1, 2, ... named after it), each
        worker thread a track, each frame's stage one complete (``"X"``) event
        with its frame number in ``args``.  Open it in Perfetto or chrome://tracing.
        Needs ``trace=True`` in :meth:`Benchmark.run_pipeline`.
        """
        starts = [s.start for r in self.runs for s in r.spans]
        origin = min(starts, default=0.0)
        events: list[dict[str, Any]] = []
        stage_names = [s.stage_name for s in (self.runs[0].stages if self.runs else [])]
        for pid, r in enumerate(self.runs, start=1):
            names = [s.stage_name for s in r.stages] or stage_names
            events.append({"name": "process_name", "ph": "M", "pid": pid, "tid": 0,
                           "args": {"name": f"executor {r.label}"}})
            events.append({"name": "process_sort_index", "ph": "M", "pid": pid, "tid": 0,
                           "args": {"sort_index": pid}})
            threads: dict[str, int] = {}
            for span in r.spans:
                tid = threads.setdefault(span.thread, len(threads) + 1)
                name = names[span.stage] if span.stage < len(names) else f"stage {span.stage}"
                events.append({"name": name, "cat": "stage", "ph": "X", "pid": pid,
                               "tid": tid, "ts": (span.start - origin) * 1e6,
                               "dur": (span.end - span.start) * 1e6,
                               "args": {"frame": span.seq, "stage": span.stage}})
            for thread, tid in threads.items():
                events.append({"name": "thread_name", "ph": "M", "pid": pid, "tid": tid,
                               "args": {"name": thread}})
        return {"traceEvents": events, "displayTimeUnit": "ms",
                "otherData": {"pipeline": self.pipeline, "frames": self.frames}}


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
                :func:`~imagestag_core.samples.photo_like` frame.
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


def _accepts(cls: type[Executor], option: str) -> bool:
    if option in getattr(cls, "extra_options", ()):
        return True
    try:
        params = inspect.signature(cls.__init__).parameters
    except (TypeError, ValueError):
        return False
    return option in params


def _run_one(entry: RegistryEntry, pipeline: FilterPipeline, frame: Image, num_frames: int,
             num_workers: int | None, warmup: int | None, extra: dict[str, Any], trace: bool,
             show_progress: bool) -> ExecutorRun:
    run = ExecutorRun(name=entry.name, aliases=tuple(entry.aliases),
                      distribution=entry.distribution)
    cls: type[Executor] = entry.obj
    options = dict(extra)
    if num_workers is not None and _accepts(cls, "num_workers"):
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
