"""FalseColor and the built-in colormaps (checked against matplotlib, a test-only dependency)."""

from __future__ import annotations

import numpy as np
import pytest
from imagestag_plugins.colormaps import matplotlib_maps
from imagestag_plugins.filters import false_color
from imagestag_plugins.filters.false_color import FalseColor

from imagestag_core import FilterPipeline, Image, PixelFormat, get_colormap, hookimpl
from imagestag_core.errors import FilterParameterError, SpecError

matplotlib = pytest.importorskip("matplotlib")


def test_every_matplotlib_colormap_is_within_one_level():
    x = np.linspace(0.0, 1.0, 256)
    names = list(matplotlib.colormaps)
    assert any(n.endswith("_r") for n in names)
    for name in names:
        expected = matplotlib.colormaps[name](x)[:, :3] * 255.0
        table = get_colormap(name)
        assert table.shape == (256, 3) and table.dtype == np.uint8
        assert np.abs(table - expected).max() <= 1.0, name


def test_colormap_tables_load_without_matplotlib_and_are_read_only():
    tables = matplotlib_maps.load_tables()
    assert tables is matplotlib_maps.load_tables()  # loaded once
    assert not tables["viridis"].flags.writeable


def _ramp(dtype=np.uint8) -> np.ndarray:
    return np.tile(np.arange(256, dtype=np.uint8), (4, 1)).astype(dtype)


def test_uint8_output_is_bgr_and_matches_the_table():
    out = FalseColor("hot").apply(Image(_ramp()))
    assert out.pixel_format is PixelFormat.BGR
    assert np.array_equal(out.get_pixels("rgb")[0], get_colormap("hot"))


def test_colour_input_is_converted_to_gray_first():
    rgb = np.dstack([_ramp()] * 3)
    out = FalseColor("viridis").apply(Image(rgb, "rgb")).get_pixels("rgb")
    assert np.array_equal(out[0], get_colormap("viridis"))


def test_reverse_runs_the_colormap_backwards():
    out = FalseColor("magma", reverse=True).apply(Image(_ramp())).get_pixels("rgb")
    assert np.array_equal(out[0], get_colormap("magma")[::-1])


def _expected(values: np.ndarray, lo: float, hi: float, name: str) -> np.ndarray:
    index = np.clip(np.rint((np.nan_to_num(values, nan=lo) - lo) * 255.0 / (hi - lo)), 0, 255)
    return get_colormap(name)[index.astype(np.uint8)]


@pytest.mark.parametrize("dtype,lo,hi,kwargs", [
    (np.uint8, 50, 150, {"input_min": 50, "input_max": 150}),
    (np.uint16, 0, 65535, {}),
    (np.uint16, 1000, 3000, {"input_min": 1000, "input_max": 3000}),
    (np.uint16, 1000.5, 3000, {"input_min": 1000.5, "input_max": 3000}),
    (np.float32, 0.0, 1.0, {}),
    (np.float32, -2.0, 5.0, {"input_min": -2.0, "input_max": 5.0}),
])
def test_value_ranges_map_linearly_and_clamp(dtype, lo, hi, kwargs):
    rng = np.random.default_rng(5)
    if dtype == np.float32:
        values = rng.uniform(lo - 1, hi + 1, (30, 40)).astype(np.float32)
    else:
        values = rng.integers(0, np.iinfo(dtype).max, (30, 40), endpoint=True).astype(dtype)
    out = FalseColor("inferno", **kwargs).apply(Image(values)).get_pixels("rgb").astype(int)
    expected = _expected(values.astype(np.float64), lo, hi, "inferno").astype(int)
    # one index of rounding slack between OpenCV's and numpy's arithmetic
    neighbours = np.abs(np.diff(get_colormap("inferno").astype(int), axis=0)).max()
    assert np.abs(out - expected).max() <= neighbours


def test_float_nan_maps_to_the_first_colour():
    values = np.array([[np.nan, 0.0, 1.0]], np.float32)
    out = FalseColor("viridis").apply(Image(values)).get_pixels("rgb")
    assert np.array_equal(out[0, 0], get_colormap("viridis")[0])


def test_unknown_colormap_suggests_the_closest_name():
    with pytest.raises(FilterParameterError, match="viridis"):
        FalseColor("viridsi")
    with pytest.raises(SpecError, match="did you mean"):
        FilterPipeline.parse("falsecolor infern")


def test_empty_range_is_rejected():
    with pytest.raises(FilterParameterError):
        FalseColor(input_min=5.0, input_max=5.0)
    with pytest.raises(FilterParameterError):
        FalseColor(input_min=300.0).apply(Image(_ramp()))  # above uint8's default max


class _StripesPlugin:
    @hookimpl
    def register_colormaps(self, register):
        table = np.zeros((256, 3), np.uint8)
        table[:, 1] = np.arange(256)
        register("greenramp", table)


def test_a_plugin_colormap_works_in_a_spec(pm):
    pm.register_plugin(false_color, name="false_color")
    pm.register_plugin(_StripesPlugin(), name="stripes")
    pipeline = FilterPipeline.parse("falsecolor greenramp reverse=true")
    out = pipeline.apply(Image(_ramp())).get_pixels("rgb")
    assert np.array_equal(out[0, :, 1], np.arange(256)[::-1])
    assert FilterPipeline.parse(pipeline.to_string()).filters == pipeline.filters
