"""What an executor measured: per-stage figures, the metrics snapshot, trace spans.

Workers record into :class:`StageStats` (one per stage, thread-safe) and, with
``trace=True``, append :class:`Span` records; :meth:`Executor.get_metrics
<imagestag_core.executor.Executor.get_metrics>` turns them into the plain
dataclasses below, which stay readable after the executor closed.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["SAMPLES", "ExecutorMetrics", "Span", "StageMetrics", "StageStats", "percentile",
           "trace_document"]

#: timing samples kept per stage (and for latencies): enough for stable
#: percentiles, bounded so a long stream runs in flat memory
SAMPLES = 4096


@dataclass
class StageMetrics:
    """Per-stage figures; times in milliseconds, fractions in 0..1."""

    stage_name: str
    frames: int = 0
    workers: int = 1
    avg_time_ms: float = 0.0
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    busy_fraction: float = 0.0
    queue_high_water: int = 0
    blocked_ms: float = 0.0


@dataclass
class ExecutorMetrics:
    """What an executor did.  Readable at any time, also after ``close()``.

    ``fps`` counts completed frames over *active* time: from the first submit
    to the latest result (idle time before or after does not count).
    ``pending_results`` is finished frames nobody has read yet.
    ``opencv_threads`` is the ``cv2.setNumThreads`` value while it ran.
    """

    executor: str
    workers: int
    frames_submitted: int = 0
    frames_completed: int = 0
    frames_failed: int = 0
    frames_skipped: int = 0
    frames_cancelled: int = 0
    frames_dropped: int = 0
    pending_results: int = 0
    active_time_s: float = 0.0
    fps: float = 0.0
    latency_p50_ms: float = 0.0
    latency_p95_ms: float = 0.0
    opencv_threads: int | None = None
    stages: list[StageMetrics] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The metrics as plain JSON-ready data."""
        return asdict(self)

    def summary(self) -> str:
        """A few human-readable lines: totals, then one line per stage."""
        lines = [
            f"{self.executor}: {self.frames_completed}/{self.frames_submitted} frames in "
            f"{self.active_time_s:.3f}s ({self.fps:.1f} fps), {self.workers} workers, "
            f"OpenCV threads {self.opencv_threads}",
            f"  failed {self.frames_failed}, skipped {self.frames_skipped}, cancelled "
            f"{self.frames_cancelled}, dropped {self.frames_dropped}, pending "
            f"{self.pending_results}; latency p50 {self.latency_p50_ms:.1f} ms, "
            f"p95 {self.latency_p95_ms:.1f} ms",
        ]
        for s in self.stages:
            lines.append(
                f"  {s.stage_name:<20} {s.frames:>6} frames  {s.workers} workers  "
                f"avg {s.avg_time_ms:7.2f} ms  p50 {s.p50_ms:7.2f}  p95 {s.p95_ms:7.2f}  "
                f"busy {s.busy_fraction:5.1%}  queue max {s.queue_high_water}  "
                f"blocked {s.blocked_ms:.1f} ms")
        return "\n".join(lines)


class StageStats:
    """Running figures of one stage, written by workers (part of the subclass API).

    ``record(seconds)`` adds one frame's stage time.  ``high_water`` (int) and
    ``blocked`` (seconds) are the stage's input-queue figures: an executor
    with queues hands this object to its queue, which updates them under its
    own lock.  ``workers`` is set from :meth:`Executor.stage_workers` when a
    snapshot is taken.
    """

    __slots__ = ("blocked", "busy", "count", "high_water", "lock", "name", "samples", "total",
                 "workers")

    def __init__(self, name: str) -> None:
        self.name = name
        self.lock = threading.Lock()
        self.count = 0
        self.total = 0.0
        self.busy = 0.0
        self.blocked = 0.0
        self.high_water = 0
        self.workers = 1
        self.samples: deque[float] = deque(maxlen=SAMPLES)

    def record(self, seconds: float) -> None:
        """One frame spent ``seconds`` in this stage."""
        with self.lock:
            self.count += 1
            self.total += seconds
            self.samples.append(seconds)

    def mean(self) -> float:
        """Mean stage time in seconds (0.0 before the first frame)."""
        with self.lock:
            return self.total / self.count if self.count else 0.0

    def snapshot(self, active: float) -> StageMetrics:
        """The figures as :class:`StageMetrics`, ``active`` seconds of run time."""
        with self.lock:
            samples = sorted(self.samples)
            count, total, workers = self.count, self.total, self.workers
            blocked, high = self.blocked, self.high_water
        return StageMetrics(
            stage_name=self.name, frames=count, workers=workers,
            avg_time_ms=1000 * total / count if count else 0.0,
            p50_ms=1000 * percentile(samples, 0.5), p95_ms=1000 * percentile(samples, 0.95),
            busy_fraction=min(1.0, total / (active * workers)) if active > 0 else 0.0,
            queue_high_water=high, blocked_ms=1000 * blocked)


def percentile(samples: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) of already sorted ``samples``; 0.0 when empty."""
    if not samples:
        return 0.0
    return samples[min(len(samples) - 1, int(q * len(samples)))]


@dataclass(frozen=True)
class Span:
    """One stage of one frame on one thread (seconds on ``time.perf_counter``'s clock)."""

    stage: int
    seq: int
    thread: str
    start: float
    end: float


def trace_document(spans: Sequence[Span], stage_names: Sequence[str],
                   other: dict[str, Any]) -> dict[str, Any]:
    """``spans`` as a Chrome trace-event document (Perfetto, chrome://tracing).

    Each recording thread becomes one track; ``other`` goes to ``otherData``.
    """
    origin = min((s.start for s in spans), default=0.0)
    threads: dict[str, int] = {}
    events: list[dict[str, Any]] = []
    pid = os.getpid()
    for span in spans:
        tid = threads.setdefault(span.thread, len(threads) + 1)
        events.append({
            "name": stage_names[span.stage], "cat": "stage", "ph": "X",
            "ts": (span.start - origin) * 1e6, "dur": (span.end - span.start) * 1e6,
            "pid": pid, "tid": tid, "args": {"seq": span.seq}})
    for thread, tid in threads.items():
        events.append({"name": "thread_name", "ph": "M", "pid": pid, "tid": tid,
                       "args": {"name": thread}})
    return {"traceEvents": events, "displayTimeUnit": "ms", "otherData": other}
