"""The contract kit's pytest plugin (entry point ``pytest11: imagestag``).

It loads into every pytest run where imagestag is installed, so it stays
inert: it imports nothing heavy at load time, has no autouse fixture and
changes no test it was not asked about.  It only

* registers the ``imagestag_contract`` marker and applies it, at collection,
  to every test that requests the ``imagestag_kit`` fixture or names
  ``check_filter``/``check_executor`` in its own body, so ``-m
  imagestag_contract`` selects a project's contract tests with no marker
  written by hand (tests may still add it themselves);
* registers the ``imagestag-*`` hypothesis profiles when
  ``--hypothesis-profile`` names one of them (so that option works);
* offers the non-autouse fixture ``imagestag_kit``: the
  :mod:`imagestag_core.testing` module, imported on first use.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest

__all__ = ["imagestag_kit", "pytest_collection_modifyitems", "pytest_configure"]

MARKER = "imagestag_contract"
#: the kit's entry points whose call in a test's body makes it a contract test
_CHECKS = frozenset({"check_filter", "check_executor"})


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: Any) -> None:
    config.addinivalue_line(
        "markers", f"{MARKER}: a test that runs the imagestag contract kit (applied by the kit)")
    try:
        profile = config.getoption("--hypothesis-profile", default=None)
    except ValueError:
        profile = None  # hypothesis's own plugin is not active
    if isinstance(profile, str) and profile.startswith("imagestag-"):
        # hypothesis loads the named profile in its own pytest_configure, which
        # runs after this one; it must exist by then
        from .profiles import register_profiles

        register_profiles()


def _runs_the_kit(item: pytest.Item) -> bool:
    if "imagestag_kit" in getattr(item, "fixturenames", ()):
        return True
    # names the test's own code refers to (globals and attributes alike), read
    # without running it: check_filter(...) and kit.check_executor(...) both count
    code = getattr(getattr(item, "obj", None), "__code__", None)
    return code is not None and not _CHECKS.isdisjoint(code.co_names)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # tryfirst: before pytest's own -m deselection, which reads the markers
    for item in items:
        if item.get_closest_marker(MARKER) is None and _runs_the_kit(item):
            item.add_marker(MARKER)


@pytest.fixture
def imagestag_kit() -> ModuleType:
    """The :mod:`imagestag_core.testing` module (``imagestag_kit.check_filter(...)``)."""
    import imagestag_core.testing as kit

    return kit
