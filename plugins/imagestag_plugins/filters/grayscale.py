"""``Grayscale``: any pixel format to GRAY."""

from __future__ import annotations

from typing import Any

from imagestag_core import hookimpl
from imagestag_core.filter import Filter
from imagestag_core.image import Image
from imagestag_core.pixel_format import PixelFormat

__all__ = ["Grayscale"]


class Grayscale(Filter):
    """Convert to one gray channel (ITU-R 601 luma, as ``cv2.cvtColor``); alpha is dropped.

    GRAY input, of any dtype, passes through unchanged.
    """

    name = "grayscale"

    def apply(self, image: Image) -> Image:
        if image.pixel_format is PixelFormat.GRAY and image.encoded is None:
            return image
        return image.derive(image.get_pixels(PixelFormat.GRAY), PixelFormat.GRAY)


@hookimpl
def register_filters(register: Any) -> None:
    register(Grayscale)
