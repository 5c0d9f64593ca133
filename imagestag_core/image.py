"""The :class:`Image` value type.

An Image is immutable.  It holds either pixels (a read-only numpy array), or
encoded bytes (JPEG, PNG...) that are decoded on first use, or both.  Because
it never changes, one Image may be read from any number of threads.

Zero-copy construction
----------------------
``Image(array)`` does not copy a C-contiguous array: it keeps a *read-only
view* of it.  Writing through the Image's arrays raises ``ValueError``
("assignment destination is read-only"), so a filter cannot corrupt a frame
another thread is reading.  The caller's own array stays writable, though:
if you keep modifying the array you passed in, the Image sees the change.
Pass ``copy=True`` (or hand over an array you no longer touch) when that
matters.  Non-contiguous arrays (slices with steps) are copied once.

Encoded images are probed before decoding; a header over the pixel limit
(:mod:`imagestag_core.limits`) is refused before any pixel memory is allocated.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

from .atomic import write_atomic
from .codec import decode_with, select_page
from .errors import CodecError, DecodeError, ImageError, ImagestagError
from .limits import DEFAULT_MAX_PIXELS, check_pixel_limit, get_max_pixels, set_max_pixels
from .pixel_format import PixelFormat
from .pixels import PixelArrays, convert_pixels, readonly, shape_fits, validate_array
from .sources import from_pil, is_pil, read_file

if TYPE_CHECKING:
    from PIL import Image as PILImage

    from .codec import Codec, ImageInfo

__all__ = ["DEFAULT_MAX_PIXELS", "Image", "convert_pixels", "get_max_pixels", "set_max_pixels",
           "validate_array", "write_atomic"]

_EMPTY: Mapping[str, Any] = MappingProxyType({})
_SHARED_SLOTS = ("_codec", "_dtype", "_encoded", "_format", "_height", "_lock", "_pixels",
                 "_reduce", "_source_size", "_width")

class Image(PixelArrays):
    """An immutable image: pixels, encoded bytes, or both.

    Args:
        source: a numpy array, a path (``str``/``os.PathLike``), encoded bytes
            (``bytes``/``bytearray``/``memoryview``), a PIL image, or another Image.
        pixel_format: for arrays, the layout of the channels; inferred from the
            shape when omitted (2-D -> GRAY, 3 channels -> RGB, 4 -> RGBA).
        metadata: a mapping stored read-only on the image; filters pass it on.
        copy: copy the array instead of viewing it (see the module docs).
        page: for paths and bytes, the page of a multi-page file (0 first), through
            the codec's ``select_page``; the default is the first page.

    An Image is always truthy.  Arrays it hands out are read-only; ``np.asarray(image)``
    and :meth:`to_numpy` (from :class:`~.pixels.PixelArrays`) give them to numpy.
    """

    __slots__ = ("_codec", "_dtype", "_encoded", "_format", "_height", "_lock", "_metadata",
                 "_pixels", "_reduce", "_source_size", "_width")

    _pixels: np.ndarray | None
    _encoded: bytes | None
    _codec: Codec | None
    _format: PixelFormat
    _dtype: np.dtype
    _width: int
    _height: int
    _lock: threading.Lock | None
    _metadata: Mapping[str, Any]
    _reduce: int
    _source_size: tuple[int, int]

    def __init__(self, source: Any, pixel_format: PixelFormat | str | None = None, *,
                 metadata: Mapping[str, Any] | None = None, copy: bool = False,
                 page: int | None = None) -> None:
        meta: dict[str, Any] = {}
        if isinstance(source, Image):
            self._adopt(source)
            meta.update(source.metadata)
            if pixel_format is not None and PixelFormat.parse(pixel_format) is not self._format:
                raise ImageError("Image(image, pixel_format=...) cannot relabel channels; "
                                 "use image.convert(fmt)")
        elif isinstance(source, np.ndarray):
            self._set_pixels(source, pixel_format, copy=copy)
        elif isinstance(source, (bytes, bytearray, memoryview)):
            self._set_encoded(bytes(source), None, page=page)
        elif isinstance(source, (str, os.PathLike)):
            path = Path(source)
            self._set_encoded(read_file(path), None, path=path, page=page)
            meta["path"] = str(path)
        elif is_pil(source):
            array, fmt = from_pil(source)
            self._set_pixels(array, fmt, copy=False)
        else:
            raise ImageError(
                f"cannot make an Image from {type(source).__name__}; expected a numpy array, "
                f"a path, encoded bytes, a PIL image or an Image"
            )
        if pixel_format is not None and self._encoded is not None and self._pixels is None:
            raise ImageError("pixel_format= applies to arrays only; encoded data carries its own")
        if page is not None and not isinstance(source, (str, os.PathLike, bytes, bytearray,
                                                        memoryview)):
            raise ImageError(f"page={page!r} applies to paths and encoded bytes only")
        if metadata:
            if not isinstance(metadata, Mapping):
                raise ImageError(f"metadata must be a mapping, got {type(metadata).__name__}")
            meta.update(metadata)
        self._metadata = MappingProxyType(meta) if meta else _EMPTY

    # -- construction helpers ---------------------------------------------------

    def _adopt(self, other: Image) -> None:
        for slot in _SHARED_SLOTS:
            setattr(self, slot, getattr(other, slot))

    def _set_pixels(self, array: np.ndarray, pixel_format: PixelFormat | str | None,
                    *, copy: bool) -> None:
        array, fmt = validate_array(array, pixel_format)
        if copy:
            array = array.copy()
        elif not array.flags.c_contiguous:
            array = np.ascontiguousarray(array)
        self._pixels = readonly(array)
        self._encoded = None
        self._codec = None
        self._format = fmt
        self._dtype = array.dtype
        self._height, self._width = int(array.shape[0]), int(array.shape[1])
        self._lock = None
        self._reduce = 1
        self._source_size = (self._width, self._height)

    def _set_encoded(self, data: bytes, codec: Codec | None, *, path: Path | None = None,
                     info: ImageInfo | None = None, page: int | None = None) -> None:
        from .plugins import codec_for_data

        if not data:
            raise DecodeError(f"empty image data{f' in {str(path)!r}' if path else ''}")
        if codec is None:
            codec = codec_for_data(data, path=path)
        if page is not None:
            data = select_page(codec, data, page)
        if info is None:
            try:
                info = codec.probe(data)
            except ImagestagError:
                raise
            except Exception as exc:
                raise DecodeError(f"corrupt {codec.name} data: {exc}") from exc
        check_pixel_limit(info.width, info.height)
        self._pixels = None
        self._encoded = data
        self._codec = codec
        self._format = info.pixel_format
        self._dtype = np.dtype(info.dtype)
        self._width, self._height = int(info.width), int(info.height)
        self._lock = threading.Lock()
        self._reduce = 1
        self._source_size = (self._width, self._height)

    @classmethod
    def from_encoded(cls, data: bytes, codec: Codec | str | None = None, *,
                     info: ImageInfo | None = None, pixels: np.ndarray | None = None,
                     pixel_format: PixelFormat | None = None,
                     metadata: Mapping[str, Any] | None = None) -> Image:
        """An Image carrying encoded bytes.

        ``codec`` may be a codec object or a registry name; ``info`` skips the
        header probe when the caller already knows it (an encoder does).
        ``pixels`` may pre-seed the decoded pixels only if they are exactly what
        decoding gives (lossless formats).
        """
        from .plugins import get_codec

        self = cls.__new__(cls)
        resolved = get_codec(codec) if isinstance(codec, str) else codec
        self._set_encoded(bytes(data), resolved, info=info)
        if pixels is not None:
            arr, fmt = validate_array(pixels, pixel_format)
            self._pixels = readonly(arr)
            self._format = fmt
        self._metadata = MappingProxyType(dict(metadata)) if metadata else _EMPTY
        return self

    def derive(self, pixels: np.ndarray, pixel_format: PixelFormat | str | None = None) -> Image:
        """A new Image of ``pixels`` carrying this image's metadata (what filters return)."""
        out = Image(pixels, pixel_format if pixel_format is not None else (
            self._format if shape_fits(pixels, self._format) else None))
        out._metadata = self._metadata
        return out

    def with_metadata(self, **updates: Any) -> Image:
        """A new Image sharing these pixels/bytes with ``updates`` merged into the metadata."""
        out = Image.__new__(Image)
        out._adopt(self)
        merged = dict(self._metadata)
        merged.update(updates)
        out._metadata = MappingProxyType(merged)
        return out

    def with_decode_reduction(self, factor: int) -> Image:
        """An equivalent lazy image that decodes at ``1/factor`` size (shrink-on-load).

        Only for an encoded image not yet decoded, whose codec lists ``factor``
        in its ``decode_reductions``.  The result is
        ``ceil(width / factor)`` x ``ceil(height / factor)``; its
        :attr:`source_size` stays the full size, so a filter computes its
        output size from the full image, and it exposes no :attr:`encoded`
        bytes (they hold the full-size image, not this one).  ``factor=1``
        returns this image.
        """
        if factor == 1:
            return self
        if self._encoded is None or self._pixels is not None or self._reduce != 1:
            raise ImageError("with_decode_reduction() needs an encoded image that is not "
                             "decoded or reduced yet")
        reductions = tuple(getattr(self._codec, "decode_reductions", ()))
        if factor not in reductions:
            assert self._codec is not None
            raise ImageError(f"the {self._codec.name} codec cannot decode at 1/{factor!r} size; "
                             f"it offers {reductions or 'no reduction'}")
        out = Image.__new__(Image)
        out._adopt(self)
        out._metadata = self._metadata
        out._width, out._height = -(-self._width // factor), -(-self._height // factor)
        out._reduce = factor
        out._lock = threading.Lock()
        return out

    # -- properties ---------------------------------------------------------------

    @property
    def width(self) -> int:
        return self._width

    @property
    def height(self) -> int:
        return self._height

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)``, as in Pillow."""
        return (self._width, self._height)

    @property
    def source_size(self) -> tuple[int, int]:
        """``(width, height)`` of the full-size source: :attr:`size`, unless this image
        decodes at a reduced size (:meth:`with_decode_reduction`)."""
        return self._source_size

    @property
    def decode_reduction(self) -> int:
        """The shrink-on-load factor this image decodes at (1: full size)."""
        return self._reduce

    @property
    def pixel_format(self) -> PixelFormat:
        return self._format

    @property
    def dtype(self) -> np.dtype:
        return self._dtype

    @property
    def metadata(self) -> Mapping[str, Any]:
        """Read-only mapping; use :meth:`with_metadata` for a changed copy."""
        return self._metadata

    @property
    def encoded(self) -> bytes | None:
        """The encoded bytes this image was made from or encoded to, else None
        (also None for a reduced decode, whose bytes hold the full-size image)."""
        return self._encoded if self._reduce == 1 else None

    @property
    def encoded_format(self) -> str | None:
        """The codec name of :attr:`encoded` (``"jpeg"``), else None."""
        codec = self.codec
        return codec.name if codec is not None else None

    @property
    def codec(self) -> Codec | None:
        """The codec of :attr:`encoded`, else None."""
        return self._codec if self._reduce == 1 else None

    @property
    def is_decoded(self) -> bool:
        return self._pixels is not None

    @property
    def pending_decode(self) -> tuple[bytes, Codec, int] | None:
        """``(data, codec, reduce)`` while the pixels are still to be decoded, else None.

        ``data`` holds the full-size source even for a reduced decode, so a
        worker elsewhere can rebuild this exact image:
        ``Image.from_encoded(data, codec).with_decode_reduction(reduce)``.
        """
        if self._pixels is not None or self._encoded is None or self._codec is None:
            return None
        return self._encoded, self._codec, self._reduce

    @property
    def nbytes(self) -> int:
        return self._width * self._height * self._format.channels * self._dtype.itemsize

    # -- pixels ---------------------------------------------------------------------

    def get_pixels(self, fmt: PixelFormat | str | None = None) -> np.ndarray:
        """The pixels as a read-only array, converted to ``fmt`` if given.

        No copy is made when the format already matches.  Encoded images are
        decoded once (thread-safely) and the result is cached.
        """
        pixels = self._pixels if self._pixels is not None else self._decode()
        if fmt is None:
            return pixels
        target = PixelFormat.parse(fmt)
        if target is self._format:
            return pixels
        return readonly(convert_pixels(pixels, self._format, target))

    def _decode(self) -> np.ndarray:
        assert self._lock is not None and self._codec is not None and self._encoded is not None
        with self._lock:
            if self._pixels is not None:
                return self._pixels
            array, fmt = validate_array(*decode_with(self._codec, self._encoded, self._reduce))
            if (array.shape[1], array.shape[0]) != (self._width, self._height) or (
                    fmt is not self._format):
                raise DecodeError(
                    f"{self._codec.name} codec decoded {array.shape[1]}x{array.shape[0]} {fmt}, "
                    f"but its header said {self._width}x{self._height} {self._format}"
                )
            self._pixels = readonly(array)
            return self._pixels

    def convert(self, fmt: PixelFormat | str) -> Image:
        """A new Image in pixel format ``fmt`` (this one if it already is)."""
        target = PixelFormat.parse(fmt)
        if target is self._format and self._encoded is None:
            return self
        return self.derive(self.get_pixels(target), target)

    @classmethod
    def from_pil(cls, pil: PILImage.Image, **options: Any) -> Image:
        """``Image(pil, **options)``: RGB, RGBA or GRAY pixels (the inverse of :meth:`to_pil`)."""
        return cls(pil, **options)

    def encode(self, format: str = "jpeg", **options: Any) -> bytes:
        """Encode with a registered codec (``quality=``, ``subsampling=``...)."""
        from .plugins import get_codec

        codec = get_codec(format)
        encoded = self.encoded
        if encoded is not None and self.codec is codec and not options:
            return encoded
        try:
            return codec.encode(self.get_pixels(), self._format, options)
        except ImagestagError:
            raise
        except Exception as exc:
            raise CodecError(f"{codec.name} encoding failed: {exc}") from exc

    def save(self, path: str | os.PathLike[str], format: str | None = None,
             **options: Any) -> Path:
        """Write to ``path``; the codec comes from ``format`` or the file extension.

        The file is written to a temporary name and renamed, so a crash never
        leaves a half-written image behind.
        """
        from .plugins import codec_for_path, get_codec

        target = Path(path)
        codec = get_codec(format) if format else codec_for_path(target)
        write_atomic(target, self.encode(codec.name, **options))
        return target

    # -- dunder -----------------------------------------------------------------

    def __bool__(self) -> bool:
        return True

    def __repr__(self) -> str:
        enc = f" encoded={self.encoded_format}({len(self._encoded)} B)" if self._encoded else ""
        return f"<Image {self._width}x{self._height} {self._format} {self._dtype}{enc}>"

    def __reduce__(self) -> tuple[Any, ...]:
        if self._encoded is not None and self._codec is not None:
            reduced = (self._reduce,) if self._reduce != 1 else ()
            return (_rebuild_encoded, (self._encoded, self._codec.name, dict(self._metadata),
                                       *reduced))
        return (_rebuild_pixels, (self.get_pixels(), self._format.value, dict(self._metadata)))


def _rebuild_encoded(data: bytes, codec: str, metadata: dict[str, Any],
                     reduce: int = 1) -> Image:
    return Image.from_encoded(data, codec, metadata=metadata).with_decode_reduction(reduce)


def _rebuild_pixels(pixels: np.ndarray, fmt: str, metadata: dict[str, Any]) -> Image:
    return Image(pixels, fmt, metadata=metadata)
