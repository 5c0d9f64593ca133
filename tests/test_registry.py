"""Registry: public add/remove/copy/lookup, the local layer, hidden test tools."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from imagestag_core import Filter, Image, get_filter, list_filters
from imagestag_core.errors import DuplicateNameError, UnknownNameError
from imagestag_core.registry import Registry, RegistryEntry


def _entry(name: str, *, aliases: tuple[str, ...] = (), plugin: str = "p",
           hidden: bool = False) -> RegistryEntry[object]:
    return RegistryEntry("thing", name, object(), aliases, plugin, hidden=hidden)


def test_lookup_resolves_names_aliases_and_case() -> None:
    registry: Registry[object] = Registry("thing")
    entry = _entry("sharpen", aliases=("crisp",))
    registry.add(entry)
    assert registry.lookup("sharpen") is entry
    assert registry.lookup("crisp") is entry
    assert registry.lookup("SHARPEN") is entry
    assert registry.get("sharpen") is entry.obj
    with pytest.raises(UnknownNameError, match="did you mean 'sharpen'"):
        registry.lookup("sharpn")


def test_add_refuses_a_taken_name_or_alias_naming_both_providers() -> None:
    registry: Registry[object] = Registry("thing")
    registry.add(_entry("blur", aliases=("soft",), plugin="first"))
    with pytest.raises(DuplicateNameError, match=r"'first'.*'second'"):
        registry.add(_entry("soft", plugin="second"))


def test_remove_hides_a_collected_entry_across_rebuilds() -> None:
    registry: Registry[object] = Registry("thing")
    collected = _entry("resize", aliases=("scale",))
    registry.set_collected([collected])
    assert registry.remove("scale") is collected
    registry.set_collected([collected])  # the hooks were called again
    assert "resize" not in registry and "scale" not in registry
    replacement = _entry("resize", plugin="test")
    registry.add(replacement)
    assert registry.lookup("resize") is replacement


def test_copy_is_independent_of_the_original() -> None:
    registry: Registry[object] = Registry("thing")
    registry.set_collected([_entry("a"), _entry("b")])
    clone = registry.copy()
    clone.remove("a")
    clone.set_collected([])  # a copy keeps its entries in its own layer
    assert clone.names() == ["b"]
    assert registry.names() == ["a", "b"]


def test_hidden_entries_resolve_but_are_not_listed_or_suggested() -> None:
    registry: Registry[object] = Registry("thing")
    registry.add(_entry("fail_on", hidden=True))
    registry.add(_entry("resize"))
    assert registry.names() == ["resize"]
    assert registry.names(include_hidden=True) == ["fail_on", "resize"]
    assert registry.lookup("fail_on").hidden
    with pytest.raises(UnknownNameError) as info:
        registry.lookup("fail_onn")
    assert "did you mean" not in str(info.value)
    assert str(info.value).endswith("Installed: resize (see 'imagestag plugins')")
    registry.show_hidden = True
    with pytest.raises(UnknownNameError, match="did you mean 'fail_on'"):
        registry.lookup("fail_onn")


def test_fault_injection_filters_are_test_tools_left_out_of_listings() -> None:
    names = {e.name for e in list_filters()}
    assert {"resize", "encode"} <= names
    assert not {"fail_on", "delay", "hold_gil"} & names
    assert {"fail_on", "delay", "hold_gil"} <= {e.name for e in list_filters(include_hidden=True)}
    # they still resolve everywhere a name is used
    assert get_filter("fail_on").__name__ == "FailOn"
    from imagestag_core.filters import Delay, FailOn, HoldGIL  # type: ignore[attr-defined]

    assert (FailOn.name, Delay.name, HoldGIL.name) == ("fail_on", "delay", "hold_gil")


def test_imagestag_test_tools_switch_lists_the_fault_filters() -> None:
    code = ("import imagestag_core as c; "
            "print(sorted({'fail_on', 'delay', 'hold_gil'} & {e.name for e in c.list_filters()}))")
    env = {"IMAGESTAG_TEST_TOOLS": "1", "PATH": ""}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env=env).stdout.strip()
    assert out == "['delay', 'fail_on', 'hold_gil']"


def test_one_injected_fault_class_for_the_fault_filter_and_the_kit() -> None:
    from imagestag_plugins.filters.faults import FailOn
    from imagestag_plugins.filters.faults import InjectedFault as plugin_fault

    from imagestag_core.errors import InjectedFault

    assert plugin_fault is InjectedFault
    with pytest.raises(InjectedFault):
        FailOn(frames=(0,)).apply(Image(np.zeros((4, 4, 3), np.uint8), metadata={"frame": 0}))


def test_a_filter_registered_locally_is_reported_when_its_name_is_taken(pm) -> None:
    class Local(Filter):
        name = "local_thing"

        def apply(self, image: Image) -> Image:
            return image

    pm.add_local("filter", Local)
    pm.strict = True
    with pytest.raises(DuplicateNameError):
        pm.add_local("filter", Local)


def test_an_unknown_name_among_many_counts_them_and_points_to_the_listing() -> None:
    registry: Registry[object] = Registry("colormap")
    for i in range(200):
        registry.add(_entry(f"map{i:03d}"))
    with pytest.raises(UnknownNameError) as info:
        registry.lookup("nothing_like_it")
    assert str(info.value) == ("unknown colormap 'nothing_like_it'. 200 installed "
                               "(see 'imagestag plugins --json')")
    assert len(info.value.available) == 200


def test_an_unknown_colormap_is_a_short_message_with_the_suggestion_and_the_pointer() -> None:
    from imagestag_core import FilterParameterError, get_colormap
    from imagestag_core.filters import FalseColor

    with pytest.raises(UnknownNameError) as info:
        get_colormap("virdis")
    assert info.value.suggestion == "viridis" and len(info.value.available) > 100
    with pytest.raises(FilterParameterError) as through_the_filter:
        FalseColor(colormap="virdis")
    for message in (str(info.value), str(through_the_filter.value)):
        assert len(message) < 300, message
        assert "did you mean 'viridis'" in message and "'imagestag plugins --json'" in message


def test_an_unknown_filter_points_to_imagestag_filters() -> None:
    registry: Registry[object] = Registry("filter")
    for name in ("resize", "grayscale", "encode"):
        registry.add(_entry(name))
    with pytest.raises(UnknownNameError) as info:
        registry.lookup("resise")
    assert str(info.value) == ("unknown filter 'resise'; did you mean 'resize'? Installed: "
                               "encode, grayscale, resize (see 'imagestag filters')")
