"""``Executor.submit_future``: a concurrent.futures.Future per frame, on every executor."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import CancelledError, Future, as_completed, wait
from pathlib import Path

import numpy as np
import pytest
from conftest import frames
from executor_helpers import Gate, gate_fixture  # noqa: F401  (the gate fixture)

from imagestag_core import FilterPipeline, Image, PipelineError, get_executor
from imagestag_core.errors import InjectedFault
from imagestag_core.executor import Executor
from imagestag_core.filter import Filter
from imagestag_core.plugins import get_filter

pytestmark = pytest.mark.timeout(120)

EXECUTORS = ["sequential", "batch", "streaming", "process"]
THREADED = ["batch", "streaming"]  # frames can wait in a gate while others queue

#: frames the ``Seen`` filter was applied to (thread executors only)
_SEEN: list[int] = []


class Seen(Filter):
    """Records each frame it is applied to in ``_SEEN``."""

    name = "test_futures_seen"

    def apply(self, image: Image) -> Image:
        _SEEN.append(image.metadata["frame"])
        return image


def _executor(name: str, pipeline: FilterPipeline | list[Filter], **options: object,
              ) -> Executor:
    if name in ("batch", "process"):
        options.setdefault("num_workers", 2)
    return get_executor(name, pipeline, **options)


def _pixels(images: list[Image]) -> list[bytes]:
    return [np.asarray(image).tobytes() for image in images]


@pytest.mark.parametrize("name", EXECUTORS)
def test_futures_resolve_to_the_results_of_their_frames(name: str) -> None:
    inputs = frames(8)
    pipeline = FilterPipeline("resize 0.5")
    expected = pipeline.run(inputs, executor="sequential")
    with _executor(name, pipeline) as ex:
        futures = [ex.submit_future(image) for image in inputs]
        assert all(isinstance(f, Future) for f in futures)
        results = [f.result(timeout=60) for f in futures]
        completed = {f: f.result() for f in as_completed(futures, timeout=60)}
        metrics = ex.get_metrics()
    assert _pixels(results) == _pixels(expected)
    assert [r.metadata["frame"] for r in results] == list(range(8))
    assert len(completed) == 8
    assert (metrics.frames_submitted, metrics.frames_completed) == (8, 8)


@pytest.mark.parametrize("name", EXECUTORS)
def test_a_failed_frame_sets_pipeline_error_and_fails_no_other_frame(name: str) -> None:
    pipeline = FilterPipeline([get_filter("fail_on")(frames=(2,)), get_filter("resize")(0.5)])
    with _executor(name, pipeline) as ex:  # on_error="raise", the default
        futures = [ex.submit_future(image) for image in frames(5)]
        _, not_done = wait(futures, timeout=60)
        later = ex.submit_future(frames(1)[0]).result(timeout=60)
        metrics = ex.get_metrics()
    assert not not_done
    error = futures[2].exception()
    assert isinstance(error, PipelineError)
    assert error.seq == 2 and error.stage == "0_FailOn" and error.filter_name == "fail_on"
    assert isinstance(error.__cause__, InjectedFault)
    assert [f.result().metadata["frame"] for i, f in enumerate(futures) if i != 2] == [0, 1, 3, 4]
    assert later.size == (32, 24)
    assert (metrics.frames_failed, metrics.frames_completed) == (1, 5)


@pytest.mark.parametrize("name", EXECUTORS)
def test_cancelled_futures_are_counted_and_the_rest_deliver(name: str) -> None:
    # whether a cancel comes in time depends on the executor's speed; the
    # accounting holds either way: a cancelled frame delivers nothing
    with _executor(name, FilterPipeline("resize 0.5")) as ex:
        futures = [ex.submit_future(image) for image in frames(10)]
        cancelled = [f.cancel() for f in futures[::2]]
        wait(futures, timeout=60)
    assert cancelled == [f.cancelled() for f in futures[::2]]
    for index, future in enumerate(futures):
        if not future.cancelled():
            assert future.result().metadata["frame"] == index
        else:
            with pytest.raises(CancelledError):
                future.result()
    metrics = ex.get_metrics()
    assert metrics.frames_cancelled == sum(cancelled)
    assert metrics.frames_completed == 10 - sum(cancelled)


@pytest.mark.parametrize("name", THREADED)
def test_cancel_skips_a_queued_frame_and_only_that_frame(name: str, gate: Callable[
        [str], tuple[threading.Event, threading.Semaphore]]) -> None:
    opened, entered = gate(f"futures-{name}")
    _SEEN.clear()
    pipeline = FilterPipeline([Gate(gate=f"futures-{name}", frames=(0,)), Seen()])
    options = {"num_workers": 1} if name == "batch" else {}
    with _executor(name, pipeline, **options) as ex:
        futures = [ex.submit_future(image) for image in frames(4)]
        assert entered.acquire(timeout=30)  # frame 0 holds the only first-stage worker
        assert futures[2].cancel()
        assert futures[2].cancel()  # again: still cancelled
        opened.set()
        done, _ = wait(futures, timeout=60)
    assert futures[2] in done and futures[2].cancelled()
    assert [f.result().metadata["frame"] for f in futures if not f.cancelled()] == [0, 1, 3]
    assert sorted(_SEEN) == [0, 1, 3]
    metrics = ex.get_metrics()
    assert (metrics.frames_cancelled, metrics.frames_completed) == (1, 3)


@pytest.mark.parametrize("name", THREADED)
def test_a_running_frame_cancelled_finishes_and_its_result_is_discarded(
        name: str, gate: Callable[[str], tuple[threading.Event, threading.Semaphore]]) -> None:
    opened, entered = gate(f"running-{name}")
    _SEEN.clear()
    pipeline = FilterPipeline([Gate(gate=f"running-{name}", frames=(0,)), Seen()])
    with _executor(name, pipeline) as ex:
        future = ex.submit_future(frames(1)[0])
        assert entered.acquire(timeout=30)
        assert future.cancel()
        opened.set()
        assert ex.submit_future(frames(2)[1]).result(timeout=60).metadata["frame"] == 1
    assert future.cancelled() and 0 in _SEEN
    assert ex.get_metrics().frames_cancelled == 1


def test_stop_with_cancel_cancels_the_futures_of_queued_frames(
        gate: Callable[[str], tuple[threading.Event, threading.Semaphore]]) -> None:
    opened, entered = gate("futures-stop")
    ex = _executor("batch", [Gate(gate="futures-stop", frames=(0,))], num_workers=1)
    futures = [ex.submit_future(image) for image in frames(3)]
    assert entered.acquire(timeout=30)
    # stop() waits for frame 0, which is in progress: it runs in a thread
    stopping = threading.Thread(target=ex.stop, kwargs={"cancel": True})
    stopping.start()
    done, _ = wait(futures[1:], timeout=30)
    assert futures[1] in done and futures[2] in done
    assert futures[1].cancelled() and futures[2].cancelled()
    opened.set()
    stopping.join(30)
    ex.close()
    assert futures[0].result(timeout=30).metadata["frame"] == 0
    assert ex.get_metrics().frames_cancelled == 2


def test_a_future_frame_is_never_returned_to_stream_readers() -> None:
    with _executor("batch", FilterPipeline("resize 0.5"), max_pending_results=1) as ex:
        seq = ex.submit(frames(1)[0])
        # max_pending_results counts the stream's unread frames, not the futures'
        futures = [ex.submit_future(image) for image in frames(4)]
        assert [r.metadata["frame"] for r in ex.results()] == [0]
        assert ex.get_result(timeout=0) is None
        assert [f.result(timeout=60).metadata["frame"] for f in futures] == [0, 1, 2, 3]
        assert seq == 0


def test_submit_future_after_close_raises_executor_closed() -> None:
    ex = _executor("batch", FilterPipeline("resize 0.5"))
    ex.close()
    with pytest.raises(RuntimeError, match="stopped"):
        ex.submit_future(frames(1)[0])


def test_a_future_can_be_awaited_through_asyncio_wrap_future() -> None:
    async def main(ex: Executor) -> list[Image]:
        futures = [asyncio.wrap_future(ex.submit_future(image)) for image in frames(3)]
        return list(await asyncio.gather(*futures))

    with _executor("batch", FilterPipeline("resize 0.5")) as ex:
        results = asyncio.run(main(ex))
    assert [r.metadata["frame"] for r in results] == [0, 1, 2]


def test_a_done_callback_may_submit_again() -> None:
    # callbacks run outside the store's lock: a callback that submits cannot deadlock
    chained: list[Future[Image]] = []
    submitted = threading.Event()

    def again(done: Future[Image]) -> None:
        chained.append(ex.submit_future(done.result()))
        submitted.set()

    with _executor("batch", FilterPipeline("resize 0.5")) as ex:
        first = ex.submit_future(frames(1)[0])
        first.add_done_callback(again)
        assert submitted.wait(60)
        assert chained[0].result(timeout=60).size == (16, 12)


class FileGate(Filter):
    """Across processes: frame ``hold`` marks ``entered`` and waits for ``opened``;
    every frame it sees leaves a ``seen-<frame>`` file in ``folder``."""

    name = "test_futures_file_gate"
    folder: str = ""
    hold: int = 0

    def apply(self, image: Image) -> Image:
        folder, frame = Path(self.folder), image.metadata["frame"]
        (folder / f"seen-{frame}").touch()
        if frame == self.hold:
            (folder / "entered").touch()
            deadline = time.monotonic() + 30
            while not (folder / "opened").exists():  # a worker process waits on the test
                if time.monotonic() > deadline:
                    raise TimeoutError("the test never opened the gate")
                time.sleep(0.005)
        return image


def _wait_for(path: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.005)


def test_process_never_sends_a_frame_whose_future_was_cancelled_in_its_queue(
        tmp_path: Path) -> None:
    pipeline = FilterPipeline([FileGate(folder=str(tmp_path), hold=0)])
    # one worker process; the queue holds frames 1-3 while frame 0 waits (submit never blocks)
    with get_executor("process", pipeline, num_workers=1, queue_size=4) as ex:
        futures = [ex.submit_future(image) for image in frames(4)]
        _wait_for(tmp_path / "entered")  # frame 0 holds the only worker process
        assert futures[2].cancel()
        (tmp_path / "opened").touch()
        done, _ = wait(futures, timeout=60)
    assert len(done) == 4 and futures[2].cancelled()
    assert sorted(p.name for p in tmp_path.glob("seen-*")) == ["seen-0", "seen-1", "seen-3"]
    metrics = ex.get_metrics()
    assert (metrics.frames_cancelled, metrics.frames_completed) == (1, 3)
