"""The codec protocol: how encoded bytes become pixels and back.

Codecs are contributed by plugins through the ``register_codecs`` hook; the
built-in JPEG/PNG/WebP/BMP/TIFF codecs live in ``imagestag_plugins.codecs``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .pixel_format import PixelFormat

__all__ = ["Codec", "ImageInfo"]


@dataclass(frozen=True)
class ImageInfo:
    """What a header says about the image ``decode`` will return.

    ``width``/``height`` are *after* EXIF orientation is applied, and
    ``pixel_format``/``dtype`` are exactly what ``decode`` produces, so an
    encoded :class:`~imagestag_core.image.Image` can answer ``size`` and
    ``pixel_format`` without decoding.
    """

    width: int
    height: int
    pixel_format: PixelFormat
    dtype: np.dtype = field(default_factory=lambda: np.dtype(np.uint8))
    orientation: int = 1


@runtime_checkable
class Codec(Protocol):
    """An image file format.

    Attributes:
        name: registry name, lower case (``"jpeg"``); also the ``Encode`` format name.
        extensions: file extensions with the dot, the first one preferred (``(".jpg", ".jpeg")``).
        mime_type: e.g. ``"image/jpeg"``.
        decode_reductions: the factors ``decode(data, reduce=f)`` shrinks by
            inside the decoder (JPEG: ``(2, 4, 8)``), each giving
            ``ceil(width / f)`` x ``ceil(height / f)``.  Optional: a codec
            without the attribute offers none (readers use
            ``getattr(codec, "decode_reductions", ())``), and the pipeline
            then never asks it for a reduced decode.

    All methods must be thread-safe and must not keep per-call state.
    """

    name: str
    extensions: tuple[str, ...]
    mime_type: str
    decode_reductions: tuple[int, ...] = ()

    def sniff(self, data: bytes) -> bool:
        """Return True when ``data`` starts like a file of this format."""
        ...

    def probe(self, data: bytes) -> ImageInfo:
        """Read the header only; raise :class:`~imagestag_core.errors.DecodeError` if corrupt."""
        ...

    def decode(self, data: bytes, *, reduce: int = 1) -> tuple[np.ndarray, PixelFormat]:
        """Decode to pixels, EXIF orientation applied.

        ``reduce`` (1, 2, 4 or 8) asks for a shrink-on-load by that factor; a
        codec that cannot do it decodes at full size (callers resize anyway).
        Raise :class:`~imagestag_core.errors.DecodeError` on corrupt data.
        """
        ...

    def encode(self, pixels: np.ndarray, pixel_format: PixelFormat,
               options: Mapping[str, Any]) -> bytes:
        """Encode pixels; ``options`` holds ``quality``, ``subsampling``, ``compression``...

        Options a codec does not use are ignored.  Raise
        :class:`~imagestag_core.errors.CodecError` for a pixel format or dtype
        the format cannot store.
        """
        ...
