"""``sequential``: every frame in the calling thread, one after another.

The reference every other executor is compared with, and the one to debug
filters with.  ``submit`` processes the frame before returning.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from imagestag_core import hookimpl
from imagestag_core.executor import Executor
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
        # no window needed: each frame is done when submit returns
        for item in images:
            seq = self.submit(item)
            ready = self._next_outcome(0.0, {seq})
            if ready is not None:
                yield ready


@hookimpl
def register_executors(register: Any) -> None:
    register(SequentialExecutor)
