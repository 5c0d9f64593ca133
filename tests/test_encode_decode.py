"""Encode and Decode, including a third-party codec registered through a plugin."""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest
from imagestag_plugins.filters.decode import Decode
from imagestag_plugins.filters.encode import Encode

from imagestag_core import FilterPipeline, Image, PixelFormat, get_plugin_manager, hookimpl
from imagestag_core.codec import ImageInfo
from imagestag_core.errors import CodecError, DecodeError, FilterParameterError

RNG = np.random.default_rng(9)
RGB = RNG.integers(0, 256, (60, 80, 3), dtype=np.uint8)


@pytest.mark.parametrize("fmt", ["jpeg", "png", "webp", "bmp", "tiff"])
def test_encode_returns_an_encoded_image_that_decodes_lazily(fmt):
    out = Encode(fmt).apply(Image(RGB, metadata={"frame": 3}))
    assert out.encoded_format == fmt and out.encoded
    assert out.metadata["frame"] == 3
    assert out.size == (80, 60) and not out.is_decoded
    assert out.get_pixels().shape[:2] == (60, 80)


def test_lossless_encode_round_trips_exactly():
    out = Encode("png").apply(Image(RGB))
    assert np.array_equal(out.get_pixels("rgb"), RGB)


def test_encode_normalises_extension_names():
    assert Encode("jpg") == Encode("jpeg") and Encode("jpg").format == "jpeg"
    assert FilterPipeline.parse("encode jpg").to_string() == "encode"


def test_encode_keeps_16_bit_gray_in_png():
    gray = RNG.integers(0, 65536, (20, 30), dtype=np.uint16)
    out = Encode("png").apply(Image(gray))
    assert out.dtype == np.uint16
    assert np.array_equal(out.get_pixels(), gray)


def test_encode_refuses_float_jpeg_with_a_codec_error():
    with pytest.raises(CodecError, match="float32"):
        Encode("jpeg").apply(Image(np.zeros((4, 4), np.float32)))


def test_encode_unknown_format_is_a_parameter_error():
    with pytest.raises(FilterParameterError, match="did you mean 'jpeg'"):
        Encode("jpgeg")


def test_decode_turns_bytes_into_pixels():
    encoded = Encode("png").apply(Image(RGB, metadata={"frame": 1}))
    out = Decode().apply(encoded)
    assert out.encoded is None and out.is_decoded and out.metadata["frame"] == 1
    assert out.pixel_format is PixelFormat.BGR
    assert np.array_equal(out.get_pixels("rgb"), RGB)


def test_decode_passes_pixel_images_through():
    img = Image(RGB)
    assert Decode().apply(img) is img
    assert Decode(reduce=4).apply(img).size == (20, 15)


@pytest.mark.parametrize("fmt", ["jpeg", "png"])
@pytest.mark.parametrize("reduce", [2, 4, 8])
def test_decode_reduce_shrinks_to_ceil_size(fmt, reduce):
    encoded = Image(Encode(fmt).apply(Image(np.zeros((301, 403, 3), np.uint8))).encoded)
    out = Decode(reduce=reduce).apply(encoded)
    assert out.size == (-(-403 // reduce), -(-301 // reduce))


def test_decode_of_corrupt_bytes_raises_decode_error():
    data = Encode("png").apply(Image(RGB)).encoded
    with pytest.raises(DecodeError):
        Decode().apply(Image(data[:60]))


# -- a third-party codec -------------------------------------------------------------

class RawCodec:
    """``RAW1`` + width, height, channels (uint16 each) + uint8 pixels, RGB or GRAY."""

    name = "rawtest"
    extensions = (".rawtest",)
    mime_type = "application/x-rawtest"

    def sniff(self, data: bytes) -> bool:
        return data[:4] == b"RAW1"

    def probe(self, data: bytes) -> ImageInfo:
        if len(data) < 10 or not self.sniff(data):
            raise DecodeError("not rawtest data")
        w, h, c = struct.unpack_from("<HHH", data, 4)
        return ImageInfo(w, h, PixelFormat.RGB if c == 3 else PixelFormat.GRAY)

    def decode(self, data: bytes, *, reduce: int = 1) -> tuple[np.ndarray, PixelFormat]:
        info = self.probe(data)
        c = 3 if info.pixel_format is PixelFormat.RGB else 1
        pixels = np.frombuffer(data, np.uint8, offset=10).reshape(info.height, info.width, c)
        return (pixels if c == 3 else pixels[:, :, 0]), info.pixel_format

    def encode(self, pixels: np.ndarray, pixel_format: PixelFormat,
               options: Mapping[str, Any]) -> bytes:
        if pixel_format is not PixelFormat.GRAY:
            pixels = Image(pixels, pixel_format).get_pixels("rgb")
        c = 1 if pixels.ndim == 2 else 3
        return b"RAW1" + struct.pack("<HHH", pixels.shape[1], pixels.shape[0], c) + \
            pixels.tobytes()


class RawCodecPlugin:
    @hookimpl
    def register_codecs(self, register):
        register(RawCodec())


@pytest.fixture
def raw_codec():
    manager = get_plugin_manager()
    name = manager.register_plugin(RawCodecPlugin(), name="rawtest_plugin")
    yield
    manager.unregister_plugin(name)


def test_third_party_codec_round_trips_through_image_encode_and_decode(raw_codec):
    encoded = Encode("rawtest").apply(Image(RGB, metadata={"frame": 2}))
    assert encoded.encoded_format == "rawtest" and encoded.encoded.startswith(b"RAW1")
    reopened = Image(encoded.encoded)  # found by sniffing
    assert reopened.encoded_format == "rawtest" and reopened.size == (80, 60)
    decoded = Decode().apply(reopened)
    assert np.array_equal(decoded.get_pixels("rgb"), RGB)
    pipeline = FilterPipeline.parse("encode rawtest | decode")
    assert np.array_equal(pipeline.apply(Image(RGB)).get_pixels("rgb"), RGB)


def test_third_party_codec_is_gone_after_unregistering():
    with pytest.raises(FilterParameterError):
        Encode("rawtest")
