"""Pixel arrays: validation against a pixel format, conversion between formats.

The array half of :class:`~imagestag_core.image.Image`: what shapes and dtypes
each :class:`~imagestag_core.pixel_format.PixelFormat` takes, and the OpenCV
colour conversions between them (OpenCV is imported on the first conversion).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import ImageError
from .lazy_import import lazy_module
from .limits import check_pixel_limit
from .pixel_format import PixelFormat

if TYPE_CHECKING:
    import cv2
    from PIL import Image as PILImage
else:
    # OpenCV loads on the first pixel conversion, not with ``import imagestag_core``.
    cv2 = lazy_module("cv2", globals())

__all__ = ["PixelArrays", "convert_pixels", "readonly", "shape_fits", "validate_array"]


def readonly(array: np.ndarray) -> np.ndarray:
    """``array`` itself if read-only, else a read-only view of it (no copy)."""
    if array.flags.writeable:
        array = array.view()
        array.flags.writeable = False
    return array


@functools.cache
def _conversions() -> dict[tuple[PixelFormat, PixelFormat], int]:
    """The ``cvtColor`` code of each format pair (``cv2.COLOR_RGB2BGR`` for RGB -> BGR...),
    built on first use (it needs cv2)."""
    return {(src, dst): getattr(cv2, f"COLOR_{src.name}2{dst.name}")
            for src in PixelFormat for dst in PixelFormat if src is not dst}


def convert_pixels(pixels: np.ndarray, src: PixelFormat, dst: PixelFormat) -> np.ndarray:
    """Convert an array between pixel formats (a new array; the input is untouched)."""
    if src is dst:
        return pixels
    if dst is not PixelFormat.GRAY and pixels.dtype != np.uint8:
        raise ImageError(
            f"cannot convert a {pixels.dtype} {src} image to {dst}: colour formats are uint8; "
            f"map it to colour with FalseColor, or scale it to uint8 first"
        )
    out = cv2.cvtColor(pixels, _conversions()[(src, dst)])
    return out


def validate_array(array: Any, pixel_format: PixelFormat | str | None) -> tuple[np.ndarray,
                                                                               PixelFormat]:
    """Check an array's dtype and shape against a pixel format (inferred when None),
    and its size against the pixel limit before anything copies it."""
    if not isinstance(array, np.ndarray):
        raise ImageError(f"expected a numpy array, got {type(array).__name__}")
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    fmt = PixelFormat.infer(array) if pixel_format is None else PixelFormat.parse(pixel_format)
    expected_ndim = 2 if fmt is PixelFormat.GRAY else 3
    if array.ndim != expected_ndim or (expected_ndim == 3 and array.shape[2] != fmt.channels):
        want = "(H, W)" if fmt is PixelFormat.GRAY else f"(H, W, {fmt.channels})"
        raise ImageError(f"a {fmt} image needs an array of shape {want}, got {array.shape}")
    if array.shape[0] < 1 or array.shape[1] < 1:
        raise ImageError(f"an image needs at least 1x1 pixels, got shape {array.shape}")
    check_pixel_limit(int(array.shape[1]), int(array.shape[0]), source="an array")
    if array.dtype not in fmt.allowed_dtypes:
        allowed = ", ".join(str(d) for d in fmt.allowed_dtypes)
        raise ImageError(f"a {fmt} image must have dtype {allowed}; got {array.dtype}")
    return array, fmt


def shape_fits(pixels: np.ndarray, fmt: PixelFormat) -> bool:
    """True when ``pixels`` has the number of dimensions and channels ``fmt`` needs."""
    if fmt is PixelFormat.GRAY:
        return pixels.ndim == 2
    return pixels.ndim == 3 and pixels.shape[2] == fmt.channels


class PixelArrays:
    """The numpy and Pillow views of an :class:`~imagestag_core.image.Image` (a base of it)."""

    __slots__ = ()

    if TYPE_CHECKING:  # provided by Image
        @property
        def pixel_format(self) -> PixelFormat: ...

        def get_pixels(self, fmt: PixelFormat | str | None = None) -> np.ndarray: ...

    def to_numpy(self, fmt: PixelFormat | str | None = None, *, copy: bool = False,
                 ) -> np.ndarray:
        """The pixels in ``fmt`` (``"rgb"``, ``"bgr"``, ``"rgba"``, ``"bgra"``, ``"gray"``;
        default: :attr:`pixel_format`), read-only unless ``copy=True`` (a writable copy).

        Decoded JPEGs and PNGs are BGR inside, and ``np.asarray(image)`` gives that
        internal order: hand ``to_numpy("rgb")`` to PIL, scikit-image or torchvision.
        """
        pixels = self.get_pixels(fmt)
        return pixels.copy() if copy else pixels

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        """``np.asarray(image)``: the pixels as :meth:`get_pixels` gives them (no copy),
        in :attr:`pixel_format` order; a copy only for another ``dtype`` or ``copy=True``."""
        pixels = self.get_pixels()
        if dtype is not None and np.dtype(dtype) != pixels.dtype:
            if copy is False:
                raise ValueError(f"np.asarray(image, dtype={np.dtype(dtype)}, copy=False): a "
                                 f"{pixels.dtype} image needs a copy for another dtype")
            return pixels.astype(dtype)
        return pixels.copy() if copy else pixels

    def to_pil(self) -> PILImage.Image:
        """A Pillow image (RGB/RGBA/L, ``I;16`` for uint16, ``F`` for float32)."""
        from PIL import Image as PILImage

        swap = {PixelFormat.BGR: PixelFormat.RGB, PixelFormat.BGRA: PixelFormat.RGBA}
        return PILImage.fromarray(np.ascontiguousarray(self.get_pixels(
            swap.get(self.pixel_format, self.pixel_format))))
