"""``streaming``: threads per stage, bounded queues, auto workers, live-stream overflow."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from conftest import frames
from executor_helpers import Gate, gate_fixture, ids, wait_until  # noqa: F401 (the gate fixture)
from imagestag_plugins.executors.streaming import (
    CALIBRATION_FRAMES,
    StreamingPipelineExecutor,
)
from imagestag_plugins.filters.faults import Delay

from imagestag_core import Image, ImagestagError, PixelFormat, get_executor
from imagestag_core.filters import FalseColor, FilterPipeline, Resize


def streaming_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("imagestag-streaming-")]


# -- workers per stage --------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_auto_workers_give_the_deliberately_slow_stage_the_most_threads() -> None:
    pipeline = [Delay(ms=1), Delay(ms=25), Delay(ms=1)]
    with StreamingPipelineExecutor(pipeline, num_workers="auto") as ex:
        results = ex.process_all(frames(4 * CALIBRATION_FRAMES))
        running = len(streaming_threads())
    assert ids(results) == list(range(4 * CALIBRATION_FRAMES))
    workers = [s.workers for s in ex.get_metrics().stages]
    assert workers[1] > workers[0] and workers[1] > workers[2]
    assert workers[0] == workers[2] == 1
    assert ex.get_metrics().workers == running == sum(workers)
    assert streaming_threads() == []


@pytest.mark.timeout(30)
def test_auto_keeps_one_thread_per_stage_until_calibrated() -> None:
    with StreamingPipelineExecutor([Delay(ms=1), Delay(ms=5)], num_workers="auto") as ex:
        ex.process_all(frames(CALIBRATION_FRAMES - 1))
        assert [s.workers for s in ex.get_metrics().stages] == [1, 1]


@pytest.mark.timeout(30)
def test_per_stage_worker_list_starts_those_threads() -> None:
    with StreamingPipelineExecutor([Delay(), Delay(), Delay()], num_workers=[1, 3, 2]) as ex:
        assert ids(ex.process_all(frames(12))) == list(range(12))
        assert len(streaming_threads()) == 6
        metrics = ex.get_metrics()
    assert [s.workers for s in metrics.stages] == [1, 3, 2]
    assert metrics.workers == 6


def test_a_worker_list_of_the_wrong_length_names_the_stages() -> None:
    with pytest.raises(ImagestagError, match=r"2 entries for 3 stages.*0_Delay"):
        StreamingPipelineExecutor([Delay(), Delay(), Delay()], num_workers=[1, 2])


@pytest.mark.parametrize("options", [
    {"num_workers": 0}, {"num_workers": [1, 0]}, {"num_workers": "many"},
    {"queue_size": 0}, {"overflow": "drop"},
])
def test_invalid_options_are_rejected(options: dict[str, object]) -> None:
    with pytest.raises(ImagestagError):
        StreamingPipelineExecutor([Delay(), Delay()], **options)  # type: ignore[arg-type]


# -- queues: high water, blocked time, the seed's patterns ----------------------------------


@pytest.mark.timeout(30)
def test_a_bottleneck_stage_shows_a_full_queue_and_blocked_producers() -> None:
    with StreamingPipelineExecutor([Delay(), Delay(ms=10)], queue_size=2) as ex:
        ex.process_all(frames(20))
    first, slow = ex.get_metrics().stages
    assert slow.queue_high_water == 2
    assert slow.blocked_ms > 0
    assert first.queue_high_water <= 2


@pytest.mark.timeout(60)
def test_submit_everything_then_read_1000_frames_at_queue_size_2() -> None:
    pipeline = FilterPipeline([Resize(scale=0.5), FalseColor(colormap="hot")])
    with StreamingPipelineExecutor(pipeline, queue_size=2) as ex:
        for img in frames(1000, size=(16, 12)):
            ex.submit(img)
        results = list(ex.results(count=1000))
    assert ids(results) == list(range(1000))
    assert results[0].size == (8, 6)


@pytest.mark.timeout(60)
def test_seed_video_loop_submit_then_get_result_with_short_timeout() -> None:
    pipeline = FilterPipeline([Resize(size=(32, 24)), FalseColor(colormap="inferno")])
    shown: list[int] = []
    with StreamingPipelineExecutor(pipeline) as executor:
        for i in range(60):
            frame = np.random.default_rng(i).integers(0, 256, (48, 64, 3), dtype=np.uint8)
            img = Image(frame, pixel_format=PixelFormat.BGR, metadata={"frame": i})
            executor.submit(img)
            result = executor.get_result(timeout=0.1)
            if result:
                assert result.get_pixels(PixelFormat.BGR).shape == (24, 32, 3)
                shown.append(result.metadata["frame"])
    shown.extend(ids(list(executor.results())))
    assert shown == list(range(60))


# -- live-stream overflow ------------------------------------------------------------------


@pytest.mark.timeout(30)
def test_drop_oldest_keeps_the_newest_frames_when_the_input_queue_is_full(gate) -> None:
    opened, entered = gate("oldest")
    ex = StreamingPipelineExecutor([Gate(gate="oldest", frames=(0,))], queue_size=2,
                                   overflow="drop_oldest")
    images = frames(10)
    ex.submit(images[0])
    assert entered.acquire(timeout=20)  # frame 0 is held in the stage; the queue is empty
    assert [ex.submit(img) for img in images[1:]] == list(range(1, 10))
    opened.set()
    assert ids(list(ex.results())) == [0, 8, 9]
    ex.close()
    metrics = ex.get_metrics()
    assert (metrics.frames_dropped, metrics.frames_completed) == (7, 3)
    assert ex.get_result() is None


@pytest.mark.timeout(30)
def test_drop_newest_keeps_the_queued_frames_when_the_input_queue_is_full(gate) -> None:
    opened, entered = gate("newest")
    ex = StreamingPipelineExecutor([Gate(gate="newest", frames=(0,))], queue_size=2,
                                   overflow="drop_newest")
    images = frames(10)
    ex.submit(images[0])
    assert entered.acquire(timeout=20)
    for img in images[1:]:
        ex.submit(img)
    opened.set()
    assert ids(list(ex.results())) == [0, 1, 2]
    ex.close()
    assert ex.get_metrics().frames_dropped == 7


@pytest.mark.timeout(60)
@pytest.mark.parametrize("overflow", ["drop_oldest", "drop_newest"])
def test_a_producer_faster_than_the_pipeline_never_blocks_and_loses_nothing_uncounted(
        overflow: str) -> None:
    with StreamingPipelineExecutor([Delay(ms=2), Delay(ms=3)], queue_size=2,
                                   overflow=overflow) as ex:  # type: ignore[arg-type]
        shown: list[int] = []
        for img in frames(200):
            ex.submit(img)
            result = ex.get_result(timeout=0)
            if result:
                shown.append(result.metadata["frame"])
    shown.extend(ids(list(ex.results())))
    metrics = ex.get_metrics()
    assert metrics.frames_dropped > 0
    assert len(shown) + metrics.frames_dropped == 200 == metrics.frames_submitted
    assert shown == sorted(set(shown))
    assert metrics.frames_completed == len(shown)


# -- cancel and failures between stages ----------------------------------------------------


@pytest.mark.timeout(60)
def test_stop_cancel_drops_only_frames_that_have_not_entered_the_pipeline(gate) -> None:
    in_open, in_entered = gate("in")
    out_open, out_entered = gate("out")
    pipeline = [Gate(gate="in", frames=(4, 5, 6, 7)), Gate(gate="out", frames=(0,))]
    ex = StreamingPipelineExecutor(pipeline, queue_size=10)
    for img in frames(8):
        ex.submit(img)
    # frame 0 waits in stage 1, frames 1-3 in stage 1's queue, frame 4 in stage 0,
    # frames 5-7 in the input queue
    assert in_entered.acquire(timeout=20) and out_entered.acquire(timeout=20)
    stopper = threading.Thread(target=ex.stop, kwargs={"cancel": True})
    stopper.start()
    wait_until(lambda: ex.get_metrics().frames_cancelled == 3)
    in_open.set()
    out_open.set()
    stopper.join(20)
    assert not stopper.is_alive()
    assert ids(list(ex.results())) == [0, 1, 2, 3, 4]
    ex.close()


def test_seed_import_path_and_alias_give_the_streaming_executor() -> None:
    from imagestag_core.filters import StreamingPipelineExecutor as Seed

    assert Seed is StreamingPipelineExecutor
    with get_executor("stage_parallel", [Delay()]) as ex:
        assert isinstance(ex, StreamingPipelineExecutor)


@pytest.mark.timeout(30)
def test_an_empty_pipeline_passes_frames_through() -> None:
    with StreamingPipelineExecutor([]) as ex:
        assert ids(ex.process_all(frames(5))) == list(range(5))
