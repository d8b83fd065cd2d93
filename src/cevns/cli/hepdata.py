"""``cevns export-hepdata RESULTS_DIR --out DIR``: a scan output folder as a HEPData submission."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import typer

from ..analysis.hepdata import MAX_GRID_POINTS, export_hepdata


def export_hepdata_cmd(
    results_dir: Path = typer.Argument(..., help="folder written by `cevns scan` (or an analysis / paper folder "
                                                 "of `cevns reproduce`)"),
    out: Path = typer.Option(..., "--out", help="output folder: submission/ and submission.tar.gz"),
    no_images: bool = typer.Option(False, "--no-images", help="do not attach the scan plots"),
    max_grid_points: int = typer.Option(MAX_GRID_POINTS, "--max-grid-points", min=0,
                                        help="larger 2D Delta-chi2 grids are attached as files, not tables"),
    no_validate: bool = typer.Option(False, "--no-validate", help="skip the hepdata_validator check"),
):
    """Write every interval, Delta-chi2 profile, contour and exclusion curve as a HEPData submission.

    \f
    Parameters
    ----------
    results_dir : Path
        Output folder of ``cevns scan`` or ``cevns reproduce``.
    out : Path
        Submission folder to write.
    no_images : bool
        Skip the figure images.
    max_grid_points : int
        Largest grid exported as a table.
    no_validate : bool
        Skip the hepdata validator.
    """
    summary = export_hepdata(results_dir, out, images=not no_images, max_grid_points=max_grid_points,
                             validate=not no_validate)
    counts = Counter(t["kind"] for t in summary["tables"])
    kinds = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in counts.items())
    scans = len({(t["analysis"], t["scan"]) for t in summary["tables"]})
    names = summary["analyses"]
    of = ", ".join(names) if len(names) <= 3 else f"{len(names)} analyses"
    typer.echo(f"{scans} scan(s) of {of}: {len(summary['tables'])} tables ({kinds})")
    typer.echo(f"wrote {summary['folder']} and {summary['archive']}" + ("" if no_validate else " (validated)"))


def register(app: typer.Typer) -> None:
    """Attach the ``export-hepdata`` command to the cevns CLI.

    Parameters
    ----------
    app : typer.Typer
        The cevns application.
    """
    app.command("export-hepdata")(export_hepdata_cmd)
