"""The plugin manager: discovery, hook calls through pluggy, and the registries.

Discovery
---------
Plugins are modules with ``@hookimpl`` functions (see :mod:`.hookspecs`).  The
manager is built lazily, on the first look-up, never at import time:

1. every entry point of the ``imagestag`` group is loaded, each in isolation:
   one that fails to import is recorded in :attr:`PluginManager.load_errors`
   (entry point, distribution, error), a warning is shown and the others load;
2. modules named in ``IMAGESTAG_PLUGINS`` (comma-separated) are imported and
   registered, as pytest does with ``PYTEST_PLUGINS``.

Hook calls
----------
Each ``register_*`` hook is called once *through pluggy* with a ``register``
callback, so pluggy's rules hold: an implementation may accept fewer arguments
than the spec, ``tryfirst``/``trylast`` order implementations across all
plugins, and ``wrapper=True`` implementations wrap the others.  The callback
knows which implementation is calling it and records that plugin (and its
distribution) as the provider.  Registering another plugin later calls the
hooks again, so the order stays pluggy's.  An implementation that raises is
reported and left out of that hook; the other plugins' registrations stand.

Switches (environment variables, documented in ``docs/plugin-hooks.md``):
``IMAGESTAG_STRICT_PLUGINS=1`` (a load error or duplicate raises),
``IMAGESTAG_DISABLE_PLUGIN_AUTOLOAD=1`` (built-ins only),
``IMAGESTAG_PLUGINS_ALLOW`` / ``IMAGESTAG_PLUGINS_BLOCK`` (entry point or
distribution names; see :mod:`.discovery`) and ``IMAGESTAG_TEST_TOOLS=1``
(list the hidden test tools ``fail_on``, ``delay``, ``hold_gil``).

A duplicate name is rejected and recorded as a load error naming both
providers; the first provider in hook-call order keeps it.  Unknown names
raise :class:`~imagestag_core.errors.UnknownNameError` with the closest match.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
import warnings
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pluggy

from . import hookspecs
from .codec import codec_for_data, codec_for_path, get_codec, list_codecs
from .colormap import ColormapRegistry, get_colormap, list_colormaps, validate_lut
from .discovery import ENTRY_POINT_GROUP, env_flag, env_list, normalize, select_entry_points
from .errors import DuplicateNameError, PluginError, PluginLoadError
from .hookcall import KINDS, REGISTER_HOOKS, call_register_hook, describe
from .registry import LOCAL_PROVIDER, Registry, RegistryEntry

if TYPE_CHECKING:
    import numpy as np

    from .codec import Codec
    from .executor import Executor
    from .filter import Filter
    from .hookspecs import Command, VideoBackend
    from .pipeline import FilterPipeline

__all__ = [
    "ENTRY_POINT_GROUP", "LOCAL_PROVIDER", "PluginManager", "PluginWarning", "Registry",
    "RegistryEntry", "codec_for_data", "codec_for_path", "create_plugin_manager", "get_codec",
    "get_colormap", "get_command", "get_executor", "get_executor_class", "get_filter",
    "get_plugin_manager", "get_video_backend", "list_codecs", "list_colormaps", "list_commands",
    "list_executors", "list_filters", "list_video_backends", "normalize", "register_filter",
    "registry_name_of", "reset_plugin_manager", "use_plugin_manager", "validate_lut",
]

_log = logging.getLogger("imagestag.plugins")  # plugin load failures



class PluginWarning(UserWarning):
    """A plugin failed to load or registered something invalid (strict mode raises)."""


class PluginManager:
    """Loads plugins and holds what they registered.

    Build one with :func:`create_plugin_manager` (or let :func:`get_plugin_manager`
    build the process-wide one).  ``autoload=False`` loads no entry points at all,
    which is what tests use to register plugins explicitly.

    Attributes:
        pm: the underlying :class:`pluggy.PluginManager`.
        filters, executors, colormaps, codecs, commands, video_backends: the
            :class:`Registry` of each kind.
        load_errors: every :class:`~imagestag_core.errors.PluginError` recorded.
        skipped: ``(entry point, reason)`` for entry points the switches left out.
    """

    def __init__(self, *, autoload: bool = True, env: Mapping[str, str] | None = None) -> None:
        self.pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
        self.pm.add_hookspecs(hookspecs)
        self.autoload = autoload
        self.env: Mapping[str, str] = os.environ if env is None else env
        self.strict = env_flag(self.env, "IMAGESTAG_STRICT_PLUGINS")
        show = env_flag(self.env, "IMAGESTAG_TEST_TOOLS")
        self.filters: Registry[type[Filter]] = Registry("filter", show_hidden=show)
        self.executors: Registry[type[Executor]] = Registry("executor", show_hidden=show)
        self.colormaps: Registry[np.ndarray] = ColormapRegistry("colormap", show_hidden=show)
        self.codecs: Registry[Codec] = Registry("codec", show_hidden=show)
        self.commands: Registry[Command] = Registry("command", show_hidden=show)
        self.video_backends: Registry[VideoBackend] = Registry("video backend")
        self.skipped: list[tuple[str, str]] = []
        self._import_errors: list[PluginError] = []
        self._hook_errors: list[PluginError] = []
        self._warned: set[str] = set()
        self._provenance: dict[str, tuple[str | None, str | None]] = {}
        self._lock = threading.RLock()
        self._loaded = False

    @property
    def loaded(self) -> bool:
        return self._loaded

    @property
    def load_errors(self) -> list[PluginError]:
        return [*self._import_errors, *self._hook_errors]

    def registry(self, kind: str) -> Registry[Any]:
        """The registry of ``kind`` (``"filters"`` or ``"filter"``)."""
        attr = _attr(kind)
        if attr not in KINDS:
            raise PluginError(f"no registry for {kind!r}; kinds: {', '.join(KINDS)}")
        registry: Registry[Any] = getattr(self, attr)
        return registry

    def registries(self) -> dict[str, Registry[Any]]:
        return {attr: getattr(self, attr) for attr in KINDS}

    # -- loading -----------------------------------------------------------------------

    def load(self) -> PluginManager:
        """Discover entry points and ``IMAGESTAG_PLUGINS`` modules, then call the hooks (once)."""
        with self._lock:
            if self._loaded:
                return self
            self._loaded = True
            if self.autoload:
                self._load_entry_points()
            for module_name in env_list(self.env, "IMAGESTAG_PLUGINS"):
                if self.pm.has_plugin(module_name):
                    continue
                try:
                    module = importlib.import_module(module_name)
                except Exception as exc:
                    self._report(self._import_errors,
                                 PluginLoadError(module_name, None, describe(exc)), exc)
                    continue
                self._add_plugin(module, module_name, None, None)
            self.collect()
        return self

    def _load_entry_points(self) -> None:
        sources, skipped = select_entry_points(self.env)
        self.skipped.extend(skipped)
        for source in sources:
            if self.pm.has_plugin(source.name):
                self._report(self._import_errors, PluginLoadError(
                    source.name, source.distribution,
                    "an entry point of that name was already loaded"), None)
                continue
            try:
                plugin = source.entry_point.load()
            except Exception as exc:
                self._report(self._import_errors, PluginLoadError(
                    source.name, source.distribution, describe(exc)), exc)
                continue
            self._add_plugin(plugin, source.name, source.distribution, source.version)

    def _add_plugin(self, plugin: object, name: str, distribution: str | None,
                    version: str | None) -> bool:
        try:
            self.pm.register(plugin, name=name)
        except pluggy.PluginValidationError as exc:
            if self.pm.has_plugin(name):
                self.pm.unregister(name=name)
            self._report(self._import_errors, PluginLoadError(name, distribution, str(exc)), exc)
            return False
        except ValueError as exc:
            raise PluginError(f"cannot register plugin {name!r}: {exc}") from None
        self._provenance[name] = (distribution, version)
        return True

    def _report(self, sink: list[PluginError], error: PluginError,
                cause: BaseException | None) -> None:
        sink.append(error)
        if self.strict:
            raise error from cause
        message = str(error)
        _log.info("%s", message, exc_info=cause)
        if message not in self._warned:
            self._warned.add(message)
            warnings.warn(message, PluginWarning, stacklevel=4)

    def register_plugin(self, plugin: object, name: str | None = None, *,
                        distribution: str | None = None, version: str | None = None) -> str:
        """Register a plugin module/object and call the hooks again.

        Returns the plugin name.  A hook implementation that raises, or a
        registration that is invalid, is recorded as a load error (raised in
        strict mode); everything valid stays registered.
        """
        with self._lock:
            if not self._loaded:
                self.load()
            plugin_name = name or getattr(plugin, "__name__", None) or repr(plugin)
            if self._add_plugin(plugin, plugin_name, distribution, version):
                self.collect()
            return plugin_name

    def unregister_plugin(self, name: str) -> None:
        """Remove a plugin and everything it registered."""
        with self._lock:
            if self.pm.has_plugin(name):
                self.pm.unregister(name=name)
            for registry in self.registries().values():
                registry.remove_plugin(name)
            self.collect()

    # -- calling the hooks ---------------------------------------------------------------

    def collect(self) -> None:
        """Call every ``register_*`` hook through pluggy and rebuild the registries."""
        with self._lock:
            self._hook_errors = []
            for hook in REGISTER_HOOKS:
                registry = self.registry(hook.registry)
                registry.set_collected(call_register_hook(
                    self.pm, hook, registry.kind, provenance=self._provenance_of,
                    report=self._report, errors=self._hook_errors, strict=self.strict))

    def _provenance_of(self, plugin: str) -> tuple[str | None, str | None]:
        return self._provenance.get(plugin, (None, None))

    # -- the local layer ---------------------------------------------------------------

    def add_local(self, kind: str, *args: Any, **kwargs: Any) -> RegistryEntry[Any]:
        """Register one thing outside any plugin (``add_local("filter", MyBlur)``).

        Arguments are those of the hook's ``register`` callback.  Invalid input
        raises at once; a taken name is reported like a plugin's duplicate.  The
        entry survives later hook calls.
        """
        registry = self.registry(kind)
        hook = next(h for h in REGISTER_HOOKS if h.registry == _attr(kind))
        name, obj, aliases, hidden = hook.build(*args, **kwargs)
        entry = RegistryEntry(registry.kind, name, obj, aliases, LOCAL_PROVIDER, None, None,
                              hidden)
        try:
            registry.add(entry)
        except DuplicateNameError as exc:
            # like a plugin's duplicate: reported (raised in strict mode), first one kept
            self._report(self._import_errors, exc, None)
            return registry.lookup(exc.name)
        return entry

    def copy(self) -> PluginManager:
        """A manager with no plugins of its own holding copies of these registries."""
        with self._lock:
            other = PluginManager(autoload=False, env=self.env)
            other._loaded = True
            for attr, registry in self.registries().items():
                setattr(other, attr, registry.copy())
            return other

    def class_exports(self) -> dict[str, list[RegistryEntry[Any]]]:
        """Class name -> the entries exporting it (for ``imagestag_core.filters``)."""
        exports: dict[str, list[RegistryEntry[Any]]] = {}
        for registry in (self.filters, self.executors):
            for entry in registry.list(include_hidden=True):
                owners = exports.setdefault(entry.obj.__name__, [])
                if all(e.obj is not entry.obj for e in owners):
                    owners.append(entry)
        return exports

    def get_colormap(self, name: str) -> np.ndarray:
        return self.colormaps.get(name)


def _attr(kind: str) -> str:
    return kind if kind in KINDS else f"{kind}s"


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
    if not manager.loaded:
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
    return get_plugin_manager().filters.get(name)


def list_filters(*, include_hidden: bool | None = None) -> list[RegistryEntry[type[Filter]]]:
    """Every registered filter, sorted by name, with its provider (test tools only if asked)."""
    return get_plugin_manager().filters.list(include_hidden=include_hidden)


def get_executor_class(name: str) -> type[Executor]:
    """The executor class registered as ``name``."""
    return get_plugin_manager().executors.get(name)


def get_executor(name: str, pipeline: FilterPipeline | Iterable[Any] | str,
                 **options: Any) -> Executor:
    """Build the executor registered as ``name`` for ``pipeline``."""
    return get_executor_class(name)(pipeline, **options)


def list_executors() -> list[RegistryEntry[type[Executor]]]:
    """Every registered executor, sorted by name, with its provider."""
    return get_plugin_manager().executors.list()


def get_command(name: str) -> Command:
    """The ``imagestag`` subcommand registered as ``name``."""
    return get_plugin_manager().commands.get(name)


def list_commands() -> list[RegistryEntry[Command]]:
    """Every registered ``imagestag`` subcommand, sorted by name, with its provider."""
    return get_plugin_manager().commands.list()


def get_video_backend(name: str) -> VideoBackend:
    """The video back-end registered as ``name``."""
    return get_plugin_manager().video_backends.get(name)


def list_video_backends() -> list[RegistryEntry[VideoBackend]]:
    """Every registered video back-end, sorted by name, with its provider."""
    return get_plugin_manager().video_backends.list()


def register_filter(cls: type[Filter], *, name: str | None = None,
                    aliases: Iterable[str] = ()) -> None:
    """Register a filter defined locally (a notebook, a script) in the current manager."""
    get_plugin_manager().add_local("filter", cls, name=name, aliases=aliases)


def registry_name_of(cls: type) -> str | None:
    """The name ``cls`` is registered under as a filter or executor, if it is."""
    manager = get_plugin_manager()
    return manager.filters.name_of(cls) or manager.executors.name_of(cls)
