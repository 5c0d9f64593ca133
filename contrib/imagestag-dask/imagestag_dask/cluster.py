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
The scheduler runs in this process; each worker is a ``python -m dask spec``
subprocess (a nanny and its worker), started like ``distributed``'s
``SubprocessCluster`` with this process's ``sys.path``.  Unlike
``LocalCluster(processes=True)``, whose nannies use ``multiprocessing``'s
spawn, nothing re-imports the main module: a script without an
``if __name__ == "__main__":`` guard runs once.  On Windows, where
``distributed`` has no subprocess workers, a ``LocalCluster`` is used (and
scripts need the guard).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

#: seconds a local worker waits for a scheduler that went away (its parent died)
_DEATH_TIMEOUT_S = 60
#: seconds the local workers have to start and connect
_START_TIMEOUT_S = 120

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
        # workers (nannies included) leave gracefully first; a stream still open
        # when the scheduler (in this process) shuts down is cancelled, which
        # distributed logs as an ERROR with a traceback: expected here, so muted
        with _muted("distributed"):
            try:
                with contextlib.suppress(Exception):
                    self.client.retire_workers(close_workers=True)
                self.client.close()
            finally:
                self.cluster.close()


@contextlib.contextmanager
def _muted(logger_name: str) -> Iterator[None]:
    """Raise ``logger_name``'s level to CRITICAL for the block (restored after)."""
    logger = logging.getLogger(logger_name)
    previous = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(previous)


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
    """Start a loopback-only cluster of worker processes and connect to it."""
    from distributed import Client, LocalCluster

    if sys.platform == "win32":
        cluster = LocalCluster(n_workers=n_workers, threads_per_worker=threads_per_worker,
                               processes=True, **loopback_cluster_options())
    else:
        cluster = _subprocess_cluster(n_workers, threads_per_worker)
    try:
        client = Client(cluster, set_as_default=False)
    except BaseException:
        cluster.close()
        raise
    try:
        # subprocess workers connect on their own time; the executor sizes itself
        # from the workers it sees, so they must all be there
        client.wait_for_workers(n_workers, timeout=_START_TIMEOUT_S)
    except BaseException:
        LocalClusterHandle(cluster, client).close()
        raise
    return LocalClusterHandle(cluster, client)


def _subprocess_cluster(n_workers: int, threads_per_worker: int) -> Any:
    """A scheduler here and ``n_workers`` ``dask spec`` worker subprocesses, loopback only."""
    import asyncio  # here, not at the top: the plugin is loaded by every ``imagestag`` start

    from distributed import Scheduler, SpecCluster
    from distributed.deploy.subprocess import SubprocessWorker

    class ScriptlessWorker(SubprocessWorker):
        """``SubprocessWorker`` with this process's ``sys.path`` and quiet logs."""

        async def _start(self) -> None:
            env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
                   "DASK_LOGGING__DISTRIBUTED": "error"}
            spec = {"cls": self.worker_class, "opts": self.worker_kwargs}
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "dask", "spec", self.scheduler, "--spec",
                json.dumps(spec), env=env, stdin=asyncio.subprocess.DEVNULL)

    scheduler = {"cls": Scheduler, "options": {
        "host": "127.0.0.1", "port": 0, "dashboard": False,
        "dashboard_address": "127.0.0.1:0"}}
    # the nanny's and the worker's own HTTP servers (health, metrics) on loopback too;
    # the nanny gives up on a scheduler (this process) gone for death_timeout seconds
    options = {"nthreads": threads_per_worker, "host": "127.0.0.1",
               "dashboard": False, "dashboard_address": "127.0.0.1:0",
               "death_timeout": _DEATH_TIMEOUT_S}
    worker = {"cls": ScriptlessWorker,
              "options": {"worker_class": "distributed.Nanny", "worker_kwargs": options}}
    return SpecCluster(workers={i: worker for i in range(n_workers)}, scheduler=scheduler,
                       worker=worker, silence_logs=logging.WARN,
                       name="imagestag-local")


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
