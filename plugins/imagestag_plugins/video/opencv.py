"""The ``opencv`` video back-end: ``cv2.VideoCapture`` and ``cv2.VideoWriter``.

The fallback: it opens cameras (``int`` sources) and any file OpenCV's FFmpeg
reads, and writes with the FourCC its builds always have (``.avi`` MJPG,
``.mp4``/``.mov``/``.mkv`` mp4v, ``.webm`` VP8) at the source fps.  It knows
no frame timestamps and drops the audio; ``pyav`` keeps both.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from imagestag_core import hookimpl
from imagestag_core.atomic import replace_atomic, temp_path
from imagestag_core.errors import ImagestagError
from imagestag_core.image import Image
from imagestag_core.lazy_import import lazy_module
from imagestag_core.pixel_format import PixelFormat

if TYPE_CHECKING:
    import cv2
else:
    cv2 = lazy_module("cv2", globals())

__all__ = ["FOURCC", "OpenCVBackend", "OpenCVReader", "OpenCVWriter"]

#: FourCC per output container; MJPG/mp4v ship with every OpenCV build
FOURCC = {".avi": "MJPG", ".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".mkv": "mp4v",
          ".webm": "VP80", ".mpg": "MPG1", ".mpeg": "MPG1", ".wmv": "WMV2"}


class OpenCVReader:
    """Frames of a file or camera as BGR :class:`Image` s (``pts``/``time_base`` unknown)."""

    def __init__(self, source: str | int) -> None:
        self.source = source
        self._cap = cv2.VideoCapture(source)
        if not self._cap.isOpened():
            what = f"camera {source}" if isinstance(source, int) else f"video {source!r}"
            raise ImagestagError(f"OpenCV cannot open {what}")
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        self.fps = fps if 0 < fps < 1000 else 30.0
        count = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT))
        self.frame_count = count if count > 0 and not isinstance(source, int) else None
        self.rotation = 0  # OpenCV applies the rotation to the pixels itself
        self.time_base = None

    def __iter__(self) -> Iterator[Image]:
        index = 0
        while True:
            ok, frame = self._cap.read()
            if not ok:
                return
            yield Image(frame, PixelFormat.BGR,
                        metadata={"frame": index, "pts": None, "time_base": None})
            index += 1

    def close(self) -> None:
        self._cap.release()


class OpenCVWriter:
    """Writes ``path`` with ``cv2.VideoWriter`` (temporary name until ``close``)."""

    def __init__(self, path: str, reader: Any, *, codec: str | None = None,
                 crf: int | None = None, bitrate: int | None = None) -> None:
        if crf is not None or bitrate is not None:
            raise ImagestagError("the opencv video back-end has no --crf or --bitrate; "
                                 "use --video-backend pyav")
        self.path = Path(path)
        self.fps = float(reader.fps)
        self.fourcc = codec or FOURCC.get(self.path.suffix.lower(), "mp4v")
        if len(self.fourcc) != 4:
            raise ImagestagError(f"the opencv video back-end takes a FourCC such as 'MJPG' "
                                 f"as --video-codec, got {self.fourcc!r}")
        self._writer: Any = None
        self.tmp: Path | None = None
        self.count = 0

    def write(self, image: Image) -> None:
        pixels = image.get_pixels(PixelFormat.BGR)
        if self._writer is None:
            # keep the real extension last: VideoWriter picks the container from it
            self.tmp = temp_path(self.path, suffix=self.path.suffix)
            self._writer = cv2.VideoWriter(str(self.tmp), cv2.VideoWriter.fourcc(*self.fourcc),
                                           self.fps, (image.width, image.height))
            if not self._writer.isOpened():
                self._writer = None
                self.tmp.unlink(missing_ok=True)
                raise ImagestagError(f"OpenCV cannot write {str(self.path)!r} with the "
                                     f"{self.fourcc!r} codec; try an .avi or .mp4 output")
            self.size = image.size
        if image.size != self.size:
            raise ImagestagError(f"frame {self.count} is {image.width}x{image.height}, but the "
                                 f"video is {self.size[0]}x{self.size[1]}; a video needs one "
                                 f"size (use a fixed-size resize)")
        self._writer.write(pixels)
        self.count += 1

    def close(self, keep: bool = True) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None
            assert self.tmp is not None
            if keep:
                replace_atomic(self.tmp, self.path)
            else:
                self.tmp.unlink(missing_ok=True)


class OpenCVBackend:
    """``--video-backend opencv``: cameras and files through OpenCV; no audio."""

    name = "opencv"

    def can_open(self, source: str | int) -> bool:
        return True

    def open_reader(self, source: str | int) -> OpenCVReader:
        return OpenCVReader(source)

    def open_writer(self, path: str, reader: Any, *, codec: str | None = None,
                    crf: int | None = None, bitrate: int | None = None) -> OpenCVWriter:
        return OpenCVWriter(path, reader, codec=codec, crf=crf, bitrate=bitrate)


@hookimpl
def register_video_backends(register: Any) -> None:
    register(OpenCVBackend())
