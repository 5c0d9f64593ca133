"""Test tools shared by the thread-executor tests (``test_batch``, ``test_streaming``).

Imported explicitly (``from executor_helpers import ...``), not through
conftest, so each test module shows where its tools come from; importing
``gate_fixture`` makes the ``gate`` fixture available in that module.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest

from imagestag_core import Image
from imagestag_core.filter import Filter

__all__ = ["Gate", "gate_fixture", "ids", "wait_until"]

# -- a gate: frames wait in a stage until the test opens it (threads only) -------------------

_OPEN: dict[str, threading.Event] = {}
_ENTERED: dict[str, threading.Semaphore] = {}


class Gate(Filter):
    """Frames listed in ``frames`` (all when empty) wait until gate ``gate`` opens."""

    name = "test_executor_gate"
    gate: str = ""
    frames: tuple[int, ...] = ()

    def apply(self, image: Image) -> Image:
        if not self.frames or image.metadata["frame"] in self.frames:
            _ENTERED[self.gate].release()
            if not _OPEN[self.gate].wait(30):
                raise TimeoutError(f"gate {self.gate!r} never opened")
        return image


@pytest.fixture(name="gate")
def gate_fixture() -> Iterator[Callable[[str], tuple[threading.Event, threading.Semaphore]]]:
    """``gate(name)`` makes a gate: (the event that opens it, a semaphore per frame in)."""
    names: list[str] = []

    def make(name: str) -> tuple[threading.Event, threading.Semaphore]:
        names.append(name)
        _OPEN[name] = threading.Event()
        _ENTERED[name] = threading.Semaphore(0)
        return _OPEN[name], _ENTERED[name]

    yield make
    for name in names:  # never leave a worker blocked behind a failed test
        _OPEN.pop(name).set()
        _ENTERED.pop(name)


def wait_until(predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    """Return once ``predicate()`` holds; fail the test after ``timeout`` seconds."""
    waiter = threading.Event()
    for _ in range(int(timeout / 0.005)):
        if predicate():
            return
        waiter.wait(0.005)
    raise AssertionError("condition not reached in time")


def ids(results: list[Image]) -> list[int]:
    """The ``frame`` metadata of each result, in order."""
    return [r.metadata["frame"] for r in results]
