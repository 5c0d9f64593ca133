"""``imagestag filters [NAME]``: each filter's parameters, types, defaults and an example."""

from __future__ import annotations

import argparse
import json
import re
from typing import Any

from imagestag_core import hookimpl
from imagestag_core.errors import ImagestagError
from imagestag_core.params import REQUIRED, ParamSpec
from imagestag_core.plugins import RegistryEntry, get_plugin_manager

from .plugins import entry_dict, provider

__all__ = ["FiltersCommand"]


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if value is REQUIRED:
        return None
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return repr(value)


def _doc_summary(cls: type) -> str:
    doc = (cls.__doc__ or "").strip()
    first = " ".join(doc.split("\n\n")[0].split()) if doc else ""
    # reST roles and literals read badly in a terminal
    return re.sub(r":\w+:`~?([^`]+)`", r"\1", first).replace("``", "")


def _format_value(value: Any) -> str:
    from imagestag_core.spec import format_value

    if value is REQUIRED:
        return "(required)"
    try:
        return format_value(value)
    except ImagestagError:
        return repr(value)


def _example_spec(entry: RegistryEntry) -> str:
    """A spec a person can copy: as many declared examples as combine, else the minimum."""
    cls = entry.obj
    if isinstance(getattr(cls, "spec_example", None), str):  # a filter with its own example
        return str(cls.spec_example)
    values: dict[str, Any] = {}
    for p in cls.params:
        if p.example is REQUIRED:
            continue
        try:
            cls(**values, **{p.name: p.example})
        except Exception:
            # e.g. resize's size and scale exclude each other: keep the first
            continue
        values[p.name] = p.example
    try:
        return str(cls(**values).to_string())
    except Exception:
        missing = " ".join(f"{p.name}=<{p.type_text}>" for p in cls.params if p.required)
        return f"{entry.name} {missing}".strip()


def _param_range(p: ParamSpec) -> str:
    if p.min is None and p.max is None:
        return ""
    lo = "" if p.min is None else f"{p.min:g}"
    hi = "" if p.max is None else f"{p.max:g}"
    return f"{lo}..{hi}"


def _filter_dict(entry: RegistryEntry) -> dict[str, Any]:
    cls = entry.obj
    out = entry_dict(entry)
    out["doc"] = _doc_summary(cls)
    out["params"] = [{"name": p.name, "type": p.type_text, "required": p.required,
                      "default": _jsonable(p.default), "min": p.min, "max": p.max,
                      "doc": p.doc,
                      "example": None if p.example is REQUIRED else _jsonable(p.example)}
                     for p in cls.params]
    out["example"] = _example_spec(entry)
    return out


def _print_filter(entry: RegistryEntry) -> None:
    cls = entry.obj
    aliases = f"; aliases: {', '.join(entry.aliases)}" if entry.aliases else ""
    print(f"{entry.name}  [{provider(entry)}{aliases}]")
    summary = _doc_summary(cls)
    if summary:
        print(f"  {summary}")
    if cls.params:
        print("  parameters (positional in this order, or key=value):")
        width = max(len(p.name) for p in cls.params)
        for p in cls.params:
            extra = [f"default {_format_value(p.default)}" if not p.required else "required"]
            if _param_range(p):
                extra.append(f"range {_param_range(p)}")
            print(f"    {p.name:<{width}}  {p.type_text}  ({'; '.join(extra)})")
            if p.doc:
                print(f"    {'':<{width}}  {' '.join(p.doc.split())}")
    else:
        print("  parameters: none")
    print(f"  example: {_example_spec(entry)}")


class FiltersCommand:
    """``imagestag filters [NAME] [--json]``."""

    name = "filters"
    help = "filter parameters, types, defaults and examples"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("name", nargs="?", default=None, help="one filter (default: all)")
        parser.add_argument("--json", action="store_true", help="machine-readable output")

    def run(self, args: argparse.Namespace) -> int:
        manager = get_plugin_manager()
        entries = [manager.filters.lookup(args.name)] if args.name else manager.filters.list()
        if args.json:
            doc: Any = [_filter_dict(e) for e in entries]
            print(json.dumps(doc[0] if args.name else doc, indent=2))
            return 0
        for i, entry in enumerate(entries):
            if i:
                print()
            _print_filter(entry)
        if not args.name:
            print("\nCompose stages with '|': imagestag run \"resize 1920x1080 | falsecolor hot | "
                  "encode jpeg\" photos/ -o out/")
        return 0


@hookimpl
def register_commands(register: Any) -> None:
    register(FiltersCommand())
