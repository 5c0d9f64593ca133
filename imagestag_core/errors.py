"""The error hierarchy of imagestag.

Everything the library raises on purpose derives from :class:`ImagestagError`,
so ``except ImagestagError`` catches every anticipated failure while bugs
(``AttributeError`` and friends) still surface.  Each class also derives from
the builtin it refines (``ValueError``, ``LookupError``, ...), so code written
against the builtins keeps working.  Exceptions carry their context as
attributes, never only in the message.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from difflib import get_close_matches
from typing import Any

__all__ = [
    "BackpressureError", "CodecError", "ContractViolation", "DecodeError", "DecompressionBombError",
    "DuplicateNameError", "ExecutorClosedError", "FilterParameterError", "FrameError", "ImageError",
    "ImageFileNotFoundError", "ImagestagError", "InjectedFault", "PipelineError", "PluginError",
    "PluginLoadError", "SpecError", "UnknownNameError",
]


class ImagestagError(Exception):
    """Root of every error imagestag raises on purpose."""


# --- images -----------------------------------------------------------------


class ImageError(ImagestagError, ValueError):
    """An array, file or byte string cannot be used as an image."""


class ImageFileNotFoundError(ImageError, FileNotFoundError):
    """An image path does not exist or is not a readable file."""

    def __init__(self, path: object, reason: str = "no such file") -> None:
        super().__init__(f"cannot read image {str(path)!r}: {reason}")
        self.path = path


class CodecError(ImagestagError, ValueError):
    """An encoder or decoder failed, or no codec handles a format."""


class DecodeError(ImageError, CodecError):
    """Encoded bytes are corrupt, truncated or of an unknown format."""


class DecompressionBombError(ImageError):
    """A header claims more pixels than the configured limit allows.

    Raised before any pixel memory is allocated.  See
    :func:`imagestag_core.image.set_max_pixels`.
    """

    def __init__(self, width: int, height: int, limit: int) -> None:
        super().__init__(
            f"image header claims {width}x{height} = {width * height:,} pixels, more than "
            f"the limit of {limit:,}; raise it with imagestag_core.image.set_max_pixels(n) "
            f"or the IMAGESTAG_MAX_PIXELS environment variable if the file is trusted"
        )
        self.width, self.height, self.limit = width, height, limit


# --- filters and specs --------------------------------------------------------


class FilterParameterError(ImagestagError, ValueError):
    """A filter was given an unknown parameter or a value of the wrong type/range."""

    def __init__(self, message: str, *, filter_name: str | None = None,
                 parameter: str | None = None) -> None:
        super().__init__(message)
        self.filter_name, self.parameter = filter_name, parameter


class SpecError(ImagestagError, ValueError):
    """A pipeline spec (text, dict or JSON) is malformed.

    ``position`` is the 0-based character offset in ``text`` where the problem
    was found (``None`` for dict specs), ``expected`` says what would have been
    valid there.
    """

    def __init__(self, message: str, *, text: str | None = None, position: int | None = None,
                 expected: str | None = None) -> None:
        detail = message
        if position is not None:
            detail = f"{message} at position {position}"
            if text is not None:
                detail = f"{detail}\n  {text}\n  {' ' * position}^"
        if expected:
            detail = f"{detail}\n  expected: {expected}"
        super().__init__(detail)
        self.text, self.position, self.expected, self.reason = text, position, expected, message


# --- plugins ------------------------------------------------------------------


class PluginError(ImagestagError):
    """A plugin could not be loaded or registered something invalid."""


#: an UnknownNameError lists the installed names up to this many, else counts them (all
#: are in ``.available``); either way it names the close matches and the command to list them
_LISTED = 12


class UnknownNameError(PluginError, LookupError):
    """A filter, executor, colormap or codec name is not registered."""

    def __init__(self, kind: str, name: str, available: Iterable[str]) -> None:
        names = sorted(available)
        by_lower = {n.lower(): n for n in names}
        matches = [by_lower[m] for m in get_close_matches(name.lower(), by_lower, n=2)]
        hint = f"; did you mean {' or '.join(map(repr, matches))}?" if matches else "."
        command = {"filter": "imagestag filters", "colormap": "imagestag plugins --json"}.get(
            kind, "imagestag plugins")
        installed = (f"Installed: {', '.join(names) or '(none)'}" if len(names) <= _LISTED
                     else f"{len(names)} installed")
        super().__init__(f"unknown {kind} {name!r}{hint} {installed} (see '{command}')")
        self.kind, self.name, self.available = kind, name, names
        self.suggestion = matches[0] if matches else None

    def __str__(self) -> str:  # LookupError would quote the message like a KeyError
        return str(self.args[0])


class DuplicateNameError(PluginError):
    """Two plugins registered the same name."""

    def __init__(self, kind: str, name: str, first: str, second: str) -> None:
        super().__init__(f"{kind} {name!r} is provided by both {first} and {second}; "
                         f"keeping {first}")
        self.kind, self.name, self.first, self.second = kind, name, first, second


class PluginLoadError(PluginError):
    """A plugin (entry point or module) failed to load or to register."""

    def __init__(self, plugin: str, distribution: str | None, error: BaseException | str) -> None:
        where = f" from distribution {distribution!r}" if distribution else ""
        super().__init__(f"plugin {plugin!r}{where} failed to load: {error}")
        self.plugin, self.distribution, self.error = plugin, distribution, error


# --- execution ------------------------------------------------------------------


class PipelineError(ImagestagError, RuntimeError):
    """A frame failed in a pipeline stage (``on_error="raise"``).

    ``seq`` is the frame's 0-based submission number, ``stage`` the stage name
    (``"1_FalseColor"``), ``filter_name`` the filter's registry name; the
    original exception is chained as ``__cause__`` and kept in ``error``.
    """

    def __init__(self, seq: int | None, stage: str | None, filter_name: str | None,
                 error: BaseException) -> None:
        where = f"stage {stage}" if stage else "the executor"
        frame = f"frame {seq}" if seq is not None else "a frame"
        super().__init__(f"{frame} failed in {where}: {type(error).__name__}: {error}")
        self.seq, self.stage, self.filter_name, self.error = seq, stage, filter_name, error
        self.__cause__ = error


class FrameError(ImagestagError):
    """Stands in a failed frame's place in results when ``on_error="collect"``.

    It is returned, not raised.  Unlike an ``Image`` it is falsy, so the seed's
    ``if result:`` idiom skips it.
    """

    def __init__(self, seq: int, stage: str | None, error: BaseException,
                 filter_name: str | None = None) -> None:
        super().__init__(f"frame {seq} failed in stage {stage}: {type(error).__name__}: {error}")
        self.seq, self.stage, self.filter_name, self.error = seq, stage, filter_name, error

    def __bool__(self) -> bool:
        return False

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.seq, self.stage, self.error, self.filter_name))


class BackpressureError(ImagestagError):
    """``submit`` found ``max_pending_results`` unread results and the timeout passed."""


class ExecutorClosedError(ImagestagError, RuntimeError):
    """The executor was stopped; it accepts no new work."""


class InjectedFault(ImagestagError, RuntimeError):
    """A failure raised on purpose by a test tool (``fail_on``, the contract kit).

    Picklable, so it crosses process boundaries.  ``frame`` is what marked the
    frame to fail (the metadata value that matched), if anything.
    """

    def __init__(self, message: str, frame: Any = None) -> None:
        super().__init__(message)
        self.message, self.frame = message, frame

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.message, self.frame))


class ContractViolation(ImagestagError, AssertionError):
    """A plugin broke the filter or executor contract (raised by the testing kit).

    ``property`` names the broken property (``"determinism"``,
    ``"input immutability"`` ...).
    """

    def __init__(self, property: str, message: str, *, plugin: str | None = None,
                 example: Sequence[object] | None = None) -> None:
        prefix = f"[{property}] {plugin}:" if plugin else f"[{property}]"
        super().__init__(f"{prefix} {message}")
        self.property, self.plugin, self.example = property, plugin, example
