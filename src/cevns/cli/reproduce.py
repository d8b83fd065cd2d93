"""``cevns reproduce [PAPER] --out DIR [--quick]``: reproduce the seed papers (cevns.papers)."""

from __future__ import annotations

from typing import Optional

import typer

from ..errors import ConfigError
from ..io import out_dir_lock, prepare_out_dir, remove_stale_temp_files
from ..papers.reproduce import PAPERS, reproduce
from .common import interrupt_note
from .scan import MAX_MEMORY_HELP, memory_kwargs


def reproduce_cmd(
    paper: Optional[str] = typer.Argument(None, help="one of: " + ", ".join(PAPERS) + " (default: all)"),
    out: str = typer.Option(..., "--out", help="output folder (locked while the run lasts)"),
    quick: bool = typer.Option(False, "--quick", help="reduced grids (smoke runs and tests; coarser numbers)"),
    max_memory: Optional[str] = typer.Option(None, "--max-memory", metavar="SIZE", help=MAX_MEMORY_HELP),
    no_progress: bool = typer.Option(False, "--no-progress", help="do not print a line per finished analysis"),
):
    """Reproduce the seed papers: every figure (PNG + PDF), results.json, bounds tables and index.html.

    Resumes: analysis files finished by an earlier (interrupted) run into the same folder are reused;
    --quick results live in their own subfolders and never mix with a full run's.

    \f
    Parameters
    ----------
    paper : str, optional
        Paper key (default: all).
    out : str
        Output folder.
    quick : bool
        Coarse grids, for a smoke test.
    max_memory : str, optional
        Memory budget such as ``2GB``.
    no_progress : bool
        Hide progress bars.
    """
    papers = None
    if paper is not None:
        if paper not in PAPERS:
            raise ConfigError(f"unknown paper {paper!r}; choose one of: {', '.join(PAPERS)}")
        papers = [paper]
    extra = memory_kwargs(reproduce, max_memory)
    out = prepare_out_dir(out)  # before any work: a file, a file parent, an unwritable folder
    log = None if no_progress else (lambda line: typer.echo(line, err=True))
    with out_dir_lock(out):
        remove_stale_temp_files(out)
        with interrupt_note(out, "rerun the same command to resume"):
            summary = reproduce(out, papers=papers, quick=quick, log=log, **extra)
    for key, s in summary["papers"].items():
        typer.echo(f"{key}: {len(s['figures'])} figures, {len(s['results']['scans'])} scans, "
                   f"{s['seconds']:.0f} s -> {s['folder']}")
    typer.echo(f"wrote {summary['index']} ({summary['seconds']:.0f} s)")


def register(app: typer.Typer) -> None:
    """Attach the ``reproduce`` command to the cevns CLI.

    Parameters
    ----------
    app : typer.Typer
        The cevns application.
    """
    app.command("reproduce")(reproduce_cmd)
