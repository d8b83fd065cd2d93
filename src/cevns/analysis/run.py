"""Run an analysis: check its size, build the likelihood, run every scan, write the outputs.

Outputs (``docs/analysis-format.md``): ``analysis.resolved.json``, ``results.json`` and per scan
``<scan>.csv``, ``<scan>.npz``, ``<scan>.png``/``.pdf``. Everything is validated (the file, the
experiments, the memory the grids need) before the first file is written.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import numpy as np

from ..errors import CevnsError, ConfigError
from ..io import write_json
from ..plotting.scans import save_scan_figure
from ..stats.likelihood import DEFAULT_CHUNK
from ..stats.scan import DEFAULT_CHUNK_POINTS, analyse_scan
from .build import build_likelihood
from .chunks import analysis_partial_dir, compute_scan, remove_partials
from .correlations import correlations_summary
from .outputs import json_clean, resolved_document, write_scan_csv, write_scan_npz
from .resolve import get_experiment, load_analysis
from .running import running_summary

__all__ = ["run_analysis", "run_scan", "estimate_memory", "default_memory_budget", "check_memory",
           "MemoryBudgetError"]

#: Fraction of the machine's physical memory a run may use by default.
MEMORY_FRACTION = 0.5
#: Bytes kept per outer grid point (chi2, argmin, Delta chi2, CSV/npz columns, contour work).
_BYTES_PER_OUTER_POINT = 64
#: Bytes per physics point and per bin of a term (signal, components, nuisance shifts, Newton work).
_BYTES_PER_POINT_BIN = 8 * 12


class MemoryBudgetError(ConfigError):
    """A scan whose arrays would not fit in the memory budget."""


def default_memory_budget() -> int:
    """``MEMORY_FRACTION`` of the physical memory (bytes; 4 GiB if the system does not say)."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 8 << 30
    return int(MEMORY_FRACTION * total)


def _fmt_bytes(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB", "PB"):
        if abs(n) < 1000 or unit == "PB":
            return f"{n:.3g} {unit}"
        n /= 1000.0
    return f"{n:.3g} PB"  # pragma: no cover


def estimate_memory(spec, chunk_points=None) -> dict:
    """Estimated peak bytes of each scan of a resolved analysis: ``{scan name: bytes}``.

    Peak = outer grid arrays (``64 B`` per point) + one chunk of physics points times the bins of
    all terms (``96 B`` per point and bin: signal, components, nuisance shifts and Newton work).

    Parameters
    ----------
    spec : AnalysisSpec
        The resolved analysis (its experiments are built to count bins).
    chunk_points : int, optional
        Physics points per chunk (default :data:`cevns.stats.scan.DEFAULT_CHUNK_POINTS`).

    Returns
    -------
    dict of str to int
        Estimated peak memory [bytes] per scan name.
    """
    bins = 0
    for e in spec.experiments:
        exp = get_experiment(e.experiment, e.overrides or None, e.settings or None)
        bins += max(1, int(exp.engine.n_bins))
    cp = int(chunk_points or DEFAULT_CHUNK_POINTS)
    out = {}
    for s in spec.scans:
        n_outer = float(np.prod([float(p) for p in s.points]))
        n_prof = float(np.prod([float(p.points) for p in s.profile])) if s.profile else 1.0
        chunk = min(max(cp, n_prof), n_outer * n_prof, DEFAULT_CHUNK)
        out[s.name] = int(n_outer * _BYTES_PER_OUTER_POINT + chunk * bins * _BYTES_PER_POINT_BIN)
    return out


def check_memory(spec, max_memory_bytes=None, chunk_points=None) -> None:
    """Raise :class:`MemoryBudgetError` if a scan would need more than ``max_memory_bytes``
    (default :func:`default_memory_budget`), saying how much it would need.

    Parameters
    ----------
    spec : AnalysisSpec
        The resolved analysis.
    max_memory_bytes : int or float, optional
        Memory budget [bytes].
    chunk_points : int, optional
        Physics points per chunk.

    Raises
    ------
    MemoryBudgetError
        If a scan's estimate (:func:`estimate_memory`) exceeds the budget.
    ConfigError
        If ``max_memory_bytes`` is not a positive number.
    """
    budget = default_memory_budget() if max_memory_bytes is None else max_memory_bytes
    if isinstance(budget, bool) or not isinstance(budget, (int, float)) or not budget > 0:
        raise ConfigError(f"max_memory_bytes must be a positive number of bytes, got {max_memory_bytes!r}")
    for name, need in estimate_memory(spec, chunk_points).items():
        if need > budget:
            raise MemoryBudgetError(
                f"{spec.source}: scan {name!r} would need about {_fmt_bytes(need)} of memory, more than the "
                f"budget of {_fmt_bytes(budget)}; use fewer points (or raise the budget: --max-memory)")


def _check_out_dir(out: Path) -> None:
    for parent in [out, *out.parents]:
        if parent.exists():
            if not parent.is_dir():
                raise ConfigError(f"output folder {out}: {parent} is a file, not a folder")
            if not os.access(parent, os.W_OK | os.X_OK):
                raise ConfigError(f"output folder {out}: {parent} is not writable")
            return


def run_scan(likelihood, spec, scan, out_dir, executor=None, progress=True, chunk_points=None,
             grids: dict | None = None) -> dict:
    """Evaluate one scan of an analysis and write ``<scan>.csv``, ``.npz``, ``.png`` and ``.pdf``.

    Returns the scan's entry of ``results.json``. A grid with a non-finite chi^2 is an error
    (:class:`cevns.stats.scan.ScanError`) and writes nothing. With ``grids`` (a dict), also stores the
    scan's arrays there: ``grids[scan.name] = {"x", "y" (2D only), "dchi2"}`` (dchi2 of shape (ny, nx)).

    Parameters
    ----------
    likelihood : Likelihood
        The analysis' likelihood.
    spec : AnalysisSpec
        The resolved analysis.
    scan : ScanSpec
        The scan to run.
    out_dir : str or pathlib.Path
        Output folder (resumable chunks go under its ``.partial``).
    executor : InProcessExecutor or DaskExecutor, optional
        Evaluates the chunks (in process if None).
    progress : bool, optional
        Show a progress bar.
    chunk_points : int, optional
        Physics points per chunk.
    grids : dict, optional
        Receives the scan's arrays.

    Returns
    -------
    dict
        The scan's entry of ``results.json``.

    Raises
    ------
    ScanError
        If chi^2 is not finite somewhere on the grid.
    """
    out = Path(out_dir)
    data = compute_scan(likelihood, spec, scan, partial_root=analysis_partial_dir(out, spec), executor=executor,
                        progress=progress, chunk_points=chunk_points)
    result, plot = analyse_scan(likelihood, scan, data)
    write_scan_csv(out / f"{scan.name}.csv", data, plot["dchi2"])
    write_scan_npz(out / f"{scan.name}.npz", data, plot["dchi2"], result["chi2_min"])
    if grids is not None:
        grids[scan.name] = {k: plot[k] for k in ("x", "y", "dchi2") if k in plot}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        save_scan_figure(scan, result, plot, out / scan.name, title=spec.title)
    return result


def run_analysis(spec_or_path, out_dir, executor=None, progress=True, chunk_points=None,
                 max_memory_bytes=None) -> dict:
    """Run every scan of an analysis and write the outputs of ``docs/analysis-format.md``.

    Parameters
    ----------
    spec_or_path : AnalysisSpec, str, Path or mapping
        The analysis (a path or mapping goes through :func:`load_analysis`).
    out_dir : str or Path
        Output folder (created). An interrupted run resumes from ``out_dir/.partial/<analysis>``.
    executor : object, optional
        :class:`cevns.stats.executors.InProcessExecutor` (default) or
        :class:`cevns.stats.executors.DaskExecutor`.
    progress : bool, optional
        Show a progress bar (rich) for each scan.
    chunk_points : int, optional
        Physics points evaluated per chunk (default :data:`cevns.stats.scan.DEFAULT_CHUNK_POINTS`).
    max_memory_bytes : int, optional
        Refuse (before writing anything) a scan whose arrays would need more memory than this
        (default :func:`default_memory_budget`, half the machine's memory).

    Returns
    -------
    dict
        The content of ``results.json``.
    """
    spec = load_analysis(spec_or_path)
    if not spec.scans:
        raise ConfigError(f"{spec.source}: the analysis has no [[scans]]: nothing to run")
    if chunk_points is not None and (isinstance(chunk_points, bool) or not isinstance(chunk_points, int)
                                     or chunk_points < 1):
        raise ConfigError(f"chunk_points must be a positive integer, got {chunk_points!r}")
    out = Path(out_dir)
    _check_out_dir(out)
    check_memory(spec, max_memory_bytes, chunk_points)
    likelihood = build_likelihood(spec)
    likelihood.chunk_points = DEFAULT_CHUNK
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create the output folder {out}: {exc.strerror}") from None
    resolved = resolved_document(spec, likelihood)
    results = {"analysis": spec.name, "title": spec.title, "scans": []}
    if spec.correlations:
        results["correlations"] = correlations_summary(spec)
    if spec.running is not None:
        resolved["running"] = results["running"] = running_summary(spec)
    write_json(out / "analysis.resolved.json", resolved)
    grids: dict = {}
    for scan in spec.scans:
        try:
            results["scans"].append(run_scan(likelihood, spec, scan, out, executor=executor, progress=progress,
                                             chunk_points=chunk_points, grids=grids))
        except CevnsError as exc:
            raise type(exc)(f"{spec.source}: {exc}") from None
    write_json(out / "results.json", results)
    remove_partials(out, spec)
    return AnalysisResults(json.loads(json.dumps(json_clean(results))), grids)


class AnalysisResults(dict):
    """What :func:`run_analysis` returns: the content of ``results.json`` (this dict) plus the arrays.

    Attributes
    ----------
    grids : dict
        Per scan name: ``{"x", "dchi2"}`` (1D) or ``{"x", "y", "dchi2"}`` with ``dchi2`` of shape
        (ny, nx) (2D), the Delta-chi^2 on the scan grid (full precision; the CSV files hold the same
        numbers to 12 digits).
    """

    def __init__(self, content, grids: dict | None = None):
        super().__init__(content)
        self.grids = dict(grids or {})
