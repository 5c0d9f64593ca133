"""The ``imagestag`` command: a parser built from the registered subcommands.

Every subcommand, the built-in ``run``, ``bench``, ``demo``, ``plugins`` and
``filters`` included, is a :class:`~imagestag_core.hookspecs.Command` that a
plugin registers with the ``register_commands`` hook, so a third-party
distribution adds ``imagestag mycmd`` with one entry point.  A command whose
``configure`` raises is reported in one line and left out; the others work.

Bad input (an unknown filter, a malformed spec, a missing input, an
unwritable output folder) prints one line on stderr and exits with status 1;
usage errors exit with 2 (argparse), an interrupted run with 130.
``imagestag --version`` answers before any plugin is loaded.
Reference: ``docs/cli.md``.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence
from typing import Any

# only the standard library at module level: ``imagestag --version`` must not pay for
# numpy, OpenCV or the plugins (the core is imported once a command is needed)

__all__ = ["build_parser", "main"]

_COMMAND_DEST = "_imagestag_command"


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
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for entry in list_commands():
        command = entry.obj
        # configure into a scratch parser first: a failing one must leave no half-made
        # subcommand behind
        scratch = argparse.ArgumentParser(prog=f"imagestag {entry.name}")
        try:
            command.configure(scratch)
        except Exception as exc:
            who = entry.distribution or f"plugin {entry.plugin}"
            warnings.warn(f"command {entry.name!r} from {who} is unavailable: its configure() "
                          f"failed: {type(exc).__name__}: {exc}", PluginWarning, stacklevel=2)
            continue
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
    from imagestag_core.errors import ImagestagError
    from imagestag_core.plugins import PluginWarning

    from .output import EXIT_ERROR, EXIT_INTERRUPTED, err, one_line

    previous = warnings.showwarning
    warnings.showwarning = _show_warning
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("default", PluginWarning)
            args = build_parser().parse_args(arguments)
            status = getattr(args, _COMMAND_DEST).run(args)
            return 0 if status is None else int(status)
    except KeyboardInterrupt:
        err("aborted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_ERROR
    except (ImagestagError, OSError) as exc:
        err(f"error: {one_line(exc)}")
        return EXIT_ERROR
    finally:
        warnings.showwarning = previous


if __name__ == "__main__":
    sys.exit(main())
