"""``imagestag run``: a pipeline over files, folders, globs, a video file or a camera."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Any

from imagestag_core import hookimpl

__all__ = ["RunCommand"]


class _Interrupt:
    """First Ctrl-C: stop feeding, finish and write what is in flight.  Second: abort."""

    def __init__(self, control: Any) -> None:
        self.control = control
        self.previous: Any = None

    def __enter__(self) -> _Interrupt:
        self.previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.control.stop.is_set():
            raise KeyboardInterrupt
        self.control.stop.set()
        print("\nimagestag: interrupted; finishing the frames in flight "
              "(Ctrl-C again to abort)", file=sys.stderr)

    def __exit__(self, *exc: Any) -> None:
        signal.signal(signal.SIGINT, self.previous)


def _bitrate(text: str) -> int:
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:].lower(), 1)
    try:
        value = float(text[:-1] if scale > 1 else text) * scale
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a bit rate: {text!r} (e.g. 2M, 800k)") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"the bit rate must be positive, got {text!r}")
    return int(value)


class RunCommand:
    """``imagestag run SPEC INPUT... -o OUT [--executor NAME] [-j N] [--on-error raise|skip]
    [--executor-option KEY=VALUE]... [--overwrite] [--name TEMPLATE] [--live] [--camera N]
    [--video-backend NAME] [--video-codec NAME]
    [--crf N | --bitrate B] [--trace FILE.json] [-q]``."""

    name = "run"
    help = "run a pipeline over files, folders, globs or a video"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        parser.description = "Runs SPEC over the inputs and writes the results to OUT."
        parser.add_argument("spec", metavar="SPEC", help='pipeline text, e.g. "resize '
                            '1920x1080 | falsecolor hot | encode jpeg"')
        parser.add_argument("inputs", metavar="INPUT", nargs="*",
                            help="image files, folders (recursive), globs, or one video file")
        parser.add_argument("-o", "--output", required=True,
                            help="output folder, or a video file for video input")
        parser.add_argument("--executor", default=None,
                            help="executor name (default batch; streaming for video)")
        parser.add_argument("-j", "--workers", type=int, default=None, help="workers")
        parser.add_argument("--executor-option", action="append", default=[],
                            metavar="KEY=VALUE", dest="executor_options",
                            help="an option of the executor, typed as it declares it "
                                 "(repeatable), e.g. --executor dask --executor-option "
                                 "address=tcp://10.0.0.5:8786; 'imagestag plugins' lists "
                                 "each executor's options")
        parser.add_argument("--on-error", default="raise", choices=("raise", "skip"),
                            help="stop at the first failing input (default) or skip it "
                                 "and go on")
        parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
        parser.add_argument("--name", metavar="TEMPLATE", default=None,
                            help="file name of each rendition of a pipeline that ends in tee "
                                 "(default '{stem}-{branch}.{ext}')")
        parser.add_argument("--camera", type=int, default=None, metavar="N",
                            help="read camera N instead of files (live)")
        parser.add_argument("--live", action="store_true",
                            help="video file paced at its fps, dropping frames under overload")
        parser.add_argument("--video-backend", metavar="NAME", default=None,
                            help="video back-end (pyav, opencv; default: the best "
                                 "installed one that opens the input)")
        parser.add_argument("--video-codec", metavar="NAME", default=None,
                            help="video encoder (default libx264 for .mp4/.mov/.mkv, "
                                 "libvpx-vp9 for .webm), e.g. libaom-av1")
        quality = parser.add_mutually_exclusive_group()
        quality.add_argument("--crf", type=int, default=None, metavar="N",
                             help="constant quality of the video encoder (x264: 0-51)")
        quality.add_argument("--bitrate", type=_bitrate, default=None, metavar="B",
                             help="video bit rate in bits/s (suffix k or M: 2M)")
        parser.add_argument("--trace", metavar="FILE.json",
                            help="write a Chrome trace of the stages")
        parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")

    def run(self, args: argparse.Namespace) -> int:
        from imagestag_core.pipeline import FilterPipeline
        from imagestag_core.plugins import get_executor_class, get_plugin_manager

        from ..app.executor_options import parse_executor_options
        from ..app.output import EXIT_ERROR, EXIT_INTERRUPTED, CLIError, progress, write_json
        from ..app.planning import check_output_dir, plan_jobs, rendition_branches
        from ..app.reports import print_run_summary
        from ..app.runner import RunControl, run_files
        from ..app.video import VideoOptions, is_animation, is_video, open_reader, run_video

        pipeline = FilterPipeline.parse(args.spec)
        if args.on_error not in ("raise", "skip"):
            raise CLIError(f"--on-error must be 'raise' or 'skip', got {args.on_error!r}")
        get_plugin_manager().executors.lookup(args.executor or "batch")
        out = Path(args.output)
        control = RunControl()
        video_in = args.camera is not None or (len(args.inputs) == 1 and (
            is_video(args.inputs[0]) or is_animation(args.inputs[0])))
        if args.camera is not None and args.inputs:
            raise CLIError("give either --camera N or input files, not both")
        if not video_in and not args.inputs:
            raise CLIError("no inputs: give files, folders or globs (or --camera N)")
        if args.live and not video_in:
            raise CLIError("--live applies to video input only")
        if video_in and (args.name is not None or rendition_branches(pipeline) is not None):
            raise CLIError("renditions (a pipeline ending in tee, --name) are written for "
                           "image files; a video is written as one stream")
        executor = args.executor or ("streaming" if video_in else "batch")
        options = parse_executor_options(executor, get_executor_class(executor),
                                         args.executor_options)
        if video_in:
            source: str | int = args.camera if args.camera is not None else args.inputs[0]
            video = VideoOptions(args.video_backend, args.video_codec, args.crf, args.bitrate)
            if args.crf is not None and args.crf < 0:
                raise CLIError(f"--crf must be 0 or more, got {args.crf}")
            if video.backend is not None:
                get_plugin_manager().video_backends.lookup(video.backend)
            reader = None
            if isinstance(source, int) or Path(source).is_file():
                reader = open_reader(source, video)
            control.progress = progress(getattr(reader, "frame_count", None), executor,
                                        args.quiet)
            try:
                with _Interrupt(control):
                    report = run_video(pipeline, source, out, executor=executor,
                                       workers=args.workers, live=args.live,
                                       on_error=args.on_error, overwrite=args.overwrite,
                                       trace=bool(args.trace), control=control,
                                       video=video, reader=reader, executor_options=options)
            finally:
                control.progress.close()
        else:
            check_output_dir(out)
            plan = plan_jobs(args.inputs, out, pipeline, overwrite=args.overwrite,
                             name=args.name)
            jobs = plan.jobs
            control.progress = progress(len(jobs), executor, args.quiet)
            try:
                with _Interrupt(control):
                    report = run_files(pipeline, jobs, executor=executor, workers=args.workers,
                                       on_error=args.on_error, trace=bool(args.trace),
                                       control=control, executor_options=options)
            finally:
                control.progress.close()
            report.skipped_existing, report.ignored = plan.skipped_existing, plan.ignored
            report.hidden = plan.hidden
            report.skipped, report.output = plan.skipped, str(out)
        if args.trace and report.trace is not None:
            write_json(Path(args.trace), report.trace)
        print_run_summary(report, video_in)
        if report.interrupted:
            return EXIT_INTERRUPTED
        return EXIT_ERROR if report.failures else 0


@hookimpl
def register_commands(register: Any) -> None:
    register(RunCommand())
