"""The folder job: N photo-like 20 MP JPEGs fitted into 1920x1080, saved as JPEG q85.

Whole processes, as the user waits for them, interleaved round by round so
machine drift hits every row alike (not collected by pytest):

* ``imagestag run "resize 1920x1080 mode=fit | encode jpeg quality=85"``
* the same with an exact box (``resize 1920x1080``)
* a pyvips script: ``pyvips.Image.thumbnail`` + ``jpegsave`` in a 2-thread pool
  (``pip install pyvips pyvips-binary``; the row is left out without them)
* a Pillow script: ``draft`` + ``thumbnail`` + ``save`` in a 2-thread pool
* two bare OpenCV scripts (no framework: half-size DCT decode, resize, encode, a
  2-thread pool), one with ``INTER_LINEAR`` (fast, aliased), one with the
  ``resize`` filter's kernel for this ratio (``INTER_CUBIC`` to twice the target,
  then a 2x2 ``INTER_AREA``): the floor what these libraries allow, for scale

For each row: wall time (median, min-max), the ratio to pyvips, and the mean
PSNR of its outputs against a float reference (full decode, float32 area
resize to the same size), so speed is never bought with blur.

Run: ``.venv/bin/python tests/perf/bench_folder.py [--photos 16] [--rounds 5]``
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

import numpy as np

BOX = (1920, 1080)

PYVIPS = """
    import sys
    from concurrent.futures import ThreadPoolExecutor
    from pathlib import Path
    import pyvips

    src, dst = Path(sys.argv[1]), Path(sys.argv[2])
    dst.mkdir(exist_ok=True)

    def one(path):
        image = pyvips.Image.thumbnail(str(path), 1920, height=1080)
        image.jpegsave(str(dst / path.name), Q=85)

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(one, sorted(src.glob("*.jpg"))))
"""

PILLOW = """
    import sys
    from concurrent.futures import ThreadPoolExecutor
    from pathlib import Path
    from PIL import Image

    src, dst = Path(sys.argv[1]), Path(sys.argv[2])
    dst.mkdir(exist_ok=True)

    def one(path):
        with Image.open(path) as image:
            image.draft("RGB", (1920, 1080))
            image.thumbnail((1920, 1080), Image.LANCZOS)
            image.save(dst / path.name, quality=85)

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(one, sorted(src.glob("*.jpg"))))
"""


OPENCV = """
    import sys
    from concurrent.futures import ThreadPoolExecutor
    from pathlib import Path
    import cv2

    src, dst = Path(sys.argv[1]), Path(sys.argv[2])
    dst.mkdir(exist_ok=True)
    cv2.setNumThreads(1)

    def one(path):
        image = cv2.imread(str(path), cv2.IMREAD_REDUCED_COLOR_2)
        h, w = image.shape[:2]
        scale = min(1920 / (2 * w), 1080 / (2 * h))
        size = (round(2 * w * scale), round(2 * h * scale))
        if KERNEL == "linear":
            out = cv2.resize(image, size, interpolation=cv2.INTER_LINEAR)
        else:
            twice = cv2.resize(image, (2 * size[0], 2 * size[1]), interpolation=cv2.INTER_CUBIC)
            out = cv2.resize(twice, size, interpolation=cv2.INTER_AREA)
        cv2.imwrite(str(dst / path.name), out, [cv2.IMWRITE_JPEG_QUALITY, 85])

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(one, sorted(src.glob("*.jpg"))))
"""


def _opencv_script(kernel: str) -> str:
    return f"KERNEL = {kernel!r}\n" + textwrap.dedent(OPENCV)


def _make_photos(folder: Path, count: int) -> None:
    from imagestag_plugins.app.samples import photo_like

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        photo_like(seed=i).save(folder / f"photo_{i:02d}.jpg", quality=90)


def _psnr(outputs: Path, sources: Path) -> float:
    import cv2

    values = []
    for out in sorted(outputs.glob("*.jpg")):
        got = cv2.imread(str(out)).astype(np.float32)
        full = cv2.imread(str(sources / out.name)).astype(np.float32)
        ref = cv2.resize(full, (got.shape[1], got.shape[0]), interpolation=cv2.INTER_AREA)
        mse = float(np.mean((got - ref) ** 2))
        values.append(10 * np.log10(255.0 ** 2 / mse) if mse else float("inf"))
    return statistics.mean(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photos", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="imagestag-folder-"))
    photos = work / "in"
    _make_photos(photos, args.photos)
    imagestag = shutil.which("imagestag") or str(Path(sys.executable).parent / "imagestag")
    rows: dict[str, list[str]] = {
        "imagestag run (fit)": [imagestag, "run",
                                "resize 1920x1080 mode=fit | encode jpeg quality=85"],
        "imagestag run (exact box)": [imagestag, "run",
                                      "resize 1920x1080 | encode jpeg quality=85"],
    }
    scripts = {"pyvips thumbnail, 2 threads": ("pyvips", PYVIPS),
               "Pillow draft+thumbnail, 2 threads": ("PIL", PILLOW),
               "bare OpenCV, linear (floor)": ("cv2", _opencv_script("linear")),
               "bare OpenCV, resize's kernel (floor)": ("cv2", _opencv_script("cubic"))}
    for name, (module, source) in scripts.items():
        if subprocess.run([sys.executable, "-c", f"import {module}"],
                          capture_output=True).returncode:
            print(f"# {name}: left out ({module} is not installed)")
            continue
        path = work / f"job_{len(rows)}.py"
        path.write_text(textwrap.dedent(source))
        rows[name] = [sys.executable, str(path)]

    def command(name: str, out: Path) -> list[str]:
        base = rows[name]
        if base[0] == imagestag:
            return [*base, str(photos), "-o", str(out), "--overwrite"]
        return [*base, str(photos), str(out)]

    outs = {name: work / f"out-{i}" for i, name in enumerate(rows)}
    # as on a user's machine: .pyc files are written (the warm-up writes them) and used
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    for name in rows:  # warm-up: page cache, .pyc files
        subprocess.run(command(name, outs[name]), check=True, capture_output=True, env=env)
    times: dict[str, list[float]] = {name: [] for name in rows}
    for _ in range(args.rounds):
        for name in rows:
            shutil.rmtree(outs[name], ignore_errors=True)
            start = time.perf_counter()
            subprocess.run(command(name, outs[name]), check=True, capture_output=True, env=env)
            times[name].append(time.perf_counter() - start)
    load = os.getloadavg()[0]
    ref = next((n for n in rows if "pyvips" in n), None)
    print(f"# {args.photos} photo-like 20 MP JPEGs (q90) -> fit 1920x1080, JPEG q85; "
          f"{args.rounds} interleaved rounds; load average {load:.2f}\n")
    print("| job | wall median | min-max | vs pyvips | PSNR vs float reference |")
    print("|---|---|---|---|---|")
    for name, samples in times.items():
        median = statistics.median(samples)
        ratio = (f"{median / statistics.median(times[ref]):.2f}x" if ref else "-")
        print(f"| {name} | {median:.3f} s | {min(samples):.3f}-{max(samples):.3f} s | "
              f"{ratio} | {_psnr(outs[name], photos):.2f} dB |")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
