"""``sequential``: every frame in the calling thread, one after another.

The reference every other executor is compared with, and the one to debug
filters with.  ``submit`` processes the frame before returning.
"""

from __future__ import annotations

from typing import Any

from imagestag_core import hookimpl
from imagestag_core.executor import Executor
from imagestag_core.image import Image


class SequentialExecutor(Executor):
    """One thread: the caller's.  Accepts the base :class:`Executor` options.

    ``imap``/``process_all`` take the result store's inline path
    (``inline = True``): a frame is finished before the next is read, so its
    result goes straight to the caller.  A subclass that changes
    :meth:`enqueue` so that it no longer finishes the frame must set
    ``inline = False``.
    """

    name = "sequential"
    inline = True

    def opencv_threads_wanted(self) -> int:
        # the reference runs OpenCV single-threaded so "CPUs x sequential fps"
        # is a fair ideal for the parallel executors
        if self.requested_opencv_threads is not None:
            return self.requested_opencv_threads
        return 1

    def enqueue(self, seq: int, image: Image, timeout: float | None) -> bool:
        self.process_frame(seq, image)
        return True


@hookimpl
def register_executors(register: Any) -> None:
    register(SequentialExecutor)
