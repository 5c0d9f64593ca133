"""``--executor-option KEY=VALUE``: an executor's declared options, typed and checked.

An executor accepts the base options of
:class:`~imagestag_core.executor.Executor` plus the names in its
``extra_options``.  Each option's type and default are those of the
``__init__`` parameter of that name (the first class along the MRO whose own
``__init__`` declares it), its one line of help is the executor's
``option_help`` entry.  :func:`option_specs` turns that into
:class:`~imagestag_core.params.ParamSpec` records, which ``imagestag plugins``
lists and :func:`parse_executor_options` checks command-line values against:
``KEY=VALUE`` is read like a value in a pipeline spec (``4``, ``true``,
``none``, ``tcp://host:8786``) and converted to the declared type, so a wrong
key or value is one error line before any worker starts.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Mapping, Sequence
from difflib import get_close_matches
from typing import Any

from imagestag_core.errors import ImagestagError, SpecError
from imagestag_core.executor import Executor
from imagestag_core.params import REQUIRED, ParamSpec, type_name
from imagestag_core.spec import literal

__all__ = [
    "BASE_OPTION_HELP",
    "CLI_OWNED",
    "describe_option",
    "option_specs",
    "parse_executor_options",
    "settable",
]

#: help for the options every executor accepts (the base class's ``__init__``)
BASE_OPTION_HELP: Mapping[str, str] = {
    "on_error": "what a failing frame does: raise, skip or collect",
    "preserve_order": "deliver results in submission order (else as they complete)",
    "max_pending_results": "at most this many unread results before submit refuses more",
    "window": "frames kept in flight by imap/process_all",
    "trace": "record a span per frame and stage",
    "opencv_threads": "cv2.setNumThreads while running (default: CPUs per worker)",
}

#: options the ``imagestag`` commands set themselves, and the flag that sets each
CLI_OWNED: Mapping[str, str] = {"on_error": "--on-error", "trace": "--trace",
                                "num_workers": "-j/--workers"}


def _declared(cls: type[Executor], name: str) -> tuple[Any, Any]:
    """(type, default) of ``name`` from the first ``__init__`` along the MRO that has it."""
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        parameter = inspect.signature(init).parameters.get(name)
        if parameter is None:
            continue
        try:
            hints = typing.get_type_hints(init)
        except Exception:  # an annotation that does not resolve: no type to check against
            hints = {}
        default = REQUIRED if parameter.default is inspect.Parameter.empty \
            else parameter.default
        return hints.get(name, Any), default
    return Any, REQUIRED


def option_specs(cls: type[Executor]) -> list[ParamSpec]:
    """Every option ``cls`` accepts, sorted by name, with type, default and help."""
    helps: dict[str, str] = dict(BASE_OPTION_HELP)
    for klass in reversed(cls.__mro__):
        helps.update(getattr(klass, "__dict__", {}).get("option_help", {}))
    specs = []
    for name in sorted(cls.accepted_options()):
        tp, default = _declared(cls, name)
        specs.append(ParamSpec(name=name, type=tp, default=default, doc=helps.get(name, ""),
                               type_text=type_name(tp)))
    return specs


def settable(tp: Any) -> bool:
    """Whether a command line can carry a value of ``tp`` (a union: one of its members)."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return any(settable(a) for a in typing.get_args(tp) if a is not type(None))
    if typing.get_origin(tp) is tuple:
        return all(settable(a) for a in typing.get_args(tp) if a is not Ellipsis)
    return tp in (bool, int, float, str) or typing.get_origin(tp) is typing.Literal


def describe_option(spec: ParamSpec) -> str:
    """``address  str | None  (default None)  scheduler to connect to``, for listings."""
    default = "required" if spec.required else f"default {spec.default!r}"
    where = f"; set by {CLI_OWNED[spec.name]}" if spec.name in CLI_OWNED else ""
    if not settable(spec.type):
        where = "; Python only"
    text = f"{spec.name}  {spec.type_text}  ({default}{where})"
    return f"{text}  {spec.doc}" if spec.doc else text


def parse_executor_options(executor: str, cls: type[Executor], items: Sequence[str], *,
                           owned: Mapping[str, str] = CLI_OWNED) -> dict[str, Any]:
    """``["address=tcp://h:8786", "retries=5"]`` as typed keyword options of ``cls``.

    Raises :class:`ImagestagError` (one line) for an item without ``=``, an
    option ``cls`` does not accept (with the closest name), one a command sets
    through its own flag (``owned``), a type that no command line can carry,
    or a value of the wrong type; a key given twice keeps the last value.
    """
    specs = {spec.name: spec for spec in option_specs(cls)}
    options: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            example = next(iter(sorted(specs)), "queue_size")
            raise ImagestagError(f"--executor-option {item!r}: expected KEY=VALUE "
                                 f"(e.g. {example}=..., 'imagestag plugins' lists the options)")
        spec = specs.get(key)
        if spec is None:
            close = get_close_matches(key, list(specs), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ImagestagError(
                f"the {executor!r} executor has no option {key!r}{hint} ('imagestag plugins' "
                f"lists each executor's options)")
        if key in owned:
            raise ImagestagError(f"--executor-option {key}: use {owned[key]} instead")
        if not settable(spec.type):
            raise ImagestagError(f"the {executor!r} executor's option {key!r} "
                                 f"({spec.type_text}) cannot be given on the command line")
        try:
            value = spec.coerce(literal(raw), raw=raw)
        except (TypeError, ValueError, SpecError) as exc:
            raise ImagestagError(f"--executor-option {key}={raw}: {exc} (the {executor!r} "
                                 f"executor expects {spec.type_text})") from None
        options[key] = value
    return options
