"""The executor contract, modelled on :mod:`concurrent.futures`.

An executor runs a :class:`~imagestag_core.pipeline.FilterPipeline` over many
frames.  Subclasses decide *how* frames are processed (one thread, a pool, a
thread per stage, processes, a cluster); this base class owns everything that
must behave the same everywhere:

* frame identity: ``submit`` numbers frames 0, 1, 2... (``seq``);
* a result store the workers never block on, read in submission order
  (``preserve_order=True``) or completion order;
* the error policies ``on_error="raise" | "skip" | "collect"``;
* ``stop``/``cancel``/``close`` semantics and the context manager;
* ``process_all`` / ``imap`` / ``results`` / ``get_result`` built on top;
* metrics, progress reporting, trace spans and OpenCV's thread setting.

Writing an executor
-------------------
Override :meth:`Executor._start` (start workers), :meth:`Executor._enqueue`
(hand one frame to the workers; may block while an input queue is full),
:meth:`Executor._cancel_queued` (drop frames not yet started) and
:meth:`Executor._shutdown` (let workers finish and release resources).
Workers call :meth:`Executor._process_frame` (or :meth:`Executor._run_stage`
per stage) and hand outcomes to :meth:`Executor._deliver` /
:meth:`Executor._fail`.  Register the class through ``register_executors``.

Bounded waits
-------------
Every wait inside the base is on a condition that the executor itself will
satisfy (a worker finishing a frame that was submitted), re-checked at least
every ``_POLL`` seconds, so a stopped or failed executor never leaves a
caller blocked.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from difflib import get_close_matches
from typing import Any, ClassVar, Literal

from .errors import (
    BackpressureError,
    ExecutorClosedError,
    FrameError,
    ImagestagError,
    PipelineError,
)
from .filter import Filter
from .image import Image
from .pipeline import FilterPipeline

__all__ = [
    "ErrorPolicy",
    "Executor",
    "ExecutorMetrics",
    "StageMetrics",
    "available_cpus",
    "opencv_threads",
]

ErrorPolicy = Literal["raise", "skip", "collect"]
ProgressCallback = Callable[[int, "int | None"], None]
_POLL = 0.25
_SAMPLES = 4096


def available_cpus() -> int:
    """CPUs this process may use: its affinity mask, capped by a cgroup CPU quota."""
    try:
        count = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        count = os.cpu_count() or 1
    try:
        with open("/sys/fs/cgroup/cpu.max") as fh:
            quota, period = fh.read().split()[:2]
        if quota != "max":
            count = min(count, max(1, int(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, count)


# -- OpenCV's process-wide thread pool ---------------------------------------------------


class _OpenCVThreads:
    """Reference-counted ``cv2.setNumThreads`` shared by every running executor.

    The first executor to start saves the previous setting; the last one to
    close restores it.  While several run, the smallest request wins so that
    N pool workers never each fan out into OpenCV's pool.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[int, int] = {}
        self._previous: int | None = None

    def acquire(self, owner: object, threads: int) -> int:
        import cv2

        with self._lock:
            if not self._requests:
                self._previous = cv2.getNumThreads()
            self._requests[id(owner)] = threads
            value = min(self._requests.values())
            cv2.setNumThreads(value)
            return value

    def release(self, owner: object) -> None:
        import cv2

        with self._lock:
            if self._requests.pop(id(owner), None) is None:
                return
            if self._requests:
                cv2.setNumThreads(min(self._requests.values()))
            elif self._previous is not None:
                cv2.setNumThreads(self._previous)
                self._previous = None


opencv_threads = _OpenCVThreads()


# -- metrics ----------------------------------------------------------------------------------


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
        return asdict(self)

    def summary(self) -> str:
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


class _StageStats:
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
        self.samples: deque[float] = deque(maxlen=_SAMPLES)

    def record(self, seconds: float) -> None:
        with self.lock:
            self.count += 1
            self.total += seconds
            self.samples.append(seconds)

    def snapshot(self, active: float) -> StageMetrics:
        with self.lock:
            samples = sorted(self.samples)
            count, total, workers = self.count, self.total, self.workers
            blocked, high = self.blocked, self.high_water
        return StageMetrics(
            stage_name=self.name, frames=count, workers=workers,
            avg_time_ms=1000 * total / count if count else 0.0,
            p50_ms=1000 * _percentile(samples, 0.5), p95_ms=1000 * _percentile(samples, 0.95),
            busy_fraction=min(1.0, total / (active * workers)) if active > 0 else 0.0,
            queue_high_water=high, blocked_ms=1000 * blocked)


def _percentile(samples: list[float], q: float) -> float:
    if not samples:
        return 0.0
    return samples[min(len(samples) - 1, int(q * len(samples)))]


class _StageFailed(Exception):
    def __init__(self, stage: int, error: BaseException) -> None:
        self.stage = stage
        self.error = error


@dataclass(frozen=True)
class Span:
    """One stage of one frame on one thread (seconds on ``time.perf_counter``'s clock)."""

    stage: int
    seq: int
    thread: str
    start: float
    end: float


_TOMBSTONE_SKIPPED = "skipped"
_TOMBSTONE_CANCELLED = "cancelled"
_TOMBSTONE_DROPPED = "dropped"


class _Tombstone:
    __slots__ = ("kind",)

    def __init__(self, kind: str) -> None:
        self.kind = kind


class _Progress:
    def __init__(self, show: bool, callback: ProgressCallback | None, total: int | None,
                 desc: str) -> None:
        self.callback = callback
        self.total = total
        self.done = 0
        self.bar: Any = None
        if show:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc=desc, unit="frame", leave=False)

    def update(self) -> None:
        self.done += 1
        if self.bar is not None:
            self.bar.update(1)
        if self.callback is not None:
            self.callback(self.done, self.total)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


# -- the base class -------------------------------------------------------------------------


class Executor:
    """Base of every executor.

    Args:
        pipeline: a :class:`FilterPipeline`, a list of filters, or a spec string.
        on_error: ``"raise"`` (default): the first failure stops the executor and
            every later call raises :class:`PipelineError` (frame ``seq``, stage,
            filter, original exception chained).  ``"skip"``: the frame is left
            out and counted.  ``"collect"``: a :class:`FrameError` stands in the
            frame's place.
        preserve_order: deliver results in submission order (default) or in
            completion order.
        max_pending_results: at most this many submitted-but-unread frames; then
            ``submit`` raises :class:`BackpressureError` (after its timeout)
            instead of letting the store grow without bound.
        window: how many frames ``imap``/``process_all`` keep in flight
            (default: :attr:`default_window`, a small multiple of the workers).
        trace: record one :class:`Span` per frame per stage (``trace_events()``).
        opencv_threads: ``cv2.setNumThreads`` while running; the default divides
            the CPUs among the workers (1 per worker on a full pool).
    """

    name: ClassVar[str] = ""
    #: options this class accepts besides the base ones, for error messages
    extra_options: ClassVar[tuple[str, ...]] = ()
    #: True when stages run concurrently on different frames (per-stage workers),
    #: so a report can show where the pipeline waits
    stage_parallel: ClassVar[bool] = False
    #: the options every executor accepts
    base_options: ClassVar[tuple[str, ...]] = (
        "on_error", "preserve_order", "max_pending_results", "window", "trace",
        "opencv_threads")

    @classmethod
    def accepted_options(cls) -> frozenset[str]:
        """Every keyword option ``cls(pipeline, **options)`` accepts."""
        return frozenset((*cls.base_options, *cls.extra_options))

    def __init__(self, pipeline: FilterPipeline | Iterable[Filter | str] | str, *,
                 on_error: ErrorPolicy = "raise", preserve_order: bool = True,
                 max_pending_results: int | None = None, window: int | None = None,
                 trace: bool = False, opencv_threads: int | None = None,
                 **unknown: Any) -> None:
        if unknown:
            valid = sorted(self.accepted_options())
            key = next(iter(unknown))
            close = get_close_matches(key, valid, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ImagestagError(f"{type(self).__name__} got an unknown option {key!r}{hint} "
                                 f"Valid options: {', '.join(valid)}")
        if on_error not in ("raise", "skip", "collect"):
            raise ImagestagError(f"on_error must be 'raise', 'skip' or 'collect', "
                                 f"got {on_error!r}")
        if max_pending_results is not None and max_pending_results < 1:
            raise ImagestagError(f"max_pending_results must be >= 1, got {max_pending_results}")
        if window is not None and window < 1:
            raise ImagestagError(f"window must be >= 1, got {window}")
        self.pipeline = pipeline if isinstance(pipeline, FilterPipeline) else \
            FilterPipeline(pipeline)
        self.filters: tuple[Filter, ...] = self.pipeline.filters
        self.stage_names = self.pipeline.stage_names
        self.on_error: ErrorPolicy = on_error
        self.preserve_order = bool(preserve_order)
        self.max_pending_results = max_pending_results
        self.trace = bool(trace)
        self._window = window
        self._opencv_request = opencv_threads
        self._opencv_value: int | None = None

        self._cond = threading.Condition(threading.Lock())
        self._submit_lock = threading.Lock()
        self._next_seq = 0
        self._next_read = 0
        self._done: dict[int, Any] = {}
        self._completion: deque[int] = deque()
        self._unread: set[int] = set()
        self._failure: PipelineError | None = None
        self._started = False
        self._stopped = False
        self._closed = False
        self._counts = {"submitted": 0, "completed": 0, "failed": 0, "skipped": 0,
                        "cancelled": 0, "dropped": 0}
        self._t_first: float | None = None
        self._t_last: float | None = None
        self._submit_times: dict[int, float] = {}
        self._latencies: deque[float] = deque(maxlen=_SAMPLES)
        self._stats = [_StageStats(n) for n in self.stage_names]
        self._spans: list[Span] = []

    # -- what subclasses provide ---------------------------------------------------------------

    @property
    def num_workers(self) -> int:
        """Worker count reported in metrics and used for the default window."""
        return 1

    @property
    def default_window(self) -> int:
        return self._window or max(4, 2 * self.num_workers)

    def _start(self) -> None:
        """Start workers (called once, on the first submit or by ``start()``)."""

    def _enqueue(self, seq: int, image: Image, timeout: float | None) -> bool:
        """Hand a frame to the workers; return False if ``timeout`` passed (queue full)."""
        raise NotImplementedError

    def _cancel_queued(self) -> list[int]:
        """Remove frames that have not started; return their seqs."""
        return []

    def _shutdown(self, cancel: bool) -> None:
        """Let workers finish what they hold, then stop them (``stop``)."""

    def _release(self) -> None:
        """Free resources beyond threads (``close``): processes, shared memory."""

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> Executor:
        """Start the workers (also done by the first ``submit``)."""
        with self._cond:
            if self._stopped:
                raise ExecutorClosedError(f"{self._label} is stopped; create a new executor")
            if self._started:
                return self
            self._started = True
        self._opencv_value = opencv_threads.acquire(self, self._opencv_threads_wanted())
        try:
            self._start()
        except BaseException:
            opencv_threads.release(self)
            with self._cond:
                self._stopped = True
            raise
        return self

    def _opencv_threads_wanted(self) -> int:
        if self._opencv_request is not None:
            return max(1, self._opencv_request)
        return max(1, available_cpus() // max(1, self.num_workers))

    def stop(self, cancel: bool = False) -> None:
        """Accept no new work.  Submitted frames finish unless ``cancel=True``, which
        drops those not yet started (counted in ``frames_cancelled``); frames in
        progress always finish.  Results stay readable.  Safe to call twice."""
        with self._cond:
            first = not self._stopped
            self._stopped = True
            self._cond.notify_all()
        if cancel:
            self._tombstone_many(self._cancel_queued(), _TOMBSTONE_CANCELLED)
        if first and self._started:
            try:
                self._shutdown(cancel)
            finally:
                opencv_threads.release(self)
        with self._cond:
            self._cond.notify_all()

    def close(self) -> None:
        """``stop()`` plus releasing processes/shared memory.  Safe to call twice."""
        self.stop()
        if not self._closed:
            self._closed = True
            self._release()

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is not None:
            self.stop(cancel=True)
        self.close()

    @property
    def _label(self) -> str:
        return f"{type(self).__name__}({self.name or '?'})"

    # -- submitting -------------------------------------------------------------------------------

    def submit(self, image: Any, timeout: float | None = None) -> int:
        """Queue one frame; return its ``seq`` (0-based submission number).

        Anything ``Image(...)`` accepts may be passed (arrays, paths, bytes);
        encoded data is decoded by the workers.  Blocks while the input queue is
        full (it always drains); with ``timeout`` raises ``TimeoutError`` after
        that long.  With ``max_pending_results`` and that many frames unread,
        waits up to ``timeout`` (not at all when None) for a reader, then raises
        :class:`BackpressureError`.
        """
        frame = image if isinstance(image, Image) else self._to_frame(image)
        with self._submit_lock:
            with self._cond:
                self._check_open()
                if self.max_pending_results is not None:
                    self._wait_for_room(timeout)
                seq = self._next_seq
                self._next_seq += 1
                self._unread.add(seq)
                self._counts["submitted"] += 1
                now = time.perf_counter()
                if self._t_first is None:
                    self._t_first = now
                self._submit_times[seq] = now
            if not self._started:
                try:
                    self.start()
                except BaseException:
                    self._unsubmit(seq)
                    raise
            try:
                accepted = self._enqueue(seq, frame, timeout)
            except BaseException:
                self._unsubmit(seq)
                raise
            if not accepted:
                self._unsubmit(seq)
                raise TimeoutError(f"{self._label}: the input queue stayed full for {timeout}s")
            return seq

    def _to_frame(self, item: Any) -> Any:
        """What ``submit`` hands to ``_enqueue`` for a non-Image item: ``Image(item)``.

        Executors that ship other work items (the Dask executor's file jobs,
        which workers read themselves) override this to let those through.
        """
        return Image(item)

    def _unsubmit(self, seq: int) -> None:
        with self._cond:
            self._next_seq -= 1
            self._unread.discard(seq)
            self._submit_times.pop(seq, None)
            self._counts["submitted"] -= 1

    def _check_open(self) -> None:
        if self._failure is not None:
            raise self._failure
        if self._stopped:
            raise ExecutorClosedError(f"{self._label} is stopped; it accepts no new frames")

    def _wait_for_room(self, timeout: float | None) -> None:
        assert self.max_pending_results is not None
        deadline = None if timeout is None else time.monotonic() + timeout
        while len(self._unread) >= self.max_pending_results:
            remaining = 0.0 if deadline is None else deadline - time.monotonic()
            if remaining <= 0:
                raise BackpressureError(
                    f"{self._label}: {len(self._unread)} frames are submitted but unread "
                    f"(max_pending_results={self.max_pending_results}); read results with "
                    f"get_result()/results() or raise the limit")
            self._cond.wait(min(remaining, _POLL))
            self._check_open()

    # -- worker side ------------------------------------------------------------------------------

    def _should_run(self) -> bool:
        """False once a failure under ``on_error="raise"`` stopped the executor."""
        return self._failure is None

    def _run_stage(self, index: int, seq: int, image: Image) -> Image:
        """Apply stage ``index`` with timing; raise ``_StageFailed`` on error."""
        t0 = time.perf_counter()
        try:
            out = self.filters[index].apply(image)
        except BaseException as exc:
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            raise _StageFailed(index, exc) from exc
        t1 = time.perf_counter()
        if not isinstance(out, Image):
            raise _StageFailed(index, ImagestagError(
                f"{type(self.filters[index]).__name__}.apply returned "
                f"{type(out).__name__}, not an Image"))
        self._stats[index].record(t1 - t0)
        if self.trace:
            self._spans.append(Span(index, seq, threading.current_thread().name, t0, t1))
        return out

    def _process_frame(self, seq: int, image: Image) -> None:
        """Run every stage on one frame and deliver the outcome (workers call this)."""
        if not self._should_run():
            self._tombstone(seq, _TOMBSTONE_CANCELLED)
            return
        try:
            for index in range(len(self.filters)):
                image = self._run_stage(index, seq, image)
        except _StageFailed as failed:
            self._fail(seq, failed.stage, failed.error)
            return
        self._deliver(seq, image)

    def _deliver(self, seq: int, image: Image) -> None:
        with self._cond:
            self._counts["completed"] += 1
            self._store(seq, image)

    def _fail(self, seq: int, stage: int | None, error: BaseException) -> None:
        """Apply the error policy to a frame that failed in ``stage`` (None: outside stages)."""
        stage_name = self.stage_names[stage] if stage is not None else None
        filter_name = type(self.filters[stage]).name if stage is not None else None
        with self._cond:
            self._counts["failed"] += 1
            if self.on_error == "collect":
                self._store(seq, FrameError(seq, stage_name, error, filter_name))
            elif self.on_error == "skip":
                self._counts["skipped"] += 1
                self._store(seq, _Tombstone(_TOMBSTONE_SKIPPED))
            else:
                if self._failure is None:
                    self._failure = PipelineError(seq, stage_name, filter_name, error)
                self._store(seq, _Tombstone(_TOMBSTONE_CANCELLED))
        if self.on_error == "raise":
            self._tombstone_many(self._cancel_queued(), _TOMBSTONE_CANCELLED)

    def _tombstone(self, seq: int, kind: str) -> None:
        self._tombstone_many([seq], kind)

    def _tombstone_many(self, seqs: Iterable[int], kind: str) -> None:
        seqs = list(seqs)
        if not seqs:
            return
        with self._cond:
            for seq in seqs:
                self._counts[kind] += 1
                self._store(seq, _Tombstone(kind))

    def _store(self, seq: int, outcome: Any) -> None:
        # caller holds self._cond
        now = time.perf_counter()
        self._t_last = now
        submitted = self._submit_times.pop(seq, None)
        if submitted is not None and not isinstance(outcome, _Tombstone):
            self._latencies.append(now - submitted)
        if isinstance(outcome, _Tombstone):
            self._unread.discard(seq)
            if self.preserve_order:
                self._done[seq] = outcome
        else:
            self._done[seq] = outcome
            if not self.preserve_order:
                self._completion.append(seq)
        self._cond.notify_all()

    # -- reading ----------------------------------------------------------------------------------

    def _pop_ready(self, only: set[int] | None = None) -> tuple[int, Any] | None:
        # caller holds self._cond
        if self.preserve_order:
            while self._next_read in self._done:
                seq = self._next_read
                outcome = self._done.pop(seq)
                self._next_read += 1
                if isinstance(outcome, _Tombstone):
                    continue
                self._unread.discard(seq)
                return seq, outcome
            return None
        if only is None:
            if self._completion:
                seq = self._completion.popleft()
                self._unread.discard(seq)
                return seq, self._done.pop(seq)
            return None
        for seq in self._completion:
            if seq in only:
                self._completion.remove(seq)
                self._unread.discard(seq)
                return seq, self._done.pop(seq)
        return None

    def _next_outcome(self, timeout: float | None, only: set[int] | None = None,
                      ) -> tuple[int, Any] | None:
        """The next deliverable ``(seq, outcome)``; None on timeout or when nothing is
        outstanding (among ``only`` if given)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while True:
                if self._failure is not None:
                    raise self._failure
                ready = self._pop_ready(only)
                if ready is not None:
                    self._cond.notify_all()
                    return ready
                pending = self._unread if only is None else (only & self._unread)
                if not pending:
                    return None
                if deadline is None:
                    self._cond.wait(_POLL)
                else:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return None
                    self._cond.wait(min(remaining, _POLL))

    def get_result(self, timeout: float | None = None) -> Image | FrameError | None:
        """The next result: blocks up to ``timeout`` (forever when None).

        Returns None on timeout, and at once when no submitted frame is still
        unread (it never waits for a frame that cannot come).  Under
        ``on_error="raise"`` a failure raises :class:`PipelineError`.
        """
        ready = self._next_outcome(timeout)
        return None if ready is None else ready[1]

    def results(self, count: int | None = None, *, timeout: float | None = None,
                with_seq: bool = False) -> Iterator[Any]:
        """Yield results.

        With no ``count``: every frame outstanding at the call, then stop.  With
        ``count=n``: exactly n, raising :class:`ImagestagError` when fewer can
        ever arrive.  ``timeout`` bounds the wait for each result
        (``TimeoutError``).  ``with_seq=True`` yields ``(seq, result)`` pairs.
        """
        if count is None:
            with self._cond:
                only = set(self._unread)
            while only:
                ready = self._next_outcome(timeout, only)
                if ready is None:
                    with self._cond:
                        if not only & self._unread:
                            return
                    raise TimeoutError(f"{self._label}: no result within {timeout}s")
                only.discard(ready[0])
                yield ready if with_seq else ready[1]
            return
        if count < 0:
            raise ValueError(f"count must be >= 0, got {count}")
        for delivered in range(count):
            ready = self._next_outcome(timeout)
            if ready is None:
                with self._cond:
                    nothing_left = not self._unread
                if nothing_left:
                    raise ImagestagError(
                        f"results(count={count}): only {delivered} results could be delivered; "
                        f"no more frames are outstanding")
                raise TimeoutError(f"{self._label}: no result within {timeout}s")
            yield ready if with_seq else ready[1]

    def imap(self, images: Iterable[Any], *, window: int | None = None,
             with_seq: bool = False, show_progress: bool = False,
             progress: ProgressCallback | None = None) -> Iterator[Any]:
        """Yield results while consuming ``images`` lazily.

        At most ``window`` frames (default :attr:`default_window`) are in
        flight, so a generator of any length runs in flat memory.  Results come
        in the executor's delivery order (input order when ``preserve_order``);
        skipped frames are left out, collected failures are :class:`FrameError`.
        """
        limit = window or self.default_window
        bar = _Progress(show_progress, progress, _length(images), self.name or "frames")
        try:
            for item in self._imap_seq(images, limit):
                bar.update()
                yield item if with_seq else item[1]
        finally:
            bar.close()

    def _imap_seq(self, images: Iterable[Any], limit: int) -> Iterator[tuple[int, Any]]:
        source = iter(images)
        mine: set[int] = set()
        exhausted = False
        try:
            while True:
                while not exhausted:
                    with self._cond:
                        mine &= self._unread
                        if len(mine) >= limit:
                            break
                    try:
                        item = next(source)
                    except StopIteration:
                        exhausted = True
                        break
                    mine.add(self.submit(item))
                ready = self._next_outcome(None, mine)
                if ready is None:
                    if exhausted:
                        return
                    continue
                mine.discard(ready[0])
                yield ready
        except GeneratorExit:
            self.stop(cancel=True)
            raise

    def process_all(self, images: Iterable[Any], show_progress: bool = False,
                    progress: ProgressCallback | None = None) -> list[Any]:
        """Process every image; results in input order.

        ``show_progress=True`` draws a progress bar; ``progress(done, total)`` is
        called after each frame (``total`` is None for unsized iterables).
        """
        out: list[tuple[int, Any]] = list(self.imap(
            images, with_seq=True, show_progress=show_progress, progress=progress))
        if not self.preserve_order:
            out.sort(key=lambda pair: pair[0])
        return [result for _, result in out]

    def process_batch(self, images: Iterable[Any]) -> list[Any]:
        """The seed's streaming batch call: ``process_all`` without progress."""
        return self.process_all(images)

    def map(self, images: Iterable[Any]) -> Iterator[Any]:
        """``concurrent.futures``-style alias of :meth:`imap`."""
        return self.imap(images)

    # -- metrics and traces ---------------------------------------------------------------------------

    def _stage_workers(self) -> list[int]:
        return [self.num_workers] * len(self.filters)

    def get_metrics(self) -> ExecutorMetrics:
        with self._cond:
            counts = dict(self._counts)
            pending = sum(not isinstance(v, _Tombstone) for v in self._done.values())
            first, last = self._t_first, self._t_last
            latencies = sorted(self._latencies)
        active = (last - first) if (first is not None and last is not None) else 0.0
        for stats, workers in zip(self._stats, self._stage_workers()):
            stats.workers = workers
        return ExecutorMetrics(
            executor=self.name or type(self).__name__, workers=self.num_workers,
            frames_submitted=counts["submitted"], frames_completed=counts["completed"],
            frames_failed=counts["failed"], frames_skipped=counts["skipped"],
            frames_cancelled=counts["cancelled"], frames_dropped=counts["dropped"],
            pending_results=pending, active_time_s=active,
            fps=counts["completed"] / active if active > 0 else 0.0,
            latency_p50_ms=1000 * _percentile(latencies, 0.5),
            latency_p95_ms=1000 * _percentile(latencies, 0.95),
            opencv_threads=self._opencv_value,
            stages=[s.snapshot(active) for s in self._stats])

    def summary(self) -> str:
        return self.get_metrics().summary()

    def spans(self) -> list[Span]:
        """Recorded spans (``trace=True``), in recording order."""
        return list(self._spans)

    def trace_events(self) -> dict[str, Any]:
        """Spans as a Chrome trace-event document (open in Perfetto or chrome://tracing)."""
        spans = self.spans()
        origin = min((s.start for s in spans), default=0.0)
        threads: dict[str, int] = {}
        events: list[dict[str, Any]] = []
        for span in spans:
            tid = threads.setdefault(span.thread, len(threads) + 1)
            events.append({
                "name": self.stage_names[span.stage], "cat": "stage", "ph": "X",
                "ts": (span.start - origin) * 1e6, "dur": (span.end - span.start) * 1e6,
                "pid": os.getpid(), "tid": tid, "args": {"seq": span.seq}})
        for thread, tid in threads.items():
            events.append({"name": "thread_name", "ph": "M", "pid": os.getpid(), "tid": tid,
                           "args": {"name": thread}})
        return {"traceEvents": events, "displayTimeUnit": "ms",
                "otherData": {"executor": self.name, "pipeline": self.pipeline.to_string()}}

    def __repr__(self) -> str:
        state = "stopped" if self._stopped else ("running" if self._started else "new")
        return f"<{type(self).__name__} {self.name!r} {state} workers={self.num_workers}>"


def _length(images: Iterable[Any]) -> int | None:
    try:
        return len(images)  # type: ignore[arg-type]
    except TypeError:
        return None
