"""``process``: a pool of worker processes, for filters that hold the GIL.

Threads cannot run pure-Python filters in parallel; processes can, if moving
the frames does not eat the gain (pickling a 60 MB frame through a pipe caps
throughput near 5 fps).  So:

* ``num_workers`` processes are started once and reused for every frame;
  never with ``fork`` (the parent has threads).  The default starts each as a
  fresh ``python -c`` running a bootstrap of our own, connected back over an
  inherited socket: unlike ``multiprocessing``'s spawn it does not import the
  parent's ``__main__``, so a script without an ``if __name__ == "__main__":``
  guard (or a notebook) runs once, as written.  The worker gets the parent's
  ``sys.path``.  ``start_method="forkserver"`` (and Windows, which cannot
  pass a socket to a child) uses ``multiprocessing``, which does re-import
  ``__main__``.  Each worker rebuilds the pipeline at start-up and reports
  failure before any frame is sent; ``stop()``/``close()`` from another
  thread during start-up ends it with :class:`ExecutorClosedError`.
* The pipeline travels by spec (``filter.to_dict()``), resolved in the
  worker's own registry.  A filter the worker cannot resolve that way (not
  registered, or registered locally from a notebook or a test) travels by
  pickle, or cloudpickle where pickle cannot; when neither works the
  constructor raises.
* One parent thread per worker pulls frames from the shared bounded input
  queue, copies the pixels into that worker's shared-memory input segment (one
  ``memcpy``), sends a small message, and waits for the reply *or* the
  worker's death.  Results are copied out of the worker's output segment
  before it is reused.  Small arrays go through the pipe, and so do encoded
  frames not decoded yet (the worker decodes them).  An encoded frame the
  parent has already decoded (``image.is_decoded``, e.g. ``Image(path)``
  after ``get_pixels()``) goes as its pixels, never as bytes to decode again.
* The parent creates and unlinks every segment; workers attach without
  registering them with the resource tracker, so nothing is unlinked twice or
  left in ``/dev/shm`` - after ``close()``, after a worker was killed, or
  after Ctrl-C (workers ignore SIGINT; the parent closes them from
  ``__exit__``, and a ``weakref.finalize`` covers interpreter exit).
* A worker that dies fails the frame it held (:class:`WorkerDiedError`,
  delivered through the error policy) and is restarted for the next frame.

Stage timings are measured in the workers and recorded in the parent's
metrics; with ``trace=True`` so are the spans (``perf_counter`` is
system-wide on Linux, so worker and parent times share one clock).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
import traceback
import warnings
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from imagestag_core import hookimpl
from imagestag_core.codec import ImageInfo
from imagestag_core.errors import ExecutorClosedError, ImagestagError
from imagestag_core.executor import Outcome
from imagestag_core.filter import Filter
from imagestag_core.image import Image
from imagestag_core.lazy_import import lazy_module
from imagestag_core.pipeline import FilterPipeline
from imagestag_core.pixel_format import PixelFormat
from imagestag_core.plugins import LOCAL_PROVIDER, get_plugin_manager

from ._pool import QueuePoolExecutor

if TYPE_CHECKING:
    import multiprocessing
    from multiprocessing import connection, shared_memory
    from multiprocessing.connection import Connection
    from multiprocessing.process import BaseProcess
    from multiprocessing.shared_memory import SharedMemory
else:  # imported on first use: every ``imagestag`` start loads this plugin, few use it
    multiprocessing = lazy_module("multiprocessing", globals())
    connection = lazy_module("multiprocessing.connection", globals())
    shared_memory = lazy_module("multiprocessing.shared_memory", globals())

__all__ = ["SEGMENT_PREFIX", "ProcessPipelineExecutor", "WorkerDiedError"]

#: every shared-memory segment this executor creates is named
#: ``<prefix><parent pid>_<token>_<n>`` (``/dev/shm/imagestag_1234_...`` on Linux)
SEGMENT_PREFIX = "imagestag_"
# arrays up to this size are cheaper to pickle through the pipe than to stage
_PIPE_BYTES = 64 * 1024
_START_TIMEOUT = 120.0
_JOIN_TIMEOUT = 5.0

_log = logging.getLogger("imagestag.executor.process")
_START_METHODS = ("spawn", "forkserver")


class WorkerDiedError(ImagestagError, RuntimeError):
    """A worker process ended while it held a frame (killed, crashed, out of memory).

    The frame fails with this error under the executor's ``on_error`` policy;
    the worker is restarted for the next frame.  ``worker`` is its slot index,
    ``pid`` its process id, ``exitcode`` as in :attr:`multiprocessing.Process.exitcode`
    (negative: killed by that signal).
    """

    def __init__(self, message: str, *, worker: int, pid: int | None,
                 exitcode: int | None) -> None:
        super().__init__(message)
        self.worker = worker
        self.pid = pid
        self.exitcode = exitcode


# -- how stages travel --------------------------------------------------------------------------

# (stage name, spec dict or None, "module:qualname", pickled filter or None)
_StagePayload = tuple[str, dict[str, Any] | None, str, bytes | None]



def _inline_image(message: tuple[Any, ...], metadata: dict[str, Any]) -> Image | None:
    """The image a pipe message carries itself (encoded bytes or a small array), else None.

    Both directions use the same two forms; large pixel arrays travel through
    shared memory instead and are rebuilt by the receiving side.
    """
    kind = message[0]
    if kind == "object":  # an Image subclass (a tee's Renditions), pickled as itself
        return message[1]
    if kind == "encoded":
        _, data, codec, (width, height, fmt, dtype), *reduce = message
        info = ImageInfo(width, height, PixelFormat(fmt), np.dtype(dtype))
        image = Image.from_encoded(data, codec, info=info, metadata=metadata)
        return image.with_decode_reduction(reduce[0]) if reduce else image
    if kind == "array":
        return Image(message[1], message[2], metadata=metadata)
    return None

def _identity(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _pack_stage(stage_name: str, filt: Filter) -> _StagePayload:
    """Decide how one filter reaches the workers; raise when it cannot."""
    cls = type(filt)
    registry = get_plugin_manager().filters
    name = registry.name_of(cls)
    entry = registry.lookup(name) if name is not None else None
    spec = filt.to_dict() if entry is not None and entry.plugin != LOCAL_PROVIDER else None
    errors: list[str] = []
    pickled: bytes | None = None
    # plain pickle sends a module-level class by reference; __main__ is not
    # importable in a worker (a notebook has no file), so that goes by value
    if cls.__module__ != "__main__":
        try:
            pickled = pickle.dumps(filt, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            errors.append(f"pickle: {type(exc).__name__}: {exc}")
    if pickled is None and spec is None:
        import cloudpickle

        try:
            pickled = cloudpickle.dumps(filt, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            errors.append(f"cloudpickle: {type(exc).__name__}: {exc}")
    if pickled is None and spec is None:
        raise ImagestagError(
            f"the process executor cannot send stage {stage_name} ({filt!r}, filter "
            f"{cls.name!r}) to its worker processes: it is not registered by a plugin, and "
            f"{'; '.join(errors)}. Register it through a plugin's register_filters hook, or "
            f"keep unpicklable objects (locks, open files, clients) out of the class and its "
            f"parameters, or use the 'batch' executor")
    return (stage_name, spec, _identity(cls), pickled)


def _unpack_stage(payload: _StagePayload) -> Filter:
    """Rebuild one filter in a worker (its registry first, then the pickle)."""
    from imagestag_core.plugins import get_filter

    stage_name, spec, ident, pickled = payload
    problems: list[str] = []
    if spec is not None:
        try:
            cls = get_filter(spec["filter"])
        except ImagestagError as exc:
            problems.append(f"registry: {exc}")
        else:
            # a worker's registry can differ from the parent's (a test's own
            # plugin manager); only the very same class is good enough
            if _identity(cls) == ident:
                return Filter.from_dict(spec)
            problems.append(f"registry: {spec['filter']!r} is {_identity(cls)} in the worker, "
                            f"not {ident}")
    if pickled is not None:
        try:
            filt = pickle.loads(pickled)
        except Exception as exc:
            problems.append(f"unpickling: {type(exc).__name__}: {exc}")
        else:
            if isinstance(filt, Filter):
                return filt
            problems.append(f"unpickling gave a {type(filt).__name__}, not a Filter")
    raise ImagestagError(f"stage {stage_name} ({ident}) cannot be rebuilt in the worker "
                         f"process: {'; '.join(problems)}")


# -- the worker process ---------------------------------------------------------------------------


def _attach(name: str) -> SharedMemory:
    """Map a parent-owned segment without registering it with the resource tracker.

    The parent unlinks it; a registration here would make the tracker unlink
    (or warn about) it a second time when this worker exits.
    """
    if sys.version_info >= (3, 13):
        return shared_memory.SharedMemory(name=name, track=False)  # type: ignore[call-arg,unused-ignore]
    from multiprocessing import resource_tracker

    original = resource_tracker.register
    resource_tracker.register = lambda *args, **kwargs: None
    try:
        return shared_memory.SharedMemory(name=name)
    finally:
        resource_tracker.register = original


def _portable(exc: BaseException, where: str) -> BaseException:
    """``exc`` with the worker's traceback attached, guaranteed to survive pickling."""
    remote = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    note = f"raised in {where}:\n{remote.rstrip()}"
    try:
        candidate: BaseException = pickle.loads(pickle.dumps(exc))
    except Exception:
        candidate = ImagestagError(f"{type(exc).__name__}: {exc} (the original exception "
                                   f"could not be pickled)")
    _add_note(candidate, note)
    return candidate


def _add_note(exc: BaseException, note: str) -> None:
    # BaseException.add_note is Python 3.11+; on 3.10 the note is dropped
    if hasattr(exc, "add_note"):
        exc.add_note(note)


class _Worker:
    """The loop inside a worker process: one frame message in, one reply out."""

    def __init__(self, conn: Connection, index: int, filters: Sequence[Filter]) -> None:
        self.conn = conn
        self.index = index
        self.filters = filters
        # built once: prepare_source may look at the first stage for every frame
        self.pipeline = FilterPipeline(list(filters))
        self.where = f"process worker {index} (pid {os.getpid()})"
        self.segments: dict[str, SharedMemory] = {}  # role ("in"/"out") -> mapping

    def run(self) -> None:
        try:
            while True:
                try:
                    message = self.conn.recv()
                except (EOFError, OSError):
                    return  # the parent is gone
                if message[0] == "exit":
                    return
                seq = message[1]
                try:
                    reply = self._frame(*message[1:])
                except BaseException as exc:
                    # outside any stage: building the input image, an unknown codec...
                    # Not even a KeyboardInterrupt ends the worker: it ignores SIGINT, so
                    # one raised here came from code running a frame, not from the user
                    reply = ("error", seq, None, _portable(exc, self.where), [])
                self._send(reply, seq)
        finally:
            for role in list(self.segments):
                self._detach(role)

    def _send(self, reply: tuple[Any, ...], seq: int) -> None:
        try:
            self.conn.send(reply)
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            # Connection.send pickles before writing, so the pipe is still clean
            error = ImagestagError(f"the result of frame {seq} cannot be sent back from "
                                   f"{self.where}: {type(exc).__name__}: {exc}; keep "
                                   f"metadata picklable")
            self.conn.send(("error", seq, None, error, []))

    def _segment(self, role: str, name: str) -> SharedMemory:
        current = self.segments.get(role)
        if current is not None and current.name == name.lstrip("/"):
            return current
        if current is not None:
            self._detach(role)
        self.segments[role] = segment = _attach(name)
        return segment

    def _detach(self, role: str) -> None:
        segment = self.segments.pop(role)
        # a filter may keep a view of its input; the mapping then goes with that view
        with contextlib.suppress(BufferError):
            segment.close()

    def _frame(self, seq: int, metadata: dict[str, Any], source: tuple[Any, ...],
               out_name: str | None) -> tuple[Any, ...]:
        received = self._input(source, metadata)
        try:
            # shrink-on-load, exactly as the in-process executors do before stage 0
            image = self.pipeline.prepare_source(received)
        except BaseException as exc:
            return ("error", seq, None, _portable(exc, self.where), [])
        timings: list[tuple[int, float, float]] = []
        for index, filt in enumerate(self.filters):
            t0 = time.perf_counter()
            try:
                out = filt.apply(image)
            except BaseException as exc:
                # any BaseException (SystemExit, GeneratorExit, KeyboardInterrupt, a
                # custom one) fails this frame in this stage; the worker lives on
                return ("error", seq, index, _portable(exc, self.where), timings)
            t1 = time.perf_counter()
            if not isinstance(out, Image):
                error = ImagestagError(f"{type(filt).__name__}.apply returned "
                                       f"{type(out).__name__}, not an Image")
                return ("error", seq, index, error, timings)
            timings.append((index, t0, t1))
            image = out
        try:
            result = self._output(seq, image, out_name, received)
        except BaseException as exc:
            return ("error", seq, None, _portable(exc, self.where), timings)
        return ("ok", seq, timings, result, dict(image.metadata))

    def _input(self, source: tuple[Any, ...], metadata: dict[str, Any]) -> Image:
        inline = _inline_image(source, metadata)
        if inline is not None:
            return inline
        _, name, shape, dtype, fmt = source
        view = np.ndarray(shape, np.dtype(dtype), buffer=self._segment("in", name).buf)
        return Image(view, fmt, metadata=metadata)

    def _output(self, seq: int, image: Image, out_name: str | None,
                received: Image) -> tuple[Any, ...]:
        if type(image) is not Image:  # a subclass keeps what it adds (renditions) by pickle
            return ("object", image)
        if image.encoded is not None:
            info = (image.width, image.height, image.pixel_format.value, image.dtype.str)
            return ("encoded", image.encoded, image.encoded_format, info)
        pixels = image.get_pixels()
        fmt = image.pixel_format.value
        arrived_as_pixels = received.encoded is None and received.decode_reduction == 1
        if arrived_as_pixels and received.is_decoded and \
                image.pixel_format is received.pixel_format and \
                _same_array(pixels, received.get_pixels()):
            # the pipeline passed the pixels through (fault filters, metadata-only
            # or no-op stages): the parent still holds them, nothing travels back.
            # Pixels decoded here (the parent sent bytes) always travel back.
            return ("same", fmt)
        if pixels.nbytes <= _PIPE_BYTES:
            return ("array", pixels, fmt)
        if out_name is None or self._segment("out", out_name).size < pixels.nbytes:
            # ask the parent (which owns every segment) for a bigger one
            self.conn.send(("grow", seq, pixels.nbytes))
            reply = self.conn.recv()
            out_name = reply[1]
            assert out_name is not None
        segment = self._segment("out", out_name)
        view = np.ndarray(pixels.shape, pixels.dtype, buffer=segment.buf)
        np.copyto(view, pixels)
        del view
        return ("shm", pixels.shape, pixels.dtype.str, fmt)


def _same_array(a: np.ndarray, b: np.ndarray) -> bool:
    return (a.__array_interface__["data"][0] == b.__array_interface__["data"][0]
            and a.shape == b.shape and a.strides == b.strides and a.dtype == b.dtype)


#: what ``python -c`` runs in a new worker process: no ``__main__`` of the parent's is
#: imported (spawn would re-run an unguarded script).  Ctrl-C reaches the whole
#: process group, and the parent decides how to stop, so SIGINT is ignored first;
#: then the parent's ``sys.path`` arrives, so whatever the parent imports (a test
#: module, a script's sibling) the worker imports from the same places.
_BOOTSTRAP = (
    "import signal, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); "
    "from multiprocessing.connection import Connection; "
    "conn = Connection(int(sys.argv[1])); sys.path[:] = conn.recv(); "
    "from imagestag_plugins.executors.process import _worker_main; _worker_main(conn)")


def _worker_main(conn: Connection) -> None:
    """Entry point of a worker process: the pipeline arrives, then frames."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        message = conn.recv()
    except (EOFError, OSError):
        return  # the parent is gone
    if message[0] != "init":
        return  # the executor was closed while this worker started
    _, index, stages, opencv_threads = message
    from imagestag_core.plugins import PluginWarning

    # the parent already reported broken plugins; one warning per worker is noise
    warnings.simplefilter("ignore", PluginWarning)
    try:
        import cv2

        cv2.setNumThreads(opencv_threads)
        filters = [_unpack_stage(payload) for payload in stages]
    except BaseException as exc:
        conn.send(("failed", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", os.getpid()))
    _Worker(conn, index, filters).run()


# -- the parent side ------------------------------------------------------------------------------


class _Subprocess:
    """A worker started as ``python -c _BOOTSTRAP FD``: the parts of
    :class:`multiprocessing.Process` the pool uses, over :class:`subprocess.Popen`.

    The child gets its end of a socket pair as file descriptor ``FD`` (nothing
    else is inherited) and, unlike a spawned ``multiprocessing`` child, never
    imports the parent's ``__main__``.  ``sentinel`` is a pidfd where Linux
    has them; elsewhere the end of the pipe alone tells that the child died.
    """

    def __init__(self, popen: subprocess.Popen[bytes]) -> None:
        self._popen = popen
        self.pid: int = popen.pid
        self.sentinel: int | None = None
        with contextlib.suppress(AttributeError, OSError):
            self.sentinel = os.pidfd_open(popen.pid)

    @classmethod
    def start(cls, index: int) -> tuple[_Subprocess, Connection]:
        parent_end, child_end = multiprocessing.Pipe(duplex=True)
        try:
            popen = subprocess.Popen(
                [sys.executable, "-c", _BOOTSTRAP, str(child_end.fileno())],
                pass_fds=(child_end.fileno(),), stdin=subprocess.DEVNULL)
        except BaseException:
            parent_end.close()
            raise
        finally:
            child_end.close()
        # fits the pipe's buffer: the child reads it before importing anything of ours
        parent_end.send(list(sys.path))
        return cls(popen), parent_end

    @property
    def exitcode(self) -> int | None:
        return self._popen.poll()

    def is_alive(self) -> bool:
        return self._popen.poll() is None

    def join(self, timeout: float | None = None) -> None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._popen.wait(timeout)

    def terminate(self) -> None:
        self._popen.terminate()

    def kill(self) -> None:
        self._popen.kill()

    def close(self) -> None:
        if self.sentinel is not None:
            os.close(self.sentinel)
            self.sentinel = None


class _Slot:
    """One worker process and the segments the parent keeps for it.

    Only its dispatcher thread touches it while the executor runs; the pool's
    cleanup takes over once the dispatchers are gone (or at interpreter exit).
    """

    def __init__(self, index: int) -> None:
        self.index = index
        self.process: BaseProcess | _Subprocess | None = None
        self.conn: Connection | None = None
        self.pid: int | None = None
        self.segments: dict[str, SharedMemory] = {}
        #: launched, not yet ready: the starting thread owns the process, and
        #: the pool's close() only kills it (the starting thread reaps it)
        self.starting = False

    def waitables(self) -> list[Any]:
        """What becomes ready when the worker replies or dies."""
        assert self.conn is not None and self.process is not None
        sentinel = self.process.sentinel
        return [self.conn] if sentinel is None else [self.conn, sentinel]

    def interrupt(self) -> None:
        """Kill a worker that is still starting (it holds no frame)."""
        if self.process is not None:
            with contextlib.suppress(OSError, ValueError):
                self.process.kill()

    def stop_process(self) -> None:
        self.request_exit()
        self.reap()

    def request_exit(self) -> None:
        """Ask the worker to exit after its current frame (no wait)."""
        if self.conn is not None:
            with contextlib.suppress(OSError, ValueError):
                self.conn.send(("exit",))

    def reap(self) -> None:
        """Wait for the worker to exit (terminate, then kill, if it will not)."""
        process, conn = self.process, self.conn
        self.process = self.conn = None
        if process is not None:
            process.join(_JOIN_TIMEOUT)
            if process.is_alive():
                process.terminate()
                process.join(_JOIN_TIMEOUT)
            if process.is_alive():
                process.kill()
                process.join(_JOIN_TIMEOUT)
            if not process.is_alive():
                process.close()
        if conn is not None:
            conn.close()

    def release_segments(self) -> None:
        for role in list(self.segments):
            _unlink(self.segments.pop(role))


def _unlink(segment: SharedMemory) -> None:
    # a view still alive keeps the mapping; unlinking still frees the name
    with contextlib.suppress(BufferError):
        segment.close()
    with contextlib.suppress(FileNotFoundError):
        segment.unlink()


class _Pool:
    """Everything that must not outlive the executor; what the finalizer cleans."""

    def __init__(self) -> None:
        self.slots: list[_Slot] = []
        self.lock = threading.Lock()
        self.closed = False
        self.token = os.urandom(4).hex()
        self.counter = itertools.count()

    def segment_name(self) -> str:
        return f"{SEGMENT_PREFIX}{os.getpid()}_{self.token}_{next(self.counter)}"

    def close(self) -> None:
        with self.lock:
            self.closed = True
            # every worker exits in parallel: ask all, then wait for each.  A
            # worker still starting is killed; the thread starting it sees that
            # and raises ExecutorClosedError after reaping it itself
            for slot in self.slots:
                if slot.starting:
                    slot.interrupt()
                else:
                    slot.request_exit()
            for slot in self.slots:
                if not slot.starting:
                    slot.reap()
                # the parent's own: a starting worker has not attached them yet
                slot.release_segments()


class ProcessPipelineExecutor(QueuePoolExecutor):
    """A pool of worker processes, each running the whole pipeline on one frame.

    Args:
        pipeline: a :class:`FilterPipeline`, a list of filters, or a spec string.
        num_workers: worker processes (default: the CPUs this process may use,
            see :func:`~imagestag_core.executor.available_cpus`).
        start_method: ``"spawn"`` (default: a fresh interpreter per worker,
            started by our own bootstrap, which never imports ``__main__``) or
            ``"forkserver"`` (``multiprocessing``'s, which does); ``"fork"`` is
            refused because the parent runs threads.
        queue_size: capacity of the shared input queue (default: 2 per worker);
            queued frames are references, not copies.
        **options: the base :class:`~imagestag_core.executor.Executor` options
            (``on_error``, ``preserve_order``, ``max_pending_results``,
            ``window``, ``trace``, ``opencv_threads``).  ``opencv_threads`` is
            applied inside each worker (default 1 on a full pool).

    The constructor checks that every filter can reach the workers (registry
    spec, pickle or cloudpickle) and raises :class:`ImagestagError` otherwise;
    the workers are started on the first ``submit`` (or ``start()``), about
    0.2-0.4 s for a pool, and a filter they cannot rebuild fails the start.
    A worker that dies fails its frame with :class:`WorkerDiedError` and is
    restarted.  Metrics: per-stage times are measured in the workers; the
    input queue's high-water mark and submit's wait are reported on stage 0.
    """

    name = "process"
    extra_options = ("num_workers", "start_method", "queue_size")
    option_help = {"num_workers": "worker processes (default: the CPUs this process may use)",
                   "start_method": "spawn (default) or forkserver",
                   "queue_size": "capacity of the shared input queue (default 2 per worker)"}

    def __init__(self, pipeline: FilterPipeline | list[Filter | str] | str,
                 num_workers: int | None = None, start_method: str | None = None,
                 queue_size: int | None = None, **options: Any) -> None:
        super().__init__(pipeline, num_workers, queue_size, queue_per_worker=2, **options)
        if start_method is None:
            start_method = "spawn"
        if start_method not in _START_METHODS:
            raise ImagestagError(
                f"start_method must be 'spawn' or 'forkserver', got {start_method!r}; 'fork' "
                f"would copy the parent's threads' locks in whatever state they are in")
        self.start_method = start_method
        self._payload = [_pack_stage(stage_name, filt)
                         for stage_name, filt in zip(self.stage_names, self.filters)]
        # "spawn" is our own bootstrap where file descriptors can be passed to a
        # child (POSIX); elsewhere, and for "forkserver", multiprocessing starts them
        self._context: Any = None if start_method == "spawn" and os.name == "posix" else \
            multiprocessing.get_context(start_method)
        self._pool = _Pool()
        # the safety net for an executor never closed (Ctrl-C outside a with
        # block, a notebook kernel shutting down); it holds the pool, not self
        self._finalizer = weakref.finalize(self, _Pool.close, self._pool)

    @property
    def worker_pids(self) -> list[int]:
        """Process ids of the live workers (for monitoring; empty before start)."""
        return [slot.pid for slot in self._pool.slots
                if slot.pid is not None and slot.process is not None]

    # -- lifecycle -----------------------------------------------------------------------------

    def start_workers(self) -> None:
        slots = [_Slot(index) for index in range(self._num_workers)]
        try:
            with self._pool.lock:
                if self._pool.closed:
                    raise ExecutorClosedError(f"{self.label} was stopped while it started")
                self._pool.slots = slots
                # start every process first, then wait: the pool starts in the time of one
                for slot in slots:
                    self._launch(slot)
            for slot in slots:
                self._await_ready(slot)
        except BaseException:
            with self._pool.lock:
                # the ones not awaited yet are this thread's: the pool reaps them now
                for slot in slots:
                    slot.starting = False
            self._pool.close()
            raise
        self.start_threads("imagestag-process")

    def _launch(self, slot: _Slot) -> None:
        """Start slot's process (the pool's lock is held); ``_await_ready`` follows."""
        if self._context is None:
            process, parent_end = _Subprocess.start(slot.index)
        else:
            parent_end, child_end = self._context.Pipe(duplex=True)
            process = self._context.Process(
                target=_worker_main, name=f"imagestag-process-{slot.index}", daemon=True,
                args=(child_end,))
            try:
                process.start()
            finally:
                child_end.close()
        slot.process, slot.conn, slot.pid = process, parent_end, process.pid
        slot.starting = True

    def _await_ready(self, slot: _Slot) -> None:
        """Send the pipeline to a launched worker and wait until it is built.

        Raises :class:`ExecutorClosedError` when ``stop()``/``close()`` came
        from another thread meanwhile, else :class:`ImagestagError` saying why
        the worker could not start.
        """
        # while ``starting``, nobody else changes the slot: close() only kills the process
        conn, waitables = slot.conn, slot.waitables()
        assert conn is not None and slot.process is not None
        deadline = time.monotonic() + _START_TIMEOUT
        message: tuple[Any, ...] | None = None
        try:
            conn.send(("init", slot.index, self._payload, self.opencv_threads_in_use or 1))
            ready = connection.wait(waitables, _START_TIMEOUT)
            if conn in ready:
                message = conn.recv()
        except (EOFError, OSError):
            message = None  # it died: its exit code tells why
        with self._pool.lock:
            closed = self._pool.closed
            if not closed and message is not None and message[0] == "ready":
                slot.starting = False
                return
        # this thread still owns the slot (``starting``): find out why, then reap it
        pid, process = slot.pid, slot.process
        if message is not None:
            reason = message[1]
        elif time.monotonic() >= deadline:
            reason = f"it did not report ready within {_START_TIMEOUT:.0f}s"
        else:
            process.join(_JOIN_TIMEOUT)
            reason = f"it exited during start-up ({_exit_text(process.exitcode)})"
        slot.stop_process()
        slot.starting = False
        if closed:
            raise ExecutorClosedError(
                f"{self.label} was stopped while its worker processes were starting")
        raise ImagestagError(f"{self.label}: worker {slot.index} (pid {pid}) could not start "
                             f"the pipeline {self.pipeline.to_string()!r}: {reason}")

    def shutdown_workers(self, cancel: bool) -> None:
        super().shutdown_workers(cancel)
        if not self._threads:
            # nothing can be submitted after stop(), so the processes go now
            self._pool.close()

    def release_resources(self) -> None:
        self._finalizer()

    # -- one dispatcher thread per worker ------------------------------------------------------

    def handle(self, worker: int, seq: int, image: Image) -> None:
        # worker thread ``worker`` dispatches to worker process ``worker``
        if not self.should_run(seq):
            self.discard([seq], Outcome.CANCELLED)
            return
        self._run_remote(self._pool.slots[worker], seq, image)

    def _run_remote(self, slot: _Slot, seq: int, image: Image) -> None:
        if slot.process is None or not slot.process.is_alive():
            # it died between frames, or its replacement could not start then
            slot.stop_process()
            try:
                self._restart(slot)
            except ImagestagError as exc:
                self.fail(seq, None, exc)
                return
        conn = slot.conn
        assert conn is not None
        try:
            message = ("frame", seq, dict(image.metadata), self._source(slot, image),
                       self._segment_name(slot, "out"))
            conn.send(message)
        except (BrokenPipeError, ConnectionResetError, EOFError):
            self._replace_dead_worker(slot, seq)
            return
        except Exception as exc:
            self.fail(seq, None, ImagestagError(
                f"frame {seq} cannot be sent to {self.label}'s worker {slot.index}: "
                f"{type(exc).__name__}: {exc}; keep metadata picklable"))
            return
        while True:
            reply = self._receive(slot)
            if reply is None:
                self._replace_dead_worker(slot, seq)
                return
            if reply[0] != "grow":
                break
            self._ensure_segment(slot, "out", reply[2])
            conn.send(("out", self._segment_name(slot, "out")))
        kind, _, *rest = reply
        if kind == "error":
            stage, error, timings = rest
            self._record(seq, timings, slot.index)
            self.fail(seq, stage, error)
            return
        timings, result, metadata = rest
        self._record(seq, timings, slot.index)
        try:
            out = self._result(slot, image, result, metadata)
        except Exception as exc:
            self.fail(seq, None, exc)
            return
        self.deliver(seq, out)

    def _receive(self, slot: _Slot) -> tuple[Any, ...] | None:
        """The worker's reply, or None when it died first (its sentinel fired)."""
        assert slot.conn is not None and slot.process is not None
        # no timeout: a filter may legitimately take long, and the sentinel (or
        # the end of the pipe) wakes this wait if the worker dies for any reason
        ready = connection.wait(slot.waitables())
        if slot.conn in ready:
            try:
                reply: tuple[Any, ...] = slot.conn.recv()
                return reply
            except (EOFError, OSError):
                return None
        return None

    def _replace_dead_worker(self, slot: _Slot, seq: int) -> None:
        """Fail the frame a dead worker held; start its replacement first.

        Restarting before reporting means whoever sees the failure also sees a
        full pool again.  Under ``on_error="raise"`` the executor is finished,
        so no replacement is started.
        """
        process = slot.process
        exitcode = None
        if process is not None:
            process.join(_JOIN_TIMEOUT)
            exitcode = process.exitcode
        pid = slot.pid
        slot.stop_process()
        error = WorkerDiedError(
            f"process worker {slot.index} (pid {pid}) died while processing frame {seq} "
            f"({_exit_text(exitcode)})", worker=slot.index, pid=pid, exitcode=exitcode)
        _log.warning("%s: %s", self.label, error)
        if self.on_error != "raise" and self.should_run():
            try:
                self._restart(slot)
            except ImagestagError as exc:
                # the next frame this slot takes tries again and reports the cause
                _add_note(error, f"restarting it failed: {exc}")
        self.fail(seq, None, error)

    def _restart(self, slot: _Slot) -> None:
        with self._pool.lock:
            if self._pool.closed:
                raise ExecutorClosedError(f"{self.label} is closed")
            self._launch(slot)
        self._await_ready(slot)
        _log.info("%s: worker %d restarted (pid %s)", self.label, slot.index, slot.pid)

    def _record(self, seq: int, timings: list[tuple[int, float, float]], worker: int) -> None:
        for index, t0, t1 in timings:
            self.record_stage(index, seq, t0, t1, thread=f"process-{worker}")

    # -- moving frames ---------------------------------------------------------------------------

    def _source(self, slot: _Slot, image: Image) -> tuple[Any, ...]:
        pending = image.pending_decode
        if pending is not None:
            # the worker decodes (at the reduced size prepare_source chose, if any);
            # the pipe carries a few MB at most.  Pixels the parent already holds
            # go as pixels: decoding them again in a worker costs far more than a copy
            data, codec, reduce = pending
            width, height = image.source_size
            info = (width, height, image.pixel_format.value, image.dtype.str)
            return ("encoded", data, codec.name, info, reduce)
        pixels = image.get_pixels()
        fmt = image.pixel_format.value
        if pixels.nbytes <= _PIPE_BYTES:
            return ("array", pixels, fmt)
        segment = self._ensure_segment(slot, "in", pixels.nbytes)
        view = np.ndarray(pixels.shape, pixels.dtype, buffer=segment.buf)
        np.copyto(view, pixels)
        del view
        return ("shm", segment.name, pixels.shape, pixels.dtype.str, fmt)

    def _result(self, slot: _Slot, sent: Image, result: tuple[Any, ...],
                metadata: dict[str, Any]) -> Image:
        kind = result[0]
        if kind == "same":
            # Images are immutable, so the result may share the input's pixels
            return Image(sent.get_pixels(), result[1], metadata=metadata)
        inline = _inline_image(result, metadata)
        if inline is not None:
            return inline
        _, shape, dtype, fmt = result
        view = np.ndarray(shape, np.dtype(dtype), buffer=slot.segments["out"].buf)
        # copied out before the segment is reused by this worker's next frame
        pixels = np.empty(shape, np.dtype(dtype))
        np.copyto(pixels, view)
        del view
        return Image(pixels, fmt, metadata=metadata)

    def _segment_name(self, slot: _Slot, role: str) -> str | None:
        segment = slot.segments.get(role)
        return segment.name if segment is not None else None

    def _ensure_segment(self, slot: _Slot, role: str, nbytes: int) -> SharedMemory:
        current = slot.segments.get(role)
        if current is not None and current.size >= nbytes:
            return current
        with self._pool.lock:
            if self._pool.closed:
                raise ExecutorClosedError(f"{self.label} is closed")
            segment = shared_memory.SharedMemory(name=self._pool.segment_name(), create=True,
                                                 size=nbytes)
            slot.segments[role] = segment
        if current is not None:
            # the worker's mapping of the old one stays valid until it re-attaches
            _unlink(current)
        return segment


def _exit_text(exitcode: int | None) -> str:
    if exitcode is None:
        return "still running"
    if exitcode < 0:
        try:
            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exit code {exitcode}"


@hookimpl
def register_executors(register: Any) -> None:
    register(ProcessPipelineExecutor)
