"""Hostile encoded data: every codec checks structure before OpenCV sees a byte.

A flipped chunk length, a header claiming far more pixels than the data can
hold, or a file cut short anywhere must be a DecodeError, quickly and without
allocating pixel memory: never a silently gray or partial image.
"""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from imagestag_plugins.codecs.opencv_codecs import CODECS
from imagestag_plugins.filters.decode import Decode
from PIL import Image as PILImage

from imagestag_core import Image, PixelFormat
from imagestag_core.errors import DecodeError

RNG = np.random.default_rng(11)
SMALL = RNG.integers(0, 256, (40, 60, 3), dtype=np.uint8)
BIG = 13000  # 169 Mpx: under the pixel limit, so only the structure check refuses it


def _encoded(name: str) -> bytes:
    codec = next(c for c in CODECS if c.name == name)
    return codec.encode(SMALL, PixelFormat.RGB, {})


def _pil(fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    PILImage.fromarray(SMALL).save(buffer, fmt, **options)
    return buffer.getvalue()


def flipped_png_idat_length() -> bytes:
    data = bytearray(_encoded("png"))
    length_at = data.find(b"IDAT") - 4
    data[length_at] ^= 0x7F  # the high byte: the chunk now claims ~2 GB
    return bytes(data)


def jpeg_claiming(width: int, height: int, data: bytes | None = None) -> bytes:
    data = bytearray(data if data is not None else _encoded("jpeg"))
    sof = data.find(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def bmp_claiming(width: int, height: int) -> bytes:
    data = bytearray(_encoded("bmp"))
    data[18:26] = struct.pack("<ii", width, height)
    return bytes(data)


def webp_lossy_claiming(width: int, height: int) -> bytes:
    data = bytearray(_pil("WEBP", quality=50))
    assert data[12:16] == b"VP8 "
    data[26:30] = struct.pack("<HH", width, height)
    return bytes(data)


def tiff_claiming(width: int, height: int) -> bytes:
    data = bytearray(_pil("TIFF", compression="tiff_deflate"))
    order = "<" if data[:2] == b"II" else ">"
    ifd = struct.unpack_from(f"{order}I", data, 4)[0]
    for i in range(struct.unpack_from(f"{order}H", data, ifd)[0]):
        entry = ifd + 2 + 12 * i
        tag, typ = struct.unpack_from(f"{order}HH", data, entry)
        value = {256: width, 257: height, 278: height}.get(tag)
        if value is not None:
            fmt = "H" if typ == 3 else "I"
            struct.pack_into(f"{order}{fmt}", data, entry + 8, value)
    return bytes(data)


def avif_claiming(width: int, height: int) -> bytes:
    data = bytearray(_encoded("avif"))
    ispe = data.find(b"ispe")
    data[ispe + 8:ispe + 16] = struct.pack(">II", width, height)
    return bytes(data)


# name -> a hostile file; each claims far more than it holds
HOSTILE = {
    "png-flipped-idat-length": flipped_png_idat_length,
    "jpeg-13000x13000-sof": lambda: jpeg_claiming(BIG, BIG),
    "jpeg-gray-13000x13000-sof": lambda: jpeg_claiming(BIG, BIG, next(
        c for c in CODECS if c.name == "jpeg").encode(SMALL[:, :, 0].copy(),
                                                     PixelFormat.GRAY, {})),
    "bmp-13000x13000": lambda: bmp_claiming(BIG, BIG),
    "webp-13000x13000": lambda: webp_lossy_claiming(BIG, BIG),
    "tiff-13000x13000": lambda: tiff_claiming(BIG, BIG),
    # OpenCV's AVIF reader allocates what ispe claims (974 MB here) and decodes
    "avif-13000x13000-ispe": lambda: avif_claiming(BIG, BIG),
}


def test_the_694_byte_jpeg_of_the_issue_is_that_small():
    data = jpeg_claiming(BIG, BIG, next(c for c in CODECS if c.name == "jpeg").encode(
        np.zeros((8, 8), np.uint8), PixelFormat.GRAY, {}))
    assert len(data) < 700
    with pytest.raises(DecodeError, match="scan data"):
        Image(data).get_pixels()


@pytest.mark.timeout(20)
@pytest.mark.parametrize("name", HOSTILE)
def test_a_header_claiming_more_than_the_data_holds_is_refused_before_opencv(name,
                                                                             monkeypatch):
    import cv2

    def imdecode(*args: object) -> None:
        raise AssertionError("hostile data reached cv2.imdecode")

    monkeypatch.setattr(cv2, "imdecode", imdecode)
    data = HOSTILE[name]()
    with pytest.raises(DecodeError, match="corrupt or truncated"):
        Image(data).get_pixels()


def _all_formats() -> dict[str, bytes]:
    files = {c.name: _encoded(c.name) for c in CODECS}
    files["jpeg-progressive"] = _pil("JPEG", progressive=True, quality=80)
    files["webp-lossless"] = _pil("WEBP", lossless=True)
    files["tiff-uncompressed"] = _pil("TIFF")
    files["png-interlaced-pil"] = _pil("PNG", optimize=True)
    files["avif-pil"] = _pil("AVIF")
    return files


FILES = _all_formats()


@pytest.mark.parametrize("name", FILES)
def test_real_files_pass_the_structure_check_and_decode(name):
    image = Image(FILES[name])
    assert image.get_pixels().shape[:2] == (40, 60)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("name", FILES)
@pytest.mark.parametrize("fraction", [0.1, 0.25, 0.5, 0.75, 0.9, 0.99, -1, -2])
def test_a_truncated_file_is_a_decode_error_never_a_partial_image(name, fraction):
    data = FILES[name]
    cut = len(data) + fraction if fraction < 0 else max(1, int(len(data) * fraction))
    truncated = data[:int(cut)]
    with pytest.raises(DecodeError):
        Image(truncated).get_pixels()


def _entry_points(data: bytes, tmp_path) -> dict[str, object]:
    path = tmp_path / "hostile.bin"
    path.write_bytes(data)
    codec = next(c for c in CODECS if c.sniff(data[:64]))
    return {
        "Image(bytes)": lambda: Image(data).get_pixels(),
        "Image.from_encoded": lambda: Image.from_encoded(data, codec.name).get_pixels(),
        "Image(path)": lambda: Image(path).get_pixels(),
        "Decode filter": lambda: Decode().apply(Image(data)),
        "Decode reduce=2": lambda: Decode(reduce=2).apply(Image(data)),
        "codec.decode": lambda: codec.decode(data),
    }


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", ["png-flipped-idat-length", "jpeg-13000x13000-sof",
                                  "tiff-13000x13000"])
def test_every_entry_point_refuses_hostile_data(name, tmp_path):
    for label, call in _entry_points(HOSTILE[name](), tmp_path).items():
        with pytest.raises(DecodeError):
            call()  # type: ignore[operator]
            pytest.fail(f"{label} accepted hostile data")


_MEMORY_SCRIPT = textwrap.dedent("""
    import json, resource, sys
    sys.path.insert(0, {tests!r})
    # a safety net: a regression fails inside this process, not on the machine
    resource.setrlimit(resource.RLIMIT_AS, (6 << 30, 6 << 30))
    from test_codec_structure import HOSTILE
    from imagestag_core import Image
    from imagestag_core.errors import DecodeError
    results = {{}}
    for name, make in HOSTILE.items():
        data = make()
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        try:
            Image(data).get_pixels()
            outcome = "decoded"
        except DecodeError:
            outcome = "DecodeError"
        except Exception as exc:
            outcome = type(exc).__name__
        grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
        results[name] = [outcome, grown // 1024]
    print(json.dumps(results))
""")


@pytest.mark.timeout(120)
def test_hostile_files_are_refused_with_bounded_memory():
    # ru_maxrss counts the C allocations tracemalloc cannot see; each case runs
    # after the previous one, so a case's growth is how far it raised the peak
    import pathlib

    script = _MEMORY_SCRIPT.format(tests=str(pathlib.Path(__file__).parent))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=100, check=False)
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(results) == set(HOSTILE)
    bad = {name: (outcome, f"{grown_mb} MB") for name, (outcome, grown_mb) in results.items()
           if outcome != "DecodeError" or grown_mb >= 200}
    assert not bad


def test_a_tiff_whose_directory_is_zeroed_names_what_is_missing():
    import cv2

    pixels = np.random.default_rng(0).integers(0, 256, (64, 64, 3), np.uint8)
    ok, data = cv2.imencode(".tif", pixels)
    assert ok
    damaged = bytearray(data.tobytes())
    damaged[-100:] = b"\0" * 100  # tags with no values: no strips, no sizes
    with pytest.raises(DecodeError, match=r"strips or tiles|no image size"):
        Image(bytes(damaged)).get_pixels()
