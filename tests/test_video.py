from __future__ import annotations

from pathlib import Path

import cv2
import pytest
from imagestag_plugins.app.main import main
from imagestag_plugins.app.samples import photo_like_array

from imagestag_core import Image

FRAMES = 24


def make_video(path: Path, frames: int = FRAMES, size: tuple[int, int] = (96, 64),
               fps: float = 25.0) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, size)
    assert writer.isOpened()
    for i in range(frames):
        writer.write(photo_like_array(size[0], size[1], seed=i))
    writer.release()
    return path


def count_frames(path: Path) -> tuple[int, tuple[int, int], float]:
    cap = cv2.VideoCapture(str(path))
    assert cap.isOpened(), path
    count, size = 0, (0, 0)
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        count += 1
        size = (frame.shape[1], frame.shape[0])
    fps = cap.get(cv2.CAP_PROP_FPS)
    cap.release()
    return count, size, fps


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    return make_video(tmp_path / "clip.avi")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("suffix", [".avi", ".mp4"])
def test_file_input_keeps_every_frame_at_the_source_fps(capsys, clip, tmp_path, suffix):
    out = tmp_path / f"out{suffix}"
    code, stdout, err = run_cli(capsys, "run", "resize 48x32 | falsecolor hot", str(clip),
                                "-o", str(out))
    assert code == 0, err
    count, size, fps = count_frames(out)
    assert (count, size) == (FRAMES, (48, 32))
    assert fps == pytest.approx(25.0, abs=0.5)
    assert f"frames in {FRAMES}, out {FRAMES}, dropped 0" in stdout
    assert "latency p50" in stdout and "p95" in stdout
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.timeout(60)
@pytest.mark.parametrize("executor", ["streaming", "batch", "sequential"])
def test_every_executor_runs_video(capsys, clip, tmp_path, executor):
    out = tmp_path / "out.avi"
    code, _, err = run_cli(capsys, "run", "grayscale | resize 0.5", str(clip), "-o", str(out),
                           "--executor", executor)
    assert code == 0, err
    assert count_frames(out)[:2] == (FRAMES, (48, 32))


@pytest.mark.timeout(60)
def test_an_encoding_last_stage_still_writes_video_frames(capsys, clip, tmp_path):
    out = tmp_path / "out.avi"
    code, _, err = run_cli(capsys, "run", "falsecolor inferno | encode jpeg", str(clip), "-o",
                           str(out))
    assert code == 0, err
    assert count_frames(out)[:2] == (FRAMES, (96, 64))


@pytest.mark.timeout(60)
def test_video_into_a_folder_writes_numbered_images(capsys, clip, tmp_path):
    out = tmp_path / "frames"
    code, _, err = run_cli(capsys, "run", "resize 48x32 | encode png", str(clip), "-o", str(out))
    assert code == 0, err
    files = sorted(out.glob("frame_*.png"))
    assert len(files) == FRAMES and files[0].name == "frame_000000.png"
    assert Image(files[-1]).size == (48, 32)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("executor", ["streaming", "batch"])
def test_live_drops_frames_under_overload_and_reports_them(capsys, tmp_path, executor):
    clip = make_video(tmp_path / "fast.avi", frames=30, fps=100.0)
    out = tmp_path / "live.avi"
    # 40 ms a frame on a 100 fps source: the pipeline cannot keep up
    code, stdout, err = run_cli(capsys, "run", "delay ms=40 | resize 48x32", str(clip), "-o",
                                str(out), "--live", "--executor", executor, "-j", "1")
    assert code == 0, err
    line = next(line for line in stdout.splitlines() if "frames in" in line)
    fields = line.replace(",", "").replace(";", "").split()
    frames_in = int(fields[fields.index("in") + 1])
    frames_out = int(fields[fields.index("out") + 1])
    dropped = int(fields[fields.index("dropped") + 1])
    assert frames_in == 30
    assert dropped > 0
    assert frames_out + dropped == frames_in  # every frame is written or counted as dropped
    assert count_frames(out)[0] == frames_out


@pytest.mark.timeout(60)
def test_live_without_overload_drops_nothing(capsys, clip, tmp_path):
    out = tmp_path / "live.avi"
    code, stdout, err = run_cli(capsys, "run", "resize 48x32", str(clip), "-o", str(out),
                                "--live")
    assert code == 0, err
    assert f"frames in {FRAMES}, out {FRAMES}, dropped 0" in stdout


def test_existing_video_output_needs_overwrite(capsys, clip, tmp_path):
    out = tmp_path / "out.avi"
    out.write_bytes(b"old")
    code, _, err = run_cli(capsys, "run", "resize 48x32", str(clip), "-o", str(out))
    assert code == 1 and "--overwrite" in err and "Traceback" not in err
    assert out.read_bytes() == b"old"
    code, _, err = run_cli(capsys, "run", "resize 48x32", str(clip), "-o", str(clip),
                           "--overwrite")
    assert code == 1 and "refusing to overwrite the input" in err


def test_missing_video_and_missing_camera_are_one_line_errors(capsys, tmp_path):
    code, _, err = run_cli(capsys, "run", "resize 48x32", str(tmp_path / "nope.mp4"), "-o",
                           str(tmp_path / "o.mp4"))
    assert code == 1 and "does not exist" in err and "Traceback" not in err
    code, _, err = run_cli(capsys, "run", "resize 48x32", "--camera", "97", "-o",
                           str(tmp_path / "o.mp4"))
    assert code == 1 and "cannot open camera 97" in err and "Traceback" not in err
