"""What ``imagestag run`` does: a pipeline over files, folders, globs or a video.

Files
-----
* Inputs are files, folders (walked recursively; hidden files and files no
  codec knows are skipped) or glob patterns.  Output paths mirror the input
  tree below the inputs' common folder, so ``a/x.jpg`` and ``b/x.jpg`` become
  ``OUT/a/x.jpg`` and ``OUT/b/x.jpg``.  The extension is the last stage's
  encoding (``encode png`` -> ``.png``), else the input's.
* An input is never overwritten; an existing output is skipped unless
  ``overwrite`` is set.
* The main thread only reads file bytes and header (cheap); decoding happens in
  the executor's workers, because an encoded :class:`Image` decodes lazily.
  When the first stage is a Resize that shrinks by 2x or more, a ``decode``
  stage with ``reduce`` is put in front so JPEGs are decoded at 1/2, 1/4 or
  1/8 size directly (shrink-on-load, as libvips does).
* Every output is written to a temporary name and renamed, so an interrupted
  run leaves finished files and nothing half-written.  :attr:`RunControl.stop`
  (set by the CLI's SIGINT handler) stops feeding new inputs; frames in flight
  finish and are written.

Video
-----
``cv2.VideoCapture`` reads a file or a camera; results are written with
``cv2.VideoWriter`` at the source fps (or as numbered images into a folder).
File input never drops a frame.  ``live`` (always on for a camera) paces file
input at the source fps and drops frames when the pipeline falls behind: via
the executor's ``overflow="drop_oldest"`` where it has one (``streaming``),
else by not submitting a frame while the in-flight window is full.
"""

from __future__ import annotations

import glob
import math
import os
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import CodecError, FrameError, ImagestagError, UnknownNameError
from .executor import Executor
from .image import Image
from .pipeline import FilterPipeline
from .pixel_format import PixelFormat
from .plugins import codec_for_path, get_codec, get_executor_class, get_plugin_manager

__all__ = [
    "VIDEO_EXTENSIONS",
    "FileJob",
    "RunControl",
    "RunReport",
    "atomic_write",
    "is_video",
    "plan_jobs",
    "run_files",
    "run_video",
    "shrink_on_load",
]

VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv")
#: FourCC per output container; MJPG/mp4v ship with every OpenCV build
_FOURCC = {".avi": "MJPG", ".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".mkv": "mp4v",
           ".webm": "VP80", ".mpg": "MPG1", ".mpeg": "MPG1", ".wmv": "WMV2"}
_TMP_MARK = ".imagestag-tmp"


@dataclass(frozen=True)
class FileJob:
    """One input file and the output it becomes."""

    src: Path
    dst: Path


@dataclass
class RunControl:
    """Shared between the runner and whoever may stop it (a signal handler).

    ``stop``: feed no more frames; those in flight finish and are written.
    ``progress``: an object with ``update(n)``/``close()`` (a tqdm bar), or None.
    """

    stop: threading.Event = field(default_factory=threading.Event)
    progress: Any = None


@dataclass
class RunReport:
    """What a run did; ``failures`` pairs an input (path or frame) with its error."""

    executor: str = ""
    workers: int = 0
    written: int = 0
    skipped_existing: int = 0
    ignored: int = 0
    frames_in: int = 0
    frames_out: int = 0
    dropped: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)
    elapsed_s: float = 0.0
    latency_p50_ms: float = 0.0
    latency_p95_ms: float = 0.0
    interrupted: bool = False
    output: str = ""
    shrink_on_load: int = 1
    trace: dict[str, Any] | None = None

    @property
    def fps(self) -> float:
        return self.frames_out / self.elapsed_s if self.elapsed_s > 0 else 0.0


def is_video(path: str | os.PathLike[str]) -> bool:
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS


def atomic_write(dst: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``dst``, then rename it into place."""
    tmp = dst.with_name(f".{dst.name}{_TMP_MARK}{os.getpid()}")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.replace(tmp, dst)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def check_output_dir(out: Path) -> None:
    """Create ``out`` and prove it is writable, with one clear error if not."""
    if out.exists() and not out.is_dir():
        raise ImagestagError(f"output {str(out)!r} exists and is not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".write-test{_TMP_MARK}{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ImagestagError(f"cannot write to the output folder {str(out)!r}: "
                             f"{exc.strerror or exc}") from None


# -- planning ------------------------------------------------------------------------


def output_extension(pipeline: FilterPipeline) -> str | None:
    """The extension of the last stage's encoding (``".jpg"``), None if it does not encode."""
    if not pipeline.filters:
        return None
    fmt = getattr(pipeline.filters[-1], "format", None)
    if not isinstance(fmt, str):
        return None
    try:
        return get_codec(fmt).extensions[0]
    except UnknownNameError:
        return None


def _is_image_file(path: Path) -> bool:
    try:
        codec_for_path(path)
    except CodecError:
        return False
    return True


def _expand(arg: str) -> tuple[list[Path], Path, int]:
    """Files of one input argument, the folder they are relative to, and how many
    files were ignored (no codec for them)."""
    path = Path(arg)
    if path.is_dir():
        found = [p for p in sorted(path.rglob("*"))
                 if p.is_file() and not any(part.startswith(".")
                                            for part in p.relative_to(path).parts)]
        files = [p for p in found if _is_image_file(p)]
        return files, path, len(found) - len(files)
    if path.is_file():
        return [path], path.parent, 0
    if glob.has_magic(arg):
        matches = [Path(m) for m in sorted(glob.glob(arg, recursive=True))]
        files = [m for m in matches if m.is_file() and _is_image_file(m)]
        if not files:
            raise ImagestagError(f"no image files match {arg!r}")
        # the folder part before the first wildcard is what the outputs mirror
        parts = Path(arg).parts
        base = next(i for i, p in enumerate(parts) if glob.has_magic(p))
        return files, Path(*parts[:base]) if base else Path("."), 0
    raise ImagestagError(f"input {arg!r} does not exist (expected a file, a folder or a glob)")


def plan_jobs(inputs: Sequence[str], out: Path, pipeline: FilterPipeline, *,
              overwrite: bool = False) -> tuple[list[FileJob], int, int]:
    """The jobs for ``inputs``: ``(jobs, skipped because the output exists, ignored files)``.

    Raises :class:`ImagestagError` for a missing input, no image files at all,
    or an output that would replace an input.
    """
    out_abs = out.resolve()
    ext = output_extension(pipeline)
    sources: list[tuple[Path, Path]] = []
    ignored = 0
    seen: set[Path] = set()
    for arg in inputs:
        files, root, skipped = _expand(arg)
        ignored += skipped
        root_abs = root.resolve()
        nested_out = root_abs in out_abs.parents
        for f in files:
            resolved = f.resolve()
            # outputs of an earlier run in a folder inside an input folder are not inputs
            if resolved in seen or (nested_out and out_abs in resolved.parents):
                continue
            seen.add(resolved)
            sources.append((resolved, root_abs))
    if not sources:
        raise ImagestagError(f"no image files found in {', '.join(map(repr, inputs))}")
    common = Path(os.path.commonpath([str(root) for _, root in sources]))
    targets: dict[Path, list[Path]] = {}
    for src, _ in sources:
        rel = src.relative_to(common)
        targets.setdefault(out_abs / rel.with_suffix(ext or rel.suffix), []).append(src)
    jobs: list[FileJob] = []
    for dst, srcs in targets.items():
        for src in srcs:
            # x.png and x.jpg both becoming x.jpg: keep the input suffix in the name
            target = dst if len(srcs) == 1 else dst.with_name(f"{src.name}{dst.suffix}")
            jobs.append(FileJob(src, target))
    inputs_set = {src for src, _ in sources}
    for job in jobs:
        if job.dst in inputs_set:
            raise ImagestagError(f"refusing to overwrite the input {str(job.src)!r}; "
                                 f"choose another output folder")
    skipped_existing = 0
    if not overwrite:
        kept = [j for j in jobs if not j.dst.exists()]
        skipped_existing = len(jobs) - len(kept)
        jobs = kept
    jobs.sort(key=lambda j: str(j.src))
    return jobs, skipped_existing, ignored


def shrink_on_load(pipeline: FilterPipeline, sample: Image) -> tuple[FilterPipeline, int]:
    """Prepend ``decode reduce=N`` when the first Resize shrinks ``sample`` by N >= 2.

    ``N`` is the largest of 2, 4, 8 that keeps the decoded image at least as
    large as the Resize target on both sides, so the Resize still does the
    final, antialiased step.  Returns the pipeline unchanged (and 1) when the
    source is not JPEG, there is no Resize first, or no Decode filter with a
    ``reduce`` parameter is installed.
    """
    if not pipeline.filters or sample.encoded_format != "jpeg":
        return pipeline, 1
    first = pipeline.filters[0]
    target = _resize_target(first, sample.size)
    if target is None:
        return pipeline, 1
    tw, th = target
    factor = 1
    for f in (2, 4, 8):
        if sample.width // f >= tw and sample.height // f >= th:
            factor = f
    if factor == 1:
        return pipeline, 1
    manager = get_plugin_manager()
    if "decode" not in manager.filters:
        return pipeline, 1
    decode_cls = manager.filters.lookup("decode").obj
    if "reduce" not in {p.name for p in decode_cls.params}:
        return pipeline, 1
    try:
        decode = decode_cls(reduce=factor)
    except ImagestagError:
        return pipeline, 1
    return FilterPipeline([decode, *pipeline.filters]), factor


def _resize_target(filt: Any, size: tuple[int, int]) -> tuple[int, int] | None:
    """The smallest decoded size a Resize-like first stage needs from ``size``.

    Only a Resize to a full, absolute box qualifies: its output does not depend
    on the input size (a ``scale`` or a one-sided size would shrink the reduced
    image again or shift the rounding), except in ``fit`` mode, which is left
    alone for the same reason.
    """
    if type(filt).name != "resize":
        return None
    box = getattr(filt, "size", None)
    if getattr(filt, "scale", None) is not None or not isinstance(box, tuple) or len(box) != 2:
        return None
    bw, bh = box
    if not bw or not bh:
        return None
    mode = getattr(filt, "mode", "exact")
    w, h = size
    if mode == "exact":
        return int(bw), int(bh)
    if mode in ("fill", "pad"):
        # the source region that ends up in the box must keep enough pixels
        s = max(bw / w, bh / h) if mode == "fill" else min(bw / w, bh / h)
        return max(1, math.ceil(w * s)), max(1, math.ceil(h * s))
    return None


# -- executors ---------------------------------------------------------------------------


def accepts_option(cls: type[Executor], option: str) -> bool:
    import inspect

    if option in getattr(cls, "extra_options", ()):
        return True
    try:
        return option in inspect.signature(cls.__init__).parameters
    except (TypeError, ValueError):
        return False


def build_executor(name: str, pipeline: FilterPipeline, *, workers: int | None,
                   trace: bool, **options: Any) -> Executor:
    cls = get_executor_class(name)
    if workers is not None:
        if not accepts_option(cls, "num_workers"):
            raise ImagestagError(f"the {name!r} executor has no worker count; drop -j/--workers")
        options["num_workers"] = workers
    for key in [k for k in options if k not in ("on_error", "num_workers")]:
        if not accepts_option(cls, key):
            del options[key]
    return cls(pipeline, trace=trace, **options)


# -- files ---------------------------------------------------------------------------------


def _describe(exc: BaseException) -> str:
    if isinstance(exc, FrameError):
        return f"{exc.stage}: {type(exc.error).__name__}: {exc.error}"
    return f"{type(exc).__name__}: {exc}"


def _write_result(result: Image, dst: Path) -> Path:
    if result.encoded is not None and result.codec is not None:
        if dst.suffix.lower() not in result.codec.extensions:
            dst = dst.with_suffix(result.codec.extensions[0])
        data = result.encoded
    else:
        data = result.encode(codec_for_path(dst).name)
    dst.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(dst, data)
    return dst


def run_files(pipeline: FilterPipeline, jobs: Sequence[FileJob], *, executor: str = "batch",
              workers: int | None = None, on_error: str = "raise", trace: bool = False,
              control: RunControl | None = None) -> RunReport:
    """Process ``jobs``; see the module docs.  ``on_error="raise"`` stops feeding at
    the first failure (frames in flight still finish and are written)."""
    control = control or RunControl()
    report = RunReport()
    if not jobs:
        return report
    try:
        sample = Image(jobs[0].src)
    except (ImagestagError, OSError):
        sample = None
    if sample is not None:
        pipeline, report.shrink_on_load = shrink_on_load(pipeline, sample)
    ex = build_executor(executor, pipeline, workers=workers, trace=trace, on_error="collect")
    report.executor, report.workers = executor, ex.num_workers
    by_seq: list[FileJob] = []

    def failed(where: Path, message: str) -> None:
        report.failures.append((str(where), message))
        if on_error == "raise":
            control.stop.set()

    def source() -> Iterator[Image]:
        for job in jobs:
            if control.stop.is_set():
                return
            report.frames_in += 1
            try:
                # reads bytes and the header only; the workers decode
                image = Image(job.src)
            except (ImagestagError, OSError) as exc:
                failed(job.src, _describe(exc))
                _tick(control)
                continue
            by_seq.append(job)
            yield image

    t0 = time.perf_counter()
    with ex:
        for seq, result in ex.imap(source(), with_seq=True):
            job = by_seq[seq]
            if isinstance(result, FrameError):
                failed(job.src, _describe(result))
            else:
                try:
                    _write_result(result, job.dst)
                    report.written += 1
                    report.frames_out += 1
                except (ImagestagError, OSError) as exc:
                    failed(job.src, f"writing {str(job.dst)!r}: {_describe(exc)}")
            _tick(control)
    report.elapsed_s = time.perf_counter() - t0
    metrics = ex.get_metrics()
    report.latency_p50_ms, report.latency_p95_ms = metrics.latency_p50_ms, metrics.latency_p95_ms
    report.interrupted = control.stop.is_set() and not (on_error == "raise" and report.failures)
    if trace:
        report.trace = ex.trace_events()
    return report


def _tick(control: RunControl) -> None:
    if control.progress is not None:
        control.progress.update(1)


# -- video ---------------------------------------------------------------------------------


class _FrameSink:
    """Writes result frames to a video file (temp name, renamed on close) or a folder."""

    def __init__(self, out: Path, fps: float) -> None:
        self.out = out
        self.fps = fps
        self.video = is_video(out)
        self.writer: Any = None
        self.count = 0
        self.tmp: Path | None = None
        if self.video:
            parent = out.parent
            if not parent.is_dir():
                raise ImagestagError(f"the output folder {str(parent)!r} does not exist")
            if not os.access(parent, os.W_OK):
                raise ImagestagError(f"cannot write to the output folder {str(parent)!r}")
        else:
            check_output_dir(out)

    def write(self, image: Image) -> None:
        import cv2

        if not self.video:
            ext = image.codec.extensions[0] if image.codec is not None else ".png"
            dst = self.out / f"frame_{self.count:06d}{ext}"
            data = image.encoded if image.encoded is not None else image.encode("png")
            atomic_write(dst, data)
            self.count += 1
            return
        pixels = image.get_pixels(PixelFormat.BGR)
        if self.writer is None:
            fourcc = _FOURCC.get(self.out.suffix.lower(), "mp4v")
            # keep the real extension last: VideoWriter picks the container from it
            self.tmp = self.out.with_name(f".{self.out.stem}{_TMP_MARK}{os.getpid()}"
                                          f"{self.out.suffix}")
            self.writer = cv2.VideoWriter(str(self.tmp), cv2.VideoWriter.fourcc(*fourcc),
                                          self.fps, (image.width, image.height))
            if not self.writer.isOpened():
                self.writer = None
                self.tmp.unlink(missing_ok=True)
                raise ImagestagError(f"OpenCV cannot write {str(self.out)!r} with the "
                                     f"{fourcc!r} codec; try an .avi or .mp4 output")
            self.size = image.size
        if image.size != self.size:
            raise ImagestagError(f"frame {self.count} is {image.width}x{image.height}, but the "
                                 f"video is {self.size[0]}x{self.size[1]}; a video needs one "
                                 f"size (use a fixed-size resize)")
        self.writer.write(pixels)
        self.count += 1

    def close(self, keep: bool = True) -> None:
        if self.writer is not None:
            self.writer.release()
            self.writer = None
            assert self.tmp is not None
            if keep:
                os.replace(self.tmp, self.out)
            else:
                self.tmp.unlink(missing_ok=True)


def run_video(pipeline: FilterPipeline, source: str | int, out: Path, *,
              executor: str = "streaming", workers: int | None = None, live: bool = False,
              on_error: str = "raise", overwrite: bool = False, trace: bool = False,
              control: RunControl | None = None) -> RunReport:
    """Run ``pipeline`` over a video file or camera index; see the module docs."""
    import cv2

    control = control or RunControl()
    camera = isinstance(source, int)
    if not camera and not Path(str(source)).is_file():
        raise ImagestagError(f"input video {str(source)!r} does not exist")
    if out.exists() and is_video(out):
        if not camera and out.resolve() == Path(str(source)).resolve():
            raise ImagestagError(f"refusing to overwrite the input {str(source)!r}")
        if not overwrite:
            raise ImagestagError(f"output {str(out)!r} exists; pass --overwrite to replace it")
    cap = cv2.VideoCapture(source)
    if not cap.isOpened():
        what = f"camera {source}" if camera else f"video {str(source)!r}"
        raise ImagestagError(f"OpenCV cannot open {what}")
    fps = cap.get(cv2.CAP_PROP_FPS)
    fps = fps if 0 < fps < 1000 else 30.0
    live = live or camera
    report = RunReport(output=str(out))
    try:
        sink = _FrameSink(out, fps)
        cls = get_executor_class(executor)
        options: dict[str, Any] = {"on_error": "collect"}
        executor_drops = live and accepts_option(cls, "overflow")
        if executor_drops:
            # a short queue keeps latency low; dropping the oldest keeps frames fresh
            options.update(overflow="drop_oldest", queue_size=2)
        ex = build_executor(executor, pipeline, workers=workers, trace=trace, **options)
        report.executor, report.workers = executor, ex.num_workers

        def consume(result: Any) -> None:
            if isinstance(result, FrameError):
                report.failures.append((f"frame {result.seq}", _describe(result)))
                if on_error == "raise":
                    control.stop.set()
            else:
                sink.write(result)
                report.frames_out += 1
            _tick(control)

        t0 = time.perf_counter()
        keep = True
        try:
            with ex:
                if live:
                    _live_loop(cap, ex, fps, camera, executor_drops, report, control, consume)
                else:
                    def frames() -> Iterator[Image]:
                        index = 0
                        while not control.stop.is_set():
                            ok, frame = cap.read()
                            if not ok:
                                return
                            report.frames_in += 1
                            yield Image(frame, PixelFormat.BGR, metadata={"frame": index})
                            index += 1

                    for result in ex.imap(frames()):
                        consume(result)
        except BaseException:
            keep = False
            raise
        finally:
            sink.close(keep=keep and sink.count > 0)
        report.elapsed_s = time.perf_counter() - t0
        metrics = ex.get_metrics()
        report.dropped += metrics.frames_dropped
        report.latency_p50_ms = metrics.latency_p50_ms
        report.latency_p95_ms = metrics.latency_p95_ms
        report.written = sink.count
        report.interrupted = control.stop.is_set() and not (on_error == "raise" and
                                                            report.failures)
        if trace:
            report.trace = ex.trace_events()
    finally:
        cap.release()
    return report


def _live_loop(cap: Any, ex: Executor, fps: float, camera: bool, executor_drops: bool,
               report: RunReport, control: RunControl, consume: Any) -> None:
    """Feed frames as a camera would: paced, never waiting for the pipeline."""
    received = 0
    submitted = 0
    window = ex.default_window
    t0 = time.perf_counter()

    def drain(until: float) -> None:
        nonlocal received
        while True:
            remaining = until - time.perf_counter()
            result = ex.get_result(timeout=max(0.0, remaining))
            if result is None:
                if remaining > 0 and not control.stop.is_set():
                    # nothing outstanding: wait for the next frame's time, not for a result
                    control.stop.wait(max(0.0, until - time.perf_counter()))
                return
            received += 1
            consume(result)

    index = 0
    while not control.stop.is_set():
        ok, frame = cap.read()
        if not ok:
            break
        report.frames_in += 1
        if not camera:
            drain(t0 + index / fps)
        index += 1
        if not executor_drops and submitted - received >= window:
            # the pipeline is behind: a camera frame that cannot be taken is lost
            report.dropped += 1
            _tick(control)
            continue
        ex.submit(Image(frame, PixelFormat.BGR, metadata={"frame": index - 1}))
        submitted += 1
        drain(time.perf_counter())
    for result in ex.results():
        consume(result)
