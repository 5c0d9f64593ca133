"""What the pool executors (``batch``, ``process``) share: N workers, one bounded queue.

Both validate ``num_workers``/``queue_size`` the same way, feed one shared
:class:`~._channel.Channel`, cancel by draining it and stop by closing it and
joining their threads (bounded, through :meth:`Executor.join_workers`).  Only
what a worker does with a frame differs.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from imagestag_core.errors import ExecutorClosedError, ImagestagError
from imagestag_core.executor import Executor, available_cpus
from imagestag_core.filter import Filter
from imagestag_core.image import Image
from imagestag_core.pipeline import FilterPipeline

from ._channel import CLOSED, Channel, ChannelClosed, QueueFigures

__all__ = ["QueuePoolExecutor"]


class QueuePoolExecutor(Executor):
    """Base of executors whose ``num_workers`` workers share one bounded input queue.

    Args:
        pipeline: a :class:`FilterPipeline`, a list of filters, or a spec string.
        num_workers: workers (default: :func:`available_cpus`).
        queue_size: queue capacity (default: ``queue_per_worker`` per worker).
        queue_per_worker: the default's factor, chosen by the subclass.
        **options: the base :class:`Executor` options.

    Subclasses implement :meth:`handle` (one frame, in a worker thread) and
    may start more than threads in :meth:`start_workers` before calling
    :meth:`start_threads`.  The queue's figures are reported on stage 0.
    """

    def __init__(self, pipeline: FilterPipeline | Iterable[Filter | str] | str,
                 num_workers: int | None = None, queue_size: int | None = None, *,
                 queue_per_worker: int = 2, **options: Any) -> None:
        super().__init__(pipeline, **options)
        if num_workers is None:
            num_workers = available_cpus()
        if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 1:
            raise ImagestagError(f"num_workers must be an int >= 1, got {num_workers!r}")
        if queue_size is None:
            queue_size = queue_per_worker * num_workers
        if isinstance(queue_size, bool) or not isinstance(queue_size, int) or queue_size < 1:
            raise ImagestagError(f"queue_size must be an int >= 1, got {queue_size!r}")
        self._num_workers = num_workers
        self.queue_size = queue_size
        # an empty pipeline has no stage to report the queue on; its figures are dropped
        holder = self.stage_stats[0] if self.stage_stats else QueueFigures()
        self._queue: Channel[tuple[int, Image]] = Channel(queue_size, holder)
        self._threads: list[threading.Thread] = []

    @property
    def num_workers(self) -> int:
        return self._num_workers

    def handle(self, worker: int, seq: int, image: Image) -> None:
        """Process one frame in worker ``worker``'s thread and settle it."""
        raise NotImplementedError

    def start_threads(self, prefix: str) -> None:
        """One daemon thread per worker, named ``<prefix>-<index>``."""
        for index in range(self._num_workers):
            thread = threading.Thread(target=self._work, args=(index,), daemon=True,
                                      name=f"{prefix}-{index}")
            thread.start()
            self._threads.append(thread)

    def _work(self, worker: int) -> None:
        get = self._queue.get
        handle = self.handle
        while True:
            item = get()
            if item is CLOSED:
                return
            try:
                handle(worker, *item)
            except BaseException as exc:
                # a bug outside the filters must not kill the worker and strand the frame
                self.fail(item[0], None, exc)

    def enqueue(self, seq: int, image: Image, timeout: float | None) -> bool:
        try:
            return self._queue.put((seq, image), timeout)
        except ChannelClosed:
            raise ExecutorClosedError(
                f"{self.label} stopped while submit waited for room") from None

    def cancel_queued(self) -> list[int]:
        return [seq for seq, _ in self._queue.drain()]

    def shutdown_workers(self, cancel: bool) -> None:
        # workers drain what is queued, then see CLOSED and return
        self._queue.close()
        self._threads = self.join_workers(self._threads)
