"""Executor benchmark: the issue's performance goals, measured side by side in one run.

    .venv/bin/python tests/perf/bench_executors.py            # full: 60 frames x 5 rounds
    .venv/bin/python tests/perf/bench_executors.py --quick    # a short run for a busy machine

Every ratio is taken inside one round (strategies interleaved, so machine
drift hits them alike); the table prints the median over rounds and its
spread (min-max).  The *ideal* is ``CPUs x`` the ``sequential`` executor's fps
with OpenCV at one thread, measured in the same round.

Sections:

1. the seed pipeline (5478x3650 RGB -> Resize 1920x1080 -> FalseColor hot ->
   Encode jpeg) through ``batch``, ``streaming num_workers="auto"`` and
   ``streaming`` with one thread per stage, against the ideal;
   and what a user would write instead: a ``ThreadPoolExecutor`` over
   ``cv2.resize(INTER_AREA) + applyColorMap + imencode``, and pyvips
   (``thumbnail_image + maplut + jpegsave_buffer``) where libvips loads;
2. per-frame overhead: 64x64 frames through ``sequential`` vs a plain loop
   calling the same filters;
3. ``process`` vs ``batch`` on 1920x1080 frames through ``HoldGIL(ms=10)``;
4. peak RSS of ``imap`` over a long generator vs a 30-frame run (subprocesses).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import cv2
import numpy as np
from imagestag_plugins.app.samples import photo_like

from imagestag_core import FilterPipeline, Image, get_executor, list_executors
from imagestag_core.executor import available_cpus

SEED = "resize size=1920x1080 | falsecolor hot | encode jpeg"


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def median_spread(values: list[float]) -> str:
    return f"{statistics.median(values):6.2f}  ({min(values):.2f}-{max(values):.2f})"


def verdict(values: list[float], goal: float) -> str:
    return "PASS" if statistics.median(values) >= goal else "below goal"


# -- 1: the seed pipeline --------------------------------------------------------------


def run_executor(name: str, frames: list[Image], **options: Any) -> float:
    """Frames per second of ``process_all`` (executor start-up included, as a user sees it)."""
    with get_executor(name, SEED, **options) as ex:
        seconds = timed(lambda: ex.process_all(frames))
    return len(frames) / seconds


def handwritten_threads(pixels: np.ndarray, count: int, workers: int) -> float:
    """What a user would write: a thread pool over the reference OpenCV calls."""
    def one(_: int) -> bytes:
        small = cv2.resize(pixels, (1920, 1080), interpolation=cv2.INTER_AREA)
        gray = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
        coloured = cv2.applyColorMap(gray, cv2.COLORMAP_HOT)
        _, data = cv2.imencode(".jpg", coloured, [cv2.IMWRITE_JPEG_QUALITY, 90])
        return data.tobytes()

    previous = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        with ThreadPoolExecutor(workers) as pool:
            seconds = timed(lambda: list(pool.map(one, range(count))))
    finally:
        cv2.setNumThreads(previous)
    return count / seconds


def same_filters_threads(frames: list[Image], workers: int) -> float:
    """A bare ThreadPoolExecutor over the same filter objects: the executor's overhead floor."""
    pipeline = FilterPipeline(SEED)
    previous = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        with ThreadPoolExecutor(workers) as pool:
            seconds = timed(lambda: list(pool.map(pipeline.apply, frames)))
    finally:
        cv2.setNumThreads(previous)
    return len(frames) / seconds


def load_pyvips() -> tuple[Any, str]:
    try:
        import pyvips  # type: ignore[import-untyped]

        pyvips.Image.black(1, 1).avg()
        return pyvips, ""
    except Exception as exc:  # ImportError, or OSError when libvips itself is missing
        return None, f"{type(exc).__name__}: {str(exc).splitlines()[0][:60]}"


def pyvips_threads(pyvips: Any, pixels: np.ndarray, count: int, workers: int) -> float:
    h, w, _ = pixels.shape
    source = pyvips.Image.new_from_memory(pixels.tobytes(), w, h, 3, "uchar")
    lut = pyvips.Image.new_from_memory(
        cv2.applyColorMap(np.arange(256, dtype=np.uint8).reshape(256, 1),
                          cv2.COLORMAP_HOT)[:, :, ::-1].tobytes(), 256, 1, 3, "uchar")

    def one(_: int) -> bytes:
        thumb = source.thumbnail_image(1920, height=1080, size="force")
        data: bytes = thumb.colourspace("b-w").maplut(lut).jpegsave_buffer(Q=90)
        return data

    with ThreadPoolExecutor(workers) as pool:
        seconds = timed(lambda: list(pool.map(one, range(count))))
    return count / seconds


def seed_section(args: argparse.Namespace, cpus: int) -> None:
    source = photo_like()
    pixels = source.get_pixels()
    frames = [source] * args.frames
    pyvips, why_not = load_pyvips()
    ratios: dict[str, list[float]] = {k: [] for k in ("batch", "auto", "one", "vs_threads",
                                                      "vs_pyvips", "vs_pool")}
    seq_fps: list[float] = []
    fps: dict[str, list[float]] = {k: [] for k in ("batch", "auto", "one", "threads", "pyvips",
                                                   "pool")}
    run_executor("batch", frames[:4])  # warm-up: imports, colormap tables, page faults
    for _ in range(args.rounds):
        sequential = run_executor("sequential", frames)
        ideal = cpus * sequential
        seq_fps.append(sequential)
        fps["batch"].append(run_executor("batch", frames))
        fps["auto"].append(run_executor("streaming", frames, num_workers="auto"))
        fps["one"].append(run_executor("streaming", frames, num_workers=1))
        fps["threads"].append(handwritten_threads(pixels, args.frames, cpus))
        fps["pool"].append(same_filters_threads(frames, cpus))
        ratios["vs_pool"].append(fps["batch"][-1] / fps["pool"][-1])
        for key in ("batch", "auto", "one"):
            ratios[key].append(fps[key][-1] / ideal)
        ratios["vs_threads"].append(fps["batch"][-1] / fps["threads"][-1])
        if pyvips is not None:
            fps["pyvips"].append(pyvips_threads(pyvips, pixels, args.frames, cpus))
            ratios["vs_pyvips"].append(fps["batch"][-1] / fps["pyvips"][-1])

    print(f"\n## 1. Seed pipeline: {source.width}x{source.height} RGB -> {SEED}")
    print(f"{args.frames} frames x {args.rounds} interleaved rounds; ideal = {cpus} CPUs x "
          f"sequential fps (OpenCV 1 thread), same round\n")
    print("| strategy | fps (median) | ratio (median, min-max) | goal | result |")
    print("|---|---:|---|---|---|")
    print(f"| sequential (OpenCV 1 thread) | {statistics.median(seq_fps):.1f} | "
          f"ideal = {cpus} x {statistics.median(seq_fps):.1f} | | |")
    rows = [("batch", "batch", "of ideal", 0.90),
            ("streaming num_workers=\"auto\"", "auto", "of ideal", 0.80),
            ("streaming 1 thread/stage (reference)", "one", "of ideal", None)]
    for label, key, unit, goal in rows:
        goal_text = f">= {goal:.2f}" if goal else "~0.75 expected"
        result = verdict(ratios[key], goal) if goal else ""
        print(f"| {label} | {statistics.median(fps[key]):.1f} | {median_spread(ratios[key])} "
              f"{unit} | {goal_text} | {result} |")
    print(f"| bare ThreadPoolExecutor({cpus}) over the same filters (overhead floor) | "
          f"{statistics.median(fps['pool']):.1f} | batch is {median_spread(ratios['vs_pool'])} x"
          f" | ~1.0 | |")
    print(f"| hand-written ThreadPoolExecutor({cpus}), INTER_AREA | "
          f"{statistics.median(fps['threads']):.1f} | batch is "
          f"{median_spread(ratios['vs_threads'])} x | >= 4x | "
          f"{verdict(ratios['vs_threads'], 4.0)} |")
    if pyvips is not None:
        print(f"| pyvips thumbnail+maplut+jpegsave, {cpus} threads | "
              f"{statistics.median(fps['pyvips']):.1f} | batch is "
              f"{median_spread(ratios['vs_pyvips'])} x | >= 3x | "
              f"{verdict(ratios['vs_pyvips'], 3.0)} |")
    else:
        print(f"| pyvips | skipped | libvips not loadable ({why_not}) | >= 3x | n/a |")


# -- 2: per-frame overhead -------------------------------------------------------------------

#: the seed's three filters, at a size where the executor's own cost shows
_OVERHEAD_PIPELINE = "resize 0.5 | falsecolor hot | encode jpeg"


def overhead_section(args: argparse.Namespace) -> None:
    pipeline = FilterPipeline(_OVERHEAD_PIPELINE)
    rng = np.random.default_rng(0)
    frames = [Image(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
              for _ in range(args.overhead_frames)]
    filters = pipeline.filters

    def plain() -> None:
        kept = []  # process_all keeps every result too; allocation costs must match
        for image in frames:
            for f in filters:
                image = f.apply(image)
            kept.append(image)

    def through_sequential() -> None:
        with get_executor("sequential", pipeline) as ex:
            ex.process_all(frames)

    previous = cv2.getNumThreads()
    cv2.setNumThreads(1)  # the sequential executor runs OpenCV at one thread too
    try:
        plain()
        ratios = []
        loop_us = []
        for _ in range(args.rounds):
            base = timed(plain)
            ours = timed(through_sequential)
            loop_us.append(1e6 * base / len(frames))
            ratios.append(ours / base)
    finally:
        cv2.setNumThreads(previous)
    print(f"\n## 2. Per-frame overhead: {len(frames):,} 64x64 frames, {_OVERHEAD_PIPELINE}\n")
    print("| comparison | plain loop us/frame | sequential / plain loop (median, min-max) | "
          "goal | result |")
    print("|---|---:|---|---|---|")
    ok = "PASS" if statistics.median(ratios) <= 1.2 else "above goal"
    print(f"| sequential executor vs plain loop | {statistics.median(loop_us):.1f} | "
          f"{median_spread(ratios)} x | <= 1.2x | {ok} |")


# -- 3: process vs batch on a GIL-holding filter -----------------------------------------------


def gil_section(args: argparse.Namespace) -> None:
    print("\n## 3. process vs batch: 1920x1080 frames through hold_gil ms=10, 2 workers each\n")
    names = {e.name for e in list_executors()}
    if "process" not in names:
        print("skipped: the process executor is not registered")
        return
    pixels = np.random.default_rng(1).integers(0, 256, (1080, 1920, 3), dtype=np.uint8)
    frames = [Image(pixels)] * args.gil_frames
    spec = "hold_gil ms=10"

    def run(name: str) -> float:
        with get_executor(name, spec, num_workers=2) as ex:
            ex.process_all(frames[:2])  # workers started (process: spawned) before timing
            seconds = timed(lambda: ex.process_all(frames))
        return len(frames) / seconds

    ratios, batch_fps, process_fps = [], [], []
    for _ in range(args.rounds):
        batch_fps.append(run("batch"))
        process_fps.append(run("process"))
        ratios.append(process_fps[-1] / batch_fps[-1])
    print("| batch fps | process fps | process / batch (median, min-max) | goal | result |")
    print("|---:|---:|---|---|---|")
    print(f"| {statistics.median(batch_fps):.1f} | {statistics.median(process_fps):.1f} | "
          f"{median_spread(ratios)} x | >= 1.7x | {verdict(ratios, 1.7)} |")


# -- 4: memory of imap over a long generator -----------------------------------------------------

_RSS_PIPELINE = "resize 0.5 | falsecolor hot | encode jpeg"
_RSS_SHAPE = (1080, 1920, 3)


def rss_child(count: int) -> None:
    """Run in a subprocess: imap ``count`` fresh 1080p frames, print peak RSS in KiB."""
    base = np.random.default_rng(2).integers(0, 256, _RSS_SHAPE, dtype=np.uint8)

    def source() -> Iterator[Image]:
        for i in range(count):
            yield Image(base + np.uint8(i % 7), metadata={"frame": i})  # a new array each

    with get_executor("batch", _RSS_PIPELINE) as ex:
        window = ex.default_window
        done = sum(1 for _ in ex.imap(source()))
    assert done == count
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, window)


def rss_section(args: argparse.Namespace) -> None:
    def peak(count: int) -> tuple[int, int]:
        out = subprocess.run([sys.executable, __file__, "--rss-child", str(count)],
                             check=True, capture_output=True, text=True).stdout.split()
        return int(out[0]), int(out[1])

    short, window = peak(30)
    long, _ = peak(args.rss_frames)
    frame_mib = np.prod(_RSS_SHAPE) / 2**20
    growth = (long - short) / 1024
    print(f"\n## 4. Memory: peak RSS of batch imap over a generator of fresh 1920x1080 frames "
          f"({_RSS_PIPELINE})\n")
    print("| frames | peak RSS MiB | growth vs 30 frames | window x frame size | result |")
    print("|---:|---:|---:|---:|---|")
    print(f"| 30 | {short / 1024:.0f} | | | |")
    ok = "PASS (flat)" if growth <= window * frame_mib else "grows"
    print(f"| {args.rss_frames:,} | {long / 1024:.0f} | {growth:+.0f} MiB | "
          f"{window} x {frame_mib:.1f} = {window * frame_mib:.0f} MiB | {ok} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=60, help="seed-pipeline frames a round")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds")
    parser.add_argument("--overhead-frames", type=int, default=10_000)
    parser.add_argument("--gil-frames", type=int, default=40)
    parser.add_argument("--rss-frames", type=int, default=1000)
    parser.add_argument("--quick", action="store_true",
                        help="short run: 20 frames, 3 rounds, smaller sections")
    parser.add_argument("--only", choices=["seed", "overhead", "gil", "rss"], action="append",
                        help="run only these sections (repeatable)")
    parser.add_argument("--rss-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss_child is not None:
        rss_child(args.rss_child)
        return
    if args.quick:
        args.frames, args.rounds = min(args.frames, 20), min(args.rounds, 3)
        args.overhead_frames = min(args.overhead_frames, 3000)
        args.gil_frames = min(args.gil_frames, 20)
        args.rss_frames = min(args.rss_frames, 300)
    cpus = available_cpus()
    print(f"# imagestag executor benchmark\n\nmachine: {platform.processor() or platform.machine()}"
          f", {cpus} CPUs available, Python {platform.python_version()}, "
          f"OpenCV {cv2.__version__}, numpy {np.__version__}")
    print(f"load average at start: {os.getloadavg()[0]:.2f} (ratios need an otherwise idle "
          f"machine)")
    sections = args.only or ["seed", "overhead", "gil", "rss"]
    if "seed" in sections:
        seed_section(args, cpus)
    if "overhead" in sections:
        overhead_section(args)
    if "gil" in sections:
        gil_section(args)
    if "rss" in sections:
        rss_section(args)
    print(f"\nload average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
