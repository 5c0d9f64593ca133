"""``Resize``: to a size or by a scale, with exact/fit/fill/pad modes.

The default ``interpolation="auto"`` is antialiased yet fast on big
downscales (see :func:`resize_array`): on a 20 MP photo-like frame resized
to 1920x1080 it stays within a few dB of ``INTER_AREA`` (the reference
quality) at a fraction of its cost.  ``tests/perf/bench_filters.py`` prints
both numbers.
"""

from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING, Any, Literal, overload

import numpy as np

from imagestag_core import hookimpl
from imagestag_core.codec import ImageInfo
from imagestag_core.errors import FilterParameterError
from imagestag_core.filter import Filter
from imagestag_core.image import Image
from imagestag_core.lazy_import import lazy_module
from imagestag_core.limits import get_max_pixels
from imagestag_core.params import param
from imagestag_core.pixel_format import PixelFormat

if TYPE_CHECKING:
    import cv2
else:
    # OpenCV loads on first use, so listing plugins does not import it.
    cv2 = lazy_module("cv2", globals())

__all__ = ["Resize", "resize_array"]

MAX_SIDE = 65535
#: OpenCV's resize counts pixels in an int: larger outputs fail inside it
CV_MAX_PIXELS = 2**31 - 1

Interpolation = Literal["auto", "nearest", "linear", "cubic", "area", "lanczos"]
Mode = Literal["exact", "fit", "fill", "pad"]
Size = tuple[int | None, int | None]


@functools.cache
def _cv_flags() -> dict[str, int]:
    # built on first use: evaluating cv2.* at import time would import OpenCV
    return {
        "nearest": cv2.INTER_NEAREST,
        "linear": cv2.INTER_LINEAR,
        "cubic": cv2.INTER_CUBIC,
        "area": cv2.INTER_AREA,
        "lanczos": cv2.INTER_LANCZOS4,
    }


def resize_array(src: np.ndarray, dsize: tuple[int, int],
                 interpolation: str = "auto") -> np.ndarray:
    """Resize ``src`` to ``dsize`` = ``(width, height)``; returns ``src`` if already that size.

    ``"auto"`` picks per case:

    * upscaling (no axis shrinks): ``INTER_LINEAR``;
    * shrinking by less than 2x on both axes: ``INTER_CUBIC`` to twice the
      target, then OpenCV's exact 2x2 ``INTER_AREA`` box average: within about
      1 dB of a direct ``INTER_AREA`` on photos, at half its cost (its
      non-integer path is slow).  This is what a shrink-on-load decode leaves
      for the final step: a 20 MP photo decoded at 1/2 and fitted into
      1920x1080;
    * other shrinks by less than 2x on an axis: ``INTER_AREA``;
    * shrinking by 2x or more on both axes: an exact integer pre-shrink with
      ``INTER_AREA`` by ``k = min(w // tw, h // th)`` (the same factor on both
      axes: OpenCV has a SIMD path for 2x2 and a non-uniform factor measured
      both slower and less accurate), then ``INTER_LINEAR`` for the remaining
      ratio, below 2 on the tighter axis so it barely aliases.  OpenCV takes
      its fast integer ``INTER_AREA`` path (a box average) only when the source
      is an exact multiple of ``k`` on each axis, so the source is first
      centre-cropped by ``w % k`` and ``h % k`` pixels (fewer than ``k``: at
      most a pixel or two at each edge; the crop is a view, not a copy).  The
      final resample then uses the uncropped geometry (``warpAffine``), so the
      output is not shifted; the lost edge pixels are replaced by replicating
      their neighbours.
    """
    target_w, target_h = dsize
    h, w = src.shape[:2]
    if (target_w, target_h) == (w, h):
        return src
    if interpolation != "auto":
        return cv2.resize(src, dsize, interpolation=_cv_flags()[interpolation])
    if target_w >= w and target_h >= h:
        return cv2.resize(src, dsize, interpolation=cv2.INTER_LINEAR)
    factor = min(w // target_w, h // target_h)
    if factor <= 1:
        if target_w < w < 2 * target_w and target_h < h < 2 * target_h:
            twice = cv2.resize(src, (2 * target_w, 2 * target_h),
                               interpolation=cv2.INTER_CUBIC)
            return cv2.resize(twice, dsize, interpolation=cv2.INTER_AREA)
        return cv2.resize(src, dsize, interpolation=cv2.INTER_AREA)
    crop_w, crop_h = w - w % factor, h - h % factor
    x0, y0 = (w - crop_w) // 2, (h - crop_h) // 2
    cropped = src[y0:y0 + crop_h, x0:x0 + crop_w]
    small = cv2.resize(cropped, (crop_w // factor, crop_h // factor),
                       interpolation=cv2.INTER_AREA)
    if (crop_w, crop_h) == (w, h):
        if small.shape[1] == target_w and small.shape[0] == target_h:
            return small
        return cv2.resize(small, dsize, interpolation=cv2.INTER_LINEAR)
    # The crop made ``small`` cover a slightly narrower region than the source.
    # Stretching it to ``dsize`` would shift the far edge by up to a third of an
    # output pixel, so sample it with the full image's geometry instead:
    # output pixel centre u maps to source x = (u + 0.5) * w / tw - 0.5, which
    # is ((x + 0.5) - x0) / k - 0.5 in ``small``.
    sx, sy = w / (target_w * factor), h / (target_h * factor)
    matrix = np.array([[sx, 0.0, 0.5 * sx - x0 / factor - 0.5],
                       [0.0, sy, 0.5 * sy - y0 / factor - 0.5]])
    return cv2.warpAffine(small, matrix, dsize, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REPLICATE)

class Resize(Filter):
    """Resize to ``size`` or by ``scale`` (exactly one of them).

    Args:
        size: ``(width, height)``; ``(width, None)`` / ``(None, height)`` keep
            the aspect ratio (spec ``1920x`` / ``x1080``).
        scale: a factor for both sides (``Resize(0.5)``); only with ``mode="exact"``.
        mode: with a full ``size``: ``"exact"`` stretches to exactly that size
            (the seed's behaviour), ``"fit"`` fits inside the box keeping the
            aspect (a smaller source is scaled up to touch the box), ``"fill"``
            centre-crops the source to the box's aspect and then resizes
            (cover), ``"pad"`` fits and letterboxes with ``pad_color``.
        interpolation: ``"auto"`` (antialiased and fast, see :func:`resize_array`),
            or OpenCV's ``nearest``, ``linear``, ``cubic``, ``area``, ``lanczos``.
        pad_color: the letterbox colour for ``mode="pad"``, in RGB(A) order
            whatever the image's format, in the image's units (0..255 for uint8);
            1 value (gray), 3 (RGB) or 4 (RGBA; alpha defaults to opaque).
            Gray images use a 1-value colour as is and the luma of an RGB one.

    Positional forms: ``Resize(0.5)`` is a scale, ``Resize((1920, 1080))`` a
    size; further positional values are ``mode``, ``interpolation``, ``pad_color``.
    Every pixel format and dtype (uint8, uint16/float32 gray) is supported;
    the output keeps the input's format.
    """

    name = "resize"

    size: Size | None = param(
        None, min=1, max=MAX_SIDE, example=(1920, 1080),
        doc="target (width, height); one side None keeps the aspect")
    scale: float | None = param(None, min=0.001, max=64.0, example=0.5,
                                doc="factor for both sides")
    mode: Mode = param(
        "exact", doc="how a full size is reached: exact, fit, fill (crop) or pad")
    interpolation: Interpolation = param("auto", doc="auto = antialiased fast downscale")
    pad_color: tuple[float, ...] = param((0.0, 0.0, 0.0), min=0.0, max=65535.0,
                                         doc="letterbox colour (RGB order) for mode=pad")

    if TYPE_CHECKING:
        # The first positional value is a size *or* a scale (see map_positional),
        # which the __init__ synthesised from the fields cannot express; these
        # are the typed call forms.  At run time Filter.__init__ does the work.
        @overload
        def __init__(self, size: Size, mode: Mode = ..., interpolation: Interpolation = ...,
                     pad_color: tuple[float, ...] = ..., *, scale: None = None) -> None: ...

        @overload
        def __init__(self, scale: float, mode: Mode = ..., interpolation: Interpolation = ...,
                     pad_color: tuple[float, ...] = ..., *, size: None = None) -> None: ...

        @overload
        def __init__(self, *, size: Size | None = None, scale: float | None = None,
                     mode: Mode = ..., interpolation: Interpolation = ...,
                     pad_color: tuple[float, ...] = ...) -> None: ...

        def __init__(self, *args: Any, **kwargs: Any) -> None: ...

    @classmethod
    def map_positional(cls, args: tuple[Any, ...]) -> dict[str, Any]:
        if not args:
            return {}
        first, rest = args[0], args[1:]
        is_number = isinstance(first, (int, float, np.integer, np.floating)) and not isinstance(
            first, (bool, np.bool_))
        mapped: dict[str, Any] = {"scale" if is_number else "size": first}
        others = [p.name for p in cls.params if p.name not in ("size", "scale")]
        if len(rest) > len(others):
            raise FilterParameterError(
                f"resize takes a size or scale, then at most {len(others)} positional "
                f"parameters ({', '.join(others)}); got {len(args)} values",
                filter_name=cls.name)
        mapped.update(zip(others, rest))
        return mapped

    def __post_init__(self) -> None:
        if (self.size is None) == (self.scale is None):
            raise FilterParameterError(
                f"resize needs exactly one of size=(w, h) or scale=f; got size={self.size!r}, "
                f"scale={self.scale!r}", filter_name=self.name,
                parameter="size" if self.size is None else "scale")
        if self.size is not None and self.size == (None, None):
            raise FilterParameterError("resize size=(None, None) names no side; give a width, "
                                       "a height or both", filter_name=self.name,
                                       parameter="size")
        if self.scale is not None and self.mode != "exact":
            raise FilterParameterError(f"resize mode={self.mode!r} needs a size; a scale "
                                       f"always keeps the aspect", filter_name=self.name,
                                       parameter="mode")
        if len(self.pad_color) not in (1, 3, 4):
            raise FilterParameterError(f"resize pad_color={self.pad_color!r} needs 1, 3 or 4 "
                                       f"values", filter_name=self.name, parameter="pad_color")

    def output_size(self, width: int, height: int) -> tuple[int, int]:
        """The output ``(width, height)`` for a ``width`` x ``height`` input."""
        if self.scale is not None:
            return (max(1, round(width * self.scale)), max(1, round(height * self.scale)))
        assert self.size is not None
        target_w, target_h = self.size
        if target_w is None:
            assert target_h is not None
            return (max(1, round(width * target_h / height)), target_h)
        if target_h is None:
            return (target_w, max(1, round(height * target_w / width)))
        if self.mode in ("fit",):
            return _fit(width, height, target_w, target_h)
        return (target_w, target_h)

    def min_source_size(self, width: int, height: int) -> tuple[int, int]:
        """The smallest source, in pixels per side, this resize of a ``width`` x
        ``height`` image needs to still *shrink* (never upscale) to its result."""
        out_w, out_h = self.output_size(width, height)
        full_box = self.size is not None and None not in self.size
        if full_box and self.mode in ("fill", "pad"):
            # fill keeps a centred crop of the box's aspect; pad fits inside the box
            pick = max if self.mode == "fill" else min
            s = pick(out_w / width, out_h / height)
            return max(1, math.ceil(width * s)), max(1, math.ceil(height * s))
        return out_w, out_h

    def decode_hint(self, info: ImageInfo, reductions: tuple[int, ...]) -> int:
        """The largest of ``reductions`` that keeps the decoded source at least as
        large as :meth:`min_source_size` on both sides, for every mode and size
        form; :meth:`apply` then computes the output size from the full
        :attr:`~imagestag_core.image.Image.source_size`, so the result has the
        size a full decode gives and the final, antialiased step is still ours."""
        need_w, need_h = self.min_source_size(info.width, info.height)
        best = 1
        for factor in reductions:
            decoded_w, decoded_h = -(-info.width // factor), -(-info.height // factor)
            if factor > best and decoded_w >= need_w and decoded_h >= need_h:
                best = factor
        return best

    def check_output_size(self, width: int, height: int) -> None:
        """Raise :class:`~imagestag_core.errors.FilterParameterError` when a
        ``width`` x ``height`` output is over the pixel limit or OpenCV's."""
        pixels = width * height
        limit = get_max_pixels()
        parameter = "scale" if self.scale is not None else "size"
        given = f"{parameter}={getattr(self, parameter)!r}"
        if limit and pixels > limit:
            raise FilterParameterError(
                f"resize {given} would make {width}x{height} = {pixels:,} pixels, more than "
                f"the pixel limit of {limit:,} (imagestag_core.limits.set_max_pixels or "
                f"IMAGESTAG_MAX_PIXELS raise it)", filter_name=self.name, parameter=parameter)
        if pixels > CV_MAX_PIXELS:
            raise FilterParameterError(
                f"resize {given} would make {width}x{height} = {pixels:,} pixels; OpenCV "
                f"resizes to at most {CV_MAX_PIXELS:,}", filter_name=self.name,
                parameter=parameter)

    def apply(self, image: Image) -> Image:
        pixels = image.get_pixels()
        # a shrink-on-load source is smaller than the file: size the output from the file
        src_w, src_h = image.source_size
        out_w, out_h = self.output_size(src_w, src_h)
        self.check_output_size(out_w, out_h)
        full_box = self.size is not None and None not in self.size
        if full_box and self.mode == "fill":
            pixels = _crop_to_aspect(pixels, out_w, out_h)
        elif full_box and self.mode == "pad":
            fit_w, fit_h = _fit(src_w, src_h, out_w, out_h)
            fitted = resize_array(pixels, (fit_w, fit_h), self.interpolation)
            top, left = (out_h - fit_h) // 2, (out_w - fit_w) // 2
            value = _border_value(self.pad_color, image.pixel_format)
            out = cv2.copyMakeBorder(fitted, top, out_h - fit_h - top, left,
                                     out_w - fit_w - left, cv2.BORDER_CONSTANT, value=value)
            return image.derive(out, image.pixel_format)
        out = resize_array(pixels, (out_w, out_h), self.interpolation)
        if out is image.get_pixels() and image.source_size == image.size:
            return image
        return image.derive(out, image.pixel_format)


def _fit(width: int, height: int, box_w: int, box_h: int) -> tuple[int, int]:
    scale = min(box_w / width, box_h / height)
    return (min(box_w, max(1, round(width * scale))), min(box_h, max(1, round(height * scale))))


def _crop_to_aspect(pixels: np.ndarray, target_w: int, target_h: int) -> np.ndarray:
    """A centred view of ``pixels`` with the aspect ratio of ``target_w`` x ``target_h``."""
    height, width = pixels.shape[:2]
    if width * target_h > target_w * height:  # source is wider: trim the sides
        crop_w = max(1, round(height * target_w / target_h))
        x0 = (width - crop_w) // 2
        return pixels[:, x0:x0 + crop_w]
    crop_h = max(1, round(width * target_h / target_w))
    y0 = (height - crop_h) // 2
    return pixels[y0:y0 + crop_h]


def _border_value(color: tuple[float, ...], fmt: PixelFormat) -> tuple[float, ...]:
    if fmt is PixelFormat.GRAY:
        if len(color) == 1:
            return (color[0], 0.0, 0.0, 0.0)
        r, g, b = color[:3]
        return (0.299 * r + 0.587 * g + 0.114 * b, 0.0, 0.0, 0.0)
    r, g, b = color[:3] if len(color) >= 3 else (color[0],) * 3
    alpha = color[3] if len(color) == 4 else 255.0
    return {
        PixelFormat.RGB: (r, g, b, 0.0),
        PixelFormat.BGR: (b, g, r, 0.0),
        PixelFormat.RGBA: (r, g, b, alpha),
        PixelFormat.BGRA: (b, g, r, alpha),
    }[fmt]


@hookimpl
def register_filters(register: Any) -> None:
    register(Resize)
