"""``imagestag demo``: the seed's pipeline over frames of a generated 20 MP photo-like scene."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from imagestag_core import hookimpl

__all__ = ["DEFAULT_DEMO_DIR", "SEED_PIPELINE", "DemoCommand"]

SEED_PIPELINE = "resize 1920x1080 | falsecolor hot | encode jpeg"
DEFAULT_DEMO_DIR = "imagestag-out"


class DemoCommand:
    """``imagestag demo [-o DIR] [--frames N] [--executor NAME] [-j N] [-q]``."""

    name = "demo"
    help = "the main job on a generated 20 MP photo-like source"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        parser.description = (f"Runs '{SEED_PIPELINE}' over frames of a generated 20 MP "
                              f"photo-like scene and writes the JPEGs.")
        parser.add_argument("-o", "--output", default=DEFAULT_DEMO_DIR,
                            help=f"output folder (default ./{DEFAULT_DEMO_DIR})")
        parser.add_argument("--frames", type=int, default=30,
                            help="frames to process (default 30)")
        parser.add_argument("--executor", default="batch", help="executor name (default batch)")
        parser.add_argument("-j", "--workers", type=int, default=None, help="worker threads")
        parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")

    def run(self, args: argparse.Namespace) -> int:
        from imagestag_core.atomic import write_atomic
        from imagestag_core.image import Image
        from imagestag_core.pipeline import FilterPipeline

        from ..app.output import CLIError, progress
        from ..app.planning import check_output_dir
        from ..app.runner import build_executor
        from ..app.samples import PHOTO_HEIGHT, PHOTO_WIDTH, photo_like_array

        if args.frames < 1:
            raise CLIError(f"--frames must be >= 1, got {args.frames}")
        out = Path(args.output)
        check_output_dir(out)
        pipeline = FilterPipeline.parse(SEED_PIPELINE)
        step = 6
        # one tall scene; frame i is a zero-copy window i*step rows down (a slow pan),
        # so the frames differ without generating 20 MP per frame
        scene = photo_like_array(PHOTO_WIDTH, PHOTO_HEIGHT + step * (args.frames - 1))
        frames = (Image(scene[i * step:i * step + PHOTO_HEIGHT], "rgb")
                  for i in range(args.frames))
        executor = build_executor(args.executor, pipeline, workers=args.workers, trace=False)
        print(f"imagestag demo: {args.frames} frames of a generated {PHOTO_WIDTH}x{PHOTO_HEIGHT} "
              f"({PHOTO_WIDTH * PHOTO_HEIGHT / 1e6:.2f} MP) photo-like source\n"
              f"  pipeline: {SEED_PIPELINE}\n"
              f"  executor: {args.executor} ({executor.num_workers} workers)")
        written: list[Path] = []
        bar = progress(args.frames, args.executor, args.quiet)
        t0 = time.perf_counter()
        try:
            with executor:
                for seq, result in executor.imap(frames, with_seq=True):
                    codec = result.codec
                    ext = codec.extensions[0] if codec is not None else ".png"
                    dst = out / f"demo_{seq:04d}{ext}"
                    write_atomic(dst, result.encoded if result.encoded is not None
                                 else result.encode("png"))
                    written.append(dst)
                    bar.update(1)
        finally:
            bar.close()
        elapsed = time.perf_counter() - t0
        size = Image(written[0]).size
        print(f"wrote {len(written)} images ({size[0]}x{size[1]} {written[0].suffix[1:]}) to "
              f"{out.resolve()}/ in {elapsed:.2f} s: {len(written) / elapsed:.1f} fps\n"
              f"  first: {written[0].resolve()}\n"
              f"next: 'imagestag bench' compares every executor; 'imagestag run SPEC photos/ "
              f"-o out/' runs your own files")
        return 0


@hookimpl
def register_commands(register: Any) -> None:
    register(DemoCommand())
