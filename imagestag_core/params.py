"""Typed filter parameters: declaration, coercion and validation.

A filter declares its parameters once, as annotated class attributes::

    class Blur(Filter):
        name = "blur"
        radius: float = param(1.0, min=0.0, max=100.0, doc="Gaussian sigma in pixels")
        mode: Literal["reflect", "constant"] = "reflect"

That declaration drives ``__init__`` validation, the spec text, ``to_dict``,
equality, the CLI help and the testing kit's hypothesis strategies.

Supported types: ``bool``, ``int``, ``float``, ``str``, ``Literal[...]``,
``tuple[T, ...]`` / ``tuple[T1, T2]``, unions of those and ``X | None``.
"""

from __future__ import annotations

import math
import types
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Union

import numpy as np

__all__ = ["REQUIRED", "Param", "ParamSpec", "coerce_value", "param"]


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()


@dataclass(frozen=True)
class Param:
    """Per-parameter options, given with :func:`param`."""

    default: Any = REQUIRED
    min: float | None = None
    max: float | None = None
    doc: str = ""
    strategy: Any = None  # a hypothesis strategy (or a callable returning one) for the kit
    example: Any = REQUIRED  # an example value for the CLI help


def param(default: Any = REQUIRED, *, min: float | None = None, max: float | None = None,
          doc: str = "", strategy: Any = None, example: Any = REQUIRED) -> Any:
    """Declare a parameter's default and bounds (``min``/``max`` apply to numbers and
    to each number inside a tuple), its documentation and, optionally, a hypothesis
    strategy overriding the one derived from its type."""
    return Param(default=default, min=min, max=max, doc=doc, strategy=strategy, example=example)


@dataclass(frozen=True)
class ParamSpec:
    """A resolved parameter: name, type annotation and options."""

    name: str
    type: Any
    default: Any = REQUIRED
    min: float | None = None
    max: float | None = None
    doc: str = ""
    strategy: Any = None
    example: Any = REQUIRED
    type_text: str = field(default="")

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def coerce(self, value: Any, *, raw: str | None = None) -> Any:
        """``value`` converted to this parameter's type (``TypeError``/``ValueError`` if not)."""
        return coerce_value(self.type, value, raw=raw, lo=self.min, hi=self.max)


def type_name(tp: Any) -> str:
    """Human-readable form of a parameter type (``tuple[int, int] | None``)."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is type(None):
        return "None"
    if origin is Literal:
        return " | ".join(repr(a) for a in args)
    if origin in (Union, types.UnionType):
        return " | ".join(type_name(a) for a in args)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return f"tuple[{type_name(args[0])}, ...]"
        return f"tuple[{', '.join(type_name(a) for a in args)}]"
    return getattr(tp, "__name__", str(tp))


def _union_args(tp: Any) -> tuple[Any, ...]:
    if typing.get_origin(tp) in (Union, types.UnionType):
        return typing.get_args(tp)
    return (tp,)


def accepts_str(tp: Any) -> bool:
    return any(a is str for a in _union_args(tp))


def coerce_value(tp: Any, value: Any, *, raw: str | None = None, lo: float | None = None,
                 hi: float | None = None) -> Any:
    """Convert ``value`` to type ``tp``.

    ``raw`` is the source text when the value came from a spec string: an
    unquoted token like ``12`` or ``3x4`` is kept as text for a ``str``
    parameter.
    """
    options = _union_args(tp)
    if value is None:
        if type(None) in options:
            return None
        raise TypeError("None is not allowed")
    errors: list[str] = []
    # try exact-kind matches first so 1 stays an int for ``int | float``
    for option in sorted(options, key=lambda o: _preference(o, value)):
        if option is type(None):
            continue
        try:
            return _coerce_one(option, value, raw, lo, hi)
        except (TypeError, ValueError) as exc:
            errors.append(str(exc))
    if len(errors) == 1:
        raise ValueError(errors[0])
    raise ValueError(f"{value!r} is not a valid {type_name(tp)}")


def _preference(option: Any, value: Any) -> int:
    if option is type(value):
        return 0
    if typing.get_origin(option) is Literal and value in typing.get_args(option):
        return 0
    return 1


def _check_range(number: float, lo: float | None, hi: float | None) -> None:
    if lo is not None and number < lo:
        raise ValueError(f"{number!r} is below the minimum {lo!r}")
    if hi is not None and number > hi:
        raise ValueError(f"{number!r} is above the maximum {hi!r}")


def _coerce_one(tp: Any, value: Any, raw: str | None, lo: float | None,
                hi: float | None) -> Any:
    origin = typing.get_origin(tp)
    if tp is bool:
        if isinstance(value, (bool, np.bool_)):
            return bool(value)
        raise TypeError(f"{value!r} is not a bool (use true/false)")
    if tp is int:
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"{value!r} is not an int")
        result = int(value)
        _check_range(result, lo, hi)
        return result
    if tp is float:
        if isinstance(value, (bool, np.bool_)) or not isinstance(
                value, (int, float, np.integer, np.floating)):
            raise TypeError(f"{value!r} is not a number")
        number = float(value)
        if math.isnan(number):
            raise ValueError("NaN is not allowed")
        _check_range(number, lo, hi)
        return number
    if tp is str:
        if isinstance(value, str):
            return value
        if raw is not None:
            return raw
        raise TypeError(f"{value!r} is not a str")
    if origin is Literal:
        choices = typing.get_args(tp)
        if value in choices and type(value) in {type(c) for c in choices}:
            return value
        if isinstance(value, str):
            for choice in choices:
                if isinstance(choice, str) and choice.lower() == value.lower():
                    return choice
        if raw is not None and raw in choices:
            return raw
        raise ValueError(f"{value!r} is not one of {', '.join(repr(c) for c in choices)}")
    if origin is tuple:
        args = typing.get_args(tp)
        if isinstance(value, (str, bytes)) or not isinstance(value, (tuple, list, Sequence)):
            raise TypeError(f"{value!r} is not a tuple")
        items = list(value)
        if len(args) == 2 and args[1] is Ellipsis:
            item_types = [args[0]] * len(items)
        else:
            if len(items) != len(args):
                raise ValueError(f"{value!r} needs {len(args)} items, got {len(items)}")
            item_types = list(args)
        return tuple(coerce_value(t, v, lo=lo, hi=hi) for t, v in zip(item_types, items))
    if isinstance(tp, type) and isinstance(value, tp):
        return value
    raise TypeError(f"unsupported parameter type {type_name(tp)}")


def resolve_params(cls: type, own_annotations: dict[str, Any],
                   inherited: Sequence[ParamSpec],
                   skip: Callable[[str, Any], bool]) -> tuple[ParamSpec, ...]:
    """Build the ParamSpecs of a Filter subclass from its annotations."""
    hints = typing.get_type_hints(cls, include_extras=False)
    specs = {p.name: p for p in inherited}
    for name in own_annotations:
        tp = hints.get(name)
        if name.startswith("_") or skip(name, tp):
            continue
        declared = cls.__dict__.get(name, REQUIRED)
        options = declared if isinstance(declared, Param) else Param(default=declared)
        spec = ParamSpec(name=name, type=tp, default=options.default, min=options.min,
                         max=options.max, doc=options.doc, strategy=options.strategy,
                         example=options.example, type_text=type_name(tp))
        if not spec.required:
            try:
                default = spec.coerce(spec.default)
            except (TypeError, ValueError) as exc:
                raise TypeError(
                    f"{cls.__name__}.{name}: default {spec.default!r} does not fit its type "
                    f"{spec.type_text}: {exc}"
                ) from None
            object.__setattr__(spec, "default", default)
        specs[name] = spec
    return tuple(specs.values())
