"""``await executor.aprocess(img)`` and ``async for r in executor.aimap(source)``."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import numpy as np
import pytest
from conftest import frames
from executor_helpers import Gate, gate_fixture  # noqa: F401  (the gate fixture)

from imagestag_core import FilterPipeline, FrameError, Image, PipelineError, get_executor
from imagestag_core.executor import Executor
from imagestag_core.filter import Filter
from imagestag_core.plugins import get_filter

pytestmark = pytest.mark.timeout(120)

EXECUTORS = ["sequential", "batch", "streaming", "process"]
THREADED = ["sequential", "batch", "streaming"]
GateMaker = Callable[[str], tuple[threading.Event, threading.Semaphore]]

#: frames the ``Seen`` filter was applied to (thread executors only)
_SEEN: list[int] = []


class Seen(Filter):
    """Records each frame it is applied to in ``_SEEN``."""

    name = "test_asyncio_seen"

    def apply(self, image: Image) -> Image:
        _SEEN.append(image.metadata["frame"])
        return image


def _executor(name: str, pipeline: FilterPipeline | list[Filter], **options: Any) -> Executor:
    if name in ("batch", "process"):
        options.setdefault("num_workers", 2)
    return get_executor(name, pipeline, **options)


async def _agen(images: list[Image]) -> AsyncIterator[Image]:
    for image in images:
        await asyncio.sleep(0)  # an async source that yields to the loop between frames
        yield image


def _ids(results: list[Any]) -> list[int]:
    return [r.metadata["frame"] for r in results]


@pytest.mark.parametrize("name", EXECUTORS)
def test_aimap_over_an_async_generator_yields_results_in_input_order(name: str) -> None:
    inputs = frames(12)
    pipeline = FilterPipeline("resize 0.5")
    expected = pipeline.run(inputs, executor="sequential")

    async def main(ex: Executor) -> tuple[list[Image], Image]:
        results = [r async for r in ex.aimap(_agen(inputs), window=3)]
        return results, await ex.aprocess(inputs[5])

    with _executor(name, pipeline) as ex:
        results, one = asyncio.run(main(ex))
    assert _ids(results) == list(range(12))
    assert [np.asarray(r).tobytes() for r in results] == [
        np.asarray(r).tobytes() for r in expected]
    assert np.array_equal(np.asarray(one), np.asarray(expected[5]))


@pytest.mark.parametrize("name", THREADED)
def test_the_loop_keeps_ticking_while_frames_are_processed(name: str, gate: GateMaker) -> None:
    # every frame waits in a gate that only the ticker opens: were the loop
    # blocked while a frame is processed, the ticker could not tick and the
    # frame would time out in the gate
    opened, _ = gate(f"ticker-{name}")
    count = 6
    pipeline = FilterPipeline([Gate(gate=f"ticker-{name}"), get_filter("resize")(0.5)])

    async def main(ex: Executor) -> tuple[list[Image], int]:
        ticks = 0
        done = asyncio.Event()

        async def ticker() -> None:
            nonlocal ticks
            while not done.is_set():
                ticks += 1
                if ticks == 3 * count:
                    opened.set()
                await asyncio.sleep(0)

        ticking = asyncio.create_task(ticker())
        results = [r async for r in ex.aimap(frames(count))]  # a sync iterable
        done.set()
        await ticking
        return results, ticks

    with _executor(name, pipeline) as ex:
        results, ticks = asyncio.run(main(ex))
    assert _ids(results) == list(range(count))
    assert ticks > 3 * count


@pytest.mark.parametrize("name", ["batch", "streaming"])
def test_cancelling_the_task_cancels_the_frames_it_owns(name: str, gate: GateMaker) -> None:
    opened, entered = gate(f"cancel-{name}")
    _SEEN.clear()
    pipeline = FilterPipeline([Gate(gate=f"cancel-{name}", frames=(0,)), Seen()])
    submitted = asyncio.Event()

    async def source() -> AsyncIterator[Image]:
        for image in frames(4):
            yield image
        submitted.set()  # aimap asks for a 5th frame: the first 4 are in flight
        await asyncio.Event().wait()

    async def main(ex: Executor) -> list[Image]:
        got: list[Image] = []

        async def consume() -> None:
            async for result in ex.aimap(source(), window=5):
                got.append(result)

        task = asyncio.create_task(consume())
        await submitted.wait()
        assert await asyncio.to_thread(entered.acquire, True, 30)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return got

    ex = _executor(name, pipeline, **({"num_workers": 1} if name == "batch" else {}))
    got = asyncio.run(main(ex))
    opened.set()
    ex.close()
    metrics = ex.get_metrics()
    assert got == []
    assert _SEEN == [0]  # frame 0 was running (its result is discarded); 1-3 never ran
    assert (metrics.frames_submitted, metrics.frames_cancelled) == (4, 4)
    assert metrics.frames_completed == 0


def test_a_cancelled_aprocess_cancels_its_frame(gate: GateMaker) -> None:
    opened, entered = gate("aprocess-cancel")
    _SEEN.clear()
    pipeline = FilterPipeline([Gate(gate="aprocess-cancel", frames=(0,)), Seen()])

    async def main(ex: Executor) -> Image:
        first = asyncio.create_task(ex.aprocess(frames(1)[0]))
        assert await asyncio.to_thread(entered.acquire, True, 30)
        second = asyncio.create_task(ex.aprocess(frames(2)[1]))
        third = asyncio.create_task(ex.aprocess(frames(3)[2]))
        await asyncio.sleep(0)  # one turn of the loop: both tasks start submitting
        second.cancel()  # whether its submit has returned or not
        with pytest.raises(asyncio.CancelledError):
            await second
        opened.set()
        assert (await first).metadata["frame"] == 0
        return await third

    with _executor("batch", pipeline, num_workers=1) as ex:
        third = asyncio.run(main(ex))
    assert third.metadata["frame"] == 2
    assert _SEEN == [0, 2]
    assert ex.get_metrics().frames_cancelled == 1


@pytest.mark.parametrize(("on_error", "expected"), [
    ("skip", [0, 1, 3]), ("collect", [0, 1, "error", 3])])
def test_aimap_applies_the_error_policy(on_error: str, expected: list[Any]) -> None:
    pipeline = FilterPipeline([get_filter("fail_on")(frames=(2,))])

    async def main(ex: Executor) -> list[Any]:
        return [r async for r in ex.aimap(_agen(frames(4)))]

    with _executor("batch", pipeline, on_error=on_error) as ex:
        results = asyncio.run(main(ex))
    assert [r.metadata["frame"] if isinstance(r, Image) else "error" for r in results] == expected
    errors = [r for r in results if isinstance(r, FrameError)]
    assert all(e.seq == 2 and e.stage == "0_FailOn" for e in errors)


def test_aimap_raises_pipeline_error_and_cancels_the_rest_under_raise() -> None:
    pipeline = FilterPipeline([get_filter("fail_on")(frames=(1,))])

    def source() -> Iterator[Image]:  # a sync generator, read in a thread
        yield from frames(6)

    async def main(ex: Executor) -> list[Image]:
        got: list[Image] = []
        with pytest.raises(PipelineError, match="frame 1 failed in stage 0_FailOn"):
            async for result in ex.aimap(source(), window=4):
                got.append(result)
        return got

    with _executor("batch", pipeline) as ex:
        got = asyncio.run(main(ex))
        # the executor goes on: a future's failure is its own
        assert ex.process_all(frames(1))[0].metadata["frame"] == 0
    assert _ids(got) == [0]


def test_aprocess_raises_pipeline_error() -> None:
    pipeline = FilterPipeline([get_filter("fail_on")(frames=(0,))])
    with _executor("sequential", pipeline) as ex, pytest.raises(PipelineError) as info:
        asyncio.run(ex.aprocess(frames(1)[0]))
    assert info.value.seq == 0 and info.value.filter_name == "fail_on"
