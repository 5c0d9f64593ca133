"""Which plugins to load: the ``imagestag`` entry points, filtered by the switches.

See :mod:`imagestag_core.plugins` for the switches themselves
(``IMAGESTAG_DISABLE_PLUGIN_AUTOLOAD``, ``IMAGESTAG_PLUGINS_ALLOW``,
``IMAGESTAG_PLUGINS_BLOCK``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata as importlib_metadata

__all__ = ["BUILTIN_DISTRIBUTION", "ENTRY_POINT_GROUP", "PluginSource", "env_flag", "env_list",
           "normalize", "select_entry_points"]

ENTRY_POINT_GROUP = "imagestag"
BUILTIN_DISTRIBUTION = "imagestag"


def normalize(name: str) -> str:
    """PEP 503 normalisation, so ``My_Plugin`` matches ``my-plugin``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def env_flag(env: Mapping[str, str], key: str) -> bool:
    """True when ``env[key]`` is ``1``/``true``/``yes``/``on``."""
    return env.get(key, "").strip().lower() in ("1", "true", "yes", "on")


def env_list(env: Mapping[str, str], key: str) -> list[str]:
    """The comma-separated items of ``env[key]``."""
    return [item.strip() for item in env.get(key, "").split(",") if item.strip()]


@dataclass(frozen=True)
class PluginSource:
    """An entry point to load, with the distribution that declares it."""

    entry_point: importlib_metadata.EntryPoint
    distribution: str | None
    version: str | None

    @property
    def name(self) -> str:
        return self.entry_point.name


def select_entry_points(env: Mapping[str, str]) -> tuple[list[PluginSource],
                                                        list[tuple[str, str]]]:
    """The entry points of the ``imagestag`` group the switches let through.

    Returns ``(to load, skipped)``; ``skipped`` holds ``(entry point, reason)``.
    An entry point declared twice by the same value (a path on ``sys.path``
    twice) is listed once.
    """
    allow = {normalize(n) for n in env_list(env, "IMAGESTAG_PLUGINS_ALLOW")}
    block = {normalize(n) for n in env_list(env, "IMAGESTAG_PLUGINS_BLOCK")}
    builtins_only = env_flag(env, "IMAGESTAG_DISABLE_PLUGIN_AUTOLOAD")
    seen: set[tuple[str, str]] = set()
    selected: list[PluginSource] = []
    skipped: list[tuple[str, str]] = []
    read: dict[int, tuple[str | None, str | None]] = {id(None): (None, None)}
    for ep in importlib_metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.dist is not None and id(ep.dist) not in read:  # its entry points share one
            meta = ep.dist.metadata  # Distribution: parse its METADATA once, not per entry point
            read[id(ep.dist)] = (meta["Name"], meta["Version"])
        dist, version = read[id(ep.dist)]
        if (ep.name, ep.value) in seen:
            continue
        seen.add((ep.name, ep.value))
        keys = {normalize(ep.name)} | ({normalize(dist)} if dist else set())
        builtin = dist is not None and normalize(dist) == BUILTIN_DISTRIBUTION
        if builtins_only and not builtin:
            skipped.append((ep.name, "IMAGESTAG_DISABLE_PLUGIN_AUTOLOAD"))
        elif allow and not keys & allow:
            skipped.append((ep.name, "not in IMAGESTAG_PLUGINS_ALLOW"))
        elif keys & block:
            skipped.append((ep.name, "in IMAGESTAG_PLUGINS_BLOCK"))
        else:
            selected.append(PluginSource(ep, dist, version))
    return selected, skipped
