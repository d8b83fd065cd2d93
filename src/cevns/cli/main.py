"""The ``cevns`` command line.

Exit codes: 0 success; 2 a usage mistake (unknown command or option, missing argument, a word where a
number is expected) or bad input (unknown experiment or parameter, invalid file, value out of domain,
unusable output folder), printed as the usage line (for usage mistakes) and one ``error: ...`` line on
stderr, never a traceback; 130 interrupted by Ctrl-C (one line saying what was kept); 1 an internal
error (a bug: one line, the traceback with ``CEVNS_DEBUG=1``).
"""

from __future__ import annotations

import os
import sys
from typing import List, Optional

import typer

from .. import __version__
from ..errors import CevnsError
from . import hepdata, info, predict, reproduce, scan
from . import fit as fit_command
from .common import EXIT_INTERRUPTED, PHYSICS_DOC, RunInterrupted

try:  # typer >= 0.16 bundles its own copy of click and raises that copy's exceptions
    from typer._click import exceptions as click_exceptions
except ImportError:  # older typer runs on the click package
    from click import exceptions as click_exceptions

EXIT_USAGE = 2
EXIT_INTERNAL = 1

app = typer.Typer(add_completion=False, no_args_is_help=False, pretty_exceptions_enable=False,
                  help=f"CEvNS cross sections, event rates, fits and paper reproductions (physics: {PHYSICS_DOC}).")


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"cevns {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version_callback, is_eager=True,
                                       help="print the version and exit")) -> None:
    """CEvNS cross sections, event rates, fits and paper reproductions."""


for _module in (info, predict, scan, reproduce, hepdata):
    _module.register(app)
fit_command.register(app)


def _error(msg: str) -> None:
    typer.echo(f"error: {msg}", err=True)


def _usage_error(exc) -> None:
    ctx = getattr(exc, "ctx", None)
    msg = exc.format_message().strip()
    usage = "Usage: cevns [OPTIONS] COMMAND [ARGS]..."
    if ctx is not None:
        usage = ctx.get_usage().strip() or usage
        if msg.lower().startswith("missing command") and hasattr(ctx.command, "list_commands"):
            msg = f"missing command; one of: {', '.join(ctx.command.list_commands(ctx))} (see cevns --help)"
    typer.echo(usage, err=True)
    _error(msg[:1].lower() + msg[1:] if msg else "invalid usage")


_EXIT_TYPES = tuple({typer.Exit, getattr(click_exceptions, "Exit", typer.Exit)})
_ABORT_TYPES = tuple({typer.Abort, getattr(click_exceptions, "Abort", typer.Abort), KeyboardInterrupt})


def run(argv: Optional[List[str]] = None) -> int:
    """Run the command line on ``argv`` (default ``sys.argv[1:]``) and return the exit code."""
    try:
        rv = app(args=argv, prog_name="cevns", standalone_mode=False)
    except CevnsError as exc:
        _error(str(exc))
        return EXIT_USAGE
    except click_exceptions.UsageError as exc:
        _usage_error(exc)
        return EXIT_USAGE
    except click_exceptions.ClickException as exc:
        _error(exc.format_message())
        return EXIT_USAGE
    except _EXIT_TYPES as exc:
        return int(getattr(exc, "exit_code", 0) or 0)
    except RunInterrupted as exc:
        typer.echo(str(exc), err=True)
        return EXIT_INTERRUPTED
    except _ABORT_TYPES:
        typer.echo("interrupted", err=True)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `cevns ... | head`: the reader went away
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return EXIT_INTERNAL
    except Exception as exc:  # a bug: one line unless debugging
        if os.environ.get("CEVNS_DEBUG"):
            raise
        _error(f"internal error ({type(exc).__name__}: {exc}); please report it (CEVNS_DEBUG=1 shows the traceback)")
        return EXIT_INTERNAL
    if isinstance(rv, int) and not isinstance(rv, bool):
        if rv == EXIT_INTERRUPTED:  # typer turned a Ctrl-C into its exit code
            typer.echo("interrupted", err=True)
        return rv
    return 0


def main(argv: Optional[List[str]] = None):
    """Entry point of the ``cevns`` console script and of ``python -m cevns``.

    Parameters
    ----------
    argv : list of str, optional
        Command-line arguments (default ``sys.argv[1:]``).
    """
    sys.exit(run(argv))


if __name__ == "__main__":
    main()
