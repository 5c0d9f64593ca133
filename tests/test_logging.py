"""The library logs to ``logging.getLogger("imagestag")`` and its children, never prints;
the ``imagestag`` command maps -v/-vv/-q to levels with the one handler it installs."""

from __future__ import annotations

import ast
import logging
import os
import signal
from pathlib import Path

import cv2
import numpy as np
import pytest
from imagestag_plugins.app.main import log_level, main
from imagestag_plugins.app.samples import photo_like_array
from imagestag_plugins.executors.process import ProcessPipelineExecutor

from imagestag_core import FilterPipeline, FrameError, Image, hookimpl
from imagestag_core.filter import Filter
from imagestag_core.plugins import PluginManager, PluginWarning

ROOT = Path(__file__).resolve().parent.parent
#: the modules whose job is to print what the user asked for: the commands, the CLI's
#: output helpers and reports, and the seed's BenchmarkResult.print()
CLI_OUTPUT = {
    "plugins/imagestag_plugins/app/main.py", "plugins/imagestag_plugins/app/output.py",
    "plugins/imagestag_plugins/app/reports.py", "plugins/imagestag_plugins/app/bench_result.py",
}
LIBRARY_TREES = ["imagestag_core", "plugins/imagestag_plugins",
                 "contrib/imagestag-dask/imagestag_dask",
                 "contrib/imagestag-enhance/imagestag_enhance"]


def _jpeg(path: Path, width: int = 640, height: int = 480) -> Path:
    rgb = photo_like_array(width, height, 0)
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return path


class KillSelfOn(Filter):
    """SIGKILLs its own worker process on the given frame (a crash mid-frame)."""

    name = "log_kill_self_on"
    frame: int = -1

    def apply(self, image: Image) -> Image:
        if image.metadata.get("frame") == self.frame:
            os.kill(os.getpid(), signal.SIGKILL)
        return image


def test_the_library_module_tree_has_no_print_outside_the_cli_output_modules() -> None:
    offenders = []
    for tree in LIBRARY_TREES:
        for path in sorted((ROOT / tree).rglob("*.py")):
            rel = str(path.relative_to(ROOT))
            if rel in CLI_OUTPUT or "/commands/" in rel:
                continue
            for node in ast.walk(ast.parse(path.read_text(), filename=rel)):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                        and node.func.id == "print":
                    offenders.append(f"{rel}:{node.lineno}")
    assert offenders == []


def test_the_library_installs_only_a_null_handler() -> None:
    handlers = logging.getLogger("imagestag").handlers
    assert [type(h) for h in handlers] == [logging.NullHandler]


def test_a_plugin_whose_hook_raises_is_logged_with_its_traceback(
        pm: PluginManager, caplog: pytest.LogCaptureFixture) -> None:
    class Broken:
        @hookimpl
        def register_filters(self, register: object) -> None:
            raise RuntimeError("broken on purpose")

    caplog.set_level(logging.INFO, logger="imagestag")
    with pytest.warns(PluginWarning, match="broken on purpose"):
        pm.register_plugin(Broken(), name="broken-hook")
    records = [r for r in caplog.records if r.name == "imagestag.plugins"]
    assert len(records) == 1
    assert records[0].levelno == logging.INFO
    assert "broken-hook" in records[0].getMessage()
    assert "broken on purpose" in records[0].getMessage()
    assert records[0].exc_info is not None and records[0].exc_info[0] is RuntimeError


def test_a_shrink_on_load_decision_is_logged_at_debug(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    source = Image(_jpeg(tmp_path / "photo.jpg"))
    pipeline = FilterPipeline.parse("resize 160x120")
    caplog.set_level(logging.DEBUG, logger="imagestag")
    reduced = pipeline.prepare_source(source)
    assert reduced.decode_reduction == 4
    records = [r for r in caplog.records if r.name == "imagestag.shrink"]
    assert len(records) == 1 and records[0].levelno == logging.DEBUG
    assert "jpeg decoded at 1/4" in records[0].getMessage()
    assert "Resize" in records[0].getMessage()


def test_a_full_size_decode_logs_nothing(tmp_path: Path,
                                         caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="imagestag")
    FilterPipeline.parse("resize 0.9").prepare_source(Image(_jpeg(tmp_path / "photo.jpg")))
    assert [r for r in caplog.records if r.name == "imagestag.shrink"] == []


@pytest.mark.timeout(120)
def test_a_process_worker_that_dies_is_logged_and_its_restart_too(
        caplog: pytest.LogCaptureFixture) -> None:
    images = [Image(np.full((24, 32, 3), i, np.uint8), metadata={"frame": i}) for i in range(4)]
    caplog.set_level(logging.INFO, logger="imagestag")
    with ProcessPipelineExecutor([KillSelfOn(frame=1)], num_workers=1,
                                 on_error="collect") as ex:
        results = ex.process_all(images)
    assert isinstance(results[1], FrameError)
    assert [r.metadata["frame"] for r in results if not isinstance(r, FrameError)] == [0, 2, 3]
    records = [r for r in caplog.records if r.name == "imagestag.executor.process"]
    died = [r for r in records if r.levelno == logging.WARNING]
    restarted = [r for r in records if r.levelno == logging.INFO]
    assert len(died) == 1 and "died while processing frame 1" in died[0].getMessage()
    assert len(restarted) == 1 and "worker 0 restarted" in restarted[0].getMessage()


def test_cli_flags_map_to_levels() -> None:
    assert log_level(0, quiet=False) == logging.WARNING
    assert log_level(1, quiet=False) == logging.INFO
    assert log_level(2, quiet=False) == logging.DEBUG
    assert log_level(5, quiet=False) == logging.DEBUG
    assert log_level(0, quiet=True) == logging.ERROR
    assert log_level(2, quiet=True) == logging.ERROR


@pytest.mark.parametrize(("flags", "shown"), [((), False), (("-v",), False),
                                              (("-vv",), True), (("-vv", "-q"), False)])
def test_cli_shows_debug_records_on_stderr_only_with_vv(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, flags: tuple[str, ...],
        shown: bool) -> None:
    source = tmp_path / "in"
    source.mkdir()
    _jpeg(source / "a.jpg")
    code = main(["run", "resize 160x120", str(source), "-o", str(tmp_path / "out"), *flags])
    _, err = capsys.readouterr()
    assert code == 0, err
    line = "imagestag: debug: [imagestag.shrink] shrink-on-load: jpeg decoded at 1/4"
    assert (line in err) is shown, err
    # the command's handler is gone once it returns: the library is silent again
    assert [type(h) for h in logging.getLogger("imagestag").handlers] == [logging.NullHandler]
    assert logging.getLogger("imagestag").level == logging.NOTSET


def test_cli_verbose_shows_why_a_plugin_failed_to_load(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    (tmp_path / "log_broken_plugin.py").write_text(
        "from imagestag_core import hookimpl\n\n\n@hookimpl\ndef register_filters(register):\n"
        "    raise RuntimeError('broken on purpose')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("IMAGESTAG_PLUGINS", "log_broken_plugin")
    from imagestag_core.plugins import reset_plugin_manager

    reset_plugin_manager()
    try:
        assert main(["-v", "filters", "resize"]) == 0
        _, err = capsys.readouterr()
        assert "imagestag: warning: " in err and "broken on purpose" in err
        assert "imagestag: info: [imagestag.plugins]" in err
        assert "Traceback" in err and "RuntimeError: broken on purpose" in err
        reset_plugin_manager()
        assert main(["filters", "resize"]) == 0
        _, err = capsys.readouterr()
        assert "imagestag: info:" not in err and "Traceback" not in err
    finally:
        monkeypatch.delenv("IMAGESTAG_PLUGINS")
        reset_plugin_manager()
