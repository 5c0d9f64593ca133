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


class CustomBaseError(BaseException):
    """A BaseException that is not an Exception, defined by a user."""


#: what RaiseBaseOn raises on which frame: every kind of non-Exception BaseException
BASE_EXCEPTIONS: dict[int, type[BaseException]] = {
    1: KeyboardInterrupt, 3: SystemExit, 5: GeneratorExit, 7: CustomBaseError}


class RaiseBaseOn(Filter):
    """Raises ``BASE_EXCEPTIONS[frame]`` on those frames; passes the others through."""

    name = "test_raise_base_on"

    def apply(self, image: Image) -> Image:
        kind = BASE_EXCEPTIONS.get(image.metadata.get("frame", -1))
        if kind is not None:
            raise kind(f"{kind.__name__} from a filter")
        return image
