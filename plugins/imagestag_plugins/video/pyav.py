"""The ``pyav`` video back-end: FFmpeg through PyAV.

Reads any container and codec FFmpeg reads, decoding in FFmpeg's threads and a
read-ahead thread (PyAV releases the GIL while it decodes and converts), so
the pipeline never waits on the decoder.  Writes H.264 yuv420p by default
(``.mp4``/``.mov``/``.mkv``/``.avi``; VP9 for ``.webm``), or any encoder this
FFmpeg has (``codec=``), keeping every frame's timestamp (variable frame rate
too) and the rotation, and copies the source's audio packets unchanged.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from imagestag_core import hookimpl
from imagestag_core.atomic import replace_atomic, temp_path
from imagestag_core.errors import ImagestagError
from imagestag_core.image import Image
from imagestag_core.lazy_import import lazy_module
from imagestag_core.pixel_format import PixelFormat

if TYPE_CHECKING:
    import av
else:
    av = lazy_module("av", globals())

__all__ = ["PyAVBackend", "PyAVReader", "PyAVWriter"]

#: the encoder per output extension when none is named: browser-playable first
DEFAULT_CODECS = {".mp4": "libx264", ".m4v": "libx264", ".mov": "libx264", ".mkv": "libx264",
                  ".avi": "libx264", ".webm": "libvpx-vp9"}
_READ_AHEAD = 8
_POLL_S = 0.1
_END = object()


_native_log = threading.Lock()
_native_log_set = False


def _log_natively() -> None:
    """FFmpeg's own warnings go to descriptor 2, as OpenCV's FFmpeg does (PyAV drops them):
    the ``imagestag`` command hides them unless ``-v``."""
    global _native_log_set
    with _native_log:
        if not _native_log_set:
            av.logging.restore_default_callback()
            av.logging.set_libav_level(av.logging.ERROR)
            _native_log_set = True


class PyAVReader:
    """Frames of ``source`` as BGR :class:`Image` s with ``frame``, ``pts`` and ``time_base``."""

    def __init__(self, source: str) -> None:
        self.source = source
        _log_natively()
        try:
            self._container = av.open(source)
        except (av.FFmpegError, OSError) as exc:
            raise ImagestagError(f"PyAV cannot open video {source!r}: {exc}") from exc
        if not self._container.streams.video:
            self._container.close()
            raise ImagestagError(f"{source!r} has no video stream")
        self._stream = self._container.streams.video[0]
        self._stream.thread_type = "AUTO"  # FFmpeg's frame and slice threads
        rate = self._stream.average_rate or self._stream.guessed_rate
        self.rate: Fraction | None = Fraction(rate) if rate else None
        self.fps = float(rate) if rate else 30.0
        self.time_base: Fraction | None = self._stream.time_base
        self.frame_count: int | None = self._stream.frames or None
        self.rotation = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _decode(self, out: queue.Queue[Any]) -> None:
        try:
            for index, frame in enumerate(self._container.decode(self._stream)):
                if index == 0:
                    self.rotation = int(frame.rotation)
                image = Image(frame.to_ndarray(format="bgr24"), PixelFormat.BGR, metadata={
                    "frame": index, "pts": frame.pts, "time_base": frame.time_base})
                if not self._put(out, image):
                    return
            self._put(out, _END)
        except BaseException as exc:
            self._put(out, ImagestagError(f"PyAV cannot decode {self.source!r}: {exc}"))

    def _put(self, out: queue.Queue[Any], item: Any) -> bool:
        while not self._stop.is_set():
            try:
                out.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> Iterator[Image]:
        frames: queue.Queue[Any] = queue.Queue(_READ_AHEAD)
        self._thread = threading.Thread(target=self._decode, args=(frames,),
                                        name="imagestag-pyav-decode", daemon=True)
        self._thread.start()
        while True:
            try:
                item = frames.get(timeout=_POLL_S)
            except queue.Empty:
                if not self._thread.is_alive() and frames.empty():
                    return
                continue
            if item is _END:
                return
            if isinstance(item, Exception):
                raise item
            yield item

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._container.close()


class PyAVWriter:
    """Writes ``path`` (under a temporary name until ``close``) following ``reader``."""

    def __init__(self, path: str, reader: Any, *, codec: str | None = None,
                 crf: int | None = None, bitrate: int | None = None) -> None:
        self.path = Path(path)
        self.reader = reader
        self.codec = codec or DEFAULT_CODECS.get(self.path.suffix.lower())
        self.crf, self.bitrate = crf, bitrate
        self.tmp = temp_path(self.path, suffix=self.path.suffix)
        self._out: Any = None
        self._stream: Any = None
        self._audio: Any = None
        self._pending: Any = None
        self._index = 0
        self._last_pts: int | None = None

    def _open(self, image: Image) -> None:
        try:
            out = av.open(str(self.tmp), "w")
        except (av.FFmpegError, ValueError) as exc:
            raise ImagestagError(f"PyAV cannot write {str(self.path)!r}: {exc}") from exc
        self._out = out
        codec = self.codec or out.default_video_codec
        rate = getattr(self.reader, "rate", None) or Fraction(self.reader.fps).limit_denominator(
            1001)
        try:
            stream: Any = out.add_stream(codec, rate=rate)
        except (av.FFmpegError, ValueError) as exc:
            raise ImagestagError(f"no video encoder {codec!r} in PyAV's FFmpeg "
                                 f"(--video-codec): {exc}") from exc
        formats = [f.name for f in stream.codec_context.codec.video_formats or ()]
        stream.pix_fmt = "yuv420p" if not formats or "yuv420p" in formats else formats[0]
        if stream.pix_fmt == "yuv420p" and (image.width % 2 or image.height % 2):
            raise ImagestagError(f"{codec} yuv420p needs an even width and height, but the "
                                 f"frames are {image.width}x{image.height}; resize to an "
                                 f"even size")
        stream.width, stream.height = image.width, image.height
        time_base = image.metadata.get("time_base")
        if image.metadata.get("pts") is None or time_base is None:
            time_base = 1 / rate
        self._time_base = Fraction(time_base)
        stream.codec_context.time_base = self._time_base
        stream.time_base = self._time_base
        options: dict[str, object] = {"crf": str(self.crf)} if self.crf is not None else {}
        if self.crf is not None and codec == "libvpx-vp9":
            options["b"] = "0"  # constant quality: libvpx-vp9 caps crf by a bit rate
        if self.bitrate is not None:
            stream.bit_rate = self.bitrate
        stream.options = options
        rotation = int(getattr(self.reader, "rotation", 0) or 0)
        if rotation:
            stream.set_display_rotation(rotation)
        self._stream = stream
        self._open_audio()

    def _open_audio(self) -> None:
        source = self.reader.source
        if not isinstance(source, str):
            return
        src = av.open(source)
        if not src.streams.audio:
            src.close()
            return
        streams = {}
        for audio in src.streams.audio:
            name = audio.codec_context.name
            if name not in self._out.supported_codecs:
                src.close()
                raise ImagestagError(
                    f"a {self.path.suffix} file cannot hold the source's {name!r} audio "
                    f"(it is copied, never re-encoded); write .mkv or .mp4 instead")
            streams[audio.index] = self._out.add_stream_from_template(audio)
        self._audio = src
        self._audio_streams = streams
        self._packets = src.demux(*src.streams.audio)

    def _mux_audio(self, until: float | None) -> None:
        """Copy the source's audio packets up to ``until`` seconds (all of them if None)."""
        if self._audio is None:
            return
        while True:
            packet = self._pending or next(self._packets, None)
            self._pending = None
            if packet is None:
                return
            if packet.dts is None:
                continue  # a demuxer's flush packet carries no data
            if until is not None and packet.pts is not None and \
                    float(packet.pts * packet.time_base) > until:
                self._pending = packet
                return
            packet.stream = self._audio_streams[packet.stream.index]
            self._out.mux(packet)

    def write(self, image: Image) -> None:
        if self._out is None:
            self._open(image)
            self.size = image.size
        if image.size != self.size:
            raise ImagestagError(f"frame {self._index} is {image.width}x{image.height}, but the "
                                 f"video is {self.size[0]}x{self.size[1]}; a video needs one "
                                 f"size (use a fixed-size resize)")
        pts = image.metadata.get("pts")
        tb = image.metadata.get("time_base")
        if pts is None or tb is None:
            pts = self._index
        elif Fraction(tb) != self._time_base:
            pts = round(Fraction(pts) * Fraction(tb) / self._time_base)
        if self._last_pts is not None and pts <= self._last_pts:
            pts = self._last_pts + 1  # encoders need rising timestamps
        self._last_pts = pts
        frame = av.VideoFrame.from_ndarray(image.get_pixels(PixelFormat.BGR), format="bgr24")
        frame.pts, frame.time_base = pts, self._time_base
        self._mux_video(self._stream.encode(frame))
        self._index += 1

    def _mux_video(self, packets: list[Any]) -> None:
        for packet in packets:
            if packet.pts is not None:
                self._mux_audio(float(packet.pts * packet.time_base))
            self._out.mux(packet)

    def close(self, keep: bool = True) -> None:
        if self._out is None:
            return
        out, self._out = self._out, None
        try:
            if keep:
                self._out = out
                self._mux_video(self._stream.encode(None))
                self._mux_audio(None)
                self._out = None
        finally:
            out.close()
            if self._audio is not None:
                self._audio.close()
        if keep:
            replace_atomic(self.tmp, self.path)
        else:
            self.tmp.unlink(missing_ok=True)


class PyAVBackend:
    """``--video-backend pyav``: reads what FFmpeg reads; writes H.264 with the source's audio."""

    name = "pyav"
    priority = 10

    def can_open(self, source: str | int) -> bool:
        return isinstance(source, str)

    def open_reader(self, source: str | int) -> PyAVReader:
        if not isinstance(source, str):
            raise ImagestagError(f"the pyav video back-end cannot open camera {source}; "
                                 f"use --video-backend opencv")
        return PyAVReader(source)

    def open_writer(self, path: str, reader: Any, *, codec: str | None = None,
                    crf: int | None = None, bitrate: int | None = None) -> PyAVWriter:
        return PyAVWriter(path, reader, codec=codec, crf=crf, bitrate=bitrate)


@hookimpl
def register_video_backends(register: Any) -> None:
    try:
        import importlib.util

        if importlib.util.find_spec("av") is None:
            return
    except (ImportError, ValueError):
        return
    register(PyAVBackend())
