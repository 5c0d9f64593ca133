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

Decompression bombs
-------------------
Encoded images are probed before decoding; a header claiming more than
:func:`get_max_pixels` pixels raises
:class:`~imagestag_core.errors.DecompressionBombError` before any pixel
memory is allocated.  The default limit is 178,956,970 pixels (the same
threshold at which Pillow refuses); set it with :func:`set_max_pixels` or the
``IMAGESTAG_MAX_PIXELS`` environment variable (``0`` disables the check).
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import (
    CodecError,
    DecodeError,
    DecompressionBombError,
    ImageError,
    ImageFileNotFoundError,
    ImagestagError,
)
from .lazy_import import lazy_module
from .pixel_format import PixelFormat

if TYPE_CHECKING:
    import cv2
    from PIL import Image as PILImage

    from .codec import Codec, ImageInfo
else:
    # OpenCV loads on the first pixel conversion, not with ``import imagestag_core``.
    cv2 = lazy_module("cv2", globals())

__all__ = ["DEFAULT_MAX_PIXELS", "Image", "get_max_pixels", "set_max_pixels"]

DEFAULT_MAX_PIXELS = 178_956_970
_max_pixels: int | None = None
_EMPTY: Mapping[str, Any] = MappingProxyType({})


def get_max_pixels() -> int:
    """The decompression-bomb limit in pixels (0 = unlimited)."""
    if _max_pixels is not None:
        return _max_pixels
    env = os.environ.get("IMAGESTAG_MAX_PIXELS", "").strip().replace("_", "")
    if env:
        try:
            return max(0, int(env))
        except ValueError:
            raise ImagestagError(
                f"IMAGESTAG_MAX_PIXELS must be an integer pixel count, got {env!r}"
            ) from None
    return DEFAULT_MAX_PIXELS


def set_max_pixels(limit: int | None) -> None:
    """Set the decompression-bomb limit; ``0`` disables it, ``None`` restores the default/env."""
    global _max_pixels
    if limit is not None and (not isinstance(limit, int) or limit < 0):
        raise ValueError(f"max pixels must be a non-negative int or None, got {limit!r}")
    _max_pixels = limit


def _check_pixel_limit(width: int, height: int) -> None:
    limit = get_max_pixels()
    if limit and width * height > limit:
        raise DecompressionBombError(width, height, limit)


def _readonly(array: np.ndarray) -> np.ndarray:
    if array.flags.writeable:
        array = array.view()
        array.flags.writeable = False
    return array


@functools.cache
def _conversions() -> dict[tuple[PixelFormat, PixelFormat], int]:
    """The ``cvtColor`` code of each format pair, built on first use (it needs cv2)."""
    f = PixelFormat
    return {
        (f.RGB, f.BGR): cv2.COLOR_RGB2BGR, (f.RGB, f.RGBA): cv2.COLOR_RGB2RGBA,
        (f.RGB, f.BGRA): cv2.COLOR_RGB2BGRA, (f.RGB, f.GRAY): cv2.COLOR_RGB2GRAY,
        (f.BGR, f.RGB): cv2.COLOR_BGR2RGB, (f.BGR, f.RGBA): cv2.COLOR_BGR2RGBA,
        (f.BGR, f.BGRA): cv2.COLOR_BGR2BGRA, (f.BGR, f.GRAY): cv2.COLOR_BGR2GRAY,
        (f.RGBA, f.RGB): cv2.COLOR_RGBA2RGB, (f.RGBA, f.BGR): cv2.COLOR_RGBA2BGR,
        (f.RGBA, f.BGRA): cv2.COLOR_RGBA2BGRA, (f.RGBA, f.GRAY): cv2.COLOR_RGBA2GRAY,
        (f.BGRA, f.RGB): cv2.COLOR_BGRA2RGB, (f.BGRA, f.BGR): cv2.COLOR_BGRA2BGR,
        (f.BGRA, f.RGBA): cv2.COLOR_BGRA2RGBA, (f.BGRA, f.GRAY): cv2.COLOR_BGRA2GRAY,
        (f.GRAY, f.RGB): cv2.COLOR_GRAY2RGB, (f.GRAY, f.BGR): cv2.COLOR_GRAY2BGR,
        (f.GRAY, f.RGBA): cv2.COLOR_GRAY2RGBA, (f.GRAY, f.BGRA): cv2.COLOR_GRAY2BGRA,
    }


def convert_pixels(pixels: np.ndarray, src: PixelFormat, dst: PixelFormat) -> np.ndarray:
    """Convert an array between pixel formats (a new array; the input is untouched)."""
    if src is dst:
        return pixels
    if dst is not PixelFormat.GRAY and pixels.dtype != np.uint8:
        raise ImageError(
            f"cannot convert a {pixels.dtype} {src} image to {dst}: colour formats are uint8; "
            f"map it to colour with FalseColor, or scale it to uint8 first"
        )
    out = cv2.cvtColor(pixels, _conversions()[(src, dst)])
    return out


def validate_array(array: Any, pixel_format: PixelFormat | str | None) -> tuple[np.ndarray,
                                                                               PixelFormat]:
    """Check an array's dtype and shape against a pixel format (inferred when None)."""
    if not isinstance(array, np.ndarray):
        raise ImageError(f"expected a numpy array, got {type(array).__name__}")
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    fmt = PixelFormat.infer(array) if pixel_format is None else PixelFormat.parse(pixel_format)
    expected_ndim = 2 if fmt is PixelFormat.GRAY else 3
    if array.ndim != expected_ndim or (expected_ndim == 3 and array.shape[2] != fmt.channels):
        want = "(H, W)" if fmt is PixelFormat.GRAY else f"(H, W, {fmt.channels})"
        raise ImageError(f"a {fmt} image needs an array of shape {want}, got {array.shape}")
    if array.shape[0] < 1 or array.shape[1] < 1:
        raise ImageError(f"an image needs at least 1x1 pixels, got shape {array.shape}")
    if array.dtype not in fmt.allowed_dtypes:
        allowed = ", ".join(str(d) for d in fmt.allowed_dtypes)
        raise ImageError(f"a {fmt} image must have dtype {allowed}; got {array.dtype}")
    return array, fmt


class Image:
    """An immutable image: pixels, encoded bytes, or both.

    Args:
        source: a numpy array, a path (``str``/``os.PathLike``), encoded bytes
            (``bytes``/``bytearray``/``memoryview``), a PIL image, or another Image.
        pixel_format: for arrays, the layout of the channels; inferred from the
            shape when omitted (2-D -> GRAY, 3 channels -> RGB, 4 -> RGBA).
        metadata: a mapping stored read-only on the image; filters pass it on.
        copy: copy the array instead of viewing it (see the module docs).

    An Image is always truthy.  Arrays it hands out are read-only.
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
                 metadata: Mapping[str, Any] | None = None, copy: bool = False) -> None:
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
            self._set_encoded(bytes(source), None)
        elif isinstance(source, (str, os.PathLike)):
            path = Path(source)
            self._set_encoded(_read_file(path), None, path=path)
            meta["path"] = str(path)
        elif _is_pil(source):
            array, fmt = _from_pil(source)
            self._set_pixels(array, fmt, copy=False)
        else:
            raise ImageError(
                f"cannot make an Image from {type(source).__name__}; expected a numpy array, "
                f"a path, encoded bytes, a PIL image or an Image"
            )
        if pixel_format is not None and self._encoded is not None and self._pixels is None:
            raise ImageError("pixel_format= applies to arrays only; encoded data carries its own")
        if metadata:
            if not isinstance(metadata, Mapping):
                raise ImageError(f"metadata must be a mapping, got {type(metadata).__name__}")
            meta.update(metadata)
        self._metadata = MappingProxyType(meta) if meta else _EMPTY

    # -- construction helpers ---------------------------------------------------

    def _adopt(self, other: Image) -> None:
        self._pixels = other._pixels
        self._encoded = other._encoded
        self._codec = other._codec
        self._format = other._format
        self._dtype = other._dtype
        self._width = other._width
        self._height = other._height
        self._lock = other._lock
        self._reduce = other._reduce
        self._source_size = other._source_size

    def _set_pixels(self, array: np.ndarray, pixel_format: PixelFormat | str | None,
                    *, copy: bool) -> None:
        array, fmt = validate_array(array, pixel_format)
        if copy:
            array = array.copy()
        elif not array.flags.c_contiguous:
            array = np.ascontiguousarray(array)
        self._pixels = _readonly(array)
        self._encoded = None
        self._codec = None
        self._format = fmt
        self._dtype = array.dtype
        self._height, self._width = int(array.shape[0]), int(array.shape[1])
        self._lock = None
        self._reduce = 1
        self._source_size = (self._width, self._height)

    def _set_encoded(self, data: bytes, codec: Codec | None, *, path: Path | None = None,
                     info: ImageInfo | None = None) -> None:
        from .plugins import codec_for_data

        if not data:
            raise DecodeError(f"empty image data{f' in {str(path)!r}' if path else ''}")
        if codec is None:
            codec = codec_for_data(data, path=path)
        if info is None:
            try:
                info = codec.probe(data)
            except ImagestagError:
                raise
            except Exception as exc:
                raise DecodeError(f"corrupt {codec.name} data: {exc}") from exc
        _check_pixel_limit(info.width, info.height)
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
            self._pixels = _readonly(arr)
            self._format = fmt
        self._metadata = MappingProxyType(dict(metadata)) if metadata else _EMPTY
        return self

    def derive(self, pixels: np.ndarray, pixel_format: PixelFormat | str | None = None) -> Image:
        """A new Image of ``pixels`` carrying this image's metadata (what filters return)."""
        out = Image(pixels, pixel_format if pixel_format is not None else (
            self._format if _shape_fits(pixels, self._format) else None))
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
        return _readonly(convert_pixels(pixels, self._format, target))

    def _decode(self) -> np.ndarray:
        assert self._lock is not None and self._codec is not None and self._encoded is not None
        with self._lock:
            if self._pixels is not None:
                return self._pixels
            try:
                if self._reduce == 1:
                    array, fmt = self._codec.decode(self._encoded)
                else:
                    array, fmt = self._codec.decode(self._encoded, reduce=self._reduce)
            except ImagestagError:
                raise
            except Exception as exc:
                raise DecodeError(f"cannot decode {self._codec.name} data: {exc}") from exc
            if array is None:
                raise DecodeError(f"cannot decode {self._codec.name} data: corrupt or truncated")
            array, fmt = validate_array(array, fmt)
            if (array.shape[1], array.shape[0]) != (self._width, self._height) or (
                    fmt is not self._format):
                raise DecodeError(
                    f"{self._codec.name} codec decoded {array.shape[1]}x{array.shape[0]} {fmt}, "
                    f"but its header said {self._width}x{self._height} {self._format}"
                )
            self._pixels = _readonly(array)
            return self._pixels

    def convert(self, fmt: PixelFormat | str) -> Image:
        """A new Image in pixel format ``fmt`` (this one if it already is)."""
        target = PixelFormat.parse(fmt)
        if target is self._format and self._encoded is None:
            return self
        return self.derive(self.get_pixels(target), target)

    def to_pil(self) -> PILImage.Image:
        """A Pillow image (RGB/RGBA/L, ``I;16`` for uint16, ``F`` for float32)."""
        from PIL import Image as PILImage

        fmt = self._format
        if fmt is PixelFormat.BGR:
            fmt = PixelFormat.RGB
        elif fmt is PixelFormat.BGRA:
            fmt = PixelFormat.RGBA
        pixels = np.ascontiguousarray(self.get_pixels(fmt))
        return PILImage.fromarray(pixels)

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


def write_atomic(target: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``target`` atomically and durably; kept importable here.

    The one implementation is :func:`imagestag_core.atomic.write_atomic`
    (short temporary name in the same folder, fsync of the file and the folder).
    """
    from .atomic import write_atomic as write

    write(target, data)


def _rebuild_encoded(data: bytes, codec: str, metadata: dict[str, Any],
                     reduce: int = 1) -> Image:
    return Image.from_encoded(data, codec, metadata=metadata).with_decode_reduction(reduce)


def _rebuild_pixels(pixels: np.ndarray, fmt: str, metadata: dict[str, Any]) -> Image:
    return Image(pixels, fmt, metadata=metadata)


def _shape_fits(pixels: np.ndarray, fmt: PixelFormat) -> bool:
    if fmt is PixelFormat.GRAY:
        return pixels.ndim == 2
    return pixels.ndim == 3 and pixels.shape[2] == fmt.channels


def _read_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ImageFileNotFoundError(path) from None
    except IsADirectoryError:
        raise ImageFileNotFoundError(path, "it is a directory") from None
    except PermissionError:
        raise ImageFileNotFoundError(path, "permission denied") from None
    except OSError as exc:
        raise ImageFileNotFoundError(path, exc.strerror or str(exc)) from None


def _is_pil(obj: Any) -> bool:
    module = type(obj).__module__
    if not module.startswith("PIL."):
        return False
    from PIL import Image as PILImage

    return isinstance(obj, PILImage.Image)


def _from_pil(pil: Any) -> tuple[np.ndarray, PixelFormat]:
    mode = pil.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N"):
        return np.asarray(pil, dtype=np.uint16), PixelFormat.GRAY
    if mode == "F":
        return np.asarray(pil, dtype=np.float32), PixelFormat.GRAY
    if mode == "I":
        array = np.asarray(pil)
        if array.min(initial=0) < 0 or array.max(initial=0) > 65535:
            raise ImageError("a PIL mode 'I' image with values outside 0..65535 has no "
                             "imagestag format; convert it to 'F' first")
        return array.astype(np.uint16), PixelFormat.GRAY
    if mode == "1":
        pil = pil.convert("L")
        mode = "L"
    if mode == "L":
        return np.asarray(pil), PixelFormat.GRAY
    if mode == "RGB":
        return np.asarray(pil), PixelFormat.RGB
    if mode == "RGBA":
        return np.asarray(pil), PixelFormat.RGBA
    has_alpha = "A" in mode or "transparency" in pil.info
    pil = pil.convert("RGBA" if has_alpha else "RGB")
    return np.asarray(pil), PixelFormat.RGBA if has_alpha else PixelFormat.RGB
