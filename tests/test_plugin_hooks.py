"""Hooks are called through pluggy: argument subsets, ordering, wrappers, provenance."""

from __future__ import annotations

from typing import Any

import pytest

from imagestag_core import Filter, Image, hookimpl
from imagestag_core.errors import DuplicateNameError, PluginError, PluginLoadError
from imagestag_core.hookspecs import RegisterFilter
from imagestag_core.plugins import PluginManager


def _filter(name: str) -> type[Filter]:
    def apply(self: Filter, image: Image) -> Image:
        return image

    return type(name.title(), (Filter,), {"name": name, "apply": apply})


def test_an_implementation_taking_fewer_arguments_than_the_spec_is_legal(pm: PluginManager) -> None:
    calls: list[str] = []

    class Plugin:
        @hookimpl
        def register_filters(self) -> None:  # pluggy passes only what is named
            calls.append("called")

    pm.register_plugin(Plugin(), name="no-args")
    assert calls and set(calls) == {"called"}
    assert pm.load_errors == []


def test_tryfirst_in_a_later_plugin_runs_before_trylast_in_an_earlier_one(
        pm: PluginManager) -> None:
    order: list[str] = []
    shared = _filter("shared")
    other = _filter("shared")

    class Early:
        @hookimpl(trylast=True)
        def register_filters(self, register: RegisterFilter) -> None:
            order.append("early")
            register(shared)

    class Late:
        @hookimpl(tryfirst=True)
        def register_filters(self, register: RegisterFilter) -> None:
            order.append("late")
            register(other)

    class Plain:
        @hookimpl
        def register_filters(self, register: RegisterFilter) -> None:
            order.append("plain")

    with pytest.warns(UserWarning, match="provided by both"):
        pm.register_plugin(Early(), name="early")
        pm.register_plugin(Plain(), name="plain")
        pm.register_plugin(Late(), name="late")
    order.clear()
    pm.collect()
    assert order == ["late", "plain", "early"]
    # the first implementation pluggy called keeps the name
    assert pm.filters.lookup("shared").obj is other
    assert pm.filters.lookup("shared").plugin == "late"
    dupes = [e for e in pm.load_errors if isinstance(e, DuplicateNameError)]
    assert len(dupes) == 1 and "'late'" in dupes[0].first and "'early'" in dupes[0].second


def test_a_wrapper_implementation_wraps_the_others(pm: PluginManager) -> None:
    seen: list[str] = []

    class Inner:
        @hookimpl
        def register_filters(self, register: RegisterFilter) -> None:
            seen.append("inner")
            register(_filter("inner_filter"))

    class Wrapper:
        @hookimpl(wrapper=True)
        def register_filters(self, register: RegisterFilter) -> Any:
            seen.append("before")
            register(_filter("wrapped_before"))
            result = yield
            seen.append("after")
            register(_filter("wrapped_after"))
            return result

    pm.register_plugin(Inner(), name="inner")
    pm.register_plugin(Wrapper(), name="wrapper")
    seen.clear()
    pm.collect()
    assert seen == ["before", "inner", "after"]
    assert pm.filters.lookup("inner_filter").plugin == "inner"
    assert pm.filters.lookup("wrapped_before").plugin == "wrapper"
    assert pm.filters.lookup("wrapped_after").plugin == "wrapper"


def test_the_register_callback_knows_which_implementation_calls_it(pm: PluginManager) -> None:
    class Pack:
        def __init__(self, name: str) -> None:
            self.filter = _filter(name)

        @hookimpl
        def register_filters(self, register: RegisterFilter) -> None:
            self._register_through_a_helper(register)

        def _register_through_a_helper(self, register: RegisterFilter) -> None:
            register(self.filter)

    # two instances share the method's code: the callback tells them apart
    pm.register_plugin(Pack("from_a"), name="pack-a")
    pm.register_plugin(Pack("from_b"), name="pack-b")
    assert pm.filters.lookup("from_a").plugin == "pack-a"
    assert pm.filters.lookup("from_b").plugin == "pack-b"


def test_an_implementation_that_raises_is_reported_and_the_others_still_register(
        pm: PluginManager) -> None:
    class Before:
        @hookimpl(tryfirst=True)
        def register_filters(self, register: RegisterFilter) -> None:
            register(_filter("before_broken"))

    class Broken:
        @hookimpl
        def register_filters(self, register: RegisterFilter) -> None:
            register(_filter("half_registered"))
            raise RuntimeError("broken on purpose")

    class After:
        @hookimpl(trylast=True)
        def register_filters(self, register: RegisterFilter) -> None:
            register(_filter("after_broken"))

    pm.register_plugin(Before(), name="before")
    pm.register_plugin(After(), name="after")
    with pytest.warns(UserWarning, match="broken on purpose"):
        pm.register_plugin(Broken(), name="broken")
    assert "before_broken" in pm.filters and "after_broken" in pm.filters
    # a plugin that failed half-way is left out of that hook entirely
    assert "half_registered" not in pm.filters
    errors = [e for e in pm.load_errors if isinstance(e, PluginLoadError)]
    assert [e.plugin for e in errors] == ["broken"]
    assert "register_filters failed: RuntimeError: broken on purpose" in str(errors[0])


def test_strict_mode_raises_for_an_implementation_that_raises(pm: PluginManager) -> None:
    class Broken:
        @hookimpl
        def register_filters(self, register: RegisterFilter) -> None:
            raise RuntimeError("broken on purpose")

    pm.strict = True
    with pytest.raises(PluginLoadError, match="broken on purpose"):
        pm.register_plugin(Broken(), name="broken")


def test_an_invalid_registration_keeps_the_plugins_valid_ones(pm: PluginManager) -> None:
    class Mixed:
        @hookimpl
        def register_filters(self, register: RegisterFilter) -> None:
            register(dict)  # type: ignore[arg-type]
            register(_filter("still_here"))

    with pytest.warns(UserWarning, match="not a subclass"):
        pm.register_plugin(Mixed(), name="mixed")
    assert pm.filters.lookup("still_here").plugin == "mixed"


def test_register_kept_past_the_hook_call_is_refused(pm: PluginManager) -> None:
    kept: list[RegisterFilter] = []

    class Stash:
        @hookimpl
        def register_filters(self, register: RegisterFilter) -> None:
            kept.append(register)

    pm.register_plugin(Stash(), name="stash")
    with pytest.raises(PluginError, match="outside the hook call"):
        kept[0](_filter("late_filter"))


def test_local_registrations_survive_when_the_hooks_are_called_again(
        pm: PluginManager) -> None:
    pm.add_local("filter", _filter("notebook_filter"))

    class Later:
        @hookimpl
        def register_filters(self, register: RegisterFilter) -> None:
            register(_filter("plugin_filter"))

    pm.register_plugin(Later(), name="later")
    assert pm.filters.lookup("notebook_filter").plugin == "<local>"
    assert "plugin_filter" in pm.filters
