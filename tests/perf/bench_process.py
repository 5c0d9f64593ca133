"""``process`` vs ``batch``, side by side in one run (not collected by pytest).

Two workloads, 2 workers each, rounds interleaved so machine drift hits both:

1. 1920x1080 RGB frames through ``HoldGIL(ms=10)``, a filter that holds the
   GIL like a Python-level loop: threads take turns, processes run in parallel.
   Goal: process >= 1.7x batch.  HoldGIL passes its frame through, so no
   pixels travel back; a second row adds ``ConvertFormat("bgr")`` so that new
   pixels are copied out of shared memory for every frame.
2. The seed pipeline (5478x3650 RGB -> Resize 1920x1080 -> FalseColor hot ->
   Encode jpeg), which releases the GIL: here the process pool pays a 60 MB
   copy into shared memory per frame and is expected to trail ``batch``.

Pool start-up is excluded (each executor is started and warmed up first); the
timed part is ``process_all`` over the frames.

Run: ``.venv/bin/python tests/perf/bench_process.py [--frames N] [--rounds R]``
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from imagestag_plugins.app.samples import photo_like
from imagestag_plugins.filters.convert_format import ConvertFormat
from imagestag_plugins.filters.encode import Encode
from imagestag_plugins.filters.false_color import FalseColor
from imagestag_plugins.filters.faults import HoldGIL
from imagestag_plugins.filters.resize import Resize

from imagestag_core import Image, get_executor

WORKERS = 2


def fps(executor: str, pipeline: list, images: list[Image]) -> float:
    """Frames per second of ``process_all`` on a started, warmed-up executor."""
    with get_executor(executor, pipeline, num_workers=WORKERS) as ex:
        ex.process_all(images[:WORKERS])  # start-up and first-touch of segments
        start = time.perf_counter()
        results = ex.process_all(images)
        elapsed = time.perf_counter() - start
    assert len(results) == len(images)
    return len(images) / elapsed


def compare(title: str, pipeline: list, images: list[Image], rounds: int) -> None:
    process, batch = [], []
    for _ in range(rounds):
        process.append(fps("process", pipeline, images))
        batch.append(fps("batch", pipeline, images))
    ratios = [p / b for p, b in zip(process, batch)]
    print(f"\n{title} ({len(images)} frames, {WORKERS} workers each, {rounds} rounds)")
    print(f"  process  {statistics.median(process):7.1f} fps   "
          f"(rounds: {', '.join(f'{v:.1f}' for v in process)})")
    print(f"  batch    {statistics.median(batch):7.1f} fps   "
          f"(rounds: {', '.join(f'{v:.1f}' for v in batch)})")
    print(f"  process / batch: median {statistics.median(ratios):.2f}x "
          f"(min {min(ratios):.2f}, max {max(ratios):.2f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    hd = [Image(rng.integers(0, 256, (1080, 1920, 3), dtype=np.uint8), metadata={"frame": i})
          for i in range(args.frames)]
    compare("HoldGIL(ms=10) on 1920x1080 (goal: process >= 1.7x batch)", [HoldGIL(ms=10)], hd,
            args.rounds)
    # HoldGIL passes its frame through, so no pixels travel back; a filter that
    # makes new pixels adds a copy out of shared memory per frame
    compare("HoldGIL(ms=10) + ConvertFormat(bgr) on 1920x1080 (new pixels come back)",
            [HoldGIL(ms=10), ConvertFormat("bgr")], hd, args.rounds)
    del hd

    source = photo_like()
    seed = [source.with_metadata(frame=i) for i in range(args.frames)]
    compare(f"seed pipeline from {source.width}x{source.height}",
            [Resize(size=(1920, 1080)), FalseColor("hot"), Encode("jpeg")], seed, args.rounds)


if __name__ == "__main__":
    main()
