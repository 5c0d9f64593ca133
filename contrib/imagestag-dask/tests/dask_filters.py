"""Filters the tests define without a plugin: they reach the workers by pickle."""

from __future__ import annotations

import time

from imagestag_core import Filter, Image, param


class Invert(Filter):
    """255 - pixels (uint8)."""

    name = "test_invert"

    def apply(self, image: Image) -> Image:
        return image.derive(255 - image.get_pixels())


class FailOn(Filter):
    """Raises ValueError on the frame whose ``metadata["frame"]`` is ``frame``."""

    name = "test_fail_on"
    frame: int = param(0, min=0)

    def apply(self, image: Image) -> Image:
        if image.metadata.get("frame") == self.frame:
            raise ValueError(f"deliberate failure on frame {self.frame}")
        return image


class Jitter(Filter):
    """Sleeps a frame-dependent time, so frames finish out of submission order."""

    name = "test_jitter"
    ms: float = param(20.0, min=0.0)

    def apply(self, image: Image) -> Image:
        frame = int(image.metadata.get("frame", 0))
        time.sleep(self.ms / 1000 * ((frame * 7) % 5) / 4)
        return image
