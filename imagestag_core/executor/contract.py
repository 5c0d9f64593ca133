"""The executor contract, modelled on :mod:`concurrent.futures`.

:class:`Executor` runs a :class:`~imagestag_core.pipeline.FilterPipeline` over
many frames.  A subclass decides *how* frames are processed (one thread, a
pool, a thread per stage, processes, a cluster); the base owns what must
behave the same everywhere: frame numbering, the result store and error
policies (:mod:`.store`), lifecycle, the derived reading methods, metrics and
trace spans (:mod:`.metrics`) and the OpenCV thread budget (:mod:`.resources`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import Future
from contextlib import suppress
from difflib import get_close_matches
from typing import Any, ClassVar

from ..errors import ExecutorClosedError, FrameError, ImagestagError, PipelineError
from ..filter import Filter
from ..image import Image
from ..pipeline import FilterPipeline
from .futures import FutureSide
from .metrics import Span, StageStats
from .progress import Progress, ProgressCallback, length_of
from .reporting import Reporting
from .resources import available_cpus, opencv_threads
from .store import ErrorPolicy, Outcome, ResultStore
from .workers import INTERRUPTS, StageFailed, WorkerSide

__all__ = ["Executor"]


class Executor(WorkerSide, Reporting, FutureSide):
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
            instead of letting the store grow without bound (``imap`` and
            ``process_all`` keep at most this many frames in flight).
        window: how many frames ``imap``/``process_all`` keep in flight
            (default: :attr:`default_window`, a small multiple of the workers).
        trace: record one :class:`Span` per frame per stage (``trace_events()``).
        opencv_threads: ``cv2.setNumThreads`` while running; the default divides
            the CPUs among the workers (1 per worker on a full pool).

    Subclass API: override what applies (each has a default and its own
    docstring) - :meth:`start_workers`, :meth:`enqueue`, :meth:`cancel_queued`,
    :meth:`shutdown_workers`, :meth:`release_resources`, the sizes
    (:attr:`num_workers`, :attr:`default_window`, :meth:`stage_workers`,
    :meth:`opencv_threads_wanted`) and :meth:`to_frame`; workers settle each
    frame once through :meth:`process_frame`/:meth:`run_stage` and
    :meth:`deliver`/:meth:`fail`/:meth:`discard`.  ``docs/writing-executors.md``
    walks through a complete executor.
    """

    name: ClassVar[str] = ""
    #: options this class accepts besides the base ones, for error messages
    extra_options: ClassVar[tuple[str, ...]] = ()
    #: a line of help per option (for the CLI); its type and default: the ``__init__`` parameter
    option_help: ClassVar[dict[str, str]] = {}
    #: True when stages run concurrently on different frames (per-stage workers),
    #: so a report can show where the pipeline waits
    stage_parallel: ClassVar[bool] = False
    #: True when :meth:`enqueue` processes the frame in the calling thread (``imap``
    #: then skips the store); a subclass overriding ``enqueue`` must say so itself
    inline: ClassVar[bool] = False
    #: the options every executor accepts
    base_options: ClassVar[tuple[str, ...]] = (
        "on_error", "preserve_order", "max_pending_results", "window", "trace",
        "opencv_threads")
    #: seconds ``stop`` waits for a worker to finish what it holds before it
    #: warns and leaves the (daemon) thread to finish on its own
    shutdown_timeout: ClassVar[float] = 300.0

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # ``inline`` promises that enqueue() finishes the frame; a subclass that
        # replaces enqueue() makes that promise only by declaring it again
        if "enqueue" in cls.__dict__ and "inline" not in cls.__dict__:
            cls.inline = False

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
        #: the ``window`` option as given (None: :attr:`default_window` decides)
        self.window = window
        #: the ``opencv_threads`` option as given (None: :meth:`opencv_threads_wanted`)
        self.requested_opencv_threads = opencv_threads
        #: per-stage figures, one :class:`StageStats` per stage
        self.stage_stats = [StageStats(n) for n in self.stage_names]
        self.branch_stats: dict[str, StageStats] = {}
        self._store = ResultStore(preserve_order=self.preserve_order, on_error=on_error,
                                  max_pending=max_pending_results, label=self.label)
        self._lifecycle = threading.Lock()
        self._submit_lock = threading.Lock()
        self._started = False
        self._closed = False
        self._opencv_value: int | None = None
        self._spans: list[Span] = []

    # -- the subclass API: what subclasses provide -----------------------------------------

    @property
    def num_workers(self) -> int:
        """Worker count reported in metrics and used for the default window."""
        return 1

    @property
    def default_window(self) -> int:
        """Frames ``imap`` keeps in flight unless ``window`` is given."""
        return self.window or max(4, 2 * self.num_workers)

    def stage_workers(self) -> list[int]:
        """Workers per stage, for the metrics (default: every worker runs every stage)."""
        return [self.num_workers] * len(self.filters)

    def opencv_threads_wanted(self) -> int:
        """``cv2.setNumThreads`` while running: the option, else CPUs per worker."""
        if self.requested_opencv_threads is not None:
            return max(1, self.requested_opencv_threads)
        return max(1, available_cpus() // max(1, self.num_workers))

    def to_frame(self, item: Any) -> Any:
        """What ``submit`` hands to :meth:`enqueue` for a non-Image item: ``Image(item)``.

        An executor that ships other work items (files its workers read
        themselves) overrides this to let those through.
        """
        return Image(item)

    def start_workers(self) -> None:
        """Start workers (called once, on the first submit or by ``start()``)."""

    def enqueue(self, seq: int, image: Any, timeout: float | None) -> bool:
        """Hand a frame to the workers; return False if ``timeout`` passed (queue full)."""
        raise NotImplementedError(f"{type(self).__name__} must implement enqueue()")

    def shutdown_workers(self, cancel: bool) -> None:
        """Let workers finish what they hold, then stop them (bounded: :meth:`join_workers`)."""

    def release_resources(self) -> None:
        """Free resources beyond threads (``close``): processes, shared memory."""

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> Executor:
        """Start the workers (also done by the first ``submit``)."""
        with self._lifecycle:
            if self._store.stopped:
                raise ExecutorClosedError(f"{self.label} is stopped; create a new executor")
            if self._started:
                return self
            self._started = True
        self.update_opencv_threads()
        try:
            self.start_workers()
        except BaseException:
            opencv_threads.release(self)
            self._store.stop()
            raise
        return self

    def stop(self, cancel: bool = False) -> None:
        """Accept no new work.  Submitted frames finish unless ``cancel=True``, which
        drops those not yet started (counted in ``frames_cancelled``); frames in
        progress always finish.  Results stay readable.  Safe to call twice."""
        first = self._store.stop()
        if cancel:
            self.discard(self.cancel_queued(), Outcome.CANCELLED)
        if first and self._started:
            try:
                self.shutdown_workers(cancel)
            finally:
                opencv_threads.release(self)

    def close(self) -> None:
        """``stop()`` plus releasing processes/shared memory.  Safe to call twice."""
        self.stop()
        if not self._closed:
            self._closed = True
            self.release_resources()

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is not None:
            self.stop(cancel=True)
        self.close()

    # -- submitting and reading -------------------------------------------------------------

    def submit(self, image: Any, timeout: float | None = None) -> int:
        """Queue one frame; return its ``seq`` (0-based submission number).

        Anything ``Image(...)`` accepts may be passed (arrays, paths, bytes);
        encoded data is decoded by the workers.  Blocks while the input queue is
        full (it always drains); with ``timeout`` raises ``TimeoutError`` after
        that long.  With ``max_pending_results`` and that many frames unread,
        waits up to ``timeout`` (not at all when None) for a reader, then raises
        :class:`BackpressureError`.  :meth:`submit_future` returns a Future instead.
        """
        return self._submit(image, timeout, None)

    def _submit(self, image: Any, timeout: float | None, claim: Future[Any] | None) -> int:
        frame = image if isinstance(image, Image) else self.to_frame(image)
        with self._submit_lock:
            seq = self._store.reserve(timeout, claim)
            try:
                if not self._started:
                    self.start()
                accepted = self.enqueue(seq, frame, timeout)
            except BaseException:
                self._store.unreserve(seq)
                raise
            if not accepted:
                self._store.unreserve(seq)
                raise TimeoutError(f"{self.label}: the input queue stayed full for {timeout}s")
            return seq

    def get_result(self, timeout: float | None = None) -> Image | FrameError | None:
        """The next result: blocks up to ``timeout`` (forever when None).

        Returns None on timeout, and at once when no submitted frame is still
        unread (it never waits for a frame that cannot come).  Under
        ``on_error="raise"`` a failure raises :class:`PipelineError`.
        """
        ready = self._store.take(timeout)
        return None if ready is None else ready[1]

    def results(self, count: int | None = None, *, timeout: float | None = None,
                with_seq: bool = False) -> Iterator[Any]:
        """Yield results.

        With no ``count``: every frame outstanding at the call, then stop.  With
        ``count=n``: exactly n, raising :class:`ImagestagError` when fewer can
        ever arrive.  ``timeout`` bounds the wait for each result
        (``TimeoutError``).  ``with_seq=True`` yields ``(seq, result)`` pairs.
        """
        store = self._store
        if count is None:
            only = store.unread()
            while only:
                ready = store.take(timeout, only)
                if ready is None:
                    if not store.unread(only):
                        return
                    raise TimeoutError(f"{self.label}: no result within {timeout}s")
                only.discard(ready[0])
                yield ready if with_seq else ready[1]
            return
        if count < 0:
            raise ValueError(f"count must be >= 0, got {count}")
        for delivered in range(count):
            ready = store.take(timeout)
            if ready is None:
                if not store.unread():
                    raise ImagestagError(
                        f"results(count={count}): only {delivered} results could be delivered; "
                        f"no more frames are outstanding")
                raise TimeoutError(f"{self.label}: no result within {timeout}s")
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
        if self.max_pending_results is not None:
            # imap reads its own results: beyond the limit submit would raise at once
            limit = min(limit, self.max_pending_results)
        bar = Progress(show_progress, progress, length_of(images), self.name or "frames")
        pairs = self._inline_pairs(images) if self.inline else self._windowed_pairs(images,
                                                                                    limit)
        try:
            for item in pairs:
                bar.update()
                yield item if with_seq else item[1]
        finally:
            bar.close()

    def _windowed_pairs(self, images: Iterable[Any], limit: int) -> Iterator[tuple[int, Any]]:
        source = iter(images)
        mine: set[int] = set()
        exhausted = False
        try:
            while True:
                while not exhausted:
                    mine = self._store.unread(mine)
                    if len(mine) >= limit or (mine and not self._store.has_room()):
                        # read ours first (with none of ours, submit says why)
                        break
                    try:
                        item = next(source)
                    except StopIteration:
                        exhausted = True
                        break
                    mine.add(self.submit(item))
                ready = self._store.take(None, mine)
                if ready is None:
                    if exhausted:
                        return
                    continue
                mine.discard(ready[0])
                yield ready
        except GeneratorExit:
            self.stop(cancel=True)
            raise

    def _inline_pairs(self, images: Iterable[Any]) -> Iterator[tuple[int, Any]]:
        # each frame is finished before the next is read, so a successful
        # result never enters the store (see ResultStore.begin_inline)
        if not self._started:
            self.start()
        store = self._store
        for item in images:
            frame = item if isinstance(item, Image) else self.to_frame(item)
            seq = store.begin_inline()
            try:
                frame = self.run_stages(seq, frame)
            except StageFailed as failed:
                if isinstance(failed.error, INTERRUPTS):
                    with suppress(PipelineError):  # settled and read: the interrupt goes on
                        store.fail_inline(seq, *self.stage_labels(failed.stage), failed.error)
                    raise self._interrupted(seq, failed) from None
                ready = store.fail_inline(seq, *self.stage_labels(failed.stage), failed.error)
                if ready is not None:
                    yield ready
                continue
            self.record_branches(seq, frame)
            store.complete_inline(seq)
            yield seq, frame

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

    def __repr__(self) -> str:
        state = "stopped" if self._store.stopped else ("running" if self._started else "new")
        return f"<{type(self).__name__} {self.name!r} {state} workers={self.num_workers}>"
