"""The plugin manager and the registries of filters, executors, colormaps and codecs.

Discovery
---------
Plugins are modules with ``@hookimpl`` functions (see :mod:`.hookspecs`).  The
manager is built lazily, on the first look-up, never at import time:

1. every entry point of the ``imagestag`` group is loaded, each in isolation:
   one that fails to import is recorded in :attr:`PluginManager.load_errors`
   (entry point, distribution, error), a warning is shown and the others load;
2. modules named in ``IMAGESTAG_PLUGINS`` (comma-separated) are imported and
   registered, as pytest does with ``PYTEST_PLUGINS``.

Switches (environment variables):

``IMAGESTAG_STRICT_PLUGINS=1``
    a plugin load error or duplicate name raises instead of warning.
``IMAGESTAG_DISABLE_PLUGIN_AUTOLOAD=1``
    skip third-party entry points; the ``imagestag`` distribution's own
    built-ins still load.
``IMAGESTAG_PLUGINS_ALLOW=a,b`` / ``IMAGESTAG_PLUGINS_BLOCK=c``
    load only / never the entry points whose name or distribution matches
    (names compare case- and ``-``/``_``-insensitively).

A duplicate name is rejected and recorded as a load error naming both
providers; the first provider keeps it.  Unknown names raise
:class:`~imagestag_core.errors.UnknownNameError` with the closest match.
"""

from __future__ import annotations

import importlib
import os
import re
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import numpy as np
import pluggy

from . import hookspecs
from .errors import (
    CodecError,
    DecodeError,
    DuplicateNameError,
    PluginError,
    PluginLoadError,
    UnknownNameError,
)

if TYPE_CHECKING:
    from .codec import Codec
    from .executor import Executor
    from .filter import Filter
    from .hookspecs import Command
    from .pipeline import FilterPipeline

__all__ = [
    "ENTRY_POINT_GROUP",
    "PluginManager",
    "PluginWarning",
    "RegistryEntry",
    "codec_for_data",
    "codec_for_path",
    "get_codec",
    "get_colormap",
    "get_command",
    "get_executor",
    "get_executor_class",
    "get_filter",
    "get_plugin_manager",
    "list_codecs",
    "list_colormaps",
    "list_commands",
    "list_executors",
    "list_filters",
    "register_filter",
    "reset_plugin_manager",
    "use_plugin_manager",
]

ENTRY_POINT_GROUP = "imagestag"
BUILTIN_DISTRIBUTION = "imagestag"
LOCAL_PROVIDER = "<local>"
_NAME_RE = re.compile(r"[a-z][a-z0-9_]*")
_COMMAND_RE = re.compile(r"[a-z][a-z0-9_-]*")
_COLORMAP_RE = re.compile(r"[A-Za-z][A-Za-z0-9_.\-]*")

T = TypeVar("T")


class PluginWarning(UserWarning):
    """A plugin failed to load or registered something invalid (strict mode raises)."""


def normalize(name: str) -> str:
    """PEP 503 normalisation, so ``My_Plugin`` matches ``my-plugin``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _env_flag(env: Mapping[str, str], key: str) -> bool:
    return env.get(key, "").strip().lower() in ("1", "true", "yes", "on")


def _env_list(env: Mapping[str, str], key: str) -> list[str]:
    return [item.strip() for item in env.get(key, "").split(",") if item.strip()]


@dataclass(frozen=True)
class RegistryEntry:
    """One registered thing and where it came from."""

    kind: str
    name: str
    obj: Any
    aliases: tuple[str, ...] = ()
    plugin: str = LOCAL_PROVIDER
    distribution: str | None = None
    version: str | None = None

    @property
    def provider(self) -> str:
        if self.distribution:
            version = f" {self.version}" if self.version else ""
            return f"{self.distribution}{version} (plugin {self.plugin!r})"
        return f"plugin {self.plugin!r}"


@dataclass
class Registry(Generic[T]):
    """Names -> entries for one kind of thing, with aliases."""

    kind: str
    entries: dict[str, RegistryEntry] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)

    def lookup(self, name: str) -> RegistryEntry:
        if not isinstance(name, str):
            raise UnknownNameError(self.kind, repr(name), self.entries)
        key = self.aliases.get(name, name)
        entry = self.entries.get(key)
        if entry is None:
            folded = name.lower()
            matches = [n for n in [*self.entries, *self.aliases] if n.lower() == folded]
            if len(matches) == 1:
                key = self.aliases.get(matches[0], matches[0])
                entry = self.entries[key]
        if entry is None:
            raise UnknownNameError(self.kind, name, [*self.entries, *self.aliases])
        return entry

    def __contains__(self, name: object) -> bool:
        return name in self.entries or name in self.aliases

    def names(self) -> list[str]:
        return sorted(self.entries)

    def list(self) -> list[RegistryEntry]:
        return [self.entries[n] for n in sorted(self.entries, key=str.lower)]

    def owner_of(self, name: str) -> RegistryEntry | None:
        key = self.aliases.get(name, name)
        return self.entries.get(key)

    def remove_plugin(self, plugin: str) -> None:
        for name in [n for n, e in self.entries.items() if e.plugin == plugin]:
            del self.entries[name]
        for alias in [a for a, n in self.aliases.items() if n not in self.entries]:
            del self.aliases[alias]


class PluginManager:
    """Loads plugins and holds what they registered.

    Build one with :func:`create_plugin_manager` (or let :func:`get_plugin_manager`
    build the process-wide one).  ``autoload=False`` loads no entry points at all,
    which is what tests use to register plugins explicitly.
    """

    def __init__(self, *, autoload: bool = True, env: Mapping[str, str] | None = None) -> None:
        self.pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
        self.pm.add_hookspecs(hookspecs)
        self.autoload = autoload
        self.env: Mapping[str, str] = os.environ if env is None else env
        self.strict = _env_flag(self.env, "IMAGESTAG_STRICT_PLUGINS")
        self.filters: Registry[type[Filter]] = Registry("filter")
        self.executors: Registry[type[Executor]] = Registry("executor")
        self.colormaps: Registry[np.ndarray] = Registry("colormap")
        self.codecs: Registry[Codec] = Registry("codec")
        self.commands: Registry[Command] = Registry("command")
        self.load_errors: list[PluginError] = []
        self.skipped: list[tuple[str, str]] = []  # (entry point, reason)
        self._provenance: dict[str, tuple[str | None, str | None]] = {}
        self._lock = threading.RLock()
        self._loaded = False
        self._derived_colormaps: dict[str, np.ndarray] = {}

    # -- loading -------------------------------------------------------------------

    def load(self) -> PluginManager:
        """Discover entry points and ``IMAGESTAG_PLUGINS`` modules (once)."""
        with self._lock:
            if self._loaded:
                return self
            self._loaded = True
            if self.autoload:
                self._load_entry_points()
            for module_name in _env_list(self.env, "IMAGESTAG_PLUGINS"):
                if self.pm.has_plugin(module_name):
                    continue
                try:
                    module = importlib.import_module(module_name)
                except Exception as exc:
                    self._record(PluginLoadError(module_name, None, _describe(exc)), exc)
                    continue
                self.register_plugin(module, name=module_name)
        return self

    def _load_entry_points(self) -> None:
        allow = {normalize(n) for n in _env_list(self.env, "IMAGESTAG_PLUGINS_ALLOW")}
        block = {normalize(n) for n in _env_list(self.env, "IMAGESTAG_PLUGINS_BLOCK")}
        builtins_only = _env_flag(self.env, "IMAGESTAG_DISABLE_PLUGIN_AUTOLOAD")
        seen: set[tuple[str, str]] = set()
        for ep in importlib_metadata.entry_points(group=ENTRY_POINT_GROUP):
            dist = ep.dist.metadata["Name"] if ep.dist is not None else None
            version = ep.dist.version if ep.dist is not None else None
            if (ep.name, ep.value) in seen:
                continue
            seen.add((ep.name, ep.value))
            keys = {normalize(ep.name)} | ({normalize(dist)} if dist else set())
            builtin = dist is not None and normalize(dist) == BUILTIN_DISTRIBUTION
            if builtins_only and not builtin:
                self.skipped.append((ep.name, "IMAGESTAG_DISABLE_PLUGIN_AUTOLOAD"))
                continue
            if allow and not keys & allow:
                self.skipped.append((ep.name, "not in IMAGESTAG_PLUGINS_ALLOW"))
                continue
            if keys & block:
                self.skipped.append((ep.name, "in IMAGESTAG_PLUGINS_BLOCK"))
                continue
            if self.pm.has_plugin(ep.name):
                self._record(PluginLoadError(ep.name, dist, "an entry point of that name was "
                                             "already loaded"), None)
                continue
            try:
                plugin = ep.load()
            except Exception as exc:
                self._record(PluginLoadError(ep.name, dist, _describe(exc)), exc)
                continue
            self.register_plugin(plugin, name=ep.name, distribution=dist, version=version)

    def _record(self, error: PluginError, cause: BaseException | None) -> None:
        self.load_errors.append(error)
        if self.strict:
            raise error from cause
        warnings.warn(str(error), PluginWarning, stacklevel=4)

    def register_plugin(self, plugin: object, name: str | None = None, *,
                        distribution: str | None = None, version: str | None = None) -> str:
        """Register a plugin module/object and collect what its hooks register.

        Returns the plugin name.  Errors inside a hook are recorded as load
        errors (raised in strict mode); everything valid it registered is kept.
        """
        with self._lock:
            if not self._loaded:
                self.load()
            plugin_name = name or getattr(plugin, "__name__", None) or repr(plugin)
            try:
                self.pm.register(plugin, name=plugin_name)
            except ValueError as exc:
                raise PluginError(f"cannot register plugin {plugin_name!r}: {exc}") from None
            except pluggy.PluginValidationError as exc:
                self.pm.unregister(name=plugin_name) if self.pm.has_plugin(plugin_name) else None
                self._record(PluginLoadError(plugin_name, distribution, str(exc)), exc)
                return plugin_name
            self._provenance[plugin_name] = (distribution, version)
            self._collect(plugin, plugin_name)
            return plugin_name

    def unregister_plugin(self, name: str) -> None:
        """Remove a plugin and everything it registered."""
        with self._lock:
            if self.pm.has_plugin(name):
                self.pm.unregister(name=name)
            for registry in self._registries():
                registry.remove_plugin(name)
            self._derived_colormaps.clear()

    def _registries(self) -> tuple[Registry[Any], ...]:
        return (self.filters, self.executors, self.colormaps, self.codecs, self.commands)

    def _collect(self, plugin: object, plugin_name: str) -> None:
        callbacks: dict[str, Callable[..., None]] = {
            "register_filters": self._class_registrar(self.filters, plugin_name, "Filter"),
            "register_executors": self._class_registrar(self.executors, plugin_name, "Executor"),
            "register_colormaps": self._colormap_registrar(plugin_name),
            "register_codecs": self._codec_registrar(plugin_name),
            "register_commands": self._command_registrar(plugin_name),
        }
        for hook_name, callback in callbacks.items():
            hook = getattr(self.pm.hook, hook_name)
            for impl in hook.get_hookimpls():
                if impl.plugin is not plugin:
                    continue
                try:
                    impl.function(register=callback)
                except Exception as exc:
                    dist = self._provenance.get(plugin_name, (None, None))[0]
                    self._record(PluginLoadError(plugin_name, dist,
                                                 f"{hook_name} failed: {_describe(exc)}"), exc)

    def _entry(self, kind: str, name: str, obj: Any, aliases: tuple[str, ...],
               plugin: str) -> RegistryEntry:
        dist, version = self._provenance.get(plugin, (None, None))
        return RegistryEntry(kind, name, obj, aliases, plugin, dist, version)

    def _add(self, registry: Registry[Any], entry: RegistryEntry) -> None:
        for key in (entry.name, *entry.aliases):
            owner = registry.owner_of(key)
            if owner is not None:
                self._record(DuplicateNameError(registry.kind, key, owner.provider,
                                                entry.provider), None)
                return
        registry.entries[entry.name] = entry
        for alias in entry.aliases:
            registry.aliases[alias] = entry.name

    def _class_registrar(self, registry: Registry[Any], plugin: str,
                         base_name: str) -> Callable[..., None]:
        def register(cls: type, *, name: str | None = None, aliases: Iterable[str] = ()) -> None:
            base = _base_class(base_name)
            if not (isinstance(cls, type) and issubclass(cls, base)):
                raise PluginError(f"register_{registry.kind}s: {cls!r} is not a subclass of "
                                  f"{base.__module__}.{base.__name__}")
            reg_name = name if name is not None else getattr(cls, "name", "")
            alias_tuple = tuple(aliases)
            for key in (reg_name, *alias_tuple):
                if not isinstance(key, str) or not _NAME_RE.fullmatch(key):
                    raise PluginError(
                        f"register_{registry.kind}s: invalid name {key!r} for "
                        f"{cls.__name__}; use lower-case letters, digits and '_'")
            self._add(registry, self._entry(registry.kind, reg_name, cls, alias_tuple, plugin))
        return register

    def _colormap_registrar(self, plugin: str) -> Callable[..., None]:
        def register(name: str, lut: Any) -> None:
            if not isinstance(name, str) or not _COLORMAP_RE.fullmatch(name):
                raise PluginError(f"register_colormaps: invalid colormap name {name!r}")
            table = validate_lut(lut, name)
            self._add(self.colormaps, self._entry("colormap", name, table, (), plugin))
        return register

    def _codec_registrar(self, plugin: str) -> Callable[..., None]:
        def register(codec: Any) -> None:
            missing = [a for a in ("name", "extensions", "mime_type", "sniff", "probe",
                                   "decode", "encode") if not hasattr(codec, a)]
            if missing:
                raise PluginError(f"register_codecs: {codec!r} lacks {', '.join(missing)}")
            name = codec.name
            if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
                raise PluginError(f"register_codecs: invalid codec name {name!r}")
            exts = codec.extensions
            if isinstance(exts, str) or not all(isinstance(e, str) and e.startswith(".")
                                                for e in exts):
                raise PluginError(f"register_codecs: {name} extensions must be a tuple of "
                                  f"'.ext' strings, got {exts!r}")
            self._add(self.codecs, self._entry("codec", name, codec, (), plugin))
        return register

    def _command_registrar(self, plugin: str) -> Callable[..., None]:
        def register(command: Any) -> None:
            missing = [a for a in ("name", "help", "configure", "run")
                       if not hasattr(command, a)]
            if missing:
                raise PluginError(f"register_commands: {command!r} lacks {', '.join(missing)}")
            name = command.name
            if not isinstance(name, str) or not _COMMAND_RE.fullmatch(name):
                raise PluginError(f"register_commands: invalid command name {name!r}; use "
                                  f"lower-case letters, digits, '-' and '_'")
            self._add(self.commands, self._entry("command", name, command, (), plugin))
        return register

    # -- look-ups ------------------------------------------------------------------------

    def get_colormap(self, name: str) -> np.ndarray:
        try:
            return self.colormaps.lookup(name).obj
        except UnknownNameError:
            if isinstance(name, str) and name.endswith("_r"):
                base = name[:-2]
                with self._lock:
                    if name not in self._derived_colormaps:
                        table = self.colormaps.lookup(base).obj[::-1].copy()
                        table.flags.writeable = False
                        self._derived_colormaps[name] = table
                    return self._derived_colormaps[name]
            raise

    def class_exports(self) -> dict[str, list[RegistryEntry]]:
        """Class name -> the entries exporting it (for ``imagestag_core.filters``)."""
        exports: dict[str, list[RegistryEntry]] = {}
        for registry in (self.filters, self.executors):
            for entry in registry.entries.values():
                owners = exports.setdefault(entry.obj.__name__, [])
                if all(e.obj is not entry.obj for e in owners):
                    owners.append(entry)
        return exports


def _base_class(name: str) -> type:
    if name == "Filter":
        from .filter import Filter

        return Filter
    from .executor import Executor

    return Executor


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def validate_lut(lut: Any, name: str = "colormap") -> np.ndarray:
    """Check a colormap table: (256, 3) uint8 RGB.  Returns a read-only copy."""
    try:
        table = np.array(lut)
    except Exception as exc:
        raise PluginError(f"colormap {name!r}: not an array: {exc}") from None
    if table.shape != (256, 3):
        raise PluginError(f"colormap {name!r}: the table must have shape (256, 3), "
                          f"got {table.shape}")
    if table.dtype != np.uint8:
        if not np.issubdtype(table.dtype, np.integer) or table.min() < 0 or table.max() > 255:
            raise PluginError(f"colormap {name!r}: the table must be uint8 (0..255), "
                              f"got {table.dtype}")
        table = table.astype(np.uint8)
    table = np.ascontiguousarray(table)
    table.flags.writeable = False
    return table


# -- the process-wide manager ---------------------------------------------------------

_manager: PluginManager | None = None
_manager_lock = threading.Lock()


def create_plugin_manager(*, autoload: bool = True,
                          env: Mapping[str, str] | None = None) -> PluginManager:
    """A new, not yet loaded manager (the factory :func:`get_plugin_manager` uses)."""
    return PluginManager(autoload=autoload, env=env)


def get_plugin_manager() -> PluginManager:
    """The process-wide manager, built and loaded on first use."""
    global _manager
    manager = _manager
    if manager is None:
        with _manager_lock:
            if _manager is None:
                _manager = create_plugin_manager()
            manager = _manager
    if not manager._loaded:
        manager.load()
    return manager


def reset_plugin_manager() -> None:
    """Forget the process-wide manager; the next look-up rebuilds it (re-reading env)."""
    global _manager
    with _manager_lock:
        _manager = None


@contextmanager
def use_plugin_manager(manager: PluginManager) -> Iterator[PluginManager]:
    """Make ``manager`` the process-wide one inside a ``with`` block (tests)."""
    global _manager
    with _manager_lock:
        previous, _manager = _manager, manager
    try:
        yield manager
    finally:
        with _manager_lock:
            _manager = previous


# -- convenience look-ups ----------------------------------------------------------------


def get_filter(name: str) -> type[Filter]:
    """The filter class registered as ``name`` (or an alias, case-insensitively)."""
    return get_plugin_manager().filters.lookup(name).obj


def list_filters() -> list[RegistryEntry]:
    """Every registered filter, sorted by name, with its provider."""
    return get_plugin_manager().filters.list()


def get_executor_class(name: str) -> type[Executor]:
    return get_plugin_manager().executors.lookup(name).obj


def get_executor(name: str, pipeline: FilterPipeline | Iterable[Any] | str,
                 **options: Any) -> Executor:
    """Build the executor registered as ``name`` for ``pipeline``."""
    return get_executor_class(name)(pipeline, **options)


def list_executors() -> list[RegistryEntry]:
    return get_plugin_manager().executors.list()


def get_colormap(name: str) -> np.ndarray:
    """A (256, 3) uint8 RGB table, read-only; ``<name>_r`` gives it reversed."""
    return get_plugin_manager().get_colormap(name)


def list_colormaps() -> list[RegistryEntry]:
    return get_plugin_manager().colormaps.list()


def get_codec(name: str) -> Codec:
    """The codec registered as ``name`` (``"jpeg"``; ``"jpg"`` works through extensions)."""
    manager = get_plugin_manager()
    try:
        return manager.codecs.lookup(name).obj
    except UnknownNameError:
        if isinstance(name, str):
            ext = name.lower() if name.startswith(".") else f".{name.lower()}"
            for entry in manager.codecs.list():
                if ext in entry.obj.extensions:
                    return entry.obj
        raise


def list_codecs() -> list[RegistryEntry]:
    return get_plugin_manager().codecs.list()


def get_command(name: str) -> Command:
    """The ``imagestag`` subcommand registered as ``name``."""
    return get_plugin_manager().commands.lookup(name).obj


def list_commands() -> list[RegistryEntry]:
    return get_plugin_manager().commands.list()


def codec_for_path(path: str | os.PathLike[str]) -> Codec:
    """The codec for a file name's extension."""
    suffix = Path(path).suffix.lower()
    manager = get_plugin_manager()
    for entry in manager.codecs.list():
        if suffix in entry.obj.extensions:
            return entry.obj
    known = sorted({e for entry in manager.codecs.list() for e in entry.obj.extensions})
    raise CodecError(f"no codec for the extension {suffix or '(none)'!r} of {str(path)!r}; "
                     f"known: {', '.join(known)}")


def codec_for_data(data: bytes, path: str | os.PathLike[str] | None = None) -> Codec:
    """The codec whose ``sniff`` recognises ``data`` (the file extension as a fallback)."""
    manager = get_plugin_manager()
    head = data[:64]
    for entry in manager.codecs.list():
        try:
            if entry.obj.sniff(head):
                return entry.obj
        except Exception:  # a broken third-party sniffer must not hide the others
            continue
    if path is not None:
        try:
            return codec_for_path(path)
        except CodecError:
            pass
    where = f" in {str(path)!r}" if path is not None else ""
    known = ", ".join(manager.codecs.names()) or "(none installed)"
    raise DecodeError(f"unrecognised image data{where} (starts with {bytes(head[:8])!r}); "
                      f"known formats: {known}")


def register_filter(cls: type[Filter], *, name: str | None = None,
                    aliases: Iterable[str] = ()) -> None:
    """Register a filter defined locally (a notebook, a script) in the current manager."""
    manager = get_plugin_manager()
    with manager._lock:
        manager._class_registrar(manager.filters, LOCAL_PROVIDER, "Filter")(
            cls, name=name, aliases=aliases)


def registry_name_of(cls: type) -> str | None:
    """The name ``cls`` is registered under, if it is."""
    manager = get_plugin_manager()
    for registry in (manager.filters, manager.executors):
        for entry in registry.entries.values():
            if entry.obj is cls:
                return entry.name
    return None

