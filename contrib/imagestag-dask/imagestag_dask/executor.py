"""``dask``: run a pipeline on a Dask distributed cluster.

The executor keeps the whole imagestag executor contract (``process_all``,
``imap``, ``submit``/``get_result``, order, error policies, metrics, progress)
and adds :meth:`DaskPipelineExecutor.process_paths`, the files-to-files mode
in which workers read and write shared storage themselves.

Flow of a frame::

    submit -> local queue (<= max_in_flight) -> Dask task (<= max_in_flight running)
           -> worker: build the pipeline once (spec or pickle), apply the stages
           -> Outcome(value | stage + error, per-stage timings) -> deliver / fail

Which cluster: the ``client`` given, else the ``address`` given, else Dask's own
configuration (``dask.config.get("scheduler-address")``, which the
``DASK_SCHEDULER_ADDRESS`` environment variable sets), else a local cluster.
So ``DASK_SCHEDULER_ADDRESS=tcp://10.0.0.5:8786 imagestag run ... --executor
dask`` and ``--executor-option address=tcp://10.0.0.5:8786`` run on a cluster
that is already up.  A local cluster runs its workers as subprocesses that
never import the script's ``__main__`` (see :mod:`.cluster`), so a script needs
no ``if __name__ == "__main__":`` guard::

    from imagestag_core import FilterPipeline
    from imagestag_dask import DaskPipelineExecutor

    pipeline = FilterPipeline.parse("resize 0.5 | falsecolor hot | encode jpeg")
    with DaskPipelineExecutor(pipeline) as executor:
        executor.process_paths(sorted(Path("in").glob("*.jpg")), "out")
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imagestag_core import hookimpl
from imagestag_core.errors import ExecutorClosedError, FrameError, ImagestagError
from imagestag_core.executor import Executor, available_cpus
from imagestag_core.filter import Filter
from imagestag_core.image import Image
from imagestag_core.pipeline import FilterPipeline
from imagestag_core.plugins import get_codec

from .cluster import LocalClusterHandle, shared_client, start_local_cluster
from .payload import WorkerSetupError, make_payload
from .worker import Outcome, PathJob, PathResult, check_worker, run_frame, run_path_job

__all__ = ["DaskPipelineExecutor", "NoWorkersError"]

#: at most this long between two questions to the scheduler whether any worker
#: is left, while frames are with Dask: a cluster that lost every worker sends
#: no event, and its tasks wait for a worker forever
_HEALTH_CHECK_S = 0.5
#: frames whose data is larger than this go to the cluster with ``scatter``
#: instead of inside the task, which Dask warns about above 10 MB
_SCATTER_BYTES = 4 * 1024 * 1024
_RESULT_TIMEOUT = 300.0

_log = logging.getLogger("imagestag.dask")


class NoWorkersError(ImagestagError, RuntimeError):
    """The Dask cluster had no worker for ``worker_loss_timeout`` seconds while it
    held frames; each of those frames fails with this error under ``on_error``."""


@dataclass
class _Task:
    item: Image | PathJob
    attempt: int = 0
    future: Any = None


class DaskPipelineExecutor(Executor):
    """Frames processed as tasks on a Dask distributed cluster.

    Args:
        pipeline: a :class:`FilterPipeline`, a list of filters, or a spec string.
        client: a connected ``distributed.Client`` to use; the executor never
            closes it.
        address: a scheduler address (``"tcp://10.0.0.5:8786"``) to connect to;
            the executor closes the client it opened.  Without ``client`` or
            ``address``, Dask's ``scheduler-address`` setting (the
            ``DASK_SCHEDULER_ADDRESS`` environment variable, a Dask config file)
            is the address; without that too, a loopback-only local cluster of
            worker subprocesses without a dashboard is used (see ``shared_cluster``).
        max_in_flight: frames held by Dask at once (default: 2 x the cluster's
            worker threads).  As many more may wait in the executor's local
            queue, where ``stop(cancel=True)`` can still drop them; ``submit``
            blocks while that queue is full.  In-memory mode so keeps at most
            ``2 x max_in_flight`` frames on the client, whatever the batch size.
        retries: how often a frame is resubmitted after its task was lost (a
            worker died, a connection dropped).  An exception raised by a filter
            is never retried: it goes to the error policy.  Dask itself also
            reschedules the tasks of a dead worker
            (``distributed.scheduler.allowed-failures``) before reporting them lost.
        num_workers: worker processes of the local cluster (default: the CPUs
            this process may use; the name matches the other executors, so
            ``imagestag run -j N --executor dask`` works).  An existing cluster
            keeps its own workers (the option is then ignored, logged).
        threads_per_worker: threads per local worker process (default 1).
        shared_cluster: ``True`` (default): reuse one local cluster per process,
            started on first use and closed at interpreter exit or by
            :func:`imagestag_dask.close_shared_clusters`.  ``False``: start a
            cluster for this executor and close it in ``close()``.
        connect_timeout: seconds to wait for the scheduler and a first worker.
        worker_loss_timeout: seconds the cluster may have no worker at all
            while it holds frames (default 60) - time for a nanny, an adaptive
            deployment or an operator to bring workers back.  Then every frame
            still with Dask or queued fails with :class:`NoWorkersError` under
            ``on_error``, so ``get_result()`` without a timeout, ``stop()``
            and ``process_all`` never wait forever on a cluster lost for good.
        **options: the base :class:`~imagestag_core.executor.Executor` options
            (``on_error``, ``preserve_order``, ``max_pending_results``,
            ``window``, ``opencv_threads``: ``cv2.setNumThreads`` on the workers,
            default 1 per worker thread).  ``trace`` records no spans: worker
            clocks are not comparable with the client's.

    Before the first frame the executor runs a check on every worker
    (``client.run``): a worker that cannot build the pipeline, typically
    because a plugin is not installed there, raises :class:`WorkerSetupError`
    naming the worker and the plugin.
    """

    name = "dask"
    extra_options = ("client", "address", "max_in_flight", "retries", "num_workers",
                     "threads_per_worker", "shared_cluster", "connect_timeout",
                     "worker_loss_timeout")
    option_help = {
        "client": "a connected distributed.Client",
        "address": "scheduler of a running cluster, tcp://host:8786 (default: "
                   "DASK_SCHEDULER_ADDRESS, else a local cluster)",
        "num_workers": "worker processes of a local cluster (default: the CPUs)",
        "max_in_flight": "frames held by Dask at once (default 2 x worker threads)",
        "retries": "resubmissions of a frame whose task was lost (a worker died)",
        "threads_per_worker": "threads per local worker process",
        "shared_cluster": "reuse one local cluster per process (false: one per executor)",
        "connect_timeout": "seconds to wait for the scheduler and a first worker",
        "worker_loss_timeout": "seconds with no worker at all before held frames fail",
    }

    def __init__(self, pipeline: FilterPipeline | Iterable[Filter | str] | str, *,
                 client: Any = None, address: str | None = None,
                 max_in_flight: int | None = None, retries: int = 3,
                 num_workers: int | None = None, threads_per_worker: int = 1,
                 shared_cluster: bool = True, connect_timeout: float = 60.0,
                 worker_loss_timeout: float = 60.0, **options: Any) -> None:
        super().__init__(pipeline, **options)
        if client is not None and address is not None:
            raise ImagestagError("DaskPipelineExecutor takes a client or an address, not both")
        if max_in_flight is not None and max_in_flight < 1:
            raise ImagestagError(f"max_in_flight must be >= 1, got {max_in_flight!r}")
        if retries < 0:
            raise ImagestagError(f"retries must be >= 0, got {retries!r}")
        if num_workers is not None and num_workers < 1:
            raise ImagestagError(f"num_workers must be >= 1, got {num_workers!r}")
        if threads_per_worker < 1:
            raise ImagestagError(f"threads_per_worker must be >= 1, got {threads_per_worker!r}")
        if not worker_loss_timeout > 0:
            raise ImagestagError(f"worker_loss_timeout must be > 0 seconds, got "
                                 f"{worker_loss_timeout!r}")
        self.worker_loss_timeout = float(worker_loss_timeout)
        self._client_arg = client
        self._address = address
        self._max_in_flight_arg = max_in_flight
        self.retries = retries
        self._n_workers = num_workers or available_cpus()
        self._num_workers_arg = num_workers
        self._threads_per_worker = threads_per_worker
        self._shared_cluster = shared_cluster
        self._connect_timeout = connect_timeout
        # decided and pickled now, so an unpicklable local filter fails here
        self._payload = make_payload(self.pipeline, self.requested_opencv_threads or 1)
        self._id = uuid.uuid4().hex[:10]
        self._client: Any = None
        self._owned_client: Any = None
        self._owned_cluster: LocalClusterHandle | None = None
        self._nthreads: int | None = None
        self._tasks = threading.Condition(threading.Lock())
        self._queued: deque[tuple[int, Image | PathJob]] = deque()
        self._running: dict[int, _Task] = {}
        self._released = False
        self._watch_done = threading.Event()
        self._watcher: threading.Thread | None = None
        self.tasks_retried = 0

    # -- sizes ------------------------------------------------------------------------

    @property
    def num_workers(self) -> int:
        """Worker threads of the cluster (an estimate until connected)."""
        if self._nthreads is not None:
            return self._nthreads
        if self._client_arg is not None:
            try:
                return max(1, sum(self._client_arg.nthreads().values()))
            except Exception:  # a client not yet connected: fall through to the estimate
                pass
        return self._n_workers * self._threads_per_worker

    @property
    def max_in_flight(self) -> int:
        return self._max_in_flight_arg or 2 * self.num_workers

    @property
    def default_window(self) -> int:
        return self.window or 2 * self.max_in_flight

    def opencv_threads_wanted(self) -> int:
        # the client process does no pixel work; leave OpenCV's setting alone
        return self.requested_opencv_threads or 1

    @property
    def client(self) -> Any:
        """The ``distributed.Client`` in use (None before the first frame)."""
        return self._client

    # -- lifecycle ----------------------------------------------------------------------

    def start_workers(self) -> None:
        try:
            self._client = self._connect()
            self._client.wait_for_workers(1, timeout=self._connect_timeout)
            self._nthreads = max(1, sum(self._client.nthreads().values()))
            self._check_workers()
        except BaseException:
            self._close_owned()
            raise
        self._watcher = threading.Thread(target=self._watch_workers, daemon=True,
                                         name=f"imagestag-dask-watch-{self._id}")
        self._watcher.start()

    def _watch_workers(self) -> None:
        """Fail what Dask holds once the cluster has had no worker for worker_loss_timeout."""
        interval = min(_HEALTH_CHECK_S, self.worker_loss_timeout / 4)
        no_workers_since: float | None = None
        while not self._watch_done.wait(interval):
            with self._tasks:
                busy = bool(self._queued or self._running)
            if not busy:
                continue  # idle: no question to the scheduler
            if self._worker_count():
                no_workers_since = None
                continue
            now = time.monotonic()
            no_workers_since = no_workers_since or now
            if now - no_workers_since >= self.worker_loss_timeout:
                self._fail_stranded(now - no_workers_since)

    def _fail_stranded(self, waited: float) -> None:
        with self._tasks:
            stranded = [*(seq for seq, _ in self._queued), *self._running]
            futures = [t.future for t in self._running.values() if t.future is not None]
            self._queued.clear()
            self._running.clear()
            self._tasks.notify_all()
        if futures:
            with contextlib.suppress(Exception):
                self._client.cancel(futures)
        for seq in stranded:
            self.fail(seq, None, NoWorkersError(
                f"no Dask workers left: the cluster at {self._scheduler_address()} has had "
                f"none for {waited:.1f}s (waited worker_loss_timeout="
                f"{self.worker_loss_timeout:g}s); frame {seq} could not be processed. Start "
                f"workers, or raise worker_loss_timeout if they take longer to come back"))

    def _scheduler_address(self) -> str:
        try:
            return str(self._client.scheduler.address)
        except Exception:
            return "(unknown address)"

    def _connect(self) -> Any:
        if self._client_arg is not None:
            _log.info("%s: using the given Dask client", self.label)
            return self._client_arg
        address, origin = self._address, "the address option"
        if address is None:
            import dask

            address, origin = dask.config.get("scheduler-address", None), \
                "Dask's scheduler-address setting (DASK_SCHEDULER_ADDRESS)"
        if address:
            from distributed import Client

            _log.info("%s: connecting to the Dask scheduler at %s (from %s)", self.label,
                      address, origin)
            if self._num_workers_arg is not None:
                _log.warning("num_workers=%d is ignored: the cluster at %s has its own "
                             "workers", self._num_workers_arg, address)
            self._owned_client = Client(address, set_as_default=False,
                                        timeout=self._connect_timeout)
            return self._owned_client
        _log.info("%s: starting a local Dask cluster of %d worker processes (%s)", self.label,
                  self._n_workers, "shared" if self._shared_cluster else "own")
        if self._shared_cluster:
            return shared_client(self._n_workers, self._threads_per_worker)
        self._owned_cluster = start_local_cluster(self._n_workers, self._threads_per_worker)
        return self._owned_cluster.client

    def _check_workers(self) -> None:
        """Every worker builds the pipeline before any frame is sent."""
        replies = self._client.run(check_worker, self._payload, on_error="return")
        problems = []
        for worker, reply in sorted(replies.items()):
            if isinstance(reply, BaseException):
                problems.append(f"Dask worker {worker!r} failed the pipeline check: "
                                f"{type(reply).__name__}: {reply} (is imagestag-dask installed "
                                f"there?)")
            elif reply is not None:
                problems.append(str(reply))
        if problems:
            first = next(iter(sorted(replies)))
            raise WorkerSetupError("; ".join(problems), worker=first)

    def shutdown_workers(self, cancel: bool) -> None:
        # frames already with Dask finish (``cancel`` only drops the local queue,
        # which the base has done before calling us); woken by every settled
        # frame, and the watcher fails them all once the cluster has had no
        # worker for worker_loss_timeout seconds, so this wait ends
        with self._tasks:
            while self._queued or self._running:
                self._tasks.wait(_HEALTH_CHECK_S)
        self._stop_watcher()

    def _stop_watcher(self) -> None:
        self._watch_done.set()
        if self._watcher is not None:
            self.join_workers([self._watcher], timeout=_HEALTH_CHECK_S + 30)
            self._watcher = None

    def _worker_count(self) -> int:
        try:
            return len(self._client.scheduler_info(n_workers=-1).get("workers", {}))
        except TypeError:  # older distributed without n_workers
            return len(self._client.scheduler_info().get("workers", {}))
        except Exception:
            return 0

    def release_resources(self) -> None:
        self._stop_watcher()
        self._released = True
        with self._tasks:
            futures = [t.future for t in self._running.values() if t.future is not None]
            self._running.clear()
            self._queued.clear()
            self._tasks.notify_all()
        if futures and self._client is not None:
            # the client may already be gone, and then there is nothing left to free
            with contextlib.suppress(Exception):
                self._client.cancel(futures)
        self._close_owned()

    def _close_owned(self) -> None:
        if self._owned_client is not None:
            self._owned_client.close()
            self._owned_client = None
        if self._owned_cluster is not None:
            self._owned_cluster.close()
            self._owned_cluster = None

    # -- submitting ---------------------------------------------------------------------

    def to_frame(self, item: Any) -> Any:
        if isinstance(item, PathJob):
            return item
        return super().to_frame(item)

    def enqueue(self, seq: int, image: Image | PathJob, timeout: float | None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._tasks:
            # woken when a frame moves on to Dask (_dispatch), is cancelled or released
            while len(self._queued) >= self.max_in_flight and not self._released:
                if deadline is None:
                    self._tasks.wait()
                    continue
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._tasks.wait(remaining)
            if self._released:
                raise ExecutorClosedError(f"{self.label} is closed")
            self._queued.append((seq, image))
        self._dispatch()
        return True

    def cancel_queued(self) -> list[int]:
        with self._tasks:
            seqs = [seq for seq, _ in self._queued]
            self._queued.clear()
            self._tasks.notify_all()
        return seqs

    def _dispatch(self) -> None:
        """Move frames from the local queue to Dask while fewer than max_in_flight run."""
        while True:
            with self._tasks:
                if (not self._queued or len(self._running) >= self.max_in_flight
                        or self._released):
                    return
                seq, item = self._queued.popleft()
                task = _Task(item)
                self._running[seq] = task
                self._tasks.notify_all()
            self._submit_task(seq, task)

    def _submit_task(self, seq: int, task: _Task) -> None:
        item = task.item
        function = run_path_job if isinstance(item, PathJob) else run_frame
        try:
            data: Any = item
            if isinstance(item, Image) and _size_of(item) > _SCATTER_BYTES:
                data = self._client.scatter(item, hash=False)
            future = self._client.submit(
                function, self._payload, data, pure=False,
                key=f"imagestag-{self._id}-{seq}-{task.attempt}")
        except Exception as exc:
            self._settle(seq, task, None, exc)
            return
        with self._tasks:
            task.future = future
        future.add_done_callback(functools.partial(self._on_done, seq, task))

    # -- results ----------------------------------------------------------------------------

    def _on_done(self, seq: int, task: _Task, future: Any) -> None:
        """Runs in Dask's callback thread when a task finished, failed or was cancelled."""
        with self._tasks:
            if self._running.get(seq) is not task or task.future is not future:
                return  # released, or superseded by a retry
        try:
            outcome = future.result(timeout=_RESULT_TIMEOUT)
        except BaseException as exc:
            # whatever a lost task re-raises here, the frame must be settled
            self._settle(seq, task, None, exc)
        else:
            self._settle(seq, task, outcome, None)
        finally:
            future.release()

    def _settle(self, seq: int, task: _Task, outcome: Outcome | None,
                lost: BaseException | None) -> None:
        if outcome is None:
            assert lost is not None
            if task.attempt < self.retries and not self._released:
                task.attempt += 1
                _log.warning("%s: frame %d was lost on the Dask cluster (%s: %s); retry %d "
                             "of %d", self.label, seq, type(lost).__name__, lost,
                             task.attempt, self.retries)
                with self._tasks:
                    self.tasks_retried += 1
                self._submit_task(seq, task)
                return
            error: BaseException = ImagestagError(
                f"frame {seq} was lost on the Dask cluster {task.attempt + 1} times "
                f"(retries={self.retries}): {type(lost).__name__}: {lost}")
            error.__cause__ = lost
            self.fail(seq, None, error)
        else:
            for index, seconds in enumerate(outcome.timings):
                self.stage_stats[index].record(seconds)
            if outcome.ok:
                self.deliver(seq, outcome.value)
            else:
                assert outcome.error is not None
                self.fail(seq, outcome.stage, outcome.error)
        with self._tasks:
            self._running.pop(seq, None)
            self._tasks.notify_all()
        self._dispatch()

    # -- path mode ---------------------------------------------------------------------------

    def process_paths(self, inputs: Iterable[str | Path], output_dir: str | Path, *,
                      format: str | None = None, show_progress: bool = False,
                      progress: Any = None) -> list[PathResult | FrameError]:
        """Files to files: workers read ``inputs`` and write into ``output_dir``.

        Only paths and a small :class:`PathResult` per frame travel; pixels
        never reach the client, so the directories must be storage every worker
        sees at the same paths (a local disk for a local cluster, a network
        file system otherwise).  Each output is written to a temporary name and
        renamed, so a reader never sees half a file.

        Args:
            inputs: image files; relative paths are resolved on the client.
            output_dir: created if missing; outputs are named after the input's
                stem.  Two inputs with the same stem raise before any work starts.
            format: a codec name (``"png"``) to encode the results with.  Without
                it an encoded result (a pipeline ending in ``encode``) is written
                as it is, with its codec's extension, and pixels are saved in the
                input's format.
            show_progress / progress: as for :meth:`process_all`.

        Returns:
            One entry per input, in input order (``on_error="skip"`` leaves failed
            ones out; ``"collect"`` puts a :class:`FrameError` in their place).
        """
        out_dir = Path(output_dir).resolve()
        out_dir.mkdir(parents=True, exist_ok=True)
        suffix = None if format is None else get_codec(format).extensions[0]
        jobs: list[PathJob] = []
        stems: dict[str, str] = {}
        for raw in inputs:
            path = Path(raw).resolve()
            stem = str(out_dir / path.stem)
            if stem in stems:
                raise ImagestagError(
                    f"process_paths: {stems[stem]!r} and {str(path)!r} would both be written "
                    f"as {stem!r}.*; give them distinct names or separate output directories")
            stems[stem] = str(path)
            jobs.append(PathJob(str(path), stem, suffix))
        return self.process_all(jobs, show_progress=show_progress, progress=progress)


def _size_of(image: Image) -> int:
    if image.is_decoded:
        return image.nbytes
    return len(image.encoded or b"")


@hookimpl
def register_executors(register: Any) -> None:
    register(DaskPipelineExecutor)

