"""CLI start-up and the thumbnail folder job, as whole processes (not collected by pytest).

What a user waits for when they type the command: each row starts a fresh
process and times it end to end.  With ``--baseline BIN`` (the ``imagestag``
console script of another install, e.g. an older checkout in its own venv)
every row runs both, interleaved round by round so machine drift hits both,
and prints the ratio of the medians.

Rows:

1. ``imagestag --version``
2. ``imagestag plugins`` (builds the plugin manager, lists everything)
3. ``python -c "import imagestag_core"`` (this install only)
4. ``imagestag run "resize 1920x1080 mode=fit | encode jpeg" IN -o OUT`` over
   ``--photos`` generated 20 MP photo-like JPEGs (shrink-on-load applies to
   ``fit`` since the architecture redesign).

Run: ``.venv/bin/python tests/perf/bench_startup.py [--rounds 7] [--photos 8]
[--baseline /path/to/old/.venv/bin/imagestag]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FOLDER_SPEC = "resize 1920x1080 mode=fit | encode jpeg"


def _time(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def _make_photos(folder: Path, count: int) -> None:
    from imagestag_plugins.app.samples import photo_like

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        photo_like(seed=i).save(folder / f"photo_{i:02d}.jpg", quality=90)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--photos", type=int, default=8)
    parser.add_argument("--baseline", help="another install's imagestag console script")
    args = parser.parse_args()

    here = shutil.which("imagestag") or str(Path(sys.executable).parent / "imagestag")
    work = Path(tempfile.mkdtemp(prefix="imagestag-bench-"))
    photos = work / "in"
    _make_photos(photos, args.photos)

    def rows(binary: str, tag: str) -> dict[str, list[str]]:
        return {
            "imagestag --version": [binary, "--version"],
            "imagestag plugins": [binary, "plugins"],
            f"run fit over {args.photos} x 20 MP JPEGs": [
                binary, "run", FOLDER_SPEC, str(photos), "-o", str(work / f"out-{tag}"),
                "--overwrite"],
        }

    ours = rows(here, "new")
    ours["python -c 'import imagestag_core'"] = [sys.executable, "-c", "import imagestag_core"]
    theirs = rows(args.baseline, "old") if args.baseline else {}
    times: dict[str, list[float]] = {k: [] for k in ours}
    base: dict[str, list[float]] = {k: [] for k in theirs}
    for cmd in [*ours.values(), *theirs.values()]:
        _time(cmd)  # warm-up: file-system caches, .pyc files
    for _ in range(args.rounds):
        for name, cmd in ours.items():
            times[name].append(_time(cmd))
            if name in theirs:
                base[name].append(_time(theirs[name]))
    load = os.getloadavg()[0]
    print(f"# whole-process wall time, median of {args.rounds} (load average {load:.2f})\n")
    print("| command | this install | baseline | ratio |")
    print("|---|---|---|---|")
    for name, samples in times.items():
        ours_s = statistics.median(samples)
        if name in base:
            base_s = statistics.median(base[name])
            print(f"| {name} | {ours_s:.3f} s | {base_s:.3f} s | {ours_s / base_s:.2f}x |")
        else:
            print(f"| {name} | {ours_s:.3f} s | - | - |")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
