"""Hypothesis strategies for images, filter parameters, filters and pipelines.

Everything here is built from the registry and from each filter's declared
parameters, so a new filter (built-in or third-party) is covered without
writing a strategy for it.  Where a type alone is not enough, a filter gives
a parameter ``param(..., strategy=...)`` (a strategy, or a callable returning
one), or a test passes ``overrides={"name": strategy}``.
"""

from __future__ import annotations

import math
import string
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Union

import numpy as np
from hypothesis import assume, note
from hypothesis import strategies as st

from ..errors import ImagestagError
from ..filter import Filter
from ..image import Image
from ..params import ParamSpec
from ..pipeline import FilterPipeline
from ..pixel_format import PixelFormat

__all__ = [
    "filter_instances",
    "filter_params",
    "filters",
    "frame_batches",
    "images",
    "param_strategy",
    "pipelines",
]

#: unbounded numeric parameters are drawn within this span of their one bound
#: (or of 0), so a generated size or scale never asks for gigapixel outputs
SOFT_SPAN = 256
DEFAULT_MAX_SIDE = 24
_FILLS = ("constant", "random", "gradient", "wide")
_TEXT = string.ascii_letters + string.digits + " _-.,|=\"'x"


@dataclass(frozen=True)
class ImageRecipe:
    """How an example image was made; ``make()`` builds a fresh, equal Image.

    The kit builds a fresh Image for every call it makes, so an Image's decode
    cache or a filter that wrote into one input never leaks into the next call.
    """

    pixel_format: PixelFormat
    dtype: np.dtype
    width: int
    height: int
    fill: str
    seed: int
    codec: str | None = None
    metadata: tuple[tuple[str, Any], ...] = ()

    def pixels(self) -> np.ndarray:
        """A new, writable array of this recipe's pixels."""
        return make_pixels(self.pixel_format, self.dtype, self.width, self.height, self.fill,
                           self.seed)

    def make(self) -> Image:
        """A fresh Image; encoded with ``codec`` when one is set."""
        meta = dict(self.metadata)
        array = self.pixels()
        if self.codec is None:
            return Image(array, self.pixel_format, metadata=meta)
        data = Image(array, self.pixel_format).encode(self.codec)
        return Image.from_encoded(data, self.codec, metadata=meta)

    def __repr__(self) -> str:
        enc = f", codec={self.codec!r}" if self.codec else ""
        meta = f", metadata={dict(self.metadata)!r}" if self.metadata else ""
        return (f"ImageRecipe({self.width}x{self.height} {self.pixel_format.value} "
                f"{self.dtype}, fill={self.fill!r}, seed={self.seed}{enc}{meta})")


def make_pixels(fmt: PixelFormat, dtype: np.dtype, width: int, height: int, fill: str,
                seed: int) -> np.ndarray:
    """Deterministic pixels for a format, dtype, size, fill kind and seed."""
    shape: tuple[int, ...] = (height, width) if fmt is PixelFormat.GRAY else (
        height, width, fmt.channels)
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    top = 1.0 if dt == np.float32 else float(np.iinfo(dt).max)
    if fill == "constant":
        value = (seed % 257) / 256 * top
        return np.full(shape, value, dtype=dt)
    if fill == "gradient":
        ramp = np.linspace(0.0, top, num=width * height, dtype=np.float64).reshape(height, width)
        if len(shape) == 3:
            ramp = np.repeat(ramp[:, :, None], shape[2], axis=2)
        return ramp.astype(dt)
    if fill == "wide" and dt == np.float32:
        # float images outside 0..1: filters must clip or reject them clearly
        return rng.uniform(-2.0, 3.0, shape).astype(dt)
    if dt == np.float32:
        return rng.random(shape, dtype=np.float32)
    return rng.integers(0, int(top) + 1, shape, dtype=dt)


def _combos(formats: Iterable[PixelFormat | str] | None,
            dtypes: Iterable[Any] | None) -> list[tuple[PixelFormat, np.dtype]]:
    fmts = list(PixelFormat) if formats is None else [PixelFormat.parse(f) for f in formats]
    wanted = None if dtypes is None else {np.dtype(d) for d in dtypes}
    combos = [(f, d) for f in fmts for d in f.allowed_dtypes if wanted is None or d in wanted]
    if not combos:
        raise ImagestagError(f"no pixel format allows the dtypes {sorted(map(str, wanted or []))}"
                             f" among {[f.value for f in fmts]}")
    return combos


def _codec_names() -> list[str]:
    from ..plugins import list_codecs

    return [entry.name for entry in list_codecs()]


@st.composite
def recipes(draw: st.DrawFn, formats: Iterable[PixelFormat | str] | None = None,
            dtypes: Iterable[Any] | None = None, min_side: int = 1,
            max_side: int = DEFAULT_MAX_SIDE, encoded: bool = True,
            metadata: bool = True) -> ImageRecipe:
    """Recipes of the images :func:`images` draws."""
    combos = _combos(formats, dtypes)
    fmt, dtype = draw(st.sampled_from(combos))
    width = draw(st.integers(min_side, max_side))
    height = draw(st.integers(min_side, max_side))
    fill = draw(st.sampled_from(_FILLS))
    seed = draw(st.integers(0, 2**32 - 1))
    meta: tuple[tuple[str, Any], ...] = ()
    if metadata and draw(st.booleans()):
        meta = (("frame", draw(st.integers(0, 1000))), ("source", "imagestag-kit"))
    codec = None
    names: list[str] = _codec_names() if encoded else []
    use_codec: bool = bool(names) and draw(st.booleans())
    if use_codec:
        name = draw(st.sampled_from(names))
        probe = ImageRecipe(fmt, dtype, 1, 1, "constant", 0, name)
        try:
            probe.make()
            codec = name
        except ImagestagError:
            # a codec that cannot store this format/dtype: keep the pixel image
            codec = None
    return ImageRecipe(fmt, np.dtype(dtype), width, height, fill, seed, codec, meta)


def images(formats: Iterable[PixelFormat | str] | None = None,
           dtypes: Iterable[Any] | None = None, min_side: int = 1,
           max_side: int = DEFAULT_MAX_SIDE, encoded: bool = True,
           metadata: bool = True) -> st.SearchStrategy[Image]:
    """Images of every :class:`PixelFormat` and allowed dtype (GRAY: uint8, uint16,
    float32; colour: uint8), 1x1 and odd sizes up to ``max_side``.

    Args:
        formats: limit to these pixel formats (default: all).
        dtypes: limit to these dtypes (default: all a format allows).
        min_side: lower bound of width and height.
        max_side: upper bound of width and height.
        encoded: also draw images carrying encoded bytes, made with each
            registered codec that can store the drawn format.
        metadata: sometimes attach a small metadata mapping.

    Pixels are a constant, a gradient, uniform noise, or (float32) values
    outside 0..1.  Every drawn Image views a writable array of its own, as a
    caller's would.
    """
    return recipes(formats, dtypes, min_side, max_side, encoded, metadata).map(
        lambda r: r.make())


@st.composite
def frame_batches(draw: st.DrawFn, min_frames: int = 1, max_frames: int = 16,
                  formats: Iterable[PixelFormat | str] | None = None,
                  dtypes: Iterable[Any] | None = None, min_side: int = 1,
                  max_side: int = DEFAULT_MAX_SIDE, encoded: bool = True,
                  ) -> list[ImageRecipe]:
    """Recipes of ``min_frames..max_frames`` *distinct* frames of one format and size.

    Frames differ by their seed and carry ``metadata["frame"] = i``, so even a
    shrunk example keeps them distinct (a race needs distinct frames to show).
    """
    base = draw(recipes(formats, dtypes, min_side, max_side, encoded, metadata=False))
    count = draw(st.integers(min_frames, max_frames))
    if base.fill in ("constant", "gradient"):
        base = ImageRecipe(base.pixel_format, base.dtype, base.width, base.height, "random",
                           base.seed, base.codec)
    return [ImageRecipe(base.pixel_format, base.dtype, base.width, base.height, base.fill,
                        (base.seed + i) % 2**32, base.codec, (("frame", i),))
            for i in range(count)]


# -- parameters -------------------------------------------------------------------------


def _bounds(lo: float | None, hi: float | None) -> tuple[float, float]:
    if lo is None and hi is None:
        return 0.0, float(SOFT_SPAN)
    if lo is None:
        assert hi is not None
        return hi - SOFT_SPAN, hi
    if hi is None:
        return lo, lo + SOFT_SPAN
    return lo, min(hi, lo + SOFT_SPAN)


def type_strategy(tp: Any, lo: float | None = None, hi: float | None = None,
                  ) -> st.SearchStrategy[Any] | None:
    """A strategy for values of a parameter type (None when the type is unknown)."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is type(None):
        return st.none()
    if tp is bool:
        return st.booleans()
    if tp is int:
        a, b = _bounds(lo, hi)
        return st.integers(math.ceil(a), math.floor(b))
    if tp is float:
        a, b = _bounds(lo, hi)
        return st.floats(a, b, allow_nan=False, allow_infinity=False)
    if tp is str:
        return st.text(_TEXT, max_size=8)
    if origin is Literal:
        return st.sampled_from(args)
    if origin in (Union, types.UnionType):
        parts = [type_strategy(a, lo, hi) for a in args]
        if any(p is None for p in parts):
            return None
        return st.one_of(*[p for p in parts if p is not None])
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            item = type_strategy(args[0], lo, hi)
            return None if item is None else st.lists(item, max_size=4).map(tuple)
        items = [type_strategy(a, lo, hi) for a in args]
        if any(i is None for i in items):
            return None
        return st.tuples(*[i for i in items if i is not None])
    return None


def _resolve_override(value: Any) -> st.SearchStrategy[Any]:
    if isinstance(value, st.SearchStrategy):
        return value
    if callable(value):
        made = value()
        if isinstance(made, st.SearchStrategy):
            return made
    raise ImagestagError(f"a parameter strategy must be a hypothesis strategy or a callable "
                         f"returning one, got {value!r}")


def param_strategy(spec: ParamSpec, override: Any = None) -> st.SearchStrategy[Any]:
    """The strategy for one declared parameter.

    ``override`` (or the parameter's own ``strategy=``) wins; otherwise the
    strategy is derived from the type and ``min``/``max``, mixed with the
    default and the declared ``example`` so those are tried often.
    """
    chosen = override if override is not None else spec.strategy
    if chosen is not None:
        return _resolve_override(chosen)
    derived = type_strategy(spec.type, spec.min, spec.max)
    fixed = [v for v in (spec.default, spec.example) if not _is_required(v)]
    if derived is None:
        if not fixed:
            raise ImagestagError(
                f"cannot derive a strategy for parameter {spec.name!r} of type "
                f"{spec.type_text}; declare param(..., strategy=...) or pass overrides=")
        return st.sampled_from(fixed)
    if fixed:
        return st.one_of(st.sampled_from(fixed), derived)
    return derived


def _is_required(value: Any) -> bool:
    from ..params import REQUIRED

    return value is REQUIRED


def filter_params(filter_cls: type[Filter], overrides: Mapping[str, Any] | None = None,
                  ) -> st.SearchStrategy[dict[str, Any]]:
    """Keyword arguments for ``filter_cls`` drawn from its declared, typed parameters.

    Values respect the declared types and bounds; the combination may still be
    rejected by the filter's ``__post_init__`` (see :func:`filter_instances`).
    """
    overrides = dict(overrides or {})
    unknown = set(overrides) - {p.name for p in filter_cls.params}
    if unknown:
        raise ImagestagError(f"overrides name unknown parameters of {filter_cls.name!r}: "
                             f"{sorted(unknown)}")
    return st.fixed_dictionaries({p.name: param_strategy(p, overrides.get(p.name))
                                  for p in filter_cls.params})


@st.composite
def filter_instances(draw: st.DrawFn, filter_cls: type[Filter],
                     overrides: Mapping[str, Any] | None = None) -> Filter:
    """Instances of ``filter_cls`` built from :func:`filter_params`.

    A combination the filter rejects with a
    :class:`~imagestag_core.errors.FilterParameterError` (or another
    ImagestagError) is replaced by the all-defaults instance, so filters with
    cross-parameter rules are still exercised.
    """
    params = draw(filter_params(filter_cls, overrides))
    try:
        return filter_cls(**params)
    except ImagestagError as exc:
        note(f"{filter_cls.name}({params!r}) was rejected ({exc}); using its defaults")
    try:
        return filter_cls()
    except ImagestagError:
        assume(False)
        raise  # unreachable: assume(False) raises


def _registered_filters(names: Sequence[str] | None,
                        exclude: Iterable[str]) -> list[type[Filter]]:
    from ..plugins import get_filter, list_filters

    skip = set(exclude)
    if names is not None:
        return [get_filter(n) for n in names if n not in skip]
    return [e.obj for e in list_filters(include_hidden=True) if e.name not in skip]


def filters(names: Sequence[str] | None = None, exclude: Iterable[str] = (),
            extra: Sequence[type[Filter]] = (),
            overrides: Mapping[str, Mapping[str, Any]] | None = None,
            ) -> st.SearchStrategy[Filter]:
    """Instances of registered filters (all, or ``names``), plus ``extra`` classes.

    ``overrides`` maps a filter name to its parameter overrides.
    """
    classes = [*_registered_filters(names, exclude), *extra]
    if not classes:
        raise ImagestagError("no filters to draw from: none is registered")
    per = overrides or {}
    return st.sampled_from(classes).flatmap(
        lambda cls: filter_instances(cls, per.get(cls.name)))


def pipelines(min_stages: int = 1, max_stages: int = 3, names: Sequence[str] | None = None,
              exclude: Iterable[str] = (), extra: Sequence[type[Filter]] = (),
              overrides: Mapping[str, Mapping[str, Any]] | None = None,
              ) -> st.SearchStrategy[FilterPipeline]:
    """Pipelines of ``min_stages..max_stages`` filters composed from the registry."""
    return st.lists(filters(names, exclude, extra, overrides), min_size=min_stages,
                    max_size=max_stages).map(FilterPipeline)


def describe(image: Image) -> str:
    """A short, printable description of an Image for counter-examples."""
    text = repr(image)
    if image.metadata:
        text += f" metadata={dict(image.metadata)!r}"
    try:
        pixels = image.get_pixels()
    except ImagestagError as exc:
        return f"{text} (pixels unavailable: {exc})"
    if pixels.size <= 48:
        body = np.array2string(pixels, threshold=64, max_line_width=100)
        return f"{text}\n{body}"
    return (f"{text} min={pixels.min()!r} max={pixels.max()!r} "
            f"mean={float(pixels.mean()):.3f}")

