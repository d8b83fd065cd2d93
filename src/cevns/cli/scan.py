"""``cevns scan ANALYSIS.toml --out DIR``: run the scans of an analysis file (docs/analysis-format.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..analysis import load_analysis, run_analysis
from ..errors import CommandLineError, ConfigError
from ..io import out_dir_lock, prepare_out_dir, remove_stale_temp_files
from ..stats.executors import make_executor
from .common import accepted_kwargs, interrupt_note, parse_memory, warn

MAX_MEMORY_HELP = ("memory budget of the scan arrays, e.g. 4GB or 512MiB "
                   "(default: a fraction of the machine's memory); larger grids are refused up front")


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


def memory_kwargs(func, max_memory: Optional[str]) -> dict:
    """``{"max_memory_bytes": n}`` if ``--max-memory`` was given and ``func`` accepts it (else a warning).

    Parameters
    ----------
    func : callable
        The function to be called.
    max_memory : str or None
        The ``--max-memory`` value such as ``2GB``.
    """
    if max_memory is None:
        return {}
    kw, missing = accepted_kwargs(func, max_memory_bytes=parse_memory(max_memory))
    if missing:
        warn("--max-memory is not supported by this version of the scan code; ignored")
    return kw


def scan_cmd(
    analysis: Path = typer.Argument(..., help="analysis file (TOML, docs/analysis-format.md)"),
    out: str = typer.Option(..., "--out", help="output folder (locked while the run lasts)"),
    dask_scheduler: Optional[str] = typer.Option(None, "--dask-scheduler", metavar="ADDRESS",
                                                 help="run the chunks on an existing dask.distributed cluster"),
    dask_local: Optional[int] = typer.Option(None, "--dask-local", metavar="N", min=1,
                                             help="start a local dask cluster of N worker processes"),
    max_memory: Optional[str] = typer.Option(None, "--max-memory", metavar="SIZE", help=MAX_MEMORY_HELP),
    no_progress: bool = typer.Option(False, "--no-progress", help="no progress bar"),
):
    """Run the scans of an analysis file: results.json, Delta-chi2 CSVs, plots (interrupted runs resume).

    \f
    Parameters
    ----------
    analysis : Path
        Analysis file.
    out : str
        Output folder.
    dask_scheduler : str, optional
        Address of a Dask scheduler.
    dask_local : int, optional
        Start a local Dask cluster with this many workers.
    max_memory : str, optional
        Memory budget such as ``2GB``.
    no_progress : bool
        Hide progress bars.
    """
    if dask_scheduler is not None and dask_local is not None:
        raise CommandLineError("use either --dask-scheduler or --dask-local, not both")
    extra = memory_kwargs(run_analysis, max_memory)
    prepare_out_dir(out, create=False)  # before any work: a file, a file parent, an unwritable folder
    spec = load_analysis(analysis)
    if not spec.scans:
        raise ConfigError(f"{analysis}: the analysis has no [[scans]] to run")
    try:  # connect before creating anything
        executor = make_executor(dask_scheduler=dask_scheduler, dask_local=dask_local)
    except ValueError as exc:  # e.g. an address dask cannot parse
        raise CommandLineError(f"--dask-scheduler {dask_scheduler!r}: {exc}") from None
    with executor:
        out = prepare_out_dir(out)
        with out_dir_lock(out):
            remove_stale_temp_files(out)
            with interrupt_note(out, "rerun the same command to resume"):
                results = run_analysis(spec, out, executor=executor, progress=not no_progress, **extra)
    for line in _summary(results):
        typer.echo(line)
    typer.echo(f"wrote {out}/results.json")


def register(app: typer.Typer) -> None:
    """Attach the ``scan`` command to the cevns CLI.

    Parameters
    ----------
    app : typer.Typer
        The cevns application.
    """
    app.command("scan")(scan_cmd)
