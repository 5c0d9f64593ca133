"""The ``imagestag`` command.

Subcommands::

    imagestag demo  [-o DIR] [--frames N] [--executor batch] [-j N]
    imagestag run   SPEC INPUT... -o OUT [--executor NAME] [-j N] [--on-error raise|skip]
                    [--overwrite] [--live] [--camera N] [--trace FILE.json]
    imagestag bench [--source PATH] [--pipeline SPEC] [--frames N] [--executors a,b]
                    [--workers N] [--target-fps F] [--json] [--plot FILE.png]
                    [--trace FILE.json]
    imagestag plugins [--json]
    imagestag filters [NAME] [--json]

Bad input (an unknown filter, a malformed spec, a missing input, an
unwritable output folder) prints one line on stderr and exits with status 1;
usage errors exit with 2 (argparse), an interrupted run with 130.
Reference: ``docs/cli.md``.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from . import __version__
from .errors import ImagestagError, SpecError
from .params import REQUIRED, ParamSpec
from .pipeline import FilterPipeline
from .plugins import PluginWarning, RegistryEntry, get_plugin_manager

__all__ = ["main"]

SEED_PIPELINE = "resize 1920x1080 | falsecolor hot | encode jpeg"
SEED_TARGET_FPS = 60.0
DEFAULT_DEMO_DIR = "imagestag-out"
EXIT_ERROR = 1
EXIT_INTERRUPTED = 130


class CLIError(ImagestagError):
    """A problem with what the user asked for, reported as one line."""


# -- output helpers ----------------------------------------------------------------------


def _err(message: str) -> None:
    print(f"imagestag: {message}", file=sys.stderr)


def _one_line(exc: BaseException) -> str:
    """The error as one line (a spec error keeps its position and expectation)."""
    if isinstance(exc, SpecError) and exc.position is not None:
        text = f"invalid pipeline spec: {exc.reason} at position {exc.position}"
        if exc.text is not None:
            text += f" of {exc.text!r}"
        if exc.expected:
            text += f" (expected {exc.expected})"
        return text
    if isinstance(exc, OSError) and not isinstance(exc, ImagestagError):
        where = f" {exc.filename!r}" if exc.filename else ""
        return f"{exc.strerror or exc}{where}"
    return " ".join(str(exc).split())


def _progress(total: int | None, desc: str, quiet: bool) -> Any:
    from tqdm import tqdm

    # disable=None: a bar on a terminal, nothing when stderr is a pipe or a file
    return tqdm(total=total, desc=desc, unit="frame", file=sys.stderr, leave=False,
                disable=True if quiet else None)


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if value is REQUIRED:
        return None
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return repr(value)


# -- plugins ---------------------------------------------------------------------------


def _entry_dict(entry: RegistryEntry) -> dict[str, Any]:
    obj = entry.obj
    out: dict[str, Any] = {"name": entry.name, "aliases": list(entry.aliases),
                           "distribution": entry.distribution, "version": entry.version,
                           "plugin": entry.plugin}
    if isinstance(obj, type):
        out["class"] = f"{obj.__module__}.{obj.__qualname__}"
    return out


def _error_dict(error: Exception) -> dict[str, Any]:
    out: dict[str, Any] = {"type": type(error).__name__, "message": str(error)}
    for attr in ("plugin", "distribution", "kind", "name", "first", "second"):
        value = getattr(error, attr, None)
        if value is not None:
            out[attr] = value if isinstance(value, str) else str(value)
    return out


def _provider(entry: RegistryEntry) -> str:
    if entry.distribution:
        return f"{entry.distribution} {entry.version or ''}".strip()
    return f"(plugin {entry.plugin})"


def cmd_plugins(args: argparse.Namespace) -> int:
    manager = get_plugin_manager()
    if args.json:
        codecs = []
        for entry in manager.codecs.list():
            item = _entry_dict(entry)
            item.update(extensions=list(entry.obj.extensions), mime_type=entry.obj.mime_type)
            codecs.append(item)
        doc = {
            "imagestag": __version__,
            "filters": [_entry_dict(e) for e in manager.filters.list()],
            "executors": [_entry_dict(e) for e in manager.executors.list()],
            "codecs": codecs,
            "colormaps": [_entry_dict(e) for e in manager.colormaps.list()],
            "load_errors": [_error_dict(e) for e in manager.load_errors],
            "skipped": [{"entry_point": n, "reason": r} for n, r in manager.skipped],
        }
        print(json.dumps(doc, indent=2))
        return 0
    print(f"imagestag {__version__}")
    for title, registry in (("Filters", manager.filters), ("Executors", manager.executors)):
        entries = registry.list()
        print(f"\n{title} ({len(entries)}):")
        for entry in entries:
            aliases = f"  aliases: {', '.join(entry.aliases)}" if entry.aliases else ""
            print(f"  {entry.name:<18} {_provider(entry):<22}{aliases}".rstrip())
    codec_entries = manager.codecs.list()
    print(f"\nCodecs ({len(codec_entries)}):")
    for entry in codec_entries:
        exts = " ".join(entry.obj.extensions)
        print(f"  {entry.name:<18} {_provider(entry):<22}  {exts}  {entry.obj.mime_type}")
    maps = manager.colormaps.list()
    print(f"\nColormaps ({len(maps)}; 'imagestag plugins --json' lists them all):")
    by_provider: dict[str, list[str]] = {}
    for entry in maps:
        by_provider.setdefault(_provider(entry), []).append(entry.name)
    for provider, names in by_provider.items():
        preview = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
        print(f"  {provider:<22} {len(names):>4} colormaps ({preview})")
    if manager.load_errors:
        print(f"\nLoad errors ({len(manager.load_errors)}):")
        for error in manager.load_errors:
            print(f"  {error}")
    if manager.skipped:
        print(f"\nSkipped entry points ({len(manager.skipped)}):")
        for name, reason in manager.skipped:
            print(f"  {name}: {reason}")
    return 0


# -- filters ---------------------------------------------------------------------------


def _doc_summary(cls: type) -> str:
    doc = (cls.__doc__ or "").strip()
    first = " ".join(doc.split("\n\n")[0].split()) if doc else ""
    # reST roles and literals read badly in a terminal
    return re.sub(r":\w+:`~?([^`]+)`", r"\1", first).replace("``", "")


def _format_value(value: Any) -> str:
    from .spec import format_value

    if value is REQUIRED:
        return "(required)"
    try:
        return format_value(value)
    except ImagestagError:
        return repr(value)


def _example_spec(entry: RegistryEntry) -> str:
    """A spec a person can copy: as many declared examples as combine, else the minimum."""
    cls = entry.obj
    values: dict[str, Any] = {}
    for p in cls.params:
        if p.example is REQUIRED:
            continue
        try:
            cls(**values, **{p.name: p.example})
        except Exception:
            # e.g. resize's size and scale exclude each other: keep the first
            continue
        values[p.name] = p.example
    try:
        return str(cls(**values).to_string())
    except Exception:
        missing = " ".join(f"{p.name}=<{p.type_text}>" for p in cls.params if p.required)
        return f"{entry.name} {missing}".strip()


def _param_range(p: ParamSpec) -> str:
    if p.min is None and p.max is None:
        return ""
    lo = "" if p.min is None else f"{p.min:g}"
    hi = "" if p.max is None else f"{p.max:g}"
    return f"{lo}..{hi}"


def _filter_dict(entry: RegistryEntry) -> dict[str, Any]:
    cls = entry.obj
    out = _entry_dict(entry)
    out["doc"] = _doc_summary(cls)
    out["params"] = [{"name": p.name, "type": p.type_text, "required": p.required,
                      "default": _jsonable(p.default), "min": p.min, "max": p.max,
                      "doc": p.doc,
                      "example": None if p.example is REQUIRED else _jsonable(p.example)}
                     for p in cls.params]
    out["example"] = _example_spec(entry)
    return out


def _print_filter(entry: RegistryEntry) -> None:
    cls = entry.obj
    aliases = f"; aliases: {', '.join(entry.aliases)}" if entry.aliases else ""
    print(f"{entry.name}  [{_provider(entry)}{aliases}]")
    summary = _doc_summary(cls)
    if summary:
        print(f"  {summary}")
    if cls.params:
        print("  parameters (positional in this order, or key=value):")
        width = max(len(p.name) for p in cls.params)
        for p in cls.params:
            extra = [f"default {_format_value(p.default)}" if not p.required else "required"]
            if _param_range(p):
                extra.append(f"range {_param_range(p)}")
            print(f"    {p.name:<{width}}  {p.type_text}  ({'; '.join(extra)})")
            if p.doc:
                print(f"    {'':<{width}}  {' '.join(p.doc.split())}")
    else:
        print("  parameters: none")
    print(f"  example: {_example_spec(entry)}")


def cmd_filters(args: argparse.Namespace) -> int:
    manager = get_plugin_manager()
    entries = [manager.filters.lookup(args.name)] if args.name else manager.filters.list()
    if args.json:
        doc: Any = [_filter_dict(e) for e in entries]
        print(json.dumps(doc[0] if args.name else doc, indent=2))
        return 0
    for i, entry in enumerate(entries):
        if i:
            print()
        _print_filter(entry)
    if not args.name:
        print("\nCompose stages with '|': imagestag run \"resize 1920x1080 | falsecolor hot | "
              "encode jpeg\" photos/ -o out/")
    return 0


# -- demo ------------------------------------------------------------------------------


def cmd_demo(args: argparse.Namespace) -> int:
    from .image import Image
    from .runner import atomic_write, build_executor, check_output_dir
    from .samples import PHOTO_HEIGHT, PHOTO_WIDTH, photo_like_array

    if args.frames < 1:
        raise CLIError(f"--frames must be >= 1, got {args.frames}")
    out = Path(args.output)
    check_output_dir(out)
    pipeline = FilterPipeline.parse(SEED_PIPELINE)
    step = 6
    # one tall scene; frame i is a zero-copy window i*step rows down (a slow pan),
    # so the frames differ without generating 20 MP per frame
    scene = photo_like_array(PHOTO_WIDTH, PHOTO_HEIGHT + step * (args.frames - 1))
    frames = (Image(scene[i * step:i * step + PHOTO_HEIGHT], "rgb") for i in range(args.frames))
    executor = build_executor(args.executor, pipeline, workers=args.workers, trace=False)
    print(f"imagestag demo: {args.frames} frames of a generated {PHOTO_WIDTH}x{PHOTO_HEIGHT} "
          f"({PHOTO_WIDTH * PHOTO_HEIGHT / 1e6:.2f} MP) photo-like source\n"
          f"  pipeline: {pipeline.to_string()}\n"
          f"  executor: {args.executor} ({executor.num_workers} workers)")
    written: list[Path] = []
    bar = _progress(args.frames, args.executor, args.quiet)
    t0 = time.perf_counter()
    try:
        with executor:
            for seq, result in executor.imap(frames, with_seq=True):
                codec = result.codec
                ext = codec.extensions[0] if codec is not None else ".png"
                dst = out / f"demo_{seq:04d}{ext}"
                atomic_write(dst, result.encoded if result.encoded is not None
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
          f"next: 'imagestag bench' compares every executor; 'imagestag run SPEC photos/ -o out/' "
          f"runs your own files")
    return 0


# -- bench -----------------------------------------------------------------------------


def cmd_bench(args: argparse.Namespace) -> int:
    from .benchmark import Benchmark
    from .image import Image

    pipeline = FilterPipeline.parse(args.pipeline)
    if args.frames < 1:
        raise CLIError(f"--frames must be >= 1, got {args.frames}")
    source = Image(args.source) if args.source else None
    executors = [n.strip() for n in args.executors.split(",") if n.strip()] \
        if args.executors else None
    if executors:
        manager = get_plugin_manager()
        for name in executors:
            manager.executors.lookup(name)  # an unknown name fails before any timing
    if args.plot:
        _require_matplotlib()
    if not args.json:
        print(f"Running {args.pipeline!r} on "
              f"{'the embedded 20 MP photo-like source' if source is None else args.source}"
              f" ({args.frames} frames per executor)...", file=sys.stderr)
    result = Benchmark.run_pipeline(
        pipeline, source=source, num_frames=args.frames, target_fps=args.target_fps,
        executors=executors, num_workers=args.workers, trace=bool(args.trace),
        show_progress=not args.json)
    if args.json:
        print(result.to_json())
    else:
        result.print()
    if args.trace:
        _write_json(Path(args.trace), result.trace_events())
        _note(args, f"trace: {args.trace} (open in https://ui.perfetto.dev or chrome://tracing)")
    if args.plot:
        plot_benchmark(result, Path(args.plot))
        _note(args, f"plot: {args.plot}")
    return 0


def _note(args: argparse.Namespace, text: str) -> None:
    # with --json, stdout carries the JSON document only
    print(text, file=sys.stderr if getattr(args, "json", False) else sys.stdout)


def _write_json(path: Path, doc: Any) -> None:
    from .runner import atomic_write

    atomic_write(path, json.dumps(doc).encode())


def _require_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise CLIError("--plot needs matplotlib: pip install 'imagestag[plot]'") from None


def plot_benchmark(result: Any, path: Path) -> None:
    """A PNG with fps per executor against the ideal, and each executor's stage times."""
    _require_matplotlib()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = [r for r in result.runs if not r.error]
    labels = [r.label for r in runs]
    fig, (ax_fps, ax_stage) = plt.subplots(1, 2, figsize=(13, 5.8))
    bars = ax_fps.barh(labels, [r.fps for r in runs], color="#3b7dd8")
    for bar, r in zip(bars, runs):
        frac = f" ({r.fraction_of_ideal:.0%} of ideal)" if r.fraction_of_ideal else ""
        ax_fps.text(bar.get_width(), bar.get_y() + bar.get_height() / 2,
                    f" {r.fps:.1f}{frac}", va="center", fontsize=9)
    if result.ideal_fps:
        ax_fps.axvline(result.ideal_fps, color="#2a9d3f", linestyle="--",
                       label=f"ideal: {result.cpus} CPUs x sequential = "
                             f"{result.ideal_fps:.1f} fps")
    if result.target_fps:
        ax_fps.axvline(result.target_fps, color="#d62828", linestyle=":",
                       label=f"target {result.target_fps:g} fps")
    top = max([result.ideal_fps or 0, result.target_fps or 0, *(r.fps for r in runs), 1.0])
    ax_fps.set_xlim(0, top * 1.35)
    ax_fps.invert_yaxis()
    ax_fps.set_xlabel("frames per second (higher is better)")
    ax_fps.set_title("Throughput per executor")
    ax_fps.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2, fontsize=8)

    stage_names = [s.stage_name for s in runs[0].stages] if runs else []
    colours = plt.get_cmap("tab10")
    left = [0.0] * len(runs)
    for k, name in enumerate(stage_names):
        widths = [r.stages[k].avg_time_ms if k < len(r.stages) else 0.0 for r in runs]
        ax_stage.barh(labels, widths, left=left, color=colours(k % 10), label=name)
        left = [a + b for a, b in zip(left, widths)]
    for i, r in enumerate(runs):
        ax_stage.text(left[i], i, f" {left[i]:.1f} ms (wall {r.per_frame_ms:.1f} ms/frame)",
                      va="center", fontsize=9)
    ax_stage.set_xlim(0, max([*left, 1.0]) * 1.6)
    ax_stage.invert_yaxis()
    ax_stage.set_xlabel("stage time per frame, ms (avg in a worker; lower is better)")
    ax_stage.set_title("Per-stage time breakdown")
    ax_stage.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=4, fontsize=8)
    w, h = result.source_size
    fig.suptitle(f"{result.description}   source {w}x{h} ({w * h / 1e6:.2f} MP), "
                 f"{result.frames} frames, {result.cpus} CPUs")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


# -- run -------------------------------------------------------------------------------


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


def cmd_run(args: argparse.Namespace) -> int:
    from .runner import (
        RunControl,
        check_output_dir,
        is_video,
        plan_jobs,
        run_files,
        run_video,
    )

    pipeline = FilterPipeline.parse(args.spec)
    if args.on_error not in ("raise", "skip"):
        raise CLIError(f"--on-error must be 'raise' or 'skip', got {args.on_error!r}")
    get_plugin_manager().executors.lookup(args.executor or "batch")
    out = Path(args.output)
    control = RunControl()
    video_in = args.camera is not None or (len(args.inputs) == 1 and is_video(args.inputs[0]))
    if args.camera is not None and args.inputs:
        raise CLIError("give either --camera N or input files, not both")
    if not video_in and not args.inputs:
        raise CLIError("no inputs: give files, folders or globs (or --camera N)")
    if args.live and not video_in:
        raise CLIError("--live applies to video input only")
    if video_in:
        executor = args.executor or "streaming"
        get_plugin_manager().executors.lookup(executor)
        source: str | int = args.camera if args.camera is not None else args.inputs[0]
        total = None
        if isinstance(source, str):
            total = _frame_count(source)
        control.progress = _progress(total, executor, args.quiet)
        try:
            with _Interrupt(control):
                report = run_video(pipeline, source, out, executor=executor,
                                   workers=args.workers, live=args.live,
                                   on_error=args.on_error, overwrite=args.overwrite,
                                   trace=bool(args.trace), control=control)
        finally:
            control.progress.close()
    else:
        executor = args.executor or "batch"
        check_output_dir(out)
        jobs, existing, ignored = plan_jobs(args.inputs, out, pipeline, overwrite=args.overwrite)
        control.progress = _progress(len(jobs), executor, args.quiet)
        try:
            with _Interrupt(control):
                report = run_files(pipeline, jobs, executor=executor, workers=args.workers,
                                   on_error=args.on_error, trace=bool(args.trace),
                                   control=control)
        finally:
            control.progress.close()
        report.skipped_existing, report.ignored, report.output = existing, ignored, str(out)
    if args.trace and report.trace is not None:
        _write_json(Path(args.trace), report.trace)
    _print_run_summary(report, video_in)
    if report.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_ERROR if report.failures else 0


def _frame_count(path: str) -> int | None:
    import cv2

    cap = cv2.VideoCapture(path)
    try:
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    finally:
        cap.release()
    return count if count > 0 else None


def _print_run_summary(report: Any, video: bool) -> None:
    what = "frames" if video else "files"
    parts = [f"{report.frames_out} {what} written to {report.output} in {report.elapsed_s:.2f} s "
             f"({report.fps:.1f} fps, {report.executor} with {report.workers} workers)"]
    if video:
        parts.append(f"frames in {report.frames_in}, out {report.frames_out}, "
                     f"dropped {report.dropped}; latency p50 {report.latency_p50_ms:.1f} ms, "
                     f"p95 {report.latency_p95_ms:.1f} ms (submit -> result)")
    if report.shrink_on_load > 1:
        parts.append(f"JPEGs decoded at 1/{report.shrink_on_load} size (shrink-on-load)")
    if report.skipped_existing:
        parts.append(f"{report.skipped_existing} skipped: output exists (--overwrite replaces)")
    if report.ignored:
        parts.append(f"{report.ignored} files ignored: not an image format")
    if report.interrupted:
        parts.append("interrupted: finished outputs kept, nothing half-written")
    print("done: " + "\n  ".join(parts))
    if report.failures:
        _err(f"{len(report.failures)} failed:")
        for where, message in report.failures:
            print(f"  {where}: {message}", file=sys.stderr)


# -- parser ----------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="imagestag", description="High-throughput image pipelines built on plugins.",
        epilog="Run 'imagestag demo' for the main job on a generated 20 MP source; "
               "see docs/cli.md for every option.")
    parser.add_argument("--version", action="version", version=f"imagestag {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("demo", help="the main job on a generated 20 MP photo-like source",
                       description=f"Runs '{SEED_PIPELINE}' over frames of a generated "
                                   f"20 MP photo-like scene and writes the JPEGs.")
    p.add_argument("-o", "--output", default=DEFAULT_DEMO_DIR,
                   help=f"output folder (default ./{DEFAULT_DEMO_DIR})")
    p.add_argument("--frames", type=int, default=30, help="frames to process (default 30)")
    p.add_argument("--executor", default="batch", help="executor name (default batch)")
    p.add_argument("-j", "--workers", type=int, default=None, help="worker threads")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("run", help="run a pipeline over files, folders, globs or a video",
                       description="Runs SPEC over the inputs and writes the results to OUT.")
    p.add_argument("spec", metavar="SPEC",
                   help='pipeline text, e.g. "resize 1920x1080 | falsecolor hot | encode jpeg"')
    p.add_argument("inputs", metavar="INPUT", nargs="*",
                   help="image files, folders (recursive), globs, or one video file")
    p.add_argument("-o", "--output", required=True,
                   help="output folder, or a video file for video input")
    p.add_argument("--executor", default=None,
                   help="executor name (default batch; streaming for video)")
    p.add_argument("-j", "--workers", type=int, default=None, help="workers")
    p.add_argument("--on-error", default="raise", choices=("raise", "skip"),
                   help="stop at the first failing input (default) or skip it and go on")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    p.add_argument("--camera", type=int, default=None, metavar="N",
                   help="read camera N instead of files (live)")
    p.add_argument("--live", action="store_true",
                   help="video file paced at its fps, dropping frames under overload")
    p.add_argument("--trace", metavar="FILE.json", help="write a Chrome trace of the stages")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("bench", help="compare every executor on a pipeline (the seed's report)",
                       description="Times every registered executor on the same frames.")
    p.add_argument("--source", default=None,
                   help="image file (default: the embedded 20 MP photo-like source)")
    p.add_argument("--pipeline", default=SEED_PIPELINE,
                   help=f"pipeline spec (default '{SEED_PIPELINE}')")
    p.add_argument("--frames", type=int, default=30, help="timed frames per executor")
    p.add_argument("--executors", default=None, help="comma-separated names (default: all)")
    p.add_argument("--workers", type=int, default=None,
                   help="workers for executors that take num_workers")
    p.add_argument("--target-fps", type=float, default=SEED_TARGET_FPS,
                   help=f"PASSED/FAILED threshold (default {SEED_TARGET_FPS:g}, as the seed)")
    p.add_argument("--json", action="store_true", help="print only JSON on stdout")
    p.add_argument("--plot", metavar="FILE.png", help="chart fps vs ideal and stage times")
    p.add_argument("--trace", metavar="FILE.json", help="Chrome trace of the timed frames")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("plugins", help="what is installed, who provides it, load errors")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_plugins)

    p = sub.add_parser("filters", help="filter parameters, types, defaults and examples")
    p.add_argument("name", nargs="?", default=None, help="one filter (default: all)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_filters)
    return parser


def _show_warning(message: Any, category: type[Warning], filename: str, lineno: int,
                  file: Any = None, line: str | None = None) -> None:
    # a plugin that failed to load is worth one line, not a source listing
    _err(f"warning: {message}")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``imagestag`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    previous = warnings.showwarning
    warnings.showwarning = _show_warning
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("default", PluginWarning)
            return int(args.func(args))
    except KeyboardInterrupt:
        _err("aborted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_ERROR
    except (ImagestagError, OSError) as exc:
        _err(f"error: {_one_line(exc)}")
        return EXIT_ERROR
    finally:
        warnings.showwarning = previous


if __name__ == "__main__":
    sys.exit(main())
