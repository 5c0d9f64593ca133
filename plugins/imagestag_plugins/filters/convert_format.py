"""``ConvertFormat``: change the channel layout (RGB, BGR, RGBA, BGRA, GRAY)."""

from __future__ import annotations

from typing import Any, Literal

from imagestag_core import hookimpl
from imagestag_core.filter import Filter
from imagestag_core.image import Image
from imagestag_core.params import param
from imagestag_core.pixel_format import PixelFormat

__all__ = ["ConvertFormat"]


class ConvertFormat(Filter):
    """Convert to another pixel format with ``cv2.cvtColor``.

    Args:
        format: ``rgb``, ``rgba``, ``bgr``, ``bgra`` or ``gray``.  Adding alpha
            makes it opaque; dropping it discards it.  Colour formats are
            uint8, so uint16/float32 gray can only go to ``gray`` (use
            ``FalseColor`` to colour it).

    An image already in ``format`` passes through unchanged.
    """

    name = "convert_format"

    format: Literal["rgb", "rgba", "bgr", "bgra", "gray"] = param("rgb",
                                                                  doc="target pixel format")

    def apply(self, image: Image) -> Image:
        target = PixelFormat(self.format)
        if image.pixel_format is target and image.encoded is None:
            return image
        return image.derive(image.get_pixels(target), target)


@hookimpl
def register_filters(register: Any) -> None:
    register(ConvertFormat, aliases=("convert",))
