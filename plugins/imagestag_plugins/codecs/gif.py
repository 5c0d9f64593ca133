"""GIF through Pillow: the first frame as an Image, every frame as a sequence.

``probe`` reads the logical screen size from the header and walks the blocks
before the first image descriptor for a transparency flag (``BGRA`` if one is
set, else ``BGR``), so the pixel limit is enforced before Pillow decodes.
Pillow's GIF reader needs no structure check of ours: its LZW decoder writes
into a frame of the screen size it was given and stops at the data's end, so
memory stays bounded by that size.  ``frames`` yields every frame composited
as a viewer shows it (Pillow applies the disposal methods).
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from imagestag_core import hookimpl
from imagestag_core.codec import ImageInfo
from imagestag_core.errors import CodecError, DecodeError
from imagestag_core.pixel_format import PixelFormat

__all__ = ["GifCodec"]


def _has_transparency(data: bytes) -> bool:
    """A Graphic Control Extension with the transparency flag before the first image."""
    pos = 13
    if data[10] & 0x80:  # the global colour table
        pos += 3 << ((data[10] & 7) + 1)
    while pos < len(data):
        block = data[pos]
        if block == 0x2C or block == 0x3B:  # image descriptor, trailer
            return False
        if block != 0x21 or pos + 2 > len(data):
            raise DecodeError(f"corrupt gif data: unknown block 0x{block:02X} at byte {pos}")
        label, pos = data[pos + 1], pos + 2
        if label == 0xF9 and pos + 2 <= len(data) and data[pos + 1] & 1:
            return True
        pos = _skip_sub_blocks(data, pos)
    raise DecodeError("corrupt or truncated gif data: no image before the end")


def _skip_sub_blocks(data: bytes, pos: int) -> int:
    while pos < len(data) and data[pos]:  # sub-blocks, each led by its size
        pos += data[pos] + 1
    return pos + 1


def count_frames(data: bytes) -> int:
    """How many images a GIF holds, by walking its blocks (no pixel is decoded)."""
    pos, frames = 13, 0
    if len(data) < 13:
        raise DecodeError(f"truncated gif header: need 13 bytes, got {len(data)}")
    if data[10] & 0x80:
        pos += 3 << ((data[10] & 7) + 1)
    while pos < len(data):
        block = data[pos]
        if block == 0x3B:  # trailer
            break
        if block == 0x21:  # extension: label, then sub-blocks
            pos = _skip_sub_blocks(data, pos + 2)
        elif block == 0x2C:  # image descriptor, local colour table, LZW data
            if pos + 10 > len(data):
                break
            flags, pos = data[pos + 9], pos + 10
            if flags & 0x80:
                pos += 3 << ((flags & 7) + 1)
            pos = _skip_sub_blocks(data, pos + 1)
            frames += 1
        else:
            raise DecodeError(f"corrupt gif data: unknown block 0x{block:02X} at byte {pos}")
    return frames


class GifCodec:
    """GIF: first frame on decode; ``frames(data)`` for all of them."""

    name = "gif"
    extensions = (".gif",)
    mime_type = "image/gif"
    #: read-only: ``imagestag run`` writes a GIF input's results as PNG
    can_write = False

    def sniff(self, data: bytes) -> bool:
        return data[:6] in (b"GIF87a", b"GIF89a")

    def probe(self, data: bytes) -> ImageInfo:
        if not self.sniff(data):
            raise DecodeError(f"not a GIF file (starts with {bytes(data[:6])!r})")
        if len(data) < 13:
            raise DecodeError(f"truncated gif header: need 13 bytes, got {len(data)}")
        width, height = int.from_bytes(data[6:8], "little"), int.from_bytes(data[8:10], "little")
        if width < 1 or height < 1:
            raise DecodeError(f"header declares an empty image ({width}x{height})")
        fmt = PixelFormat.BGRA if _has_transparency(data) else PixelFormat.BGR
        return ImageInfo(width, height, fmt)

    def _frames(self, data: bytes, fmt: PixelFormat) -> Iterator[np.ndarray]:
        from PIL import Image as PILImage
        from PIL import ImageSequence

        mode = "RGBA" if fmt is PixelFormat.BGRA else "RGB"
        try:
            with PILImage.open(io.BytesIO(data), formats=["GIF"]) as pil:
                for frame in ImageSequence.Iterator(pil):
                    rgb = np.asarray(frame.convert(mode))
                    yield np.ascontiguousarray(rgb[:, :, [2, 1, 0, 3][:rgb.shape[2]]])
        except (OSError, ValueError, EOFError, SyntaxError) as exc:
            raise DecodeError(f"corrupt or truncated gif data: {exc}") from None

    def decode(self, data: bytes, *, reduce: int = 1) -> tuple[np.ndarray, PixelFormat]:
        fmt = self.probe(data).pixel_format
        return next(self._frames(data, fmt)), fmt

    def frame_count(self, data: bytes) -> int:
        """How many frames ``frames(data)`` yields; read from the blocks, nothing decoded."""
        return count_frames(data)

    def frames(self, data: bytes) -> Iterator[tuple[np.ndarray, PixelFormat]]:
        """Every frame of an animated GIF, in the first frame's pixel format."""
        fmt = self.probe(data).pixel_format
        for frame in self._frames(data, fmt):
            yield frame, fmt

    def encode(self, pixels: np.ndarray, pixel_format: PixelFormat,
               options: Mapping[str, Any]) -> bytes:
        raise CodecError("gif is read-only in imagestag; write png or webp")

    def __repr__(self) -> str:
        return "<GifCodec 'gif'>"


@hookimpl
def register_codecs(register: Any) -> None:
    register(GifCodec())
