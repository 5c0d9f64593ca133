"""Local Dask clusters started by the executor when it is given no client or address.

Two lifetimes (``DaskPipelineExecutor(shared_cluster=...)``):

``shared_cluster=True`` (default)
    one ``LocalCluster`` per process and configuration, started lazily by the
    first executor that needs it and reused by every later one; it is closed
    at interpreter exit or by :func:`close_shared_clusters`.  Starting worker
    processes costs about a second, and a program (or a test suite) that runs
    many short jobs should not pay that per executor.
``shared_cluster=False``
    the executor starts its own cluster and closes it in ``close()``.

Either way the cluster listens on 127.0.0.1 only and serves no dashboard.
Worker processes are started with the ``spawn`` method, which re-imports the
main module: scripts need the ``if __name__ == "__main__":`` guard.
"""

from __future__ import annotations

import atexit
import contextlib
import threading
from dataclasses import dataclass
from typing import Any

__all__ = [
    "LocalClusterHandle",
    "close_shared_clusters",
    "loopback_cluster_options",
    "shared_client",
    "start_local_cluster",
]


@dataclass
class LocalClusterHandle:
    """A started ``LocalCluster`` and the client connected to it."""

    cluster: Any
    client: Any

    def close(self) -> None:
        try:
            self.client.close()
        finally:
            self.cluster.close()


def loopback_cluster_options() -> dict[str, Any]:
    """``LocalCluster`` keyword arguments for a cluster reachable from this machine only.

    Every server binds 127.0.0.1 on a free port.  ``dashboard_address=None``
    turns the dashboard off, but the scheduler still serves its small HTTP API
    (health, metrics) and would try the fixed port 8787 for it; a random
    loopback port avoids clashing with another cluster on the machine.
    """
    return {"host": "127.0.0.1", "scheduler_port": 0, "dashboard_address": None,
            "scheduler_kwargs": {"dashboard_address": "127.0.0.1:0"}}


def start_local_cluster(n_workers: int, threads_per_worker: int) -> LocalClusterHandle:
    """Start a loopback-only ``LocalCluster`` of worker processes and connect to it."""
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=n_workers, threads_per_worker=threads_per_worker,
                           processes=True, **loopback_cluster_options())
    try:
        client = Client(cluster, set_as_default=False)
    except BaseException:
        cluster.close()
        raise
    return LocalClusterHandle(cluster, client)


_shared: dict[tuple[int, int], LocalClusterHandle] = {}
_shared_lock = threading.Lock()
_atexit_registered = False


def shared_client(n_workers: int, threads_per_worker: int) -> Any:
    """The client of this process's shared cluster for the configuration, started lazily."""
    global _atexit_registered
    key = (n_workers, threads_per_worker)
    with _shared_lock:
        handle = _shared.get(key)
        if handle is not None and handle.client.status == "running":
            return handle.client
        if handle is not None:
            _close_quietly(handle)
        handle = start_local_cluster(n_workers, threads_per_worker)
        _shared[key] = handle
        if not _atexit_registered:
            atexit.register(close_shared_clusters)
            _atexit_registered = True
        return handle.client


def close_shared_clusters() -> None:
    """Close every shared cluster this process started (also run at interpreter exit)."""
    with _shared_lock:
        handles = list(_shared.values())
        _shared.clear()
    for handle in handles:
        _close_quietly(handle)


def _close_quietly(handle: LocalClusterHandle) -> None:
    # closing at exit must not mask the program's own outcome
    with contextlib.suppress(Exception):
        handle.close()
