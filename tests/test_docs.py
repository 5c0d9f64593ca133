"""Every code block in README.md and docs/*.md runs as written.

The collector reads each page's fenced blocks:

* ``python`` blocks of one page run in order, in one namespace, in a fresh
  interpreter whose working folder is a scratch copy of :data:`WORKSPACE`, as
  a reader pasting them one after another would; a traceback names the page
  and the line in it.
* every command line of a ``bash``/``sh``/``shell`` block, and every ``$ ``
  line of a ``console`` block, runs with ``bash`` in that page's scratch
  folder, with this interpreter's ``bin`` first on ``PATH`` (so ``imagestag``
  is the one under test); it must exit 0.
* ``toml`` blocks must parse.

Blocks that are not meant to run are ``text`` blocks (output, grammar) or
unlabelled ones, as the pages already write them.  A runnable block that
cannot run in a test (a camera, a benchmark of minutes, the set-up lines of a
fresh machine, which ``.ci/run`` runs itself) is preceded by
``<!-- skip-doctest: reason -->``; the reason is shown as the skip reason.
Pages are found by glob, so a new page is tested without touching this file;
``pytest -m "not docs"`` leaves them all out.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import distribution
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PYTHON = {"python", "py", "python3"}
SHELL = {"bash", "sh", "shell", "console"}
SKIP = re.compile(r"<!--\s*skip-doctest:\s*(?P<reason>.*?)\s*-->")
FENCE = re.compile(r"^(?P<indent> *)(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`]*)$")
TIMEOUT = 240

pytestmark = pytest.mark.docs


@dataclass(frozen=True)
class Block:
    """One fenced block: its page, the line its body starts on, language, body."""

    page: Path
    line: int
    lang: str
    body: str
    skip: str | None  # the skip-doctest reason, if marked

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def read_blocks(page: Path) -> Iterator[Block]:
    """The fenced blocks of a markdown page, in order (nested fences are not used)."""
    lines = page.read_text().splitlines()
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if opening is None:
            i += 1
            continue
        indent, fence = len(opening["indent"]), opening["fence"]
        lang = (opening["info"].split() or [""])[0].lower()
        end = i + 1
        while end < len(lines) and not (lines[end].strip().startswith(fence)
                                        and set(lines[end].strip()) == {fence[0]}):
            end += 1
        before = next((text for text in reversed(lines[:i]) if text.strip()), "")
        marked = SKIP.search(before)
        body = "\n".join(text[indent:] for text in lines[i + 1:end])
        yield Block(page, i + 2, lang, body + "\n", marked["reason"] if marked else None)
        i = end + 1


def shell_commands(block: Block) -> Iterator[tuple[int, str]]:
    """``(line number, command)`` for each command of a shell block."""
    pending: list[str] = []
    start = 0
    for offset, text in enumerate(block.body.splitlines()):
        if block.lang == "console" and not pending:
            if not text.startswith("$ "):
                continue  # output
            text = text[2:]
        if not pending:
            start = block.line + offset
            if not text.strip() or text.lstrip().startswith("#"):
                continue
        pending.append(text)
        if not text.endswith("\\"):
            yield start, "\n".join(pending)
            pending = []


ALL = [block for page in PAGES for block in read_blocks(page)]
PYTHON_PAGES = sorted({b.page for b in ALL if b.lang in PYTHON})
SHELL_LINES = [(b, line, cmd) for b in ALL if b.lang in SHELL for line, cmd in shell_commands(b)]


def _param(block: Block, *values: object, where: str | None = None) -> object:
    marks = [pytest.mark.skip(reason=block.skip)] if block.skip else []
    return pytest.param(block, *values, id=where or block.where, marks=marks)


def _make_workspace(folder: Path) -> None:
    """What the pages' commands expect to find: photos, a video, a TIFF."""
    import cv2

    folder.mkdir()
    y, x = np.mgrid[0:240, 0:320]
    for i, name in enumerate(["photos/beach.jpg", "photos/city.jpg", "shots/day1/a.jpg",
                              "shots/b.jpg", "extra.tif"]):
        rgb = np.stack([(x + 40 * i) % 256, (y * 2 + i) % 256, (x + y) // 3], axis=-1)
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        assert cv2.imwrite(str(folder / name), rgb.astype(np.uint8))
    writer = cv2.VideoWriter(str(folder / "input.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 10,
                             (320, 240))
    assert writer.isOpened()
    for i in range(8):
        writer.write(np.full((240, 320, 3), 30 * i, np.uint8))
    writer.release()


@pytest.fixture(scope="session")
def workspace_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("docs") / "template"
    _make_workspace(folder)
    return folder


_WORKSPACES: dict[Path, Path] = {}


@pytest.fixture
def workspace(request: pytest.FixtureRequest, workspace_template: Path,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A scratch folder per page, shared by that page's commands, which run in order."""
    page = request.node.callspec.params["block"].page
    if page not in _WORKSPACES:
        _WORKSPACES[page] = tmp_path_factory.mktemp("page") / page.stem
        shutil.copytree(workspace_template, _WORKSPACES[page])
    yield _WORKSPACES[page]


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.pop("PYTHONPATH", None)
    return env


def _failure(proc: subprocess.CompletedProcess[str]) -> str:
    return f"exit {proc.returncode}\n--- stdout\n{proc.stdout[-4000:]}\n--- stderr\n" \
           f"{proc.stderr[-4000:]}"


RUNNER = """\
import json, sys
ns = {"__name__": "__main__"}
for block in json.load(open(sys.argv[1])):
    if block["skip"]:
        continue
    # padded so that a traceback's line numbers are the page's own
    exec(compile("\\n" * (block["line"] - 1) + block["body"], block["page"], "exec"), ns)
"""


@pytest.mark.parametrize("block", [  # one test a page; the runner skips the marked blocks
    pytest.param(next(b for b in ALL if b.page == page and b.lang in PYTHON),
                 id=str(page.relative_to(ROOT))) for page in PYTHON_PAGES])
def test_python_blocks_of_a_page_run_in_order(block: Block, workspace: Path) -> None:
    blocks = [{"page": b.where.rsplit(":", 1)[0], "line": b.line, "body": b.body,
               "skip": b.skip} for b in ALL if b.page == block.page and b.lang in PYTHON]
    script = workspace / f"_{block.page.stem}_blocks.json"
    script.write_text(json.dumps(blocks))
    proc = subprocess.run([sys.executable, "-c", RUNNER, str(script)], cwd=workspace,
                          env=_environment(), capture_output=True, text=True, timeout=TIMEOUT)
    assert proc.returncode == 0, _failure(proc)


@pytest.mark.parametrize("block,command", [
    _param(b, cmd, where=f"{b.page.relative_to(ROOT)}:{line}") for b, line, cmd in SHELL_LINES])
def test_shell_line_runs(block: Block, command: str, workspace: Path) -> None:
    proc = subprocess.run(["bash", "-c", f"set -euo pipefail\n{command}"], cwd=workspace,
                          env=_environment(), capture_output=True, text=True, timeout=TIMEOUT)
    assert proc.returncode == 0, f"{command}\n{_failure(proc)}"


@pytest.mark.parametrize("block", [_param(b) for b in ALL if b.lang == "toml"])
def test_toml_block_parses(block: Block) -> None:
    tomllib = pytest.importorskip("tomllib")
    tomllib.loads(block.body)


def test_the_collector_finds_every_page_and_honours_the_skip_marker(tmp_path: Path) -> None:
    assert {p.name for p in PAGES} >= {"README.md", "writing-plugins.md", "plugin-hooks.md"}
    page = tmp_path / "page.md"
    page.write_text("text\n\n<!-- skip-doctest: needs a camera -->\n\n```bash\nimagestag run \\\n"
                    "  x --camera 0\n```\n\n```console\n$ imagestag plugins\nFilters (9):\n"
                    "```\n\n   ```python\n   x = 1\n   ```\n")
    camera, console, python = read_blocks(page)
    assert (camera.skip, camera.line, list(shell_commands(camera))) == (
        "needs a camera", 6, [(6, "imagestag run \\\n  x --camera 0")])
    assert (console.skip, list(shell_commands(console))) == (None, [(11, "imagestag plugins")])
    assert (python.lang, python.body, python.skip) == ("python", "x = 1\n", None)


def test_the_pyproject_in_writing_plugins_builds_the_enhance_pack_whole(tmp_path: Path) -> None:
    """The page shows a complete file: a wheel built from it holds the pack and its plugins."""
    import zipfile

    (toml,) = [b for b in read_blocks(ROOT / "docs" / "writing-plugins.md")
               if b.lang == "toml" and "[build-system]" in b.body]
    pack = tmp_path / "imagestag-enhance"
    shutil.copytree(ROOT / "contrib" / "imagestag-enhance", pack,
                    ignore=shutil.ignore_patterns("*.egg-info", "build", "__pycache__", "tests"))
    (pack / "pyproject.toml").write_text(toml.body)
    proc = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--wheel",
                           "--outdir", str(tmp_path / "dist"), str(pack)],
                          capture_output=True, text=True, timeout=TIMEOUT)
    assert proc.returncode == 0, _failure(proc)
    (wheel_path,) = (tmp_path / "dist").glob("*.whl")
    with zipfile.ZipFile(wheel_path) as wheel:
        names = set(wheel.namelist())
        entry_points = next(wheel.read(n).decode() for n in names
                            if n.endswith(".dist-info/entry_points.txt"))
    assert {"imagestag_enhance/py.typed", "imagestag_enhance/clahe.py",
            "imagestag_enhance/gaussian_blur.py", "imagestag_enhance/unsharp_mask.py"} <= names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    installed = {ep.name: ep.value for ep in distribution("imagestag-enhance").entry_points
                 if ep.group == "imagestag"}
    assert len(installed) == 3
    assert all(f"{name} = {value}" in entry_points for name, value in installed.items())
