"""What the filters do, how they are found, and that they run in pipelines and the CLI."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from imagestag_core import FilterPipeline, Image
from imagestag_core.errors import ImageError
from imagestag_core.plugins import get_plugin_manager


def _photo() -> Image:
    h, w = 60, 80
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    gray = 100 + 20 * np.sin(x / 5) + 10 * (y > h / 2)
    rgb = np.stack([gray, gray * 0.9, gray * 0.8], axis=-1)
    return Image(np.clip(rgb, 0, 255).astype(np.uint8))


def test_filters_import_from_imagestag_core_filters_and_name_their_distribution() -> None:
    from imagestag_core.filters import CLAHE, GaussianBlur, UnsharpMask

    for cls, name in [(GaussianBlur, "gaussian_blur"), (UnsharpMask, "unsharp_mask"),
                      (CLAHE, "clahe")]:
        entry = get_plugin_manager().filters.lookup(name)
        assert entry.obj is cls
        assert entry.distribution == "imagestag-enhance"


def test_filters_compose_in_a_spec_string_and_round_trip() -> None:
    text = "clahe 3.0 tile_grid=4x4 | blur 1.5 | sharpen amount=1.5 radius=2 threshold=0.02"
    pipeline = FilterPipeline.parse(text)
    assert [type(f).__name__ for f in pipeline] == ["CLAHE", "GaussianBlur", "UnsharpMask"]
    assert FilterPipeline.parse(pipeline.to_string()) == pipeline
    out = pipeline.apply(_photo())
    assert out.size == (80, 60) and out.dtype == np.uint8


def test_blur_lowers_and_unsharp_raises_local_contrast() -> None:
    photo = _photo()
    detail = float(np.abs(np.diff(photo.get_pixels().astype(int), axis=1)).mean())
    blurred = FilterPipeline.parse("gaussian_blur 2").apply(photo).get_pixels()
    sharpened = FilterPipeline.parse("unsharp_mask amount=2").apply(photo).get_pixels()
    assert np.abs(np.diff(blurred.astype(int), axis=1)).mean() < detail
    assert np.abs(np.diff(sharpened.astype(int), axis=1)).mean() > detail


def test_unsharp_threshold_leaves_flat_regions_untouched() -> None:
    flat = Image(np.full((20, 20), 90, np.uint8))
    out = FilterPipeline.parse("unsharp_mask amount=3 threshold=0.1").apply(flat)
    assert np.array_equal(out.get_pixels(), flat.get_pixels())


def test_clahe_spreads_a_narrow_histogram_and_keeps_alpha() -> None:
    rng = np.random.default_rng(1)
    narrow = rng.integers(100, 120, (64, 64, 4), dtype=np.uint8)
    out = FilterPipeline.parse("clahe 4").apply(Image(narrow, "rgba")).get_pixels()
    assert np.ptp(out[:, :, :3]) > np.ptp(narrow[:, :, :3])
    assert np.array_equal(out[:, :, 3], narrow[:, :, 3])


def test_clahe_rejects_float_images_with_an_image_error() -> None:
    with pytest.raises(ImageError, match="uint8 or uint16"):
        FilterPipeline.parse("clahe").apply(Image(np.zeros((8, 8), np.float32)))


@pytest.mark.timeout(120)
def test_filters_run_in_an_imagestag_run_pipeline(tmp_path: Path) -> None:
    cli = shutil.which("imagestag", path=str(Path(sys.executable).parent))
    if cli is None:
        pytest.skip("the imagestag command is not installed")
    source = tmp_path / "in"
    source.mkdir()
    for i in range(3):
        _photo().save(source / f"p{i}.png")
    out = tmp_path / "out"
    spec = "clahe 3 | gaussian_blur 1 | unsharp_mask amount=1.5 | encode png"
    done = subprocess.run([cli, "run", spec, str(source), "-o", str(out), "-q"],
                          capture_output=True, text=True, timeout=110)
    assert done.returncode == 0, done.stderr
    written = sorted(p.name for p in out.iterdir())
    assert written == ["p0.png", "p1.png", "p2.png"]
    expected = FilterPipeline.parse(spec).apply(Image(source / "p0.png"))
    assert np.array_equal(Image(out / "p0.png").get_pixels(), expected.get_pixels())
