"""``gaussian_blur``: smooth an image with a Gaussian kernel."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from imagestag_core import Filter, Image, hookimpl, param
from imagestag_core.lazy_import import lazy_module

if TYPE_CHECKING:
    import cv2
else:
    # OpenCV loads on first use, so `imagestag plugins` does not import it.
    cv2 = lazy_module("cv2", globals())


def gaussian(pixels: np.ndarray, sigma: float) -> np.ndarray:
    """A new array: ``pixels`` blurred with standard deviation ``sigma`` (pixels).

    The kernel size follows from sigma (OpenCV's ``ksize=(0, 0)``); borders
    are reflected, so the image does not darken at its edges.
    """
    return cv2.GaussianBlur(pixels, (0, 0), sigmaX=sigma, sigmaY=sigma,
                            borderType=cv2.BORDER_REFLECT_101)


class GaussianBlur(Filter):
    """Gaussian blur of every channel; any pixel format and dtype.

    Args:
        sigma: standard deviation of the kernel in pixels.
    """

    name = "gaussian_blur"
    sigma: float = param(1.0, min=0.1, max=50.0, doc="kernel standard deviation in pixels",
                         example=2.0)

    def apply(self, image: Image) -> Image:
        return image.derive(gaussian(image.get_pixels(), self.sigma), image.pixel_format)


@hookimpl
def register_filters(register: Any) -> None:
    register(GaussianBlur, aliases=("blur",))
