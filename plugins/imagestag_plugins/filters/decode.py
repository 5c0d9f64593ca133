"""``Decode``: encoded bytes to pixels, optionally shrinking on load."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from imagestag_core import hookimpl
from imagestag_core.codec import ImageInfo, decode_with
from imagestag_core.filter import Filter
from imagestag_core.image import Image
from imagestag_core.lazy_import import lazy_module
from imagestag_core.params import param

if TYPE_CHECKING:
    import cv2
else:
    # OpenCV loads on first use, so listing plugins does not import it.
    cv2 = lazy_module("cv2", globals())

__all__ = ["Decode"]


class Decode(Filter):
    """Turn an encoded image (from a file or bytes) into pixels.

    Args:
        reduce: shrink by 1, 2, 4 or 8 while decoding.  JPEG does it inside the
            decoder (much faster than decoding and resizing); other codecs
            decode at full size and are then resized with ``INTER_AREA``.  The
            output is ``ceil(width / reduce)`` x ``ceil(height / reduce)``.
        page: the page of a multi-page file (TIFF) to decode, 0 first; the
            reduction then applies to that page's size.

    Pixel input (no encoded bytes) passes through unchanged at ``reduce=1``
    and is resized by the factor otherwise.  The result carries no encoded
    bytes, only pixels, in the codec's native format (e.g. BGR for JPEG).
    """

    name = "decode"

    reduce: Literal[1, 2, 4, 8] = param(1, doc="shrink-on-load factor")
    page: int = param(0, min=0, doc="page of a multi-page file (0 first)")

    def decode_hint(self, info: ImageInfo, reductions: tuple[int, ...]) -> int | None:
        """None at ``reduce=1``, page 0: the source is handed on as it is (a lazily
        reduced image stays lazy), so the next stage picks the shrink-on-load factor."""
        return None if self.reduce == 1 and self.page == 0 else 1

    def apply(self, image: Image) -> Image:
        factor = self.reduce
        if self.page and image.encoded is not None and image.codec is not None:
            image = Image(image.encoded, page=self.page, metadata=image.metadata)
        target = (-(-image.width // factor), -(-image.height // factor))
        if image.encoded is None or image.is_decoded or factor == 1:
            if image.encoded is None and factor == 1:
                return image
            pixels, fmt = image.get_pixels(), image.pixel_format
        else:
            codec = image.codec
            assert codec is not None
            pixels, fmt = decode_with(codec, image.encoded, factor)
        if (pixels.shape[1], pixels.shape[0]) != target:
            pixels = cv2.resize(np.asarray(pixels), target, interpolation=cv2.INTER_AREA)
        return image.derive(pixels, fmt)


@hookimpl
def register_filters(register: Any) -> None:
    register(Decode)
