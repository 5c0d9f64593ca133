"""Path mode: workers read inputs and write outputs; only paths and sizes travel."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from dask_filters import Invert
from dask_fixtures import dask_client, make  # noqa: F401  (pytest fixtures)
from imagestag_core import FilterPipeline, FrameError, Image, ImagestagError
from imagestag_core.plugins import get_filter

from imagestag_dask import DaskPipelineExecutor, PathResult

pytestmark = pytest.mark.timeout(90)


def _write_inputs(folder: Path, frames: list[Image], ext: str = ".png") -> list[Path]:
    folder.mkdir()
    return [frame.save(folder / f"img_{i:02d}{ext}") for i, frame in enumerate(frames)]


def test_outputs_on_disk_equal_sequential_results(dask_client: Any, make: Any,
                                                  tmp_path: Path) -> None:
    inputs = _write_inputs(tmp_path / "in", make(10, size=(80, 60)))
    pipeline = FilterPipeline([get_filter("resize")(0.5), Invert()])
    with DaskPipelineExecutor(pipeline, client=dask_client) as ex:
        results = ex.process_paths(inputs, tmp_path / "out")
        metrics = ex.get_metrics()
    assert all(isinstance(r, PathResult) for r in results)
    assert [Path(r.input).name for r in results] == [p.name for p in inputs]
    for source, result in zip(inputs, results):
        expected = pipeline.apply(Image(source)).get_pixels()
        written = Image(result.output).get_pixels()
        assert Path(result.output).suffix == ".png"  # pixels are saved in the input's format
        assert written.tobytes() == expected.tobytes()
        assert result.size == (40, 30)
        assert result.bytes_written == Path(result.output).stat().st_size
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [p.name for p in inputs]
    assert metrics.frames_completed == 10 and metrics.stages[0].frames == 10


def test_an_encoded_result_is_written_as_is_with_its_codec_extension(
        dask_client: Any, make: Any, tmp_path: Path) -> None:
    inputs = _write_inputs(tmp_path / "in", make(4))
    pipeline = FilterPipeline.parse("falsecolor hot | encode jpeg quality=80")
    with DaskPipelineExecutor(pipeline, client=dask_client) as ex:
        results = ex.process_paths(inputs, tmp_path / "out")
    for source, result in zip(inputs, results):
        assert isinstance(result, PathResult)
        assert result.output.endswith(".jpg")
        assert Path(result.output).read_bytes() == pipeline.apply(Image(source)).encoded


def test_format_option_picks_the_output_codec(dask_client: Any, make: Any,
                                              tmp_path: Path) -> None:
    inputs = _write_inputs(tmp_path / "in", make(3), ext=".bmp")
    with DaskPipelineExecutor([Invert()], client=dask_client) as ex:
        results = ex.process_paths(inputs, tmp_path / "out", format="png")
    assert [Path(r.output).name for r in results] == ["img_00.png", "img_01.png", "img_02.png"]


def test_failures_follow_the_error_policy(dask_client: Any, make: Any, tmp_path: Path) -> None:
    inputs = _write_inputs(tmp_path / "in", make(4))
    broken = tmp_path / "in" / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    # the unreadable file fails on the worker before the first stage
    with DaskPipelineExecutor([Invert()], client=dask_client, on_error="collect") as ex:
        results = ex.process_paths([*inputs[:2], broken, *inputs[2:]], tmp_path / "out")
    assert isinstance(results[2], FrameError) and results[2].seq == 2
    assert all(isinstance(r, PathResult) for i, r in enumerate(results) if i != 2)
    assert not any(p.name.endswith(".tmp") for p in (tmp_path / "out").iterdir())


def test_two_inputs_with_one_output_name_fail_before_any_work(dask_client: Any, make: Any,
                                                              tmp_path: Path) -> None:
    a = _write_inputs(tmp_path / "a", make(1))
    b = _write_inputs(tmp_path / "b", make(1))
    with DaskPipelineExecutor([Invert()], client=dask_client) as ex:
        with pytest.raises(ImagestagError, match="would both be written"):
            ex.process_paths([*a, *b], tmp_path / "out")
        assert ex.get_metrics().frames_submitted == 0


def test_path_mode_decodes_jpegs_at_reduced_size_like_the_pipeline(
        dask_client: Any, tmp_path: Path) -> None:
    import numpy as np

    folder = tmp_path / "in"
    folder.mkdir()
    y, x = np.mgrid[0:960, 0:1280]
    inputs = []
    for i in range(3):
        noise = np.random.default_rng(i).integers(0, 40, (960, 1280), np.uint8)
        gray = ((x + y * (i + 1)) % 256).astype(np.uint8) // 2 + noise
        rgb = np.dstack([gray, gray[::-1], gray[:, ::-1]])
        inputs.append(Image(rgb).save(folder / f"p{i}.jpg"))
    pipeline = FilterPipeline.parse("resize 160x120 mode=fit | encode png")
    with DaskPipelineExecutor(pipeline, client=dask_client) as ex:
        results = ex.process_paths(inputs, tmp_path / "out")
    for source, result in zip(inputs, results):
        assert isinstance(result, PathResult) and result.size == (160, 120)
        written = Path(result.output).read_bytes()
        # the pipeline itself prepares the source: the JPEG decoded at 1/8 size
        assert written == pipeline.apply(Image(source)).encoded
        full = Image(Image(source).get_pixels(), "bgr")
        assert written != pipeline.apply(full).encoded  # a full decode gives other pixels
