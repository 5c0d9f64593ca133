"""``imagestag plugins``: what is installed, who provides it, and what failed to load."""

from __future__ import annotations

import argparse
import importlib.util
import json
from typing import Any

from imagestag_core import RegisterCommand, __version__, hookimpl
from imagestag_core.executor import Executor
from imagestag_core.plugins import RegistryEntry, get_plugin_manager

from ..app.executor_options import describe_option, option_specs

__all__ = ["PluginsCommand", "entry_dict", "missing_extra", "provider"]


def entry_dict(entry: RegistryEntry[Any]) -> dict[str, Any]:
    """A registry entry as JSON: name, aliases, provider and, for a class, its path."""
    obj = entry.obj
    out: dict[str, Any] = {"name": entry.name, "aliases": list(entry.aliases),
                           "distribution": entry.distribution, "version": entry.version,
                           "plugin": entry.plugin}
    if isinstance(obj, type):
        out["class"] = f"{obj.__module__}.{obj.__qualname__}"
    return out


def provider(entry: RegistryEntry[Any]) -> str:
    """``"imagestag 0.1.0"``, or ``"(plugin NAME)"`` for one registered without a distribution."""
    if entry.distribution:
        return f"{entry.distribution} {entry.version or ''}".strip()
    return f"(plugin {entry.plugin})"


def missing_extra(codec: Any) -> str | None:
    """The optional extra a codec needs and lacks (its ``optional_extra``
    ``(module, extra)`` names a module that cannot be imported), else None."""
    module, extra = getattr(codec, "optional_extra", (None, None))
    if module is None:
        return None
    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # ValueError: sys.modules[module] is None
        found = False
    return None if found else extra


def _error_dict(error: Exception) -> dict[str, Any]:
    out: dict[str, Any] = {"type": type(error).__name__, "message": str(error)}
    for attr in ("plugin", "distribution", "kind", "name", "first", "second"):
        value = getattr(error, attr, None)
        if value is not None:
            out[attr] = value if isinstance(value, str) else str(value)
    return out


def _option_dicts(cls: Any) -> list[dict[str, Any]]:
    from ..app.executor_options import CLI_OWNED, settable

    return [{"name": s.name, "type": s.type_text,
             "default": None if s.required else _jsonable(s.default), "doc": s.doc,
             "command_line": settable(s.type) and s.name not in CLI_OWNED}
            for s in option_specs(cls)]


def _jsonable(value: Any) -> Any:
    return value if isinstance(value, (str, int, float, bool)) or value is None else repr(value)


def _print_text() -> None:
    manager = get_plugin_manager()
    print(f"imagestag {__version__}")
    for title, registry in (("Filters", manager.filters), ("Executors", manager.executors)):
        entries: list[RegistryEntry[Any]] = registry.list()
        print(f"\n{title} ({len(entries)}):")
        for entry in entries:
            aliases = f"  aliases: {', '.join(entry.aliases)}" if entry.aliases else ""
            print(f"  {entry.name:<18} {provider(entry):<22}{aliases}".rstrip())
            if registry is manager.executors:
                for spec in option_specs(entry.obj):
                    if spec.name not in Executor.base_options:
                        print(f"      {describe_option(spec)}")
    print("  every executor also takes:")
    for spec in option_specs(Executor):
        print(f"      {describe_option(spec)}")
    print("  (imagestag run --executor NAME --executor-option KEY=VALUE; docs/cli.md)")
    codec_entries = manager.codecs.list()
    print(f"\nCodecs ({len(codec_entries)}):")
    for codec in codec_entries:
        exts = " ".join(codec.obj.extensions)
        missing = missing_extra(codec.obj)
        note = f"  not installed: pip install 'imagestag[{missing}]'" if missing else ""
        print(f"  {codec.name:<18} {provider(codec):<22}  {exts}  {codec.obj.mime_type}{note}")
    maps = manager.colormaps.list()
    print(f"\nColormaps ({len(maps)}; 'imagestag plugins --json' lists them all):")
    by_provider: dict[str, list[str]] = {}
    for cmap in maps:
        by_provider.setdefault(provider(cmap), []).append(cmap.name)
    for who, names in by_provider.items():
        preview = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
        print(f"  {who:<22} {len(names):>4} colormaps ({preview})")
    backends = manager.video_backends.list()
    print(f"\nVideo back-ends ({len(backends)}):")
    for backend in backends:
        print(f"  {backend.name:<18} {provider(backend):<22}  {backend.obj.__doc__ or ''}"
              .split("\n")[0].rstrip())
    commands = manager.commands.list()
    print(f"\nCommands ({len(commands)}):")
    for command in commands:
        print(f"  {command.name:<18} {provider(command):<22}  {command.obj.help}".rstrip())
    if manager.load_errors:
        print(f"\nLoad errors ({len(manager.load_errors)}):")
        for error in manager.load_errors:
            print(f"  {error}")
    if manager.skipped:
        print(f"\nSkipped entry points ({len(manager.skipped)}):")
        for name, reason in manager.skipped:
            print(f"  {name}: {reason}")


def _json_doc() -> dict[str, Any]:
    manager = get_plugin_manager()
    codecs = []
    for entry in manager.codecs.list():
        item = entry_dict(entry)
        item.update(extensions=list(entry.obj.extensions), mime_type=entry.obj.mime_type,
                    missing_extra=missing_extra(entry.obj))
        codecs.append(item)
    commands = []
    for command in manager.commands.list():
        item = entry_dict(command)
        item["help"] = command.obj.help
        commands.append(item)
    return {
        "imagestag": __version__,
        "filters": [entry_dict(e) for e in manager.filters.list()],
        "executors": [{**entry_dict(e), "options": _option_dicts(e.obj)}
                      for e in manager.executors.list()],
        "codecs": codecs,
        "colormaps": [entry_dict(e) for e in manager.colormaps.list()],
        "commands": commands,
        "load_errors": [_error_dict(e) for e in manager.load_errors],
        "skipped": [{"entry_point": n, "reason": r} for n, r in manager.skipped],
    }


class PluginsCommand:
    """``imagestag plugins [--json]``."""

    name = "plugins"
    help = "what is installed, who provides it, load errors"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--json", action="store_true", help="machine-readable output")

    def run(self, args: argparse.Namespace) -> int:
        if args.json:
            print(json.dumps(_json_doc(), indent=2))
        else:
            _print_text()
        return 0


@hookimpl
def register_commands(register: RegisterCommand) -> None:
    register(PluginsCommand())
