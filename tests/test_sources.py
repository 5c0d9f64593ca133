"""Image(path) reads regular files only, within a size limit, and never hangs.

Every special file is opened in a subprocess with a timeout, so a regression
fails the test instead of hanging the suite or filling the machine's memory.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap

import pytest

from imagestag_core import Image
from imagestag_core.errors import ImageError, ImageFileNotFoundError
from imagestag_core.limits import get_max_file_bytes, set_max_file_bytes

_OPEN_SCRIPT = textwrap.dedent("""
    import resource, sys
    resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
    from imagestag_core import Image
    try:
        Image(sys.argv[1])
    except Exception as exc:
        print(type(exc).__name__, exc)
    else:
        print("read")
""")


def _open_in_subprocess(path: str) -> str:
    try:
        done = subprocess.run([sys.executable, "-c", _OPEN_SCRIPT, path], capture_output=True,
                              text=True, timeout=30, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail(f"Image({path!r}) hung")
    return done.stdout.strip() or done.stderr.strip()


@pytest.mark.timeout(60)
def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    out = _open_in_subprocess(str(fifo))
    assert out.startswith("ImageFileNotFoundError") and "FIFO" in out, out


@pytest.mark.timeout(60)
@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_dev_zero_is_refused_without_reading_it():
    out = _open_in_subprocess("/dev/zero")
    assert out.startswith("ImageFileNotFoundError") and "character device" in out, out


@pytest.mark.timeout(60)
def test_a_sparse_file_over_the_default_limit_is_refused_before_it_is_read(tmp_path):
    huge = tmp_path / "huge.png"
    with open(huge, "wb") as handle:
        handle.truncate(get_max_file_bytes() + 1)  # sparse: no disk, no memory
    out = _open_in_subprocess(str(huge))
    assert out.startswith("ImageError") and "file size limit" in out, out


def test_a_socket_and_a_directory_are_refused(tmp_path):
    path = tmp_path / "s.png"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        server.bind(str(path))
        with pytest.raises(ImageFileNotFoundError, match="socket"):
            Image(path)
    finally:
        server.close()
    with pytest.raises(ImageFileNotFoundError, match="directory"):
        Image(tmp_path)


@pytest.mark.skipif(not os.path.exists("/dev/null"), reason="needs /dev/null")
def test_dev_null_is_a_device_not_an_empty_image():
    with pytest.raises(ImageFileNotFoundError, match="character device"):
        Image("/dev/null")


@pytest.mark.parametrize("path", ["a\x00b.png", "/tmp/\x00", b"x\x00y.png".decode()])
def test_a_nul_byte_in_a_path_is_the_projects_error(path):
    with pytest.raises(ImageFileNotFoundError, match="NUL"):
        Image(path)


def test_the_file_size_limit_can_be_set_and_restored(tmp_path, monkeypatch):
    path = tmp_path / "big.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(1000))
    try:
        set_max_file_bytes(100)
        with pytest.raises(ImageError, match="1,008 bytes, more than the file size limit of 100"):
            Image(path)
    finally:
        set_max_file_bytes(None)
    monkeypatch.setenv("IMAGESTAG_MAX_FILE_BYTES", "1_000")
    assert get_max_file_bytes() == 1000
    monkeypatch.setenv("IMAGESTAG_MAX_FILE_BYTES", "0")
    assert get_max_file_bytes() == 0


def test_a_symlink_to_a_regular_file_is_read(tmp_path):
    target = tmp_path / "real.bin"
    target.write_bytes(b"not an image")
    link = tmp_path / "link.png"
    link.symlink_to(target)
    with pytest.raises(ImageError, match="not a PNG file"):
        Image(link)
