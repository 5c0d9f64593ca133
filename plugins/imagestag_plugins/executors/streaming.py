"""``streaming`` (alias ``stage_parallel``): each stage in its own thread(s), joined by queues.

Frame 1 can be encoded while frame 2 is resized and frame 3 decoded.  Each
stage has its own bounded input queue; the last stage hands results to the
base's result store, which never blocks, so a consumer that reads late never
stalls the pipeline.  ``num_workers="auto"`` measures the stage times on the
first frames and gives the slow stages extra threads.
"""

from __future__ import annotations

import math
import threading
from typing import Any, Literal

from imagestag_core import hookimpl
from imagestag_core.errors import ExecutorClosedError, ImagestagError
from imagestag_core.executor import Executor, Outcome, StageFailed, available_cpus
from imagestag_core.filter import Filter
from imagestag_core.image import Image
from imagestag_core.pipeline import FilterPipeline

from ._channel import CLOSED, Channel, ChannelClosed

__all__ = ["StreamingPipelineExecutor"]

Overflow = Literal["block", "drop_oldest", "drop_newest"]
_OVERFLOWS = ("block", "drop_oldest", "drop_newest")
#: frames every stage must have finished before ``"auto"`` assigns threads
CALIBRATION_FRAMES = 6


class StreamingPipelineExecutor(Executor):
    """Stage-parallel pipeline: one or more threads per stage, bounded queues between.

    Args:
        pipeline: a :class:`FilterPipeline`, a list of filters, or a spec string.
        num_workers: threads per stage: an int for every stage, a list with one
            int per stage, or ``"auto"``: one per stage to start with; once every
            stage has handled :data:`CALIBRATION_FRAMES` frames, stage ``k`` gets
            ``max(1, ceil(B * t_k / sum(t)))`` threads, where ``t`` are the
            measured mean stage times and ``B = max(CPUs, stages)``, so the
            slowest stage gets the most.  The assignment shows in the metrics
            (``stages[k].workers``).
        queue_size: capacity of each stage's input queue (default 32).
        preserve_order: deliver in submission order (default) or completion order.
        overflow: what ``submit`` does when the input queue is full.
            ``"block"`` (default) waits for room.  ``"drop_oldest"`` evicts the
            oldest queued frame, ``"drop_newest"`` drops the frame being
            submitted; either way ``submit`` returns at once, the dropped frame
            is counted in ``frames_dropped`` and never delivered (``get_result``
            does not wait for it).  For live sources that must not fall behind.
        max_pending_results: see :class:`~imagestag_core.executor.Executor`.
        **options: the other base options (``on_error``, ``window``, ``trace``,
            ``opencv_threads``).

    Metrics: ``stages[k].queue_high_water`` is the fullest stage ``k``'s input
    queue got; ``stages[k].blocked_ms`` is the time producers (``submit`` for
    stage 0, stage ``k-1``'s workers otherwise) waited for room in it, so a
    stage with large ``blocked_ms`` is a bottleneck.
    """

    name = "streaming"
    extra_options = ("num_workers", "queue_size", "overflow")
    option_help = {"num_workers": "threads per stage: one number, a list, or auto",
                   "queue_size": "capacity of each queue between stages",
                   "overflow": "a full first queue: block, drop_oldest or drop_newest"}
    stage_parallel = True

    def __init__(self, pipeline: FilterPipeline | list[Filter | str] | str,
                 num_workers: int | list[int] | Literal["auto"] = 1, queue_size: int = 32,
                 preserve_order: bool = True, overflow: Overflow = "block",
                 max_pending_results: int | None = None, **options: Any) -> None:
        super().__init__(pipeline, preserve_order=preserve_order,
                         max_pending_results=max_pending_results, **options)
        stages = len(self.filters)
        self._auto = num_workers == "auto"
        if self._auto:
            workers = [1] * stages
        elif isinstance(num_workers, int) and not isinstance(num_workers, bool):
            workers = [num_workers] * stages
        elif isinstance(num_workers, (list, tuple)):
            workers = list(num_workers)
            if len(workers) != stages:
                raise ImagestagError(
                    f"num_workers has {len(workers)} entries for {stages} stages "
                    f"({', '.join(self.stage_names)}); give one per stage, an int or 'auto'")
        else:
            raise ImagestagError(f"num_workers must be an int, a list of ints (one per stage) "
                                 f"or 'auto', got {num_workers!r}")
        for count in workers:
            if isinstance(count, bool) or not isinstance(count, int) or count < 1:
                raise ImagestagError(f"num_workers entries must be ints >= 1, got {num_workers!r}")
        if isinstance(queue_size, bool) or not isinstance(queue_size, int) or queue_size < 1:
            raise ImagestagError(f"queue_size must be an int >= 1, got {queue_size!r}")
        if overflow not in _OVERFLOWS:
            raise ImagestagError(f"overflow must be one of {', '.join(map(repr, _OVERFLOWS))}, "
                                 f"got {overflow!r}")
        self.queue_size = queue_size
        self.overflow: Overflow = overflow
        self._workers = workers
        self._budget = max(available_cpus(), stages)
        self._channels: list[Channel[tuple[int, Image]]] = [
            Channel(queue_size, stats) for stats in self.stage_stats]
        self._lock = threading.Lock()
        self._alive = [0] * stages
        self._threads: list[threading.Thread] = []
        self._stopping = False
        self._calibrating = self._auto and stages > 0

    # -- sizes ------------------------------------------------------------------------------

    @property
    def num_workers(self) -> int:
        """Threads across all stages."""
        return max(1, sum(self._workers))

    @property
    def default_window(self) -> int:
        if self.window:
            return self.window
        # "auto" may grow to about budget + stages threads; keep them all fed
        most = self._budget + len(self._workers) if self._auto else self.num_workers
        return max(4, 2 * most)

    def stage_workers(self) -> list[int]:
        with self._lock:
            return list(self._workers)

    # -- lifecycle --------------------------------------------------------------------------

    def start_workers(self) -> None:
        with self._lock:
            for stage, count in enumerate(self._workers):
                for _ in range(count):
                    self._spawn(stage)

    def _spawn(self, stage: int) -> None:
        # caller holds self._lock
        index = self._alive[stage]
        self._alive[stage] += 1
        thread = threading.Thread(target=self._work, args=(stage,), daemon=True,
                                  name=f"imagestag-streaming-{stage}-{index}")
        self._threads.append(thread)
        thread.start()

    def shutdown_workers(self, cancel: bool) -> None:
        with self._lock:
            # no calibration may add threads once the stop cascade has begun
            self._stopping = True
            threads = list(self._threads)
        if self._channels:
            # each stage closes the next one when its last worker returns
            self._channels[0].close()
        self._threads = self.join_workers(threads)

    # -- submitting -------------------------------------------------------------------------

    def enqueue(self, seq: int, image: Image, timeout: float | None) -> bool:
        if not self._channels:
            self.deliver(seq, image)
            return True
        item = (seq, image)
        try:
            if self.overflow == "block":
                return self._channels[0].put(item, timeout)
            if self.overflow == "drop_newest":
                if not self._channels[0].offer(item):
                    self.discard([seq], Outcome.DROPPED)
                return True
            evicted = self._channels[0].push_evicting(item)
        except ChannelClosed:
            raise ExecutorClosedError(
                f"{self.label} stopped while submit waited for room") from None
        if evicted is not None:
            self.discard([evicted[0]], Outcome.DROPPED)
        return True

    def cancel_queued(self) -> list[int]:
        if not self._channels:
            return []
        if self.should_run():
            # stop(cancel=True): only frames that have not started any stage
            return [seq for seq, _ in self._channels[0].drain()]
        # a failure under on_error="raise": nothing else is worth computing
        return [seq for channel in self._channels for seq, _ in channel.drain()]

    # -- workers ----------------------------------------------------------------------------

    def _work(self, stage: int) -> None:
        source = self._channels[stage]
        last = stage == len(self._channels) - 1
        target = None if last else self._channels[stage + 1]
        run = self.run_stage
        try:
            while True:
                item = source.get()
                if item is CLOSED:
                    return
                seq, image = item
                try:
                    if not self.should_run():
                        self.discard([seq], Outcome.CANCELLED)
                        continue
                    out = run(stage, seq, image)
                    if target is None:
                        self.deliver(seq, out)
                    else:
                        # never raises ChannelClosed: stage+1 closes only after this
                        # stage's last worker has returned
                        target.put((seq, out))
                except StageFailed as failed:
                    self.fail(seq, failed.stage, failed.error)
                except BaseException as exc:
                    # a bug outside the filters must not kill the worker and strand the frame
                    self.fail(seq, None, exc)
                if self._calibrating and last:
                    self._calibrate()
        finally:
            self._exited(stage)

    def _exited(self, stage: int) -> None:
        with self._lock:
            self._alive[stage] -= 1
            done = self._alive[stage] == 0
        if done and stage + 1 < len(self._channels):
            # everything this stage will ever produce is queued downstream now
            self._channels[stage + 1].close()

    def _calibrate(self) -> None:
        """Give each stage threads in proportion to its measured time (``"auto"``)."""
        counts = [s.count for s in self.stage_stats]
        if min(counts) < CALIBRATION_FRAMES:
            return
        with self._lock:
            if not self._calibrating or self._stopping:
                return
            self._calibrating = False
            times = [s.mean() for s in self.stage_stats]
            total = sum(times) or 1.0
            wanted = [max(1, math.ceil(self._budget * t / total)) for t in times]
            for stage, count in enumerate(wanted):
                for _ in range(count - self._workers[stage]):
                    self._spawn(stage)
                self._workers[stage] = max(count, self._workers[stage])
        # more threads: fewer OpenCV threads each (the smallest request wins)
        with self._lock:
            if not self._stopping:
                self.update_opencv_threads()


@hookimpl
def register_executors(register: Any) -> None:
    register(StreamingPipelineExecutor, aliases=("stage_parallel",))
