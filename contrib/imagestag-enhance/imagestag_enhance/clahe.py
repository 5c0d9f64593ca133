"""``clahe``: contrast-limited adaptive histogram equalisation."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import numpy as np
from imagestag_core import Filter, Image, PixelFormat, hookimpl, param
from imagestag_core.errors import FilterParameterError, ImageError
from imagestag_core.lazy_import import lazy_module

if TYPE_CHECKING:
    import cv2
else:
    # OpenCV loads on first use, so `imagestag plugins` does not import it.
    cv2 = lazy_module("cv2", globals())


@functools.cache
def _to_lab() -> dict[PixelFormat, tuple[int, int]]:
    """Colour images are equalised on the lightness of CIE L*a*b*, so hues stay put.

    Built on first use: evaluating cv2.* at import time would import OpenCV.
    """
    return {PixelFormat.RGB: (cv2.COLOR_RGB2LAB, cv2.COLOR_LAB2RGB),
            PixelFormat.BGR: (cv2.COLOR_BGR2LAB, cv2.COLOR_LAB2BGR),
            PixelFormat.RGBA: (cv2.COLOR_RGB2LAB, cv2.COLOR_LAB2RGB),
            PixelFormat.BGRA: (cv2.COLOR_BGR2LAB, cv2.COLOR_LAB2BGR)}


def equalize(gray: np.ndarray, clip_limit: float, tile_grid: tuple[int, int]) -> np.ndarray:
    """CLAHE of a uint8 or uint16 single-channel array (a new array)."""
    # a CLAHE object keeps scratch state, so each call builds its own: sharing
    # one between threads would race
    return cv2.createCLAHE(clipLimit=clip_limit, tileGridSize=tile_grid).apply(
        np.ascontiguousarray(gray))


class CLAHE(Filter):
    """Local contrast equalisation (OpenCV's CLAHE).

    Gray images (uint8, uint16) are equalised directly; colour images
    (uint8) on the L channel of L*a*b*, keeping alpha.  Float images are
    rejected with an :class:`~imagestag_core.errors.ImageError`: scale them
    to an integer type first.

    Args:
        clip_limit: contrast limit per tile (1 = no amplification beyond
            the histogram's average; higher = stronger).
        tile_grid: tiles across and down the image, e.g. ``8x8``.
    """

    name = "clahe"
    clip_limit: float = param(2.0, min=0.1, max=40.0, doc="contrast limit", example=3.0)
    tile_grid: tuple[int, int] = param((8, 8), min=1, max=64, doc="tiles (columns, rows)",
                                       example=(4, 4))

    def __post_init__(self) -> None:
        if any(n < 1 for n in self.tile_grid):
            raise FilterParameterError(f"clahe: tile_grid must be positive, got {self.tile_grid}",
                                       filter_name=self.name, parameter="tile_grid")

    def apply(self, image: Image) -> Image:
        pixels = image.get_pixels()
        fmt = image.pixel_format
        if pixels.dtype not in (np.uint8, np.uint16):
            raise ImageError(f"clahe needs uint8 or uint16 pixels, got {pixels.dtype}; scale "
                             f"the image to an integer type first")
        if fmt is PixelFormat.GRAY:
            return image.derive(equalize(pixels, self.clip_limit, self.tile_grid), fmt)
        forward, back = _to_lab()[fmt]
        lab = cv2.cvtColor(np.ascontiguousarray(pixels[:, :, :3]), forward)
        lab[:, :, 0] = equalize(lab[:, :, 0], self.clip_limit, self.tile_grid)
        color = cv2.cvtColor(lab, back)
        if fmt.channels == 4:
            color = np.dstack([color, pixels[:, :, 3]])
        return image.derive(color, fmt)


@hookimpl
def register_filters(register: Any) -> None:
    register(CLAHE)
