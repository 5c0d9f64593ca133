"""Files to files: the ``dask`` executor's path mode vs ``batch`` on the same machine.

The job: a folder of JPEGs (generated in a temp dir) -> resize -> falsecolor ->
encode jpeg -> an output folder.  Both sides do the whole job per frame:

* ``batch``: what a user writes with the thread pool: the main thread reads
  each file (bytes + header), the workers decode and run the pipeline, the
  main thread writes the encoded result;
* ``dask``: ``process_paths`` on a local cluster of worker processes, which
  read and write the files themselves; only paths travel.

Rounds are interleaved and the median ratio (dask fps / batch fps) is printed
with its spread.  The cluster start-up is reported separately (it is paid
once per process: the executor reuses a shared cluster).

    .venv/bin/python tests/perf/bench_dask.py [--frames 40] [--rounds 3]
        [--size 2736x1824] [--workers N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from imagestag_plugins.app.samples import photo_like

from imagestag_core import FilterPipeline, get_executor
from imagestag_core.executor import available_cpus

SPEC = "resize 1280x720 | falsecolor hot | encode jpeg"


def make_inputs(folder: Path, frames: int, size: tuple[int, int]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(frames):
        # distinct content per file so no codec or cache can shortcut
        image = photo_like(size[0], size[1], seed=i)
        paths.append(image.save(folder / f"frame_{i:03d}.jpg", quality=90))
    return paths


def run_batch(pipeline: FilterPipeline, inputs: list[Path], out: Path, workers: int) -> float:
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with get_executor("batch", pipeline, num_workers=workers) as ex:
        for path, result in zip(inputs, ex.imap(inputs)):
            target = out / (path.stem + ".jpg")
            tmp = target.with_name(f".{target.name}.tmp")
            tmp.write_bytes(result.encoded)
            os.replace(tmp, target)
    return time.perf_counter() - t0


def run_dask(executor: object, inputs: list[Path], out: Path) -> float:
    t0 = time.perf_counter()
    results = executor.process_paths(inputs, out)  # type: ignore[attr-defined]
    elapsed = time.perf_counter() - t0
    assert len(results) == len(inputs)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--size", default="2736x1824")
    parser.add_argument("--workers", type=int, default=available_cpus())
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.lower().split("x"))
    assert len(size) == 2
    from imagestag_dask import DaskPipelineExecutor

    pipeline = FilterPipeline.parse(SPEC)
    with tempfile.TemporaryDirectory(prefix="bench_dask_") as tmp:
        root = Path(tmp)
        inputs = make_inputs(root / "in", args.frames, (size[0], size[1]))
        t0 = time.perf_counter()
        dask = DaskPipelineExecutor(pipeline, num_workers=args.workers)
        dask.start()
        startup = time.perf_counter() - t0
        ratios, batch_fps, dask_fps = [], [], []
        try:
            run_dask(dask, inputs[: args.workers * 2], root / "warm")  # import + first build
            for r in range(args.rounds):
                tb = run_batch(pipeline, inputs, root / f"batch{r}", args.workers)
                td = run_dask(dask, inputs, root / f"dask{r}")
                batch_fps.append(args.frames / tb)
                dask_fps.append(args.frames / td)
                ratios.append(dask_fps[-1] / batch_fps[-1])
                print(f"round {r}: batch {batch_fps[-1]:6.1f} fps  dask {dask_fps[-1]:6.1f} fps"
                      f"  ratio {ratios[-1]:.2f}")
            metrics = dask.get_metrics()
        finally:
            dask.close()
    print(f"\n{SPEC!r}, {args.frames} JPEGs of {size[0]}x{size[1]}, {args.workers} workers, "
          f"{args.rounds} interleaved rounds, {available_cpus()} CPUs")
    print(f"dask cluster start + worker check: {startup:.2f}s (once per process)")
    print(f"batch median {statistics.median(batch_fps):.1f} fps; "
          f"dask path mode median {statistics.median(dask_fps):.1f} fps")
    print(f"dask / batch: median {statistics.median(ratios):.2f} "
          f"(min {min(ratios):.2f}, max {max(ratios):.2f}; goal >= 0.70)")
    print("dask stages: " + ", ".join(f"{s.stage_name} {s.avg_time_ms:.1f} ms"
                                      for s in metrics.stages))


if __name__ == "__main__":
    main()
