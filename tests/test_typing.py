"""Type checkers see filter parameters: mypy on small snippets, in a subprocess."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from imagestag_core.plugins import create_plugin_manager

ROOT = Path(__file__).resolve().parent.parent

pytest.importorskip("mypy", reason="mypy comes with the test extra: pip install -e '.[test]'")

# A third-party style filter, declared the documented way.
TINT = '''
from typing import Literal
from imagestag_core import Filter, Image, param

class Tint(Filter):
    name = "tint"
    strength: float = param(0.5, min=0.0, max=1.0)
    channel: Literal["r", "g", "b"] = "r"
    offsets: tuple[int, ...] = ()

    def apply(self, image: Image) -> Image:
        return image
'''

VALID = TINT + '''
from imagestag_core.filters import (
    ConvertFormat, Decode, Encode, FalseColor, FilterPipeline, Grayscale, Resize,
    SomeThirdPartyFilter,
)

stages = [
    Resize(0.5),
    Resize((1920, 1080)),
    Resize((1920, None), "fit"),
    Resize((None, 1080)),
    Resize(size=(1920, 1080), mode="fit"),
    Resize(size=(800, 600), mode="pad", pad_color=(0, 0, 0)),
    Resize((800, 600), "fill", "area"),
    Resize(scale=0.25, interpolation="lanczos"),
    FalseColor("hot"), FalseColor(colormap="viridis", input_min=0, input_max=1.0),
    Encode("png"), Encode("jpeg", quality=80, subsampling="4:4:4"), Decode(), Decode(reduce=2),
    Grayscale(), ConvertFormat("gray"),
    Tint(), Tint(0.3, "g"), Tint(strength=1, offsets=(1, 2)),
    SomeThirdPartyFilter(anything=1),
]
pipeline = FilterPipeline([Resize(0.5), Encode("png")])
reveal_type(Resize(0.5))
reveal_type(Tint(0.3))
'''

# one expected error per snippet, each given as (code, regex the error must match)
INVALID = {
    "unknown_keyword": ("Resize(bogus=3)", r'Unexpected keyword argument "bogus"'),
    "wrong_size_type": ('Resize(size="big")', r'No overload variant of "Resize" matches'),
    "wrong_mode": ('Resize((10, 10), mode="stretch")', r'No overload variant of "Resize"'),
    "wrong_scale_type": ('Resize(scale="half")', r'No overload variant of "Resize"'),
    "encode_unknown_keyword": ("Encode(qualty=80)", r'Unexpected keyword argument "qualty"'),
    "third_party_unknown_keyword": ("Tint(bogus=1)", r'Unexpected keyword argument "bogus"'),
    "third_party_wrong_type": ('Tint(strength="strong")', r'Argument "strength" to "Tint"'),
    "third_party_wrong_literal": ('Tint(channel="q")', r'Argument "channel" to "Tint"'),
    "third_party_too_many": ("Tint(0.1, 'r', (), 'extra')", r'Too many (positional )?arguments'),
}


@pytest.fixture(scope="module")
def mypy_output(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """Run mypy once on every snippet; each file's diagnostic lines by file stem."""
    folder = tmp_path_factory.mktemp("snippets")
    (folder / "valid.py").write_text(VALID)
    for stem, (code, _) in INVALID.items():
        (folder / f"{stem}.py").write_text(
            TINT + "from imagestag_core.filters import Encode, Resize\n" + code + "\n")
    files = sorted(str(p) for p in folder.glob("*.py"))
    # the project's config: mypy_path points at the sources, which an editable
    # install hides behind an import hook
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
         "--no-error-summary", "--show-error-codes", "--no-incremental",
         "--cache-dir", str(folder / ".mypy_cache"), *files],
        capture_output=True, text=True, cwd=folder, timeout=600)
    assert not result.stderr.strip(), result.stderr
    lines: dict[str, list[str]] = {}
    for line in result.stdout.splitlines():
        match = re.match(r"(?:.*[/\\])?(\w+)\.py:\d+: (.*)", line)
        if match:
            lines.setdefault(match.group(1), []).append(match.group(2))
    return lines


def test_valid_calls_from_tests_and_docs_type_check(mypy_output: dict[str, list[str]]) -> None:
    valid = mypy_output.get("valid", [])
    assert [line for line in valid if line.startswith("error")] == []
    revealed = [line for line in valid if "Revealed type" in line]
    assert revealed == ['note: Revealed type is "imagestag_plugins.filters.resize.Resize"',
                        'note: Revealed type is "valid.Tint"']


@pytest.mark.parametrize("stem", sorted(INVALID))
def test_invalid_filter_parameters_are_mypy_errors(stem: str,
                                                   mypy_output: dict[str, list[str]]) -> None:
    errors = [line for line in mypy_output.get(stem, []) if line.startswith("error")]
    code, pattern = INVALID[stem]
    assert errors, f"mypy accepted {code!r}"
    assert any(re.search(pattern, line) for line in errors), errors


def test_the_filters_stub_names_every_built_in_class_export() -> None:
    stub = ast.parse((ROOT / "imagestag_core" / "filters.pyi").read_text())
    typed = {alias.asname or alias.name for node in stub.body
             if isinstance(node, ast.ImportFrom) for alias in node.names}
    manager = create_plugin_manager(env={"IMAGESTAG_DISABLE_PLUGIN_AUTOLOAD": "1"}).load()
    built_in = {name for name, entries in manager.class_exports().items()
                if all(e.obj.__module__.startswith("imagestag_plugins.") for e in entries)}
    assert built_in, "no built-in class exports found"
    assert built_in - typed == set()
