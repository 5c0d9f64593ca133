"""``imagestag run`` with a pipeline that ends in ``tee``: one file per rendition."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import pytest
from imagestag_plugins.app.main import main
from imagestag_plugins.app.samples import photo_like_array

from imagestag_core import Image

SPEC = "decode | tee small=(resize 32x | encode webp) large=(resize 64x | encode jpeg quality=85)"


def _jpeg(path: Path, width: int = 96, height: int = 64, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rgb = photo_like_array(width, height, seed)
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return path


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["run", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_each_rendition_is_written_next_to_the_others(tmp_path, capsys):
    src = tmp_path / "photos"
    _jpeg(src / "a.jpg")
    _jpeg(src / "trip" / "b.jpg", seed=1)
    code, out, err = _run(capsys, SPEC, str(src), "-o", str(tmp_path / "out"), "-q")
    assert code == 0, err
    assert _files(tmp_path / "out") == ["a-large.jpg", "a-small.webp", "trip/b-large.jpg",
                                        "trip/b-small.webp"]
    assert Image(tmp_path / "out" / "trip" / "b-small.webp").size == (32, 21)
    assert Image(tmp_path / "out" / "a-large.jpg").encoded_format == "jpeg"
    assert "4 files: small 2, large 2" in out


def test_the_name_template_places_and_names_renditions(tmp_path, capsys):
    _jpeg(tmp_path / "in" / "a.jpg")
    code, _, err = _run(capsys, SPEC, str(tmp_path / "in"), "-o", str(tmp_path / "out"), "-q",
                        "--name", "{branch}/{stem}.{ext}")
    assert code == 0, err
    assert _files(tmp_path / "out") == ["large/a.jpg", "small/a.webp"]


def test_a_branch_without_encode_keeps_the_input_format(tmp_path, capsys):
    _jpeg(tmp_path / "in" / "a.jpg")
    code, _, err = _run(capsys, "tee gray=(grayscale) half=(resize 0.5 | encode png)",
                        str(tmp_path / "in"), "-o", str(tmp_path / "out"), "-q")
    assert code == 0, err
    assert _files(tmp_path / "out") == ["a-gray.jpg", "a-half.png"]


def test_nested_renditions_get_dotted_branch_names(tmp_path, capsys):
    _jpeg(tmp_path / "in" / "a.jpg")
    code, _, err = _run(capsys, "tee web=(resize 32x | tee w=(encode webp) p=(encode png))",
                        str(tmp_path / "in"), "-o", str(tmp_path / "out"), "-q")
    assert code == 0, err
    assert _files(tmp_path / "out") == ["a-web.p.png", "a-web.w.webp"]


@pytest.mark.parametrize("name, message", [
    ("{stem}.{ext}", "needs {branch}"),
    ("{stem}-{size}.{ext}", "unknown field(s) size"),
    ("../{stem}-{branch}.{ext}", "inside the output folder"),
    ("{stem-{branch}", "--name"),
])
def test_a_bad_name_template_is_one_line_error(tmp_path, capsys, name, message):
    _jpeg(tmp_path / "in" / "a.jpg")
    code, _, err = _run(capsys, SPEC, str(tmp_path / "in"), "-o", str(tmp_path / "out"),
                        "--name", name)
    assert code == 1
    assert err.startswith("imagestag: error: ") and message in err
    assert "Traceback" not in err


def test_name_without_a_tee_is_refused(tmp_path, capsys):
    _jpeg(tmp_path / "in" / "a.jpg")
    code, _, err = _run(capsys, "resize 0.5", str(tmp_path / "in"), "-o", str(tmp_path / "o"),
                        "--name", "{stem}-{branch}.{ext}")
    assert code == 1 and "must end in a tee" in err


def test_existing_renditions_are_skipped_and_a_complete_input_is_not_read(tmp_path, capsys):
    src, out = tmp_path / "in", tmp_path / "out"
    _jpeg(src / "a.jpg")
    _jpeg(src / "b.jpg", seed=1)
    assert _run(capsys, SPEC, str(src), "-o", str(out), "-q")[0] == 0
    kept = out / "a-large.jpg"
    mtime = kept.stat().st_mtime_ns
    (out / "a-small.webp").unlink()
    # b is complete: it is not even read (a corrupt input proves it)
    (src / "b.jpg").write_bytes(b"not a jpeg any more")
    code, stdout, err = _run(capsys, SPEC, str(src), "-o", str(out), "-q")
    assert code == 0, err
    assert "3 skipped: output exists" in stdout and "1 file: small 1" in stdout
    assert kept.stat().st_mtime_ns == mtime
    assert _files(out) == ["a-large.jpg", "a-small.webp", "b-large.jpg", "b-small.webp"]
    code, _, err = _run(capsys, SPEC, str(src), "-o", str(out), "-q", "--overwrite")
    assert code == 1 and "b.jpg" in err  # --overwrite reads b again


def test_a_failing_frame_writes_none_of_its_renditions(tmp_path, capsys):
    src, out = tmp_path / "in", tmp_path / "out"
    _jpeg(src / "a.jpg")
    (src / "b.jpg").write_bytes(b"\xff\xd8 corrupt")
    code, _, err = _run(capsys, SPEC, str(src), "-o", str(out), "-q", "--on-error", "skip")
    assert code == 1 and "b.jpg" in err
    assert _files(out) == ["a-large.jpg", "a-small.webp"]


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "imagestag_plugins.app.main", *args]


@pytest.mark.timeout(180)
def test_an_interrupted_rendition_run_resumes_where_it_stopped(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    for i in range(40):
        _jpeg(src / f"f{i:02d}.jpg", 64, 48, seed=i)
    # every frame waits 80 ms in a GIL-free sleep: the run takes ~2 s on 2 workers
    spec = "delay ms=80 | tee small=(resize 16x | encode webp) png=(encode png)"
    proc = subprocess.Popen(_cli("run", spec, str(src), "-o", str(out), "-j", "2"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while len(list(out.glob("*-png.png"))) < 3:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no outputs appeared"
            time.sleep(0.02)  # polling the folder for the first outputs, not racing
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "interrupted" in stdout
    first = _files(out)
    stems = {name.rsplit("-", 1)[0] for name in first}
    # whole frames only: each finished input has both renditions, nothing half-written
    assert first == sorted([f"{s}-png.png" for s in stems] + [f"{s}-small.webp" for s in stems])
    assert 3 <= len(stems) < 40
    mtimes = {name: (out / name).stat().st_mtime_ns for name in first}
    again = subprocess.run(_cli("run", spec, str(src), "-o", str(out)), capture_output=True,
                           text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert f"{2 * len(stems)} skipped: output exists" in again.stdout
    done = _files(out)
    assert done == sorted([f"f{i:02d}-png.png" for i in range(40)]
                          + [f"f{i:02d}-small.webp" for i in range(40)])
    assert {name: (out / name).stat().st_mtime_ns for name in first} == mtimes


def test_inputs_with_the_same_stem_keep_their_suffix(tmp_path, capsys):
    _jpeg(tmp_path / "in" / "x.jpg")
    assert cv2.imwrite(str(tmp_path / "in" / "x.png"), photo_like_array(40, 30, 2))
    code, _, err = _run(capsys, "tee small=(resize 16x | encode webp)", str(tmp_path / "in"),
                        "-o", str(tmp_path / "out"), "-q")
    assert code == 0, err
    assert _files(tmp_path / "out") == ["x.jpg-small.webp", "x.png-small.webp"]
