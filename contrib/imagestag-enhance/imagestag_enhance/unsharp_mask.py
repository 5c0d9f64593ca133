"""``unsharp_mask``: sharpen by adding back the difference from a blurred copy."""

from __future__ import annotations

from typing import Any

import numpy as np
from imagestag_core import Filter, Image, hookimpl, param

from ._ranges import full_scale, to_dtype
from .gaussian_blur import gaussian


def unsharp(pixels: np.ndarray, amount: float, radius: float, threshold: float) -> np.ndarray:
    """``pixels + amount * (pixels - blur(pixels))`` where the local contrast
    ``|pixels - blur|`` reaches ``threshold`` (a fraction of full scale)."""
    source = pixels.astype(np.float32)
    detail = source - gaussian(source, radius)
    if threshold > 0:
        detail = np.where(np.abs(detail) >= threshold * full_scale(pixels.dtype), detail, 0.0)
    return to_dtype(source + amount * detail, pixels.dtype)


class UnsharpMask(Filter):
    """Unsharp masking, as in photo editors; any pixel format and dtype.

    Args:
        amount: strength; 1.0 doubles the contrast of details finer than ``radius``.
        radius: sigma of the blur that defines "detail", in pixels.
        threshold: leave pixels whose local contrast is below this fraction of
            full scale untouched (0 sharpens everything; ~0.02 spares noise).
    """

    name = "unsharp_mask"
    amount: float = param(1.0, min=0.0, max=5.0, doc="strength", example=1.5)
    radius: float = param(1.0, min=0.1, max=50.0, doc="blur sigma in pixels", example=2.0)
    threshold: float = param(0.0, min=0.0, max=1.0,
                             doc="minimum local contrast, fraction of full scale", example=0.02)

    def apply(self, image: Image) -> Image:
        pixels = unsharp(image.get_pixels(), self.amount, self.radius, self.threshold)
        return image.derive(pixels, image.pixel_format)


@hookimpl
def register_filters(register: Any) -> None:
    register(UnsharpMask, aliases=("sharpen",))
