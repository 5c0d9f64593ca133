"""``tee``: branching pipelines, one decode and many renditions, on every executor."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from imagestag_plugins.app.samples import photo_like
from imagestag_plugins.filters.tee import BranchError, Renditions, Tee

from imagestag_core import FilterPipeline, Image, SpecError
from imagestag_core.errors import FrameError, ImagestagError, InjectedFault, PipelineError
from imagestag_core.filter import Filter
from imagestag_core.params import param
from imagestag_core.plugins import get_executor
from imagestag_core.testing import check_filter, fingerprint, kit_settings, registered_for_test

ISSUE_SPEC = ("decode | tee small=(resize 320x | encode webp) "
              "large=(resize 1920x | encode jpeg quality=85)")
EXECUTORS = ["sequential", "batch", "streaming", "process", "dask"]


class Posterize(Filter):
    """A third party's filter: fewer levels per channel."""

    name = "posterize"
    levels: int = param(4, min=2, max=256)

    def apply(self, image: Image) -> Image:
        pixels = image.get_pixels()
        if pixels.dtype != np.uint8:
            raise ImagestagError(f"posterize needs uint8, got {pixels.dtype}")
        step = 256 // self.levels
        return image.derive((pixels // step * step).astype(np.uint8))


def _frames(n: int, size: tuple[int, int] = (40, 30)) -> list[Image]:
    rng = np.random.default_rng(3)
    return [Image(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8),
                  metadata={"frame": i}) for i in range(n)]


def _key(result: object) -> object:
    if isinstance(result, Renditions):
        return tuple((name, fingerprint(image)) for name, image in result)
    if isinstance(result, FrameError):
        return ("error", result.stage, type(result.error).__name__)
    assert isinstance(result, Image)
    return fingerprint(result)


@pytest.fixture(scope="module")
def jpeg_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tee") / "photo.jpg"
    photo_like(seed=4).save(path, quality=90)  # 5478x3650, photo-like
    return path


# -- spec --------------------------------------------------------------------------------


def test_the_issue_spec_parses_as_written_and_round_trips_exactly() -> None:
    pipeline = FilterPipeline.parse(ISSUE_SPEC)
    tee = pipeline[1]
    assert isinstance(tee, Tee)
    assert list(tee.branches) == ["small", "large"]
    assert tee.branches["large"].to_string() == "resize size=1920x | encode quality=85"
    text = pipeline.to_string()
    assert FilterPipeline.parse(text) == pipeline
    assert FilterPipeline.parse(text).to_string() == text
    assert FilterPipeline.from_dict(pipeline.to_dict()) == pipeline
    assert FilterPipeline.from_json(json.dumps(pipeline.to_dict())) == pipeline
    assert FilterPipeline.from_json(pipeline.to_json()).to_dict() == pipeline.to_dict()
    assert pickle.loads(pickle.dumps(pipeline)) == pipeline


def test_branch_order_is_part_of_the_value() -> None:
    a = FilterPipeline.parse("tee x=(resize 0.5) y=(grayscale)")
    b = FilterPipeline.parse("tee y=(grayscale) x=(resize 0.5)")
    assert a != b
    assert a.to_string() == "tee x=(resize scale=0.5) y=(grayscale)"


def test_nested_tee_and_empty_branches_round_trip() -> None:
    text = "tee a=(resize scale=0.5 | tee x=(encode format=png) y=()) b=()"
    pipeline = FilterPipeline.parse(text)
    assert pipeline.to_string() == text
    assert FilterPipeline.from_json(pipeline.to_json()) == pipeline


@pytest.mark.parametrize("text, at, reason", [
    ("tee small=(resize 320x | encdoe webp)", "encdoe", "unknown filter 'encdoe'"),
    ("tee a=(resize 2) b=(resize 320x | tee c=(grayscale | resise 2))", "resise",
     "unknown filter 'resise'"),
    ("tee small=(resize 320x mode=fitt)", "fitt", "mode"),
    ("tee small=(resize 320x", 22, "unclosed '('"),
    ("tee a=(resize 2) b=(  )", ")", "empty stage"),
    ("tee a=(resize 2 | )", ")", "empty stage"),
    ("tee a=(resize 2))", 16, "unexpected character after a branch"),
    ("tee a=(resize 2) a=(grayscale)", 17, "given twice"),
    ("tee 3", 0, "named branches only"),
    ("tee a=5", "5", "must be a pipeline"),
])
def test_spec_errors_inside_branches_point_at_the_exact_position(
        text: str, at: int | str, reason: str) -> None:
    with pytest.raises(SpecError) as info:
        FilterPipeline.parse(text)
    position = text.rindex(at) if isinstance(at, str) else at
    assert info.value.position == position, str(info.value)
    assert reason in info.value.reason


def test_branches_nested_too_deep_are_a_spec_error() -> None:
    text = "tee a=(" * 40 + "grayscale" + ")" * 40
    with pytest.raises(SpecError, match="nested more than"):
        FilterPipeline.parse(text)


def test_an_empty_tuple_value_still_parses_inside_a_branch() -> None:
    pipeline = FilterPipeline.parse("tee a=(fail_on frames=() | resize 0.5)")
    inner = pipeline[0].branches["a"]
    assert inner[0].frames == ()
    assert inner.to_string() == "fail_on | resize scale=0.5"


# -- results ------------------------------------------------------------------------------


def test_a_frame_result_carries_every_rendition_with_a_deterministic_repr() -> None:
    pipeline = FilterPipeline.parse("tee small=(resize 20x | encode png) gray=(grayscale) "
                                    "same=()")
    image = _frames(1)[0]
    result = pipeline.apply(image)
    assert isinstance(result, Renditions)
    assert list(result.renditions) == ["small", "gray", "same"]
    assert repr(result) == "<Renditions small=20x15 png, gray=40x30 gray, same=40x30 rgb>"
    assert repr(pipeline.apply(image)) == repr(result)
    assert result.renditions["same"] is image  # branches share the input, never copy it
    assert result.size == (20, 15)  # as an Image it is the first rendition
    back = pickle.loads(pickle.dumps(result))
    assert isinstance(back, Renditions) and _key(back) == _key(result)


def test_nested_renditions_are_named_outer_dot_inner() -> None:
    pipeline = FilterPipeline.parse("tee a=(resize 0.5 | tee x=(encode png) y=()) b=()")
    result = pipeline.apply(_frames(1)[0])
    assert list(result.renditions) == ["a.x", "a.y", "b"]
    assert pipeline[0].rendition_branches().keys() == result.renditions.keys()
    names = [name for name, _, _ in result.stage_times]
    assert names == ["a.0_Resize", "a.1_Tee", "a.1_Tee.x.0_Encode"]


def test_branches_share_the_decoded_input_read_only(jpeg_path: Path) -> None:
    source = Image(jpeg_path)
    pipeline = FilterPipeline.parse("tee a=(resize 100x) b=(resize 200x) c=(grayscale)")
    prepared = pipeline.prepare_source(source)
    result = pipeline.apply(prepared)
    assert prepared.is_decoded  # decoded once, by the first branch, cached for the others
    assert not prepared.get_pixels().flags.writeable
    assert [r.width for _, r in result] == [100, 200, prepared.width]


def test_a_third_party_filter_works_inside_a_branch_and_the_kit_passes() -> None:
    with registered_for_test(Posterize):
        tee = Filter.parse("tee poster=(posterize levels=4) half=(resize 0.5 | posterize) "
                           "pair=(tee gray=(grayscale) same=()) orig=()")
        assert isinstance(tee.branches["poster"][0], Posterize)
        out = tee.apply(_frames(1)[0])
        assert set(np.unique(out.renditions["poster"].get_pixels())) <= set(range(0, 256, 64))
        check_filter(tee, settings=kit_settings(max_examples=12), threads=4, frames=8)


def test_the_kit_passes_for_the_issue_branching_stage() -> None:
    tee = FilterPipeline.parse(ISSUE_SPEC)[1]
    check_filter(tee, settings=kit_settings(max_examples=10), threads=4, frames=8)


# -- shrink-on-load -------------------------------------------------------------------------


@pytest.mark.parametrize("spec, factor", [
    (ISSUE_SPEC, 2),  # 1920 wide needs half of 5478: the largest rendition decides
    ("tee small=(resize 320x) mid=(resize 640x)", 8),
    ("tee small=(resize 320x) whole=(grayscale)", 1),  # a branch at full size
    ("tee small=(resize 320x) orig=()", 1),
    ("decode | tee a=(resize 1280x) b=(tee c=(resize 640x) d=(resize 2000x))", 2),
    ("decode | resize 1280x", 4),  # a plain decode hands the hint on
    ("decode reduce=2 | resize 320x", 1),
])
def test_shrink_on_load_is_picked_for_the_largest_rendition(
        jpeg_path: Path, spec: str, factor: int) -> None:
    pipeline = FilterPipeline.parse(spec)
    prepared = pipeline.prepare_source(Image(jpeg_path))
    assert prepared.decode_reduction == factor


def test_renditions_from_a_reduced_decode_have_full_decode_sizes(jpeg_path: Path) -> None:
    pipeline = FilterPipeline.parse(ISSUE_SPEC)
    result = pipeline.apply(Image(jpeg_path))
    full = FilterPipeline.parse("tee small=(resize 320x) large=(resize 1920x)")
    reference = full.apply(Image(jpeg_path).convert("rgb"))
    assert [(n, r.size) for n, r in result] == [(n, r.size) for n, r in reference]
    assert [r.encoded_format for _, r in result] == ["webp", "jpeg"]


# -- executors ------------------------------------------------------------------------------


@pytest.mark.timeout(300)
@pytest.mark.parametrize("executor", EXECUTORS)
def test_every_executor_gives_the_sequential_renditions(executor: str) -> None:
    pipeline = FilterPipeline.parse(
        "resize 0.5 | tee small=(resize 8x | encode png) gray=(grayscale) "
        "nested=(tee a=(encode webp quality=80) b=())")
    frames = _frames(6)
    expected = [_key(r) for r in pipeline.run(frames, executor="sequential")]
    with get_executor(executor, pipeline, trace=True) as ex:
        got = ex.process_all(frames)
        metrics = ex.get_metrics()
        trace = ex.trace_events()
    assert [_key(r) for r in got] == expected
    names = [stage.stage_name for stage in metrics.stages]
    assert names[:2] == ["0_Resize", "1_Tee"]
    assert {"1_Tee.small.0_Resize", "1_Tee.small.1_Encode", "1_Tee.gray.0_Grayscale",
            "1_Tee.nested.0_Tee", "1_Tee.nested.0_Tee.a.0_Encode"} <= set(names)
    by_name = {stage.stage_name: stage for stage in metrics.stages}
    assert by_name["1_Tee.small.0_Resize"].frames == 6
    assert "1_Tee.gray.0_Grayscale" in {event["name"] for event in trace["traceEvents"]}


@pytest.mark.timeout(300)
@pytest.mark.parametrize("executor", EXECUTORS)
def test_an_error_in_one_branch_names_it_and_fails_the_whole_frame(executor: str) -> None:
    pipeline = FilterPipeline.parse("tee ok=(resize 0.5) bad=(grayscale | fail_on frames=1,)")
    frames = _frames(3)
    with get_executor(executor, pipeline, on_error="collect") as ex:
        collected = ex.process_all(frames)
    failed = collected[1]
    assert isinstance(failed, FrameError)  # no rendition of that frame is kept
    assert failed.stage == "0_Tee"
    assert isinstance(failed.error, BranchError)
    assert failed.error.branch == "bad" and failed.error.stage == "1_FailOn"
    assert isinstance(failed.error.error, InjectedFault)
    assert "branch 'bad' failed in stage 1_FailOn" in str(failed)
    assert [type(r) for r in (collected[0], collected[2])] == [Renditions, Renditions]
    with get_executor(executor, pipeline, on_error="skip") as ex:
        assert [r.metadata["frame"] for r in ex.process_all(frames)] == [0, 2]
    with get_executor(executor, pipeline, on_error="raise") as ex, \
            pytest.raises(PipelineError, match="branch 'bad'"):
        ex.process_all(frames)


def test_a_bug_in_a_branch_is_not_disguised_but_says_where() -> None:
    class Broken(Filter):
        name = "broken"

        def apply(self, image: Image) -> Image:
            raise ZeroDivisionError("oops")

    tee = Tee(fine="grayscale", buggy=[Broken()])
    with pytest.raises(ZeroDivisionError) as info:
        tee.apply(_frames(1)[0])
    assert "in branch 'buggy' of tee, stage 0_Broken" in getattr(info.value, "__notes__", [""])[0]


def test_tee_validates_branch_names_and_values() -> None:
    with pytest.raises(ImagestagError, match="invalid branch name"):
        Tee(**{"a.b": "grayscale"})
    with pytest.raises(ImagestagError, match="must be a pipeline"):
        Tee(a=3)  # type: ignore[arg-type]
    assert Tee().apply(_frames(1)[0]).size == (40, 30)  # no branch: the input passes
    assert Tee(a="grayscale") == Tee(a=FilterPipeline("grayscale"))
    assert hash(Tee(a="grayscale")) == hash(Tee(a=FilterPipeline("grayscale")))
