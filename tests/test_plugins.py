"""Plugin discovery through real entry points, and the registries' rules."""

from __future__ import annotations

import sys
import textwrap
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from imagestag_core import Filter, get_colormap, get_filter, hookimpl
from imagestag_core.errors import (
    DuplicateNameError,
    PluginError,
    PluginLoadError,
    UnknownNameError,
)
from imagestag_core.plugins import (
    PluginWarning,
    create_plugin_manager,
    get_plugin_manager,
    use_plugin_manager,
)


def make_distribution(root: Path, dist: str, plugins: dict[str, str],
                      version: str = "1.0") -> None:
    """Write a real installed distribution (dist-info + modules) into ``root``.

    ``plugins`` maps entry-point name -> module source; each module is written
    as ``<dist>_<ep>.py`` and declared in the ``imagestag`` group.
    """
    normalized = dist.replace("-", "_")
    info = root / f"{normalized}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    lines = ["[imagestag]"]
    records = []
    for ep, source in plugins.items():
        module = f"{normalized}_{ep}"
        (root / f"{module}.py").write_text(textwrap.dedent(source))
        lines.append(f"{ep} = {module}")
        records.append(f"{module}.py,,")
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    records += [f"{info.name}/METADATA,,", f"{info.name}/entry_points.txt,,",
                f"{info.name}/RECORD,,"]
    (info / "RECORD").write_text("\n".join(records) + "\n")


GOOD_PLUGIN = """
    import numpy as np
    from imagestag_core import Filter, hookimpl

    class Brighten(Filter):
        name = "brighten"
        amount: int = 10

        def apply(self, image):
            px = image.get_pixels()
            return image.derive(np.clip(px.astype(np.int16) + self.amount, 0, 255)
                                .astype(np.uint8))

    @hookimpl
    def register_filters(register):
        register(Brighten, aliases=("lighten",))

    @hookimpl
    def register_colormaps(register):
        register("ramp", np.stack([np.arange(256)] * 3, axis=1).astype(np.uint8))
"""

BROKEN_PLUGIN = """
    raise ImportError("this plugin is broken on purpose")
"""

DUPLICATE_PLUGIN = """
    from imagestag_core import Filter, hookimpl

    class OtherBrighten(Filter):
        name = "brighten"

        def apply(self, image):
            return image

    @hookimpl
    def register_filters(register):
        register(OtherBrighten)
"""


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in [m for m in sys.modules if m.startswith(("good_pack", "broken_pack", "dup_pack"))]:
        del sys.modules[name]


def load(env: dict[str, str] | None = None):
    manager = create_plugin_manager(env=env or {})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        manager.load()
    return manager, caught


def test_entry_point_plugin_is_discovered_with_its_distribution(site: Path) -> None:
    make_distribution(site, "good-pack", {"brighten": GOOD_PLUGIN}, version="2.5")
    manager, _ = load()
    entry = manager.filters.lookup("brighten")
    assert entry.distribution == "good-pack"
    assert entry.version == "2.5"
    assert entry.plugin == "brighten"
    assert manager.filters.lookup("lighten").obj is entry.obj
    assert manager.colormaps.lookup("ramp").distribution == "good-pack"


def test_builtins_are_ordinary_entry_points_of_the_imagestag_distribution() -> None:
    manager, _ = load()
    entry = manager.executors.lookup("sequential")
    assert entry.distribution == "imagestag"
    assert entry.obj.__module__.startswith("imagestag_plugins.")


def test_plugin_failing_on_import_is_recorded_and_others_still_load(site: Path) -> None:
    make_distribution(site, "broken-pack", {"broken": BROKEN_PLUGIN})
    make_distribution(site, "good-pack", {"brighten": GOOD_PLUGIN})
    manager, caught = load()
    assert "brighten" in manager.filters
    errors = [e for e in manager.load_errors if isinstance(e, PluginLoadError)
              and e.plugin == "broken"]
    assert len(errors) == 1
    assert errors[0].distribution == "broken-pack"
    assert "broken on purpose" in str(errors[0])
    assert any(issubclass(w.category, PluginWarning) and "broken" in str(w.message)
               for w in caught)


def test_strict_mode_turns_a_load_error_into_an_exception(site: Path) -> None:
    make_distribution(site, "broken-pack", {"broken": BROKEN_PLUGIN})
    with pytest.raises(PluginLoadError, match="broken on purpose"):
        load({"IMAGESTAG_STRICT_PLUGINS": "1"})


def test_duplicate_name_is_rejected_naming_both_providers(site: Path) -> None:
    make_distribution(site, "good-pack", {"brighten": GOOD_PLUGIN})
    make_distribution(site, "dup-pack", {"dup": DUPLICATE_PLUGIN})
    manager, _ = load()
    dupes = [e for e in manager.load_errors if isinstance(e, DuplicateNameError)]
    assert len(dupes) == 1
    message = str(dupes[0])
    assert "good-pack" in message and "dup-pack" in message
    # the first provider (entry points load in a stable order) keeps the name
    assert manager.filters.lookup("brighten").distribution in ("good-pack", "dup-pack")
    assert manager.filters.lookup("brighten").distribution == dupes[0].first.split()[0]


def test_disable_autoload_skips_third_party_but_keeps_builtins(site: Path) -> None:
    make_distribution(site, "good-pack", {"brighten": GOOD_PLUGIN})
    manager, _ = load({"IMAGESTAG_DISABLE_PLUGIN_AUTOLOAD": "1"})
    assert "brighten" not in manager.filters
    assert "sequential" in manager.executors
    assert ("brighten", "IMAGESTAG_DISABLE_PLUGIN_AUTOLOAD") in manager.skipped


def test_block_list_matches_distribution_names(site: Path) -> None:
    make_distribution(site, "good-pack", {"brighten": GOOD_PLUGIN})
    manager, _ = load({"IMAGESTAG_PLUGINS_BLOCK": "Good_Pack"})
    assert "brighten" not in manager.filters
    assert "sequential" in manager.executors


def test_allow_list_loads_only_matching_entry_points(site: Path) -> None:
    make_distribution(site, "good-pack", {"brighten": GOOD_PLUGIN})
    manager, _ = load({"IMAGESTAG_PLUGINS_ALLOW": "brighten,sequential"})
    assert "brighten" in manager.filters
    assert "sequential" in manager.executors
    assert all(e.name in ("sequential",) for e in manager.executors.list())


def test_imagestag_plugins_env_registers_modules_without_entry_points(site: Path) -> None:
    (site / "env_only_plugin.py").write_text(textwrap.dedent(GOOD_PLUGIN))
    try:
        manager = create_plugin_manager(autoload=False,
                                        env={"IMAGESTAG_PLUGINS": "env_only_plugin"})
        manager.load()
        assert manager.filters.lookup("brighten").plugin == "env_only_plugin"
    finally:
        sys.modules.pop("env_only_plugin", None)


def test_manager_is_built_lazily_not_at_import() -> None:
    import subprocess

    code = ("import imagestag_core, imagestag_core.plugins as p, sys; "
            "print(p._manager is None, 'imagestag_plugins' in str(list(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["True", "False"]


def test_unknown_name_suggests_the_closest_and_lists_installed(pm) -> None:
    class Sharpen(Filter):
        name = "sharpen"

        def apply(self, image):
            return image

    pm.register_plugin(_plugin_with(Sharpen), name="local-sharpen")
    with pytest.raises(UnknownNameError) as info:
        get_filter("sharpn")
    assert "did you mean 'sharpen'" in str(info.value)
    assert "Installed: sharpen" in str(info.value)
    assert isinstance(info.value, LookupError)


def test_register_rejects_non_filter_classes_and_bad_names(pm) -> None:
    class NotAFilter:
        name = "nope"

    class BadName(Filter):
        name = "Bad Name"

    pm.strict = True
    with pytest.raises(PluginLoadError, match="not a subclass"):
        pm.register_plugin(_plugin_with(NotAFilter), name="p1")
    with pytest.raises(PluginLoadError, match="invalid name"):
        pm.register_plugin(_plugin_with(BadName), name="p2")


def test_register_colormaps_validates_the_table(pm) -> None:
    class Plugin:
        @hookimpl
        def register_colormaps(self, register):
            register("short", np.zeros((10, 3), np.uint8))

    pm.strict = True
    with pytest.raises(PluginLoadError, match=r"shape \(256, 3\)"):
        pm.register_plugin(Plugin(), name="cmaps")


def test_reversed_colormap_is_derived_automatically(pm) -> None:
    table = np.stack([np.arange(256)] * 3, axis=1).astype(np.uint8)

    class Plugin:
        @hookimpl
        def register_colormaps(self, register):
            register("ramp", table)

    pm.register_plugin(Plugin(), name="cmaps")
    assert get_colormap("ramp")[0].tolist() == [0, 0, 0]
    assert get_colormap("ramp_r")[0].tolist() == [255, 255, 255]
    with pytest.raises(ValueError):
        get_colormap("ramp")[0, 0] = 1


def test_register_codecs_requires_the_codec_protocol(pm) -> None:
    class Plugin:
        @hookimpl
        def register_codecs(self, register):
            register(object())

    pm.strict = True
    with pytest.raises(PluginLoadError, match="lacks name"):
        pm.register_plugin(Plugin(), name="codecs")


def test_register_executors_requires_an_executor_subclass(pm) -> None:
    class Plugin:
        @hookimpl
        def register_executors(self, register):
            register(dict, name="dict")

    pm.strict = True
    with pytest.raises(PluginLoadError, match="not a subclass"):
        pm.register_plugin(Plugin(), name="bad-executor")


def test_unregister_plugin_removes_everything_it_registered(pm) -> None:
    class Blur(Filter):
        name = "blur"

        def apply(self, image):
            return image

    pm.register_plugin(_plugin_with(Blur), name="blur-plugin")
    assert "blur" in pm.filters
    pm.unregister_plugin("blur-plugin")
    assert "blur" not in pm.filters


def test_filters_module_resolves_class_names_through_the_registry(pm) -> None:
    class Vignette(Filter):
        name = "vignette"

        def apply(self, image):
            return image

    pm.register_plugin(_plugin_with(Vignette), name="vignette-plugin")
    from imagestag_core.filters import Vignette as imported  # type: ignore[attr-defined]

    assert imported is Vignette


def test_two_plugins_exporting_one_class_name_is_an_error(pm) -> None:
    def make() -> type[Filter]:
        class Twin(Filter):
            name = "twin_a"

            def apply(self, image):
                return image
        return Twin

    first, second = make(), make()
    pm.register_plugin(_plugin_with(first), name="a")
    pm.register_plugin(_plugin_with(second, name="twin_b"), name="b")
    import imagestag_core.filters as filters_module

    with pytest.raises(PluginError, match="exported by both"):
        filters_module.Twin  # noqa: B018


def test_process_wide_manager_loads_builtins_from_entry_points() -> None:
    fresh = create_plugin_manager()
    with use_plugin_manager(fresh):
        assert get_plugin_manager() is fresh
        assert "sequential" in fresh.executors


def _plugin_with(cls: type[Filter], name: str | None = None) -> object:
    class Plugin:
        @hookimpl
        def register_filters(self, register):
            register(cls, name=name)

    return Plugin()
