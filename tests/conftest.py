from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from imagestag_core import Image
from imagestag_core.plugins import PluginManager, create_plugin_manager, use_plugin_manager


@pytest.fixture
def pm() -> Iterator[PluginManager]:
    """An isolated, empty plugin manager installed as the process-wide one."""
    manager = create_plugin_manager(autoload=False, env={})
    manager.load()
    with use_plugin_manager(manager):
        yield manager


@pytest.fixture
def photo() -> Image:
    """A small deterministic photo-like RGB image (smooth gradients plus texture)."""
    h, w = 120, 160
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    r = 128 + 100 * np.sin(x / 17.0) * np.cos(y / 23.0)
    g = 255 * x / w
    b = 255 * y / h
    noise = np.random.default_rng(7).normal(0, 12, (h, w))
    rgb = np.stack([r + noise, g + noise, b - noise], axis=-1)
    return Image(np.clip(rgb, 0, 255).astype(np.uint8))


def frames(n: int, size: tuple[int, int] = (64, 48)) -> list[Image]:
    """``n`` distinct small RGB frames, each with ``metadata["frame"] = index``."""
    w, h = size
    out = []
    for i in range(n):
        arr = np.random.default_rng(i).integers(0, 256, (h, w, 3), dtype=np.uint8)
        out.append(Image(arr, metadata={"frame": i}))
    return out
