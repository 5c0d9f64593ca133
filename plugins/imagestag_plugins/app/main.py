"""The ``imagestag`` command: a parser built from the registered subcommands.

Every subcommand, the built-in ``run``, ``bench``, ``demo``, ``plugins`` and
``filters`` included, is a :class:`~imagestag_core.hookspecs.Command` that a
plugin registers with the ``register_commands`` hook, so a third-party
distribution adds ``imagestag mycmd`` with one entry point.  A command whose
``configure`` raises is reported in one line and left out; the others work.

Bad input (an unknown filter, a malformed spec, a missing input, an
unwritable output folder) prints one line on stderr and exits with status 1;
usage errors exit with 2 (argparse), an interrupted run with 130.  An
unexpected exception is one ``imagestag: error: internal error: ...`` line
too; ``-v`` adds its traceback, and lets through what OpenCV, FFmpeg, libpng
and libtiff print themselves (silenced otherwise, see
:mod:`~imagestag_plugins.app.native_stderr`).
The library logs to ``logging.getLogger("imagestag")`` and its children; the
command installs the one handler that prints those records on stderr
(``imagestag: warning: ...``) at WARNING, INFO with ``-v``, DEBUG with ``-vv``
and ERROR only with a command's ``-q`` (:func:`cli_logging`).
Every subcommand reads its options and positionals in any order, and ``--``
ends the options (``imagestag run SPEC -o out -- -o.png``).
``imagestag --version`` answers before any plugin is loaded.
Reference: ``docs/cli.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

# only the standard library at module level: ``imagestag --version`` must not pay for
# numpy, OpenCV or the plugins (the core is imported once a command is needed)

__all__ = ["build_parser", "cli_logging", "log_level", "main"]

_COMMAND_DEST = "_imagestag_command"
_VERBOSE_DEST = "_imagestag_verbose"
_QUIET_DEST = "_imagestag_quiet"
# no command-line argument can hold a NUL byte (main() refuses one), so a NUL in front
# unambiguously marks an argument that came after "--" while argparse looks at it
_AFTER_DASHES = "\0"


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("imagestag")
    except PackageNotFoundError:  # a source checkout that was never installed
        from imagestag_core import __version__

        return __version__


class _VersionAction(argparse.Action):
    """``--version``, looking the version up only when asked."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS,
                 default: str = argparse.SUPPRESS, help: str | None = None) -> None:
        super().__init__(option_strings, dest=dest, default=default, nargs=0,
                         help=help or "show program's version number and exit")

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        # on stdout, as argparse's own version action does
        print(f"imagestag {_version()}")
        parser.exit()


class _CommandParser(argparse.ArgumentParser):
    """A subcommand's parser: options and positionals in any order, ``--`` ends the options.

    Plain ``argparse`` fills a ``nargs="*"`` positional from the first run of
    positionals only, so ``run SPEC -o out a.jpg`` and ``run SPEC -o out --
    -o.png`` were rejected; :meth:`parse_known_intermixed_args` reads them
    (commands whose positionals it cannot handle, ``REMAINDER`` ones, get the
    plain parse).  What follows ``--`` is a positional however it looks.
    """

    _intermixing = False

    def parse_known_args(self, args: Sequence[str] | None = None,  # type: ignore[override]
                         namespace: argparse.Namespace | None = None,
                         ) -> tuple[argparse.Namespace, list[str]]:
        if args is None or self._intermixing:
            return super().parse_known_args(args, namespace)
        original = list(args)
        marked = original
        if "--" in original:
            cut = original.index("--")
            marked = original[:cut] + [_AFTER_DASHES + a if a[:1] in self.prefix_chars else a
                                       for a in original[cut + 1:]]
        self._intermixing = True
        try:
            parsed, extras = self.parse_known_intermixed_args(marked, namespace)
        except TypeError:  # positionals parse_known_intermixed_args refuses
            parsed, extras = super().parse_known_args(original, namespace)
        finally:
            self._intermixing = False
        for key, value in vars(parsed).items():
            if isinstance(value, str):
                setattr(parsed, key, value.removeprefix(_AFTER_DASHES))
            elif isinstance(value, list):
                setattr(parsed, key, [v.removeprefix(_AFTER_DASHES) if isinstance(v, str)
                                      else v for v in value])
        return parsed, [e.removeprefix(_AFTER_DASHES) for e in extras]


def _add_verbose(parser: argparse.ArgumentParser, default: Any) -> None:
    """``-v/--verbose`` (unless the command already has one of the two options)."""
    for flags in (("-v", "--verbose"), ("--verbose",)):
        try:
            parser.add_argument(*flags, dest=_VERBOSE_DEST, action="count",
                                default=default,
                                help="log INFO (-vv: DEBUG) records of the 'imagestag' loggers; "
                                     "show tracebacks of internal errors and what OpenCV, "
                                     "FFmpeg, libpng and libtiff print themselves")
            return
        except argparse.ArgumentError:
            continue


def log_level(verbose: int, quiet: bool) -> int:
    """The ``imagestag`` loggers' level for ``-v`` given ``verbose`` times and ``-q``."""
    if quiet:
        return logging.ERROR
    return {0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG)


def _level_from_flags(arguments: Sequence[str]) -> int:
    """:func:`log_level` from a first look at the raw arguments (before ``--``)."""
    head = arguments[:arguments.index("--")] if "--" in arguments else arguments
    verbose = sum(len(a) - 1 for a in head if a[:2] == "-v" and set(a[1:]) == {"v"})
    verbose += sum(a == "--verbose" for a in head)
    return log_level(verbose, any(a in ("-q", "--quiet") for a in head))


class _StderrHandler(logging.Handler):
    """``imagestag: warning: <message>`` on whatever ``sys.stderr`` is at the time
    (:mod:`.native_stderr` swaps it while a command runs)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            name = "" if record.levelno >= logging.WARNING else f"[{record.name}] "
            print(f"imagestag: {record.levelname.lower()}: {name}{self.format(record)}",
                  file=sys.stderr)
        except Exception:
            self.handleError(record)


@contextlib.contextmanager
def cli_logging(level: int) -> Iterator[None]:
    """The command's handler on the ``imagestag`` logger at ``level`` for the block
    (the library itself adds only a ``NullHandler``); removed afterwards."""
    logger = logging.getLogger("imagestag")
    handler = _StderrHandler()
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


def _version_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="imagestag", add_help=False)
    parser.add_argument("--version", action=_VersionAction)
    return parser


def build_parser() -> argparse.ArgumentParser:
    """The full parser: one subparser per registered command, in name order.

    Loads the plugins.  A command whose ``configure`` raises is warned about
    (:class:`~imagestag_core.plugins.PluginWarning`, naming the command and
    its provider) and left out.
    """
    from imagestag_core.plugins import PluginWarning, list_commands

    parser = argparse.ArgumentParser(
        prog="imagestag", description="High-throughput image pipelines built on plugins.",
        epilog="Run 'imagestag demo' for the main job on a generated 20 MP source; "
               "see docs/cli.md for every option.", parents=[_version_parser()])
    _add_verbose(parser, default=0)
    # before the command (imagestag -q run ...) as after it: the command sees args.quiet
    parser.add_argument("-q", "--quiet", dest=_QUIET_DEST, action="store_true",
                        help="only errors, for every command")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_CommandParser)
    sub.required = True
    for entry in list_commands():
        command = entry.obj
        # configure into a scratch parser first: a failing one must leave no half-made
        # subcommand behind
        scratch = _CommandParser(prog=f"imagestag {entry.name}")
        try:
            command.configure(scratch)
        except Exception as exc:
            who = entry.distribution or f"plugin {entry.plugin}"
            warnings.warn(f"command {entry.name!r} from {who} is unavailable: its configure() "
                          f"failed: {type(exc).__name__}: {exc}", PluginWarning, stacklevel=2)
            continue
        # SUPPRESS: a subcommand's -v must not reset the one given before the command
        _add_verbose(scratch, default=argparse.SUPPRESS)
        p = sub.add_parser(entry.name, help=command.help, description=scratch.description,
                           epilog=scratch.epilog, parents=[scratch], add_help=False)
        p.set_defaults(**{_COMMAND_DEST: command})
    return parser


def _show_warning(message: Any, category: type[Warning], filename: str, lineno: int,
                  file: Any = None, line: str | None = None) -> None:
    # a plugin that failed to load is worth one line, not a source listing
    print(f"imagestag: warning: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``imagestag`` console script; returns the exit status."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    # --version needs no plugin and no core: answer it before either is imported
    _version_parser().parse_known_args(arguments[:1])
    from imagestag_core.plugins import PluginWarning

    from .native_stderr import native_stderr_silenced
    from .output import EXIT_ERROR, EXIT_INTERRUPTED, err

    for argument in arguments:
        if "\0" in argument:
            # a real command line cannot carry one; main([...]) from Python can
            err(f"error: the argument {argument!r} contains a NUL byte, which no file name "
                f"or spec can hold")
            return EXIT_ERROR
    verbose = False
    previous = warnings.showwarning
    warnings.showwarning = _show_warning
    try:
        # the plugins load while the parser is built: the level the flags will ask for is
        # in force already, so -v shows why a plugin failed to load
        with warnings.catch_warnings(), cli_logging(_level_from_flags(arguments)):
            warnings.simplefilter("default", PluginWarning)
            args = build_parser().parse_args(arguments)
            if getattr(args, _QUIET_DEST, False):
                args.quiet = True
            verbosity = int(getattr(args, _VERBOSE_DEST, 0) or 0)
            verbose = verbosity > 0
            logging.getLogger("imagestag").setLevel(
                log_level(verbosity, bool(getattr(args, "quiet", False))))
            with native_stderr_silenced(not verbose):
                try:
                    status = getattr(args, _COMMAND_DEST).run(args)
                except Exception as exc:
                    # reported while the real stderr is still the one Python writes to
                    return _report(exc, verbose)
            return 0 if status is None else int(status)
    except KeyboardInterrupt:
        err("aborted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_ERROR
    except Exception as exc:  # from building the parser or loading the plugins
        return _report(exc, verbose)
    finally:
        warnings.showwarning = previous


def _report(exc: Exception, verbose: bool) -> int:
    """The one ``imagestag: error: ...`` line for ``exc``; returns the exit status."""
    from imagestag_core.errors import ImagestagError

    from .output import EXIT_ERROR, err, one_line

    if isinstance(exc, BrokenPipeError):
        return EXIT_ERROR
    if isinstance(exc, (ImagestagError, OSError)):
        err(f"error: {one_line(exc)}")
    else:
        if verbose:
            import traceback

            traceback.print_exception(exc, file=sys.stderr)
        hint = "" if verbose else " (-v shows the traceback)"
        err(f"error: internal error: {type(exc).__name__}: {one_line(exc)}{hint}")
    return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
