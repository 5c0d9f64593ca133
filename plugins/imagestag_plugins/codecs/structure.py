"""Structure checks: does the data present hold what the header claims?

OpenCV's decoders trust a file's sizes: a PNG chunk length one flipped byte
too large makes it allocate gigabytes before failing, and a JPEG whose frame
header claims 13000x13000 over a few hundred bytes of scan data "decodes" to a
gray image.  So every codec's ``decode`` first runs the check here for its
format: a linear walk over the bytes (chunks, segments, IFDs; no decoding, no
pixel memory) that raises :class:`~imagestag_core.errors.DecodeError` when a
structure does not fit in the data, a required part is missing, or the
compressed data is far too small for the claimed size.

The "far too small" bounds are the most pixels one byte of compressed data may
stand for.  Where the format has a hard limit it is used (deflate expands at
most 1032:1); elsewhere the bound sits at least ten times beyond the flattest
image the usual encoders write (libjpeg, libwebp, libtiff: one solid colour),
so no real image is refused.  Arithmetic-coded JPEG, which can legitimately be
smaller, gets no such bound.
"""

from __future__ import annotations

import re
import struct

from imagestag_core.errors import DecodeError

__all__ = ["check_bmp", "check_jpeg", "check_png", "check_tiff", "check_webp", "jpeg_marker"]

#: deflate's best case: a 258-byte match in two bits
DEFLATE_MAX_RATIO = 1032
#: Huffman JPEG spends at least one bit per 8x8 block; this allows a bit per 512 pixels
JPEG_MAX_PIXELS_PER_BYTE = 4096
#: libwebp writes a solid colour at ~560 px/byte lossy and ~26,000 px/byte lossless
WEBP_LOSSY_MAX_PIXELS_PER_BYTE = 16384
WEBP_LOSSLESS_MAX_PIXELS_PER_BYTE = 1 << 18
#: compressed TIFF strips (deflate, LZW, CCITT, zstd...) may shrink at most this much
TIFF_MAX_RATIO = 1 << 16


def _fail(name: str, message: str) -> DecodeError:
    return DecodeError(f"corrupt or truncated {name} data: {message}")


# -- PNG --------------------------------------------------------------------------------

_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
_CHUNK_TYPE = re.compile(rb"[A-Za-z]{4}")


def check_png(data: bytes) -> None:
    """Every chunk fits in the data; IHDR first, IDAT present, IEND reached; the
    image data can inflate to what IHDR claims."""
    n, pos = len(data), 8
    idat_bytes, seen_idat, header = 0, False, b""
    while True:
        if pos + 8 > n:
            raise _fail("png", f"the file ends at byte {n} without an IEND chunk")
        length = int.from_bytes(data[pos:pos + 4], "big")
        kind = bytes(data[pos + 4:pos + 8])
        if not _CHUNK_TYPE.fullmatch(kind):
            raise _fail("png", f"no chunk type at byte {pos + 4} (found {kind!r})")
        if length > n - pos - 12:
            raise _fail("png", f"chunk {kind.decode()!r} at byte {pos} claims {length:,} "
                               f"bytes, only {max(0, n - pos - 12):,} remain")
        if pos == 8:
            if kind != b"IHDR" or length != 13:
                raise _fail("png", "the first chunk is not a 13-byte IHDR")
            header = bytes(data[pos + 8:pos + 21])
        if kind == b"IDAT":
            seen_idat = True
            idat_bytes += length
        elif kind == b"IEND":
            break
        pos += 12 + length
    if not seen_idat:
        raise _fail("png", "no IDAT chunk (no image data)")
    width, height = struct.unpack(">II", header[:8])
    depth, color_type = header[8], header[9]
    bits = depth * _PNG_CHANNELS.get(color_type, 4)
    needed = height * (1 + -(-width * bits // 8))
    if needed > idat_bytes * DEFLATE_MAX_RATIO + DEFLATE_MAX_RATIO:
        raise _fail("png", f"{idat_bytes:,} bytes of image data cannot hold the "
                           f"{width}x{height} image the header claims ({needed:,} bytes "
                           f"raw)")


# -- JPEG -------------------------------------------------------------------------------

_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE,
                  0xCF})
_ARITHMETIC_SOF = frozenset({0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
# the end of entropy-coded data: 0xFF followed by anything but a stuffed 0x00,
# a restart marker (RST0..7) or another fill byte
_SCAN_END = re.compile(rb"\xff[\x01-\xcf\xd8-\xfe]")


def jpeg_marker(data: bytes, pos: int) -> tuple[int | None, int]:
    """The marker at ``data[pos]`` (fill bytes skipped) and the offset past it;
    ``None`` when the data ends in fill bytes.  The segment walk of the JPEG
    probe and of :func:`check_jpeg` both step with it."""
    if data[pos] != 0xFF:
        raise _fail("jpeg", f"expected a marker at byte {pos}")
    n = len(data)
    while pos < n and data[pos] == 0xFF:
        pos += 1
    return (data[pos], pos + 1) if pos < n else (None, pos)


def check_jpeg(data: bytes) -> None:
    """Segments walk from SOI through every scan to EOI inside the data, and the
    entropy-coded data is plausibly sized for the claimed frame."""
    n, pos = len(data), 2
    frame: tuple[int, int, int] | None = None  # (marker, width, height)
    scan_bytes, scans = 0, 0
    while True:
        if pos >= n:
            raise _fail("jpeg", f"the file ends at byte {n} without an end-of-image marker")
        marker, pos = jpeg_marker(data, pos)
        if marker is None:
            continue
        if marker == 0xD9:
            break
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:
            continue
        if pos + 2 > n:
            raise _fail("jpeg", f"segment 0x{marker:02X} at byte {pos - 2} has no length")
        length = int.from_bytes(data[pos:pos + 2], "big")
        if length < 2 or pos + length > n:
            raise _fail("jpeg", f"segment 0x{marker:02X} at byte {pos - 2} claims {length:,} "
                                f"bytes, only {n - pos:,} remain")
        if marker in _SOF and frame is None and length >= 8:
            height, width = struct.unpack(">HH", data[pos + 3:pos + 7])
            frame = (marker, width, height)
        pos += length
        if marker == 0xDA:
            if frame is None:
                raise _fail("jpeg", "a scan before the frame header")
            end = _SCAN_END.search(data, pos)
            if end is None:
                raise _fail("jpeg", f"scan {scans + 1} runs to the end of the file (no "
                                    f"end-of-image marker)")
            scan_bytes += end.start() - pos
            scans += 1
            pos = end.start()
    if frame is None or not scans:
        raise _fail("jpeg", "no frame header or no scan before the end-of-image marker")
    marker, width, height = frame
    needed = width * height // JPEG_MAX_PIXELS_PER_BYTE
    if marker not in _ARITHMETIC_SOF and scan_bytes < needed:
        raise _fail("jpeg", f"{scan_bytes:,} bytes of scan data cannot hold the {width}x"
                            f"{height} image the header claims (at least {needed:,} needed)")


# -- WebP -------------------------------------------------------------------------------


def check_webp(data: bytes, width: int, height: int) -> None:
    """The RIFF size fits in the data, every chunk fits in the RIFF, an image
    chunk is present and plausibly sized for the ``width`` x ``height`` claimed."""
    n = len(data)
    riff = int.from_bytes(data[4:8], "little")
    if riff < 4 or riff + 8 > n:
        raise _fail("webp", f"the RIFF header claims {riff + 8:,} bytes, the data holds {n:,}")
    end, pos = riff + 8, 12
    image_bytes, lossless, has_image = 0, False, False
    while pos < end:
        if pos + 8 > end:
            raise _fail("webp", f"a chunk header at byte {pos} runs past the RIFF end")
        kind, size = bytes(data[pos:pos + 4]), int.from_bytes(data[pos + 4:pos + 8], "little")
        if size > end - pos - 8:
            raise _fail("webp", f"chunk {kind!r} at byte {pos} claims {size:,} bytes, only "
                                f"{end - pos - 8:,} remain")
        if kind in (b"VP8 ", b"VP8L", b"ANMF"):
            has_image = True
            image_bytes += size
            lossless = lossless or kind == b"VP8L"
            if kind == b"VP8 " and size >= 3:
                frame_tag = int.from_bytes(data[pos + 8:pos + 11], "little")
                first_partition = frame_tag >> 5
                if 10 + first_partition > size:
                    raise _fail("webp", f"the VP8 first partition claims "
                                        f"{first_partition:,} bytes, the chunk holds {size:,}")
        pos += 8 + size + (size & 1)
    if not has_image:
        raise _fail("webp", "no image chunk (VP8, VP8L or ANMF)")
    bound = WEBP_LOSSLESS_MAX_PIXELS_PER_BYTE if lossless else WEBP_LOSSY_MAX_PIXELS_PER_BYTE
    needed = width * height // bound
    if image_bytes < needed:
        raise _fail("webp", f"{image_bytes:,} bytes of image data cannot hold the {width}x"
                            f"{height} image the header claims (at least {needed:,} needed)")


# -- BMP --------------------------------------------------------------------------------

_BMP_HEADERS = frozenset({12, 16, 40, 52, 56, 64, 108, 124})


def check_bmp(data: bytes) -> None:
    """The info header and the pixel array (by offset and declared or computed
    size) lie inside the data."""
    n = len(data)
    if n < 18:
        raise _fail("bmp", f"{n} bytes cannot hold the file and info headers")
    offset, header_size = struct.unpack_from("<II", data, 10)
    if header_size not in _BMP_HEADERS or 14 + header_size > n:
        raise _fail("bmp", f"info header of {header_size:,} bytes (the data holds {n:,})")
    if header_size == 12:
        width, height, _, bits = struct.unpack_from("<HHHH", data, 18)
        compression, size_image = 0, 0
    else:
        width, height, _, bits, compression, size_image = struct.unpack_from("<iiHHII", data, 18)
    if bits not in (1, 4, 8, 16, 24, 32):
        raise _fail("bmp", f"{bits} bits per pixel")
    if not 14 + header_size <= offset <= n:
        raise _fail("bmp", f"the pixel data offset {offset:,} is outside the "
                           f"{14 + header_size}..{n} bytes after the headers")
    if compression in (0, 3, 6):  # uncompressed rows, padded to 4 bytes
        needed = (abs(width) * bits + 31) // 32 * 4 * abs(height)
    else:  # RLE and embedded formats: the declared size, at least an end-of-bitmap
        needed = max(size_image, 2)
    if offset + needed > n:
        raise _fail("bmp", f"the {abs(width)}x{abs(height)} pixel array needs {needed:,} bytes "
                           f"from byte {offset:,}; the data holds {n:,}")


# -- TIFF -------------------------------------------------------------------------------

_TIFF_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4,
                    12: 8, 13: 4, 16: 8, 17: 8, 18: 8}
_TIFF_INT_CODES = {1: "B", 3: "H", 4: "I", 13: "I", 16: "Q"}


def _tiff_array(data: bytes, order: str, typ: int, count: int, pos: int) -> list[int]:
    code = _TIFF_INT_CODES.get(typ)
    if code is None:
        raise _fail("tiff", f"an offset or count tag of type {typ}")
    return list(struct.unpack_from(f"{order}{count}{code}", data, pos))


def check_tiff(data: bytes) -> None:
    """The first IFD, every tag value, and every strip or tile (offset plus byte
    count) lie inside the data; there are as many strips/tiles as the image
    needs, and they can hold its pixels."""
    n = len(data)
    order = ">" if data[:2] == b"MM" else "<"
    big = struct.unpack_from(f"{order}H", data, 2)[0] == 43
    count_fmt, entry_size, value_size = ("Q", 20, 8) if big else ("H", 12, 4)
    ifd = struct.unpack_from(f"{order}{'Q' if big else 'I'}", data, 8 if big else 4)[0]
    count_size = struct.calcsize(count_fmt)
    if ifd + count_size > n:
        raise _fail("tiff", f"the first IFD offset {ifd:,} is outside the {n:,}-byte data")
    entries = struct.unpack_from(f"{order}{count_fmt}", data, ifd)[0]
    if ifd + count_size + entries * entry_size > n:
        raise _fail("tiff", f"the IFD at byte {ifd:,} claims {entries:,} entries, past the end")
    tags: dict[int, list[int]] = {}
    wanted = {256, 257, 258, 259, 273, 277, 278, 279, 284, 322, 323, 324, 325}
    for i in range(entries):
        entry = ifd + count_size + i * entry_size
        tag, typ = struct.unpack_from(f"{order}HH", data, entry)
        count = struct.unpack_from(f"{order}{'Q' if big else 'I'}", data, entry + 4)[0]
        item = _TIFF_TYPE_SIZES.get(typ)
        if item is None:
            continue
        pos = entry + 4 + value_size
        if count * item > value_size:
            pos = struct.unpack_from(f"{order}{'Q' if big else 'I'}", data, pos)[0]
            if pos + count * item > n:
                raise _fail("tiff", f"tag {tag}'s {count:,} values at byte {pos:,} run past "
                                    f"the {n:,}-byte data")
        if tag in wanted and count:
            tags[tag] = _tiff_array(data, order, typ, count, pos)
    width, height = tags.get(256, [0])[0], tags.get(257, [0])[0]
    if width < 1 or height < 1:
        raise _fail("tiff", f"the first IFD gives no image size ({width}x{height})")
    samples, planar = tags.get(277, [1])[0], tags.get(284, [1])[0]
    if 324 in tags or 322 in tags:
        tile_w, tile_h = tags.get(322, [0])[0], tags.get(323, [0])[0]
        if tile_w < 1 or tile_h < 1:
            raise _fail("tiff", f"tile size {tile_w}x{tile_h}")
        offsets, counts = tags.get(324, []), tags.get(325, [])
        chunks = -(-width // tile_w) * -(-height // tile_h)
    else:
        rows = tags.get(278, [height])[0] or height
        offsets, counts = tags.get(273, []), tags.get(279, [])
        chunks = -(-height // max(1, rows))
    if planar == 2:
        chunks *= samples
    if len(offsets) < chunks or len(counts) < chunks:
        raise _fail("tiff", f"the {width}x{height} image needs {chunks:,} strips or tiles, "
                            f"the IFD lists {len(offsets):,} offsets and {len(counts):,} "
                            f"byte counts")
    for start, size in zip(offsets[:chunks], counts[:chunks], strict=True):
        if start + size > n:
            raise _fail("tiff", f"a strip or tile of {size:,} bytes at byte {start:,} runs "
                                f"past the {n:,}-byte data")
    total = sum(counts[:chunks])
    depths = tags.get(258, [1])
    bits = sum(depths) if len(depths) > 1 else samples * depths[0]
    needed = height * (-(-width * bits // 8))
    ratio = 1 if tags.get(259, [1])[0] == 1 else TIFF_MAX_RATIO
    if total * ratio < needed:
        raise _fail("tiff", f"{total:,} bytes of strips or tiles cannot hold the {width}x"
                            f"{height} image the header claims ({needed:,} bytes raw)")
