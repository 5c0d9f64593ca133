"""The hooks a plugin implements.  These docstrings are the reference.

A plugin is a module (or object) with functions decorated by
``imagestag_core.hookimpl``.  It is found through the ``imagestag``
entry-point group, or the ``IMAGESTAG_PLUGINS`` environment variable, or
registered explicitly with ``get_plugin_manager().register_plugin(module)``.

Every hook receives a ``register`` callback and returns nothing: the core
validates what is registered and records which plugin and distribution
provided it.  Hooks are called through pluggy with keyword arguments, and
future versions only ever *add* arguments, so implement just the ones you use;
``tryfirst``/``trylast`` and ``wrapper=True`` work as in any pluggy project.
The callback protocols below type a hookimpl::

    from imagestag_core import hookimpl
    from imagestag_core.hookspecs import RegisterFilter

    @hookimpl
    def register_filters(register: RegisterFilter) -> None:
        register(MyBlur)                          # under MyBlur.name
        register(MyBlur, name="blur2", aliases=("soft",))

The annotations are optional: a plain ``def register_filters(register):`` works.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import pluggy

if TYPE_CHECKING:
    import numpy as np

    from .codec import Codec
    from .executor import Executor
    from .filter import Filter

__all__ = [
    "Command", "RegisterCodec", "RegisterColormap", "RegisterCommand", "RegisterExecutor",
    "RegisterFilter", "RegisterVideoBackend", "VideoBackend", "hookimpl", "hookspec",
]

hookspec = pluggy.HookspecMarker("imagestag")
hookimpl = pluggy.HookimplMarker("imagestag")


class RegisterFilter(Protocol):
    """``register(cls, *, name=None, aliases=(), hidden=False)`` of ``register_filters``."""

    def __call__(self, cls: type[Filter], *, name: str | None = None,
                 aliases: tuple[str, ...] = (), hidden: bool = False) -> None: ...


class RegisterExecutor(Protocol):
    """``register(cls, *, name=None, aliases=(), hidden=False)`` of ``register_executors``."""

    def __call__(self, cls: type[Executor], *, name: str | None = None,
                 aliases: tuple[str, ...] = (), hidden: bool = False) -> None: ...


#: the former name of the class-registering callbacks' protocol
RegisterClass = RegisterFilter


class RegisterColormap(Protocol):
    """``register(name, lut)`` of ``register_colormaps``."""

    def __call__(self, name: str, lut: np.ndarray | Any) -> None: ...


class RegisterCodec(Protocol):
    """``register(codec)`` of ``register_codecs``."""

    def __call__(self, codec: Codec) -> None: ...


class Command(Protocol):
    """One ``imagestag`` subcommand.

    ``name`` is the subcommand (``[a-z][a-z0-9_-]*``), ``help`` its one-line
    summary; ``configure(parser)`` adds its arguments to an
    ``argparse.ArgumentParser`` and ``run(args)`` runs it with the parsed
    namespace, returning the exit status (``None`` means 0).
    """

    name: str
    help: str

    def configure(self, parser: Any) -> None: ...

    def run(self, args: Any) -> int | None: ...


class RegisterCommand(Protocol):
    def __call__(self, command: Command) -> None: ...


class VideoBackend(Protocol):
    """Reads and writes video: what ``imagestag run`` uses for a video or camera.

    ``name`` (``[a-z][a-z0-9_-]*``) is what ``--video-backend`` picks;
    ``can_open(source)`` says whether it reads ``source`` (a path, or an
    ``int`` camera index) without opening it for long.

    ``open_reader(source)`` returns a reader: iterating it yields each frame as
    an :class:`~imagestag_core.Image` (BGR or RGB) whose metadata holds
    ``frame`` (index), ``pts`` and ``time_base`` (``None`` where unknown);
    its attributes are ``source``, ``fps`` (nominal), ``frame_count`` (``None``
    where the container does not say), ``rotation`` (display rotation in
    degrees, known once a frame is read) and ``close()``.  Decoding may run in
    the back-end's own threads.

    ``open_writer(path, reader, *, codec=None, crf=None, bitrate=None)``
    returns a writer with ``write(image)`` and ``close(keep=True)``
    (``keep=False`` leaves no file).  It follows ``reader``'s frame rate, frame
    timestamps and rotation, and copies its source's audio unchanged where it
    can; ``codec`` names an encoder, ``crf``/``bitrate`` set the quality.
    A setting it cannot honour raises :class:`~imagestag_core.ImagestagError`.
    """

    name: str

    def can_open(self, source: str | int) -> bool: ...

    def open_reader(self, source: str | int) -> Any: ...

    def open_writer(self, path: str, reader: Any, *, codec: str | None = None,
                    crf: int | None = None, bitrate: int | None = None) -> Any: ...


class RegisterVideoBackend(Protocol):
    def __call__(self, backend: VideoBackend) -> None: ...


@hookspec
def register_filters(register: RegisterFilter) -> None:
    """Register filter classes.

    Call ``register(cls, *, name=None, aliases=(), hidden=False)`` once per filter.

    Args:
        register: ``cls`` must subclass :class:`imagestag_core.Filter`; ``name``
            defaults to ``cls.name`` and, like every alias, must be a
            lower-case identifier (``[a-z][a-z0-9_]*``).  The class name also
            becomes importable from :mod:`imagestag_core.filters`.  ``hidden``
            marks a test tool: it resolves by name (specs, workers, imports)
            but is left out of listings and suggestions unless
            ``IMAGESTAG_TEST_TOOLS=1``.

    A name already taken is rejected and recorded as a load error naming both
    providers; the first provider keeps it.
    """


@hookspec
def register_executors(register: RegisterExecutor) -> None:
    """Register executor classes.

    Call ``register(cls, *, name=None, aliases=(), hidden=False)`` once per executor.

    Args:
        register: ``cls`` must subclass :class:`imagestag_core.executor.Executor`
            and is constructed as ``cls(pipeline, **options)`` by
            :func:`imagestag_core.get_executor`.  ``name`` defaults to
            ``cls.name``; aliases (``"data_parallel"``) resolve to the same class.
    """


@hookspec
def register_colormaps(register: RegisterColormap) -> None:
    """Register colormaps for ``FalseColor`` and friends.

    Call ``register(name, lut)`` once per colormap.

    Args:
        register: ``lut`` is a ``(256, 3)`` uint8 RGB table (anything
            ``numpy.asarray`` turns into one).  Entry ``i`` is the colour of
            gray level ``i``.  A reversed ``<name>_r`` is derived automatically
            unless registered explicitly.
    """


@hookspec
def register_codecs(register: RegisterCodec) -> None:
    """Register image file formats.

    Call ``register(codec)`` once per codec.

    Args:
        register: ``codec`` follows :class:`imagestag_core.codec.Codec`:
            ``name``, ``extensions``, ``mime_type``, ``sniff(data)``,
            ``probe(data)``, ``decode(data, reduce=1)`` and
            ``encode(pixels, pixel_format, options)``.  Its name is what
            ``Encode(format=...)`` accepts; its extensions pick it for
            ``Image.save`` and the CLI's output files.
    """


@hookspec
def register_commands(register: RegisterCommand) -> None:
    """Register ``imagestag`` subcommands (the application is built from these).

    Call ``register(command)`` once per subcommand.

    Args:
        register: ``command`` follows :class:`Command`: ``name``, ``help``,
            ``configure(parser)`` and ``run(args)``.  The built-in ``run``,
            ``bench``, ``demo``, ``plugins`` and ``filters`` are registered
            this way too.  A plugin whose hook raises is reported and skipped;
            the other commands keep working.
    """


@hookspec
def register_video_backends(register: RegisterVideoBackend) -> None:
    """Register video back-ends (readers and writers of video files and cameras).

    Call ``register(backend)`` once per back-end.

    Args:
        register: ``backend`` follows :class:`VideoBackend`: ``name``,
            ``can_open(source)``, ``open_reader(source)`` and
            ``open_writer(path, reader, ...)``.  ``imagestag run`` picks one
            by ``--video-backend NAME``, else the first that can open the
            input, highest ``priority`` (an optional int, default 0) first.
    """
