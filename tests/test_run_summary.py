"""The ``done: ...`` summary of ``imagestag run`` says what happened, in words that read right."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from imagestag_plugins.app.main import main
from imagestag_plugins.app.reports import counted

from imagestag_core import Image


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["run", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def _png(path: Path, value: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image(np.full((12, 16, 3), value, np.uint8)).save(path)
    return path


def test_counted_is_singular_for_one() -> None:
    assert [counted(n, "file") for n in (0, 1, 2)] == ["0 files", "1 file", "2 files"]
    assert counted(1, "hidden entry", "hidden entries") == "1 hidden entry"
    assert counted(3, "hidden entry", "hidden entries") == "3 hidden entries"


def test_one_file_and_one_worker_are_singular(capsys, tmp_path: Path) -> None:
    src = _png(tmp_path / "in" / "a.png")
    code, out, _ = _run(capsys, "resize 0.5", str(src), "-o", str(tmp_path / "out"),
                        "--executor", "batch", "-j", "1")
    assert code == 0
    assert out.startswith(f"done: 1 file written to {tmp_path / 'out'} in ")
    assert "batch with 1 worker)" in out


def test_a_run_with_everything_skipped_reports_no_rate_and_no_workers(capsys,
                                                                       tmp_path: Path) -> None:
    for i in range(3):
        _png(tmp_path / "in" / f"f{i}.png", i)
    argv = ("resize 0.5", str(tmp_path / "in"), "-o", str(tmp_path / "out"))
    assert _run(capsys, *argv)[0] == 0
    code, out, _ = _run(capsys, *argv)
    assert code == 0
    assert out.splitlines() == [
        f"done: 0 files written to {tmp_path / 'out'}: nothing to run",
        "  3 skipped: output exists (--overwrite replaces)"]
    assert "fps" not in out and "0 workers" not in out


def test_hidden_entries_are_skipped_and_counted(capsys, tmp_path: Path) -> None:
    src = tmp_path / "in"
    _png(src / "a.png")
    _png(src / ".hidden.png")
    _png(src / ".thumbs" / "b.png")  # a hidden folder counts once, its files are not walked
    (src / "notes.txt").write_text("not an image")
    code, out, _ = _run(capsys, "resize 0.5", str(src), "-o", str(tmp_path / "out"))
    assert code == 0
    assert sorted(p.name for p in (tmp_path / "out").rglob("*") if p.is_file()) == ["a.png"]
    assert "1 file written" in out
    assert "  1 file ignored: not an image format" in out
    assert "  2 hidden entries ignored (names starting with '.')" in out


def test_two_inputs_mapping_to_one_output_both_keep_their_suffix(capsys,
                                                                 tmp_path: Path) -> None:
    _png(tmp_path / "in" / "x.png")
    Image(np.zeros((12, 16, 3), np.uint8)).save(tmp_path / "in" / "x.jpg")
    code, _, _ = _run(capsys, "resize 0.5 | encode jpeg", str(tmp_path / "in"), "-o",
                      str(tmp_path / "out"))
    assert code == 0
    # as docs/cli.md says: x.png.jpg and x.jpg.jpg, never one overwriting the other
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["x.jpg.jpg", "x.png.jpg"]
