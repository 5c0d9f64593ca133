"""The pixel and file-size limits: their switches, arrays, and filter outputs."""

from __future__ import annotations

import numpy as np
import pytest
from imagestag_plugins.filters.resize import Resize

from imagestag_core import Image
from imagestag_core.errors import DecompressionBombError, FilterParameterError, ImagestagError
from imagestag_core.limits import (
    DEFAULT_MAX_PIXELS,
    get_max_file_bytes,
    get_max_pixels,
    set_max_pixels,
)


@pytest.mark.parametrize("value", ["-5", "-0", "1.5", "1e9", "abc", "+5", "12 34", "0x10"])
@pytest.mark.parametrize("variable", ["IMAGESTAG_MAX_PIXELS", "IMAGESTAG_MAX_FILE_BYTES"])
def test_an_invalid_limit_switch_is_an_error_not_off(monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    getter = get_max_pixels if variable == "IMAGESTAG_MAX_PIXELS" else get_max_file_bytes
    with pytest.raises(ImagestagError, match=variable):
        getter()


def test_an_invalid_pixel_switch_stops_an_image_from_being_made(monkeypatch):
    monkeypatch.setenv("IMAGESTAG_MAX_PIXELS", "-5")
    with pytest.raises(ImagestagError, match="non-negative"):
        Image(np.zeros((2, 2), np.uint8))


@pytest.mark.parametrize("value, expected", [("0", 0), (" 1_000 ", 1000), ("", None)])
def test_valid_limit_switches(monkeypatch, value, expected):
    monkeypatch.setenv("IMAGESTAG_MAX_PIXELS", value)
    assert get_max_pixels() == (DEFAULT_MAX_PIXELS if expected is None else expected)


def test_the_file_limit_follows_the_pixel_limit_by_default(monkeypatch):
    monkeypatch.delenv("IMAGESTAG_MAX_FILE_BYTES", raising=False)
    monkeypatch.setenv("IMAGESTAG_MAX_PIXELS", "1000")
    assert get_max_file_bytes() == 8 * 1000 + (64 << 20)
    monkeypatch.setenv("IMAGESTAG_MAX_PIXELS", "0")
    assert get_max_file_bytes() == 0


@pytest.mark.timeout(20)
def test_an_array_over_the_pixel_limit_is_refused_before_any_copy():
    # 10^10 pixels as a zero-byte broadcast view: copying it would need 28 GiB
    view = np.broadcast_to(np.zeros(3, np.uint8), (100_000, 100_000, 3))
    with pytest.raises(DecompressionBombError, match="an array of 100000x100000"):
        Image(view)
    with pytest.raises(DecompressionBombError):
        Image(view, copy=True)


def test_the_array_limit_follows_set_max_pixels():
    try:
        set_max_pixels(99)
        with pytest.raises(DecompressionBombError):
            Image(np.zeros((10, 10), np.uint8))
        set_max_pixels(0)
        assert Image(np.zeros((10, 10), np.uint8)).size == (10, 10)
    finally:
        set_max_pixels(None)


@pytest.mark.timeout(20)
@pytest.mark.parametrize("resize, parameter", [(Resize(size=(65535, 65535)), "size"),
                                               (Resize(scale=64), "scale")])
def test_resize_past_the_pixel_limit_names_the_filter(resize, parameter):
    image = Image(np.zeros((1100, 1100, 3), np.uint8))
    with pytest.raises(FilterParameterError, match="pixel limit") as info:
        resize.apply(image)
    assert (info.value.filter_name, info.value.parameter) == ("resize", parameter)


@pytest.mark.timeout(20)
def test_resize_past_opencvs_limit_names_the_filter_when_the_pixel_limit_is_off():
    try:
        set_max_pixels(0)
        with pytest.raises(FilterParameterError, match="OpenCV") as info:
            Resize(size=(65535, 65535)).apply(Image(np.zeros((4, 4), np.uint8)))
        assert info.value.filter_name == "resize"
    finally:
        set_max_pixels(None)
