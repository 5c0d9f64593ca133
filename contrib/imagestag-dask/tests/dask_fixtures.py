"""Fixtures of these tests: a loopback LocalCluster of 2 worker processes, frames.

Imported by each test module rather than living in a ``conftest.py``: the main
suite's tests do ``from conftest import frames``, and a second ``conftest``
module on ``sys.path`` would shadow theirs when both suites run in one pytest
invocation.  One cluster per test module.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from imagestag_core import Image

from imagestag_dask import loopback_cluster_options


@pytest.fixture(scope="module")
def dask_client() -> Iterator[Any]:
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           **loopback_cluster_options())
    client = Client(cluster, set_as_default=False)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def make_frames(n: int, size: tuple[int, int] = (64, 48)) -> list[Image]:
    """``n`` distinct small RGB frames, each with ``metadata["frame"] = index``."""
    w, h = size
    return [Image(np.random.default_rng(i).integers(0, 256, (h, w, 3), dtype=np.uint8),
                  metadata={"frame": i}) for i in range(n)]


@pytest.fixture
def make() -> Any:
    return make_frames
