"""``submit_future`` and ``aimap`` on the ``dask`` executor (a real 2-worker LocalCluster)."""

from __future__ import annotations

import asyncio
from concurrent.futures import as_completed
from typing import Any

import pytest
from dask_fixtures import dask_client, make  # noqa: F401  (pytest fixtures)
from imagestag_core import FilterPipeline, PipelineError
from imagestag_core.errors import InjectedFault
from imagestag_core.plugins import get_filter

from imagestag_dask import DaskPipelineExecutor

pytestmark = pytest.mark.timeout(90)


def test_futures_resolve_and_a_failure_is_its_own(dask_client: Any, make: Any) -> None:
    pipeline = FilterPipeline([get_filter("fail_on")(frames=(3,)), get_filter("resize")(0.5)])
    with DaskPipelineExecutor(pipeline, client=dask_client) as ex:
        futures = [ex.submit_future(image) for image in make(6)]
        finished = list(as_completed(futures, timeout=60))
        metrics = ex.get_metrics()
    assert len(finished) == 6
    error = futures[3].exception()
    assert isinstance(error, PipelineError) and error.seq == 3
    assert isinstance(error.__cause__, InjectedFault)
    assert [f.result().metadata["frame"] for i, f in enumerate(futures) if i != 3] == [
        0, 1, 2, 4, 5]
    assert (metrics.frames_completed, metrics.frames_failed) == (5, 1)


def test_aimap_yields_in_input_order(dask_client: Any, make: Any) -> None:
    async def main(ex: DaskPipelineExecutor) -> list[Any]:
        return [r async for r in ex.aimap(make(8), window=4)]

    with DaskPipelineExecutor("resize 0.5", client=dask_client) as ex:
        results = asyncio.run(main(ex))
    assert [r.metadata["frame"] for r in results] == list(range(8))
    assert all(r.size == (32, 24) for r in results)
