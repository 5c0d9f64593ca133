"""What ``imagestag run`` does with a video file or a camera.

``cv2.VideoCapture`` reads a file or a camera; results are written with
``cv2.VideoWriter`` at the source fps (or as numbered images into a folder).
File input never drops a frame.  ``live`` (always on for a camera) paces file
input at the source fps and drops frames when the pipeline falls behind: via
the executor's ``overflow="drop_oldest"`` where it accepts that option
(``Executor.accepted_options()``), else by not submitting a frame while the
in-flight window is full.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from imagestag_core.atomic import replace_atomic, temp_path, write_atomic
from imagestag_core.errors import FrameError, ImagestagError
from imagestag_core.executor import Executor
from imagestag_core.image import Image
from imagestag_core.pipeline import FilterPipeline
from imagestag_core.pixel_format import PixelFormat
from imagestag_core.plugins import get_executor_class

from .planning import check_output_dir
from .runner import RunControl, RunReport, build_executor, describe, tick

__all__ = ["VIDEO_EXTENSIONS", "is_video", "run_video"]

VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv")
#: FourCC per output container; MJPG/mp4v ship with every OpenCV build
_FOURCC = {".avi": "MJPG", ".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".mkv": "mp4v",
           ".webm": "VP80", ".mpg": "MPG1", ".mpeg": "MPG1", ".wmv": "WMV2"}


def is_video(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` has a video file extension."""
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS




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
            write_atomic(dst, data)
            self.count += 1
            return
        pixels = image.get_pixels(PixelFormat.BGR)
        if self.writer is None:
            fourcc = _FOURCC.get(self.out.suffix.lower(), "mp4v")
            # keep the real extension last: VideoWriter picks the container from it
            self.tmp = temp_path(self.out, suffix=self.out.suffix)
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
                replace_atomic(self.tmp, self.out)
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
        executor_drops = live and "overflow" in cls.accepted_options()
        if executor_drops:
            # a short queue keeps latency low; dropping the oldest keeps frames fresh
            options.update(overflow="drop_oldest", queue_size=2)
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
            tick(control)
            continue
        ex.submit(Image(frame, PixelFormat.BGR, metadata={"frame": index - 1}))
        submitted += 1
        drain(time.perf_counter())
    for result in ex.results():
        consume(result)
