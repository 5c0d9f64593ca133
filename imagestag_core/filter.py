"""The :class:`Filter` protocol and its thread-safety contract."""

from __future__ import annotations

import inspect
import sys
import typing
from collections.abc import Mapping
from difflib import get_close_matches
from typing import Any, ClassVar

from .codec import ImageInfo
from .errors import FilterParameterError
from .image import Image
from .params import ParamSpec, resolve_params
from .spec import filter_from_dict, filter_to_dict, format_stage, parse_stage_text

if sys.version_info >= (3, 11):
    from typing import dataclass_transform
else:
    from typing_extensions import dataclass_transform

__all__ = ["Filter"]


# Type checkers synthesise each subclass's ``__init__`` from its annotated
# parameters (so ``Resize(bogus=3)`` is an error).  Not ``frozen_default``:
# ``__post_init__`` may set attributes by contract, and the runtime enforces
# immutability after it.
# ``param`` is deliberately not a field specifier: type checkers only read a
# field specifier's *keyword* ``default=``, and filters pass it positionally
# (``param(1.0, min=0.0)``), so every parameter would look required.  Any
# assigned value (a ``param(...)`` call included) marks a parameter optional; a
# required one is declared with a bare annotation.  The runtime ``__init__``
# below stays the one that runs (validation, coercion, ``map_positional``).
@dataclass_transform()
class Filter:
    """Base class of every filter: immutable configuration plus a pure ``apply``.

    A subclass declares a registry ``name``, its parameters as annotated class
    attributes (see :mod:`imagestag_core.params`) and ``apply(image) -> Image``;
    that is a complete filter::

        class Invert(Filter):
            name = "invert"
            amount: float = param(1.0, min=0.0, max=1.0)

            def apply(self, image: Image) -> Image:
                ...

    Parameters are given positionally in declaration order or by keyword;
    unknown or invalid ones raise
    :class:`~imagestag_core.errors.FilterParameterError` naming the valid ones.
    Cross-parameter checks and derived, precomputed state (a lookup table)
    belong in ``__post_init__``, the only place where attributes may be set.

    **Thread-safety contract** (checked by :mod:`imagestag_core.testing`):

    1. ``apply`` never mutates ``self``: no per-call state on the instance.
    2. ``apply`` never mutates its input.  The arrays an Image hands out are
       read-only, so writing into them raises instead of corrupting a frame
       another thread is reading.
    3. ``apply`` mutates no global state; class-level caches are written once,
       under a lock.
    4. One instance may be called from many threads at once, and the same input
       always gives the same output.

    Defining a subclass registers nothing: a plugin registers it through the
    ``register_filters`` hook, a notebook through
    :func:`imagestag_core.plugins.register_filter`.
    """

    name: ClassVar[str] = ""
    params: ClassVar[tuple[ParamSpec, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        inherited: tuple[ParamSpec, ...] = next((
            b.__dict__["params"] for b in cls.__mro__[1:]
            if issubclass(b, Filter) and b.__dict__.get("params")), ())
        cls.params = resolve_params(cls, inspect.get_annotations(cls), inherited, lambda name, tp: (
            name in ("name", "params") or ClassVar in (tp, typing.get_origin(tp))))
        cls.name = cls.__dict__.get("name") or cls.__name__.lower()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        cls = type(self)
        names = [p.name for p in cls.params]
        positional = cls.map_positional(args)
        for key in (k for k in positional if k in kwargs):
            raise FilterParameterError(
                f"{cls.name}: parameter {key!r} given both positionally and by keyword",
                filter_name=cls.name, parameter=key)
        values = {**positional, **kwargs}
        for key in (k for k in values if k not in names):
            raise FilterParameterError(_unknown_param_message(cls, key),
                                       filter_name=cls.name, parameter=key)
        for spec in cls.params:
            if spec.required and spec.name not in values:
                raise FilterParameterError(
                    f"{cls.name}: missing required parameter {spec.name!r} ({spec.type_text})",
                    filter_name=cls.name, parameter=spec.name)
            value = _coerce(cls, spec, values[spec.name]) if spec.name in values else spec.default
            object.__setattr__(self, spec.name, value)
        self.__post_init__()
        object.__setattr__(self, "_frozen", True)

    @classmethod
    def map_positional(cls, args: tuple[Any, ...]) -> dict[str, Any]:
        """Map positional arguments to parameter names (declaration order by default).

        Override to dispatch on the value, as ``Resize(0.5)`` (a scale) vs
        ``Resize((1920, 1080))`` (a size) does.  Spec strings use this too.
        """
        if len(args) > len(cls.params):
            raise FilterParameterError(
                f"{cls.name} takes at most {len(cls.params)} positional parameters "
                f"({', '.join(p.name for p in cls.params) or 'none'}), got {len(args)}",
                filter_name=cls.name)
        return {spec.name: value for spec, value in zip(cls.params, args)}

    def __post_init__(self) -> None:
        """Hook for cross-parameter validation and precomputed, immutable state."""

    def decode_hint(self, info: ImageInfo, reductions: tuple[int, ...]) -> int | None:
        """How much smaller the source may be decoded when this filter runs first.

        ``info`` is the header of an encoded source and ``reductions`` the factors its
        codec can decode at (``Codec.decode_reductions``).  Return one of them, 1 for
        "full size" (the default), or None to hand the question to the next stage
        (a filter that passes the source on untouched).  Only a filter whose result
        is the same (up to resampling) from the reduced source may return more than
        1; shrink-on-load is asked of the filter, never decided by its name.
        """
        return 1

    def apply(self, image: Image) -> Image:
        """Return a new Image; never modify ``image`` or ``self``."""
        raise NotImplementedError(f"{type(self).__name__} does not implement apply()")

    def __call__(self, image: Image) -> Image:
        return self.apply(image)

    # -- value semantics -----------------------------------------------------------

    def get_params(self) -> dict[str, Any]:
        """Every declared parameter's value, in declaration order."""
        return {p.name: getattr(self, p.name) for p in type(self).params}

    def non_default_params(self) -> dict[str, Any]:
        return {p.name: getattr(self, p.name) for p in type(self).params
                if p.required or getattr(self, p.name) != p.default}

    def replace(self, **changes: Any) -> Filter:
        """A copy with some parameters changed (filters are immutable)."""
        return type(self)(**{**self.get_params(), **changes})

    def to_dict(self) -> dict[str, Any]:
        """``{"filter": name, "params": {...}}`` with JSON-compatible values."""
        return filter_to_dict(self)

    def to_string(self) -> str:
        """The spec text of this one stage, e.g. ``"resize size=1920x1080"``."""
        return format_stage(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Filter:
        return filter_from_dict(data)

    @classmethod
    def parse(cls, text: str) -> Filter:
        """Build one filter from spec text (``"resize 0.5"``)."""
        return parse_stage_text(text)

    def __setattr__(self, key: str, value: Any) -> None:
        if getattr(self, "_frozen", False):
            raise AttributeError(
                f"{type(self).__name__} is immutable; use .replace({key}=...) for a changed copy")
        object.__setattr__(self, key, value)

    def __delattr__(self, key: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, Filter)
        return self.get_params() == other.get_params()

    def __hash__(self) -> int:
        return hash((type(self).__qualname__, tuple(self.get_params().items())))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.non_default_params().items())
        return f"{type(self).__name__}({args})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.get_params()))


def _rebuild(cls: type[Filter], params: dict[str, Any]) -> Filter:
    return cls(**params)


def _coerce(cls: type[Filter], spec: ParamSpec, value: Any) -> Any:
    try:
        return spec.coerce(value)
    except (TypeError, ValueError) as exc:
        raise FilterParameterError(
            f"{cls.name}: invalid value {value!r} for parameter {spec.name!r} "
            f"({spec.type_text}): {exc}",
            filter_name=cls.name, parameter=spec.name) from None


def _unknown_param_message(cls: type[Filter], key: str) -> str:
    names = [p.name for p in cls.params]
    close = get_close_matches(key, names, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    valid = ", ".join(names) or "none"
    return f"{cls.name} has no parameter {key!r}{hint or '.'} Valid parameters: {valid}"


