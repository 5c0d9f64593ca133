"""What OpenCV, FFmpeg, libpng and libtiff print themselves stays out of the
command's output: stderr is exactly one ``imagestag:`` line, ``-v`` shows theirs."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from imagestag_plugins.app.native_stderr import native_stderr_silenced


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "imagestag_plugins.app.main", *args]


def _pixels() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)


def _corrupt_png(path: Path) -> Path:
    ok, data = cv2.imencode(".png", _pixels())
    assert ok
    damaged = bytearray(data.tobytes())
    damaged[len(damaged) // 2] ^= 0xFF  # inside IDAT: libpng says "incorrect data check"
    path.write_bytes(bytes(damaged))
    return path


def _corrupt_tiff(path: Path) -> Path:
    """A TIFF whose structure is sound (so it reaches libtiff) but whose
    PhotometricInterpretation is no known value: OpenCV warns, then fails."""
    ok, data = cv2.imencode(".tif", _pixels())
    assert ok
    damaged = bytearray(data.tobytes())
    order = "<" if damaged[:2] == b"II" else ">"
    ifd = struct.unpack_from(f"{order}I", damaged, 4)[0]
    for i in range(struct.unpack_from(f"{order}H", damaged, ifd)[0]):
        entry = ifd + 2 + 12 * i
        if struct.unpack_from(f"{order}H", damaged, entry)[0] == 262:
            struct.pack_into(f"{order}H", damaged, entry + 8, 77)
    path.write_bytes(bytes(damaged))
    return path


def _garbage_mp4(path: Path) -> Path:
    path.write_bytes(b"this is not a video " * 50)  # FFmpeg: "moov atom not found"
    return path


def _case(kind: str, tmp_path: Path) -> list[str]:
    out = str(tmp_path / "out")
    if kind == "png":
        return ["run", "resize 0.5", str(_corrupt_png(tmp_path / "bad.png")), "-o", out]
    if kind == "tiff":
        return ["run", "resize 0.5", str(_corrupt_tiff(tmp_path / "bad.tif")), "-o", out]
    if kind == "mp4":
        return ["run", "resize 0.5", str(_garbage_mp4(tmp_path / "bad.mp4")), "-o",
                str(tmp_path / "out.mp4")]
    if os.path.exists("/dev/video5"):
        pytest.skip("this machine has a camera 5")
    return ["run", "resize 0.5", "--camera", "5", "-o", str(tmp_path / "out.mp4")]


KINDS = ["png", "tiff", "mp4", "camera"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_failing_native_decode_is_exactly_one_line_on_stderr(tmp_path, kind):
    proc = subprocess.run(_cli(*_case(kind, tmp_path)), capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("imagestag: error: "), proc.stderr


@pytest.mark.skipif(not sys.platform.startswith("linux"),
                    reason="which backends speak up (V4L2, FFmpeg) depends on the platform")
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("where", ["before", "after"])
def test_verbose_lets_the_native_messages_through(tmp_path, kind, where):
    argv = _case(kind, tmp_path)
    argv = ["-v", *argv] if where == "before" else [argv[0], "-v", *argv[1:]]
    proc = subprocess.run(_cli(*argv), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) > 1, proc.stderr
    assert lines[-1].startswith("imagestag: error: ")
    assert not any(line.startswith("imagestag: ") for line in lines[:-1]), proc.stderr


def test_python_output_still_reaches_stderr_while_native_output_is_dropped(capfd):
    with native_stderr_silenced():
        os.write(2, b"native noise\n")
        print("imagestag: kept", file=sys.stderr)
        sys.stderr.flush()
        assert os.environ["OPENCV_LOG_LEVEL"] == "SILENT"
    os.write(2, b"after\n")
    err = capfd.readouterr().err
    assert "native noise" not in err
    assert "imagestag: kept" in err and "after" in err
    assert "OPENCV_LOG_LEVEL" not in os.environ or os.environ["OPENCV_LOG_LEVEL"] != "SILENT"


def test_silencing_keeps_the_users_own_opencv_log_level(monkeypatch):
    monkeypatch.setenv("OPENCV_LOG_LEVEL", "DEBUG")
    with native_stderr_silenced():
        assert os.environ["OPENCV_LOG_LEVEL"] == "DEBUG"
    assert os.environ["OPENCV_LOG_LEVEL"] == "DEBUG"
