"""The distributions a user installs: what the wheel and sdist hold, one version, ``-m``.

The wheels and sdists are built once per session with ``python -m build
--no-isolation`` (the ``test`` extra brings ``build`` and ``setuptools>=77``), a
few seconds each; ``pytest -m "not packaging"`` leaves them out.  ``.ci/run``
goes further: it installs the wheels into a fresh environment and runs
``imagestag demo`` and ``imagestag plugins`` from outside the checkout.
"""

from __future__ import annotations

import email.parser
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from importlib.metadata import distribution
from pathlib import Path

import pytest

from imagestag_core import __version__

ROOT = Path(__file__).resolve().parent.parent
CONTRIB = {"imagestag-dask": "imagestag_dask", "imagestag-enhance": "imagestag_enhance"}
NOTICES = ("LICENSE", "THIRD_PARTY_NOTICES")


@dataclass(frozen=True)
class Built:
    """One distribution's wheel and sdist: each archive's file names and contents."""

    wheel: dict[str, bytes]
    sdist: dict[str, bytes]  # names without the leading "imagestag-0.1.0/"
    dist_info: str  # "imagestag-0.1.0.dist-info"

    def wheel_text(self, name: str) -> str:
        return self.wheel[name].decode()

    def sdist_text(self, name: str) -> str:
        return self.sdist[name].decode()


def _build(source: Path, outdir: Path) -> Built:
    proc = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(outdir), str(source)],
        capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, (
        f"python -m build failed for {source} (is the test extra installed? "
        f"pip install -e '.[test]'):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    (wheel_path,) = outdir.glob("*.whl")
    (sdist_path,) = outdir.glob("*.tar.gz")
    with zipfile.ZipFile(wheel_path) as wheel:
        wheel_files = {n: wheel.read(n) for n in wheel.namelist()}
    root = sdist_path.name.removesuffix(".tar.gz")
    sdist_files: dict[str, bytes] = {}
    with tarfile.open(sdist_path) as sdist:
        for member in sdist.getmembers():
            handle = sdist.extractfile(member)  # None for a folder
            if handle is not None:
                sdist_files[member.name.removeprefix(f"{root}/")] = handle.read()
    (dist_info,) = {n.split("/")[0] for n in wheel_files if n.split("/")[0].endswith(".dist-info")}
    return Built(wheel_files, sdist_files, dist_info)


@pytest.fixture(scope="session")
def imagestag_dist(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return _build(ROOT, tmp_path_factory.mktemp("dist-imagestag"))


def _metadata(text: str) -> email.message.Message:
    return email.parser.Parser().parsestr(text)


def _sources(*packages: str) -> set[str]:
    """The ``.py`` files of packages under the checkout, as wheel paths."""
    found = set()
    for package in packages:
        base = ROOT / "plugins" if package == "imagestag_plugins" else ROOT
        found |= {p.relative_to(base).as_posix() for p in (base / package).rglob("*.py")}
    return found


pytestmark = pytest.mark.packaging


def test_the_wheel_holds_every_module_the_colormap_tables_and_the_type_markers(
        imagestag_dist: Built) -> None:
    names = set(imagestag_dist.wheel)
    assert _sources("imagestag_core", "imagestag_plugins") - names == set()
    assert {"imagestag_core/py.typed", "imagestag_core/filters.pyi", "imagestag_core/__main__.py",
            "imagestag_plugins/py.typed",
            "imagestag_plugins/colormaps/matplotlib_colormaps.npz"} <= names
    # nothing of the checkout's scaffolding is installed as a top-level package
    assert {n.split("/")[0] for n in names} == {
        "imagestag_core", "imagestag_plugins", imagestag_dist.dist_info}


def test_the_wheel_declares_the_plugin_group_the_console_script_and_the_pytest_plugin(
        imagestag_dist: Built) -> None:
    import configparser

    entry_points = configparser.ConfigParser(delimiters=("=",))
    entry_points.optionxform = str  # type: ignore[assignment,method-assign]
    entry_points.read_string(imagestag_dist.wheel_text(
        f"{imagestag_dist.dist_info}/entry_points.txt"))
    assert dict(entry_points["console_scripts"]) == {
        "imagestag": "imagestag_plugins.app.main:main"}
    assert dict(entry_points["pytest11"]) == {"imagestag": "imagestag_core.testing.pytest_plugin"}
    # every built-in plugin module, as the installed (editable) metadata lists them
    installed = {ep.name: ep.value for ep in distribution("imagestag").entry_points
                 if ep.group == "imagestag"}
    assert dict(entry_points["imagestag"]) == installed
    assert {"resize", "colormaps", "batch", "command_run"} <= set(installed)


def test_the_wheel_carries_the_licence_and_the_third_party_notices(
        imagestag_dist: Built) -> None:
    meta = _metadata(imagestag_dist.wheel_text(f"{imagestag_dist.dist_info}/METADATA"))
    assert meta["License-Expression"] == "MIT"
    assert meta.get_all("License-File") == list(NOTICES)
    assert not [c for c in meta.get_all("Classifier") or [] if c.startswith("License ::")]
    assert meta["Author"] and meta.get_all("Project-URL")
    for name in NOTICES:
        text = imagestag_dist.wheel_text(f"{imagestag_dist.dist_info}/licenses/{name}")
        assert text == (ROOT / name).read_text()
    notices = (ROOT / "THIRD_PARTY_NOTICES").read_text()
    assert "Cynthia Brewer" in notices and "Apache License" in notices
    assert "Google LLC" in notices and "Matplotlib Development Team" in notices


def test_the_sdist_holds_what_the_wheel_is_built_from(imagestag_dist: Built) -> None:
    names = set(imagestag_dist.sdist)
    assert {"pyproject.toml", "README.md", *NOTICES,
            "imagestag_core/py.typed", "plugins/imagestag_plugins/py.typed",
            "plugins/imagestag_plugins/colormaps/matplotlib_colormaps.npz"} <= names
    assert {f"plugins/{n}" if n.startswith("imagestag_plugins/") else n
            for n in _sources("imagestag_core", "imagestag_plugins")} - names == set()
    meta = _metadata(imagestag_dist.sdist_text("PKG-INFO"))
    assert (meta["License-Expression"], meta.get_all("License-File")) == ("MIT", list(NOTICES))
    assert imagestag_dist.sdist_text("THIRD_PARTY_NOTICES") == (
        ROOT / "THIRD_PARTY_NOTICES").read_text()


def test_the_version_is_written_once_and_every_place_reports_it(imagestag_dist: Built) -> None:
    meta = _metadata(imagestag_dist.wheel_text(f"{imagestag_dist.dist_info}/METADATA"))
    assert meta["Version"] == __version__ == distribution("imagestag").version
    for pyproject in [ROOT / "pyproject.toml", *(ROOT / "contrib").glob("*/pyproject.toml")]:
        text = pyproject.read_text()
        assert 'dynamic = ["version"]' in text and '\nversion = "' not in text, pyproject
    for command in ([sys.executable, "-m", "imagestag_core", "--version"],
                    [str(Path(sys.executable).with_name("imagestag")), "--version"]):
        proc = subprocess.run(command, capture_output=True, text=True, timeout=60)
        assert (proc.returncode, proc.stdout) == (0, f"imagestag {__version__}\n"), command


def test_python_dash_m_imagestag_core_runs_the_command_line(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "imagestag_core", "filters", "resize"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("resize  [imagestag")
    bad = subprocess.run([sys.executable, "-m", "imagestag_core", "run", "resise 10x10",
                          "x.png", "-o", "out"], capture_output=True, text=True, timeout=60,
                         cwd=tmp_path)
    assert bad.returncode == 1
    assert bad.stderr.startswith("imagestag: error:") and "Traceback" not in bad.stderr


@pytest.mark.parametrize("name", sorted(CONTRIB))
def test_a_contrib_wheel_carries_its_licence_entry_points_and_type_marker(
        name: str, tmp_path: Path) -> None:
    built = _build(ROOT / "contrib" / name, tmp_path)
    package = CONTRIB[name]
    assert f"{package}/py.typed" in built.wheel
    meta = _metadata(built.wheel_text(f"{built.dist_info}/METADATA"))
    assert (meta["License-Expression"], meta.get_all("License-File")) == ("MIT", ["LICENSE"])
    assert meta["Version"] == distribution(name).version
    assert f"{built.dist_info}/licenses/LICENSE" in built.wheel
    assert "LICENSE" in built.sdist
    assert "[imagestag]" in built.wheel_text(f"{built.dist_info}/entry_points.txt")
