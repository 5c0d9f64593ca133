from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest

from imagestag_core import Image, ImagestagError
from imagestag_core.atomic import TEMP_PREFIX, replace_atomic, temp_path, write_atomic
from imagestag_core.image import write_atomic as image_write_atomic


def _leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.startswith(TEMP_PREFIX)]


def test_write_atomic_handles_a_250_byte_file_name(tmp_path: Path) -> None:
    name = "x" * 246 + ".png"
    assert len(name.encode()) == 250
    target = tmp_path / name
    write_atomic(target, b"payload")
    assert target.read_bytes() == b"payload"
    assert _leftovers(tmp_path) == []


def test_image_save_writes_a_250_byte_file_name(tmp_path: Path) -> None:
    target = tmp_path / ("é" * 123 + ".png")  # 246 + 4 bytes in UTF-8
    assert len(target.name.encode()) == 250
    Image(np.full((4, 6, 3), 7, np.uint8)).save(target)
    assert Image(target).size == (6, 4)
    assert _leftovers(tmp_path) == []


def test_temp_names_are_short_and_in_the_target_folder(tmp_path: Path) -> None:
    target = tmp_path / ("y" * 250)
    tmp = temp_path(target, suffix=".mp4")
    assert tmp.parent == tmp_path
    assert len(tmp.name) < 40 and tmp.name.endswith(".mp4")
    assert temp_path(target) != temp_path(target)


def test_write_atomic_replaces_an_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "a.bin"
    target.write_bytes(b"old")
    write_atomic(target, b"new")
    assert target.read_bytes() == b"new"
    assert _leftovers(tmp_path) == []


def test_written_files_get_the_permissions_the_umask_gives(tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        write_atomic(tmp_path / "a.bin", b"x")
        (tmp_path / "plain.bin").write_bytes(b"x")
    finally:
        os.umask(previous)
    mode = stat.S_IMODE((tmp_path / "a.bin").stat().st_mode)
    assert mode == stat.S_IMODE((tmp_path / "plain.bin").stat().st_mode) == 0o644


def test_a_failed_write_leaves_the_target_and_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "a.bin"
    target.write_bytes(b"old")

    with pytest.raises(TypeError):
        write_atomic(target, "not bytes")  # type: ignore[arg-type]
    assert target.read_bytes() == b"old"
    assert _leftovers(tmp_path) == []


def test_writing_into_a_missing_folder_is_one_imagestag_error(tmp_path: Path) -> None:
    target = tmp_path / "missing" / "a.bin"
    with pytest.raises(ImagestagError, match="cannot write") as info:
        write_atomic(target, b"x")
    assert str(target) in str(info.value)


def test_replace_atomic_moves_a_finished_file_into_place(tmp_path: Path) -> None:
    target = tmp_path / "clip.avi"
    tmp = temp_path(target, suffix=".avi")
    tmp.write_bytes(b"frames")
    replace_atomic(tmp, target)
    assert target.read_bytes() == b"frames" and not tmp.exists()


def test_image_module_keeps_write_atomic_importable(tmp_path: Path) -> None:
    image_write_atomic(tmp_path / "b.bin", b"z")
    assert (tmp_path / "b.bin").read_bytes() == b"z"


@pytest.mark.parametrize("name", ["a\0b.png", "dir\0/x.png"])
def test_a_nul_byte_in_the_name_is_one_imagestag_error(tmp_path: Path, name: str) -> None:
    with pytest.raises(ImagestagError, match="cannot write"):
        write_atomic(tmp_path / name, b"data")
    done = tmp_path / "done.tmp"
    done.write_bytes(b"data")
    with pytest.raises(ImagestagError, match="cannot write"):
        replace_atomic(done, tmp_path / name)
    assert not done.exists() and _leftovers(tmp_path) == []


def test_check_output_dir_with_a_nul_byte_is_one_imagestag_error(tmp_path: Path) -> None:
    from imagestag_plugins.app.planning import check_output_dir

    with pytest.raises(ImagestagError, match="cannot write to the output folder"):
        check_output_dir(tmp_path / "out\0put")
