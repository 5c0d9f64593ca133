"""Every hook is documented and tested (datasette's test_plugin_hooks_have_tests)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from imagestag_core import Filter, Image, hookimpl, hookspecs

HOOKS = sorted(name for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
               if hasattr(fn, "imagestag_spec"))


def test_there_are_hooks() -> None:
    assert HOOKS == ["register_codecs", "register_colormaps", "register_commands",
                     "register_executors", "register_filters"]


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_documented_with_its_parameters(hook: str) -> None:
    fn = getattr(hookspecs, hook)
    doc = inspect.getdoc(fn) or ""
    assert len(doc) > 80, f"{hook} needs a real docstring"
    for parameter in inspect.signature(fn).parameters:
        assert re.search(rf"^\s*{parameter}:", doc, re.M), f"{hook} does not document {parameter}"
    assert inspect.signature(fn).return_annotation in ("None", None)


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_has_a_test(hook: str) -> None:
    tests = Path(__file__).parent
    names = {m for path in tests.glob("test_*.py")
             for m in re.findall(r"def (test_\w+)", path.read_text())}
    assert any(hook in name for name in names), f"no test named after {hook}"


def test_register_filters_accepts_a_name_and_aliases(pm) -> None:
    class Emboss(Filter):
        name = "emboss"

        def apply(self, image: Image) -> Image:
            return image

    class Plugin:
        @hookimpl
        def register_filters(self, register):
            register(Emboss, name="emboss2", aliases=("relief",))

    pm.register_plugin(Plugin(), name="emboss-plugin")
    assert pm.filters.lookup("relief").obj is Emboss
    assert pm.filters.lookup("emboss2").plugin == "emboss-plugin"
    assert "emboss" not in pm.filters
