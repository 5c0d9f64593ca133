"""The ``dask`` executor on a real 2-worker LocalCluster (loopback only)."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest
from dask_filters import BASE_EXCEPTIONS, FailOn, Invert, Jitter, RaiseBaseOn
from dask_fixtures import dask_client, make  # noqa: F401  (pytest fixtures)
from imagestag_core import (
    Filter,
    FilterPipeline,
    FrameError,
    Image,
    ImagestagError,
    PipelineError,
    get_executor,
)
from imagestag_core.executor import Executor
from imagestag_core.plugins import get_executor_class, get_filter, get_plugin_manager

from imagestag_dask import DaskPipelineExecutor, WorkerSetupError, loopback_cluster_options

pytestmark = pytest.mark.timeout(90)


def _pixels(results: list[Any]) -> list[bytes]:
    return [r.get_pixels().tobytes() for r in results]


def _pipeline() -> FilterPipeline:
    return FilterPipeline([get_filter("resize")(0.5), Invert()])


def test_dask_is_registered_by_its_own_distribution() -> None:
    assert get_executor_class("dask") is DaskPipelineExecutor
    entry = get_plugin_manager().executors.lookup("dask")
    assert entry.distribution == "imagestag-dask"
    assert issubclass(DaskPipelineExecutor, Executor)


def test_results_equal_sequential_in_input_order(dask_client: Any, make: Any) -> None:
    frames = make(24)
    pipeline = _pipeline()
    expected = pipeline.run(frames, executor="sequential")
    with get_executor("dask", pipeline, client=dask_client) as ex:
        results = ex.process_all(frames)
    assert _pixels(results) == _pixels(expected)
    assert [r.metadata["frame"] for r in results] == list(range(24))


def test_completion_order_is_still_identified_by_seq(dask_client: Any, make: Any) -> None:
    frames = make(16)
    pipeline = FilterPipeline([Jitter(ms=30), Invert()])
    expected = pipeline.run(frames, executor="sequential")
    with DaskPipelineExecutor(pipeline, client=dask_client, preserve_order=False) as ex:
        pairs = list(ex.imap(frames, with_seq=True))
    assert sorted(seq for seq, _ in pairs) == list(range(16))
    for seq, image in pairs:
        assert image.metadata["frame"] == seq
        assert image.get_pixels().tobytes() == expected[seq].get_pixels().tobytes()


def test_submit_and_get_result_follow_the_seed_api(dask_client: Any, make: Any) -> None:
    frames = make(10)
    with DaskPipelineExecutor([Invert()], client=dask_client) as ex:
        seqs = [ex.submit(f) for f in frames]
        results = list(ex.results())
        assert ex.get_result(timeout=0.1) is None  # nothing outstanding: returns at once
    assert seqs == list(range(10))
    assert [r.metadata["frame"] for r in results] == list(range(10))


def test_filter_error_raises_pipeline_error_naming_frame_and_stage(dask_client: Any,
                                                                  make: Any) -> None:
    pipeline = FilterPipeline([Invert(), FailOn(frame=3)])
    with DaskPipelineExecutor(pipeline, client=dask_client) as ex, \
            pytest.raises(PipelineError) as info:
        ex.process_all(make(8))
    assert info.value.seq == 3
    assert info.value.stage == "1_FailOn"
    assert isinstance(info.value.__cause__, ValueError)
    assert ex.tasks_retried == 0  # a filter error is not a lost worker


def test_collect_puts_frame_error_in_place_and_skip_leaves_it_out(dask_client: Any,
                                                                 make: Any) -> None:
    pipeline = FilterPipeline([Invert(), FailOn(frame=2)])
    with DaskPipelineExecutor(pipeline, client=dask_client, on_error="collect") as ex:
        collected = ex.process_all(make(6))
    assert isinstance(collected[2], FrameError)
    assert collected[2].seq == 2 and collected[2].stage == "1_FailOn"
    assert all(isinstance(r, Image) for i, r in enumerate(collected) if i != 2)
    assert ex.get_metrics().frames_failed == 1
    with DaskPipelineExecutor(pipeline, client=dask_client, on_error="skip") as ex:
        skipped = ex.process_all(make(6))
    assert [r.metadata["frame"] for r in skipped] == [0, 1, 3, 4, 5]
    assert ex.get_metrics().frames_skipped == 1
    assert ex.tasks_retried == 0


def test_metrics_come_from_worker_timings_and_progress_counts_frames(dask_client: Any,
                                                                    make: Any) -> None:
    calls: list[tuple[int, int | None]] = []
    with DaskPipelineExecutor(_pipeline(), client=dask_client) as ex:
        ex.process_all(make(12), progress=lambda done, total: calls.append((done, total)))
    metrics = ex.get_metrics()
    assert metrics.executor == "dask"
    assert metrics.workers == 2
    assert metrics.frames_completed == 12
    assert [s.stage_name for s in metrics.stages] == ["0_Resize", "1_Invert"]
    assert all(s.frames == 12 and s.avg_time_ms > 0 for s in metrics.stages)
    assert calls[-1] == (12, 12) and len(calls) == 12


def test_filter_defined_in_a_function_travels_by_pickle(dask_client: Any, make: Any) -> None:
    class AddOne(Filter):
        name = "add_one_local"

        def apply(self, image: Image) -> Image:
            return image.derive(image.get_pixels() + np.uint8(1))

    frames = make(4)
    with DaskPipelineExecutor([AddOne()], client=dask_client) as ex:
        results = ex.process_all(frames)
    assert _pixels(results) == [(f.get_pixels() + np.uint8(1)).tobytes() for f in frames]


def test_unpicklable_unregistered_filter_fails_before_any_frame(dask_client: Any) -> None:
    class HoldsLock(Filter):
        name = "holds_lock"
        _guard = threading.Lock()  # a class defined here travels by value, lock included

        def apply(self, image: Image) -> Image:
            return image

    with pytest.raises(ImagestagError, match="pickling failed"):
        DaskPipelineExecutor([HoldsLock()], client=dask_client)


def test_stop_with_cancel_drops_queued_frames_and_accounts_for_all(dask_client: Any,
                                                                  make: Any) -> None:
    ex = DaskPipelineExecutor([Jitter(ms=40)], client=dask_client, max_in_flight=2)
    try:
        for frame in make(4):
            ex.submit(frame)
        ex.stop(cancel=True)
        delivered = list(ex.results())
        metrics = ex.get_metrics()
    finally:
        ex.close()
    assert metrics.frames_cancelled >= 1  # the local queue held frames beyond max_in_flight
    assert len(delivered) + metrics.frames_cancelled == 4
    with pytest.raises(RuntimeError):
        ex.submit(make(1)[0])


def test_a_given_client_stays_open_and_a_private_cluster_is_closed(dask_client: Any,
                                                                  make: Any) -> None:
    with DaskPipelineExecutor([Invert()], client=dask_client) as ex:
        ex.process_all(make(2))
    assert dask_client.status == "running"
    with DaskPipelineExecutor([Invert()], shared_cluster=False, num_workers=1) as own:
        assert len(own.process_all(make(2))) == 2
        client = own.client
        assert all(addr.startswith("tcp://127.0.0.1:")
                   for addr in client.scheduler_info()["workers"])
    assert client.status == "closed"


@pytest.mark.timeout(120)
def test_worker_missing_a_plugin_is_named_before_the_first_frame(make: Any) -> None:
    from distributed import Client, LocalCluster

    # this worker's plugin manager blocks the built-in "resize" plugin, as if the
    # distribution providing it were not installed there
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                      env={"IMAGESTAG_PLUGINS_BLOCK": "resize"},
                      **loopback_cluster_options()) as cluster, \
            Client(cluster, set_as_default=False) as client:
        (worker,) = client.scheduler_info()["workers"]
        ex = DaskPipelineExecutor(_pipeline(), client=client)
        with pytest.raises(WorkerSetupError) as info:
            ex.submit(make(1)[0])
        ex.close()
    message = str(info.value)
    assert worker in message
    assert "'resize'" in message and "'imagestag'" in message
    assert ex.get_metrics().frames_submitted == 0


@pytest.mark.timeout(60)
def test_base_exceptions_in_a_filter_settle_their_frames_naming_the_stage_and_workers_live(
        dask_client: Any, make: Any) -> None:
    import os

    pids = dask_client.run(os.getpid)
    frames = make(10)
    pipeline = FilterPipeline([Invert(), RaiseBaseOn()])
    with DaskPipelineExecutor(pipeline, client=dask_client, on_error="collect") as ex:
        collected = ex.process_all(frames)
    for i, result in enumerate(collected):
        kind = BASE_EXCEPTIONS.get(i)
        if kind is None:
            assert isinstance(result, Image)
            continue
        assert isinstance(result, FrameError), (i, result)
        assert result.seq == i and result.stage == "1_RaiseBaseOn"
        assert type(result.error) is kind
    with DaskPipelineExecutor(pipeline, client=dask_client, on_error="skip") as ex:
        skipped = ex.process_all(frames)
        assert ex.get_metrics().frames_skipped == 4
    assert [r.metadata["frame"] for r in skipped] == [0, 2, 4, 6, 8, 9]
    for frame, kind in BASE_EXCEPTIONS.items():
        with DaskPipelineExecutor(pipeline, client=dask_client) as ex, \
                pytest.raises(PipelineError) as info:
            ex.process_all([frames[frame]])
        assert info.value.stage == "1_RaiseBaseOn" and type(info.value.error) is kind
    # no worker died or was restarted on the way
    assert dask_client.run(os.getpid) == pids
