"""``imagestag bench``: every registered executor on the same pipeline (the seed's report)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from imagestag_core import hookimpl

from .demo import SEED_PIPELINE

__all__ = ["SEED_TARGET_FPS", "BenchCommand"]

SEED_TARGET_FPS = 60.0


def _options_per_executor(entries: list[Any], items: list[str]) -> dict[str, dict[str, Any]]:
    """``--executor-option`` items as typed options of each executor that declares the key;
    a key none of them declares is an error naming the closest one they do."""
    from difflib import get_close_matches

    from ..app.executor_options import parse_executor_options
    from ..app.output import CLIError

    owned = {"trace": "--trace", "num_workers": "--workers"}
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        key = item.partition("=")[0].strip().replace("-", "_")
        takers = [e for e in entries if key in e.obj.accepted_options()]
        if not takers and "=" in item:
            known = sorted({o for e in entries for o in e.obj.accepted_options()})
            close = get_close_matches(key, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise CLIError(f"no benchmarked executor ({', '.join(e.name for e in entries)}) "
                           f"has an option {key!r}{hint} ('imagestag plugins' lists them)")
        for entry in takers or entries[:1]:
            out.setdefault(entry.name, {}).update(
                parse_executor_options(entry.name, entry.obj, [item], owned=owned))
    return out


class BenchCommand:
    """``imagestag bench [--source PATH] [--pipeline SPEC] [--frames N] [--executors a,b]
    [--workers N] [--executor-option KEY=VALUE]... [--target-fps F] [--json] [--plot FILE.png]
    [--trace FILE.json]``."""

    name = "bench"
    help = "compare every executor on a pipeline (the seed's report)"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        parser.description = "Times every registered executor on the same frames."
        parser.add_argument("--source", default=None,
                            help="image file (default: the embedded 20 MP photo-like source)")
        parser.add_argument("--pipeline", default=SEED_PIPELINE,
                            help=f"pipeline spec (default '{SEED_PIPELINE}')")
        parser.add_argument("--frames", type=int, default=30, help="timed frames per executor")
        parser.add_argument("--executors", default=None,
                            help="comma-separated names (default: all)")
        parser.add_argument("--workers", type=int, default=None,
                            help="workers for executors that take num_workers")
        parser.add_argument("--executor-option", action="append", default=[],
                            metavar="KEY=VALUE", dest="executor_options",
                            help="an option for every benchmarked executor that declares it "
                                 "(repeatable); 'imagestag plugins' lists each executor's "
                                 "options")
        parser.add_argument("--target-fps", type=float, default=SEED_TARGET_FPS,
                            help=f"PASSED/FAILED threshold (default {SEED_TARGET_FPS:g}, "
                                 f"as the seed)")
        parser.add_argument("--json", action="store_true", help="print only JSON on stdout")
        parser.add_argument("--plot", metavar="FILE.png",
                            help="chart fps vs ideal and stage times")
        parser.add_argument("--trace", metavar="FILE.json",
                            help="Chrome trace of the timed frames")

    def run(self, args: argparse.Namespace) -> int:
        from imagestag_core.image import Image
        from imagestag_core.pipeline import FilterPipeline
        from imagestag_core.plugins import get_plugin_manager

        from ..app.benchmark import Benchmark
        from ..app.output import CLIError, note, write_json
        from ..app.reports import plot_benchmark, require_matplotlib

        pipeline = FilterPipeline.parse(args.pipeline)
        if args.frames < 1:
            raise CLIError(f"--frames must be >= 1, got {args.frames}")
        source = Image(args.source) if args.source else None
        executors = [n.strip() for n in args.executors.split(",") if n.strip()] \
            if args.executors else None
        manager = get_plugin_manager()
        # an unknown name or option fails before any timing
        entries = [manager.executors.lookup(n) for n in executors] if executors \
            else manager.executors.list()
        options = _options_per_executor(entries, args.executor_options)
        if args.plot:
            require_matplotlib()
        if not args.json:
            print(f"Running {args.pipeline!r} on "
                  f"{'the embedded 20 MP photo-like source' if source is None else args.source}"
                  f" ({args.frames} frames per executor)...", file=sys.stderr)
        result = Benchmark.run_pipeline(
            pipeline, source=source, num_frames=args.frames, target_fps=args.target_fps,
            executors=executors, num_workers=args.workers, trace=bool(args.trace),
            show_progress=not args.json, executor_options=options)
        if args.json:
            print(result.to_json())
        else:
            result.print()
        if args.trace:
            write_json(Path(args.trace), result.trace_events())
            note(args, f"trace: {args.trace} (open in https://ui.perfetto.dev or "
                       f"chrome://tracing)")
        if args.plot:
            plot_benchmark(result, Path(args.plot))
            note(args, f"plot: {args.plot}")
        return 0


@hookimpl
def register_commands(register: Any) -> None:
    register(BenchCommand())
