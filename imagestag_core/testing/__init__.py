"""The contract kit: prove a filter or executor keeps imagestag's contract.

A third-party plugin's test file is a few lines::

    from imagestag_core.testing import check_executor, check_filter
    from my_pack import Sharpen

    def test_sharpen_keeps_the_filter_contract():
        check_filter(Sharpen)

Each broken property raises :class:`~imagestag_core.errors.ContractViolation`
naming the property and showing the shrunk counter-example.  The hypothesis
profile comes from ``IMAGESTAG_HYPOTHESIS_PROFILE`` (see :mod:`.profiles`).
The kit needs hypothesis (the ``test`` extra); it is imported when a
check or strategy is first used, never by ``import imagestag_core``.
Full guide: docs/testing-plugins.md.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from ..errors import ContractViolation

if TYPE_CHECKING:
    from .checks import (
        EXECUTOR_PROPERTIES,
        FILTER_PROPERTIES,
        check_executor,
        check_filter,
        fingerprint,
        registered_for_test,
    )
    from .profiles import (
        PROFILE_ENV,
        PROFILES,
        kit_settings,
        register_profiles,
        selected_profile,
    )
    from .strategies import (
        ImageRecipe,
        filter_instances,
        filter_params,
        filters,
        frame_batches,
        images,
        param_strategy,
        pipelines,
        recipes,
    )

# Names resolve on first use (PEP 562): the pytest plugin lives in this
# package, and loading it must not import hypothesis into every pytest run.
_LAZY = {
    "EXECUTOR_PROPERTIES": "checks", "FILTER_PROPERTIES": "checks",
    "check_executor": "checks", "check_filter": "checks", "fingerprint": "checks",
    "registered_for_test": "checks",
    "PROFILE_ENV": "profiles", "PROFILES": "profiles", "kit_settings": "profiles",
    "register_profiles": "profiles", "selected_profile": "profiles",
    "ImageRecipe": "strategies", "filter_instances": "strategies",
    "filter_params": "strategies", "filters": "strategies", "frame_batches": "strategies",
    "images": "strategies", "param_strategy": "strategies", "pipelines": "strategies",
    "recipes": "strategies",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "EXECUTOR_PROPERTIES",
    "FILTER_PROPERTIES",
    "PROFILES",
    "PROFILE_ENV",
    "ContractViolation",
    "ImageRecipe",
    "check_executor",
    "check_filter",
    "filter_instances",
    "filter_params",
    "filters",
    "fingerprint",
    "frame_batches",
    "images",
    "kit_settings",
    "param_strategy",
    "pipelines",
    "recipes",
    "register_profiles",
    "registered_for_test",
    "selected_profile",
]
