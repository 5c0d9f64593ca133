"""The built-in OpenCV codecs: probe == decode, round trips, orientation, errors."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from imagestag_plugins.codecs.opencv_codecs import (
    CODECS,
    BmpCodec,
    JpegCodec,
    PngCodec,
    TiffCodec,
    WebpCodec,
)
from PIL import Image as PILImage
from PIL import ImageOps

from imagestag_core import PixelFormat
from imagestag_core.errors import CodecError, DecodeError

F = PixelFormat
RNG = np.random.default_rng(3)
RGB = RNG.integers(0, 256, (37, 53, 3), dtype=np.uint8)
RGBA = RNG.integers(0, 256, (37, 53, 4), dtype=np.uint8)
GRAY8 = RNG.integers(0, 256, (37, 53), dtype=np.uint8)
GRAY16 = RNG.integers(0, 65536, (37, 53), dtype=np.uint16)
GRAY32 = RNG.random((37, 53)).astype(np.float32)

INPUTS = [(RGB, F.RGB), (RGBA, F.RGBA), (GRAY8, F.GRAY), (GRAY16, F.GRAY), (GRAY32, F.GRAY)]
# (codec, input index) -> (pixel format, dtype) that decoding gives back
EXPECTED = {
    "jpeg": [(F.BGR, "uint8"), (F.BGR, "uint8"), (F.GRAY, "uint8"), None, None],
    "png": [(F.BGR, "uint8"), (F.BGRA, "uint8"), (F.GRAY, "uint8"), (F.GRAY, "uint16"), None],
    "webp": [(F.BGR, "uint8"), (F.BGRA, "uint8"), (F.BGR, "uint8"), None, None],
    "bmp": [(F.BGR, "uint8"), (F.BGR, "uint8"), (F.BGR, "uint8"), None, None],
    "tiff": [(F.BGR, "uint8"), (F.BGRA, "uint8"), (F.GRAY, "uint8"), (F.GRAY, "uint16"),
             (F.GRAY, "float32")],
    "avif": [(F.BGR, "uint8"), (F.BGRA, "uint8"), (F.GRAY, "uint8"), None, None],
}


@pytest.mark.parametrize("codec", CODECS, ids=lambda c: c.name)
@pytest.mark.parametrize("index", range(len(INPUTS)))
def test_probe_announces_exactly_what_decode_returns(codec, index):
    pixels, fmt = INPUTS[index]
    expected = EXPECTED[codec.name][index]
    if expected is None:
        with pytest.raises(CodecError, match=str(pixels.dtype)):
            codec.encode(pixels, fmt, {})
        return
    data = codec.encode(pixels, fmt, {})
    assert codec.sniff(data[:64])
    info = codec.probe(data)
    decoded, decoded_fmt = codec.decode(data)
    assert (info.pixel_format, str(info.dtype)) == (decoded_fmt, str(decoded.dtype)) == expected
    assert (info.width, info.height) == (decoded.shape[1], decoded.shape[0]) == (53, 37)


@pytest.mark.parametrize("codec", [PngCodec(), TiffCodec(), BmpCodec()], ids=lambda c: c.name)
def test_lossless_codecs_round_trip_rgb_exactly(codec):
    decoded, _ = codec.decode(codec.encode(RGB, F.RGB, {}))
    assert np.array_equal(cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB), RGB)


def test_png_keeps_16_bit_gray_and_tiff_keeps_float32():
    png = PngCodec()
    assert np.array_equal(png.decode(png.encode(GRAY16, F.GRAY, {}))[0], GRAY16)
    tiff = TiffCodec()
    assert np.array_equal(tiff.decode(tiff.encode(GRAY32, F.GRAY, {}))[0], GRAY32)


def test_png_alpha_survives_and_jpeg_drops_it():
    png = PngCodec()
    decoded, fmt = png.decode(png.encode(RGBA, F.RGBA, {}))
    assert fmt is F.BGRA
    assert np.array_equal(cv2.cvtColor(decoded, cv2.COLOR_BGRA2RGBA), RGBA)
    jpeg = JpegCodec()
    from_rgba = jpeg.decode(jpeg.encode(RGBA, F.RGBA, {}))[0]
    from_rgb = jpeg.decode(jpeg.encode(RGBA[:, :, :3].copy(), F.RGB, {}))[0]
    assert np.array_equal(from_rgba, from_rgb)


def test_jpeg_quality_and_subsampling_change_the_output():
    jpeg = JpegCodec()
    smooth = cv2.resize(RGB, (400, 300), interpolation=cv2.INTER_CUBIC)
    low = jpeg.encode(smooth, F.RGB, {"quality": 30})
    high = jpeg.encode(smooth, F.RGB, {"quality": 95})
    full_chroma = jpeg.encode(smooth, F.RGB, {"quality": 95, "subsampling": "4:4:4"})
    assert len(low) < len(high) < len(full_chroma)


@pytest.mark.parametrize("options", [{"quality": 0}, {"quality": 101}, {"quality": "high"},
                                     {"subsampling": "4:1:1"}])
def test_bad_jpeg_options_raise_codec_error(options):
    with pytest.raises(CodecError):
        JpegCodec().encode(RGB, F.RGB, options)


def test_png_compression_level_is_validated():
    with pytest.raises(CodecError, match="compression"):
        PngCodec().encode(RGB, F.RGB, {"compression": 10})


def _exif_encoded(fmt: str, orientation: int) -> bytes:
    pixels = RNG.integers(0, 256, (40, 60, 3), dtype=np.uint8)
    pixels[:10, :20] = (255, 0, 0)  # a marker in the stored top-left corner
    exif = PILImage.Exif()
    exif[274] = orientation
    buffer = io.BytesIO()
    extra = {"lossless": True} if fmt == "WEBP" else {"quality": 100} if fmt == "JPEG" else {}
    PILImage.fromarray(pixels).save(buffer, fmt, exif=exif.tobytes(), **extra)
    return buffer.getvalue()


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "TIFF"])
@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied_like_pillow_exif_transpose(fmt, orientation):
    data = _exif_encoded(fmt, orientation)
    codec = next(c for c in CODECS if c.sniff(data[:64]))
    info = codec.probe(data)
    decoded, _ = codec.decode(data)
    reference = np.asarray(ImageOps.exif_transpose(PILImage.open(io.BytesIO(data)).convert("RGB")))
    assert info.orientation == orientation
    assert (info.width, info.height) == (decoded.shape[1], decoded.shape[0])
    assert np.array_equal(cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB), reference)


@pytest.mark.parametrize("reduce", [2, 4, 8])
def test_jpeg_shrinks_on_load(reduce):
    jpeg = JpegCodec()
    data = jpeg.encode(np.zeros((301, 403, 3), np.uint8), F.BGR, {})
    decoded, _ = jpeg.decode(data, reduce=reduce)
    assert decoded.shape[:2] == (-(-301 // reduce), -(-403 // reduce))


def test_reduced_jpeg_decode_still_applies_orientation():
    decoded, _ = JpegCodec().decode(_exif_encoded("JPEG", 6), reduce=2)
    assert decoded.shape[:2] == (30, 20)


def test_codecs_without_shrink_on_load_decode_at_full_size():
    png = PngCodec()
    assert png.decode(png.encode(RGB, F.RGB, {}), reduce=4)[0].shape[:2] == (37, 53)
    with pytest.raises(CodecError, match="reduce"):
        png.decode(png.encode(RGB, F.RGB, {}), reduce=3)


def _header_only(codec, data: bytes) -> bytes:
    if isinstance(codec, JpegCodec):
        return data[:codec._scan(data)[1]]
    return data[:{"png": 33, "webp": 30, "bmp": 26}[codec.name]]


@pytest.mark.parametrize("codec", [JpegCodec(), PngCodec(), WebpCodec(), BmpCodec()],
                         ids=lambda c: c.name)
def test_probe_needs_only_the_header(codec):
    data = codec.encode(RGB, F.RGB, {})
    assert codec.probe(_header_only(codec, data)) == codec.probe(data)


@pytest.mark.parametrize("codec", CODECS, ids=lambda c: c.name)
def test_truncated_data_raises_decode_error(codec):
    data = codec.encode(cv2.resize(RGB, (200, 150)), F.RGB, {})
    with pytest.raises(DecodeError):
        codec.decode(data[: len(data) // 2])


@pytest.mark.parametrize("codec", CODECS, ids=lambda c: c.name)
def test_garbage_after_the_magic_raises_decode_error(codec):
    data = codec.encode(RGB, F.RGB, {})
    corrupt = data[:12] + bytes(range(256)) * 4
    with pytest.raises(DecodeError):
        codec.decode(corrupt)


def test_probe_rejects_foreign_data():
    for codec in CODECS:
        with pytest.raises(DecodeError):
            codec.probe(b"GIF89a" + bytes(64))
