"""``cevns scan ANALYSIS.toml --out DIR``: run the scans of an analysis file (docs/analysis-format.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def _summary(results: dict) -> list[str]:
    lines = []
    for s in results["scans"]:
        if "parameter" in s:
            ints = "; ".join(f"{float(k) * 100:g}% CL: " + (" U ".join(f"[{lo:.4g}, {hi:.4g}]" for lo, hi in v) or "none")
                             for k, v in s["intervals"].items())
            lines.append(f"{s['name']}: best fit {s['parameter']} = {s['best_fit']:.5g} "
                         f"(chi2_min {s['chi2_min']:.3f}); {ints}")
        else:
            x, y = s["best_fit"]
            lines.append(f"{s['name']}: best fit ({s['parameters'][0]}, {s['parameters'][1]}) = ({x:.4g}, {y:.4g}) "
                         f"(chi2_min {s['chi2_min']:.3f})")
    return lines


def scan_cmd(
    analysis: Path = typer.Argument(..., help="analysis file (TOML, docs/analysis-format.md)"),
    out: Path = typer.Option(..., "--out", help="output folder"),
    dask_scheduler: Optional[str] = typer.Option(None, "--dask-scheduler", metavar="ADDRESS",
                                                 help="run the chunks on an existing dask.distributed cluster"),
    dask_local: Optional[int] = typer.Option(None, "--dask-local", metavar="N",
                                             help="start a local dask cluster of N worker processes"),
    no_progress: bool = typer.Option(False, "--no-progress", help="no progress bar"),
):
    """Run the scans of an analysis file: results.json, Delta-chi2 CSVs, plots (interrupted runs resume)."""
    from ..analysis import load_analysis, run_analysis
    from ..errors import ConfigError
    from ..stats.executors import make_executor

    if dask_scheduler is not None and dask_local is not None:
        raise ConfigError("use either --dask-scheduler or --dask-local, not both")
    spec = load_analysis(analysis)
    with make_executor(dask_scheduler=dask_scheduler, dask_local=dask_local) as executor:
        results = run_analysis(spec, out, executor=executor, progress=not no_progress)
    for line in _summary(results):
        typer.echo(line)
    typer.echo(f"wrote {out}/results.json")


def register(app: typer.Typer) -> None:
    """Attach the ``scan`` command to the cevns CLI."""
    app.command("scan")(scan_cmd)
