"""The ``process`` executor: what only a pool of processes can get wrong.

The shared contract (order, error policies, stop/cancel, backpressure, leaks)
runs against it in ``test_executor_contract.py``.  Here: frames crossing the
process boundary intact (shared memory, pipe, encoded bytes, metadata), filters
that are not registered travelling by pickle/cloudpickle, a filter that cannot
travel failing before any frame, a worker dying under each error policy, and
nothing left in ``/dev/shm`` after close, a kill or Ctrl-C.

Pools are started sparingly: spawning one costs 0.2-0.4 s.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import types
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from conftest import frames
from imagestag_plugins.executors.process import (
    SEGMENT_PREFIX,
    ProcessPipelineExecutor,
    WorkerDiedError,
)
from imagestag_plugins.filters.encode import Encode
from imagestag_plugins.filters.false_color import FalseColor
from imagestag_plugins.filters.resize import Resize

from imagestag_core import (
    DecodeError,
    ExecutorClosedError,
    FilterPipeline,
    FrameError,
    Image,
    ImagestagError,
    PipelineError,
    get_executor,
    hookimpl,
)
from imagestag_core.filter import Filter
from imagestag_core.params import param
from imagestag_core.plugins import PluginManager, register_filter

# -- module-level filters: picklable by reference, so the workers import this module ----------


class Invert(Filter):
    name = "proc_invert"

    def apply(self, image: Image) -> Image:
        return image.derive(255 - image.get_pixels())


class Stamp(Filter):
    """Writes the frame's index into pixel (0, 0) and adds metadata the parent must see."""

    name = "proc_stamp"

    def apply(self, image: Image) -> Image:
        pixels = image.get_pixels().copy()
        pixels[0, 0] = image.metadata["frame"] % 256
        return image.derive(pixels).with_metadata(stamped_by=os.getpid(),
                                                   cv_threads=cv2.getNumThreads())


class Tag(Filter):
    """Changes only metadata: the pixels pass through untouched."""

    name = "proc_tag"

    def apply(self, image: Image) -> Image:
        return image.with_metadata(tagged=image.metadata["frame"] * 10)


class TopLeft(Filter):
    """A crop that starts at the same address as its input (a view, not a copy)."""

    name = "proc_top_left"

    def apply(self, image: Image) -> Image:
        return image.derive(image.get_pixels()[: image.height // 2])


class Gray16(Filter):
    """RGB uint8 -> GRAY uint16 (a format and dtype change across the boundary)."""

    name = "proc_gray16"

    def apply(self, image: Image) -> Image:
        gray = image.get_pixels("gray").astype(np.uint16) * 257
        return image.derive(gray, "gray")


class KillSelfOn(Filter):
    """SIGKILLs its own worker process on the given frame (a crash mid-frame)."""

    name = "proc_kill_self_on"
    frame: int = -1

    def apply(self, image: Image) -> Image:
        if image.metadata.get("frame") == self.frame:
            os.kill(os.getpid(), signal.SIGKILL)
        return image


class HangOn(Filter):
    """On the given frame: write the worker's pid to ``marker``, then wait to be killed."""

    name = "proc_hang_on"
    frame: int = -1
    marker: str = ""

    def apply(self, image: Image) -> Image:
        if image.metadata.get("frame") == self.frame:
            Path(self.marker).write_text(str(os.getpid()))
            threading.Event().wait(60)  # the test kills this process long before
        return image


class OnlyInParent(Filter):
    """Builds in the process whose pid it was given, fails to build anywhere else."""

    name = "proc_only_in_parent"
    parent_pid: int = 0

    def __post_init__(self) -> None:
        if os.getpid() != self.parent_pid:
            raise RuntimeError("this filter needs a GPU context only the parent has")

    def apply(self, image: Image) -> Image:
        return image


class BuildsSlowlyInWorkers(Filter):
    """In a worker (not ``parent_pid``): writes its pid to ``marker`` while being built,
    then waits to be killed, so the pool is held in its start-up."""

    name = "proc_builds_slowly"
    parent_pid: int = 0
    marker: str = ""

    def __post_init__(self) -> None:
        if os.getpid() != self.parent_pid:
            Path(self.marker).write_text(str(os.getpid()))
            threading.Event().wait(60)

    def apply(self, image: Image) -> Image:
        return image


class Arrival(Filter):
    """Records in the metadata how its input reached the worker: encoded or as pixels."""

    name = "proc_arrival"

    def apply(self, image: Image) -> Image:
        return image.with_metadata(arrived_encoded=image.encoded is not None,
                                   arrived_decoded=image.is_decoded)


class CustomBaseError(BaseException):
    """A BaseException that is not an Exception, defined by a user."""


#: what RaiseBaseOn raises on which frame: every kind of non-Exception BaseException
BASE_EXCEPTIONS: dict[int, type[BaseException]] = {
    1: KeyboardInterrupt, 3: SystemExit, 5: GeneratorExit, 7: CustomBaseError}


class RaiseBaseOn(Filter):
    """Raises ``BASE_EXCEPTIONS[frame]`` on those frames; passes the others through."""

    name = "proc_raise_base_on"

    def apply(self, image: Image) -> Image:
        kind = BASE_EXCEPTIONS.get(image.metadata.get("frame", -1))
        if kind is not None:
            raise kind(f"{kind.__name__} from a filter")
        return image


# -- helpers ---------------------------------------------------------------------------------


def our_segments(pid: int | None = None) -> set[str]:
    """Shared-memory segments this executor created for process ``pid`` (default: us)."""
    prefix = f"{SEGMENT_PREFIX}{os.getpid() if pid is None else pid}_"
    try:
        return {name for name in os.listdir("/dev/shm") if name.startswith(prefix)}
    except FileNotFoundError:  # not Linux: no /dev/shm to inspect
        return set()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_for_file(path: Path, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text():
            return path.read_text()
        threading.Event().wait(0.02)
    raise AssertionError(f"{path} did not appear within {timeout}s")


def sequential(pipeline: list[Filter], images: list[Any]) -> list[Any]:
    with get_executor("sequential", pipeline) as ex:
        return ex.process_all(images)


def assert_same_images(got: list[Any], want: list[Any]) -> None:
    assert len(got) == len(want)
    for a, b in zip(got, want):
        assert isinstance(a, Image) and isinstance(b, Image)
        assert (a.pixel_format, a.dtype, a.size) == (b.pixel_format, b.dtype, b.size)
        assert a.encoded == b.encoded
        np.testing.assert_array_equal(a.get_pixels(), b.get_pixels())


def mixed_inputs(tmp_path: Path) -> list[Any]:
    """Frames that take every route into a worker, with a size that grows and shrinks."""
    rng = np.random.default_rng(3)
    big = [rng.integers(0, 256, (360, 480, 3), dtype=np.uint8) for _ in range(4)]
    png_path = tmp_path / "frame.png"
    cv2.imwrite(str(png_path), cv2.cvtColor(big[1], cv2.COLOR_RGB2BGR))
    ok, jpeg = cv2.imencode(".jpg", big[2])
    assert ok
    items: list[Any] = [
        Image(big[0], metadata={"frame": 0}),                     # shared memory
        Image(big[0][:20, :30].copy(), metadata={"frame": 1}),    # small: the pipe
        Image(png_path).with_metadata(frame=2),                   # encoded file: worker decodes
        Image(jpeg.tobytes(), metadata={"frame": 3}),              # encoded bytes
        Image(np.tile(big[3], (2, 2, 1)), metadata={"frame": 4}),  # bigger: segments grow
        Image(big[3], metadata={"frame": 5}),                     # smaller again
    ]
    items += [Image(frame.get_pixels(), metadata={"frame": 6 + i})
              for i, frame in enumerate(frames(6, size=(480, 360)))]
    return items


# -- results ---------------------------------------------------------------------------------


@pytest.mark.timeout(90)
def test_results_equal_sequential_for_every_input_route_with_metrics_and_spans(
        tmp_path: Path) -> None:
    pipeline: list[Filter] = [Resize(scale=0.75), Invert(), Stamp(), FalseColor("hot")]
    images = mixed_inputs(tmp_path)
    expected = sequential(pipeline, images)
    with ProcessPipelineExecutor(pipeline, num_workers=2, trace=True) as ex:
        results = ex.process_all(images)
        workers = set(ex.worker_pids)
        # large frames went through this executor's own shared-memory segments
        assert our_segments()
    assert_same_images(results, expected)
    assert [r.metadata["frame"] for r in results] == list(range(len(images)))
    assert {r.metadata["stamped_by"] for r in results} <= workers
    # two workers on a pool sized to the CPUs: OpenCV runs one thread in each
    if os.cpu_count() == 2:
        assert {r.metadata["cv_threads"] for r in results} == {1}
    assert {r.metadata["cv_threads"] for r in results} == {ex.get_metrics().opencv_threads}
    assert os.getpid() not in workers
    assert results[2].metadata["path"] == str(tmp_path / "frame.png")
    metrics = ex.get_metrics()
    assert metrics.frames_completed == len(images)
    assert [s.frames for s in metrics.stages] == [len(images)] * 4
    assert all(s.avg_time_ms > 0 for s in metrics.stages)
    spans = ex.spans()
    assert sorted((s.seq, s.stage) for s in spans) == sorted(
        (seq, stage) for seq in range(len(images)) for stage in range(4))
    assert {s.thread for s in spans} <= {"process-0", "process-1"}
    assert all(s.end >= s.start for s in spans)
    assert our_segments() == set()


@pytest.mark.timeout(90)
def test_the_seed_pipeline_returns_the_same_jpeg_bytes_as_sequential() -> None:
    images = [Image(f.get_pixels(), metadata={"frame": i})
              for i, f in enumerate(frames(6, size=(1280, 720)))]
    pipeline: list[Filter] = [Resize(size=(640, 360)), FalseColor("hot"), Encode("jpeg")]
    expected = sequential(pipeline, images)
    with get_executor("process", pipeline, num_workers=2) as ex:
        assert isinstance(ex, ProcessPipelineExecutor)
        results = ex.process_all(images)
    assert all(r.encoded_format == "jpeg" for r in results)
    assert_same_images(results, expected)


@pytest.mark.timeout(90)
def test_format_and_dtype_changes_and_results_larger_than_inputs_cross_back_intact() -> None:
    images = [Image(f.get_pixels(), metadata={"frame": i})
              for i, f in enumerate(frames(5, size=(640, 480)))]
    pipeline: list[Filter] = [Gray16(), Resize(scale=2.0)]
    expected = sequential(pipeline, images)
    with ProcessPipelineExecutor(pipeline, num_workers=1) as ex:
        results = ex.process_all(images)
    assert_same_images(results, expected)
    assert results[0].dtype == np.uint16 and results[0].size == (1280, 960)


@pytest.mark.timeout(90)
def test_pass_through_pixels_come_back_without_a_copy_and_views_are_not_mistaken_for_them(
        ) -> None:
    images = [Image(f.get_pixels(), metadata={"frame": i})
              for i, f in enumerate(frames(4, size=(400, 300)) + frames(2))]
    with ProcessPipelineExecutor([Tag()], num_workers=1) as ex:
        tagged = ex.process_all(images)
    with ProcessPipelineExecutor([Tag(), TopLeft()], num_workers=1) as ex:
        cropped = ex.process_all(images)
    for i, (img, result) in enumerate(zip(images, tagged)):
        assert result.metadata == {"frame": i, "tagged": i * 10}
        np.testing.assert_array_equal(result.get_pixels(), img.get_pixels())
    # the pipeline passed the pixels through: the parent's own frame is reused
    assert np.shares_memory(tagged[0].get_pixels(), images[0].get_pixels())
    for img, result in zip(images, cropped):
        assert result.size == (img.width, img.height // 2)
        np.testing.assert_array_equal(result.get_pixels(),
                                      img.get_pixels()[: img.height // 2])


@pytest.mark.timeout(90)
def test_an_encoded_image_the_parent_already_decoded_is_shipped_as_pixels(
        tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    path = tmp_path / "photo.png"
    cv2.imwrite(str(path), rng.integers(0, 256, (300, 400, 3), dtype=np.uint8))
    decoded = Image(path)
    decoded.get_pixels()  # the parent holds the pixels now, and still the PNG bytes
    assert decoded.is_decoded and decoded.encoded is not None
    lazy = Image(path)
    assert not lazy.is_decoded
    pipeline: list[Filter] = [Arrival(), Invert()]
    images = [decoded, lazy, decoded]
    with ProcessPipelineExecutor(pipeline, num_workers=1) as ex:
        results = ex.process_all(images)
    expected = sequential([Invert()], images)  # after: it decodes ``lazy`` in this process
    arrivals = [(r.metadata["arrived_encoded"], r.metadata["arrived_decoded"])
                for r in results]
    # decoded in the parent: pixels (never the PNG to decode again); lazy: the bytes
    assert arrivals == [(False, True), (True, False), (False, True)]
    for got, want in zip(results, expected):
        np.testing.assert_array_equal(got.get_pixels(), want.get_pixels())


# -- filters that are not registered --------------------------------------------------------


@pytest.mark.timeout(90)
def test_filters_defined_in_a_test_function_travel_by_cloudpickle() -> None:
    class Posterize(Filter):  # a notebook-style filter: unregistered, not importable
        name = "posterize_local"
        levels: int = param(4, min=2, max=256)

        def __post_init__(self) -> None:
            step = 256 // self.levels
            object.__setattr__(self, "_lut", (np.arange(256) // step * step).astype(np.uint8))

        def apply(self, image: Image) -> Image:
            return image.derive(self._lut[image.get_pixels()])

    class Offset(Filter):
        name = "offset_local"
        by: int = 7

        def apply(self, image: Image) -> Image:
            return image.derive(image.get_pixels() + np.uint8(self.by))

    register_filter(Offset)  # registered from a notebook: provider "<local>"
    try:
        pipeline: list[Filter] = [Posterize(levels=8), Offset(by=3), Invert()]
        images = [Image(f.get_pixels(), metadata={"frame": i})
                  for i, f in enumerate(frames(6, size=(320, 240)))]
        expected = sequential(pipeline, images)
        with ProcessPipelineExecutor(pipeline, num_workers=2) as ex:
            results = ex.process_all(images)
        assert_same_images(results, expected)
    finally:
        from imagestag_core.plugins import get_plugin_manager

        registry = get_plugin_manager().filters
        if "offset_local" in registry:
            registry.remove("offset_local")


@pytest.mark.timeout(90)
def test_a_filter_registered_only_in_the_parents_registry_falls_back_to_pickle(
        pm: PluginManager) -> None:
    @hookimpl
    def register_filters(register: Any) -> None:
        register(Invert)

    plugin = types.ModuleType("proc_test_plugin")
    plugin.register_filters = register_filters  # type: ignore[attr-defined]
    pm.register_plugin(plugin, name="proc_test_plugin")
    pipeline = [Filter.parse("proc_invert")]
    images = frames(4, size=(300, 200))
    expected = [FilterPipeline(pipeline).apply(img) for img in images]
    # the workers' registry (entry points only) has no "proc_invert": the pickle rebuilds it
    with ProcessPipelineExecutor(pipeline, num_workers=1) as ex:
        results = ex.process_all(images)
    assert_same_images(results, expected)


@pytest.mark.timeout(30)
def test_an_unpicklable_filter_raises_a_clear_error_before_any_frame_or_process() -> None:
    class Cached(Filter):  # a class-level cache under a lock, as the filter contract says
        name = "cached_local"
        _cache_lock = threading.Lock()

        def apply(self, image: Image) -> Image:
            return image

    children = set(multiprocessing.active_children())
    with pytest.raises(ImagestagError) as caught:
        ProcessPipelineExecutor([Invert(), Cached()], num_workers=2)
    message = str(caught.value)
    assert "1_Cached" in message and "'cached_local'" in message
    assert "cloudpickle" in message and "lock" in message
    assert "register" in message  # says what to do
    assert set(multiprocessing.active_children()) == children


@pytest.mark.timeout(60)
def test_a_filter_the_workers_cannot_build_fails_start_naming_it_before_frames_flow() -> None:
    ex = ProcessPipelineExecutor([Invert(), OnlyInParent(parent_pid=os.getpid())],
                                 num_workers=2)
    with pytest.raises(ImagestagError) as caught:
        ex.submit(frames(1)[0])
    message = str(caught.value)
    assert "1_OnlyInParent" in message and "GPU context" in message
    assert ex.get_metrics().frames_submitted == 0
    ex.close()
    assert ex.worker_pids == []
    assert our_segments() == set()


@pytest.mark.timeout(10)
def test_options_are_validated_and_fork_is_refused() -> None:
    with pytest.raises(ImagestagError, match="fork"):
        ProcessPipelineExecutor([Invert()], start_method="fork")
    with pytest.raises(ImagestagError, match="num_workers"):
        ProcessPipelineExecutor([Invert()], num_workers=0)
    with pytest.raises(ImagestagError, match="did you mean 'num_workers'"):
        ProcessPipelineExecutor([Invert()], num_worker=2)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("how", ["stop", "close"])
def test_stop_or_close_from_another_thread_while_the_pool_starts_gives_executor_closed(
        tmp_path: Path, how: str) -> None:
    marker = tmp_path / "building.pid"
    ex = ProcessPipelineExecutor(
        [BuildsSlowlyInWorkers(parent_pid=os.getpid(), marker=str(marker))], num_workers=1)
    raised: list[BaseException] = []
    done = threading.Event()

    def submit() -> None:
        try:
            ex.submit(frames(1)[0])
        except BaseException as exc:
            raised.append(exc)
        finally:
            done.set()

    submitter = threading.Thread(target=submit, daemon=True)
    submitter.start()
    # the event: the worker process is building the pipeline, so start() is waiting on it
    worker = int(wait_for_file(marker, timeout=30))
    getattr(ex, how)()
    assert done.wait(30), "submit() did not return after the executor was stopped"
    assert len(raised) == 1 and isinstance(raised[0], ExecutorClosedError), raised
    assert not alive(worker)
    assert ex.get_metrics().frames_submitted == 0
    ex.close()
    assert ex.worker_pids == [] and our_segments() == set()


# -- a worker dies ---------------------------------------------------------------------------


@pytest.mark.timeout(90)
def test_a_worker_killed_mid_frame_fails_that_frame_under_raise_without_hanging() -> None:
    images = [Image(f.get_pixels(), metadata={"frame": i})
              for i, f in enumerate(frames(12, size=(320, 240)))]
    with ProcessPipelineExecutor([Invert(), KillSelfOn(frame=5)], num_workers=2) as ex, \
            pytest.raises(PipelineError) as caught:
        ex.process_all(images)
    error = caught.value
    assert error.seq == 5
    assert isinstance(error.error, WorkerDiedError)
    assert error.__cause__ is error.error
    assert "died while processing frame 5" in str(error) and "SIGKILL" in str(error)
    assert error.error.exitcode == -signal.SIGKILL
    assert error.error.pid is not None and not alive(error.error.pid)
    assert ex.worker_pids == []
    assert our_segments() == set()


@pytest.mark.timeout(90)
def test_os_kill_on_a_busy_worker_gives_a_frame_error_under_collect_and_a_fresh_worker(
        tmp_path: Path) -> None:
    marker = tmp_path / "hung.pid"
    images = [Image(f.get_pixels(), metadata={"frame": i})
              for i, f in enumerate(frames(10, size=(320, 240)))]
    pipeline: list[Filter] = [Invert(), HangOn(frame=3, marker=str(marker))]
    expected = sequential([Invert()], images)
    with ProcessPipelineExecutor(pipeline, num_workers=2, on_error="collect") as ex:
        for img in images:
            ex.submit(img)
        victim = int(wait_for_file(marker, timeout=60))
        assert victim in ex.worker_pids
        os.kill(victim, signal.SIGKILL)
        results = list(ex.results(timeout=60))
        replacement = ex.worker_pids
    assert len(results) == 10
    failed = results[3]
    assert isinstance(failed, FrameError) and failed.seq == 3
    assert isinstance(failed.error, WorkerDiedError) and failed.error.pid == victim
    for i, result in enumerate(results):
        if i != 3:
            np.testing.assert_array_equal(result.get_pixels(), expected[i].get_pixels())
    assert ex.get_metrics().frames_failed == 1
    assert victim not in replacement and len(replacement) == 2
    assert not alive(victim)
    assert our_segments() == set()


# -- a filter raises a BaseException that is not an Exception -----------------------------


@pytest.mark.timeout(90)
def test_base_exceptions_in_a_filter_are_collected_naming_the_stage_and_workers_survive(
        ) -> None:
    images = [Image(f.get_pixels(), metadata={"frame": i})
              for i, f in enumerate(frames(10, size=(320, 240)))]
    with ProcessPipelineExecutor([Invert(), RaiseBaseOn()], num_workers=2,
                                 on_error="collect") as ex:
        ex.start()
        workers = sorted(ex.worker_pids)
        results = ex.process_all(images)
        survivors = sorted(ex.worker_pids)
        metrics = ex.get_metrics()
    assert survivors == workers and len(workers) == 2
    for i, result in enumerate(results):
        kind = BASE_EXCEPTIONS.get(i)
        if kind is None:
            assert isinstance(result, Image)
            continue
        assert isinstance(result, FrameError), (i, result)
        assert result.seq == i and result.stage == "1_RaiseBaseOn"
        assert type(result.error) is kind
        assert f"{kind.__name__} from a filter" in str(result.error)
    assert metrics.frames_failed == 4 and metrics.frames_completed == 6


@pytest.mark.timeout(90)
def test_base_exceptions_in_a_filter_are_skipped_counted_and_the_worker_survives() -> None:
    images = [Image(f.get_pixels(), metadata={"frame": i})
              for i, f in enumerate(frames(10, size=(64, 48)))]
    with ProcessPipelineExecutor([RaiseBaseOn()], num_workers=1, on_error="skip") as ex:
        ex.start()
        pids = ex.worker_pids
        results = ex.process_all(images)
        metrics = ex.get_metrics()
        assert ex.worker_pids == pids  # the same worker ran every frame
    assert [r.metadata["frame"] for r in results] == [0, 2, 4, 6, 8, 9]
    assert metrics.frames_skipped == 4 and metrics.frames_failed == 4


@pytest.mark.timeout(90)
@pytest.mark.parametrize("frame", sorted(BASE_EXCEPTIONS))
def test_a_base_exception_in_a_filter_raises_pipeline_error_naming_the_stage(
        frame: int) -> None:
    image = Image(frames(1)[0].get_pixels(), metadata={"frame": frame})
    with ProcessPipelineExecutor([Invert(), RaiseBaseOn()], num_workers=1) as ex:
        ex.start()
        pid = ex.worker_pids[0]
        with pytest.raises(PipelineError) as caught:
            ex.process_all([image])
        assert alive(pid) and ex.worker_pids == [pid]
    error = caught.value
    assert error.seq == 0 and error.stage == "1_RaiseBaseOn"
    assert type(error.error) is BASE_EXCEPTIONS[frame]
    assert error.__cause__ is error.error


# -- nothing left behind -------------------------------------------------------------------


@pytest.mark.timeout(90)
def test_keyboard_interrupt_out_of_a_with_block_leaves_no_process_or_segment() -> None:
    images = [Image(f.get_pixels(), metadata={"frame": i})
              for i, f in enumerate(frames(8, size=(400, 300)))]
    pids: list[int] = []
    with pytest.raises(KeyboardInterrupt), \
            ProcessPipelineExecutor([Invert()], num_workers=2) as ex:
        for img in images:
            ex.submit(img)
        assert ex.get_result(timeout=60) is not None
        pids = ex.worker_pids
        assert our_segments()
        raise KeyboardInterrupt
    assert len(pids) == 2 and not any(alive(pid) for pid in pids)
    assert our_segments() == set()
    metrics = ex.get_metrics()
    assert metrics.frames_completed + metrics.frames_cancelled == 8


_CTRL_C_SCRIPT = textwrap.dedent("""
    import itertools, numpy as np
    from imagestag_core import Image
    from imagestag_plugins.executors.process import ProcessPipelineExecutor
    from imagestag_plugins.filters.resize import Resize

    def endless():
        base = np.zeros((480, 640, 3), np.uint8)
        for i in itertools.count():
            yield Image(base, metadata={"frame": i})

    if __name__ == "__main__":
        with ProcessPipelineExecutor([Resize(scale=0.5)], num_workers=2) as ex:
            for n, _ in enumerate(ex.imap(endless())):
                if n == 3:
                    print(" ".join(map(str, ex.worker_pids)), flush=True)
""")


@pytest.mark.timeout(120)
@pytest.mark.skipif(sys.platform == "win32", reason="process groups and SIGINT are POSIX")
def test_ctrl_c_in_a_running_program_leaves_no_process_or_segment(tmp_path: Path) -> None:
    script = tmp_path / "ctrl_c.py"
    script.write_text(_CTRL_C_SCRIPT)
    # its own process group, like a terminal's foreground job: SIGINT reaches every worker too
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        pids = [int(p) for p in line.split()]
        assert len(pids) == 2, proc.stderr.read() if proc.stderr else line
        assert our_segments(proc.pid)
        os.killpg(proc.pid, signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "KeyboardInterrupt" in stderr
    assert our_segments(proc.pid) == set()
    assert not any(alive(pid) for pid in pids)
    assert "leaked shared_memory" not in stderr


_NEVER_CLOSED_SCRIPT = textwrap.dedent("""
    import os
    import numpy as np
    from imagestag_core import Image
    from imagestag_plugins.executors.process import ProcessPipelineExecutor
    from imagestag_plugins.filters.resize import Resize

    if __name__ == "__main__":
        ex = ProcessPipelineExecutor([Resize(scale=0.5)], num_workers=2)
        for i in range(4):
            ex.submit(Image(np.zeros((480, 640, 3), np.uint8), metadata={"frame": i}))
        assert ex.get_result(timeout=60) is not None
        print(os.getpid(), *ex.worker_pids, flush=True)
        # no close(), no with block: the interpreter exits with the pool running
""")


@pytest.mark.timeout(120)
def test_an_executor_never_closed_is_cleaned_up_at_interpreter_exit(tmp_path: Path) -> None:
    script = tmp_path / "never_closed.py"
    script.write_text(_NEVER_CLOSED_SCRIPT)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=90)
    assert done.returncode == 0, done.stderr
    parent, *pids = [int(p) for p in done.stdout.split()]
    assert len(pids) == 2
    assert our_segments(parent) == set()
    assert not any(alive(pid) for pid in pids)
    assert "leaked shared_memory" not in done.stderr
    assert "Traceback" not in done.stderr


def _open_fds() -> int:
    try:
        return len(os.listdir("/proc/self/fd"))
    except FileNotFoundError:
        return 0


@pytest.mark.timeout(120)
def test_cycles_with_a_dead_worker_and_growing_segments_leak_nothing() -> None:
    def cycle() -> None:
        rng = np.random.default_rng(0)
        images = [Image(rng.integers(0, 256, (150, 200 + 60 * i, 3), dtype=np.uint8),
                        metadata={"frame": i}) for i in range(6)]
        with ProcessPipelineExecutor([Invert(), KillSelfOn(frame=2)], num_workers=2,
                                     on_error="skip") as ex:
            results = ex.process_all(images)
        assert [r.metadata["frame"] for r in results] == [0, 1, 3, 4, 5]

    cycle()  # the resource tracker and imports start once
    threads = {t.ident for t in threading.enumerate()}
    children = set(multiprocessing.active_children())
    fds = _open_fds()
    for _ in range(2):
        cycle()
    assert [t.name for t in threading.enumerate() if t.ident not in threads] == []
    assert set(multiprocessing.active_children()) <= children
    assert _open_fds() <= fds
    assert our_segments() == set()


# -- scripts without a __main__ guard -------------------------------------------------------

#: the Benchmark example of the parallel-execution spec, as a user writes it: no
#: ``if __name__ == "__main__":``, and a filter of the script's own (it travels by
#: cloudpickle).  Workers that re-imported ``__main__`` would run it all again.
_UNGUARDED_SCRIPT = textwrap.dedent("""
    import numpy as np
    from imagestag_core import Filter, FilterPipeline, Image
    from imagestag_core.filters import Benchmark

    print("script body runs", flush=True)


    class Darken(Filter):
        name = "darken_script_local"

        def apply(self, image):
            return image.derive(image.get_pixels() // 2)


    pipeline = FilterPipeline.parse("resize 0.5 | falsecolor hot | encode jpeg")
    pipeline = FilterPipeline([Darken(), *pipeline.filters])
    image = Image(np.random.default_rng(0).integers(0, 256, (240, 320, 3), dtype=np.uint8))
    result = Benchmark.run_pipeline(pipeline, source=image, num_frames=6{executors})
    result.print()
    failed = [run.name for run in result.runs if run.error]
    print("rows", len(result.runs), "failed", failed, flush=True)
""")


def run_unguarded_script(tmp_path: Path, executors: str = "") -> tuple[str, str]:
    """Run the unguarded Benchmark script; its stdout and stderr (it must exit 0)."""
    script = tmp_path / "unguarded.py"
    script.write_text(_UNGUARDED_SCRIPT.format(executors=executors))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=150, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout, done.stderr


@pytest.mark.timeout(180)
def test_an_unguarded_script_runs_once_with_the_process_executor(tmp_path: Path) -> None:
    stdout, stderr = run_unguarded_script(tmp_path, ', executors=["sequential", "process"]')
    assert stdout.count("script body runs") == 1, stdout
    assert stdout.count("BENCHMARK: Pipeline") == 1, stdout
    assert "rows 2 failed []" in stdout, stdout
    assert "FAILED" not in stdout
    assert "Traceback" not in stderr, stderr


@pytest.mark.timeout(300)
def test_an_unguarded_script_runs_every_registered_executor_once_and_every_row_succeeds(
        tmp_path: Path) -> None:
    from imagestag_core.plugins import get_plugin_manager

    names = {entry.name for entry in get_plugin_manager().executors.list()}
    stdout, stderr = run_unguarded_script(tmp_path)
    assert stdout.count("script body runs") == 1, stdout
    assert stdout.count("BENCHMARK: Pipeline") == 1, stdout
    # every registered executor (dask too, where imagestag-dask is installed) has a row
    assert f"rows {len(names)} failed []" in stdout, stdout + stderr
    assert "FAILED" not in stdout
    assert "Traceback" not in stderr, stderr
    # nor any log line of the workers' (a script's user sees only its own output)
    assert stderr.strip() == "", stderr


@pytest.mark.timeout(90)
def test_a_source_reduced_for_shrink_on_load_is_decoded_in_the_worker_not_the_parent(
        tmp_path: Path) -> None:
    pixels = np.random.default_rng(5).integers(0, 256, (960, 1280, 3), np.uint8)
    path = Image(pixels).save(tmp_path / "photo.jpg")
    pipeline = FilterPipeline([Resize(size=(160, 120), mode="fit")])
    source = pipeline.prepare_source(Image(path))
    assert source.decode_reduction == 8
    with ProcessPipelineExecutor(pipeline, num_workers=1) as ex:
        [result] = ex.process_all([source])
    assert not source.is_decoded  # the parent only read the header
    expected = pipeline.apply(Image(path))
    assert result.size == (160, 120)
    assert result.get_pixels().tobytes() == expected.get_pixels().tobytes()


@pytest.mark.timeout(90)
def test_a_corrupt_file_fails_in_its_first_stage_like_every_executor(tmp_path: Path) -> None:
    data = Image(np.zeros((600, 800, 3), np.uint8)).encode("jpeg")
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(data[: len(data) // 2])
    pipeline = FilterPipeline([Resize(size=(100, 100))])
    with ProcessPipelineExecutor(pipeline, num_workers=1, on_error="collect") as ex:
        [result] = ex.process_all([pipeline.prepare_source(Image(broken))])
    assert isinstance(result, FrameError)
    assert result.stage == "0_Resize" and isinstance(result.error, DecodeError)
