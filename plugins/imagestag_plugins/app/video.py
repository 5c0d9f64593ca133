"""What ``imagestag run`` does with a video file or a camera.

A video back-end (``register_video_backends``; built-in ``pyav``, falling back
to ``opencv``) reads the file or camera and writes the result video; results
can also go to a folder as numbered images.  ``--video-backend NAME`` picks the
writer and, where it can open the source, the reader (a camera the named one
cannot open is read by the first back-end that can).  File input never drops a
frame.  ``live`` (always on for a camera) paces file input at the source fps
and drops frames when the pipeline falls behind: via the executor's
``overflow="drop_oldest"`` where it accepts that option
(``Executor.accepted_options()``), else by not submitting a frame while the
in-flight window is full.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imagestag_core.atomic import write_atomic
from imagestag_core.codec import codec_for_path
from imagestag_core.errors import FrameError, ImagestagError
from imagestag_core.executor import Executor
from imagestag_core.hookspecs import VideoBackend
from imagestag_core.image import Image
from imagestag_core.pipeline import FilterPipeline
from imagestag_core.plugins import get_executor_class, get_plugin_manager
from imagestag_core.sources import read_file

from .planning import check_output_dir
from .runner import RunControl, RunReport, build_executor, describe, tick

__all__ = ["VIDEO_EXTENSIONS", "VideoOptions", "choose_backends", "is_animation", "is_video",
           "run_video"]

VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv")


def is_video(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` has a video file extension."""
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS


def is_animation(path: str | os.PathLike[str]) -> bool:
    """True for an image file of more than one frame (an animated GIF): ``imagestag run``
    reads it like a video.  Asked of the codec (``frame_count``), from the header blocks."""
    try:
        codec = codec_for_path(path)
        count = getattr(codec, "frame_count", None)
        return count is not None and Path(path).is_file() and \
            count(read_file(Path(path))) > 1
    except (ImagestagError, OSError):
        return False


@dataclass(frozen=True)
class VideoOptions:
    """How to write a video: back-end name (None: the best that opens the input),
    encoder (``--video-codec``), ``crf`` or ``bitrate`` (bits per second)."""

    backend: str | None = None
    codec: str | None = None
    crf: int | None = None
    bitrate: int | None = None


def choose_backends(source: str | int,
                    name: str | None = None) -> tuple[VideoBackend, VideoBackend]:
    """``(reader back-end, writer back-end)`` for ``source``.

    By name the writer is that back-end, and so is the reader where it can open
    ``source``; otherwise both are the first that can, highest ``priority`` first.
    """
    registry = get_plugin_manager().video_backends
    ranked = sorted(registry.list(), key=lambda e: -int(getattr(e.obj, "priority", 0)))
    able = [e.obj for e in ranked if e.obj.can_open(source)]
    if name is not None:
        chosen = registry.get(name)
        return (chosen if chosen.can_open(source) else able[0] if able else chosen), chosen
    if not able:
        what = f"camera {source}" if isinstance(source, int) else repr(source)
        raise ImagestagError(f"no video back-end can open {what}; installed: "
                             f"{', '.join(registry.names()) or '(none)'}")
    return able[0], able[0]


class _FolderSink:
    """Writes result frames as numbered images into a folder."""

    def __init__(self, out: Path) -> None:
        check_output_dir(out)
        self.out = out
        self.count = 0

    def write(self, image: Image) -> None:
        ext = image.codec.extensions[0] if image.codec is not None else ".png"
        data = image.encoded if image.encoded is not None else image.encode("png")
        write_atomic(self.out / f"frame_{self.count:06d}{ext}", data)
        self.count += 1

    def close(self, keep: bool = True) -> None:
        pass


class _VideoSink:
    """Counts what a back-end's writer writes; checks the output folder first."""

    def __init__(self, writer: Any, out: Path) -> None:
        parent = out.parent
        if not parent.is_dir():
            raise ImagestagError(f"the output folder {str(parent)!r} does not exist")
        if not os.access(parent, os.W_OK):
            raise ImagestagError(f"cannot write to the output folder {str(parent)!r}")
        self.writer = writer
        self.count = 0

    def write(self, image: Image) -> None:
        self.writer.write(image)
        self.count += 1

    def close(self, keep: bool = True) -> None:
        self.writer.close(keep=keep)


def open_reader(source: str | int, video: VideoOptions | None = None) -> Any:
    """The reader ``run_video`` would use for ``source`` (the CLI asks it for the frame count)."""
    return choose_backends(source, (video or VideoOptions()).backend)[0].open_reader(source)


def run_video(pipeline: FilterPipeline, source: str | int, out: Path, *,
              executor: str = "streaming", workers: int | None = None, live: bool = False,
              on_error: str = "raise", overwrite: bool = False, trace: bool = False,
              control: RunControl | None = None, video: VideoOptions | None = None,
              reader: Any = None,
              executor_options: Mapping[str, Any] | None = None) -> RunReport:
    """Run ``pipeline`` over a video file or camera index; see the module docs.

    ``reader`` is one already opened by :func:`open_reader` (closed here);
    ``executor_options`` are keyword options of the executor."""
    control = control or RunControl()
    video = video or VideoOptions()
    camera = isinstance(source, int)
    try:
        if not camera and not Path(str(source)).is_file():
            raise ImagestagError(f"input video {str(source)!r} does not exist")
        if out.exists() and is_video(out):
            if not camera and out.resolve() == Path(str(source)).resolve():
                raise ImagestagError(f"refusing to overwrite the input {str(source)!r}")
            if not overwrite:
                raise ImagestagError(f"output {str(out)!r} exists; pass --overwrite to "
                                     f"replace it")
        reading, writing = choose_backends(source, video.backend)
        if reader is None:
            reader = reading.open_reader(source)
    except BaseException:
        if reader is not None:
            reader.close()
        raise
    fps = reader.fps
    live = live or camera
    report = RunReport(output=str(out))
    try:
        sink: _FolderSink | _VideoSink
        if is_video(out):
            sink = _VideoSink(writing.open_writer(str(out), reader, codec=video.codec,
                                                  crf=video.crf, bitrate=video.bitrate), out)
        else:
            sink = _FolderSink(out)
        cls = get_executor_class(executor)
        options: dict[str, Any] = {"on_error": "collect"}
        executor_drops = live and "overflow" in cls.accepted_options()
        if executor_drops:
            # a short queue keeps latency low; dropping the oldest keeps frames fresh
            options.update(overflow="drop_oldest", queue_size=2)
        options.update({k: v for k, v in (executor_options or {}).items() if k != "on_error"})
        ex = build_executor(executor, pipeline, workers=workers, trace=trace, **options)
        report.executor, report.workers = executor, ex.num_workers

        def consume(result: Any) -> None:
            if isinstance(result, FrameError):
                report.failures.append((f"frame {result.seq}", describe(result)))
                if on_error == "raise":
                    control.stop.set()
            else:
                sink.write(result)
                report.frames_out += 1
            tick(control)

        t0 = time.perf_counter()
        keep = True
        try:
            with ex:
                if live:
                    _live_loop(reader, ex, fps, camera, executor_drops, report, control,
                               consume)
                else:
                    def frames() -> Iterator[Image]:
                        for frame in reader:
                            if control.stop.is_set():
                                return
                            report.frames_in += 1
                            yield frame

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
        reader.close()
    return report


def _live_loop(reader: Any, ex: Executor, fps: float, camera: bool, executor_drops: bool,
               report: RunReport, control: RunControl,
               consume: Callable[[Any], None]) -> None:
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
    for frame in reader:
        if control.stop.is_set():
            break
        report.frames_in += 1
        if not camera:
            drain(t0 + index / fps)
        index += 1
        if not executor_drops and submitted - received >= window:
            # the pipeline is behind: a camera frame that cannot be taken is lost
            report.dropped += 1
            tick(control)
            continue
        ex.submit(frame)
        submitted += 1
        drain(time.perf_counter())
    for result in ex.results():
        consume(result)
