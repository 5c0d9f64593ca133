"""Generate ``imagestag_plugins/colormaps/matplotlib_colormaps.npz`` from matplotlib.

Run after a matplotlib upgrade::

    .venv/bin/python tools/gen_colormaps.py

Every colormap in ``matplotlib.colormaps`` (the ``_r`` ones included) is
sampled at 256 points, ``cmap(np.linspace(0, 1, 256))``, rounded to uint8 RGB
and stored as one ``(N, 256, 3)`` array plus a ``names`` array, so the plugin
loads all of them with one read and never imports matplotlib.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np

OUTPUT = (Path(__file__).resolve().parent.parent / "plugins" / "imagestag_plugins"
          / "colormaps" / "matplotlib_colormaps.npz")


def main() -> None:
    names = sorted(matplotlib.colormaps)
    x = np.linspace(0.0, 1.0, 256)
    tables = np.stack([
        np.round(matplotlib.colormaps[name](x)[:, :3] * 255.0).astype(np.uint8)
        for name in names
    ])
    np.savez_compressed(OUTPUT, names=np.array(names), tables=tables,
                        matplotlib_version=np.array(matplotlib.__version__))
    print(f"wrote {len(names)} colormaps (matplotlib {matplotlib.__version__}) to {OUTPUT}")


if __name__ == "__main__":
    main()
