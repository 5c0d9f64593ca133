"""HEIC/HEIF (HEVC in HEIF: iPhone photos) through the optional ``pillow-heif``.

Installed with ``pip install 'imagestag[heif]'``.  Without it the codec is
still registered, so ``imagestag plugins`` names the extra and a HEIC input
fails with one line saying how to install it, instead of "unrecognised data".

``probe`` reads the ISOBMFF boxes (:mod:`.isobmff`): ``ispe`` of the primary
item with its ``irot``/``imir`` applied, ``BGRA`` with an alpha plane, else
``BGR``.  The same walk is the structure check (boxes and item extents inside
the data); libheif then decodes with its own security limits, and the size
``ispe`` claims is under the pixel limit before it starts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from imagestag_core import hookimpl
from imagestag_core.codec import ImageInfo
from imagestag_core.errors import CodecError, DecodeError
from imagestag_core.pixel_format import PixelFormat

from . import isobmff
from .opencv_codecs import heif_info, require_extra

__all__ = ["HeifCodec"]

_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}
_AVIF = {b"avif", b"avis"}


class HeifCodec:
    """HEIC/HEIF stills (the primary image); ``quality`` 1..100 on encode."""

    name = "heif"
    extensions = (".heic", ".heif", ".hif")
    mime_type = "image/heic"
    optional_extra = ("pillow_heif", "heif")

    def sniff(self, data: bytes) -> bool:
        brands = isobmff.brands(data)
        return bool(brands & _BRANDS) and not brands & _AVIF

    def probe(self, data: bytes) -> ImageInfo:
        if not self.sniff(data):
            raise DecodeError(f"not a HEIC/HEIF file (starts with {bytes(data[:12])!r})")
        require_extra("pillow_heif", "heif", "HEIC")
        header = isobmff.read_header(data, self.name)
        return heif_info(header, PixelFormat.BGRA if header.alpha else PixelFormat.BGR)

    def decode(self, data: bytes, *, reduce: int = 1) -> tuple[np.ndarray, PixelFormat]:
        info = self.probe(data)
        import pillow_heif

        try:
            heif = pillow_heif.open_heif(data, convert_hdr_to_8bit=True)
            mode = "RGBA" if info.pixel_format is PixelFormat.BGRA else "RGB"
            rgb = np.asarray(heif.to_pillow().convert(mode))
        except (RuntimeError, ValueError, OSError) as exc:
            raise DecodeError(f"corrupt heif data: {exc}") from None
        order = [2, 1, 0, 3][:rgb.shape[2]]
        return np.ascontiguousarray(rgb[:, :, order]), info.pixel_format

    def encode(self, pixels: np.ndarray, pixel_format: PixelFormat,
               options: Mapping[str, Any]) -> bytes:
        require_extra("pillow_heif", "heif", "writing HEIC")
        import pillow_heif

        if pixels.dtype != np.uint8:
            raise CodecError(f"heif stores uint8 here, not {pixels.dtype}; scale first")
        quality = options.get("quality", 90)
        if isinstance(quality, bool) or not isinstance(quality, int) or not 1 <= quality <= 100:
            raise CodecError(f"heif: option quality={quality!r} must be an int in 1..100")
        rgb = PixelFormat.RGBA if pixel_format.channels == 4 else PixelFormat.RGB
        from imagestag_core.pixels import convert_pixels

        array = np.ascontiguousarray(convert_pixels(pixels, pixel_format, rgb))
        heif = pillow_heif.from_bytes(rgb.value.upper(), (array.shape[1], array.shape[0]),
                                      array.tobytes())
        import io

        buffer = io.BytesIO()
        heif.save(buffer, quality=quality)
        return buffer.getvalue()

    def __repr__(self) -> str:
        return "<HeifCodec 'heif'>"


@hookimpl
def register_codecs(register: Any) -> None:
    register(HeifCodec())
