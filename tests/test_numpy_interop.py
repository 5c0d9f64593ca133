"""numpy and Pillow interop: ``np.asarray(image)``, ``to_numpy(fmt)``, ``from_pil``/``to_pil``."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image as PILImage

from imagestag_core import Image, PixelFormat


def _rgb() -> np.ndarray:
    return np.random.default_rng(3).integers(0, 256, (6, 8, 3), dtype=np.uint8)


@pytest.mark.parametrize("array", [
    np.random.default_rng(1).integers(0, 256, (5, 7), dtype=np.uint8),
    np.random.default_rng(2).integers(0, 256, (5, 7, 4), dtype=np.uint8),
    np.random.default_rng(3).integers(0, 65536, (5, 7), dtype=np.uint16),
    np.random.default_rng(4).random((5, 7), dtype=np.float32),
    _rgb(),
], ids=["gray", "rgba", "gray16", "float32", "rgb"])
def test_asarray_of_an_array_image_is_that_array_without_a_copy(array: np.ndarray) -> None:
    out = np.asarray(Image(array))
    assert out.dtype == array.dtype and np.array_equal(out, array)
    assert np.shares_memory(out, array)
    assert not out.flags.writeable


def test_asarray_gives_the_internal_channel_order() -> None:
    bgr = _rgb()
    image = Image(bgr, "bgr")
    assert np.shares_memory(np.asarray(image), bgr)
    assert np.array_equal(image.to_numpy("rgb"), bgr[:, :, ::-1])
    assert np.array_equal(image.to_numpy("bgr"), bgr)


def test_a_decoded_png_is_bgr_inside_and_to_numpy_rgb_gives_rgb() -> None:
    rgb = _rgb()
    decoded = Image(Image(rgb).encode("png"))
    assert decoded.pixel_format is PixelFormat.BGR
    assert np.array_equal(np.asarray(decoded), rgb[:, :, ::-1])
    assert np.array_equal(decoded.to_numpy("rgb"), rgb)
    assert np.array_equal(np.asarray(decoded.to_pil()), rgb)


def test_to_numpy_converts_to_every_pixel_format() -> None:
    image = Image(_rgb())
    shapes = {fmt: image.to_numpy(fmt).shape for fmt in ("rgb", "bgr", "rgba", "bgra", "gray")}
    assert shapes == {"rgb": (6, 8, 3), "bgr": (6, 8, 3), "rgba": (6, 8, 4),
                      "bgra": (6, 8, 4), "gray": (6, 8)}
    assert np.array_equal(image.to_numpy("rgba")[:, :, :3], image.to_numpy())
    assert (image.to_numpy("bgra")[:, :, 3] == 255).all()
    assert image.to_numpy(PixelFormat.RGB) is image.to_numpy()  # no conversion, no copy


def test_to_numpy_copy_is_writable_and_independent() -> None:
    array = _rgb()
    out = Image(array).to_numpy("rgb", copy=True)
    assert out.flags.writeable and not np.shares_memory(out, array)
    with pytest.raises(ValueError, match="read-only"):
        Image(array).to_numpy()[0, 0, 0] = 1


def test_the_numpy2_dtype_and_copy_keywords() -> None:
    array = _rgb()
    image = Image(array)
    assert np.shares_memory(np.asarray(image, dtype=np.uint8), array)
    as_float = np.asarray(image, dtype=np.float32)
    assert as_float.dtype == np.float32 and np.array_equal(as_float, array)
    copied = np.array(image)  # copy=True
    assert copied.flags.writeable and not np.shares_memory(copied, array)
    assert np.shares_memory(np.array(image, copy=False), array)
    with pytest.raises(ValueError, match="needs a copy"):
        np.array(image, dtype=np.float32, copy=False)


def test_an_encoded_image_decodes_once_for_asarray() -> None:
    image = Image(Image(_rgb()).encode("png"))
    assert not image.is_decoded
    first = np.asarray(image)
    assert image.is_decoded and np.asarray(image) is first


@pytest.mark.parametrize(("array", "fmt", "mode"), [
    (_rgb(), "rgb", "RGB"),
    (_rgb(), "bgr", "RGB"),
    (np.random.default_rng(5).integers(0, 256, (6, 8, 4), dtype=np.uint8), "rgba", "RGBA"),
    (np.random.default_rng(6).integers(0, 256, (6, 8, 4), dtype=np.uint8), "bgra", "RGBA"),
    (np.random.default_rng(7).integers(0, 256, (6, 8), dtype=np.uint8), "gray", "L"),
    (np.random.default_rng(8).integers(0, 65536, (6, 8), dtype=np.uint16), "gray", "I;16"),
    (np.random.default_rng(9).random((6, 8), dtype=np.float32), "gray", "F"),
])
def test_to_pil_and_from_pil_round_trip(array: np.ndarray, fmt: str, mode: str) -> None:
    image = Image(array, fmt)
    pil = image.to_pil()
    assert pil.mode == mode and pil.size == image.size
    back = Image.from_pil(pil)
    rgb_order = {"bgr": "rgb", "bgra": "rgba"}.get(fmt, fmt)
    assert back.pixel_format is PixelFormat(rgb_order)
    assert np.array_equal(np.asarray(back), image.to_numpy(rgb_order))
    assert np.array_equal(np.asarray(pil), image.to_numpy(rgb_order))


def test_from_pil_pixels_equal_the_pil_array_and_take_metadata() -> None:
    pil = PILImage.fromarray(_rgb())
    image = Image.from_pil(pil, metadata={"frame": 4})
    assert np.array_equal(np.asarray(image), np.asarray(pil))
    assert image.pixel_format is PixelFormat.RGB and image.metadata["frame"] == 4
