"""``FalseColor``: gray levels to colours through a 256-entry colormap.

The colour lookup is one ``cv2.applyColorMap`` call with a custom 256x1x3
table (about 2 ms at 1080p), never numpy fancy indexing (about 10x slower).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from imagestag_core import get_colormap, hookimpl
from imagestag_core.errors import FilterParameterError, UnknownNameError
from imagestag_core.filter import Filter
from imagestag_core.image import Image
from imagestag_core.lazy_import import lazy_module
from imagestag_core.params import param
from imagestag_core.pixel_format import PixelFormat

if TYPE_CHECKING:
    import cv2
else:
    # OpenCV loads on first use, so listing plugins does not import it.
    cv2 = lazy_module("cv2", globals())

__all__ = ["FalseColor"]

_NATURAL_RANGE = {np.dtype(np.uint8): (0.0, 255.0), np.dtype(np.uint16): (0.0, 65535.0),
                  np.dtype(np.float32): (0.0, 1.0)}


class FalseColor(Filter):
    """Map gray levels to colours with a named colormap.

    Args:
        colormap: a registered colormap name: every matplotlib colormap
            (``viridis``, ``hot``, ``inferno``, ``gray_r``...) plus any a plugin
            registers.  An unknown name raises
            :class:`~imagestag_core.errors.FilterParameterError` with the closest match.
        input_min: the input value shown with the colormap's first colour.
        input_max: the input value shown with its last colour.  Values outside
            ``input_min..input_max`` are clamped.  When not given, each dtype's
            natural range is used: uint8 ``0..255``, uint16 ``0..65535``,
            float32 ``0.0..1.0``.  Float ``inf`` (and any value above the
            range) takes the last colour, ``-inf`` the first; NaN has no place
            on the scale and takes the first colour.
        reverse: run the colormap backwards (like its ``_r`` variant).

    Colour input is converted to gray first (``cv2.cvtColor``).  The output is
    always **BGR** uint8, OpenCV's native order, so no extra conversion is
    spent in the pipeline; ``result.get_pixels("rgb")`` (or an RGB consumer)
    converts when needed, and ``Encode`` writes BGR directly.
    """

    name = "falsecolor"

    colormap: str = param("viridis", example="hot", doc="registered colormap name")
    input_min: float | None = param(None, doc="value mapped to the first colour")
    input_max: float | None = param(None, doc="value mapped to the last colour")
    reverse: bool = param(False, doc="run the colormap backwards")

    def __post_init__(self) -> None:
        for key in ("input_min", "input_max"):
            value = getattr(self, key)
            if value is not None and not math.isfinite(value):
                raise FilterParameterError(f"falsecolor {key}={value!r} must be finite",
                                           filter_name=self.name, parameter=key)
        if self.input_min is not None and self.input_max is not None and \
                self.input_min >= self.input_max:
            raise FilterParameterError(
                f"falsecolor input_min={self.input_min!r} must be below "
                f"input_max={self.input_max!r}", filter_name=self.name, parameter="input_min")
        try:
            table = get_colormap(self.colormap)
        except UnknownNameError as exc:
            raise FilterParameterError(f"falsecolor: {exc}", filter_name=self.name,
                                       parameter="colormap") from None
        if self.reverse:
            table = table[::-1]
        # applyColorMap wants a 256x1x3 BGR table; its output is then BGR as well
        lut = np.ascontiguousarray(table[:, ::-1]).reshape(256, 1, 3)
        lut.flags.writeable = False
        self._lut = lut
        # for uint8 input the value range folds into the table itself, so
        # input_min/input_max cost nothing per pixel; a range that is empty for
        # uint8 (input_min=300) is still valid for uint16/float32 input
        self._lut_u8: np.ndarray | None = None
        lo, hi = _NATURAL_RANGE[np.dtype(np.uint8)]
        lo = lo if self.input_min is None else self.input_min
        hi = hi if self.input_max is None else self.input_max
        if lo < hi:
            index = _scale_to_index(np.arange(256, dtype=np.float64), lo, hi)
            lut_u8 = np.ascontiguousarray(lut[index])
            lut_u8.flags.writeable = False
            self._lut_u8 = lut_u8

    def _range(self, dtype: np.dtype) -> tuple[float, float]:
        lo, hi = _NATURAL_RANGE[dtype]
        lo = lo if self.input_min is None else self.input_min
        hi = hi if self.input_max is None else self.input_max
        if lo >= hi:
            raise FilterParameterError(
                f"falsecolor: the range {lo!r}..{hi!r} for {dtype} input is empty; "
                f"set both input_min and input_max", filter_name=self.name,
                parameter="input_min")
        return lo, hi

    def apply(self, image: Image) -> Image:
        gray = image.get_pixels(PixelFormat.GRAY)
        if gray.dtype == np.uint8:
            lut_u8 = self._lut_u8
            if lut_u8 is None:
                self._range(gray.dtype)  # raises: the range is empty for uint8
                raise AssertionError("unreachable")
            out = cv2.applyColorMap(gray, lut_u8)
        else:
            lo, hi = self._range(gray.dtype)
            out = cv2.applyColorMap(_to_index(gray, lo, hi), self._lut)
        return image.derive(out, PixelFormat.BGR)


def _scale_to_index(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    scaled = np.rint((values - lo) * (255.0 / (hi - lo)))
    return np.clip(scaled, 0, 255).astype(np.uint8)


def _to_index(gray: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """uint16/float32 gray -> uint8 colormap index, all in OpenCV (no numpy temporaries).

    ``convertScaleAbs`` takes the absolute value and rounds with ``cvRound``,
    which turns ``inf`` and values past the int range into 0, so its input is
    first clamped into ``0..hi - lo``.
    """
    alpha = 255.0 / (hi - lo)
    if gray.dtype == np.uint16 and float(lo).is_integer():
        if lo <= 0:
            # every value is >= lo: x * alpha - lo * alpha is never negative, and
            # convertScaleAbs saturates the values above hi at 255
            return np.asarray(cv2.convertScaleAbs(gray, alpha=alpha, beta=-lo * alpha))
        # saturating subtract clamps values below lo to 0 (OpenCV's stubs don't
        # declare scalar operands)
        shifted = cv2.subtract(gray, int(lo))  # type: ignore[call-overload]
        return np.asarray(cv2.convertScaleAbs(shifted, alpha=alpha))
    shifted = gray - np.float32(lo)  # a new float32 array, safe to patch in place
    cv2.patchNaNs(shifted, 0.0)  # NaN -> the first colour
    # clamp into 0..hi-lo: below, convertScaleAbs's absolute value would mirror
    # the value; above (inf, 1e38), cvRound would overflow to index 0
    np.clip(shifted, 0.0, np.float32(hi - lo), out=shifted)
    return np.asarray(cv2.convertScaleAbs(shifted, alpha=alpha))


@hookimpl
def register_filters(register: Any) -> None:
    register(FalseColor, aliases=("false_color",))
