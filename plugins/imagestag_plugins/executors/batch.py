"""``batch`` (alias ``data_parallel``): a pool of threads, each running the whole pipeline.

The fastest strategy for filters that release the GIL (OpenCV, numpy, most
codecs): N workers pull frames from one shared bounded queue and run every
stage on their frame, so all cores stay busy whatever the stage times are.
OpenCV is set to ``CPUs // workers`` threads while it runs (1 on a full pool)
so the workers do not oversubscribe the cores.
"""

from __future__ import annotations

import threading
from typing import Any

from imagestag_core import hookimpl
from imagestag_core.errors import ExecutorClosedError, ImagestagError
from imagestag_core.executor import Executor, available_cpus
from imagestag_core.filter import Filter
from imagestag_core.image import Image
from imagestag_core.pipeline import FilterPipeline

from ._channel import CLOSED, Channel, ChannelClosed

__all__ = ["BatchPipelineExecutor"]


class BatchPipelineExecutor(Executor):
    """Data-parallel thread pool: every worker runs the whole pipeline on one frame.

    Args:
        pipeline: a :class:`FilterPipeline`, a list of filters, or a spec string.
        num_workers: worker threads (default: the CPUs this process may use,
            see :func:`~imagestag_core.executor.available_cpus`).
        queue_size: capacity of the shared input queue (default: 4 per worker);
            ``submit`` blocks while it is full, and it always drains because the
            workers never block on the result store.
        **options: the base :class:`~imagestag_core.executor.Executor` options
            (``on_error``, ``preserve_order``, ``max_pending_results``,
            ``window``, ``trace``, ``opencv_threads``).

    Metrics: one entry per stage; the shared queue's high-water mark and the
    time ``submit`` waited for room are reported on stage 0.
    """

    name = "batch"
    extra_options = ("num_workers", "queue_size")

    def __init__(self, pipeline: FilterPipeline | list[Filter | str] | str,
                 num_workers: int | None = None, queue_size: int | None = None,
                 **options: Any) -> None:
        super().__init__(pipeline, **options)
        if num_workers is None:
            num_workers = available_cpus()
        if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 1:
            raise ImagestagError(f"num_workers must be an int >= 1, got {num_workers!r}")
        if queue_size is None:
            queue_size = 4 * num_workers
        if isinstance(queue_size, bool) or not isinstance(queue_size, int) or queue_size < 1:
            raise ImagestagError(f"queue_size must be an int >= 1, got {queue_size!r}")
        self._num_workers = num_workers
        self.queue_size = queue_size
        # an empty pipeline has no stage to report the queue on; its figures are dropped
        holder = self._stats[0] if self._stats else _Figures()
        self._queue: Channel[tuple[int, Image]] = Channel(queue_size, holder)
        self._threads: list[threading.Thread] = []

    @property
    def num_workers(self) -> int:
        return self._num_workers

    def _start(self) -> None:
        for index in range(self._num_workers):
            thread = threading.Thread(target=self._work, name=f"imagestag-batch-{index}",
                                      daemon=True)
            thread.start()
            self._threads.append(thread)

    def _work(self) -> None:
        get = self._queue.get
        process = self._process_frame
        while True:
            item = get()
            if item is CLOSED:
                return
            try:
                process(*item)
            except BaseException as exc:
                # a bug outside the filters must not kill the worker and strand the frame
                self._fail(item[0], None, exc)

    def _enqueue(self, seq: int, image: Image, timeout: float | None) -> bool:
        try:
            return self._queue.put((seq, image), timeout)
        except ChannelClosed:
            raise ExecutorClosedError(
                f"{self._label} stopped while submit waited for room") from None

    def _cancel_queued(self) -> list[int]:
        return [seq for seq, _ in self._queue.drain()]

    def _shutdown(self, cancel: bool) -> None:
        self._queue.close()
        current = threading.current_thread()
        for thread in self._threads:
            if thread is not current:
                thread.join()
        self._threads = [t for t in self._threads if t.is_alive()]


class _Figures:
    __slots__ = ("blocked", "high_water")

    def __init__(self) -> None:
        self.high_water = 0
        self.blocked = 0.0


@hookimpl
def register_executors(register: Any) -> None:
    register(BatchPipelineExecutor, aliases=("data_parallel",))
