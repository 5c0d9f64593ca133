"""Deterministic sample images, made on the fly (no download, nothing shipped).

:func:`photo_like` is the embedded default source of ``imagestag demo`` and
``imagestag bench``: a 20 MP frame that behaves like a photograph where it
matters for the seed's pipeline.  It has smooth gradients (what FalseColor
maps), fine texture and thin stripes (what an aliasing resize gets wrong) and
hard edges (what shows ringing and blur), so resize quality is measurable on
it.  It is built in well under a second: the smooth part is computed at a
quarter of the resolution and upsampled, the texture is a small random tile
repeated, and the shapes are drawn by OpenCV.
"""

from __future__ import annotations

import cv2
import numpy as np

from imagestag_core.image import Image

__all__ = ["PHOTO_HEIGHT", "PHOTO_WIDTH", "photo_like", "photo_like_array"]

#: the seed benchmark's source size: 5478 x 3650 = 19.99 MP
PHOTO_WIDTH = 5478
PHOTO_HEIGHT = 3650
_TILE = 509  # prime, so the tile's repetition does not line up with the stripes


def photo_like_array(width: int = PHOTO_WIDTH, height: int = PHOTO_HEIGHT,
                     seed: int = 0) -> np.ndarray:
    """A deterministic photo-like RGB uint8 array of shape ``(height, width, 3)``.

    The same ``(width, height, seed)`` always gives the same pixels, on every
    machine with the same OpenCV and numpy major versions.
    """
    if width < 8 or height < 8:
        raise ValueError(f"photo_like needs at least 8x8 pixels, got {width}x{height}")
    rng = np.random.default_rng(seed)

    # smooth part: a sky-like vertical gradient, a warm horizontal one and a
    # few broad blobs, computed small and upsampled (it has no high frequencies)
    sw, sh = max(8, width // 4), max(8, height // 4)
    y = np.linspace(0.0, 1.0, sh, dtype=np.float32)[:, None]
    x = np.linspace(0.0, 1.0, sw, dtype=np.float32)[None, :]
    phase = rng.uniform(0, 2 * np.pi, 4).astype(np.float32)
    blobs = (np.sin(6.0 * x + phase[0]) * np.cos(4.0 * y + phase[1])
             + 0.5 * np.sin(11.0 * (x + y) + phase[2]))
    r = 60 + 150 * x + 25 * blobs
    g = 90 + 100 * (1 - y) + 30 * np.cos(5.0 * x + phase[3]) * y
    b = 200 - 140 * y + 20 * blobs
    small = np.clip(np.dstack([np.broadcast_to(c, (sh, sw)) for c in (r, g, b)]), 0, 255)
    rgb = cv2.resize(small.astype(np.uint8), (width, height), interpolation=cv2.INTER_LINEAR)

    # hard edges: buildings, poles and discs in flat colours
    for _ in range(24):
        x0, y0 = int(rng.integers(0, width)), int(rng.integers(height // 3, height))
        w, h = int(rng.integers(width // 40, width // 8)), int(rng.integers(height // 20,
                                                                          height // 3))
        colour = tuple(int(c) for c in rng.integers(20, 235, 3))
        cv2.rectangle(rgb, (x0, y0), (x0 + w, y0 + h), colour, thickness=-1)
    for _ in range(12):
        centre = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        radius = int(rng.integers(max(2, width // 100), max(3, width // 15)))
        colour = tuple(int(c) for c in rng.integers(20, 235, 3))
        cv2.circle(rgb, centre, radius, colour, thickness=-1, lineType=cv2.LINE_AA)
    for _ in range(16):
        p0 = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        p1 = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        cv2.line(rgb, p0, p1, (250, 250, 245), thickness=max(1, width // 1500))

    # fine stripes (1 to 3 px periods): an aliasing resize turns them into moire
    band_h = max(1, height // 10)
    top = int(rng.integers(0, height - band_h))
    left, right = width // 8, width // 8 + max(1, width // 4)
    period = np.arange(right - left)
    stripes = np.where((period // 2) % 2 == 0, 230, 25).astype(np.uint8)
    rgb[top:top + band_h, left:right] = stripes[None, :, None]

    # sensor-like texture: a small random tile repeated, added with saturation
    tile = rng.normal(0.0, 9.0, (_TILE, _TILE, 3)).astype(np.int16)
    reps = (-(-height // _TILE), -(-width // _TILE), 1)
    noise = np.tile(tile, reps)[:height, :width]
    out = cv2.add(rgb.astype(np.int16), noise, dtype=cv2.CV_16S)
    return np.clip(out, 0, 255).astype(np.uint8)


def photo_like(width: int = PHOTO_WIDTH, height: int = PHOTO_HEIGHT, seed: int = 0) -> Image:
    """:func:`photo_like_array` as an RGB :class:`~imagestag_core.image.Image`
    (default 5478x3650, the seed benchmark's 19.99 MP source)."""
    return Image(photo_like_array(width, height, seed), "rgb",
                 metadata={"source": f"photo_like({width}x{height}, seed={seed})"})
