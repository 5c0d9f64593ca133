"""The codec protocol: how encoded bytes become pixels and back.

Codecs are contributed by plugins through the ``register_codecs`` hook; the
built-in JPEG/PNG/WebP/BMP/TIFF codecs live in ``imagestag_plugins.codecs``.
This module also holds the look-ups (by name, extension or content) over the
codecs the process-wide plugin manager collected.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from .errors import CodecError, DecodeError, ImagestagError, PluginError, UnknownNameError
from .pixel_format import PixelFormat

if TYPE_CHECKING:
    from .registry import RegistryEntry

__all__ = ["Codec", "ImageInfo", "check_codec", "codec_for_data", "codec_for_path",
           "decode_with", "get_codec", "list_codecs", "select_page"]

_NAME_RE = re.compile(r"[a-z][a-z0-9_]*")
_MEMBERS = ("name", "extensions", "mime_type", "sniff", "probe", "decode", "encode")


@dataclass(frozen=True)
class ImageInfo:
    """What a header says about the image ``decode`` will return.

    ``width``/``height`` are *after* EXIF orientation is applied, and
    ``pixel_format``/``dtype`` are exactly what ``decode`` produces, so an
    encoded :class:`~imagestag_core.image.Image` can answer ``size`` and
    ``pixel_format`` without decoding.
    """

    width: int
    height: int
    pixel_format: PixelFormat
    dtype: np.dtype = field(default_factory=lambda: np.dtype(np.uint8))
    orientation: int = 1


@runtime_checkable
class Codec(Protocol):
    """An image file format.

    Attributes:
        name: registry name, lower case (``"jpeg"``); also the ``Encode`` format name.
        extensions: file extensions with the dot, the first one preferred (``(".jpg", ".jpeg")``).
        mime_type: e.g. ``"image/jpeg"``.
        decode_reductions: the factors ``decode(data, reduce=f)`` shrinks by
            inside the decoder (JPEG: ``(2, 4, 8)``), each giving
            ``ceil(width / f)`` x ``ceil(height / f)``.  Optional: a codec
            without the attribute offers none (readers use
            ``getattr(codec, "decode_reductions", ())``), and the pipeline
            then never asks it for a reduced decode.
        select_page: optional method ``select_page(data, page) -> bytes`` of a
            multi-page format: page ``page`` (0 first) as a file of its own, what
            ``Image(path, page=N)`` decodes (see :func:`select_page`).

    All methods must be thread-safe and must not keep per-call state.
    """

    name: str
    extensions: tuple[str, ...]
    mime_type: str
    decode_reductions: tuple[int, ...] = ()

    def sniff(self, data: bytes) -> bool:
        """Return True when ``data`` starts like a file of this format."""
        ...

    def probe(self, data: bytes) -> ImageInfo:
        """Read the header only; raise :class:`~imagestag_core.errors.DecodeError` if corrupt."""
        ...

    def decode(self, data: bytes, *, reduce: int = 1) -> tuple[np.ndarray, PixelFormat]:
        """Decode to pixels, EXIF orientation applied.

        ``reduce`` (1, 2, 4 or 8) asks for a shrink-on-load by that factor; a
        codec that cannot do it decodes at full size (callers resize anyway).
        Raise :class:`~imagestag_core.errors.DecodeError` on corrupt data.
        """
        ...

    def encode(self, pixels: np.ndarray, pixel_format: PixelFormat,
               options: Mapping[str, Any]) -> bytes:
        """Encode pixels; ``options`` holds ``quality``, ``subsampling``, ``compression``...

        Options a codec does not use are ignored.  Raise
        :class:`~imagestag_core.errors.CodecError` for a pixel format or dtype
        the format cannot store.
        """
        ...


def decode_with(codec: Codec, data: bytes, reduce: int = 1) -> tuple[np.ndarray, PixelFormat]:
    """``codec.decode(data, reduce=...)`` with every failure as a :class:`DecodeError`.

    An exception that is not the project's own, and a decoder that returns no
    pixels (OpenCV's way of saying "corrupt"), both become a ``DecodeError``
    naming the codec.  ``reduce=1`` calls ``decode(data)`` so a codec without
    shrink-on-load need not accept the keyword.
    """
    try:
        pixels, fmt = codec.decode(data) if reduce == 1 else codec.decode(data, reduce=reduce)
    except ImagestagError:
        raise
    except Exception as exc:
        raise DecodeError(f"cannot decode {codec.name} data: {exc}") from exc
    if pixels is None:
        raise DecodeError(f"cannot decode {codec.name} data: corrupt or truncated")
    return pixels, fmt


def select_page(codec: Codec, data: bytes, page: int) -> bytes:
    """The bytes of page ``page`` of a multi-page file as a file of its own, through
    the codec's optional ``select_page(data, page)``; page 0 of a codec without it
    is ``data``.  DecodeError past the last page."""
    select = getattr(codec, "select_page", None)
    if isinstance(page, bool) or not isinstance(page, int) or page < 0 or (
            select is None and page):
        raise CodecError(f"page={page!r}: pages are an int >= 0, and the {codec.name} codec "
                         f"{'has' if select else 'has no select_page, so only'} page 0")
    return bytes(select(data, page)) if select else data


def check_codec(codec: Any) -> None:
    """Raise :class:`~imagestag_core.errors.PluginError` unless ``codec`` follows :class:`Codec`."""
    missing = [a for a in _MEMBERS if not hasattr(codec, a)]
    if missing:
        raise PluginError(f"register_codecs: {codec!r} lacks {', '.join(missing)}")
    name = codec.name
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise PluginError(f"register_codecs: invalid codec name {name!r}")
    exts = codec.extensions
    if isinstance(exts, str) or not all(isinstance(e, str) and e.startswith(".") for e in exts):
        raise PluginError(f"register_codecs: {name} extensions must be a tuple of "
                          f"'.ext' strings, got {exts!r}")


def _codecs() -> list[RegistryEntry[Codec]]:
    from .plugins import get_plugin_manager

    return get_plugin_manager().codecs.list(include_hidden=True)


def get_codec(name: str) -> Codec:
    """The codec registered as ``name``, or the one owning the extension ``name``.

    ``get_codec("jpeg")`` and ``get_codec("jpg")``/``get_codec(".jpg")`` give the
    same codec.
    """
    from .plugins import get_plugin_manager

    registry = get_plugin_manager().codecs
    try:
        return registry.get(name)
    except UnknownNameError:
        if isinstance(name, str):
            ext = name.lower() if name.startswith(".") else f".{name.lower()}"
            for entry in registry.list(include_hidden=True):
                if ext in entry.obj.extensions:
                    return entry.obj
        raise


def list_codecs() -> list[RegistryEntry[Codec]]:
    """Every registered codec, sorted by name, with its provider."""
    from .plugins import get_plugin_manager

    return get_plugin_manager().codecs.list()


def codec_for_path(path: str | os.PathLike[str]) -> Codec:
    """The codec for a file name's extension."""
    suffix = Path(path).suffix.lower()
    entries = _codecs()
    for entry in entries:
        if suffix in entry.obj.extensions:
            return entry.obj
    known = sorted({e for entry in entries for e in entry.obj.extensions})
    raise CodecError(f"no codec for the extension {suffix or '(none)'!r} of {str(path)!r}; "
                     f"known: {', '.join(known)}")


def codec_for_data(data: bytes, path: str | os.PathLike[str] | None = None) -> Codec:
    """The codec whose ``sniff`` recognises ``data`` (the file extension as a fallback)."""
    entries = _codecs()
    head = data[:64]
    for entry in entries:
        try:
            if entry.obj.sniff(head):
                return entry.obj
        except Exception:  # a broken third-party sniffer must not hide the others
            continue
    if path is not None:
        try:
            return codec_for_path(path)
        except CodecError:
            pass
    where = f" in {str(path)!r}" if path is not None else ""
    known = ", ".join(e.name for e in entries) or "(none installed)"
    raise DecodeError(f"unrecognised image data{where} (starts with {bytes(head[:8])!r}); "
                      f"known formats: {known}")
