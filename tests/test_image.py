"""Image from arrays and PIL images: formats, zero-copy read-only views, clear errors."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image as PILImage

from imagestag_core import Image, ImageError, PixelFormat


@pytest.mark.parametrize("shape, fmt", [
    ((4, 5), PixelFormat.GRAY), ((4, 5, 1), PixelFormat.GRAY), ((4, 5, 3), PixelFormat.RGB),
    ((4, 5, 4), PixelFormat.RGBA),
])
def test_format_is_inferred_from_the_shape(shape: tuple[int, ...], fmt: PixelFormat) -> None:
    img = Image(np.zeros(shape, np.uint8))
    assert img.pixel_format is fmt
    assert img.size == (5, 4) and img.width == 5 and img.height == 4


def test_pixel_format_accepts_names() -> None:
    assert Image(np.zeros((2, 2, 3), np.uint8), pixel_format="bgr").pixel_format is PixelFormat.BGR
    assert PixelFormat("Gray") is PixelFormat.GRAY
    assert PixelFormat.parse("grey") is PixelFormat.GRAY


def test_array_is_viewed_read_only_without_copying() -> None:
    array = np.zeros((1000, 1000, 3), np.uint8)
    img = Image(array)
    pixels = img.get_pixels()
    assert np.shares_memory(pixels, array)
    assert not pixels.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        pixels[0, 0, 0] = 1
    assert array.flags.writeable  # the caller's array is untouched


def test_copy_true_detaches_from_the_callers_array() -> None:
    array = np.zeros((3, 3), np.uint8)
    img = Image(array, copy=True)
    array[0, 0] = 9
    assert img.get_pixels()[0, 0] == 0


def test_get_pixels_in_the_same_format_returns_the_same_array() -> None:
    img = Image(np.zeros((3, 3, 3), np.uint8))
    assert img.get_pixels("rgb") is img.get_pixels()


def test_convert_between_formats() -> None:
    rgb = np.zeros((2, 2, 3), np.uint8)
    rgb[..., 0] = 200
    img = Image(rgb)
    bgr = img.convert("bgr")
    assert bgr.pixel_format is PixelFormat.BGR
    assert bgr.get_pixels()[0, 0].tolist() == [0, 0, 200]
    assert img.get_pixels("rgba").shape == (2, 2, 4)
    assert img.convert(PixelFormat.GRAY).get_pixels().shape == (2, 2)


@pytest.mark.parametrize("dtype", [np.uint16, np.float32])
def test_gray_supports_uint16_and_float32(dtype: type) -> None:
    img = Image(np.zeros((3, 4), dtype))
    assert img.dtype == dtype and img.pixel_format is PixelFormat.GRAY


def test_high_bit_depth_gray_cannot_silently_become_colour() -> None:
    with pytest.raises(ImageError, match="FalseColor"):
        Image(np.zeros((3, 4), np.uint16)).get_pixels("rgb")


@pytest.mark.parametrize("array, fragment", [
    (np.zeros((3, 4, 3), np.float32), "dtype"),
    (np.zeros((3, 4), np.int64), "dtype"),
    (np.zeros((3, 4, 3), np.uint16), "dtype"),
    (np.zeros((3, 4, 2), np.uint8), "infer"),
    (np.zeros((3,), np.uint8), "infer"),
    (np.zeros((0, 4, 3), np.uint8), "at least 1x1"),
])
def test_bad_arrays_get_a_clear_error(array: np.ndarray, fragment: str) -> None:
    with pytest.raises(ImageError, match=fragment):
        Image(array)


def test_format_channel_mismatch_is_an_error() -> None:
    with pytest.raises(ImageError, match=r"\(H, W, 4\)"):
        Image(np.zeros((2, 2, 3), np.uint8), pixel_format="rgba")


def test_unknown_source_type_is_an_error() -> None:
    with pytest.raises(ImageError, match="cannot make an Image from int"):
        Image(42)


def test_unknown_pixel_format_name() -> None:
    with pytest.raises(ImageError, match="unknown pixel format 'cmyk'"):
        Image(np.zeros((2, 2, 3), np.uint8), pixel_format="cmyk")


def test_non_contiguous_arrays_are_made_contiguous() -> None:
    array = np.arange(48, dtype=np.uint8).reshape(4, 4, 3)[:, ::2]
    img = Image(array)
    assert img.get_pixels().flags.c_contiguous
    assert np.array_equal(img.get_pixels(), array)


@pytest.mark.parametrize("mode, fmt, dtype", [
    ("RGB", PixelFormat.RGB, np.uint8), ("RGBA", PixelFormat.RGBA, np.uint8),
    ("L", PixelFormat.GRAY, np.uint8), ("I;16", PixelFormat.GRAY, np.uint16),
    ("F", PixelFormat.GRAY, np.float32), ("P", PixelFormat.RGB, np.uint8),
    ("CMYK", PixelFormat.RGB, np.uint8), ("1", PixelFormat.GRAY, np.uint8),
])
def test_pil_images_of_common_modes(mode: str, fmt: PixelFormat, dtype: type) -> None:
    pil = PILImage.new(mode, (7, 5))
    img = Image(pil)
    assert img.pixel_format is fmt and img.dtype == dtype and img.size == (7, 5)


def test_to_pil_round_trips_pixels() -> None:
    array = np.random.default_rng(1).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    img = Image(array, pixel_format="bgr")
    pil = img.to_pil()
    assert pil.mode == "RGB"
    assert np.array_equal(np.asarray(pil), array[..., ::-1])
    gray16 = Image(np.full((3, 3), 40000, np.uint16)).to_pil()
    assert np.asarray(gray16)[0, 0] == 40000


def test_an_image_is_always_truthy_and_metadata_is_read_only() -> None:
    img = Image(np.zeros((1, 1), np.uint8), metadata={"frame": 3})
    assert img
    assert img.metadata["frame"] == 3
    with pytest.raises(TypeError):
        img.metadata["frame"] = 4  # type: ignore[index]
    assert img.with_metadata(frame=4).metadata["frame"] == 4
    assert img.metadata["frame"] == 3


def test_derive_keeps_metadata() -> None:
    img = Image(np.zeros((2, 2, 3), np.uint8), metadata={"k": "v"})
    out = img.derive(np.ones((4, 4, 3), np.uint8))
    assert out.metadata == {"k": "v"} and out.size == (4, 4)
