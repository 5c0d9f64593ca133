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


def _reference_index(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """The documented mapping in float64: clamp into lo..hi (inf to the last
    colour, -inf to the first), NaN to the first colour, then round."""
    x = values.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        x = np.where(np.isnan(x), lo, np.clip(x, lo, hi))
        return np.rint((x - lo) * (255.0 / (hi - lo))).astype(np.int64)


_EDGE_RANGES = {  # name -> (input_min, input_max); None keeps the dtype default
    "defaults": (None, None),
    "negative-min": (-100.0, 100.0),
    "negative-range": (-5000.0, -10.0),
    "fractional": (0.25, 0.75),
    "narrow": (10.0, 11.0),
    "huge": (-1e30, 1e30),
}


def _edge_values(dtype: type) -> np.ndarray:
    if dtype == np.float32:
        info = np.finfo(np.float32)
        special = [np.inf, -np.inf, np.nan, 1e38, -1e38, info.max, info.min, info.tiny]
        return np.array([0.0, 0.25, 0.5, 0.75, 1.0, -1.0, 2.0, 10.0, 10.5, 11.0, 100.0,
                         -100.0, -5000.0, 255.0, *special], np.float32)
    top = np.iinfo(dtype).max
    return np.array(sorted({0, 1, 10, 11, 50, 100, 127, 128, 200, 255, top - 1, top}),
                    dtype)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32], ids=lambda d: d.__name__)
@pytest.mark.parametrize("edge", _EDGE_RANGES)
def test_every_dtype_and_range_edge_matches_a_float64_reference(dtype, edge):
    lo_param, hi_param = _EDGE_RANGES[edge]
    natural = {np.uint8: (0.0, 255.0), np.uint16: (0.0, 65535.0), np.float32: (0.0, 1.0)}
    lo = natural[dtype][0] if lo_param is None else lo_param
    hi = natural[dtype][1] if hi_param is None else hi_param
    values = _edge_values(dtype)[None, :]
    # the "gray" table is the identity, so the output pixel is the colormap index
    out = FalseColor("gray", input_min=lo_param, input_max=hi_param).apply(Image(values))
    index = out.get_pixels()[0, :, 0].astype(np.int64)
    expected = _reference_index(values[0], lo, hi)
    exact = ~np.isfinite(values[0].astype(np.float64)) | (values[0] <= lo) | (values[0] >= hi)
    assert np.array_equal(index[exact], expected[exact]), (values[0][exact], index[exact])
    # one index of rounding slack inside the range (float32 vs float64 arithmetic)
    assert np.abs(index - expected).max() <= 1, (values[0], index, expected)


def test_inf_and_huge_floats_take_the_last_colour_and_nan_the_first():
    values = np.array([[np.inf, 1e38, np.finfo(np.float32).max, -np.inf, np.nan]], np.float32)
    out = FalseColor("viridis").apply(Image(values)).get_pixels("rgb")[0]
    table = get_colormap("viridis")
    assert np.array_equal(out, table[[255, 255, 255, 0, 0]])


def test_uint16_with_a_negative_input_min_is_shifted_like_the_float_path():
    values = np.array([[0, 100, 200]], np.uint16)
    out = FalseColor("gray", input_min=-100, input_max=100).apply(Image(values))
    assert out.get_pixels()[0, :, 0].tolist() == [128, 255, 255]
    as_float = FalseColor("gray", input_min=-100, input_max=100).apply(
        Image(values.astype(np.float32)))
    assert np.array_equal(out.get_pixels(), as_float.get_pixels())


def test_a_range_empty_for_uint8_still_serves_uint16_input():
    values = np.array([[0, 300, 65535]], np.uint16)
    out = FalseColor("gray", input_min=300).apply(Image(values))  # 300..65535
    assert out.get_pixels()[0, :, 0].tolist() == [0, 0, 255]
    with pytest.raises(FilterParameterError, match="empty"):
        FalseColor("gray", input_min=300).apply(Image(_ramp()))
