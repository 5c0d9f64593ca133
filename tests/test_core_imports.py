"""The core stays small: it imports no plugin, and nothing heavy it does not need."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

CORE = Path(__file__).resolve().parent.parent / "imagestag_core"


def test_importing_the_core_loads_no_test_tools_plugins_or_plotting() -> None:
    code = ("import sys, json, imagestag_core; "
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('pytest', '_pytest', 'hypothesis', 'imagestag_plugins', 'matplotlib'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert json.loads(out.stdout) == []


def test_loading_the_pytest_plugin_imports_no_hypothesis() -> None:
    code = ("import sys, imagestag_core.testing.pytest_plugin, imagestag_core.testing; "
            "print('hypothesis' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def _imported_modules(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def test_the_core_imports_nothing_from_plugins_or_contrib() -> None:
    offenders = []
    for path in sorted(CORE.rglob("*.py")):
        for name in _imported_modules(path):
            top = name.split(".")[0]
            if top in ("plugins", "contrib") or (top.startswith("imagestag_") and \
                    top != "imagestag_core"):
                offenders.append(f"{path.relative_to(CORE.parent)}: {name}")
    assert offenders == []
