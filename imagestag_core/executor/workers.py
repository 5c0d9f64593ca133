"""The half of the subclass API that workers call: run stages, settle frames.

:class:`WorkerSide` is a base of :class:`~imagestag_core.executor.Executor`;
it is split out so that the contract module reads as the user's API and this
one as the executor author's.  Every method here is part of the documented
subclass API (see ``docs/writing-executors.md``).
"""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Iterable, Sequence
from concurrent.futures import CancelledError
from typing import Any, ClassVar

from ..errors import ImagestagError
from ..filter import Filter
from ..image import Image
from ..pipeline import FilterPipeline
from .metrics import Span, StageStats
from .resources import opencv_threads
from .store import Outcome, ResultStore

__all__ = ["INTERRUPTS", "StageFailed", "WorkerSide", "apply_stage"]

#: what an ``inline`` executor (the caller's thread) re-raises once the frame is settled
INTERRUPTS: tuple[type[BaseException], ...] = (KeyboardInterrupt, SystemExit)


class StageFailed(Exception):
    """Raised by :meth:`Executor.run_stage`: stage ``stage`` (None: preparing the source)
    raised ``error``, any ``BaseException``.  Hand both to :meth:`Executor.fail`."""

    def __init__(self, stage: int | None, error: BaseException) -> None:
        super().__init__(stage, error)
        self.stage, self.error = stage, error


def apply_stage(index: int, filt: Filter, image: Image) -> Image:
    """``filt.apply(image)`` as stage ``index``; :class:`StageFailed` for *any* ``BaseException``
    and a non-Image result (workers elsewhere call it too: one classification)."""
    try:
        out = filt.apply(image)
    except BaseException as exc:  # the frame fails in its stage; the worker goes on
        raise StageFailed(index, exc) from exc
    if not isinstance(out, Image):
        raise StageFailed(index, ImagestagError(
            f"{type(filt).__name__}.apply returned {type(out).__name__}, not an Image"))
    return out


class WorkerSide:
    """What a worker of an :class:`~imagestag_core.executor.Executor` calls.

    The attributes are set by ``Executor.__init__``; the methods that
    depend on the subclass (``cancel_queued``, ``opencv_threads_wanted``)
    are defined there.
    """

    shutdown_timeout: ClassVar[float]
    name: ClassVar[str]
    inline: ClassVar[bool]
    pipeline: FilterPipeline
    filters: tuple[Filter, ...]
    stage_names: tuple[str, ...]
    trace: bool
    stage_stats: list[StageStats]
    branch_stats: dict[str, StageStats]
    _store: ResultStore
    _spans: list[Span]
    _opencv_value: int | None

    def cancel_queued(self) -> list[int]:
        """Remove frames that have not started; return their seqs."""
        return []

    def opencv_threads_wanted(self) -> int:
        """``cv2.setNumThreads`` while running."""
        return 1

    @property
    def label(self) -> str:
        """``ClassName(name)``, for messages."""
        return f"{type(self).__name__}({self.name or '?'})"

    def should_run(self, seq: int | None = None) -> bool:
        """False once a failure under ``on_error="raise"`` stopped the executor, or
        (given ``seq``) once frame ``seq``'s future was cancelled: skip it, discarded."""
        cancelled = seq is not None and self._store.is_cancelled(seq)
        return self._store.failure is None and not cancelled

    def run_stage(self, index: int, seq: int, image: Image) -> Image:
        """Apply stage ``index`` to frame ``seq`` with timing; raise :class:`StageFailed`.

        Stage 0 first passes the frame through ``pipeline.prepare_source``
        (shrink-on-load), so every executor prepares each input exactly once,
        and skips a frame whose future was cancelled (it ends as cancelled).
        """
        if index == 0:
            if self._store.is_cancelled(seq):
                raise StageFailed(None, CancelledError(f"frame {seq} was cancelled"))
            try:
                image = self.pipeline.prepare_source(image)
            except BaseException as exc:
                raise StageFailed(None, exc) from exc
        t0 = time.perf_counter()
        out = apply_stage(index, self.filters[index], image)
        self.record_stage(index, seq, t0, time.perf_counter())
        return out

    def run_stages(self, seq: int, image: Image) -> Image:
        """Every stage on one frame, in the calling thread; raise :class:`StageFailed`."""
        for index in range(len(self.filters)):
            image = self.run_stage(index, seq, image)
        return image

    def process_frame(self, seq: int, image: Image) -> None:
        """Run every stage on one frame and settle its outcome (workers call this)."""
        if not self.should_run():
            self.discard([seq], Outcome.CANCELLED)
            return
        try:
            image = self.run_stages(seq, image)
        except StageFailed as failed:
            self.fail(seq, failed.stage, failed.error)
            if self.inline and isinstance(failed.error, INTERRUPTS):
                raise self._interrupted(seq, failed) from None  # Ctrl-C is the caller's
            return
        self.deliver(seq, image)

    def _interrupted(self, seq: int, failed: StageFailed) -> BaseException:
        if hasattr(failed.error, "add_note"):  # Python 3.11+; the frame is settled
            stage = self.stage_labels(failed.stage)[0]
            failed.error.add_note(f"frame {seq} of {self.label} failed in stage {stage}")
        return failed.error

    def record_stage(self, index: int, seq: int, start: float, end: float,
                     thread: str | None = None) -> None:
        """Stage ``index`` of frame ``seq`` ran from ``start`` to ``end`` (perf_counter)."""
        self.stage_stats[index].record(end - start)
        if self.trace:
            name = thread if thread is not None else threading.current_thread().name
            self._spans.append(Span(index, seq, name, start, end))

    def stage_labels(self, stage: int | None) -> tuple[str | None, str | None]:
        """``(stage name, filter name)`` of stage ``stage``; ``(None, None)`` outside stages."""
        if stage is None:
            return None, None
        return self.stage_names[stage], type(self.filters[stage]).name

    def record_branches(self, seq: int, value: Any) -> None:
        """A result's ``stage_times`` (stages run inside the last) as ``<stage>.<name>``."""
        for name, start, end in getattr(value, "stage_times", ()):
            full = f"{self.stage_names[-1]}.{name}"
            self.branch_stats.setdefault(full, StageStats(full)).record(end - start)
            if self.trace:  # span stages index stage_names, then branch_stats
                index = len(self.stage_names) + list(self.branch_stats).index(full)
                self._spans.append(Span(index, seq, "branches", start, end))

    def deliver(self, seq: int, value: Any) -> None:
        """Frame ``seq`` finished with ``value`` (see :meth:`record_branches`)."""
        self.record_branches(seq, value)
        self._store.deliver(seq, value)

    def fail(self, seq: int, stage: int | None, error: BaseException) -> None:
        """Apply the error policy to a frame that failed in ``stage`` (None: outside stages)."""
        if self._store.fail(seq, *self.stage_labels(stage), error):
            # on_error="raise": nothing queued is worth computing any more
            self.discard(self.cancel_queued(), Outcome.CANCELLED)

    def discard(self, seqs: Iterable[int], outcome: Outcome) -> None:
        """Frames ``seqs`` end without a result: ``Outcome.DROPPED`` or ``CANCELLED``."""
        self._store.discard(seqs, outcome)

    def update_opencv_threads(self) -> int:
        """Re-apply :meth:`opencv_threads_wanted` (the worker count changed); the value."""
        self._opencv_value = opencv_threads.acquire(self, self.opencv_threads_wanted())
        return self._opencv_value

    @property
    def opencv_threads_in_use(self) -> int | None:
        """The ``cv2.setNumThreads`` value applied at start (None before)."""
        return self._opencv_value

    def join_workers(self, threads: Sequence[threading.Thread],
                     timeout: float | None = None) -> list[threading.Thread]:
        """Join ``threads`` (not the calling one), at most ``timeout`` seconds in all
        (default :attr:`shutdown_timeout`); warn about and return those still alive."""
        deadline = time.monotonic() + (self.shutdown_timeout if timeout is None else timeout)
        current = threading.current_thread()
        for thread in threads:
            if thread is not current:
                thread.join(max(0.0, deadline - time.monotonic()))
        alive = [t for t in threads if t.is_alive() and t is not current]
        if alive:
            warnings.warn(f"{self.label}: {len(alive)} worker thread(s) still busy after "
                          f"{self.shutdown_timeout if timeout is None else timeout:.0f}s "
                          f"({', '.join(t.name for t in alive)}); they finish on their own "
                          f"and still deliver their frames", RuntimeWarning, stacklevel=3)
        return [t for t in threads if t.is_alive()]

