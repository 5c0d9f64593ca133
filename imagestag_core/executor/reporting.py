"""Reading an executor's figures: metrics snapshots, spans and trace documents."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from ..pipeline import FilterPipeline
from .metrics import ExecutorMetrics, Span, StageStats, percentile, trace_document
from .store import Outcome, ResultStore

__all__ = ["Reporting"]


class Reporting:
    """The metrics and trace half of :class:`~imagestag_core.executor.Executor`.

    The attributes are set by ``Executor.__init__``; ``num_workers`` and
    ``stage_workers`` come from the subclass.
    """

    name: ClassVar[str]
    pipeline: FilterPipeline
    stage_names: tuple[str, ...]
    stage_stats: list[StageStats]
    branch_stats: dict[str, StageStats]
    _store: ResultStore
    _spans: list[Span]
    _opencv_value: int | None

    if TYPE_CHECKING:  # provided by Executor and its subclasses
        @property
        def num_workers(self) -> int: ...

        def stage_workers(self) -> list[int]: ...

    def get_metrics(self) -> ExecutorMetrics:
        """What the executor did so far (see :class:`ExecutorMetrics`)."""
        snap = self._store.snapshot()
        counts = snap.counts
        first, last = snap.first, snap.last
        active = (last - first) if (first is not None and last is not None) else 0.0
        for stats, workers in zip(self.stage_stats, self.stage_workers()):
            stats.workers = workers
        completed = counts[Outcome.DELIVERED]
        return ExecutorMetrics(
            executor=self.name or type(self).__name__, workers=self.num_workers,
            frames_submitted=snap.submitted, frames_completed=completed,
            frames_failed=counts[Outcome.FAILED], frames_skipped=counts[Outcome.SKIPPED],
            frames_cancelled=counts[Outcome.CANCELLED], frames_dropped=counts[Outcome.DROPPED],
            pending_results=snap.pending, active_time_s=active,
            fps=completed / active if active > 0 else 0.0,
            latency_p50_ms=1000 * percentile(snap.latencies, 0.5),
            latency_p95_ms=1000 * percentile(snap.latencies, 0.95),
            opencv_threads=self._opencv_value,
            stages=[s.snapshot(active) for s in (*self.stage_stats, *self.branch_stats.values())])

    def summary(self) -> str:
        """``get_metrics().summary()``."""
        return self.get_metrics().summary()

    def spans(self) -> list[Span]:
        """Recorded spans (``trace=True``), in recording order."""
        return list(self._spans)

    def trace_events(self) -> dict[str, Any]:
        """Spans as a Chrome trace-event document (open in Perfetto or chrome://tracing)."""
        return trace_document(self.spans(), [*self.stage_names, *self.branch_stats],
                              {"executor": self.name, "pipeline": self.pipeline.to_string()})
