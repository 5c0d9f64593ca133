"""What an executor may use of the machine: CPUs and OpenCV's thread pool.

Both are process-wide: the CPU count comes from the affinity mask and the
cgroup quota, and ``cv2.setNumThreads`` changes one setting shared by every
thread.  Executors size their pools from :func:`available_cpus` and hold an
OpenCV-thread request in :data:`opencv_threads` while they run.
"""

from __future__ import annotations

import os
import threading

__all__ = ["OpenCVThreads", "available_cpus", "opencv_threads"]


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


class OpenCVThreads:
    """Reference-counted ``cv2.setNumThreads`` shared by every running executor.

    The first owner to :meth:`acquire` saves the previous setting; the last one
    to :meth:`release` restores it.  While several hold a request, the smallest
    wins, so that N pool workers never each fan out into OpenCV's pool.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[int, int] = {}
        self._previous: int | None = None

    def acquire(self, owner: object, threads: int) -> int:
        """Record (or replace) ``owner``'s request; return the value now in effect."""
        # cv2 is imported here, not at module level: importing the core must
        # stay light, and only a running executor touches OpenCV's pool
        import cv2

        with self._lock:
            if not self._requests:
                self._previous = cv2.getNumThreads()
            self._requests[id(owner)] = threads
            value = min(self._requests.values())
            cv2.setNumThreads(value)
            return value

    def release(self, owner: object) -> None:
        """Drop ``owner``'s request (no-op if it holds none)."""
        import cv2

        with self._lock:
            if self._requests.pop(id(owner), None) is None:
                return
            if self._requests:
                cv2.setNumThreads(min(self._requests.values()))
            elif self._previous is not None:
                cv2.setNumThreads(self._previous)
                self._previous = None


#: the one budget every executor in this process shares
opencv_threads = OpenCVThreads()
