"""The result store: where workers put outcomes and readers take them.

Like a :class:`concurrent.futures.Future` for a whole stream of frames: an
executor numbers each frame with :meth:`ResultStore.reserve`, its workers
settle it exactly once (:meth:`~ResultStore.deliver`, :meth:`~ResultStore.fail`
or :meth:`~ResultStore.discard` with an :class:`Outcome`), and readers
:meth:`~ResultStore.take` results in submission or completion order.

Workers never block here.  Every wait is on the store's condition, which is
notified by exactly the events it waits for (an outcome settled, a result
read, the executor stopped, a failure), and every wait with a timeout ends
by it.
"""

from __future__ import annotations

import enum
import threading
import time
from collections import deque
from collections.abc import Iterable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Literal

from ..errors import BackpressureError, ExecutorClosedError, FrameError, PipelineError
from .metrics import SAMPLES

__all__ = ["ErrorPolicy", "Outcome", "ResultStore", "StoreSnapshot"]

ErrorPolicy = Literal["raise", "skip", "collect"]


class Outcome(enum.Enum):
    """How a frame ended.  Each submitted frame ends exactly one way."""

    #: its result (an Image, or what the executor delivers) is readable
    DELIVERED = "delivered"
    #: a stage raised; ``on_error`` decides what readers see
    FAILED = "failed"
    #: failed under ``on_error="skip"``: left out of the results
    SKIPPED = "skipped"
    #: evicted by an overflow policy before it started (live streams)
    DROPPED = "dropped"
    #: removed by ``stop(cancel=True)`` or a failure under ``on_error="raise"``
    CANCELLED = "cancelled"


class _Gap:
    """Stands in a frame's place when it has no result, so ordered reading skips it."""

    __slots__ = ("outcome",)

    def __init__(self, outcome: Outcome) -> None:
        self.outcome = outcome


@dataclass(frozen=True)
class StoreSnapshot:
    """Counters and timings at one moment (what the metrics are built from)."""

    submitted: int
    counts: dict[Outcome, int]
    pending: int
    first: float | None
    last: float | None
    latencies: list[float]


class ResultStore:
    """Outcomes of numbered frames, read in order (``preserve_order``) or as they finish.

    Args:
        preserve_order: readers get frames in seq order; otherwise in completion order.
        on_error: what :meth:`fail` does: ``"raise"`` records the first failure,
            which every later read and :meth:`check_open` raise; ``"skip"``
            leaves the frame out; ``"collect"`` stores the :class:`FrameError`.
        max_pending: at most this many reserved-but-unread frames (None: no limit).
        label: names the executor in error messages.
    """

    def __init__(self, *, preserve_order: bool = True, on_error: ErrorPolicy = "raise",
                 max_pending: int | None = None, label: str = "executor") -> None:
        self.preserve_order = preserve_order
        self.on_error: ErrorPolicy = on_error
        self.max_pending = max_pending
        self.label = label
        self._cond = threading.Condition(threading.Lock())
        self._next_seq = 0
        self._next_read = 0
        self._done: dict[int, Any] = {}
        self._completion: deque[int] = deque()
        self._unread: set[int] = set()
        self._failure: PipelineError | None = None
        self._stopped = False
        self._submitted = 0
        self._counts = dict.fromkeys(Outcome, 0)
        self._first: float | None = None
        self._last: float | None = None
        self._submit_times: dict[int, float] = {}  # seq -> time, until settled
        self._latencies: deque[float] = deque(maxlen=SAMPLES)
        self._claims: dict[int, Future[Any]] = {}  # seq -> the future it ends in

    # -- state -------------------------------------------------------------------------------

    @property
    def failure(self) -> PipelineError | None:
        """The failure that stopped the executor under ``on_error="raise"``, if any."""
        return self._failure

    @property
    def stopped(self) -> bool:
        return self._stopped

    def stop(self) -> bool:
        """Accept no new frames; wake every waiter.  True the first time."""
        with self._cond:
            first = not self._stopped
            self._stopped = True
            self._cond.notify_all()
        return first

    def check_open(self) -> None:
        """Raise the recorded failure, or :class:`ExecutorClosedError` once stopped."""
        if self._failure is not None:
            raise self._failure
        if self._stopped:
            raise ExecutorClosedError(f"{self.label} is stopped; it accepts no new frames")

    # -- numbering ---------------------------------------------------------------------------

    def reserve(self, timeout: float | None = None, claim: Future[Any] | None = None) -> int:
        """Number a new frame; readers will wait for it until it is settled.

        With ``max_pending`` frames unread, waits up to ``timeout`` (not at all
        when None) for a reader, then raises :class:`BackpressureError`.  A
        frame with a ``claim`` ends in that future alone: no reader sees it,
        ``max_pending`` does not count it, its failure (a :class:`PipelineError`)
        fails no other frame, and once the future is cancelled it ends as
        ``CANCELLED``, however it ends.
        """
        with self._cond:
            self.check_open()
            if self.max_pending is not None and claim is None:
                self._wait_for_room(timeout)
            seq = self._number_new_frame()
            if claim is None:
                self._unread.add(seq)
            else:
                self._claims[seq] = claim
            return seq

    def is_cancelled(self, seq: int) -> bool:
        """True when frame ``seq``'s future was cancelled (a worker skips the frame)."""
        future = self._claims.get(seq)
        return future is not None and future.cancelled()

    def unreserve(self, seq: int) -> None:
        """Take back the latest :meth:`reserve` (the frame never reached a worker)."""
        with self._cond:
            if seq not in self._submit_times:  # settled, then an interrupt let through
                return
            self._next_seq -= 1
            self._unread.discard(seq)
            self._submit_times.pop(seq, None)
            self._claims.pop(seq, None)
            self._submitted -= 1
            self._cond.notify_all()

    def has_room(self) -> bool:
        """True when :meth:`reserve` would not wait for ``max_pending`` (no limit: always)."""
        with self._cond:
            return self.max_pending is None or len(self._unread) < self.max_pending

    def _wait_for_room(self, timeout: float | None) -> None:
        # caller holds self._cond; take() notifies whenever a read frees room
        assert self.max_pending is not None
        deadline = None if timeout is None else time.monotonic() + timeout
        while len(self._unread) >= self.max_pending:
            remaining = 0.0 if deadline is None else deadline - time.monotonic()
            if remaining <= 0:
                raise BackpressureError(
                    f"{self.label}: {len(self._unread)} frames are submitted but unread "
                    f"(max_pending_results={self.max_pending}); read results with "
                    f"get_result()/results() or raise the limit")
            self._cond.wait(remaining)
            self.check_open()

    # -- settling (workers) -----------------------------------------------------------------

    def deliver(self, seq: int, value: Any) -> None:
        """Frame ``seq`` finished with ``value``."""
        if seq in self._claims:
            self._end_claimed(seq, Outcome.DELIVERED, value)
            return
        with self._cond:
            self._counts[Outcome.DELIVERED] += 1
            self._settle(seq, value)

    def fail(self, seq: int, stage: str | None, filter_name: str | None,
             error: BaseException) -> bool:
        """Frame ``seq`` failed in ``stage`` (None: outside the stages); apply ``on_error``.

        Returns True under ``on_error="raise"``: the executor is finished, and
        its caller should :meth:`discard` every frame not yet started.
        """
        if seq in self._claims:
            self._end_claimed(seq, Outcome.FAILED, PipelineError(seq, stage, filter_name, error))
            return False
        with self._cond:
            self._counts[Outcome.FAILED] += 1
            if self.on_error == "collect":
                self._settle(seq, FrameError(seq, stage, error, filter_name))
            elif self.on_error == "skip":
                self._counts[Outcome.SKIPPED] += 1
                self._settle(seq, _Gap(Outcome.SKIPPED))
            else:
                if self._failure is None:
                    self._failure = PipelineError(seq, stage, filter_name, error)
                # the frame is accounted for as failed, not counted again as cancelled
                self._settle(seq, _Gap(Outcome.CANCELLED))
        return self.on_error == "raise"

    def discard(self, seqs: Iterable[int], outcome: Outcome) -> None:
        """Frames ``seqs`` end without a result (``DROPPED`` or ``CANCELLED``), counted."""
        if outcome not in (Outcome.DROPPED, Outcome.CANCELLED):
            raise ValueError(f"discard() takes Outcome.DROPPED or Outcome.CANCELLED, "
                             f"got {outcome!r}")
        unclaimed = []
        for seq in seqs:
            if seq in self._claims:
                self._end_claimed(seq, outcome, None)
            else:
                unclaimed.append(seq)
        if not unclaimed:
            return
        with self._cond:
            for seq in unclaimed:
                self._counts[outcome] += 1
                self._settle(seq, _Gap(outcome))

    def _end_claimed(self, seq: int, outcome: Outcome, value: Any) -> None:
        # the future is only ever set running here, at its frame's end, so cancel()
        # succeeds until then; its callbacks run outside the lock (they may submit)
        future = self._claims[seq]
        if outcome in (Outcome.DROPPED, Outcome.CANCELLED):
            future.cancel()
        with self._cond:
            del self._claims[seq]
            if not future.set_running_or_notify_cancel() and outcome in (
                    Outcome.DELIVERED, Outcome.FAILED):
                outcome = Outcome.CANCELLED
            self._counts[outcome] += 1
            self._settle(seq, _Gap(outcome))  # ordered readers step over it
        if outcome is Outcome.DELIVERED:
            future.set_result(value)
        elif outcome is Outcome.FAILED:
            future.set_exception(value)

    def _settle(self, seq: int, value: Any) -> None:
        # caller holds self._cond
        now = time.perf_counter()
        self._last = now
        submitted = self._submit_times.pop(seq, None)
        gap = isinstance(value, _Gap)
        if submitted is not None and (not gap or value.outcome is Outcome.DELIVERED):
            self._latencies.append(now - submitted)
        if gap:
            self._unread.discard(seq)
            if self.preserve_order:
                self._done[seq] = value
                # step over gaps now: futures' frames, never read, must not pile up
                while isinstance(self._done.get(self._next_read), _Gap):
                    del self._done[self._next_read]
                    self._next_read += 1
        else:
            self._done[seq] = value
            if not self.preserve_order:
                self._completion.append(seq)
        self._cond.notify_all()

    # -- the inline path ------------------------------------------------------------------------

    def begin_inline(self) -> int:
        """Number a frame the calling thread processes and reads itself, at once.

        For executors whose reader is their worker (``Executor.inline``): the
        result never enters the store, so a successful frame costs one lock
        here and one in :meth:`complete_inline`.  A failed one goes through
        :meth:`fail_inline`, so the error policy is the same as everywhere.
        """
        with self._cond:
            self.check_open()
            return self._number_new_frame()

    def _number_new_frame(self) -> int:
        # caller holds self._cond: the next seq, counted as submitted from now
        seq = self._next_seq
        self._next_seq += 1
        self._submitted += 1
        now = time.perf_counter()
        if self._first is None:
            self._first = now
        self._submit_times[seq] = now
        return seq

    def complete_inline(self, seq: int) -> None:
        """Frame ``seq`` from :meth:`begin_inline` succeeded; its caller has the result."""
        with self._cond:
            self._counts[Outcome.DELIVERED] += 1
            now = time.perf_counter()
            self._last = now
            start = self._submit_times.pop(seq, None)
            if start is not None:
                self._latencies.append(now - start)
            if self.preserve_order:
                self._next_read = seq + 1

    def fail_inline(self, seq: int, stage: str | None, filter_name: str | None,
                    error: BaseException) -> tuple[int, Any] | None:
        """Frame ``seq`` from :meth:`begin_inline` failed: what the reader gets, if anything.

        Under ``"collect"`` the ``(seq, FrameError)``; under ``"skip"`` None;
        under ``"raise"`` the :class:`PipelineError` is raised.
        """
        with self._cond:
            self._unread.add(seq)
        self.fail(seq, stage, filter_name, error)
        return self.take(0.0, {seq})

    # -- reading ---------------------------------------------------------------------------------

    def unread(self, among: Iterable[int] | None = None) -> set[int]:
        """Seqs reserved and not yet read (of ``among``, when given)."""
        with self._cond:
            return set(self._unread) if among is None else self._unread.intersection(among)

    def take(self, timeout: float | None, only: set[int] | None = None,
             ) -> tuple[int, Any] | None:
        """The next readable ``(seq, value)``, waiting up to ``timeout`` (None: until one
        is settled).  None on timeout, or at once when no frame (of ``only``) is
        outstanding.  Raises the failure recorded under ``on_error="raise"``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while True:
                if self._failure is not None:
                    raise self._failure
                ready = self._pop_ready(only)
                if ready is not None:
                    self._cond.notify_all()  # room for a submit waiting on max_pending
                    return ready
                pending = self._unread if only is None else (only & self._unread)
                if not pending:
                    return None
                if deadline is None:
                    self._cond.wait()
                    continue
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._cond.wait(remaining)

    def _pop_ready(self, only: set[int] | None) -> tuple[int, Any] | None:
        # caller holds self._cond
        if self.preserve_order:
            while self._next_read in self._done:
                seq = self._next_read
                value = self._done.pop(seq)
                self._next_read += 1
                if isinstance(value, _Gap):
                    continue
                self._unread.discard(seq)
                return seq, value
            return None
        for seq in self._completion:
            if only is None or seq in only:
                self._completion.remove(seq)
                self._unread.discard(seq)
                return seq, self._done.pop(seq)
        return None

    # -- figures ---------------------------------------------------------------------------------

    def snapshot(self) -> StoreSnapshot:
        """Counters and timings now."""
        with self._cond:
            return StoreSnapshot(
                submitted=self._submitted, counts=dict(self._counts),
                pending=sum(not isinstance(v, _Gap) for v in self._done.values()),
                first=self._first, last=self._last, latencies=sorted(self._latencies))
