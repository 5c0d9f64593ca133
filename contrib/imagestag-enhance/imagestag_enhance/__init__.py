"""imagestag-enhance: an example third-party filter pack.

Installed next to imagestag, its filters register through the ``imagestag``
entry-point group and are used like built-ins::

    FilterPipeline.parse("clahe 3.0 | unsharp_mask amount=1.5 radius=2 | encode jpeg")
    from imagestag_core.filters import GaussianBlur, UnsharpMask, CLAHE

Each module holds one filter and its ``@hookimpl``; see docs/writing-plugins.md.
"""

from __future__ import annotations

from .clahe import CLAHE
from .gaussian_blur import GaussianBlur
from .unsharp_mask import UnsharpMask

__version__ = "0.1.0"

__all__ = ["CLAHE", "GaussianBlur", "UnsharpMask"]
