"""Every hook is documented and tested (datasette's test_plugin_hooks_have_tests)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from imagestag_core import Filter, Image, hookimpl, hookspecs
from imagestag_core.errors import PluginLoadError

HOOKS = sorted(name for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
               if hasattr(fn, "imagestag_spec"))


def test_there_are_hooks() -> None:
    assert HOOKS == ["register_codecs", "register_colormaps", "register_commands",
                     "register_executors", "register_filters", "register_video_backends"]


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


def test_register_commands_collects_commands_with_their_provider(pm) -> None:
    class Hello:
        name = "hello"
        help = "say hello"

        def configure(self, parser: object) -> None:
            pass

        def run(self, args: object) -> int:
            return 0

    class Plugin:
        @hookimpl
        def register_commands(self, register):
            register(Hello())

    pm.register_plugin(Plugin(), name="hello-plugin")
    entry = pm.commands.lookup("hello")
    assert entry.plugin == "hello-plugin" and entry.obj.help == "say hello"


def test_register_commands_rejects_objects_that_are_not_commands(pm) -> None:
    class Plugin:
        @hookimpl
        def register_commands(self, register):
            register(object())

    pm.strict = True
    with pytest.raises(PluginLoadError, match="lacks name, help, configure, run"):
        pm.register_plugin(Plugin(), name="bad-command")


class _NullBackend:
    name = "null-video"

    def can_open(self, source: object) -> bool:
        return source == "null:"

    def open_reader(self, source: object) -> object:
        return iter(())

    def open_writer(self, path: str, reader: object, **options: object) -> object:
        return None


def test_register_video_backends_collects_backends_with_their_provider(pm) -> None:
    class Plugin:
        @hookimpl
        def register_video_backends(self, register):
            register(_NullBackend())

    pm.register_plugin(Plugin(), name="null-video-plugin")
    entry = pm.video_backends.lookup("null-video")
    assert entry.plugin == "null-video-plugin" and entry.obj.can_open("null:")
    assert pm.registry("video_backend") is pm.video_backends


def test_register_video_backends_rejects_objects_without_reader_and_writer(pm) -> None:
    class Plugin:
        @hookimpl
        def register_video_backends(self, register):
            register(_NullBackend())
            register(type("Half", (), {"name": "half", "can_open": print})())

    pm.strict = True
    with pytest.raises(PluginLoadError, match="lacks open_reader, open_writer"):
        pm.register_plugin(Plugin(), name="half-video")
