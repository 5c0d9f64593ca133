"""The installed distribution is visible to the ``imagestag`` command and runs by name."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from dask_fixtures import make  # noqa: F401  (pytest fixtures)
from imagestag_core import FilterPipeline, Image


def _cli() -> str:
    cli = shutil.which("imagestag", path=str(Path(sys.executable).parent))
    if cli is None:
        pytest.skip("the imagestag command is not installed")
    return cli


def test_imagestag_plugins_lists_dask_from_its_own_distribution() -> None:
    done = subprocess.run([_cli(), "plugins"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    line = next(ln for ln in done.stdout.splitlines() if ln.split()[:1] == ["dask"])
    assert "imagestag-dask" in line


@pytest.mark.timeout(120)
def test_imagestag_run_with_executor_dask_writes_every_output(tmp_path: Path, make: object) -> None:
    source = tmp_path / "in"
    source.mkdir()
    frames = make(4, size=(96, 64))  # type: ignore[operator]
    for i, frame in enumerate(frames):
        frame.save(source / f"f{i}.png")
    spec = "resize 0.5 | falsecolor hot | encode png"
    done = subprocess.run([_cli(), "run", spec, str(source), "-o", str(tmp_path / "out"),
                           "--executor", "dask", "-j", "2", "-q"],
                          capture_output=True, text=True, timeout=110)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f"f{i}.png" for i in range(4)]
    expected = FilterPipeline.parse(spec).apply(Image(source / "f2.png")).get_pixels()
    assert np.array_equal(Image(tmp_path / "out" / "f2.png").get_pixels(), expected)
