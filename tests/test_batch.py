"""``batch``: the data-parallel thread pool (what the contract suite can't see)."""

from __future__ import annotations

import threading

import cv2
import pytest
from conftest import frames
from executor_helpers import Gate, gate_fixture, wait_until  # noqa: F401 (the gate fixture)
from imagestag_plugins.executors.batch import BatchPipelineExecutor
from imagestag_plugins.filters.faults import FailOn

from imagestag_core import ImagestagError, PipelineError, get_executor
from imagestag_core.executor import available_cpus


def batch_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("imagestag-batch-")]


# -- workers and OpenCV --------------------------------------------------------------------


@pytest.mark.timeout(30)
def test_num_workers_starts_that_many_threads_and_shows_in_metrics() -> None:
    with BatchPipelineExecutor([FailOn()], num_workers=3) as ex:
        ex.process_all(frames(6))
        assert len(batch_threads()) == 3
        metrics = ex.get_metrics()
    assert metrics.workers == 3
    assert [s.workers for s in metrics.stages] == [3]
    assert batch_threads() == []


def test_default_worker_count_is_the_cpus_this_process_may_use() -> None:
    assert BatchPipelineExecutor([FailOn()]).num_workers == available_cpus()


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True])
def test_invalid_num_workers_is_rejected(bad: object) -> None:
    with pytest.raises(ImagestagError, match="num_workers"):
        BatchPipelineExecutor([FailOn()], num_workers=bad)  # type: ignore[arg-type]


def test_invalid_queue_size_is_rejected() -> None:
    with pytest.raises(ImagestagError, match="queue_size"):
        BatchPipelineExecutor([FailOn()], queue_size=0)


def test_unknown_option_suggests_the_right_one() -> None:
    with pytest.raises(ImagestagError, match="did you mean 'num_workers'"):
        BatchPipelineExecutor([FailOn()], num_worker=2)


@pytest.mark.timeout(30)
def test_opencv_threads_are_set_while_running_and_restored_after_close() -> None:
    before = cv2.getNumThreads()
    cv2.setNumThreads(7)
    try:
        ex = BatchPipelineExecutor([FailOn()], num_workers=2)
        ex.submit(frames(1)[0])
        expected = max(1, available_cpus() // 2)
        assert cv2.getNumThreads() == expected
        assert ex.get_metrics().opencv_threads == expected
        ex.close()
        assert cv2.getNumThreads() == 7
        assert ex.get_metrics().opencv_threads == expected
    finally:
        cv2.setNumThreads(before)


def test_seed_import_path_and_alias_give_the_batch_executor() -> None:
    from imagestag_core.filters import BatchPipelineExecutor as Seed

    assert Seed is BatchPipelineExecutor
    with get_executor("data_parallel", [FailOn()], num_workers=1) as ex:
        assert isinstance(ex, BatchPipelineExecutor)


# -- stop, cancel and failures with frames held in the workers ------------------------------


@pytest.mark.timeout(60)
def test_stop_cancel_drops_queued_frames_and_lets_frames_in_workers_finish(gate) -> None:
    opened, entered = gate("cancel")
    ex = BatchPipelineExecutor([Gate(gate="cancel")], num_workers=2, queue_size=10)
    for img in frames(8):
        ex.submit(img)
    assert entered.acquire(timeout=20) and entered.acquire(timeout=20)
    stopper = threading.Thread(target=ex.stop, kwargs={"cancel": True})
    stopper.start()
    wait_until(lambda: ex.get_metrics().frames_cancelled == 6)
    opened.set()
    stopper.join(20)
    assert not stopper.is_alive()
    assert [r.metadata["frame"] for r in ex.results()] == [0, 1]
    metrics = ex.get_metrics()
    assert (metrics.frames_completed, metrics.frames_cancelled) == (2, 6)
    ex.close()


@pytest.mark.timeout(60)
def test_a_failure_under_raise_cancels_queued_frames_at_once(gate) -> None:
    start_open, start_entered = gate("start")
    rest_open, rest_entered = gate("rest")
    pipeline = [Gate(gate="start", frames=(0,)), Gate(gate="rest", frames=(1,)),
                FailOn(frames=(0,))]
    ex = BatchPipelineExecutor(pipeline, num_workers=2, queue_size=20)
    for img in frames(12):
        ex.submit(img)
    assert start_entered.acquire(timeout=20) and rest_entered.acquire(timeout=20)
    start_open.set()
    # frame 1 is still held in a worker, yet the failure is reported and the queue emptied
    with pytest.raises(PipelineError) as caught:
        ex.get_result(timeout=20)
    assert caught.value.seq == 0
    assert ex.get_metrics().frames_cancelled == 10
    rest_open.set()
    ex.close()
    metrics = ex.get_metrics()
    assert (metrics.frames_failed, metrics.frames_cancelled) == (1, 10)


@pytest.mark.timeout(60)
def test_stop_releases_a_submit_blocked_on_a_full_queue(gate) -> None:
    opened, entered = gate("full")
    ex = BatchPipelineExecutor([Gate(gate="full")], num_workers=1, queue_size=1)
    ex.submit(frames(1)[0])
    assert entered.acquire(timeout=20)
    ex.submit(frames(2)[1])  # fills the queue
    errors: list[BaseException] = []

    def blocked_submit() -> None:
        try:
            ex.submit(frames(3)[2])
        except BaseException as exc:
            errors.append(exc)

    producer = threading.Thread(target=blocked_submit)
    producer.start()
    wait_until(lambda: ex.get_metrics().frames_submitted == 3)
    stopper = threading.Thread(target=ex.stop)
    stopper.start()
    producer.join(20)
    assert not producer.is_alive()
    assert len(errors) == 1 and isinstance(errors[0], RuntimeError)
    opened.set()
    stopper.join(20)
    assert [r.metadata["frame"] for r in ex.results()] == [0, 1]
    assert ex.get_metrics().frames_submitted == 2
    ex.close()
