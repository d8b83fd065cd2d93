"""``cevns fit ANALYSIS.toml [--poi NAME] [--json]``: a full iminuit fit of the template experiments of an analysis.

MIGRAD, HESSE and MINOS (physics parameters of interest and every free normalisation); prints each
parameter and nuisance with its uncertainty, the events per component with uncertainties and the
significance of CEvNS against the no-CEvNS hypothesis (:mod:`cevns.analysis.fit`, :mod:`cevns.stats.template_minuit`). Free a
component's normalisation in the analysis file with ``overrides = { fit = { free = ["cevns"] } }``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from ..analysis.fit import fit_analysis


def _fmt(row: dict) -> str:
    txt = f"{row['value']:.5g} +- {row['error']:.3g}"
    if row.get("minos"):
        lo, hi = row["minos"]
        txt += f"  (MINOS -{lo:.3g} +{hi:.3g})"
    return txt


def fit_cmd(
    analysis: Path = typer.Argument(..., help="analysis file (TOML) with template_poisson experiments"),
    poi: Optional[List[str]] = typer.Option(None, "--poi", help="physics parameter to free (repeatable)"),
    as_json: bool = typer.Option(False, "--json", help="print the result as JSON"),
):
    """Fit an analysis with iminuit: parameters, nuisances, events per component, CEvNS significance.

    \f
    Parameters
    ----------
    analysis : Path
        Analysis file (TOML) with ``template_poisson`` experiments.
    poi : list of str, optional
        Physics parameters to free (``--poi``, repeatable).
    as_json : bool
        Print the result as JSON (``--json``) instead of a table.
    """
    res = fit_analysis(analysis, poi or [])
    if as_json:
        typer.echo(json.dumps(res, indent=2))
        return
    typer.echo(f"{res['analysis']}: chi2_min = {res['chi2']:.3f} ({res['ndata']} bins), "
               f"{'valid' if res['valid'] else 'NOT valid'} minimum")
    typer.echo("parameters and nuisances:")
    for name, row in res["parameters"].items():
        typer.echo(f"  {name:28s} {_fmt(row)}")
    typer.echo("events per component:")
    for label, comps in res["events"].items():
        for name, row in comps.items():
            typer.echo(f"  {label}: {name:16s} {row['value']:.1f} +- {row['error']:.1f}")
    typer.echo(f"CEvNS significance (likelihood ratio vs no CEvNS): {res['significance_sigma']:.2f} sigma "
               f"(Delta chi2 = {res['chi2_null'] - res['chi2']:.2f})")


def register(app: typer.Typer) -> None:
    """Attach the ``fit`` command to the cevns CLI.

    Parameters
    ----------
    app : typer.Typer
        The CLI application.
    """
    app.command("fit")(fit_cmd)
