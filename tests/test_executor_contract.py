"""The executor contract, run against every registered executor.

Parametrized over ``list_executors()``, so the built-ins, the process pool and
any third-party executor installed in the environment all get the same checks
(CPython's ``ExecutorMixin`` pattern).  The tests only use behaviour every
executor shares: they never reach into threads, so an executor that runs frames
in other processes passes or fails them on the same terms.  Stage timing is
varied with the deterministic ``delay`` fault filter, failures come from
``fail_on``.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from conftest import frames
from imagestag_plugins.filters.faults import Delay, FailOn, InjectedFault

from imagestag_core import (
    BackpressureError,
    Executor,
    FrameError,
    Image,
    ImagestagError,
    PipelineError,
    get_executor,
    list_executors,
)
from imagestag_core.filter import Filter
from imagestag_core.plugins import get_executor_class

EXECUTORS = [entry.name for entry in list_executors()]


# -- small pure filters, picklable by reference so a process pool can run them ------------


class Invert(Filter):
    """255 - pixels: changes every byte, so a skipped stage shows."""

    name = "contract_invert"

    def apply(self, image: Image) -> Image:
        return image.derive(255 - image.get_pixels())


class AddFrameIndex(Filter):
    """Adds the frame's index to every pixel (mod 256): frames stay distinguishable."""

    name = "contract_add_index"
    key: str = "frame"

    def apply(self, image: Image) -> Image:
        value = np.uint8(int(image.metadata[self.key]) % 256)
        return image.derive(image.get_pixels() + value)


# -- helpers --------------------------------------------------------------------------------


def make(name: str, pipeline: Any, **options: Any) -> Executor:
    """The executor ``name``; two workers where it takes a worker count (fast on 2 cores)."""
    cls = get_executor_class(name)
    if "num_workers" in cls.extra_options and "num_workers" not in options \
            and name not in ("streaming", "stage_parallel"):
        options["num_workers"] = 2
    return get_executor(name, pipeline, **options)


def accepts(name: str, option: str) -> bool:
    return option in get_executor_class(name).extra_options


def reference(pipeline: list[Filter], images: list[Image]) -> list[np.ndarray]:
    with get_executor("sequential", pipeline) as ex:
        return [r.get_pixels() for r in ex.process_all(images)]


def pipeline_with_jitter() -> list[Filter]:
    return [Invert(), Delay(ms=0.2, jitter_ms=4), AddFrameIndex(), Delay(ms=0.1, jitter_ms=3)]


def frame_ids(results: list[Any]) -> list[int]:
    return [r.metadata["frame"] for r in results]


@pytest.fixture(params=EXECUTORS, ids=EXECUTORS)
def executor_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# -- results and order --------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_process_all_matches_sequential_in_input_order(executor_name: str) -> None:
    images = frames(24)
    pipeline = pipeline_with_jitter()
    expected = reference(pipeline, images)
    with make(executor_name, pipeline) as ex:
        results = ex.process_all(images)
    assert frame_ids(results) == list(range(24))
    for got, want in zip(results, expected):
        np.testing.assert_array_equal(got.get_pixels(), want)


@pytest.mark.timeout(60)
def test_seed_pipeline_of_built_in_filters_matches_sequential(executor_name: str) -> None:
    images = frames(12, size=(96, 64))
    pipeline = "resize 0.5 | falsecolor hot | encode jpeg"
    with get_executor("sequential", pipeline) as ex:
        expected = [r.encoded for r in ex.process_all(images)]
    with make(executor_name, pipeline) as ex:
        results = ex.process_all(images)
    assert [r.encoded for r in results] == expected
    assert all(r.encoded_format == "jpeg" for r in results)


@pytest.mark.timeout(60)
def test_imap_consumes_a_generator_and_matches_sequential(executor_name: str) -> None:
    images = frames(20)
    pipeline = [Invert(), AddFrameIndex()]
    expected = reference(pipeline, images)
    with make(executor_name, pipeline) as ex:
        results = list(ex.imap(img for img in images))
    assert len(results) == 20
    for got, want in zip(results, expected):
        np.testing.assert_array_equal(got.get_pixels(), want)


@pytest.mark.timeout(60)
def test_preserve_order_delivers_in_submission_order_under_jittered_stage_times(
        executor_name: str) -> None:
    with make(executor_name, pipeline_with_jitter(), preserve_order=True) as ex:
        seqs = [ex.submit(img) for img in frames(30)]
        got = list(ex.results(with_seq=True))
    assert seqs == list(range(30))
    assert [seq for seq, _ in got] == list(range(30))
    assert [img.metadata["frame"] for _, img in got] == list(range(30))


@pytest.mark.timeout(60)
def test_completion_order_delivers_every_frame_once_with_its_seq(executor_name: str) -> None:
    images = frames(30)
    expected = reference(pipeline_with_jitter(), images)
    with make(executor_name, pipeline_with_jitter(), preserve_order=False) as ex:
        for img in images:
            ex.submit(img)
        got = list(ex.results(with_seq=True))
        again = ex.process_all(frames(10))
    assert sorted(seq for seq, _ in got) == list(range(30))
    for seq, img in got:
        assert img.metadata["frame"] == seq
        np.testing.assert_array_equal(img.get_pixels(), expected[seq])
    # process_all returns input order whatever the delivery order
    assert frame_ids(again) == list(range(10))


# -- error policies, a failure in each stage ----------------------------------------------------


def failing_pipeline(stage: int, frame: int) -> list[Filter]:
    stages: list[Filter] = [Invert(), Delay(ms=0.5, jitter_ms=2), AddFrameIndex()]
    stages[stage] = FailOn(frames=(frame,))
    return stages


@pytest.mark.timeout(60)
@pytest.mark.parametrize("stage", [0, 1, 2])
def test_raise_policy_names_frame_stage_and_filter_with_cause_chained(
        executor_name: str, stage: int) -> None:
    pipeline = failing_pipeline(stage, frame=7)
    with make(executor_name, pipeline, on_error="raise") as ex, \
            pytest.raises(PipelineError) as caught:
        ex.process_all(frames(20))
    error = caught.value
    assert error.seq == 7
    assert error.stage == ex.stage_names[stage]
    assert error.filter_name == FailOn.name
    assert isinstance(error.__cause__, InjectedFault)
    assert error.__cause__ is error.error
    # the executor stays failed: later calls raise the same error
    with pytest.raises(PipelineError):
        ex.get_result()
    with pytest.raises(PipelineError):
        ex.submit(frames(1)[0])
    metrics = ex.get_metrics()
    assert metrics.frames_failed == 1
    # no half-processed frame was handed out as a result
    assert metrics.frames_completed + metrics.frames_failed + metrics.frames_cancelled \
        <= metrics.frames_submitted


@pytest.mark.timeout(60)
@pytest.mark.parametrize("stage", [0, 1, 2])
def test_skip_policy_leaves_the_failed_frame_out_and_counts_it(
        executor_name: str, stage: int) -> None:
    images = frames(20)
    pipeline = failing_pipeline(stage, frame=7)
    with make(executor_name, pipeline, on_error="skip") as ex:
        results = ex.process_all(images)
    assert frame_ids(results) == [i for i in range(20) if i != 7]
    expected = reference([f for f in pipeline if not isinstance(f, FailOn)], images)
    for img in results:
        np.testing.assert_array_equal(img.get_pixels(), expected[img.metadata["frame"]])
    metrics = ex.get_metrics()
    assert (metrics.frames_failed, metrics.frames_skipped, metrics.frames_completed) == (1, 1, 19)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("stage", [0, 1, 2])
def test_collect_policy_puts_a_frame_error_in_the_failed_frames_place(
        executor_name: str, stage: int) -> None:
    with make(executor_name, failing_pipeline(stage, frame=7), on_error="collect") as ex:
        results = ex.process_all(frames(20))
    assert len(results) == 20
    failed = results[7]
    assert isinstance(failed, FrameError)
    assert not failed
    assert (failed.seq, failed.stage, failed.filter_name) == (7, ex.stage_names[stage],
                                                              FailOn.name)
    assert isinstance(failed.error, InjectedFault)
    assert all(isinstance(r, Image) for i, r in enumerate(results) if i != 7)
    assert ex.get_metrics().frames_failed == 1


# -- stop, cancel, close ------------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_stop_lets_submitted_frames_finish_and_keeps_them_readable(executor_name: str) -> None:
    ex = make(executor_name, [Delay(ms=20), Invert()])
    for img in frames(8):
        ex.submit(img)
    ex.stop()
    with pytest.raises(RuntimeError):
        ex.submit(frames(1)[0])
    with pytest.raises(RuntimeError):
        ex.process_all(frames(2))
    assert frame_ids(list(ex.results())) == list(range(8))
    assert ex.get_result() is None
    ex.stop()
    ex.close()
    ex.close()
    metrics = ex.get_metrics()
    assert (metrics.frames_submitted, metrics.frames_completed, metrics.frames_cancelled) \
        == (8, 8, 0)


@pytest.mark.timeout(60)
def test_stop_cancel_drops_unstarted_frames_counts_them_and_finishes_the_rest(
        executor_name: str) -> None:
    images = frames(12)
    expected = reference([Delay(ms=40), Invert()], images)
    ex = make(executor_name, [Delay(ms=40), Invert()])
    for img in images:
        ex.submit(img)
    ex.stop(cancel=True)
    read = list(ex.results())
    assert ex.get_result() is None
    ex.close()
    metrics = ex.get_metrics()
    # every frame is accounted for exactly once: finished and readable, or cancelled
    assert len(read) == metrics.frames_completed
    assert metrics.frames_completed + metrics.frames_cancelled == 12
    ids = frame_ids(read)
    assert ids == sorted(ids)
    for img in read:
        np.testing.assert_array_equal(img.get_pixels(), expected[img.metadata["frame"]])
    with pytest.raises(RuntimeError):
        ex.submit(images[0])


@pytest.mark.timeout(60)
def test_leaving_with_block_normally_drains_and_results_stay_readable(
        executor_name: str) -> None:
    with make(executor_name, [Delay(ms=5), Invert()]) as ex:
        for img in frames(10):
            ex.submit(img)
    assert frame_ids(list(ex.results())) == list(range(10))
    with pytest.raises(RuntimeError):
        ex.submit(frames(1)[0])


@pytest.mark.timeout(60)
def test_leaving_with_block_by_exception_cancels_and_accounts_for_every_frame(
        executor_name: str) -> None:
    with pytest.raises(KeyError), make(executor_name, [Delay(ms=30)]) as ex:
        for img in frames(10):
            ex.submit(img)
        raise KeyError("consumer failed")
    metrics = ex.get_metrics()
    assert metrics.frames_completed + metrics.frames_cancelled == 10
    assert len(list(ex.results())) == metrics.frames_completed


# -- backpressure and the seed's patterns --------------------------------------------------------


@pytest.mark.timeout(60)
def test_320_frames_at_queue_size_2_through_process_batch(executor_name: str) -> None:
    options = {"queue_size": 2} if accepts(executor_name, "queue_size") else {}
    with make(executor_name, [Invert(), AddFrameIndex()], **options) as ex:
        results = ex.process_batch(frames(320, size=(16, 12)))
    assert frame_ids(results) == list(range(320))


@pytest.mark.timeout(60)
def test_500_submits_before_any_read(executor_name: str) -> None:
    options = {"queue_size": 2} if accepts(executor_name, "queue_size") else {}
    with make(executor_name, [Invert()], **options) as ex:
        seqs = [ex.submit(img) for img in frames(500, size=(16, 12))]
        results = list(ex.results(count=500))
        assert ex.get_metrics().pending_results == 0
    assert seqs == list(range(500))
    assert frame_ids(results) == list(range(500))


@pytest.mark.timeout(30)
def test_get_result_returns_none_at_once_when_nothing_is_outstanding(
        executor_name: str) -> None:
    with make(executor_name, [Invert()]) as ex:
        assert ex.get_result() is None
        ex.submit(frames(1)[0])
        assert ex.get_result(timeout=30) is not None
        assert ex.get_result() is None
        assert list(ex.results()) == []


@pytest.mark.timeout(30)
def test_video_loop_submit_then_get_result_with_short_timeout(executor_name: str) -> None:
    shown = []
    with make(executor_name, [Invert()]) as ex:
        for img in frames(40):
            ex.submit(img)
            result = ex.get_result(timeout=0.1)
            if result:
                shown.append(result.metadata["frame"])
        shown.extend(frame_ids(list(ex.results())))
    assert shown == list(range(40))


@pytest.mark.timeout(30)
def test_results_with_count_raises_when_fewer_can_arrive(executor_name: str) -> None:
    with make(executor_name, [Invert()]) as ex:
        for img in frames(3):
            ex.submit(img)
        got = []
        with pytest.raises(ImagestagError, match="only 3 results"):
            for result in ex.results(count=5):
                got.append(result)
    assert frame_ids(got) == [0, 1, 2]


@pytest.mark.timeout(30)
def test_max_pending_results_raises_backpressure_instead_of_blocking(
        executor_name: str) -> None:
    with make(executor_name, [Invert()], max_pending_results=3) as ex:
        for img in frames(3):
            ex.submit(img)
        with pytest.raises(BackpressureError):
            ex.submit(frames(1)[0], timeout=0.2)
        assert ex.get_metrics().frames_submitted == 3
        assert ex.get_result(timeout=30) is not None
        ex.submit(frames(1)[0], timeout=30)
        assert len(list(ex.results())) == 3


@pytest.mark.timeout(60)
@pytest.mark.parametrize("limit", [1, 2])
def test_imap_and_process_all_keep_in_flight_within_max_pending_results(
        executor_name: str, limit: int) -> None:
    # imap reads its own results, so a limit below its window sizes the window
    # instead of making submit raise BackpressureError
    images = frames(12, size=(16, 12))
    with make(executor_name, [Invert(), AddFrameIndex()], max_pending_results=limit,
              window=8) as ex:
        assert frame_ids(ex.process_all(images)) == list(range(12))
        assert frame_ids(list(ex.imap(img for img in images))) == list(range(12))
        assert ex.get_metrics().frames_completed == 24


@pytest.mark.timeout(60)
def test_imap_waits_for_room_left_by_frames_submitted_outside_it(executor_name: str) -> None:
    with make(executor_name, [Invert()], max_pending_results=3, preserve_order=False) as ex:
        ex.submit(frames(1)[0])
        # two slots are left for imap; the frame submitted outside stays unread
        got = list(ex.imap(frames(8)[1:], with_seq=True))
        assert sorted(seq for seq, _ in got) == list(range(1, 8))
        assert frame_ids(list(ex.results())) == [0]


@pytest.mark.timeout(30)
def test_submit_after_stop_or_close_raises_runtime_error(executor_name: str) -> None:
    ex = make(executor_name, [Invert()])
    ex.stop()
    with pytest.raises(RuntimeError):
        ex.submit(frames(1)[0])
    ex.close()
    with pytest.raises(RuntimeError):
        ex.process_all(frames(1))
    with pytest.raises(RuntimeError):
        ex.start()


# -- metrics --------------------------------------------------------------------------------------


@pytest.mark.timeout(30)
def test_metrics_count_frames_and_describe_every_stage_after_close(executor_name: str) -> None:
    with make(executor_name, [Invert(), Delay(ms=1)]) as ex:
        ex.process_all(frames(12))
    metrics = ex.get_metrics()
    assert metrics.frames_submitted == metrics.frames_completed == 12
    assert (metrics.frames_failed, metrics.frames_skipped, metrics.frames_cancelled,
            metrics.frames_dropped, metrics.pending_results) == (0, 0, 0, 0, 0)
    assert metrics.fps > 0 and metrics.active_time_s > 0
    assert metrics.workers >= 1
    assert isinstance(metrics.opencv_threads, int) and metrics.opencv_threads >= 1
    assert [s.stage_name for s in metrics.stages] == ["0_Invert", "1_Delay"]
    for stage in metrics.stages:
        assert stage.frames == 12
        assert stage.workers >= 1
        assert 0.0 <= stage.busy_fraction <= 1.0
    assert metrics.stages[1].avg_time_ms >= 1.0
    assert metrics.stages[1].p95_ms >= metrics.stages[1].p50_ms > 0
    assert metrics.to_dict()["frames_completed"] == 12
    assert executor_name in ex.summary() or type(ex).name in ex.summary()


@pytest.mark.timeout(30)
def test_pending_results_counts_finished_unread_frames(executor_name: str) -> None:
    with make(executor_name, [Invert()]) as ex:
        for img in frames(5):
            ex.submit(img)
        first = ex.get_result(timeout=30)
        assert first is not None
        ex.stop()
        assert ex.get_metrics().pending_results == 4
        assert len(list(ex.results())) == 4
        assert ex.get_metrics().pending_results == 0


# -- leaks ----------------------------------------------------------------------------------------


def _shm_entries() -> set[str]:
    # only segments this process could own: other test runs on the machine
    # create their own (sem.mp-*) concurrently
    try:
        return {e for e in os.listdir("/dev/shm") if str(os.getpid()) in e}
    except OSError:
        return set()


def _cycle(name: str) -> None:
    with make(name, [Invert(), Delay(ms=1)]) as ex:
        ex.process_all(frames(6))
    ex = make(name, [Invert()])
    for img in frames(4):
        ex.submit(img)
    ex.stop(cancel=True)
    ex.close()


@pytest.mark.timeout(120)
def test_repeated_open_run_close_leaks_no_threads_processes_or_shared_memory(
        executor_name: str) -> None:
    _cycle(executor_name)  # lets library singletons (resource tracker...) start once
    threads = {t.ident for t in threading.enumerate()}
    children = {p.pid for p in multiprocessing.active_children()}
    shm = _shm_entries()
    for _ in range(4):
        _cycle(executor_name)
    leaked_threads = [t.name for t in threading.enumerate() if t.ident not in threads]
    assert leaked_threads == []
    assert {p.pid for p in multiprocessing.active_children()} <= children
    assert _shm_entries() - shm == set()


# -- the soak (run on demand: pytest -m slow) --------------------------------------------------


def _endless(n: int) -> Iterator[Image]:
    base = np.arange(16 * 12 * 3, dtype=np.uint8).reshape(12, 16, 3)
    for i in range(n):
        yield Image(base, metadata={"frame": i})


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_soak_10000_frames_in_order_with_faults_skipped(executor_name: str,
                                                        request: pytest.FixtureRequest) -> None:
    if "slow" not in (request.config.getoption("markexpr") or ""):
        pytest.skip("the soak runs on demand: pytest -m slow")
    failing = tuple(range(0, 10_000, 997))
    pipeline = [Invert(), FailOn(frames=failing), AddFrameIndex()]
    with make(executor_name, pipeline, on_error="skip") as ex:
        count = 0
        last = -1
        for result in ex.imap(_endless(10_000)):
            frame = result.metadata["frame"]
            assert frame > last and frame not in failing
            last = frame
            count += 1
    assert count == 10_000 - len(failing)
    metrics = ex.get_metrics()
    assert metrics.frames_skipped == len(failing)
    assert metrics.frames_completed == count
