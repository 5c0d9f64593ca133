"""OpenCV (and other heavy modules) load when pixels are touched, not at start-up."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from imagestag_core.lazy_import import lazy_module

HEAVY = ("cv2", "av", "matplotlib", "tqdm", "PIL")

# What `imagestag plugins` does: import the core, build the plugin manager, list
# every registry.  Prints the heavy modules that got imported along the way.
LIST_PLUGINS = (
    "import sys, json, imagestag_core\n"
    "from imagestag_core.plugins import get_plugin_manager\n"
    "manager = get_plugin_manager()\n"
    "assert imagestag_core.list_filters() and imagestag_core.list_codecs()\n"
    "assert imagestag_core.list_executors() and imagestag_core.list_colormaps()\n"
    "from imagestag_core.plugins import list_video_backends\n"
    "assert [e.name for e in list_video_backends()] == ['opencv', 'pyav']\n"
    f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})))\n"
)


def _run(code: str, **env: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**os.environ, **env}, timeout=120)
    return out.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize("env", [{"IMAGESTAG_DISABLE_PLUGIN_AUTOLOAD": "1"}, {}],
                         ids=["built-ins", "everything-installed"])
def test_listing_plugins_imports_no_opencv_matplotlib_tqdm_or_pil(env: dict[str, str]) -> None:
    assert json.loads(_run(LIST_PLUGINS, **env)) == []


def test_touching_pixels_loads_opencv_and_works() -> None:
    code = (
        "import sys, numpy as np\n"
        "from imagestag_core import Image, PixelFormat\n"
        "from imagestag_core.filters import Resize, Encode, Decode\n"
        "assert 'cv2' not in sys.modules\n"
        "img = Image(np.full((8, 8, 3), 200, np.uint8), PixelFormat.RGB)\n"
        "gray = img.get_pixels(PixelFormat.GRAY)\n"
        "small = Resize((4, 2)).apply(img)\n"
        "back = Decode().apply(Encode('png').apply(small))\n"
        "print(int(gray[0, 0]), small.get_pixels().shape, back.get_pixels().shape,\n"
        "      'cv2' in sys.modules)\n"
    )
    assert _run(code) == "200 (2, 4, 3) (2, 4, 3) True"


def test_lazy_module_rebinds_the_global_to_the_real_module_on_first_use() -> None:
    namespace: dict[str, object] = {}
    namespace["np"] = lazy_module("numpy", namespace, bind_as="np")
    stand_in = namespace["np"]
    assert "lazy module" in repr(stand_in)
    assert stand_in.uint8 is np.uint8  # type: ignore[attr-defined]
    # later look-ups in that namespace go straight to the module, no proxy left
    assert namespace["np"] is np
    # a copy taken before first use keeps forwarding
    assert stand_in.float32 is np.float32  # type: ignore[attr-defined]


def test_lazy_module_leaves_a_deliberately_rebound_name_alone() -> None:
    namespace: dict[str, object] = {}
    stand_in = lazy_module("numpy", namespace, bind_as="np")
    namespace["np"] = "user value"
    assert stand_in.int16 is np.int16
    assert namespace["np"] == "user value"
