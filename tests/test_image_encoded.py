"""Images made from files and bytes: header-only size, lazy decode, errors, bomb limit."""

from __future__ import annotations

import io
import struct
import threading
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image as PILImage

from imagestag_core import Image, PixelFormat
from imagestag_core.errors import DecodeError, DecompressionBombError, ImageFileNotFoundError
from imagestag_core.image import DEFAULT_MAX_PIXELS, get_max_pixels, set_max_pixels


def _jpeg(width: int = 64, height: int = 48, orientation: int | None = None) -> bytes:
    pixels = np.random.default_rng(1).integers(0, 256, (height, width, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    kwargs = {}
    if orientation is not None:
        exif = PILImage.Exif()
        exif[274] = orientation
        kwargs["exif"] = exif.tobytes()
    PILImage.fromarray(pixels).save(buffer, "JPEG", quality=95, **kwargs)
    return buffer.getvalue()


def _png_header(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims ``width`` x ``height``, with a tiny (invalid) body."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr
    chunk += struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    idat = zlib.compress(b"\x00" * 64)
    body = struct.pack(">I", len(idat)) + b"IDAT" + idat
    body += struct.pack(">I", zlib.crc32(b"IDAT" + idat))
    return b"\x89PNG\r\n\x1a\n" + chunk + body


@pytest.fixture
def restore_limit():
    yield
    set_max_pixels(None)


def test_image_from_bytes_knows_its_size_without_decoding():
    img = Image(_jpeg(64, 48))
    assert img.size == (64, 48)
    assert img.pixel_format is PixelFormat.BGR
    assert img.encoded_format == "jpeg"
    assert not img.is_decoded


def test_image_from_a_path_reads_the_file_and_records_the_path(tmp_path):
    path = tmp_path / "photo.jpg"
    path.write_bytes(_jpeg(30, 20))
    img = Image(path)
    assert img.size == (30, 20)
    assert img.metadata["path"] == str(path)
    assert img.get_pixels().shape == (20, 30, 3)


def test_exif_orientation_is_applied_to_size_and_pixels():
    img = Image(_jpeg(64, 48, orientation=6))
    assert img.size == (48, 64)
    assert img.get_pixels().shape == (64, 48, 3)


@pytest.mark.timeout(60)
def test_concurrent_get_pixels_decodes_once_and_shares_the_array():
    img = Image(_jpeg(640, 480))
    threads = 8
    barrier = threading.Barrier(threads)
    results: list[np.ndarray] = []
    lock = threading.Lock()

    def read() -> None:
        barrier.wait(timeout=30)
        pixels = img.get_pixels()
        with lock:
            results.append(pixels)

    workers = [threading.Thread(target=read) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)
    assert len(results) == threads
    assert all(r is results[0] for r in results)
    assert not results[0].flags.writeable


def test_decoded_pixels_match_opencv():
    data = _jpeg(64, 48)
    expected = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert np.array_equal(Image(data).get_pixels(), expected)


def test_corrupt_bytes_raise_decode_error():
    with pytest.raises(DecodeError):
        Image(b"this is not an image at all")
    data = _jpeg(200, 150)
    truncated = Image(data[: len(data) // 2])  # the header is intact: size is known
    assert truncated.size == (200, 150)
    with pytest.raises(DecodeError):
        truncated.get_pixels()


def test_missing_file_raises_image_file_not_found(tmp_path):
    with pytest.raises(ImageFileNotFoundError, match=r"missing\.png"):
        Image(tmp_path / "missing.png")


def test_decompression_bomb_is_refused_from_the_header(restore_limit):
    data = _png_header(100_000, 100_000)  # 10 gigapixels claimed in ~100 bytes
    with pytest.raises(DecompressionBombError) as info:
        Image(data)
    assert (info.value.width, info.value.height) == (100_000, 100_000)
    assert info.value.limit == DEFAULT_MAX_PIXELS


def test_pixel_limit_is_settable_through_the_api(restore_limit):
    data = _png_header(1000, 1000)
    set_max_pixels(999_999)
    with pytest.raises(DecompressionBombError):
        Image(data)
    set_max_pixels(1_000_000)
    assert Image(data).size == (1000, 1000)
    set_max_pixels(0)  # disabled
    assert Image(_png_header(100_000, 100_000)).size == (100_000, 100_000)


def test_pixel_limit_is_settable_through_the_environment(monkeypatch, restore_limit):
    set_max_pixels(None)
    monkeypatch.setenv("IMAGESTAG_MAX_PIXELS", "500_000")
    assert get_max_pixels() == 500_000
    with pytest.raises(DecompressionBombError):
        Image(_png_header(1000, 1000))
