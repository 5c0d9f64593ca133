"""Which files ``imagestag run`` reads and where each result goes: symbolic links,
inputs without an extension, names at the 255-byte limit."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from imagestag_plugins.app.main import main

from imagestag_core import Image


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def write_png(path: Path, seed: int = 0, size: tuple[int, int] = (12, 8)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    assert cv2.imwrite(str(path), pixels)
    return path


def written(out: Path) -> list[str]:
    return sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())


@pytest.fixture
def linked(tmp_path: Path) -> Path:
    """photos/ with a real file and links: to a file and a folder outside it, a broken
    one, one to its own folder (a loop) and one to itself."""
    photos = tmp_path / "photos"
    write_png(photos / "a.png", 1)
    write_png(tmp_path / "elsewhere" / "outside.png", 2)
    write_png(tmp_path / "elsewhere" / "album" / "deep.png", 3)
    (photos / "link.png").symlink_to(tmp_path / "elsewhere" / "outside.png")
    (photos / "album").symlink_to(tmp_path / "elsewhere" / "album", target_is_directory=True)
    (photos / "broken.png").symlink_to(tmp_path / "nowhere.png")
    (photos / "again").symlink_to(photos, target_is_directory=True)
    (photos / "self.png").symlink_to(photos / "self.png")
    return photos


def test_links_out_of_the_input_folder_are_followed_under_the_links_own_path(
        capsys, linked, tmp_path):
    out = tmp_path / "out"
    code, _, err = run_cli(capsys, "run", "encode png", str(linked), "-o", str(out))
    assert code == 0, err
    assert "Traceback" not in err
    assert written(out) == ["a.png", "album/deep.png", "link.png"]
    assert Image(out / "link.png").size == (12, 8)


def test_broken_links_and_loops_are_skipped_with_their_reason(capsys, linked, tmp_path):
    code, stdout, err = run_cli(capsys, "run", "encode png", str(linked), "-o",
                                str(tmp_path / "out"))
    assert code == 0, err
    assert f"skipped {linked / 'broken.png'}: broken symbolic link" in stdout
    assert f"skipped {linked / 'self.png'}: symbolic link loop" in stdout
    assert f"skipped {linked / 'again'}: symbolic link loop" in stdout


def test_a_recursive_glob_through_a_looping_link_reads_each_file_once(capsys, linked,
                                                                      tmp_path):
    out = tmp_path / "out"
    code, stdout, err = run_cli(capsys, "run", "encode png", str(linked / "**" / "*.png"),
                                "-o", str(out))
    assert code == 0, err
    assert written(out) == ["a.png", "album/deep.png", "link.png"]
    assert stdout.count("broken symbolic link") == 1


def test_a_link_beside_its_target_is_read_once_under_the_real_name(capsys, tmp_path):
    photos = tmp_path / "photos"
    write_png(photos / "x.png")
    (photos / "0-latest.png").symlink_to(photos / "x.png")
    out = tmp_path / "out"
    assert run_cli(capsys, "run", "encode png", str(photos), "-o", str(out))[0] == 0
    assert written(out) == ["x.png"]


@pytest.mark.parametrize("name", ["broken.png", "self.png"])
def test_a_broken_or_looping_link_given_as_the_input_is_one_error_line(capsys, linked,
                                                                       tmp_path, name):
    code, _, err = run_cli(capsys, "run", "encode png", str(linked / name), "-o",
                           str(tmp_path / "out"))
    assert code == 1
    assert err.count("\n") == 1 and err.startswith("imagestag: error: "), err
    assert "symbolic link" in err


def test_a_fifo_as_the_input_is_one_error_line(capsys, tmp_path):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    code, _, err = run_cli(capsys, "run", "encode png", str(fifo), "-o", str(tmp_path / "out"))
    assert code == 1
    assert err == f"imagestag: error: input {str(fifo)!r} is not a regular file or a folder\n"


# -- inputs without an extension: the sniffed format, with its extension ---------------


@pytest.mark.parametrize(("name", "expected"), [("scan", "scan.png"),
                                                ("scan.v2", "scan.v2.png")])
def test_an_input_no_codec_knows_by_name_is_written_in_its_own_format(capsys, tmp_path, name,
                                                                      expected):
    src = tmp_path / "in" / name
    src.parent.mkdir()
    write_png(tmp_path / "tmp.png").rename(src)
    out = tmp_path / "out"
    code, _, err = run_cli(capsys, "run", "resize 0.5", str(src), "-o", str(out))
    assert code == 0, err
    assert written(out) == [expected]
    result = Image(out / expected)
    assert result.encoded_format == "png" and result.size == (6, 4)


def test_an_extensionless_jpeg_becomes_a_jpg(capsys, tmp_path):
    (tmp_path / "in").mkdir()
    src = tmp_path / "in" / "photo"
    pixels = np.zeros((8, 8, 3), np.uint8)
    src.write_bytes(cv2.imencode(".jpg", pixels)[1].tobytes())
    out = tmp_path / "out"
    assert run_cli(capsys, "run", "resize 0.5", str(src), "-o", str(out))[0] == 0
    assert written(out) == ["photo.jpg"]


def test_an_extensionless_output_that_exists_is_skipped_without_overwrite(capsys, tmp_path):
    src = tmp_path / "in" / "scan"
    src.parent.mkdir()
    write_png(tmp_path / "tmp.png").rename(src)
    out = tmp_path / "out"
    out.mkdir()
    (out / "scan.png").write_bytes(b"keep me")
    code, stdout, _ = run_cli(capsys, "run", "resize 0.5", str(src), "-o", str(out))
    assert code == 0
    assert (out / "scan.png").read_bytes() == b"keep me"
    assert "1 skipped: output exists" in stdout


# -- names at the limit -----------------------------------------------------------------


@pytest.mark.parametrize("length", [245, 250, 255])
@pytest.mark.parametrize("spec", ["encode png", "resize 0.5", "resize 0.5 | encode jpeg"])
def test_a_name_at_the_255_byte_limit_goes_through_run(capsys, tmp_path, length, spec):
    ext = ".jpg" if "jpeg" in spec else ".png"
    stem = "é" * ((length - 4) // 2) + "x" * ((length - 4) % 2)  # multi-byte characters
    src = write_png(tmp_path / "in" / f"{stem}.png")
    assert len(os.fsencode(src.name)) == length
    out = tmp_path / "out"
    code, _, err = run_cli(capsys, "run", spec, str(src.parent), "-o", str(out))
    assert code == 0, err
    assert written(out) == [f"{stem}{ext}"]
    assert not [p for p in out.iterdir() if p.name.startswith(".imagestag-")]


@pytest.mark.parametrize("frames_out", [False, True])
def test_a_255_byte_video_name_goes_through_run(capsys, tmp_path, frames_out):
    src = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(src), cv2.VideoWriter.fourcc(*"MJPG"), 10, (16, 16))
    for i in range(3):
        writer.write(np.full((16, 16, 3), i * 40, np.uint8))
    writer.release()
    out = tmp_path / ("f" * 255 if frames_out else "v" * 251 + ".avi")
    code, _, err = run_cli(capsys, "run", "resize 8x8", str(src), "-o", str(out))
    assert code == 0, err
    assert out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".imagestag-")]
