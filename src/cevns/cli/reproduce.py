"""``cevns reproduce [PAPER] --out DIR [--quick]``: reproduce the seed papers (cevns.papers)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..errors import ConfigError
from ..papers.reproduce import PAPERS, reproduce


def reproduce_cmd(
    paper: Optional[str] = typer.Argument(None, help="papoulias-kosmas or canas (default: both)"),
    out: Path = typer.Option(..., "--out", help="output folder"),
    quick: bool = typer.Option(False, "--quick", help="reduced grids (smoke runs and tests; coarser numbers)"),
    no_progress: bool = typer.Option(False, "--no-progress", help="do not print a line per finished analysis"),
):
    """Reproduce the seed papers: every figure (PNG + PDF), results.json, bounds tables and index.html.

    Resumes: analysis files finished by an earlier (interrupted) run into the same folder are reused;
    --quick results live in their own subfolders and never mix with a full run's.
    """
    papers = None
    if paper is not None:
        if paper not in PAPERS:
            raise ConfigError(f"unknown paper {paper!r}; choose one of: {', '.join(PAPERS)}")
        papers = [paper]
    log = None if no_progress else (lambda line: typer.echo(line, err=True))
    summary = reproduce(out, papers=papers, quick=quick, log=log)
    for key, s in summary["papers"].items():
        typer.echo(f"{key}: {len(s['figures'])} figures, {len(s['results']['scans'])} scans, "
                   f"{s['seconds']:.0f} s -> {s['folder']}")
    typer.echo(f"wrote {summary['index']} ({summary['seconds']:.0f} s)")


def register(app: typer.Typer) -> None:
    """Attach the ``reproduce`` command to the cevns CLI."""
    app.command("reproduce")(reproduce_cmd)
