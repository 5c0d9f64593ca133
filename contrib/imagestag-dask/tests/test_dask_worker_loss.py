"""A worker process dies mid-batch: every frame still comes back, equal to sequential's."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from dask_filters import Invert, Jitter
from dask_fixtures import make  # noqa: F401  (pytest fixtures)
from imagestag_core import FilterPipeline, FrameError, PipelineError

from imagestag_dask import DaskPipelineExecutor, NoWorkersError, loopback_cluster_options

KILL_AFTER = 5


@pytest.fixture(params=["dask_reschedules", "executor_retries"])
def cluster(request: pytest.FixtureRequest) -> Iterator[tuple[Any, str]]:
    """Its own cluster (the test kills one of its workers).

    ``dask_reschedules``: Dask's default, the scheduler moves a dead worker's
    tasks elsewhere by itself.  ``executor_retries``: with
    ``allowed-failures=0`` the scheduler reports such a task as lost
    (``KilledWorker``) at once, so the executor's own ``retries`` must resubmit it.
    """
    import dask
    from distributed import Client, LocalCluster

    allowed = 0 if request.param == "executor_retries" else 3
    with dask.config.set({"distributed.scheduler.allowed-failures": allowed}), \
            LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                         **loopback_cluster_options()) as cluster, \
            Client(cluster, set_as_default=False) as client:
        yield client, request.param


@pytest.mark.timeout(120)
def test_all_frames_arrive_after_a_worker_process_is_killed(
        cluster: tuple[Any, str], make: Any, caplog: pytest.LogCaptureFixture) -> None:
    fresh_client, mode = cluster
    caplog.set_level(logging.INFO, logger="imagestag")
    frames = make(30)
    pipeline = FilterPipeline([Jitter(ms=40), Invert()])
    expected = pipeline.run(frames, executor="sequential")
    pids: dict[str, int] = fresh_client.run(os.getpid)
    victim_pid = -1
    busy_on_victim: list[str] = []

    results = []
    with DaskPipelineExecutor(pipeline, client=fresh_client, max_in_flight=4) as ex:
        for result in ex.imap(frames):
            results.append(result)
            if len(results) == KILL_AFTER:
                # the event: K results are in; kill a worker that holds frames
                # right now (which one does is up to the scheduler)
                busy = {addr: list(tasks) for addr, tasks in
                        fresh_client.processing().items() if tasks}
                if busy:
                    victim_address = sorted(busy)[0]
                    busy_on_victim = busy[victim_address]
                    victim_pid = pids[victim_address]
                    os.kill(victim_pid, signal.SIGKILL)
        metrics = ex.get_metrics()
        tasks_retried = ex.tasks_retried

    assert busy_on_victim, "the killed worker held no task, so nothing was lost"
    assert len(results) == 30
    assert [r.metadata["frame"] for r in results] == list(range(30))
    assert [r.get_pixels().tobytes() for r in results] == \
        [e.get_pixels().tobytes() for e in expected]
    assert metrics.frames_completed == 30 and metrics.frames_failed == 0
    assert victim_pid not in fresh_client.run(os.getpid).values()
    retried = [r for r in caplog.records if r.name == "imagestag.dask"
               and "was lost on the Dask cluster" in r.getMessage()]
    assert len(retried) == tasks_retried
    if mode == "executor_retries":
        assert tasks_retried >= 1
        assert retried[0].levelno == logging.WARNING and "retry 1 of 3" in retried[0].getMessage()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("on_error", ["raise", "collect"])
def test_get_result_fails_clearly_when_every_worker_is_gone_for_good(make: Any,
                                                                   on_error: str) -> None:
    from distributed import Client, LocalCluster

    frames = make(3)
    # an in-process cluster (no network at all): its closed workers never come back
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                      dashboard_address=None) as cluster, \
            Client(cluster, set_as_default=False) as client, \
            DaskPipelineExecutor([Invert()], client=client, worker_loss_timeout=1.0,
                                 on_error=on_error) as ex:  # type: ignore[arg-type]
        assert ex.process_all(frames[:1])[0] is not None  # started, with a worker
        cluster.scale(0)  # every worker closed, and none is started again
        # the scheduler removes the worker on its own time: wait (bounded) until it has
        deadline = time.monotonic() + 20
        while client.nthreads() and time.monotonic() < deadline:
            threading.Event().wait(0.05)
        assert client.nthreads() == {}
        seq = ex.submit(frames[1])
        if on_error == "raise":
            with pytest.raises(PipelineError) as caught:
                ex.get_result()  # no timeout: it must not wait forever
            error = caught.value.error
        else:
            result = ex.get_result()
            assert isinstance(result, FrameError) and result.seq == seq
            error = result.error
        assert isinstance(error, NoWorkersError)
        assert "no Dask workers left" in str(error) and "worker_loss_timeout=1s" in str(error)
        assert ex.get_metrics().frames_failed == 1

