"""``sequential``: every frame in the calling thread, one after another.

The reference every other executor is compared with, and the one to debug
filters with.  ``submit`` processes the frame before returning.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Any

from imagestag_core import hookimpl
from imagestag_core.executor import Executor, _StageFailed
from imagestag_core.image import Image


class SequentialExecutor(Executor):
    """One thread: the caller's.  Accepts the base :class:`Executor` options."""

    name = "sequential"

    def _opencv_threads_wanted(self) -> int:
        # the reference runs OpenCV single-threaded so "CPUs x sequential fps"
        # is a fair ideal for the parallel executors
        return self._opencv_request if self._opencv_request is not None else 1

    def _enqueue(self, seq: int, image: Image, timeout: float | None) -> bool:
        self._process_frame(seq, image)
        return True

    def _imap_seq(self, images: Iterable[Any], limit: int) -> Iterator[tuple[int, Any]]:
        # Fast path: each frame is finished before the next is read, so a
        # successful result never needs the shared result store; only the
        # counters are updated, under one lock per frame.  Failures take the
        # general path so the error policies behave exactly as elsewhere.
        if type(self)._enqueue is not SequentialExecutor._enqueue:
            # a subclass changed how frames are handled: go through submit()
            for item in images:
                seq = self.submit(item)
                ready = self._next_outcome(0.0, {seq})
                if ready is not None:
                    yield ready
            return
        if not self._started:
            self.start()
        stages = range(len(self.filters))
        counts = self._counts
        for item in images:
            frame = item if isinstance(item, Image) else self._to_frame(item)
            with self._cond:
                self._check_open()
                seq = self._next_seq
                self._next_seq += 1
                counts["submitted"] += 1
                start = time.perf_counter()
                if self._t_first is None:
                    self._t_first = start
            try:
                for index in stages:
                    frame = self._run_stage(index, seq, frame)
            except _StageFailed as failed:
                with self._cond:
                    self._unread.add(seq)
                self._fail(seq, failed.stage, failed.error)
                ready = self._next_outcome(0.0, {seq})
                if ready is not None:
                    yield ready
                continue
            end = time.perf_counter()
            with self._cond:
                counts["completed"] += 1
                self._t_last = end
                self._latencies.append(end - start)
                if self.preserve_order:
                    self._next_read = seq + 1
            yield seq, frame


@hookimpl
def register_executors(register: Any) -> None:
    register(SequentialExecutor)
