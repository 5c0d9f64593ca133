"""``--executor-option KEY=VALUE``: typed by the executor's declaration, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pytest
from imagestag_plugins.app.executor_options import option_specs, parse_executor_options
from imagestag_plugins.app.main import main
from imagestag_plugins.executors.batch import BatchPipelineExecutor

from imagestag_core import Image
from imagestag_core.errors import ImagestagError
from imagestag_core.executor import Executor
from imagestag_core.plugins import get_plugin_manager, use_plugin_manager


class Recording(Executor):
    """A sequential executor that remembers the options it was built with."""

    name = "recording"
    extra_options = ("speed", "mode", "label", "ratio", "callback")
    option_help = {"speed": "how fast", "mode": "which way"}
    built: list[dict[str, Any]] = []

    def __init__(self, pipeline: Any, speed: int = 1, mode: Literal["a", "b"] = "a",
                 label: str | None = None, ratio: float = 0.5, callback: Any = None,
                 **options: Any) -> None:
        super().__init__(pipeline, **options)
        Recording.built.append({"speed": speed, "mode": mode, "label": label, "ratio": ratio,
                                "window": self.window})

    def enqueue(self, seq: int, image: Any, timeout: float | None) -> bool:
        self.process_frame(seq, image)
        return True


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("imagestag: error: "), err
    assert "Traceback" not in err
    return lines[0]


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(2):
        Image(np.full((16, 24, 3), 40 * i, np.uint8)).save(folder / f"f{i}.png")
    return folder


def test_option_specs_take_type_and_default_from_init_and_help_from_option_help() -> None:
    specs = {s.name: s for s in option_specs(Recording)}
    assert set(specs) == Recording.accepted_options()
    assert (specs["speed"].type, specs["speed"].default, specs["speed"].doc) == \
        (int, 1, "how fast")
    assert specs["mode"].type_text == "'a' | 'b'"
    assert specs["label"].type_text == "str | None" and specs["label"].default is None
    # the base options are typed by Executor.__init__ and carry the shared help
    assert specs["window"].type_text == "int | None" and specs["window"].doc


def test_values_are_read_like_spec_values_and_converted_to_the_declared_type() -> None:
    options = parse_executor_options("recording", Recording, [
        "speed=4", "mode=B", "label=tcp://10.0.0.5:8786", "ratio=2", "window=3", "speed=5"])
    assert options == {"speed": 5, "mode": "b", "label": "tcp://10.0.0.5:8786",
                       "ratio": 2.0, "window": 3}
    assert type(options["ratio"]) is float
    assert parse_executor_options("recording", Recording, ["label=none"]) == {"label": None}


@pytest.mark.parametrize(("item", "needles"), [
    ("sped=3", ("has no option 'sped'", "did you mean 'speed'?", "'imagestag plugins'")),
    ("speed=fast", ("speed=fast", "not an int", "expects int")),
    ("mode=c", ("mode=c", "'a', 'b'")),
    ("speed", ("expected KEY=VALUE",)),
    ("callback=x", ("'callback'", "cannot be given on the command line")),
    ("on_error=skip", ("use --on-error",)),
    ("trace=true", ("use --trace",)),
])
def test_a_bad_option_is_one_clear_error(item: str, needles: tuple[str, ...]) -> None:
    with pytest.raises(ImagestagError) as info:
        parse_executor_options("recording", Recording, [item])
    message = str(info.value)
    assert "\n" not in message
    for needle in needles:
        assert needle in message, message


def test_the_worker_count_is_the_commands_own_flag() -> None:
    with pytest.raises(ImagestagError, match="use -j/--workers"):
        parse_executor_options("batch", BatchPipelineExecutor, ["num_workers=2"])


def test_run_passes_typed_options_to_the_executor(capsys, inputs: Path,
                                                  tmp_path: Path) -> None:
    manager = get_plugin_manager().copy()
    manager.add_local("executor", Recording)
    Recording.built.clear()
    with use_plugin_manager(manager):
        code, out, err = _cli(capsys, "run", "resize 0.5", str(inputs), "-o",
                              str(tmp_path / "o"), "--executor", "recording",
                              "--executor-option", "speed=7", "--executor-option", "mode=b",
                              "--executor-option", "window=2")
    assert code == 0, err
    assert Recording.built == [{"speed": 7, "mode": "b", "label": None, "ratio": 0.5,
                                "window": 2}]
    assert "2 files written" in out


def test_run_refuses_an_unknown_option_before_reading_any_input(capsys, inputs: Path,
                                                                tmp_path: Path) -> None:
    code, _, err = _cli(capsys, "run", "resize 0.5", str(inputs), "-o", str(tmp_path / "o"),
                        "--executor", "batch", "--executor-option", "queue_sise=3")
    assert code == 1
    line = _one_error_line(err)
    assert "'batch' executor has no option 'queue_sise'; did you mean 'queue_size'?" in line
    assert not (tmp_path / "o").exists()
    code, _, err = _cli(capsys, "run", "resize 0.5", str(inputs), "-o", str(tmp_path / "o"),
                        "--executor-option", "queue_size=-x")
    assert code == 1 and "expects int | None" in _one_error_line(err)


def test_an_executor_rejecting_an_option_value_is_one_error_line(capsys, inputs: Path,
                                                                 tmp_path: Path) -> None:
    code, _, err = _cli(capsys, "run", "resize 0.5", str(inputs), "-o", str(tmp_path / "o"),
                        "--executor-option", "window=0")
    assert code == 1 and "window must be >= 1" in _one_error_line(err)


def test_run_help_mentions_executor_options(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "--executor-option KEY=VALUE" in out and "'imagestag plugins' lists each" in out


def test_plugins_lists_each_executors_options(capsys) -> None:
    code, out, _ = _cli(capsys, "plugins")
    assert code == 0
    lines = out.splitlines()
    batch = lines.index(next(ln for ln in lines if ln.strip().startswith("batch ")))
    assert lines[batch + 2].split()[:4] == ["queue_size", "int", "|", "None"]
    assert "capacity of the shared input queue" in lines[batch + 2]
    assert any(ln.strip().startswith("window  int | None") for ln in lines)
    code, out, _ = _cli(capsys, "plugins", "--json")
    doc = json.loads(out)
    batch_doc = next(e for e in doc["executors"] if e["name"] == "batch")
    queue = next(o for o in batch_doc["options"] if o["name"] == "queue_size")
    assert queue == {"name": "queue_size", "type": "int | None", "default": None,
                     "doc": BatchPipelineExecutor.option_help["queue_size"],
                     "command_line": True}


def test_bench_applies_an_option_to_each_executor_that_declares_it(capsys) -> None:
    code, out, err = _cli(capsys, "bench", "--executors", "sequential,batch", "--frames", "2",
                          "--pipeline", "resize 0.05", "--executor-option", "queue_size=1",
                          "--json")
    assert code == 0, err
    rows = {r["name"]: r for r in json.loads(out)["executors"]}
    assert rows["batch"]["error"] is None and rows["sequential"]["error"] is None
    # the value reaches batch (which refuses 0) and not sequential (which has no queue)
    code, out, err = _cli(capsys, "bench", "--executors", "sequential,batch", "--frames", "1",
                          "--pipeline", "resize 0.05", "--executor-option", "queue_size=0",
                          "--json")
    rows = {r["name"]: r for r in json.loads(out)["executors"]}
    assert rows["sequential"]["error"] is None
    assert "queue_size must be an int >= 1, got 0" in rows["batch"]["error"]
    code, _, err = _cli(capsys, "bench", "--executors", "sequential,batch", "--frames", "2",
                        "--executor-option", "queue_sze=1")
    assert code == 1
    assert "no benchmarked executor (sequential, batch) has an option 'queue_sze'; did you " \
           "mean 'queue_size'?" in _one_error_line(err)
