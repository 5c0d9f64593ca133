"""Executors use the documented subclass API only, never the core's private state.

The scan reads every module of the built-in plugins and of every ``contrib/``
distribution and fails on:

* ``from imagestag_core... import _name`` (a private core name);
* ``self._x`` where ``_x`` is not defined by a class of the plugins' own
  package (so it can only be inherited from a core class), or, in an
  executor class, is private to the base ``Executor`` (reading, writing or
  overriding it);
* ``obj._x`` where ``_x`` is private to a class of
  :mod:`imagestag_core.executor` (the base, the store, the metrics).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import imagestag_core

ROOT = Path(__file__).resolve().parents[1]
CORE = Path(imagestag_core.__file__).resolve().parent
PLUGIN_PACKAGES = [ROOT / "plugins" / "imagestag_plugins",
                   *sorted(p for p in (ROOT / "contrib").glob("*/imagestag_*") if p.is_dir())]


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _defined_names(trees: list[ast.Module]) -> set[str]:
    """Private names a class in ``trees`` defines: methods, class attributes, ``self._x =``."""
    names: set[str] = set()
    for tree in trees:
        for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
            for node in ast.walk(cls):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    names.add(node.name)
                elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                    for target in targets:
                        for leaf in ast.walk(target):
                            if isinstance(leaf, ast.Name):
                                names.add(leaf.id)
                            elif isinstance(leaf, ast.Attribute) and \
                                    isinstance(leaf.value, ast.Name) and leaf.value.id == "self":
                                names.add(leaf.attr)
                elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                    names.add(node.value)  # __slots__ entries
    return {n for n in names if _private(n)}


def _parse(paths: list[Path]) -> dict[Path, ast.Module]:
    return {p: ast.parse(p.read_text(), str(p)) for p in paths}


def _bases(cls: ast.ClassDef) -> set[str]:
    return {b.id if isinstance(b, ast.Name) else b.attr for b in cls.bases
            if isinstance(b, (ast.Name, ast.Attribute))}


def violations(core_dir: Path, packages: list[Path]) -> list[str]:
    """Every place a plugin module touches a private name of the core."""
    trees = _parse(sorted((core_dir / "executor").glob("*.py")))
    core_private = _defined_names(list(trees.values()))
    # what the base class itself keeps private: a subclass may not read,
    # write (a collision is a bug too) or override any of it
    base_private = _defined_names([
        ast.Module(body=[c], type_ignores=[]) for t in trees.values() for c in t.body
        if isinstance(c, ast.ClassDef) and c.name in ("Executor", "WorkerSide")])
    found: list[str] = []
    for package in packages:
        modules = _parse(sorted(package.rglob("*.py")))
        own = _defined_names(list(modules.values()))
        for path, tree in modules.items():
            where = path.relative_to(package.parent)
            executor_nodes = {id(n) for c in ast.walk(tree) if isinstance(c, ast.ClassDef)
                              and any(b.endswith("Executor") for b in _bases(c))
                              for n in ast.walk(c)}
            for node in ast.walk(tree):
                in_executor = id(node) in executor_nodes
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                        "imagestag_core"):
                    found += [f"{where}:{node.lineno}: imports {a.name} from {node.module}"
                              for a in node.names if _private(a.name)]
                elif isinstance(node, ast.Attribute) and _private(node.attr):
                    if isinstance(node.value, ast.Name) and node.value.id == "self":
                        bad = node.attr not in own or (in_executor and node.attr in base_private)
                    else:
                        bad = node.attr in core_private
                    if bad:
                        found.append(f"{where}:{node.lineno}: touches {node.attr}")
                elif isinstance(node, ast.FunctionDef) and in_executor and \
                        node.name in base_private:
                    found.append(f"{where}:{node.lineno}: overrides {node.name}")
    return found


def test_plugins_touch_no_private_name_of_the_core() -> None:
    found = violations(CORE, PLUGIN_PACKAGES)
    assert not found, "plugins reach into the core's private state; add a method to the " \
                      "documented subclass API instead:\n" + "\n".join(found)


def test_the_scan_sees_the_packages_it_checks() -> None:
    names = {p.name for p in PLUGIN_PACKAGES}
    assert {"imagestag_plugins", "imagestag_dask"} <= names


@pytest.mark.parametrize("source, what", [
    ("from imagestag_core.executor import _Hidden\n", "imports _Hidden"),
    ("class E(Executor):\n    def go(self):\n        self._store.deliver(0, 1)\n",
     "touches _store"),
    ("class E(Executor):\n    def go(self):\n        self._cond.notify_all()\n",
     "touches _cond"),
    ("def peek(ex):\n    return ex._spans\n", "touches _spans"),
    ("class E(Executor):\n    def go(self):\n        self._opencv_value = 3\n",
     "touches _opencv_value"),
    ("class E(Executor):\n    def _inline_pairs(self, images):\n        return []\n",
     "overrides _inline_pairs"),
])
def test_the_scan_catches_each_kind_of_access(tmp_path: Path, source: str, what: str) -> None:
    package = tmp_path / "imagestag_fake"
    package.mkdir()
    (package / "mod.py").write_text(source)
    assert any(what in v for v in violations(CORE, [package]))


def test_the_scan_allows_a_plugins_own_private_state(tmp_path: Path) -> None:
    package = tmp_path / "imagestag_fake"
    package.mkdir()
    (package / "mod.py").write_text(
        "class E(Executor):\n    def __init__(self):\n        self._mine = 1\n"
        "    def go(self):\n        return self._mine + self._helper()\n"
        "    def _helper(self):\n        return 2\n")
    assert violations(CORE, [package]) == []
