from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import cv2
import imagestag_plugins.commands.plugins as plugins_command
import numpy as np
import pytest
from imagestag_plugins.app.main import main
from imagestag_plugins.app.samples import photo_like_array

from imagestag_core import FilterPipeline, Image, hookimpl
from imagestag_core.plugins import create_plugin_manager, use_plugin_manager


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def write_jpeg(path: Path, width: int = 96, height: int = 64, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rgb = photo_like_array(width, height, seed)
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return path


def assert_one_line_error(code: int, err: str, *needles: str) -> None:
    assert code == 1
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("imagestag: error: ")
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], lines[0]


# -- plugins / filters -----------------------------------------------------------------


def test_plugins_lists_every_kind_with_its_distribution(capsys):
    code, out, _ = run_cli(capsys, "plugins")
    assert code == 0
    for section in ("Filters (", "Executors (", "Codecs (", "Colormaps ("):
        assert section in out
    resize_line = next(line for line in out.splitlines() if line.strip().startswith("resize "))
    assert "imagestag 0.1.0" in resize_line
    batch_line = next(line for line in out.splitlines() if line.strip().startswith("batch "))
    assert "aliases: data_parallel" in batch_line
    assert "colormaps (" in out  # summarised per distribution in text mode


def test_plugins_json_lists_colormaps_and_providers(capsys):
    code, out, _ = run_cli(capsys, "plugins", "--json")
    assert code == 0
    doc = json.loads(out)
    filters = {f["name"]: f for f in doc["filters"]}
    assert {"resize", "falsecolor", "encode", "decode"} <= set(filters)
    assert filters["resize"]["distribution"] == "imagestag"
    assert filters["resize"]["version"] == "0.1.0"
    executors = {e["name"]: e for e in doc["executors"]}
    assert executors["streaming"]["aliases"] == ["stage_parallel"]
    assert "hot" in {c["name"] for c in doc["colormaps"]}
    jpeg = next(c for c in doc["codecs"] if c["name"] == "jpeg")
    assert ".jpg" in jpeg["extensions"] and jpeg["mime_type"] == "image/jpeg"
    assert isinstance(doc["load_errors"], list)


def test_plugins_shows_load_errors(capsys):
    manager = create_plugin_manager(autoload=False,
                                    env={"IMAGESTAG_PLUGINS": "no_such_imagestag_plugin"})
    with use_plugin_manager(manager), pytest.warns(Warning):
        manager.load()
    # the command itself is a plugin, and this manager autoloads no entry point
    manager.register_plugin(plugins_command)
    with use_plugin_manager(manager):
        code, out, _ = run_cli(capsys, "plugins", "--json")
        text_code, text, _ = run_cli(capsys, "plugins")
    assert code == 0 and text_code == 0
    errors = json.loads(out)["load_errors"]
    assert [e["plugin"] for e in errors] == ["no_such_imagestag_plugin"]
    assert "Load errors (1):" in text and "no_such_imagestag_plugin" in text


def test_filters_shows_params_types_defaults_and_an_example(capsys):
    code, out, _ = run_cli(capsys, "filters", "resize")
    assert code == 0
    assert out.startswith("resize  [imagestag 0.1.0")
    size_line = next(line for line in out.splitlines() if line.strip().startswith("size "))
    assert "tuple[int | None, int | None] | None" in size_line and "default none" in size_line
    assert "'exact' | 'fit' | 'fill' | 'pad'" in out
    assert "example: resize size=1920x1080" in out


def test_every_filters_example_spec_parses(capsys):
    code, out, _ = run_cli(capsys, "filters", "--json")
    assert code == 0
    docs = json.loads(out)
    assert {"resize", "falsecolor", "encode"} <= {d["name"] for d in docs}
    for doc in docs:
        assert doc["params"] is not None
        pipeline = FilterPipeline.parse(doc["example"])
        assert len(pipeline) == 1
        for p in doc["params"]:
            assert p["type"] and "required" in p


def test_filters_unknown_name_suggests_the_closest(capsys):
    code, _, err = run_cli(capsys, "filters", "resise")
    assert_one_line_error(code, err, "'resise'", "did you mean 'resize'")


# -- run: errors -----------------------------------------------------------------------


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    root = tmp_path / "photos"
    write_jpeg(root / "a" / "x.jpg", seed=1)
    write_jpeg(root / "b" / "x.jpg", seed=2)
    write_jpeg(root / "b" / "deep" / "y.jpg", seed=3)
    (root / "a" / "notes.txt").write_text("not an image")
    return root


@pytest.mark.parametrize(("argv", "needles"), [
    (["run", "resise 10x10", "IN", "-o", "OUT"], ["unknown filter 'resise'",
                                                  "did you mean 'resize'", "position 0"]),
    (["run", "resize 10x10 |", "IN", "-o", "OUT"], ["empty stage", "position 14"]),
    (["run", "resize size=abc", "IN", "-o", "OUT"], ["'abc'", "position 12"]),
    (["run", "resize 10x10", "MISSING", "-o", "OUT"], ["'MISSING'", "does not exist"]),
    (["run", "resize 10x10", "IN", "-o", "OUT", "--executor", "bach"],
     ["unknown executor 'bach'", "did you mean 'batch'"]),
    (["run", "resize 10x10", "IN", "-o", "FILE/sub"], ["cannot write to the output folder"]),
    (["bench", "--executors", "sequentail"], ["did you mean 'sequential'"]),
])
def test_bad_input_is_one_clear_line_and_a_nonzero_exit(capsys, photos, tmp_path, argv,
                                                        needles):
    (tmp_path / "FILE").write_text("a file, not a folder")
    subs = {"IN": str(photos), "OUT": str(tmp_path / "out"), "FILE/sub": str(
        tmp_path / "FILE" / "sub"), "MISSING": "MISSING"}
    argv = [subs.get(a, a) for a in argv]
    code, _, err = run_cli(capsys, *argv)
    assert_one_line_error(code, err, *needles)


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as info:
        main(["run", "resize 10x10"])  # -o missing
    assert info.value.code == 2


# -- run: files ------------------------------------------------------------------------


def test_run_mirrors_the_tree_and_uses_the_encodings_extension(capsys, photos, tmp_path):
    before = {p: p.read_bytes() for p in photos.rglob("*") if p.is_file()}
    out = tmp_path / "out"
    code, stdout, _ = run_cli(capsys, "run", "resize 48x32 | falsecolor hot | encode png",
                              str(photos), "-o", str(out))
    assert code == 0
    written = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert written == ["a/x.png", "b/deep/y.png", "b/x.png"]
    for path in out.rglob("*.png"):
        assert Image(path).size == (48, 32) and Image(path).encoded_format == "png"
    assert {p: p.read_bytes() for p in photos.rglob("*") if p.is_file()} == before
    assert "3 files written" in stdout and "1 file ignored" in stdout  # issue 12: "1 file"


def test_two_folders_with_the_same_file_name_do_not_collide(capsys, photos, tmp_path):
    out = tmp_path / "out"
    code, _, _ = run_cli(capsys, "run", "resize 0.5 | encode jpeg", str(photos / "a"),
                         str(photos / "b"), "-o", str(out))
    assert code == 0
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*.jpg")) == [
        "a/x.jpg", "b/deep/y.jpg", "b/x.jpg"]


def test_globs_are_expanded(capsys, photos, tmp_path):
    out = tmp_path / "out"
    code, _, _ = run_cli(capsys, "run", "grayscale | encode png", str(photos / "**" / "x.jpg"),
                         "-o", str(out))
    assert code == 0
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*.png")) == ["a/x.png",
                                                                          "b/x.png"]


def test_existing_outputs_are_skipped_unless_overwrite(capsys, photos, tmp_path):
    out = tmp_path / "out"
    assert run_cli(capsys, "run", "resize 0.5 | encode png", str(photos), "-o", str(out))[0] == 0
    target = out / "a" / "x.png"
    target.write_bytes(b"stale")
    code, stdout, _ = run_cli(capsys, "run", "resize 0.5 | encode png", str(photos), "-o",
                              str(out))
    assert code == 0 and "3 skipped: output exists" in stdout
    assert target.read_bytes() == b"stale"
    code, _, _ = run_cli(capsys, "run", "resize 0.5 | encode png", str(photos), "-o",
                         str(out), "--overwrite")
    assert code == 0 and Image(target).size == (48, 32)


def test_inputs_are_never_overwritten_even_with_overwrite(capsys, photos):
    original = (photos / "a" / "x.jpg").read_bytes()
    code, _, err = run_cli(capsys, "run", "resize 0.5 | encode jpeg", str(photos / "a"),
                           "-o", str(photos / "a"), "--overwrite")
    assert_one_line_error(code, err, "refusing to overwrite the input")
    assert (photos / "a" / "x.jpg").read_bytes() == original


def test_skip_reports_the_file_that_failed_and_keeps_going(capsys, photos, tmp_path):
    bad = photos / "a" / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 this is not a jpeg")
    out = tmp_path / "out"
    code, stdout, err = run_cli(capsys, "run", "resize 0.5 | encode png", str(photos), "-o",
                                str(out), "--on-error", "skip")
    assert code == 1
    assert "3 files written" in stdout
    assert str(bad) in err and "Traceback" not in err
    assert len(list(out.rglob("*.png"))) == 3


def test_raise_stops_at_a_failing_stage_and_names_the_file_and_stage(capsys, photos,
                                                                    tmp_path):
    # a 16-bit gray PNG cannot become RGB: convert_format fails on it in a worker
    bad = photos / "a" / "depth.png"
    assert cv2.imwrite(str(bad), np.full((40, 60), 40000, np.uint16))
    out = tmp_path / "out"
    code, _, err = run_cli(capsys, "run", "convert_format rgb | encode png", str(photos),
                                "-o", str(out))
    assert code == 1
    assert "Traceback" not in err
    failure = next(line for line in err.splitlines() if str(bad) in line)
    assert "0_ConvertFormat" in failure
    assert not (out / "a" / "depth.png").exists()
    assert not [p for p in out.rglob("*") if p.name.startswith(".")]


def test_raise_says_how_many_inputs_it_never_ran(capsys, tmp_path):
    src = tmp_path / "in"
    (src).mkdir()
    (src / "a_first.jpg").write_bytes(b"hello, not a JPEG")  # sorted first: fails at once
    for i in range(5):
        write_jpeg(src / f"b_{i}.jpg", seed=i)
    code, stdout, err = run_cli(capsys, "run", "resize 48x32 | encode png", str(src),
                                "-o", str(tmp_path / "out"))
    assert code == 1
    assert "1 failed (listed on stderr)" in stdout
    assert "stopped at the first failure (--on-error raise): 5 inputs not run" in stdout
    assert "a_first.jpg: reading the input: DecodeError: not a JPEG file" in err
    code, stdout, _ = run_cli(capsys, "run", "resize 48x32 | encode png", str(src),
                              "-o", str(tmp_path / "out2"), "--on-error", "skip")
    assert code == 1 and "5 files written" in stdout and "not run" not in stdout


def test_shrink_on_load_decodes_jpegs_reduced_and_keeps_the_output_size(capsys, tmp_path):
    src = write_jpeg(tmp_path / "in" / "big.jpg", 800, 600)
    out = tmp_path / "out"
    code, stdout, _ = run_cli(capsys, "run", "resize 190x140 | encode png", str(src.parent),
                              "-o", str(out))
    assert code == 0
    assert "JPEGs decoded at 1/4 size (shrink-on-load)" in stdout
    result = Image(out / "big.png")
    assert result.size == (190, 140)
    reference = cv2.resize(cv2.imread(str(src)), (190, 140), interpolation=cv2.INTER_AREA)
    psnr = cv2.PSNR(reference, result.get_pixels("bgr"))
    assert psnr > 30


def test_no_shrink_on_load_below_2x(capsys, tmp_path):
    src = write_jpeg(tmp_path / "in" / "a.jpg", 200, 100)
    code, stdout, _ = run_cli(capsys, "run", "resize 120x60 | encode png", str(src), "-o",
                              str(tmp_path / "out"))
    assert code == 0 and "shrink-on-load" not in stdout
    assert Image(tmp_path / "out" / "a.png").size == (120, 60)


def test_run_writes_a_trace_with_frames_x_stages_spans(capsys, photos, tmp_path):
    trace = tmp_path / "run.json"
    code, _, _ = run_cli(capsys, "run", "resize 0.5 | grayscale | encode png", str(photos),
                         "-o", str(tmp_path / "out"), "--trace", str(trace))
    assert code == 0
    spans = [e for e in json.loads(trace.read_text())["traceEvents"] if e["ph"] == "X"]
    assert Counter(e["name"] for e in spans) == {"0_Resize": 3, "1_Grayscale": 2 + 1,
                                                 "2_Encode": 3}


# -- demo / bench ----------------------------------------------------------------------


@pytest.mark.timeout(120)
def test_demo_writes_the_seed_pipelines_jpegs_from_the_20mp_source(capsys, tmp_path):
    out = tmp_path / "demo"
    code, stdout, _ = run_cli(capsys, "demo", "-o", str(out), "--frames", "2", "-q")
    assert code == 0
    files = sorted(out.glob("*.jpg"))
    assert [f.name for f in files] == ["demo_0000.jpg", "demo_0001.jpg"]
    assert all(Image(f).size == (1920, 1080) for f in files)
    assert files[0].read_bytes() != files[1].read_bytes()  # a pan, not one frame twice
    assert "5478x3650 (19.99 MP)" in stdout and str(out.resolve()) in stdout and "fps" in stdout


@pytest.fixture
def small_source(tmp_path: Path) -> Path:
    return write_jpeg(tmp_path / "src.jpg", 320, 240)


@pytest.mark.timeout(60)
def test_bench_json_prints_only_json(capsys, small_source):
    code, out, _ = run_cli(capsys, "bench", "--source", str(small_source), "--frames", "3",
                           "--executors", "sequential,data_parallel", "--json")
    assert code == 0
    doc = json.loads(out)
    assert [r["name"] for r in doc["executors"]] == ["sequential", "batch"]
    assert doc["pipeline"] == "resize size=1920x1080 | falsecolor colormap=hot | encode"
    assert doc["target_fps"] == 60


@pytest.mark.timeout(60)
def test_bench_prints_the_seed_report(capsys, small_source):
    code, out, _ = run_cli(capsys, "bench", "--source", str(small_source), "--frames", "3",
                           "--executors", "sequential,batch", "--pipeline",
                           "resize 160x120 | falsecolor hot | encode jpeg")
    assert code == 0
    assert "BENCHMARK: Pipeline: Resize -> FalseColor -> Encode" in out
    assert "Output: 160x120 (jpeg)" in out and "batch (data_parallel)" in out
    assert "Target: 60 FPS | Best: " in out


@pytest.mark.timeout(60)
def test_bench_plot_and_trace_files(capsys, small_source, tmp_path):
    plot, trace = tmp_path / "b.png", tmp_path / "b.json"
    code, _, _ = run_cli(capsys, "bench", "--source", str(small_source), "--frames", "4",
                           "--executors", "sequential,batch,streaming", "--pipeline",
                           "resize 160x120 | falsecolor hot | encode jpeg",
                           "--plot", str(plot), "--trace", str(trace))
    assert code == 0
    png = cv2.imread(str(plot))
    assert png is not None and png.shape[1] > 800
    assert len(np.unique(png.reshape(-1, 3), axis=0)) > 20  # bars, not a blank canvas
    events = json.loads(trace.read_text())["traceEvents"]
    spans = Counter(e["pid"] for e in events if e["ph"] == "X")
    assert spans == {1: 12, 2: 12, 3: 12}


def test_bench_plot_without_matplotlib_says_what_to_install(capsys, monkeypatch, small_source,
                                                            tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if not installed
    code, _, err = run_cli(capsys, "bench", "--source", str(small_source), "--frames", "1",
                           "--executors", "sequential", "--plot", str(tmp_path / "p.png"))
    assert_one_line_error(code, err, "pip install 'imagestag[plot]'")


# -- the console script and Ctrl-C -----------------------------------------------------


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "imagestag_plugins.app.main", *args]


def test_console_script_reports_bad_input_without_a_traceback(tmp_path):
    proc = subprocess.run(_cli("run", "resize 10x10 | | encode jpeg", str(tmp_path), "-o",
                               str(tmp_path / "o")), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "empty stage" in proc.stderr and "position" in proc.stderr


@pytest.mark.timeout(120)
def test_sigint_stops_cleanly_keeping_finished_outputs(tmp_path):
    src = tmp_path / "in"
    for i in range(40):
        write_jpeg(src / f"f{i:02d}.jpg", 64, 48, seed=i)
    out = tmp_path / "out"
    # each frame waits 80 ms in a GIL-free sleep: the run takes ~2 s on 2 workers
    proc = subprocess.Popen(_cli("run", "delay ms=80 | encode png", str(src), "-o", str(out),
                                 "-j", "2"), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        deadline = time.monotonic() + 60
        while len(list(out.glob("*.png"))) < 3:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no outputs appeared"
            time.sleep(0.02)  # polling the folder, not waiting for a race
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert "interrupted" in stdout
    finished = sorted(out.glob("*.png"))
    assert 3 <= len(finished) < 40
    for path in finished:
        assert Image(path).get_pixels().shape == (48, 64, 3)
    leftovers = [p for p in out.rglob("*") if p.name.startswith(".") or "tmp" in p.name]
    assert leftovers == []
    # running again finishes the rest and leaves the finished ones alone
    mtimes = {p: p.stat().st_mtime_ns for p in finished}
    again = subprocess.run(_cli("run", "encode png", str(src), "-o", str(out)),
                           capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stderr
    assert len(list(out.glob("*.png"))) == 40
    assert {p: p.stat().st_mtime_ns for p in finished} == mtimes
    assert os.listdir(src) == os.listdir(src)  # inputs untouched


# -- shrink-on-load through the CLI ------------------------------------------------------


@pytest.mark.timeout(120)
def test_run_fit_to_1920x1080_decodes_jpegs_reduced(capsys, tmp_path, monkeypatch):
    from imagestag_plugins.codecs.opencv_codecs import JpegCodec

    photos = tmp_path / "photos"
    sources = [write_jpeg(photos / f"p{i}.jpg", 4000, 2250, seed=i) for i in range(2)]
    reduces: list[int] = []
    real_decode = JpegCodec.decode

    def recording_decode(self, data, *, reduce=1):
        reduces.append(reduce)  # the real decoder still runs
        return real_decode(self, data, reduce=reduce)

    monkeypatch.setattr(JpegCodec, "decode", recording_decode)
    out = tmp_path / "out"
    code, stdout, _ = run_cli(capsys, "run", "resize 1920x1080 mode=fit | encode jpeg",
                              str(photos), "-o", str(out), "-q")
    assert code == 0
    assert "JPEGs decoded at 1/2 size (shrink-on-load)" in stdout
    # the two sources, each decoded once, at half size; then the outputs' headers only
    assert reduces[:2] == [2, 2]
    monkeypatch.setattr(JpegCodec, "decode", real_decode)
    for src in sources:
        result = Image(out / src.name)
        assert result.size == (1920, 1080)
        full = cv2.resize(cv2.imread(str(src)), (1920, 1080), interpolation=cv2.INTER_AREA)
        assert cv2.PSNR(full, result.get_pixels("bgr")) > 30


# -- commands are plugins ------------------------------------------------------------------


class _BrokenCommand:
    name = "broken"
    help = "configure() raises"

    def configure(self, parser):
        raise RuntimeError("bad argument table")

    def run(self, args):
        return 0


class _BrokenCommandPlugin:
    @hookimpl
    def register_commands(self, register):
        register(_BrokenCommand())


def test_a_command_whose_configure_raises_is_one_warning_and_the_others_work(capsys):
    manager = create_plugin_manager(env={})
    manager.load()
    manager.register_plugin(_BrokenCommandPlugin(), name="broken-commands")
    with use_plugin_manager(manager):
        code, out, err = run_cli(capsys, "plugins", "--json")
        with pytest.raises(SystemExit) as info:
            main(["broken"])
    assert code == 0
    assert "broken" in {c["name"] for c in json.loads(out)["commands"]}
    warning = [line for line in err.splitlines() if line.strip()]
    assert len(warning) == 1, err
    assert warning[0].startswith("imagestag: warning: command 'broken'")
    assert "bad argument table" in warning[0] and "Traceback" not in err
    assert info.value.code == 2  # not a subcommand any more: a usage error


# -- the command line itself: "--", argument order, NUL bytes, limits, internal errors --


def test_double_dash_ends_the_options(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_jpeg(tmp_path / "-o.jpg")
    write_jpeg(tmp_path / "--.jpg", seed=4)
    code, _, err = run_cli(capsys, "run", "encode png", "-o", "out", "--", "-o.jpg", "--.jpg")
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["--.png", "-o.png"]


def test_double_dash_can_come_before_the_spec(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_jpeg(tmp_path / "-x.jpg")
    code, _, err = run_cli(capsys, "run", "-o", "out", "--", "encode png", "-x.jpg")
    assert code == 0, err
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["-x.png"]


def test_inputs_may_follow_the_options(capsys, photos, tmp_path):
    out = tmp_path / "out"
    code, _, err = run_cli(capsys, "run", "encode png", "-o", str(out), str(photos / "a"),
                           "-q", str(photos / "b" / "x.jpg"))
    assert code == 0, err
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*.png")) == ["a/x.png",
                                                                          "b/x.png"]


@pytest.mark.parametrize("argv", [
    ["run", "encode png", "IN\0.jpg", "-o", "OUT"],
    ["run", "encode png", "IN", "-o", "OUT\0"],
    ["run", "encode png", "IN", "-o", "OUT", "--trace", "t\0.json"],
    ["run", "resize 8x8", "IN", "-o", "v\0.mp4"],
    ["bench", "--source", "x\0.png", "--executors", "sequential"],
    ["demo", "-o", "OUT\0", "--frames", "1"],
])
def test_a_nul_byte_in_an_argument_is_one_error_line(capsys, photos, tmp_path, argv):
    subs = {"IN": str(photos), "OUT": str(tmp_path / "out")}
    argv = [subs.get(a, a.replace("IN", str(photos)).replace("OUT", str(tmp_path / "out")))
            for a in argv]
    code, _, err = run_cli(capsys, *argv)
    assert_one_line_error(code, err, "NUL byte")


@pytest.mark.parametrize("spec", ["resize scale=" + "1" * 5000, "resize " + "9" * 5000 + "x10",
                                  "resize scale=" + "1" * 400])
def test_a_huge_number_in_the_spec_is_one_error_line(capsys, photos, tmp_path, spec):
    code, _, err = run_cli(capsys, "run", spec, str(photos), "-o", str(tmp_path / "out"))
    assert_one_line_error(code, err, "invalid pipeline spec", "position")


def test_a_huge_number_in_the_spec_is_one_line_from_the_console_script(tmp_path):
    proc = subprocess.run(_cli("run", "resize scale=" + "1" * 5000, str(tmp_path), "-o",
                               str(tmp_path / "o")), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr[:500]
    assert "integer of more than 4300 digits" in proc.stderr


def test_an_unexpected_error_is_one_line_and_verbose_shows_the_traceback(capsys):
    class Broken:
        name = "broken"
        help = "raises"

        def configure(self, parser):
            pass

        def run(self, args):
            raise ValueError("something inside went wrong")

    class Plugin:
        @hookimpl
        def register_commands(self, register):
            register(Broken())

    manager = create_plugin_manager(env={})
    manager.load()
    manager.register_plugin(Plugin(), name="raising-command")
    with use_plugin_manager(manager):
        code, _, err = run_cli(capsys, "broken")
        assert_one_line_error(code, err,
                              "internal error: ValueError: something inside went wrong", "-v")
        code, _, err = run_cli(capsys, "broken", "-v")
    assert code == 1
    assert "Traceback" in err and err.splitlines()[-1].startswith("imagestag: error: ")


def test_a_failed_input_is_one_error_line_on_stderr(capsys, photos, tmp_path):
    (photos / "a" / "bad.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    code, stdout, err = run_cli(capsys, "run", "encode png", str(photos / "a" / "bad.jpg"),
                                "-o", str(tmp_path / "out"))
    assert_one_line_error(code, err, "bad.jpg")
    assert "1 failed" in stdout


def test_the_shrink_on_load_summary_counts_inputs_decoded_at_full_size(capsys, tmp_path):
    from imagestag_core import Image as StagImage

    src = tmp_path / "mixed"
    src.mkdir()
    rng = np.random.default_rng(3)
    StagImage(rng.integers(0, 256, (1200, 1600, 3), np.uint8)).save(src / "big.jpg")
    StagImage(rng.integers(0, 256, (300, 400, 3), np.uint8)).save(src / "small.jpg")
    assert main(["run", "resize 400x300 mode=fit | encode jpeg", str(src),
                 "-o", str(tmp_path / "out")]) == 0
    stdout = capsys.readouterr().out
    assert "1 of 2 inputs decoded at reduced size (shrink-on-load: 1 JPEG at 1/4)" in stdout
    assert "JPEGs decoded at" not in stdout


def test_quiet_before_the_command_is_the_same_as_after_it(capsys, tmp_path):
    write_jpeg(tmp_path / "in" / "a.jpg")
    after = run_cli(capsys, "run", "resize 48x32 | encode png", str(tmp_path / "in"),
                    "-o", str(tmp_path / "out1"), "-q")
    before = run_cli(capsys, "-q", "run", "resize 48x32 | encode png", str(tmp_path / "in"),
                     "-o", str(tmp_path / "out2"))
    assert before[0] == after[0] == 0

    def timeless(text: str) -> str:
        return re.sub(r" in [0-9.]+ s \([0-9.]+ fps", " in T", text.replace("out2", "out1"))

    assert (timeless(before[1]), before[2]) == (timeless(after[1]), after[2])
    assert (tmp_path / "out2" / "a.png").is_file()
