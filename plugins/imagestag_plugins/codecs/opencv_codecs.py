"""JPEG, PNG, WebP, BMP, TIFF and AVIF through OpenCV's ``imdecode``/``imencode``.

Both calls release the GIL, so a pool of threads decodes and encodes in
parallel (Pillow's JPEG save does not).  Five small codecs share one module
because they share the OpenCV plumbing; each is registered on its own.

Decoding returns OpenCV's native layout:

* JPEG: ``BGR`` (``GRAY`` for one-component files), uint8.
* PNG: ``GRAY`` uint8/uint16 for gray files (16 bit kept), ``BGR`` for RGB and
  palette files, ``BGRA`` when the file has an alpha channel or a palette
  with transparency.  16-bit colour is reduced to 8 bit (colour formats are
  uint8).  A single transparent colour key (``tRNS`` on gray/RGB files) is
  not turned into alpha.
* WebP: ``BGRA`` when the header declares alpha, else ``BGR``.
* BMP: always ``BGR`` (the fourth byte of 32-bit BMPs is unreliable as
  alpha, so it is dropped on read and on write).
* TIFF: ``GRAY`` uint8/uint16/float32 for one-sample files, ``BGRA`` when an
  alpha sample is present, else ``BGR``.

EXIF orientation is applied: by OpenCV itself for JPEG and TIFF, by this
module (from the orientation ``probe`` read) for PNG ``eXIf`` and WebP
``EXIF`` chunks, because OpenCV ignores it when asked for alpha or 16 bit.

``probe`` parses the header only (a few hundred bytes, no pixel memory), and
returns exactly the size, pixel format and dtype ``decode`` produces, so an
encoded Image knows its size before decoding and a decompression bomb is
refused before anything is allocated.  ``decode`` first checks the file's
structure against the data present (:mod:`.structure`: chunk and segment
lengths, strip offsets, scan data for the claimed size), so a truncated or
inconsistent file is a ``DecodeError`` before OpenCV allocates anything, never
a gray or partial image.

Encoding options (others are ignored): ``quality`` 1..100 (JPEG, WebP),
``subsampling`` ``"4:2:0"`` (default) / ``"4:2:2"`` / ``"4:4:4"`` (JPEG),
``compression`` 0..9 (PNG zlib level).  JPEG, WebP and BMP store uint8 only;
alpha is dropped for JPEG and BMP (the colour channels are written as they
are, not blended); PNG keeps 16-bit gray; TIFF keeps 16-bit and float32 gray.
"""

from __future__ import annotations

import functools
import importlib.util
import io
import struct
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np

from imagestag_core import hookimpl
from imagestag_core.codec import ImageInfo
from imagestag_core.errors import CodecError, DecodeError
from imagestag_core.lazy_import import lazy_module
from imagestag_core.pixel_format import PixelFormat

from . import isobmff, structure

if TYPE_CHECKING:
    import cv2
else:
    # OpenCV loads on first use, so listing plugins does not import it.
    cv2 = lazy_module("cv2", globals())

__all__ = ["AvifCodec", "BmpCodec", "JpegCodec", "PngCodec", "TiffCodec", "WebpCodec",
           "require_extra"]

_U8: np.dtype[Any] = np.dtype(np.uint8)
_U16: np.dtype[Any] = np.dtype(np.uint16)
_F32: np.dtype[Any] = np.dtype(np.float32)

_SUBSAMPLING_NAMES = ("4:2:0", "4:2:2", "4:4:4")


# The OpenCV flag tables are built on first use: evaluating cv2.* here would import cv2.
@functools.cache
def _reduce_flags(gray: bool) -> dict[int, int]:
    if gray:
        return {1: cv2.IMREAD_GRAYSCALE, 2: cv2.IMREAD_REDUCED_GRAYSCALE_2,
                4: cv2.IMREAD_REDUCED_GRAYSCALE_4, 8: cv2.IMREAD_REDUCED_GRAYSCALE_8}
    return {1: cv2.IMREAD_COLOR, 2: cv2.IMREAD_REDUCED_COLOR_2,
            4: cv2.IMREAD_REDUCED_COLOR_4, 8: cv2.IMREAD_REDUCED_COLOR_8}


@functools.cache
def _subsampling_flags() -> dict[str, int]:
    return {"4:2:0": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420,
            "4:2:2": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_422,
            "4:4:4": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444}


# -- small binary helpers ---------------------------------------------------------


def _u16(data: bytes, offset: int, big: bool) -> int:
    return int.from_bytes(data[offset:offset + 2], "big" if big else "little")


def _u32(data: bytes, offset: int, big: bool) -> int:
    return int.from_bytes(data[offset:offset + 4], "big" if big else "little")


def _need(data: bytes, end: int, what: str) -> None:
    if len(data) < end:
        raise DecodeError(f"truncated {what} header: need {end} bytes, got {len(data)}")


def _info(width: int, height: int, fmt: PixelFormat, dtype: np.dtype,
          orientation: int = 1) -> ImageInfo:
    if width < 1 or height < 1:
        raise DecodeError(f"header declares an empty image ({width}x{height})")
    if orientation >= 5:  # 5..8 transpose the image
        width, height = height, width
    return ImageInfo(width, height, fmt, dtype, orientation)


def require_extra(module: str, extra: str, what: str) -> None:
    """DecodeError naming the optional extra unless ``module`` can be imported."""
    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # ValueError: sys.modules[module] is None
        found = False
    if not found:
        raise DecodeError(f"{what} needs the optional extra: pip install 'imagestag[{extra}]'")


# -- TIFF structures (TIFF files and EXIF blocks) ----------------------------------------

def _read_ifd(data: bytes, wanted: set[int]) -> dict[int, list[int]]:
    """Integer values of ``wanted`` tags in the first IFD of a TIFF byte block."""
    if len(data) < 8 or data[:2] not in (b"II", b"MM"):
        raise DecodeError("not a TIFF structure (no II/MM byte order mark)")
    big = data[:2] == b"MM"
    magic = _u16(data, 2, big)
    if magic == 42:
        offset, count_size, entry_size, value_size = _u32(data, 4, big), 2, 12, 4
    elif magic == 43:  # BigTIFF
        _need(data, 16, "BigTIFF")
        offset = int.from_bytes(data[8:16], "big" if big else "little")
        count_size, entry_size, value_size = 8, 20, 8
    else:
        raise DecodeError(f"bad TIFF magic number {magic}")
    _need(data, offset + count_size, "TIFF IFD")
    count = int.from_bytes(data[offset:offset + count_size], "big" if big else "little")
    values: dict[int, list[int]] = {}
    for i in range(count):
        entry = offset + count_size + i * entry_size
        _need(data, entry + entry_size, "TIFF IFD entry")
        tag = _u16(data, entry, big)
        if tag not in wanted:
            continue
        typ = _u16(data, entry + 2, big)
        order: Literal["big", "little"] = "big" if big else "little"
        # classic TIFF: 4-byte count and value field; BigTIFF: 8-byte ones
        n = int.from_bytes(data[entry + 4:entry + 4 + value_size], order)
        item = {3: 2, 4: 4, 16: 8}.get(typ)  # SHORT, LONG, LONG8
        if item is None or n < 1 or n > 64:
            continue
        pos = entry + 4 + value_size
        if n * item > value_size:  # the field holds an offset to the values
            pos = int.from_bytes(data[pos:pos + value_size], order)
            _need(data, pos + n * item, "TIFF tag value")
        values[tag] = [int.from_bytes(data[pos + k * item:pos + (k + 1) * item], order)
                       for k in range(n)]
    return values


def _exif_orientation(block: bytes) -> int:
    """The orientation (1..8) in an EXIF TIFF block; 1 when absent or unreadable."""
    try:
        value = _read_ifd(block, {0x0112}).get(0x0112, [1])[0]
    except DecodeError:
        return 1
    return value if 1 <= value <= 8 else 1


def apply_orientation(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """Turn pixels stored with EXIF ``orientation`` upright (as Pillow's exif_transpose)."""
    if orientation == 2:
        return cv2.flip(pixels, 1)
    if orientation == 3:
        return cv2.rotate(pixels, cv2.ROTATE_180)
    if orientation == 4:
        return cv2.flip(pixels, 0)
    if orientation == 5:
        return cv2.transpose(pixels)
    if orientation == 6:
        return cv2.rotate(pixels, cv2.ROTATE_90_CLOCKWISE)
    if orientation == 7:
        return cv2.flip(cv2.transpose(pixels), -1)
    if orientation == 8:
        return cv2.rotate(pixels, cv2.ROTATE_90_COUNTERCLOCKWISE)
    return pixels


# -- decode helpers ---------------------------------------------------------------------


def _imdecode(data: bytes, flags: int, name: str) -> np.ndarray:
    try:
        array = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    except cv2.error as exc:
        raise DecodeError(f"corrupt {name} data: {str(exc).strip()}") from None
    if array is None:
        raise DecodeError(f"corrupt or truncated {name} data ({len(data)} bytes)")
    return array


def _conform(array: np.ndarray, fmt: PixelFormat, dtype: np.dtype, name: str) -> np.ndarray:
    """Bring what OpenCV decoded to exactly the layout ``probe`` announced."""
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if fmt is not PixelFormat.GRAY and array.dtype != _U8:
        if array.dtype != _U16:
            raise DecodeError(f"{name}: {array.dtype} colour images are not supported")
        array = (array >> 8).astype(np.uint8)
    channels = 1 if array.ndim == 2 else array.shape[2]
    codes = {
        (PixelFormat.GRAY, 3): cv2.COLOR_BGR2GRAY, (PixelFormat.GRAY, 4): cv2.COLOR_BGRA2GRAY,
        (PixelFormat.BGR, 1): cv2.COLOR_GRAY2BGR, (PixelFormat.BGR, 4): cv2.COLOR_BGRA2BGR,
        (PixelFormat.BGRA, 1): cv2.COLOR_GRAY2BGRA, (PixelFormat.BGRA, 3): cv2.COLOR_BGR2BGRA,
    }
    code = codes.get((fmt, channels))
    if code is not None:
        array = cv2.cvtColor(array, code)
    if array.dtype != dtype:
        raise DecodeError(f"{name}: decoded {array.dtype} pixels, but the header announced "
                          f"{dtype}")
    return array


# -- encode helpers ---------------------------------------------------------------------


def _int_option(options: Mapping[str, Any], key: str, default: int, lo: int, hi: int,
                name: str) -> int:
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not (
            lo <= value <= hi):
        raise CodecError(f"{name}: option {key}={value!r} must be an int in {lo}..{hi}")
    return int(value)


def _to_bgr_family(pixels: np.ndarray, fmt: PixelFormat, *, keep_alpha: bool,
                   keep_gray: bool) -> np.ndarray:
    """Pixels in the BGR(A)/GRAY layout ``imencode`` expects."""
    if fmt is PixelFormat.GRAY:
        return pixels if keep_gray else cv2.cvtColor(pixels, cv2.COLOR_GRAY2BGR)
    codes = {
        (PixelFormat.RGB, True): cv2.COLOR_RGB2BGR, (PixelFormat.RGB, False): cv2.COLOR_RGB2BGR,
        (PixelFormat.RGBA, True): cv2.COLOR_RGBA2BGRA, (PixelFormat.RGBA, False):
            cv2.COLOR_RGBA2BGR,
        (PixelFormat.BGRA, False): cv2.COLOR_BGRA2BGR,
    }
    code = codes.get((fmt, keep_alpha))
    return pixels if code is None else cv2.cvtColor(pixels, code)


def _require_dtypes(pixels: np.ndarray, fmt: PixelFormat, allowed: tuple[np.dtype, ...],
                    name: str) -> None:
    if pixels.dtype not in allowed:
        kinds = ", ".join(str(d) for d in allowed)
        raise CodecError(
            f"{name} cannot store {pixels.dtype} {fmt} pixels (it stores {kinds}); "
            f"scale to uint8 first, map with FalseColor, or use "
            f"{'png or tiff' if pixels.dtype == _U16 else 'tiff'}")


def _imencode(ext: str, pixels: np.ndarray, params: list[int], name: str) -> bytes:
    try:
        ok, buffer = cv2.imencode(ext, pixels, params)
    except cv2.error as exc:
        raise CodecError(f"{name} encoding failed: {str(exc).strip()}") from None
    if not ok:
        raise CodecError(f"{name} encoding failed for a {pixels.shape} {pixels.dtype} array")
    return buffer.tobytes()


# -- the codecs -------------------------------------------------------------------------


class _OpenCVCodec:
    """Shared plumbing; subclasses parse their header and pick decode flags."""

    name: ClassVar[str] = ""
    extensions: ClassVar[tuple[str, ...]] = ()
    mime_type: ClassVar[str] = ""
    decode_reductions: ClassVar[tuple[int, ...]] = ()
    magic: ClassVar[tuple[bytes, ...]] = ()

    def sniff(self, data: bytes) -> bool:
        return any(data.startswith(m) for m in self.magic)

    def probe(self, data: bytes) -> ImageInfo:
        raise NotImplementedError

    def check_structure(self, data: bytes, info: ImageInfo) -> None:
        """Raise DecodeError unless the data holds what the header claims
        (:mod:`.structure`); run before any byte reaches OpenCV."""
        raise NotImplementedError

    def decode(self, data: bytes, *, reduce: int = 1) -> tuple[np.ndarray, PixelFormat]:
        _check_reduce(reduce)
        info = self.probe(data)
        self.check_structure(data, info)
        array = _imdecode(data, cv2.IMREAD_UNCHANGED, self.name)
        array = _conform(array, info.pixel_format, info.dtype, self.name)
        return self._orient(array, info.orientation), info.pixel_format

    def _orient(self, array: np.ndarray, orientation: int) -> np.ndarray:
        # IMREAD_UNCHANGED ignores EXIF orientation for PNG and WebP
        return apply_orientation(array, orientation)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


def _check_reduce(reduce: int) -> None:
    if reduce not in (1, 2, 4, 8):
        raise CodecError(f"reduce must be 1, 2, 4 or 8, got {reduce!r}")


_SOF_MARKERS = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD,
                          0xCE, 0xCF})


class JpegCodec(_OpenCVCodec):
    """JPEG through libjpeg-turbo; shrink-on-load with ``reduce`` (2, 4, 8)."""

    name = "jpeg"
    extensions = (".jpg", ".jpeg", ".jpe", ".jfif")
    mime_type = "image/jpeg"
    #: libjpeg-turbo's DCT scaling: the decoder itself shrinks, far faster than a resize
    decode_reductions = (2, 4, 8)
    magic = (b"\xff\xd8\xff",)

    def _scan(self, data: bytes) -> tuple[ImageInfo, int]:
        """The header info and the offset just past the frame header (SOF)."""
        if not data.startswith(b"\xff\xd8"):
            raise DecodeError(f"not a JPEG file (starts with {bytes(data[:4])!r})")
        pos, n, orientation = 2, len(data), 1
        while pos < n:
            marker, pos = structure.jpeg_marker(data, pos)
            if marker is None:
                break
            if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
                continue
            if marker in (0xD9, 0xDA):  # EOI / SOS before any frame header
                raise DecodeError("corrupt JPEG: no frame header before the image data")
            _need(data, pos + 2, "JPEG segment")
            length = _u16(data, pos, True)
            if length < 2:
                raise DecodeError(f"corrupt JPEG: segment length {length} at byte {pos}")
            _need(data, pos + length, "JPEG segment")
            segment = data[pos + 2:pos + length]
            if marker == 0xE1 and segment.startswith(b"Exif\x00\x00"):
                orientation = _exif_orientation(segment[6:])
            elif marker in _SOF_MARKERS:
                if len(segment) < 6:
                    raise DecodeError("corrupt JPEG: short frame header")
                height, width, components = _u16(segment, 1, True), _u16(segment, 3, True), \
                    segment[5]
                if height == 0:
                    raise DecodeError("JPEG files whose height is given later (DNL) are not "
                                      "supported")
                fmt = PixelFormat.GRAY if components == 1 else PixelFormat.BGR
                return _info(width, height, fmt, _U8, orientation), pos + length
            pos += length
        raise DecodeError("truncated JPEG: no frame header found")

    def probe(self, data: bytes) -> ImageInfo:
        return self._scan(data)[0]

    def check_structure(self, data: bytes, info: ImageInfo) -> None:
        structure.check_jpeg(data)

    def decode(self, data: bytes, *, reduce: int = 1) -> tuple[np.ndarray, PixelFormat]:
        _check_reduce(reduce)
        info = self.probe(data)
        # libjpeg only warns about a truncated or short scan and fills the rest
        # with gray: the walk to EOI and the scan-size bound refuse those first
        self.check_structure(data, info)
        flags = _reduce_flags(info.pixel_format is PixelFormat.GRAY)[reduce]
        # the colour/gray flags (unlike IMREAD_UNCHANGED) make OpenCV apply EXIF orientation
        array = _imdecode(data, flags, self.name)
        return array, info.pixel_format

    def encode(self, pixels: np.ndarray, pixel_format: PixelFormat,
               options: Mapping[str, Any]) -> bytes:
        _require_dtypes(pixels, pixel_format, (_U8,), self.name)
        quality = _int_option(options, "quality", 90, 1, 100, self.name)
        subsampling = options.get("subsampling", "4:2:0")
        if subsampling not in _SUBSAMPLING_NAMES:
            raise CodecError(f"jpeg: subsampling={subsampling!r} must be one of "
                             f"{', '.join(_SUBSAMPLING_NAMES)}")
        bgr = _to_bgr_family(pixels, pixel_format, keep_alpha=False, keep_gray=True)
        params = [cv2.IMWRITE_JPEG_QUALITY, quality]
        if bgr.ndim == 3:
            params += [cv2.IMWRITE_JPEG_SAMPLING_FACTOR, _subsampling_flags()[subsampling]]
        return _imencode(".jpg", bgr, params, self.name)


class PngCodec(_OpenCVCodec):
    """PNG; 16-bit gray survives a round trip."""

    name = "png"
    extensions = (".png",)
    mime_type = "image/png"
    magic = (b"\x89PNG\r\n\x1a\n",)

    def probe(self, data: bytes) -> ImageInfo:
        if not data.startswith(self.magic[0]):
            raise DecodeError(f"not a PNG file (starts with {bytes(data[:8])!r})")
        _need(data, 33, "PNG")
        if data[12:16] != b"IHDR":
            raise DecodeError("corrupt PNG: the first chunk is not IHDR")
        width, height = _u32(data, 16, True), _u32(data, 20, True)
        depth, color_type = data[24], data[25]
        orientation, transparency = 1, False
        pos = 33
        # chunks that matter (tRNS, eXIf) come before the image data
        while pos + 8 <= len(data):
            length, kind = _u32(data, pos, True), data[pos + 4:pos + 8]
            if kind in (b"IDAT", b"IEND"):
                break
            if kind == b"tRNS":
                transparency = True
            elif kind == b"eXIf":
                orientation = _exif_orientation(data[pos + 8:pos + 8 + length])
            pos += 12 + length
        if color_type == 0:
            return _info(width, height, PixelFormat.GRAY, _U16 if depth == 16 else _U8,
                         orientation)
        if color_type in (4, 6) or (color_type == 3 and transparency):
            return _info(width, height, PixelFormat.BGRA, _U8, orientation)
        if color_type in (2, 3):
            return _info(width, height, PixelFormat.BGR, _U8, orientation)
        raise DecodeError(f"corrupt PNG: unknown colour type {color_type}")

    def check_structure(self, data: bytes, info: ImageInfo) -> None:
        structure.check_png(data)

    def encode(self, pixels: np.ndarray, pixel_format: PixelFormat,
               options: Mapping[str, Any]) -> bytes:
        _require_dtypes(pixels, pixel_format, (_U8, _U16), self.name)
        level = _int_option(options, "compression", 1, 0, 9, self.name)
        bgr = _to_bgr_family(pixels, pixel_format, keep_alpha=True, keep_gray=True)
        return _imencode(".png", bgr, [cv2.IMWRITE_PNG_COMPRESSION, level], self.name)


class WebpCodec(_OpenCVCodec):
    """WebP, lossy (``quality`` 1..100); alpha is kept."""

    name = "webp"
    extensions = (".webp",)
    mime_type = "image/webp"

    def sniff(self, data: bytes) -> bool:
        return data[:4] == b"RIFF" and data[8:12] == b"WEBP"

    def probe(self, data: bytes) -> ImageInfo:
        if not self.sniff(data):
            raise DecodeError(f"not a WebP file (starts with {bytes(data[:12])!r})")
        _need(data, 30, "WebP")
        kind = data[12:16]
        if kind == b"VP8 ":
            if data[23:26] != b"\x9d\x01\x2a":
                raise DecodeError("corrupt WebP: bad VP8 start code")
            width, height = _u16(data, 26, False) & 0x3FFF, _u16(data, 28, False) & 0x3FFF
            alpha = False
        elif kind == b"VP8L":
            if data[20] != 0x2F:
                raise DecodeError("corrupt WebP: bad VP8L signature")
            bits = _u32(data, 21, False)
            width, height = (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
            alpha = bool((bits >> 28) & 1)
        elif kind == b"VP8X":
            alpha = bool(data[20] & 0x10)
            width = int.from_bytes(data[24:27], "little") + 1
            height = int.from_bytes(data[27:30], "little") + 1
        else:
            raise DecodeError(f"corrupt WebP: unknown chunk {bytes(kind)!r}")
        orientation = 1
        if kind == b"VP8X" and data[20] & 0x08:  # the EXIF flag
            orientation = self._find_exif_orientation(data)
        return _info(width, height, PixelFormat.BGRA if alpha else PixelFormat.BGR, _U8,
                     orientation)

    def check_structure(self, data: bytes, info: ImageInfo) -> None:
        structure.check_webp(data, info.width, info.height)

    @staticmethod
    def _find_exif_orientation(data: bytes) -> int:
        # RIFF chunks are skipped by their sizes: no pixel data is read
        pos = 12
        while pos + 8 <= len(data):
            kind, size = data[pos:pos + 4], _u32(data, pos + 4, False)
            if kind == b"EXIF":
                block = data[pos + 8:pos + 8 + size]
                if block.startswith(b"Exif\x00\x00"):
                    block = block[6:]
                return _exif_orientation(block)
            pos += 8 + size + (size & 1)
        return 1

    def encode(self, pixels: np.ndarray, pixel_format: PixelFormat,
               options: Mapping[str, Any]) -> bytes:
        _require_dtypes(pixels, pixel_format, (_U8,), self.name)
        quality = _int_option(options, "quality", 90, 1, 100, self.name)
        # libwebp has no gray mode: gray is written as BGR (and decodes as BGR)
        bgr = _to_bgr_family(pixels, pixel_format, keep_alpha=True, keep_gray=False)
        return _imencode(".webp", bgr, [cv2.IMWRITE_WEBP_QUALITY, quality], self.name)


class BmpCodec(_OpenCVCodec):
    """Windows bitmap; always BGR (see the module docs on alpha)."""

    name = "bmp"
    extensions = (".bmp", ".dib")
    mime_type = "image/bmp"
    magic = (b"BM",)

    def probe(self, data: bytes) -> ImageInfo:
        if not data.startswith(b"BM"):
            raise DecodeError(f"not a BMP file (starts with {bytes(data[:2])!r})")
        _need(data, 26, "BMP")
        header_size = _u32(data, 14, False)
        if header_size == 12:  # OS/2 BITMAPCOREHEADER
            width, height = _u16(data, 18, False), _u16(data, 20, False)
        else:
            width, height = struct.unpack_from("<ii", data, 18)
        return _info(abs(width), abs(height), PixelFormat.BGR, _U8)

    def decode(self, data: bytes, *, reduce: int = 1) -> tuple[np.ndarray, PixelFormat]:
        _check_reduce(reduce)
        self.check_structure(data, self.probe(data))
        return _imdecode(data, cv2.IMREAD_COLOR, self.name), PixelFormat.BGR

    def check_structure(self, data: bytes, info: ImageInfo) -> None:
        structure.check_bmp(data)

    def encode(self, pixels: np.ndarray, pixel_format: PixelFormat,
               options: Mapping[str, Any]) -> bytes:
        _require_dtypes(pixels, pixel_format, (_U8,), self.name)
        bgr = _to_bgr_family(pixels, pixel_format, keep_alpha=False, keep_gray=False)
        return _imencode(".bmp", bgr, [], self.name)


_TIFF_TAGS = {256, 257, 258, 262, 274, 277, 338, 339}


class TiffCodec(_OpenCVCodec):
    """TIFF (first page); 16-bit and float32 gray survive a round trip."""

    name = "tiff"
    extensions = (".tif", ".tiff")
    mime_type = "image/tiff"
    magic = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")

    def probe(self, data: bytes) -> ImageInfo:
        if not self.sniff(data):
            raise DecodeError(f"not a TIFF file (starts with {bytes(data[:4])!r})")
        tags = _read_ifd(data, _TIFF_TAGS)
        if 256 not in tags or 257 not in tags:
            raise DecodeError("corrupt TIFF: no ImageWidth/ImageLength tags")
        width, height = tags[256][0], tags[257][0]
        samples = tags.get(277, [1])[0]
        bits = tags.get(258, [1])[0]
        sample_format = tags.get(339, [1])[0]
        photometric = tags.get(262, [1])[0]
        orientation = tags.get(274, [1])[0]
        orientation = orientation if 1 <= orientation <= 8 else 1
        if samples == 1 and photometric in (0, 1):
            if bits == 32 and sample_format == 3:
                dtype = _F32
            elif bits == 16 and sample_format in (1, 2):
                dtype = _U16
            elif bits <= 8:
                dtype = _U8
            elif sample_format == 3 and bits in (16, 64):
                require_extra("tifffile", "tiff", f"a {bits}-bit float TIFF")
                dtype = _F32  # read by tifffile (OpenCV cannot) and narrowed
            else:
                raise DecodeError(f"unsupported TIFF gray sample: {bits} bits, "
                                  f"format {sample_format}")
            return _info(width, height, PixelFormat.GRAY, dtype, orientation)
        if sample_format == 3:
            raise DecodeError(f"a {samples}-sample {bits}-bit float TIFF has no imagestag "
                              f"pixel format (colour is uint8, float is GRAY only); split "
                              f"the channels with tifffile and pass each as a GRAY array")
        alpha = samples == 2 or (samples >= 4 and photometric == 2) or (
            338 in tags and photometric != 5)
        fmt = PixelFormat.BGRA if alpha else PixelFormat.BGR
        return _info(width, height, fmt, _U8, orientation)

    def check_structure(self, data: bytes, info: ImageInfo) -> None:
        structure.check_tiff(data)

    def decode(self, data: bytes, *, reduce: int = 1) -> tuple[np.ndarray, PixelFormat]:
        tags = _read_ifd(data, {258, 322, 338, 339})
        if tags.get(338, [0])[0] == 2 and tags.get(258, [8])[0] == 8:
            # unassociated alpha: OpenCV's libtiff RGBA path premultiplies the
            # colours by it, so they would come back silently wrong
            # (no shrink-on-load here: callers resize a full-size decode, as documented)
            return self._decode_unassociated_alpha(data)
        if tags.get(339, [1])[0] != 3 or tags.get(258, [32])[0] == 32:
            try:
                return super().decode(data, reduce=reduce)
            except DecodeError:
                # OpenCV's libtiff path refuses some valid tiled files (uncompressed
                # tiles smaller than its read buffer); tifffile reads them
                if 322 not in tags or importlib.util.find_spec("tifffile") is None:
                    raise
                return self._decode_tiled(data)
        _check_reduce(reduce)
        info = self.probe(data)
        self.check_structure(data, info)
        import tifffile

        try:
            array = tifffile.imread(io.BytesIO(data), key=0)
        except Exception as exc:
            raise DecodeError(f"corrupt tiff data: {exc}") from None
        return apply_orientation(np.asarray(array, np.float32), info.orientation), \
            PixelFormat.GRAY

    def _decode_unassociated_alpha(self, data: bytes) -> tuple[np.ndarray, PixelFormat]:
        """An 8-bit TIFF with straight (unassociated) alpha, through Pillow."""
        from PIL import Image as PILImage

        info = self.probe(data)
        self.check_structure(data, info)
        try:
            with PILImage.open(io.BytesIO(data), formats=["TIFF"]) as pil:
                rgba = np.asarray(pil.convert("RGBA"))
        except Exception as exc:
            raise DecodeError(f"corrupt tiff data: {exc}") from None
        array = apply_orientation(np.ascontiguousarray(rgba[:, :, [2, 1, 0, 3]]),
                                  info.orientation)
        if info.pixel_format is not PixelFormat.BGRA:
            array = cv2.cvtColor(array, cv2.COLOR_BGRA2BGR) if \
                info.pixel_format is PixelFormat.BGR else cv2.cvtColor(array, cv2.COLOR_BGRA2GRAY)
        return array, info.pixel_format

    def _decode_tiled(self, data: bytes) -> tuple[np.ndarray, PixelFormat]:
        """A tiled TIFF through tifffile, in the format the probe promised."""
        import tifffile

        info = self.probe(data)
        try:
            array = np.asarray(tifffile.imread(io.BytesIO(data), key=0))
        except Exception as exc:
            raise DecodeError(f"corrupt tiff data: {exc}") from None
        if array.ndim == 3 and array.shape[2] in (3, 4):
            array = np.ascontiguousarray(array[:, :, [2, 1, 0, 3][:array.shape[2]]])
        array = apply_orientation(array, info.orientation)
        return array, info.pixel_format

    def select_page(self, data: bytes, page: int) -> bytes:
        """Page ``page`` as a TIFF of its own: the header's first-IFD offset is
        pointed at that page's IFD (no pixel data is read or copied)."""
        if not self.sniff(data):
            raise DecodeError(f"not a TIFF file (starts with {bytes(data[:4])!r})")
        big = data[:2] == b"MM"
        bigtiff = _u16(data, 2, big) == 43
        order: Literal["big", "little"] = "big" if big else "little"
        at, size, count_size, entry_size = (8, 8, 8, 20) if bigtiff else (4, 4, 2, 12)
        offset, seen = int.from_bytes(data[at:at + size], order), set()
        for index in range(page):
            _need(data, offset + count_size, "TIFF IFD")
            count = int.from_bytes(data[offset:offset + count_size], order)
            link = offset + count_size + count * entry_size
            _need(data, link + size, "TIFF IFD")
            seen.add(offset)
            offset = int.from_bytes(data[link:link + size], order)
            if offset == 0 or offset in seen:
                raise DecodeError(f"page={page} is past the end: the TIFF has {index + 1} "
                                  f"page{'s' if index else ''}")
        return data[:at] + offset.to_bytes(size, order) + data[at + size:]

    def _orient(self, array: np.ndarray, orientation: int) -> np.ndarray:
        return array  # OpenCV's TIFF decoder applies the Orientation tag itself

    def encode(self, pixels: np.ndarray, pixel_format: PixelFormat,
               options: Mapping[str, Any]) -> bytes:
        _require_dtypes(pixels, pixel_format, (_U8, _U16, _F32), self.name)
        bgr = _to_bgr_family(pixels, pixel_format, keep_alpha=True, keep_gray=True)
        return _imencode(".tiff", bgr, [], self.name)


#: irot quarter turns (anticlockwise) and imir axis to the EXIF orientation doing the same
_HEIF_ORIENTATION = {(0, None): 1, (1, None): 8, (2, None): 3, (3, None): 6,
                     (0, 1): 2, (0, 0): 4, (1, 1): 7, (1, 0): 5, (2, 1): 4, (2, 0): 2,
                     (3, 1): 5, (3, 0): 7}


def heif_info(header: isobmff.HeifHeader, fmt: PixelFormat) -> ImageInfo:
    """The ImageInfo of an AVIF/HEIC primary image once its irot/imir are applied."""
    orientation = _HEIF_ORIENTATION.get((header.rotation, header.mirror), 1)
    return _info(header.width, header.height, fmt, _U8, orientation)


class AvifCodec(_OpenCVCodec):
    """AVIF (AV1 in HEIF) through OpenCV's libavif; ``quality`` 1..100, alpha kept.

    Decodes to ``GRAY`` for monochrome files, ``BGRA`` with an alpha plane,
    else ``BGR``; 10/12-bit files are scaled to uint8.  The header and the
    structure check come from the ISOBMFF boxes (:mod:`.isobmff`).
    """

    name = "avif"
    extensions = (".avif",)
    mime_type = "image/avif"

    def sniff(self, data: bytes) -> bool:
        return bool(isobmff.brands(data) & {b"avif", b"avis"})

    def _header(self, data: bytes) -> tuple[isobmff.HeifHeader, ImageInfo]:
        if not self.sniff(data):
            raise DecodeError(f"not an AVIF file (starts with {bytes(data[:12])!r})")
        header = isobmff.read_header(data, self.name)
        if header.alpha:
            fmt = PixelFormat.BGRA
        elif header.monochrome or header.channels == 1:
            fmt = PixelFormat.GRAY
        else:
            fmt = PixelFormat.BGR
        return header, heif_info(header, fmt)

    def probe(self, data: bytes) -> ImageInfo:
        return self._header(data)[1]

    def check_structure(self, data: bytes, info: ImageInfo) -> None:
        pass  # read_header, run by every probe, is the check (see isobmff)

    def decode(self, data: bytes, *, reduce: int = 1) -> tuple[np.ndarray, PixelFormat]:
        _check_reduce(reduce)
        header, info = self._header(data)
        array = _imdecode(data, cv2.IMREAD_UNCHANGED, self.name)
        if array.dtype == _U16:  # 10/12-bit samples, not 16-bit ones
            array = (array >> (header.depth - 8)).astype(np.uint8)
        array = _conform(array, info.pixel_format, info.dtype, self.name)
        return self._orient(array, info.orientation), info.pixel_format

    def encode(self, pixels: np.ndarray, pixel_format: PixelFormat,
               options: Mapping[str, Any]) -> bytes:
        _require_dtypes(pixels, pixel_format, (_U8,), self.name)
        quality = _int_option(options, "quality", 90, 1, 100, self.name)
        bgr = _to_bgr_family(pixels, pixel_format, keep_alpha=True, keep_gray=True)
        return _imencode(".avif", bgr, [cv2.IMWRITE_AVIF_QUALITY, quality], self.name)


CODECS = (JpegCodec(), PngCodec(), WebpCodec(), BmpCodec(), TiffCodec(), AvifCodec())


@hookimpl
def register_codecs(register: Any) -> None:
    for codec in CODECS:
        register(codec)
