"""A bounded, closable FIFO shared by the thread executors (``batch``, ``streaming``).

Why not :class:`queue.Queue`: shutting down needs a *close* that wakes every
waiting producer and consumer at once (instead of one sentinel per worker that
a cancel could drain by mistake), cancelling needs an atomic "take every queued
frame", and the live-stream overflow modes need an atomic "evict the oldest and
append".  The channel also keeps the figures the stage metrics report: its
high-water mark and how long producers waited for room.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any, Generic, TypeVar

__all__ = ["CLOSED", "Channel", "ChannelClosed", "QueueFigures"]

T = TypeVar("T")


class ChannelClosed(Exception):
    """``put`` on a closed channel (the executor stopped)."""


class _Closed:
    __slots__ = ()

    def __repr__(self) -> str:
        return "CLOSED"


#: returned by :meth:`Channel.get` once the channel is closed and empty
CLOSED: Any = _Closed()


class QueueFigures:
    """Where a channel keeps its figures when no stage reports them (an empty pipeline)."""

    __slots__ = ("blocked", "high_water")

    def __init__(self) -> None:
        self.high_water = 0
        self.blocked = 0.0


class Channel(Generic[T]):
    """A FIFO of at most ``maxsize`` items.

    ``stats`` is an object with ``high_water`` (int) and ``blocked`` (float
    seconds) attributes, updated under the channel's lock; the executor's
    per-stage stats object is passed here so metrics need no copying.
    """

    __slots__ = ("_closed", "_items", "_lock", "_maxsize", "_not_empty", "_not_full", "stats")

    def __init__(self, maxsize: int, stats: Any) -> None:
        self._maxsize = maxsize
        self._items: deque[T] = deque()
        self._lock = threading.Lock()
        self._not_empty = threading.Condition(self._lock)
        self._not_full = threading.Condition(self._lock)
        self._closed = False
        self.stats = stats

    def _append(self, item: T) -> None:
        # caller holds the lock and made sure there is room
        self._items.append(item)
        size = len(self._items)
        if size > self.stats.high_water:
            self.stats.high_water = size
        self._not_empty.notify()

    def put(self, item: T, timeout: float | None = None) -> bool:
        """Append ``item``, waiting while full; False when ``timeout`` passed first.

        Raises :class:`ChannelClosed` if the channel is or becomes closed, so a
        producer blocked on a full channel is released by :meth:`close`.
        """
        with self._lock:
            if self._closed:
                raise ChannelClosed
            if len(self._items) >= self._maxsize:
                start = time.perf_counter()
                deadline = None if timeout is None else time.monotonic() + timeout
                try:
                    while len(self._items) >= self._maxsize:
                        if deadline is None:
                            self._not_full.wait()
                        else:
                            remaining = deadline - time.monotonic()
                            if remaining <= 0:
                                return False
                            self._not_full.wait(remaining)
                        if self._closed:
                            raise ChannelClosed
                finally:
                    self.stats.blocked += time.perf_counter() - start
            self._append(item)
            return True

    def offer(self, item: T) -> bool:
        """Append ``item`` if there is room; never waits."""
        with self._lock:
            if self._closed:
                raise ChannelClosed
            if len(self._items) >= self._maxsize:
                return False
            self._append(item)
            return True

    def push_evicting(self, item: T) -> T | None:
        """Append ``item``; when full, first remove and return the oldest item."""
        with self._lock:
            if self._closed:
                raise ChannelClosed
            evicted = self._items.popleft() if len(self._items) >= self._maxsize else None
            self._append(item)
            return evicted

    def get(self) -> T:
        """The oldest item, waiting while empty; :data:`CLOSED` once closed and empty.

        Consumers are worker threads; their wait ends when a frame arrives or
        the executor closes the channel (every shutdown path does).
        """
        with self._lock:
            while not self._items:
                if self._closed:
                    return CLOSED
                self._not_empty.wait()
            item = self._items.popleft()
            self._not_full.notify()
            return item

    def drain(self) -> list[T]:
        """Remove and return every queued item (cancelling frames not yet started)."""
        with self._lock:
            items = list(self._items)
            self._items.clear()
            self._not_full.notify_all()
            return items

    def close(self) -> None:
        """No more puts; consumers finish what is queued, then get :data:`CLOSED`."""
        with self._lock:
            self._closed = True
            self._not_empty.notify_all()
            self._not_full.notify_all()

    def __len__(self) -> int:
        return len(self._items)
