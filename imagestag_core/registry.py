"""Typed registries: names -> the things plugins registered, with their provenance.

A :class:`Registry` holds one kind of thing (filter classes, executor classes,
colormap tables, codecs, commands).  Two layers make up what it shows:

* the *collected* layer, rebuilt by the plugin manager every time it calls the
  ``register_*`` hooks (see :mod:`imagestag_core.plugins`), and
* the *local* layer of :meth:`Registry.add` / :meth:`Registry.remove`, which
  survives those rebuilds: a filter defined in a notebook, or a test that
  hides an installed one.

Reads take no lock: every change publishes a new immutable view.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Generic, NoReturn, TypeVar

from .errors import DuplicateNameError, UnknownNameError

__all__ = ["LOCAL_PROVIDER", "Registry", "RegistryEntry"]

T = TypeVar("T")

#: the provider named for things registered outside any plugin (a notebook, a test)
LOCAL_PROVIDER = "<local>"


@dataclass(frozen=True)
class RegistryEntry(Generic[T]):
    """One registered thing and where it came from.

    ``hidden`` entries (test tools such as the fault-injection filters) resolve
    by name like any other but are left out of listings and suggestions unless
    the registry shows hidden entries.
    """

    kind: str
    name: str
    obj: T
    aliases: tuple[str, ...] = ()
    plugin: str = LOCAL_PROVIDER
    distribution: str | None = None
    version: str | None = None
    hidden: bool = False

    @property
    def provider(self) -> str:
        """``"dist 1.0 (plugin 'ep')"``, or ``"plugin 'name'"`` without a distribution."""
        if self.distribution:
            version = f" {self.version}" if self.version else ""
            return f"{self.distribution}{version} (plugin {self.plugin!r})"
        return f"plugin {self.plugin!r}"


@dataclass(frozen=True)
class _View(Generic[T]):
    entries: Mapping[str, RegistryEntry[T]]
    aliases: Mapping[str, str]


def _index(entries: Iterable[RegistryEntry[T]]) -> _View[T]:
    by_name: dict[str, RegistryEntry[T]] = {}
    aliases: dict[str, str] = {}
    for entry in entries:
        by_name[entry.name] = entry
        for alias in entry.aliases:
            aliases[alias] = entry.name
    return _View(MappingProxyType(by_name), MappingProxyType(aliases))


class Registry(Generic[T]):
    """Names (and aliases) -> :class:`RegistryEntry` for one ``kind`` of thing.

    Args:
        kind: what is registered (``"filter"``), used in error messages.
        show_hidden: list hidden entries and suggest their names too.
    """

    def __init__(self, kind: str, *, show_hidden: bool = False) -> None:
        self.kind = kind
        self.show_hidden = show_hidden
        self._lock = threading.Lock()
        self._collected: list[RegistryEntry[T]] = []
        self._added: dict[str, RegistryEntry[T]] = {}
        self._removed: set[str] = set()
        self._view: _View[T] = _index(())

    # -- reading -------------------------------------------------------------------

    def lookup(self, name: str) -> RegistryEntry[T]:
        """The entry for ``name`` or an alias; case-insensitive when unambiguous.

        Raises :class:`~imagestag_core.errors.UnknownNameError` with the closest
        match and the installed names.
        """
        view = self._view
        if isinstance(name, str):
            entry = view.entries.get(view.aliases.get(name, name))
            if entry is not None:
                return entry
            folded = name.lower()
            matches = [n for n in (*view.entries, *view.aliases) if n.lower() == folded]
            if len(matches) == 1:
                return view.entries[view.aliases.get(matches[0], matches[0])]
        self.raise_unknown(name if isinstance(name, str) else repr(name))

    def raise_unknown(self, name: str, extra: Iterable[str] = ()) -> NoReturn:
        """Raise the "unknown name; did you mean ...?" error for this registry."""
        visible = [e for e in self._view.entries.values() if self.show_hidden or not e.hidden]
        names = {*extra, *(e.name for e in visible), *(a for e in visible for a in e.aliases)}
        raise UnknownNameError(self.kind, name, names)

    def get(self, name: str) -> T:
        """The registered object itself (``lookup(name).obj``)."""
        return self.lookup(name).obj

    def owner_of(self, name: str) -> RegistryEntry[T] | None:
        """The entry holding ``name`` as its name or an alias, or None (exact match)."""
        view = self._view
        return view.entries.get(view.aliases.get(name, name))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.owner_of(name) is not None

    def __iter__(self) -> Iterator[RegistryEntry[T]]:
        return iter(self.list(include_hidden=True))

    def __len__(self) -> int:
        return len(self._view.entries)

    def names(self, *, include_hidden: bool | None = None) -> list[str]:
        """Registered names (no aliases), sorted."""
        return [e.name for e in self.list(include_hidden=include_hidden)]

    def list(self, *, include_hidden: bool | None = None) -> list[RegistryEntry[T]]:
        """Entries sorted by name; hidden ones only if asked (default: ``show_hidden``)."""
        show = self.show_hidden if include_hidden is None else include_hidden
        return [e for _, e in sorted(self._view.entries.items(), key=lambda kv: kv[0].lower())
                if show or not e.hidden]

    def name_of(self, obj: object) -> str | None:
        """The name ``obj`` is registered under, if it is."""
        for entry in self._view.entries.values():
            if entry.obj is obj:
                return entry.name
        return None

    # -- the local layer -------------------------------------------------------------

    def add(self, entry: RegistryEntry[T]) -> None:
        """Add ``entry``; it survives the manager's rebuilds.

        Raises :class:`~imagestag_core.errors.DuplicateNameError` when its name or
        an alias is taken (remove the holder first to replace it).
        """
        if entry.kind != self.kind:
            entry = replace(entry, kind=self.kind)
        with self._lock:
            for key in (entry.name, *entry.aliases):
                owner = self.owner_of(key)
                if owner is not None:
                    raise DuplicateNameError(self.kind, key, owner.provider, entry.provider)
            self._added[entry.name] = entry
            self._removed.discard(entry.name)
            self._publish()

    def remove(self, name: str) -> RegistryEntry[T]:
        """Remove the entry holding ``name`` (its name or an alias); returns it.

        A collected entry stays removed across rebuilds until added again.
        """
        with self._lock:
            entry = self.owner_of(name)
            if entry is None:
                self.raise_unknown(name)
            if self._added.pop(entry.name, None) is None:
                self._removed.add(entry.name)
            self._publish()
            return entry

    def copy(self) -> Registry[T]:
        """An independent registry showing the same entries (all in its local layer)."""
        other = type(self)(self.kind, show_hidden=self.show_hidden)
        other._added = dict(self._view.entries)
        other._publish()
        return other

    # -- the collected layer (the plugin manager's) ---------------------------------

    def set_collected(self, entries: Iterable[RegistryEntry[T]]) -> None:
        """Replace what the hooks registered (entries already checked for duplicates)."""
        with self._lock:
            self._collected = list(entries)
            self._publish()

    def remove_plugin(self, plugin: str) -> None:
        """Drop every entry ``plugin`` provided, in both layers."""
        with self._lock:
            self._collected = [e for e in self._collected if e.plugin != plugin]
            self._added = {n: e for n, e in self._added.items() if e.plugin != plugin}
            self._publish()

    def _publish(self) -> None:
        taken: set[str] = set()
        for entry in self._added.values():
            taken.update((entry.name, *entry.aliases))
        kept = [e for e in self._collected
                if e.name not in self._removed and not taken & {e.name, *e.aliases}]
        self._view = _index([*kept, *self._added.values()])

    def __repr__(self) -> str:
        return f"<Registry {self.kind}: {', '.join(self.names(include_hidden=True))}>"
