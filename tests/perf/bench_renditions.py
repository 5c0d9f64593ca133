"""The responsive-image job: N photo-like 20 MP JPEGs to four renditions each.

320, 640 and 1280 px wide as WebP, 1920 px wide as JPEG q85.  Whole processes,
as the user waits for them, interleaved round by round so machine drift hits
every row alike (not collected by pytest):

* ``imagestag run "decode | tee w320=(...) w640=(...) w1280=(...) w1920=(...)"``:
  one decode per photo (at the scale the 1920 rendition needs), four renditions
* ``imagestag run "resize 1920x | encode jpeg quality=85"``: the single largest
  rendition, the floor a fan-out is measured against
* four separate ``imagestag run`` commands, one per rendition (what users did
  before ``tee``: four decodes per photo)
* a pyvips script: four ``pyvips.Image.thumbnail`` + save calls per file in a
  2-thread pool (``pip install pyvips pyvips-binary``; left out without them)

Goals (docs/performance.md): the tee run at most 1.4x the single rendition, and
at least 2.5x faster than the four separate runs and than the pyvips script.

Run: ``.venv/bin/python tests/perf/bench_renditions.py [--photos 16] [--rounds 5]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_folder import _make_photos  # the same photo generator

#: (branch name, width, codec, quality)
RENDITIONS = [("w320", 320, "webp", 90), ("w640", 640, "webp", 90), ("w1280", 1280, "webp", 90),
              ("w1920", 1920, "jpeg", 85)]


def _branch(width: int, codec: str, quality: int) -> str:
    return f"resize {width}x | encode {codec} quality={quality}"


TEE = "decode | tee " + " ".join(f"{name}=({_branch(w, c, q)})" for name, w, c, q in RENDITIONS)
SINGLE = _branch(1920, "jpeg", 85)

PYVIPS = """
    import sys
    from concurrent.futures import ThreadPoolExecutor
    from pathlib import Path
    import pyvips

    src, dst = Path(sys.argv[1]), Path(sys.argv[2])
    dst.mkdir(exist_ok=True)
    RENDITIONS = {renditions!r}

    def one(path):
        for name, width, codec, quality in RENDITIONS:
            image = pyvips.Image.thumbnail(str(path), width)
            out = dst / f"{{path.stem}}-{{name}}.{{'jpg' if codec == 'jpeg' else codec}}"
            image.write_to_file(str(out), Q=quality)

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(one, sorted(src.glob("*.jpg"))))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photos", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="imagestag-renditions-"))
    photos = work / "in"
    _make_photos(photos, args.photos)
    imagestag = shutil.which("imagestag") or str(Path(sys.executable).parent / "imagestag")

    def run(spec: str, out: Path) -> list[str]:
        return [imagestag, "run", spec, str(photos), "-o", str(out), "--overwrite", "-q"]

    # each row: a list of commands run one after another, given the output folder
    rows: dict[str, object] = {
        "imagestag run, tee (4 renditions)": lambda out: [run(TEE, out)],
        "imagestag run, single 1920 rendition": lambda out: [run(SINGLE, out)],
        "4 separate imagestag runs": lambda out: [
            run(_branch(w, c, q), out / name) for name, w, c, q in RENDITIONS],
    }
    if subprocess.run([sys.executable, "-c", "import pyvips"], capture_output=True).returncode:
        print("# pyvips: left out (pip install pyvips pyvips-binary)")
    else:
        script = work / "pyvips_job.py"
        script.write_text(textwrap.dedent(PYVIPS.format(renditions=RENDITIONS)))
        rows["pyvips, 4 thumbnails per file, 2 threads"] = lambda out: [
            [sys.executable, str(script), str(photos), str(out)]]

    def once(name: str, out: Path) -> float:
        shutil.rmtree(out, ignore_errors=True)
        start = time.perf_counter()
        for command in rows[name](out):  # type: ignore[operator]
            subprocess.run(command, check=True, capture_output=True)
        return time.perf_counter() - start

    outs = {name: work / f"out-{i}" for i, name in enumerate(rows)}
    for name in rows:  # warm-up: page cache, .pyc files
        once(name, outs[name])
    times: dict[str, list[float]] = {name: [] for name in rows}
    for _ in range(args.rounds):
        for name in rows:
            times[name].append(once(name, outs[name]))
    files = {name: sum(1 for p in outs[name].rglob("*") if p.is_file()) for name in rows}
    load = os.getloadavg()[0]
    print(f"# {args.photos} photo-like 20 MP JPEGs (q90) -> 320/640/1280 px WebP + 1920 px "
          f"JPEG q85; {args.rounds} interleaved rounds; load average {load:.2f}\n")
    tee = statistics.median(times["imagestag run, tee (4 renditions)"])
    print("| job | files | wall median | min-max | vs tee |")
    print("|---|---|---|---|---|")
    for name, samples in times.items():
        median = statistics.median(samples)
        print(f"| {name} | {files[name]} | {median:.3f} s | {min(samples):.3f}-"
              f"{max(samples):.3f} s | {median / tee:.2f}x |")
    single = statistics.median(times["imagestag run, single 1920 rendition"])
    separate = statistics.median(times["4 separate imagestag runs"])
    print(f"\ntee / single 1920 rendition: {tee / single:.2f}x (goal <= 1.4x)")
    print(f"4 separate runs / tee: {separate / tee:.2f}x (goal >= 2.5x)")
    vips = times.get("pyvips, 4 thumbnails per file, 2 threads")
    if vips:
        print(f"pyvips / tee: {statistics.median(vips) / tee:.2f}x (goal >= 2.5x)")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
