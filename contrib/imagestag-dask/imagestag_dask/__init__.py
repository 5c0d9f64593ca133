"""imagestag on Dask distributed: the ``dask`` executor.

Installed next to imagestag, the executor registers itself through the
``imagestag`` entry-point group, so ``get_executor("dask", pipeline)``,
``pipeline.run(images, executor="dask")`` and ``imagestag run --executor dask``
find it by name.  See :class:`DaskPipelineExecutor`.
"""

from __future__ import annotations

from .cluster import close_shared_clusters, loopback_cluster_options
from .executor import DaskPipelineExecutor, NoWorkersError
from .payload import WorkerSetupError
from .worker import PathResult, RemoteFilterError

__version__ = "0.1.0"

__all__ = [
    "DaskPipelineExecutor",
    "NoWorkersError",
    "PathResult",
    "RemoteFilterError",
    "WorkerSetupError",
    "close_shared_clusters",
    "loopback_cluster_options",
]
