"""Fault-injection filters for tests and benchmarks: fail, sleep, hold the GIL.

This one module holds three small filters (an exception to "one filter a
module") because they only make sense together, as tools for exercising
executors.  All three return their input unchanged and are deterministic:
the same frame (by its metadata) always fails, or sleeps the same time.  They
are ordinary registered filters, so a ``process`` executor's workers resolve
them by name from their spec.
"""

from __future__ import annotations

import time
import zlib
from typing import Any

from imagestag_core import hookimpl
from imagestag_core.errors import InjectedFault
from imagestag_core.filter import Filter
from imagestag_core.image import Image
from imagestag_core.params import param

__all__ = ["Delay", "FailOn", "HoldGIL", "InjectedFault"]

MAX_MS = 1000.0


class FailOn(Filter):
    """Raise :class:`InjectedFault` for chosen frames; pass every other frame through.

    Args:
        frames: the metadata values that fail (``(3, 7)``: frames 3 and 7).
        key: the metadata key holding the frame's number.  Images without it never fail.
        message: the exception's message (the frame number is appended).
    """

    name = "fail_on"

    frames: tuple[int, ...] = param((), example=(3,), doc="frame numbers that fail")
    key: str = param("frame", doc="metadata key holding the frame number")
    message: str = param("injected failure", doc="exception message")

    def apply(self, image: Image) -> Image:
        value = image.metadata.get(self.key)
        if value is not None and value in self.frames:
            raise InjectedFault(f"{self.message} ({self.key}={value!r})", value)
        return image


def jitter_fraction(value: Any) -> float:
    """A stable pseudo-random number in [0, 1) for a metadata value.

    Uses CRC-32 of the value's repr, not ``hash()``: string hashes are salted
    per process, and the jitter must be the same in every worker process.
    """
    return zlib.crc32(repr(value).encode("utf-8")) / 2**32


class Delay(Filter):
    """Sleep, releasing the GIL, as an I/O-bound or native stage would.

    Args:
        ms: the base delay in milliseconds.
        jitter_ms: extra delay up to this much, derived from the frame's
            metadata value under ``key`` (the same frame always gets the same
            extra; images without the key get none).
        key: the metadata key the jitter is derived from.
    """

    name = "delay"

    ms: float = param(0.0, min=0.0, max=MAX_MS, doc="base delay in ms")
    jitter_ms: float = param(0.0, min=0.0, max=MAX_MS, doc="deterministic extra delay, max ms")
    key: str = param("frame", doc="metadata key the jitter derives from")

    def delay_ms(self, image: Image) -> float:
        """The delay this filter applies to ``image``."""
        value = image.metadata.get(self.key)
        extra = 0.0 if value is None else self.jitter_ms * jitter_fraction(value)
        return self.ms + extra

    def apply(self, image: Image) -> Image:
        total = self.delay_ms(image)
        if total > 0:
            time.sleep(total / 1000.0)
        return image


class HoldGIL(Filter):
    """Busy-loop in pure Python for ``ms`` milliseconds, holding the GIL.

    Stands in for a filter written in Python (a per-pixel loop): threads
    cannot run it in parallel, processes can.  The interpreter still switches
    threads every ``sys.getswitchinterval()`` (5 ms), as with any Python code.

    Args:
        ms: how long to spin, in milliseconds.
    """

    name = "hold_gil"

    ms: float = param(0.0, min=0.0, max=MAX_MS, doc="busy-loop time in ms")

    def apply(self, image: Image) -> Image:
        # the thread's own CPU time, not the wall clock: two threads spinning
        # on a wall-clock deadline would each finish in ``ms`` while holding
        # the GIL only half the time, and threads would look as fast as processes
        deadline = time.thread_time() + self.ms / 1000.0
        spins = 0
        while time.thread_time() < deadline:
            spins += 1  # Python bytecode: keeps the GIL busy, unlike time.sleep
        return image


@hookimpl
def register_filters(register: Any) -> None:
    # test tools: they resolve by name everywhere but stay out of listings
    # unless IMAGESTAG_TEST_TOOLS=1 (opt-in, like pytest's pytester)
    register(FailOn, hidden=True)
    register(Delay, hidden=True)
    register(HoldGIL, hidden=True)
