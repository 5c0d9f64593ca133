"""How a ``register_*`` hook is called: who is calling back, and what a call must hold.

pluggy calls each implementation of a hook in turn with the same ``register``
callback.  :class:`ImplFinder` tells the implementations apart, so every
registration is credited to its own plugin; :data:`REGISTER_HOOKS` says, per
hook, which registry its entries go to and how one ``register(...)`` call is
checked (a builder returns ``(name, obj, aliases, hidden)`` or raises
:class:`~imagestag_core.errors.PluginError`).
"""

from __future__ import annotations

import inspect
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import CodeType, FrameType, TracebackType
from typing import Any

import pluggy

from .codec import check_codec
from .colormap import check_colormap_name, validate_lut
from .errors import DuplicateNameError, PluginError, PluginLoadError
from .registry import RegistryEntry

__all__ = ["KINDS", "REGISTER_HOOKS", "ImplFinder", "RegisterHook", "call_register_hook",
           "describe"]

_NAME_RE = re.compile(r"[a-z][a-z0-9_]*")
_COMMAND_RE = re.compile(r"[a-z][a-z0-9_-]*")

#: what a builder returns: name, the registered object, aliases, hidden
Built = tuple[str, Any, tuple[str, ...], bool]
Builder = Callable[..., Built]


class ImplFinder:
    """Finds the hook implementation on the stack (or in a traceback).

    pluggy calls each implementation in turn with the same ``register``
    callback; the callback tells them apart by the code object of the frame
    that called it (the implementation itself, or something it called).
    """

    def __init__(self, impls: Iterable[pluggy.HookImpl]) -> None:
        self._by_code: dict[CodeType, list[pluggy.HookImpl]] = {}
        for impl in impls:
            for fn in {impl.function, inspect.unwrap(impl.function)}:
                code = getattr(getattr(fn, "__func__", fn), "__code__", None)
                if isinstance(code, CodeType):
                    self._by_code.setdefault(code, []).append(impl)

    def _match(self, frame: FrameType) -> pluggy.HookImpl | None:
        candidates = self._by_code.get(frame.f_code)
        if not candidates:
            return None
        if len(candidates) == 1:
            return candidates[0]
        # the same method of two instances: tell them apart by ``self``
        owner = frame.f_locals.get("self")
        for impl in candidates:
            if getattr(impl.function, "__self__", None) is owner:
                return impl
        return candidates[0]

    def on_stack(self, frame: FrameType | None) -> pluggy.HookImpl | None:
        while frame is not None:
            impl = self._match(frame)
            if impl is not None:
                return impl
            frame = frame.f_back
        return None

    def in_traceback(self, tb: TracebackType | None) -> pluggy.HookImpl | None:
        found = None
        while tb is not None:
            found = self._match(tb.tb_frame) or found
            tb = tb.tb_next
        return found


@dataclass(frozen=True)
class RegisterHook:
    """One ``register_*`` hook: where its entries go and how a call is checked."""

    name: str
    registry: str
    build: Builder


def _class_builder(kind: str, base: Callable[[], type]) -> Builder:
    def build(cls: type, *, name: str | None = None, aliases: Iterable[str] = (),
              hidden: bool = False) -> Built:
        required = base()
        if not (isinstance(cls, type) and issubclass(cls, required)):
            raise PluginError(f"register_{kind}s: {cls!r} is not a subclass of "
                              f"{required.__module__}.{required.__name__}")
        reg_name = name if name is not None else getattr(cls, "name", "")
        alias_tuple = tuple(aliases)
        for key in (reg_name, *alias_tuple):
            if not isinstance(key, str) or not _NAME_RE.fullmatch(key):
                raise PluginError(f"register_{kind}s: invalid name {key!r} for "
                                  f"{cls.__name__}; use lower-case letters, digits and '_'")
        return reg_name, cls, alias_tuple, bool(hidden)
    return build


def _filter_base() -> type:
    from .filter import Filter

    return Filter


def _executor_base() -> type:
    from .executor import Executor

    return Executor


def _build_colormap(name: str, lut: Any) -> Built:
    check_colormap_name(name)
    return name, validate_lut(lut, name), (), False


def _build_codec(codec: Any) -> Built:
    check_codec(codec)
    return codec.name, codec, (), False


def _object_builder(hook: str, attrs: tuple[str, ...]) -> Builder:
    def build(obj: Any) -> Built:
        missing = [a for a in attrs if not hasattr(obj, a)]
        if missing:
            raise PluginError(f"{hook}: {obj!r} lacks {', '.join(missing)}")
        if not isinstance(obj.name, str) or not _COMMAND_RE.fullmatch(obj.name):
            raise PluginError(f"{hook}: invalid name {obj.name!r}; use lower-case letters, "
                              f"digits, '-' and '_'")
        return obj.name, obj, (), bool(getattr(obj, "hidden", False))
    return build


REGISTER_HOOKS = (
    RegisterHook("register_filters", "filters", _class_builder("filter", _filter_base)),
    RegisterHook("register_executors", "executors", _class_builder("executor", _executor_base)),
    RegisterHook("register_colormaps", "colormaps", _build_colormap),
    RegisterHook("register_codecs", "codecs", _build_codec),
    RegisterHook("register_commands", "commands",
                 _object_builder("register_commands", ("name", "help", "configure", "run"))),
    RegisterHook("register_video_backends", "video_backends", _object_builder(
        "register_video_backends", ("name", "can_open", "open_reader", "open_writer"))),
)
KINDS = {"filters": "filter", "executors": "executor", "colormaps": "colormap",
         "codecs": "codec", "commands": "command", "video_backends": "video backend"}


Report = Callable[[list[PluginError], PluginError, "BaseException | None"], None]


def describe(exc: BaseException) -> str:
    """``"TypeError: message"``."""
    return f"{type(exc).__name__}: {exc}"


def _registrar(pm: pluggy.PluginManager, hook: RegisterHook, kind: str, finder: ImplFinder,
               staged: dict[str, RegistryEntry[Any]], errors: list[PluginError],
               provenance: Callable[[str], tuple[str | None, str | None]],
               report: Report) -> Callable[..., None]:
    """The ``register`` callback of one hook call: checks, credits and stages each entry."""
    def register(*args: Any, **kwargs: Any) -> None:
        impl = finder.on_stack(sys._getframe(1))
        if impl is None:
            raise PluginError(f"{hook.name}: register() was called outside the hook "
                              f"call (use the callback only while the hook runs)")
        plugin = pm.get_name(impl.plugin) or repr(impl.plugin)
        dist, version = provenance(plugin)
        try:
            name, obj, aliases, hidden = hook.build(*args, **kwargs)
        except PluginError as exc:
            report(errors, PluginLoadError(plugin, dist, str(exc)), exc)
            return
        entry = RegistryEntry(kind, name, obj, aliases, plugin, dist, version, hidden)
        for key in (name, *aliases):
            owner = staged.get(key)
            if owner is not None:
                report(errors, DuplicateNameError(kind, key, owner.provider, entry.provider), None)
                return
        for key in (name, *aliases):
            staged[key] = entry
    return register


def call_register_hook(pm: pluggy.PluginManager, hook: RegisterHook, kind: str, *,
                       provenance: Callable[[str], tuple[str | None, str | None]],
                       report: Report, errors: list[PluginError],
                       strict: bool) -> list[RegistryEntry[Any]]:
    """Call ``hook`` through pluggy once and return what its implementations registered.

    ``report(sink, error, cause)`` records a problem (and raises in strict
    mode); ``errors`` collects them.  An implementation that raises is left
    out and the hook called again without it: pluggy stops a call at the first
    exception, and the others' order must stay its own.  The first entry for a
    name, in pluggy's call order, keeps it.
    """
    excluded: list[object] = []
    while True:
        caller = (pm.subset_hook_caller(hook.name, excluded) if excluded
                  else getattr(pm.hook, hook.name))
        finder = ImplFinder(caller.get_hookimpls())
        staged: dict[str, RegistryEntry[Any]] = {}
        attempt: list[PluginError] = []

        register = _registrar(pm, hook, kind, finder, staged, attempt, provenance, report)
        try:
            caller(register=register)
        except Exception as exc:
            if strict and isinstance(exc, PluginError):
                raise
            impl = finder.in_traceback(exc.__traceback__)
            plugin = (pm.get_name(impl.plugin) if impl is not None else None) or \
                "(unknown plugin)"
            report(errors, PluginLoadError(plugin, provenance(plugin)[0],
                                           f"{hook.name} failed: {describe(exc)}"), exc)
            if impl is None or impl.plugin in excluded:
                return []
            excluded.append(impl.plugin)
            continue
        errors.extend(attempt)
        return list({id(e): e for e in staged.values()}.values())
