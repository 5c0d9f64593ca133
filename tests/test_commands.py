"""``imagestag`` subcommands are plugins: a third-party distribution adds one by entry point."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

HELLO = '''
from imagestag_core import hookimpl


class Hello:
    name = "hello"
    help = "greets"

    def configure(self, parser):
        parser.add_argument("--who", default="world")

    def run(self, args):
        print(f"hello {args.who}")
        return 3


@hookimpl
def register_commands(register):
    register(Hello())
'''

BROKEN = '''
from imagestag_core import hookimpl


class Broken:
    name = "broken"
    help = "cannot configure"

    def configure(self, parser):
        raise ValueError("no arguments today")

    def run(self, args):
        return 0


@hookimpl
def register_commands(register):
    register(Broken())
'''


def _console_script() -> str:
    script = shutil.which("imagestag", path=str(Path(sys.executable).parent))
    if script is None:
        pytest.skip("the imagestag console script is not installed next to this Python")
    return script


def _install(site: Path, dist: str, module: str, source: str, command: str) -> None:
    """A real installed distribution: its module and a dist-info with one entry point."""
    (site / f"{module}.py").write_text(textwrap.dedent(source))
    info = site / f"{dist.replace('-', '_')}-1.2.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.2\n")
    (info / "entry_points.txt").write_text(f"[imagestag]\n{command} = {module}\n")
    (info / "RECORD").write_text("")


@pytest.fixture
def site(tmp_path: Path) -> Path:
    folder = tmp_path / "site"
    folder.mkdir()
    return folder


def _run(site: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(site), *filter(None, [os.environ.get("PYTHONPATH")])])}
    return subprocess.run([_console_script(), *argv], capture_output=True, text=True,
                          env=env, timeout=120)


def test_register_commands_lets_a_third_party_distribution_add_a_subcommand(site):
    _install(site, "imagestag-hello", "imagestag_hello_cmd", HELLO, "hello")
    proc = _run(site, "hello", "--who", "plugins")
    assert (proc.returncode, proc.stdout) == (3, "hello plugins\n"), proc.stderr
    listing = _run(site, "plugins", "--json")
    assert listing.returncode == 0, listing.stderr
    commands = {c["name"]: c for c in json.loads(listing.stdout)["commands"]}
    assert commands["hello"]["distribution"] == "imagestag-hello"
    assert commands["hello"]["version"] == "1.2"
    assert {"run", "bench", "demo", "plugins", "filters", "hello"} <= set(commands)
    helped = _run(site, "--help")
    assert "hello" in helped.stdout and "greets" in helped.stdout


def test_a_broken_command_plugin_does_not_break_the_other_commands(site):
    _install(site, "imagestag-broken", "imagestag_broken_cmd", BROKEN, "broken")
    _install(site, "imagestag-hello", "imagestag_hello_cmd", HELLO, "hello")
    proc = _run(site, "hello")
    assert (proc.returncode, proc.stdout) == (3, "hello world\n"), proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert "command 'broken' from imagestag-broken is unavailable" in lines[0]
    assert "no arguments today" in lines[0]
    assert _run(site, "plugins").returncode == 0
    assert _run(site, "broken").returncode == 2  # usage error: no such subcommand


def _modules_after(argv: list[str]) -> set[str]:
    code = ("import sys, json\nfrom imagestag_plugins.app.main import main\n"
            f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
            "print(json.dumps(sorted(sys.modules)), file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    return set(json.loads(proc.stderr.splitlines()[-1]))


APPLICATION_HEAVY = {"tqdm", "matplotlib", "imagestag_plugins.app.runner",
                     "imagestag_plugins.app.video", "imagestag_plugins.app.benchmark",
                     "imagestag_plugins.app.samples", "imagestag_plugins.app.reports"}


def test_version_imports_no_plugin_no_core_no_numpy_and_no_opencv():
    loaded = _modules_after(["--version"])
    heavy = {m for m in loaded if m.split(".")[0] in ("numpy", "cv2", "imagestag_core")}
    assert heavy == set()
    assert not {m for m in loaded if m.startswith("imagestag_plugins.")
                and not m.startswith("imagestag_plugins.app")}
    assert not loaded & APPLICATION_HEAVY


def test_version_is_the_cores_version():
    from imagestag_core import __version__

    proc = subprocess.run([_console_script(), "--version"], capture_output=True, text=True,
                          timeout=60)
    assert (proc.returncode, proc.stdout) == (0, f"imagestag {__version__}\n")


def test_plugins_imports_no_runner_benchmark_plotting_or_progress_bar():
    loaded = _modules_after(["plugins"])
    assert "imagestag_plugins.commands.run" in loaded  # the commands did load
    assert not loaded & APPLICATION_HEAVY
