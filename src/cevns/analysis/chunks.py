"""Evaluate a scan's grid in resumable chunks (files under ``OUT/.partial/``).

Every chunk is written atomically to ``OUT/.partial/<analysis>/<scan>-<hash>/chunk-NNNNNN.npz`` as it
completes: ``<analysis>`` is a hash of the likelihood definition (so two analyses sharing an output
folder never touch each other's chunks) and ``<hash>`` covers everything that determines the numbers
(likelihood, grids, fixed parameters, chunking). A rerun of an interrupted scan loads the finished
chunks and evaluates only the others; a changed scan of the same analysis replaces its stale chunks.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from ..io import atomic_path
from ..stats.executors import InProcessExecutor
from ..stats.scan import ScanData, chunk_bounds
from .build import chunk_job, make_grid

__all__ = ["PARTIAL_DIR", "scan_hash", "analysis_partial_dir", "compute_scan", "remove_partials"]

PARTIAL_DIR = ".partial"


def scan_hash(spec, scan, bounds) -> str:
    """Hash of everything that determines a scan's chunks (likelihood, grids, fixed, chunking).

    Parameters
    ----------
    spec : AnalysisSpec
        The resolved analysis.
    scan : ScanSpec
        The scan (its parameters, ranges, points, log flags, profile and fixed values enter).
    bounds : sequence of (int, int)
        The chunk bounds (:func:`cevns.stats.scan.chunk_bounds`).

    Returns
    -------
    str
        Hex SHA-256 digest.
    """
    extra = {"scan": {k: v for k, v in scan.model_dump(mode="json").items()
                      if k in ("parameters", "ranges", "points", "log", "profile", "fixed")},
             "chunks": [list(b) for b in bounds], "format": 2}
    return spec.digest(extra)


def analysis_partial_dir(out_dir, spec) -> Path:
    """``OUT/.partial/<hash of the analysis' likelihood>``: the chunks of this analysis only.

    Parameters
    ----------
    out_dir : str or pathlib.Path
        The analysis' output folder.
    spec : AnalysisSpec
        The resolved analysis.

    Returns
    -------
    pathlib.Path
    """
    return Path(out_dir) / PARTIAL_DIR / spec.digest()[:16]


def _chunk_path(folder: Path, i: int) -> Path:
    return folder / f"chunk-{i:06d}.npz"


def _load_chunk(path: Path, n: int):
    if not path.exists():
        return None
    try:
        with np.load(path) as z:
            c, a = np.asarray(z["chi2"], dtype=float), np.asarray(z["argmin"], dtype=np.int64)
    except (OSError, ValueError, KeyError, EOFError):
        return None
    if c.shape != (n,) or a.shape != (n,):
        return None
    return c, a


def _save_chunk(path: Path, chi2: np.ndarray, arg: np.ndarray) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, chi2=chi2, argmin=arg)


def compute_scan(likelihood, spec, scan, partial_root=None, executor=None, progress=True,
                 chunk_points=None) -> ScanData:
    """Evaluate a scan's grid, resuming from / saving chunks under ``partial_root`` (if given).

    ``partial_root`` is the folder of this analysis' chunks (:func:`analysis_partial_dir`); other
    scans' and other analyses' chunks there are left alone, stale chunks of this scan are removed.

    Parameters
    ----------
    likelihood : Likelihood
        The analysis' likelihood.
    spec : AnalysisSpec
        The resolved analysis (its digest keys the saved chunks).
    scan : ScanSpec
        The scan to evaluate.
    partial_root : str or pathlib.Path, optional
        Folder for resumable chunks; None keeps nothing on disk.
    executor : InProcessExecutor or DaskExecutor, optional
        Evaluates the chunks (in process if None).
    progress : bool, optional
        Show a progress bar.
    chunk_points : int, optional
        Physics points per chunk (:func:`cevns.stats.scan.chunk_bounds`).

    Returns
    -------
    ScanData
    """
    grid = make_grid(scan)
    bounds = chunk_bounds(grid.n_outer, grid.n_profile, chunk_points)
    chi2 = np.full(grid.n_outer, np.nan)
    arg = np.zeros(grid.n_outer, dtype=np.int64)
    todo = list(range(len(bounds)))
    folder = None
    resumed = 0
    if partial_root is not None:
        key = scan_hash(spec, scan, bounds)[:16]
        root = Path(partial_root)
        folder = root / f"{scan.name}-{key}"
        if root.exists():
            for old in root.glob(f"{scan.name}-*"):
                if old != folder and old.is_dir() and old.name[len(scan.name) + 1:].isalnum():
                    shutil.rmtree(old, ignore_errors=True)
        folder.mkdir(parents=True, exist_ok=True)
        todo = []
        for i, (s, e) in enumerate(bounds):
            got = _load_chunk(_chunk_path(folder, i), e - s)
            if got is None:
                todo.append(i)
            else:
                chi2[s:e], arg[s:e] = got
                resumed += 1
    executor = executor or InProcessExecutor()
    job = chunk_job(spec, scan, likelihood=likelihood, grid=grid)
    with _progress(progress, scan.name, len(bounds), resumed) as advance:
        if todo:
            for i, (c, a) in executor.map_chunks(job, [(i, *bounds[i]) for i in todo]):
                s, e = bounds[i]
                chi2[s:e], arg[s:e] = c, a
                if folder is not None:
                    _save_chunk(_chunk_path(folder, i), c, a)
                advance()
    return ScanData(grid=grid, chi2=chi2.reshape(grid.shape), argmin=arg.reshape(grid.shape),
                    n_chunks=len(bounds), resumed_chunks=resumed)


def remove_partials(out_dir, spec=None) -> None:
    """Remove the chunks of ``spec``'s analysis (all of ``OUT/.partial`` if None); ``.partial`` itself
    goes once empty.

    Parameters
    ----------
    out_dir : str or pathlib.Path
        The output folder holding ``.partial``.
    spec : AnalysisSpec, optional
        Only this analysis' chunks are removed.
    """
    root = Path(out_dir) / PARTIAL_DIR
    target = root if spec is None else analysis_partial_dir(out_dir, spec)
    if target.exists():
        shutil.rmtree(target, ignore_errors=True)
    if root.exists() and not any(root.iterdir()):
        root.rmdir()


class _progress:
    """A rich progress bar (stderr) counting chunks, or nothing."""

    def __init__(self, enabled: bool, name: str, total: int, done: int):
        self.enabled, self.name, self.total, self.done = enabled, name, total, done
        self._bar = None

    def __enter__(self):
        if not self.enabled:
            return lambda: None
        self._bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                             TimeElapsedColumn(), TimeRemainingColumn(), console=Console(stderr=True),
                             transient=False)
        self._bar.start()
        task = self._bar.add_task(f"scan {self.name}", total=self.total, completed=self.done)
        return lambda: self._bar.advance(task)

    def __exit__(self, *exc):
        if self._bar is not None:
            self._bar.stop()
        return False
