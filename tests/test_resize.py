"""Resize: parameter forms, modes, dtypes and the quality of the auto downscale."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from imagestag_plugins.filters.resize import Resize, resize_array

from imagestag_core import FilterPipeline, Image, PixelFormat
from imagestag_core.errors import FilterParameterError, SpecError


def _photo(w: int, h: int) -> np.ndarray:
    rng = np.random.default_rng(11)
    img = np.zeros((h, w, 3), np.float32)
    for octave, amp in [(6, 60), (24, 35), (96, 20), (w // 4, 12)]:
        small = rng.normal(0, 1, (octave * h // w + 2, octave + 2, 3)).astype(np.float32)
        img += amp * cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    img += rng.normal(0, 3, (h, w, 1)).astype(np.float32)
    return np.clip(img + 128, 0, 255).astype(np.uint8)


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b) ** 2)
    return float(10 * np.log10(255.0**2 / mse))


def test_positional_number_is_a_scale_and_tuple_is_a_size():
    assert Resize(0.5).scale == 0.5 and Resize(0.5).size is None
    assert Resize((1920, 1080)).size == (1920, 1080)
    assert Resize((640, 480), "fit").mode == "fit"


def test_spec_sizes_and_one_sided_sizes_parse():
    assert FilterPipeline.parse("resize 1920x1080").filters[0] == Resize(size=(1920, 1080))
    assert FilterPipeline.parse("resize 1920x").filters[0] == Resize(size=(1920, None))
    assert FilterPipeline.parse("resize x1080").filters[0] == Resize(size=(None, 1080))
    assert FilterPipeline.parse("resize 0.25").filters[0] == Resize(scale=0.25)
    for f in [Resize(size=(1920, None)), Resize((8, 6), "pad", "area", (1.0, 2.0, 3.0)),
              Resize(0.5, interpolation="lanczos")]:
        assert FilterPipeline.parse(FilterPipeline([f]).to_string()).filters[0] == f


@pytest.mark.parametrize("kwargs", [{}, {"size": (10, 10), "scale": 0.5},
                                    {"size": (None, None)}, {"scale": 0.5, "mode": "fit"},
                                    {"size": (10, 10), "pad_color": (1.0, 2.0)}])
def test_invalid_combinations_are_rejected(kwargs):
    with pytest.raises(FilterParameterError):
        Resize(**kwargs)


def test_bad_spec_raises_spec_error():
    with pytest.raises(SpecError):
        FilterPipeline.parse("resize 1920x1080 mode=stretch")


@pytest.mark.parametrize("size,mode,expected", [
    ((100, 100), "exact", (100, 100)),
    ((100, 100), "fit", (100, 50)),
    ((100, 100), "fill", (100, 100)),
    ((100, 100), "pad", (100, 100)),
    ((100, None), "exact", (100, 50)),
    ((None, 30), "exact", (60, 30)),
    ((400, 400), "fit", (400, 200)),
])
def test_output_sizes_per_mode(size, mode, expected):
    img = Image(np.zeros((80, 160, 3), np.uint8))
    assert Resize(size=size, mode=mode).apply(img).size == expected


def test_scale_rounds_and_never_reaches_zero():
    img = Image(np.zeros((3, 5), np.uint8))
    assert Resize(0.5).apply(img).size == (2, 2)
    assert Resize(0.001).apply(img).size == (1, 1)


def test_pad_letterboxes_with_the_rgb_colour_in_any_channel_order():
    white = np.full((50, 100, 3), 255, np.uint8)
    for fmt, expected in [(PixelFormat.RGB, (10, 20, 30)), (PixelFormat.BGR, (30, 20, 10))]:
        out = Resize((100, 100), mode="pad", pad_color=(10, 20, 30)).apply(
            Image(white, fmt)).get_pixels()
        assert tuple(out[0, 0]) == expected and tuple(out[99, 99]) == expected
        assert tuple(out[50, 50]) == (255, 255, 255)
        assert (out[:, 50] == 255).all(axis=1).sum() == 50


def test_fill_crops_the_centre_to_the_target_aspect():
    src = np.zeros((100, 300), np.uint8)
    src[:, 100:200] = 255  # a white centre square between black side bands
    out = Resize((50, 50), mode="fill", interpolation="nearest").apply(Image(src)).get_pixels()
    assert (out == 255).all()


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
@pytest.mark.parametrize("interpolation", ["auto", "nearest", "linear", "cubic", "area",
                                           "lanczos"])
def test_gray_dtypes_are_kept(dtype, interpolation):
    src = (np.arange(120 * 90).reshape(90, 120) % 200).astype(dtype)
    for size in [(30, 20), (50, 40), (300, 200)]:
        out = Resize(size, interpolation=interpolation).apply(Image(src))
        assert out.size == size and out.dtype == np.dtype(dtype)
        assert out.pixel_format is PixelFormat.GRAY


@pytest.mark.parametrize("fmt", ["rgb", "rgba", "bgr", "bgra"])
def test_colour_formats_are_kept(fmt):
    channels = PixelFormat(fmt).channels
    src = Image(np.zeros((90, 120, channels), np.uint8), fmt)
    out = Resize((37, 29), mode="pad").apply(src)
    assert out.pixel_format is PixelFormat(fmt) and out.get_pixels().shape == (29, 37, channels)


def test_metadata_is_kept():
    src = Image(np.zeros((20, 20, 3), np.uint8), metadata={"frame": 4})
    assert Resize(0.5).apply(src).metadata["frame"] == 4


def test_same_size_returns_the_input():
    src = Image(np.zeros((20, 30, 3), np.uint8))
    assert Resize((30, 20)).apply(src) is src


def test_exact_integer_factor_matches_inter_area():
    src = _photo(640, 480)
    expected = cv2.resize(src, (160, 120), interpolation=cv2.INTER_AREA)
    assert np.array_equal(resize_array(src, (160, 120)), expected)


def test_auto_downscale_is_much_closer_to_inter_area_than_inter_linear():
    src = _photo(1369, 913)  # the seed's 5478x3650 -> 1920x1080 ratio, at 1/4 size
    reference = cv2.resize(src, (480, 270), interpolation=cv2.INTER_AREA)
    auto = _psnr(resize_array(src, (480, 270)), reference)
    linear = _psnr(cv2.resize(src, (480, 270), interpolation=cv2.INTER_LINEAR), reference)
    assert auto >= linear + 5.0, (auto, linear)


def test_auto_crop_for_the_fast_path_is_below_the_factor():
    src = np.zeros((301, 403), np.uint8)
    src[:, 0] = 255  # the leftmost column is cropped away (403 % 2 == 1, centred crop 0)
    out = resize_array(src, (100, 75))
    assert out.shape == (75, 100)


@pytest.mark.parametrize("ratio", [1.1, 1.3, 1.5, 1.69, 1.9])
def test_auto_downscale_below_2x_stays_close_to_inter_area(ratio):
    # what a shrink-on-load decode leaves: a photo decoded at 1/2, then shrunk < 2x;
    # the truth is the full-size photo area-averaged straight to the target
    from imagestag_plugins.app.samples import photo_like_array

    full = photo_like_array(2740, 1826, seed=4)
    src = cv2.resize(full, (1370, 913), interpolation=cv2.INTER_AREA)
    size = (int(1370 / ratio), int(913 / ratio))
    truth = cv2.resize(full.astype(np.float32), size, interpolation=cv2.INTER_AREA)
    auto = _psnr(resize_array(src, size), truth)
    area = _psnr(cv2.resize(src, size, interpolation=cv2.INTER_AREA), truth)
    assert auto >= area - 1.5, (auto, area)
