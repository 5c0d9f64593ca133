from __future__ import annotations

import json
import threading
import weakref
from collections import Counter
from typing import Any

import cv2
import imagestag_plugins.executors.batch as batch_plugin
import imagestag_plugins.executors.sequential as sequential_plugin
import imagestag_plugins.executors.streaming as streaming_plugin
import pytest
from imagestag_plugins.app.benchmark import Benchmark, BenchmarkResult
from imagestag_plugins.app.samples import photo_like
from imagestag_plugins.executors.sequential import SequentialExecutor

from imagestag_core import Filter, Image, hookimpl
from imagestag_core.image import Image as CoreImage
from imagestag_core.plugins import PluginManager


class Shrink(Filter):
    """Halve the image (a real OpenCV stage)."""

    name = "shrink"

    def apply(self, image: Image) -> Image:
        w, h = image.size
        return image.derive(cv2.resize(image.get_pixels(), (max(1, w // 2), max(1, h // 2)),
                                       interpolation=cv2.INTER_AREA))


class Blur(Filter):
    name = "blur"
    k: int = 3

    def apply(self, image: Image) -> Image:
        return image.derive(cv2.blur(image.get_pixels(), (self.k, self.k)))


class ThirdPartyExecutor(SequentialExecutor):
    """Stands for an executor a third-party distribution registers."""

    name = "thirdparty"


class BrokenExecutor(SequentialExecutor):
    name = "broken"

    def enqueue(self, seq: int, image: CoreImage, timeout: float | None) -> bool:
        raise RuntimeError("this executor cannot run anything")


class _ThirdPartyPlugin:
    @hookimpl
    def register_executors(self, register: Any) -> None:
        register(ThirdPartyExecutor, aliases=("vendor_pool",))

    @hookimpl
    def register_filters(self, register: Any) -> None:
        register(Shrink)
        register(Blur)


@pytest.fixture
def registry(pm: PluginManager) -> PluginManager:
    """Built-in sequential/batch/streaming plus a third-party executor and two filters."""
    for module in (sequential_plugin, batch_plugin, streaming_plugin):
        pm.register_plugin(module)
    pm.register_plugin(_ThirdPartyPlugin(), name="thirdparty-plugin")
    return pm


@pytest.fixture
def source() -> Image:
    return photo_like(160, 120)


@pytest.mark.timeout(60)
def test_every_registered_executor_runs_once_under_its_registry_name(registry, source):
    result = Benchmark.run_pipeline([Shrink(), Blur()], source=source, num_frames=6)
    names = [r.name for r in result.runs]
    assert names[0] == "sequential"
    assert sorted(names) == ["batch", "sequential", "streaming", "thirdparty"]
    assert all(r.frames == 6 and r.fps > 0 and r.error is None for r in result.runs)
    assert result.run("vendor_pool").label == "thirdparty (vendor_pool)"
    assert result.run("data_parallel").label == "batch (data_parallel)"


@pytest.mark.timeout(60)
def test_an_alias_and_its_name_are_one_executor(registry, source):
    result = Benchmark.run_pipeline([Shrink()], source=source, num_frames=3,
                                    executors=["data_parallel", "batch", "sequential"])
    assert [r.name for r in result.runs] == ["batch", "sequential"]


@pytest.mark.timeout(60)
def test_report_follows_the_seed_layout_with_the_ideal_line(registry, source):
    result = Benchmark.run_pipeline([Shrink(), Blur()], source=source, num_frames=5,
                                    target_fps=1.0, executors=["sequential", "batch",
                                                               "streaming"])
    text = result.format()
    lines = text.splitlines()
    assert lines[1] == "BENCHMARK: Pipeline: Shrink -> Blur"
    for expected in ("Source: 160x120 (0.02 MP)", "Output: 80x60", "Frames: 5",
                     f"CPUs: {result.cpus}", "Stage breakdown (streaming (stage_parallel)):",
                     "  0_Shrink: ", "  1_Blur: "):
        assert any(line.startswith(expected) for line in lines), expected
    header = next(line for line in lines if line.startswith("Executor"))
    assert header.split() == ["Executor", "Time", "FPS", "Per-frame", "of", "ideal"]
    batch_row = next(line for line in lines if line.startswith("batch (data_parallel)"))
    assert batch_row.rstrip().endswith("%")
    ideal = result.ideal_fps
    assert ideal == pytest.approx(result.cpus * result.run("sequential").fps)
    assert any(line.startswith(f"Ideal: {result.cpus} CPUs x ") for line in lines)
    assert result.run("batch").fraction_of_ideal == pytest.approx(
        result.run("batch").fps / ideal)
    assert lines[-2].startswith("Target: 1 FPS | Best: ") and lines[-2].endswith("| PASSED")


def test_without_the_reference_the_ideal_is_not_invented(registry, source):
    result = Benchmark.run_pipeline([Shrink()], source=source, num_frames=2,
                                    executors=["batch"], target_fps=1e9)
    assert result.ideal_fps is None
    assert result.run("batch").fraction_of_ideal is None
    assert "Ideal: n/a" in result.format()
    assert result.format().splitlines()[-2].endswith("| FAILED")


def test_to_dict_and_json_carry_the_raw_numbers(registry, source):
    result = Benchmark.run_pipeline([Shrink()], source=source, num_frames=4,
                                    executors=["sequential", "batch"])
    data = json.loads(result.to_json())
    assert data["frames"] == 4 and data["source"]["width"] == 160
    assert data["output"] == {"width": 80, "height": 60, "format": None}
    rows = {row["name"]: row for row in data["executors"]}
    assert set(rows) == {"sequential", "batch"}
    assert rows["batch"]["aliases"] == ["data_parallel"]
    assert rows["batch"]["fps"] == pytest.approx(4 / rows["batch"]["time_s"])
    assert rows["sequential"]["stages"][0]["stage_name"] == "0_Shrink"
    assert rows["sequential"]["stages"][0]["frames"] == 4  # warm-up frames excluded
    assert data["ideal_fps"] == pytest.approx(data["cpus"] * rows["sequential"]["fps"])


def test_a_broken_executor_is_reported_and_the_others_still_measured(registry, source):
    registry.register_plugin(type("P", (), {
        "register_executors": hookimpl(lambda self, register: register(BrokenExecutor))})(),
        name="broken-plugin")
    result = Benchmark.run_pipeline([Shrink()], source=source, num_frames=2,
                                    executors=["sequential", "broken"])
    broken = result.run("broken")
    assert broken.error is not None and "cannot run anything" in broken.error
    assert result.run("sequential").fps > 0
    assert "FAILED: RuntimeError: this executor cannot run anything" in result.format()
    assert result.best is not None and result.best.name == "sequential"


@pytest.mark.timeout(120)
def test_300_frames_finish_without_holding_every_output(registry):
    alive = [0]
    peak = [0]
    lock = threading.Lock()

    def freed() -> None:
        with lock:
            alive[0] -= 1

    class Track(Filter):
        name = "track"

        def apply(self, image: Image) -> Image:
            pixels = image.get_pixels().copy()
            with lock:
                alive[0] += 1
                peak[0] = max(peak[0], alive[0])
            # the output's pixels die when nobody holds the output any more
            weakref.finalize(pixels, freed)
            return image.derive(pixels)

    result = Benchmark.run_pipeline([Track()], source=photo_like(32, 24), num_frames=300,
                                    executors=["sequential", "batch", "streaming"])
    assert [r.frames for r in result.runs] == [300, 300, 300]
    # outputs are dropped as read: only the in-flight window is ever alive
    assert peak[0] < 100


@pytest.mark.timeout(60)
def test_trace_has_one_span_per_frame_per_stage_for_each_executor(registry, source):
    result = Benchmark.run_pipeline([Shrink(), Blur(), Blur(5)], source=source, num_frames=7,
                                    executors=["sequential", "batch", "streaming"],
                                    trace=True)
    doc = result.trace_events()
    spans = [e for e in doc["traceEvents"] if e["ph"] == "X"]
    per_executor = Counter(e["pid"] for e in spans)
    assert per_executor == {1: 21, 2: 21, 3: 21}
    for pid in (1, 2, 3):
        keys = Counter((e["args"]["frame"], e["name"]) for e in spans if e["pid"] == pid)
        assert set(keys) == {(f, s) for f in range(7) for s in ("0_Shrink", "1_Blur", "2_Blur")}
        assert set(keys.values()) == {1}
    names = {e["pid"]: e["args"]["name"] for e in doc["traceEvents"]
             if e["name"] == "process_name"}
    assert names[2] == "executor batch (data_parallel)"
    threads = {e["args"]["name"] for e in doc["traceEvents"]
               if e["name"] == "thread_name" and e["pid"] == 3}
    assert len(threads) >= 3  # streaming: each stage ran on its own thread
    assert all(e["dur"] >= 0 and e["ts"] >= 0 for e in spans)


def test_result_type_is_importable_from_the_seed_path():
    from imagestag_core.filters import Benchmark as SeedBenchmark
    from imagestag_core.filters import BenchmarkResult as SeedResult

    assert SeedBenchmark is Benchmark and SeedResult is BenchmarkResult


def test_num_frames_must_be_positive(registry, source):
    with pytest.raises(ValueError, match="num_frames"):
        Benchmark.run_pipeline([Shrink()], source=source, num_frames=0)
