"""FilterPipeline: composition, stage names, application and run()."""

from __future__ import annotations

import numpy as np
import pytest

from imagestag_core import Filter, FilterPipeline, Image, ImagestagError, param, register_filter


class Add(Filter):
    name = "add"
    value: int = param(1, min=0, max=255)

    def apply(self, image: Image) -> Image:
        px = image.get_pixels()
        return image.derive(np.clip(px.astype(np.int16) + self.value, 0, 255).astype(np.uint8))


class Double(Filter):
    name = "double"

    def apply(self, image: Image) -> Image:
        return image.derive((image.get_pixels().astype(np.uint16) * 2).clip(0, 255)
                            .astype(np.uint8))


@pytest.fixture(autouse=True)
def registered(pm):
    register_filter(Add)
    register_filter(Double)
    return pm


def test_apply_runs_stages_in_order() -> None:
    img = Image(np.full((2, 2), 10, np.uint8))
    assert FilterPipeline([Add(5), Double()]).apply(img).get_pixels()[0, 0] == 30
    assert FilterPipeline([Double(), Add(5)]).apply(img).get_pixels()[0, 0] == 25


def test_stage_names_follow_the_seed() -> None:
    assert FilterPipeline([Add(), Double(), Add()]).stage_names == ("0_Add", "1_Double", "2_Add")
    assert FilterPipeline([Add(), Double()]).describe() == "Add -> Double"


def test_pipeline_is_a_sequence_and_a_value() -> None:
    p = FilterPipeline([Add(1), Double()])
    assert list(p) == [Add(1), Double()]
    assert p[1:] == FilterPipeline([Double()])
    assert p == FilterPipeline("add | double")
    assert hash(p) == hash(FilterPipeline("add | double"))


def test_apply_rejects_non_images() -> None:
    with pytest.raises(ImagestagError, match="wrap it with Image"):
        FilterPipeline([Add()]).apply(np.zeros((2, 2), np.uint8))  # type: ignore[arg-type]


def test_non_filter_stage_is_rejected() -> None:
    with pytest.raises(ImagestagError, match="stage 1 is a int"):
        FilterPipeline([Add(), 3])  # type: ignore[list-item]


def test_run_swaps_executors_by_name(pm) -> None:
    from imagestag_plugins.executors import sequential

    pm.register_plugin(sequential)
    images = [Image(np.full((2, 2), i, np.uint8)) for i in range(5)]
    results = FilterPipeline([Add(1)]).run(images, executor="sequential")
    assert [r.get_pixels()[0, 0] for r in results] == [1, 2, 3, 4, 5]
