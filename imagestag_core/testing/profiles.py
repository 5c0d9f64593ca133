"""Hypothesis profiles of the contract kit.

Three profiles are registered (lazily, the first time the kit needs them):

``imagestag-ci``
    few examples, derandomized, no example database: the whole suite stays
    fast and reproducible on a 2-core CI machine.
``imagestag-dev``
    a few more examples, random, with the example database, for local runs.
``imagestag-thorough``
    hundreds of examples, for a soak run before a release.

All three disable the per-example deadline: image work on a slow, shared
machine varies too much for a fixed deadline to mean anything.

The environment variable ``IMAGESTAG_HYPOTHESIS_PROFILE`` selects one.  When
it is unset the default is ``imagestag-ci`` if ``CI`` is set to a true value
(``CI=true``, as GitHub Actions and most CI services do) and ``imagestag-dev``
otherwise.

The kit applies the selected profile to its own checks only (through
:func:`kit_settings`); it never loads a profile globally, so a project's other
hypothesis tests keep their settings.  ``pytest --hypothesis-profile
imagestag-ci`` loads one globally on purpose.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hypothesis import settings as Settings

__all__ = [
    "DEFAULT_CI_PROFILE",
    "DEFAULT_DEV_PROFILE",
    "PROFILES",
    "PROFILE_ENV",
    "kit_settings",
    "register_profiles",
    "selected_profile",
]

PROFILE_ENV = "IMAGESTAG_HYPOTHESIS_PROFILE"
DEFAULT_CI_PROFILE = "imagestag-ci"
DEFAULT_DEV_PROFILE = "imagestag-dev"

#: name -> (max_examples, derandomize, use the example database)
PROFILES: dict[str, tuple[int, bool, bool]] = {
    "imagestag-ci": (6, True, False),
    "imagestag-dev": (20, False, True),
    "imagestag-thorough": (200, False, True),
}

_registered = False
_lock = threading.Lock()


def register_profiles() -> None:
    """Register the three profiles with hypothesis (idempotent, loads none)."""
    global _registered
    if _registered:
        return
    with _lock:
        if _registered:
            return
        from hypothesis import HealthCheck, settings

        for name, (examples, derandomize, database) in PROFILES.items():
            options: dict[str, Any] = {}
            if not database:
                options["database"] = None
            settings.register_profile(
                name,
                max_examples=examples,
                derandomize=derandomize,
                deadline=None,
                # the kit's examples are whole images run through real filters
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.filter_too_much,
                                       HealthCheck.function_scoped_fixture],
                report_multiple_bugs=False,
                print_blob=True,
                **options,
            )
        _registered = True


def selected_profile(env: dict[str, str] | None = None) -> str:
    """The profile name the environment selects (see the module docs for the default)."""
    environ = os.environ if env is None else env
    name = environ.get(PROFILE_ENV, "").strip()
    if name:
        if name not in PROFILES:
            from ..errors import ImagestagError

            raise ImagestagError(
                f"{PROFILE_ENV}={name!r} is not a contract-kit profile; "
                f"use one of {', '.join(PROFILES)}")
        return name
    ci = environ.get("CI", "").strip().lower()
    return DEFAULT_CI_PROFILE if ci not in ("", "0", "false", "no", "off") else \
        DEFAULT_DEV_PROFILE


def kit_settings(**overrides: Any) -> Settings:
    """The selected profile as a ``hypothesis.settings`` object, with ``overrides``.

    Usable as a decorator on a project's own ``@given`` tests, so they follow
    the same profile::

        @kit_settings()
        @given(images())
        def test_my_filter_keeps_size(image): ...
    """
    register_profiles()
    from hypothesis import settings

    return settings(settings.get_profile(selected_profile()), **overrides)
