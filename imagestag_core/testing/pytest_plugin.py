"""The contract kit's pytest plugin (entry point ``pytest11: imagestag``).

It loads into every pytest run where imagestag is installed, so it stays
inert: it imports nothing heavy at load time, has no autouse fixture and
changes no test it was not asked about.  It only

* registers the ``imagestag_contract`` marker (``-m imagestag_contract``
  selects a project's contract tests);
* registers the ``imagestag-*`` hypothesis profiles when
  ``--hypothesis-profile`` names one of them (so that option works);
* offers the non-autouse fixture ``imagestag_kit``: the
  :mod:`imagestag_core.testing` module, imported on first use.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest

__all__ = ["imagestag_kit", "pytest_configure"]


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: Any) -> None:
    config.addinivalue_line(
        "markers", "imagestag_contract: a test that runs the imagestag contract kit")
    try:
        profile = config.getoption("--hypothesis-profile", default=None)
    except ValueError:
        profile = None  # hypothesis's own plugin is not active
    if isinstance(profile, str) and profile.startswith("imagestag-"):
        # hypothesis loads the named profile in its own pytest_configure, which
        # runs after this one; it must exist by then
        from .profiles import register_profiles

        register_profiles()


@pytest.fixture
def imagestag_kit() -> ModuleType:
    """The :mod:`imagestag_core.testing` module (``imagestag_kit.check_filter(...)``)."""
    import imagestag_core.testing as kit

    return kit
