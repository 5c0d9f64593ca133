"""The pack's filters keep imagestag's filter contract (the kit does the work)."""

from __future__ import annotations

import pytest
from imagestag_core.testing import check_filter

from imagestag_enhance import CLAHE, GaussianBlur, UnsharpMask


@pytest.mark.parametrize("cls", [GaussianBlur, UnsharpMask, CLAHE])
def test_filter_keeps_the_contract(cls: type) -> None:
    check_filter(cls)
