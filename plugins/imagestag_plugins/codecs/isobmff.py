"""The ISO base media file format (HEIF) boxes AVIF and HEIC images are made of.

:func:`read_header` walks the box tree of an AVIF/HEIC file -- ``ftyp``, then
``meta`` with the primary item (``pitm``), its properties (``iprp``: ``ispe``
size, ``pixi`` channels, ``av1C``/``hvcC`` configuration, ``irot``/``imir``
transforms, ``auxC`` alpha) and the item locations (``iloc``) -- reading only
box headers and the small property boxes, never the coded image data.

The walk is also the structure check: every box must fit inside its parent
and the data, the primary item must have a size, and every extent ``iloc``
lists for it must lie inside the data.  A file that passes cannot make the
decoder read past its end, and its size is known before anything is decoded,
so the pixel limit is enforced on ``ispe`` before libavif/libheif allocate.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from imagestag_core.errors import DecodeError

__all__ = ["HeifHeader", "brands", "read_header"]

_ALPHA_URNS = (b"urn:mpeg:mpegB:cicp:systems:auxiliary:alpha",
               b"urn:mpeg:hevc:2015:auxid:1")


@dataclass
class HeifHeader:
    """What the boxes say about the primary image.

    ``width``/``height`` are as stored (``ispe``, cropped by ``clap``), before
    ``rotation`` (quarter turns anticlockwise, ``irot``) and ``mirror``
    (``imir`` axis, or None).
    """

    width: int = 0
    height: int = 0
    channels: int = 3
    monochrome: bool = False
    depth: int = 8
    alpha: bool = False
    rotation: int = 0
    mirror: int | None = None
    extents: list[tuple[int, int]] = field(default_factory=list)
    #: the AV1 sequence header's maximum frame size (AVIF, from av1C), else None
    coded_size: tuple[int, int] | None = None


def _fail(name: str, message: str) -> DecodeError:
    return DecodeError(f"corrupt or truncated {name} data: {message}")


def _boxes(data: bytes, start: int, end: int, name: str) -> list[tuple[bytes, int, int]]:
    """``(type, body start, box end)`` of each box in ``data[start:end]``."""
    out, pos = [], start
    while pos + 8 <= end:
        size = int.from_bytes(data[pos:pos + 4], "big")
        kind, body = bytes(data[pos + 4:pos + 8]), pos + 8
        if size == 1:
            if pos + 16 > end:
                raise _fail(name, f"box {kind!r} at byte {pos} has a truncated 64-bit size")
            size, body = int.from_bytes(data[pos + 8:pos + 16], "big"), pos + 16
        elif size == 0:
            size = end - pos
        if size < body - pos or pos + size > end:
            raise _fail(name, f"box {kind!r} at byte {pos} claims {size:,} bytes, only "
                              f"{end - pos:,} remain")
        out.append((kind, body, pos + size))
        pos += size
    return out


def brands(data: bytes) -> set[bytes]:
    """The major and compatible brands of the leading ``ftyp`` box (empty if none)."""
    if len(data) < 16 or data[4:8] != b"ftyp":
        return set()
    size = min(int.from_bytes(data[:4], "big"), len(data))
    return {bytes(data[8:12])} | {bytes(data[p:p + 4]) for p in range(16, size - 3, 4)}


def _int(data: bytes, pos: int, size: int) -> int:
    return int.from_bytes(data[pos:pos + size], "big") if size else 0


def _item_ids(data: bytes, pos: int, version: int) -> tuple[int, int]:
    width = 2 if version < 1 else 4
    return _int(data, pos, width), pos + width


def _iloc(data: bytes, body: int, end: int, item: int) -> list[tuple[int, int, int]]:
    """``(construction method, offset, length)`` of each extent of ``item``."""
    version = data[body]
    pos = body + 4
    sizes = data[pos:pos + 2]
    if len(sizes) < 2:
        return []
    off_size, len_size, base_size = sizes[0] >> 4, sizes[0] & 15, sizes[1] >> 4
    idx_size = sizes[1] & 15 if version in (1, 2) else 0
    pos += 2
    count_width = 2 if version < 2 else 4
    count, pos = _int(data, pos, count_width), pos + count_width
    found = []
    for _ in range(count):
        if pos > end:
            break
        ident, pos = _int(data, pos, count_width), pos + count_width
        method = 0
        if version in (1, 2):
            method, pos = _int(data, pos, 2) & 15, pos + 2
        pos += 2  # data_reference_index
        base, pos = _int(data, pos, base_size), pos + base_size
        extents, pos = _int(data, pos, 2), pos + 2
        for _ in range(extents):
            pos += idx_size
            offset, pos = _int(data, pos, off_size), pos + off_size
            length, pos = _int(data, pos, len_size), pos + len_size
            if ident == item:
                found.append((method, base + offset, length))
    if pos > end:
        raise DecodeError("corrupt or truncated heif data: the iloc box overruns its size")
    return found


def read_header(data: bytes, name: str) -> HeifHeader:
    """Parse and check the boxes (see the module docs); DecodeError if inconsistent."""
    top = _boxes(data, 0, len(data), name)
    if not top or top[0][0] != b"ftyp":
        raise _fail(name, "the file does not start with an ftyp box")
    meta = next(((b, e) for k, b, e in top if k == b"meta"), None)
    if meta is None:
        raise _fail(name, "no meta box (not a still image)")
    children = {k: (b, e) for k, b, e in _boxes(data, meta[0] + 4, meta[1], name)}
    if b"pitm" not in children or b"iprp" not in children:
        raise _fail(name, "the meta box has no primary item (pitm) or properties (iprp)")
    pitm = children[b"pitm"][0]
    primary, _ = _item_ids(data, pitm + 4, data[pitm])
    iprp = {k: (b, e) for k, b, e in _boxes(data, *children[b"iprp"], name)}
    if b"ipco" not in iprp or b"ipma" not in iprp:
        raise _fail(name, "the properties box lacks ipco or ipma")
    props = _boxes(data, *iprp[b"ipco"], name)
    header = HeifHeader()
    header.alpha = any(k == b"auxC" and any(u in data[b:e] for u in _ALPHA_URNS)
                       for k, b, e in props)
    av1, clap = False, None
    for index in _associations(data, *iprp[b"ipma"], primary):
        if not 1 <= index <= len(props):
            raise _fail(name, f"item {primary} uses property {index}, ipco holds {len(props)}")
        kind, body, end = props[index - 1]
        if kind == b"ispe" and end - body >= 12:
            header.width, header.height = _int(data, body + 4, 4), _int(data, body + 8, 4)
        elif kind == b"clap" and end - body >= 16:  # clean aperture: a crop
            crop = [_int(data, body + 4 * k, 4) or 1 for k in range(4)]
            clap = (crop[0] // crop[1], crop[2] // crop[3])
        elif kind == b"pixi" and end - body >= 5:
            header.channels = data[body + 4]
        elif kind == b"av1C" and end - body >= 3:
            av1 = True
            header.monochrome = bool(data[body + 2] & 0x10)
            header.depth = 12 if data[body + 2] & 0x20 else 10 if data[body + 2] & 0x40 else 8
            header.coded_size = av1_frame_size(data[body + 4:end])
        elif kind == b"irot" and end > body:
            header.rotation = data[body] & 3
        elif kind == b"imir" and end > body:
            header.mirror = data[body] & 1
    if header.width < 1 or header.height < 1:
        raise _fail(name, "the primary item has no image size (ispe)")
    ispe = (header.width, header.height)
    if clap is not None and 0 < clap[0] <= header.width and 0 < clap[1] <= header.height:
        header.width, header.height = clap
    if b"iloc" in children:
        header.extents = [(o, n) for m, o, n in _iloc(data, *children[b"iloc"], primary)
                          if m == 0]
    for offset, length in header.extents:
        if offset + length > len(data):
            raise _fail(name, f"image data of {length:,} bytes at byte {offset:,} runs past "
                              f"the {len(data):,}-byte file")
    if header.coded_size is None and av1 and header.extents:
        offset, length = header.extents[0]
        header.coded_size = av1_frame_size(data[offset:offset + min(length, 1024)])
    if header.coded_size is not None and (ispe[0] > header.coded_size[0] or
                                          ispe[1] > header.coded_size[1]):
        coded = "x".join(map(str, header.coded_size))
        raise _fail(name, f"the header claims {ispe[0]}x{ispe[1]}, the AV1 "
                          f"sequence header codes {coded}")
    return header


class _Bits:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def read(self, n: int) -> int:
        value = 0
        for _ in range(n):
            byte = self.pos >> 3
            if byte >= len(self.data):
                raise DecodeError("corrupt or truncated avif data: a short AV1 sequence header")
            value = value << 1 | (self.data[byte] >> (7 - (self.pos & 7))) & 1
            self.pos += 1
        return value


def av1_frame_size(obus: bytes) -> tuple[int, int] | None:
    """``(max width, max height)`` from the first AV1 sequence header OBU in
    ``obus`` (av1C's configOBUs or an item's data), or None when there is none."""
    pos = 0
    for _ in range(8):  # a temporal delimiter or metadata may come first
        if pos >= len(obus) or not obus[pos] & 2:  # no OBU, or one without a size field
            return None
        kind, pos = (obus[pos] >> 3) & 15, pos + (2 if obus[pos] & 4 else 1)
        size, shift = 0, 0
        while pos < len(obus):
            size, shift, pos = size | (obus[pos] & 0x7F) << shift, shift + 7, pos + 1
            if not obus[pos - 1] & 0x80:
                break
        if kind == 1:  # OBU_SEQUENCE_HEADER
            return _sequence_frame_size(_Bits(obus[pos:pos + size]))
        pos += size
    return None


def _sequence_frame_size(bits: _Bits) -> tuple[int, int]:
    bits.read(3)  # seq_profile
    bits.read(1)  # still_picture
    if bits.read(1):  # reduced_still_picture_header
        bits.read(5)
    else:
        decoder_model, delay_bits = False, 0
        if bits.read(1):  # timing_info_present_flag
            bits.read(64)
            if bits.read(1):  # equal_picture_interval: uvlc num_ticks_per_picture
                zeros = 0
                while not bits.read(1):
                    zeros += 1
                bits.read(zeros)
            decoder_model = bool(bits.read(1))
            if decoder_model:
                delay_bits = bits.read(5) + 1
                bits.read(32 + 5 + 5)
        display_delay = bits.read(1)
        for _ in range(bits.read(5) + 1):  # operating points
            bits.read(12)
            if bits.read(5) > 7:
                bits.read(1)
            if decoder_model and bits.read(1):
                bits.read(2 * delay_bits + 1)
            if display_delay and bits.read(1):
                bits.read(4)
    width_bits, height_bits = bits.read(4) + 1, bits.read(4) + 1
    return bits.read(width_bits) + 1, bits.read(height_bits) + 1


def _associations(data: bytes, body: int, end: int, item: int) -> list[int]:
    version, flags = data[body], _int(data, body + 1, 3)
    pos = body + 4
    count, pos = _int(data, pos, 4), pos + 4
    for _ in range(count):
        if pos >= end:
            break
        ident, pos = _item_ids(data, pos, version)
        n, pos = data[pos], pos + 1
        width = 2 if flags & 1 else 1
        indices = [_int(data, pos + k * width, width) & (0x7FFF if width == 2 else 0x7F)
                   for k in range(n)]
        pos += n * width
        if pos > end:
            raise DecodeError("corrupt or truncated heif data: the ipma box overruns its size")
        if ident == item:
            return indices
    return []
