"""What :class:`~imagestag_plugins.app.benchmark.Benchmark` measured, and its reports.

:class:`BenchmarkResult` prints the seed's text report, and gives the same
figures as a dict/JSON document and the timed frames as a Chrome trace.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from typing import IO, Any

from imagestag_core.executor import Span, StageMetrics

__all__ = ["REFERENCE", "BenchmarkResult", "ExecutorRun"]

#: the executor whose fps, times the CPUs, is the ideal
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
    stage_parallel: bool = False
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
            "stage_parallel": self.stage_parallel,
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
        """The run whose stage times the report shows: the first stage-parallel one
        (``Executor.stage_parallel``, e.g. streaming, as in the seed), else the first
        with stage figures."""
        with_stages = [r for r in self.runs if not r.error and r.stages]
        return next((r for r in with_stages if r.stage_parallel), None) or next(
            iter(with_stages), None)

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
