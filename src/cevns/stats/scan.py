"""Grid scans of a likelihood: 1D profiles and 2D regions, extra dimensions profiled over a grid.

A scan evaluates ``chi2`` on the outer grid (one or two scanned parameters) times the grid of the
profiled parameters, keeping for each outer point the minimum over the profiled grid. The outer grid
is cut into chunks of about :data:`DEFAULT_CHUNK_POINTS` physics points; every chunk is written
atomically to ``DIR/.partial/<scan>-<hash>/`` as it completes, the hash covering everything that
determines the numbers (likelihood definition, grids, fixed parameters, chunking). A rerun of an
interrupted scan loads the finished chunks and evaluates only the others. Chunks are evaluated by an
executor (:mod:`cevns.stats.executors`): in process, or on a dask.distributed cluster.

Results (docs/analysis-format.md): Delta chi^2 = chi^2 - min over the grid; 1D allowed intervals
(:func:`cevns.stats.intervals.intervals_1d_detailed`, endpoints refined by brentq on the profile,
:func:`cevns.stats.intervals.refine_interval_roots`), 2D contours (contourpy), exclusion curves;
thresholds ``chi2.ppf(CL, dof)`` (Wilks' theorem).
"""

from __future__ import annotations

import shutil
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
from scipy import optimize

from . import intervals as iv

__all__ = [
    "DEFAULT_CHUNK_POINTS",
    "ScanGrid",
    "ScanData",
    "make_grid",
    "chunk_bounds",
    "evaluate_chunk",
    "evaluate_grid",
    "scan_hash",
    "compute_scan",
    "analyse_scan",
    "run_scan",
    "write_scan_csv",
    "remove_partials",
]

#: Physics points per chunk (outer points x profiled points).
DEFAULT_CHUNK_POINTS = 1 << 16
#: A scan with at least this many points is cut into at least :data:`MIN_CHUNKS` chunks.
_MIN_SPLIT_POINTS = 4096
MIN_CHUNKS = 8
PARTIAL_DIR = ".partial"


@dataclass
class ScanGrid:
    """The grid of a scan.

    Attributes
    ----------
    names : list of str
        Scanned parameters (x, or x and y).
    axes : list of ndarray
        Their grid values.
    profile_names, profile_axes :
        Parameters minimised over on a grid, and their values.
    fixed : dict
        Scan-specific fixed parameters (on top of the analysis' ``[fixed]``).
    """

    names: list
    axes: list
    profile_names: list = field(default_factory=list)
    profile_axes: list = field(default_factory=list)
    fixed: dict = field(default_factory=dict)

    @property
    def shape(self) -> tuple:
        """Outer grid shape: (nx,) or (ny, nx) (row = y, as contourpy / matplotlib)."""
        return tuple(a.size for a in reversed(self.axes))

    @property
    def profile_shape(self) -> tuple:
        return tuple(a.size for a in self.profile_axes)

    @property
    def n_outer(self) -> int:
        return int(np.prod(self.shape))

    @property
    def n_profile(self) -> int:
        return int(np.prod(self.profile_shape)) if self.profile_axes else 1

    def outer_values(self, start: int, stop: int) -> dict:
        """Scanned parameter values of flat outer indices [start, stop) (x runs fastest)."""
        idx = np.unravel_index(np.arange(start, stop), self.shape)  # (iy, ix) or (ix,)
        return {name: self.axes[k][idx[len(self.axes) - 1 - k]] for k, name in enumerate(self.names)}

    def points(self, outer: Mapping) -> dict:
        """Full parameter mapping: each outer point repeated over the profiled grid (profile fastest)."""
        m = np.size(next(iter(outer.values())))
        out = dict(self.fixed)
        n_p = self.n_profile
        for k, v in outer.items():
            out[k] = np.repeat(np.atleast_1d(np.asarray(v, dtype=float)), n_p)
        if self.profile_axes:
            mesh = np.meshgrid(*self.profile_axes, indexing="ij")
            for name, g in zip(self.profile_names, mesh):
                out[name] = np.tile(g.reshape(-1), m)
        return out

    def profile_values(self, flat_index) -> dict:
        """Profiled parameter values at flat profile-grid indices."""
        if not self.profile_axes:
            return {}
        idx = np.unravel_index(np.asarray(flat_index), self.profile_shape)
        return {name: ax[i] for name, ax, i in zip(self.profile_names, self.profile_axes, idx)}


@dataclass
class ScanData:
    """Evaluated scan: chi^2 on the outer grid and the index of the profiled minimum."""

    grid: ScanGrid
    chi2: np.ndarray  # grid.shape
    argmin: np.ndarray  # grid.shape, flat index into the profiled grid
    n_chunks: int = 0
    resumed_chunks: int = 0


def make_grid(scan) -> ScanGrid:
    """The :class:`ScanGrid` of a :class:`cevns.analysis.ScanSpec`."""
    from ..analysis import profile_axes, scan_axes

    return ScanGrid(names=list(scan.parameters), axes=scan_axes(scan),
                    profile_names=[p.parameter for p in scan.profile], profile_axes=profile_axes(scan),
                    fixed=dict(scan.fixed))


def chunk_bounds(n_outer: int, n_profile: int, chunk_points: int | None = None) -> list[tuple[int, int]]:
    """Split ``n_outer`` outer points into chunks of about ``chunk_points`` physics points.

    Scans of more than a few thousand points get at least :data:`MIN_CHUNKS` chunks (progress
    reporting and parallelism).
    """
    cp = int(chunk_points or DEFAULT_CHUNK_POINTS)
    if cp < 1:
        raise ValueError(f"chunk_points must be positive, got {chunk_points}")
    per = max(1, cp // max(1, n_profile))
    total = n_outer * n_profile
    if total >= _MIN_SPLIT_POINTS:
        per = min(per, max(1, -(-n_outer // MIN_CHUNKS)))
    return [(s, min(n_outer, s + per)) for s in range(0, n_outer, per)]


def evaluate_chunk(likelihood, grid: ScanGrid, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
    """chi^2 minimised over the profiled grid at outer points [start, stop), and the argmin index."""
    pts = grid.points(grid.outer_values(start, stop))
    chi2 = np.asarray(likelihood.chi2(pts), dtype=float).reshape(stop - start, grid.n_profile)
    chi2 = np.where(np.isnan(chi2), np.inf, chi2)
    arg = np.argmin(chi2, axis=1)
    return chi2[np.arange(stop - start), arg], arg.astype(np.int64)


def evaluate_grid(likelihood, axes: Mapping[str, Sequence[float]], profile: Mapping | None = None,
                  fixed: Mapping | None = None) -> np.ndarray:
    """In-process grid evaluation (no files): profiled chi^2 on the grid of ``axes``.

    Parameters
    ----------
    likelihood : Likelihood
    axes : mapping name -> 1-D values
        One (x) or two (x, y) scanned parameters, in this order.
    profile : mapping name -> 1-D values, optional
        Parameters minimised over on their grid.
    fixed : mapping, optional
        Further fixed parameters.

    Returns
    -------
    ndarray
        chi^2, shape (nx,) or (ny, nx) (not Delta chi^2).
    """
    names = list(axes)
    if not 1 <= len(names) <= 2:
        raise ValueError("axes must name one or two parameters")
    grid = ScanGrid(names=names, axes=[np.asarray(axes[n], dtype=float) for n in names],
                    profile_names=list(profile or {}),
                    profile_axes=[np.asarray(v, dtype=float) for v in (profile or {}).values()],
                    fixed=dict(fixed or {}))
    out = np.empty(grid.n_outer)
    for s, e in chunk_bounds(grid.n_outer, grid.n_profile):
        out[s:e] = evaluate_chunk(likelihood, grid, s, e)[0]
    return out.reshape(grid.shape)


def scan_hash(spec, scan, bounds) -> str:
    """Hash of everything that determines a scan's chunks (likelihood, grids, fixed, chunking)."""
    extra = {"scan": {k: v for k, v in scan.model_dump(mode="json").items()
                      if k in ("parameters", "ranges", "points", "log", "profile", "fixed")},
             "chunks": [list(b) for b in bounds], "format": 1}
    return spec.digest(extra)


def _chunk_path(folder: Path, i: int) -> Path:
    return folder / f"chunk-{i:06d}.npz"


def _load_chunk(path: Path, n: int):
    try:
        with np.load(path) as z:
            c, a = np.asarray(z["chi2"], dtype=float), np.asarray(z["argmin"], dtype=np.int64)
    except Exception:
        return None
    if c.shape != (n,) or a.shape != (n,):
        return None
    return c, a


def _save_chunk(path: Path, chi2: np.ndarray, arg: np.ndarray) -> None:
    from ..io import atomic_path

    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, chi2=chi2, argmin=arg)


def compute_scan(likelihood, spec, scan, partial_root=None, executor=None, progress=True,
                 chunk_points=None) -> ScanData:
    """Evaluate a scan's grid, resuming from / saving chunks in ``partial_root`` (if given)."""
    from .executors import ChunkJob, InProcessExecutor

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
    job = ChunkJob(analysis=spec.to_dict(), scan_name=scan.name, likelihood=likelihood, grid=grid)
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


class _progress:
    """A rich progress bar (stderr) counting chunks, or nothing."""

    def __init__(self, enabled: bool, name: str, total: int, done: int):
        self.enabled, self.name, self.total, self.done = enabled, name, total, done
        self._bar = None

    def __enter__(self):
        if not self.enabled:
            return lambda: None
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

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


# ----------------------------------------------------------------------------------------------
# analysis of a scan
# ----------------------------------------------------------------------------------------------
def _cl_key(cl: float) -> str:
    return str(float(cl))


def _profile_function(likelihood, grid: ScanGrid):
    """x -> chi^2 minimised over the profiled grid at the scanned value x (1D scans)."""
    name = grid.names[0]

    def f(x):
        c, _ = evaluate_chunk_at(likelihood, grid, {name: np.atleast_1d(float(x))})
        return float(c[0])

    return f


def evaluate_chunk_at(likelihood, grid: ScanGrid, outer: Mapping):
    """Like :func:`evaluate_chunk` at arbitrary outer values (mapping name -> (m,) arrays)."""
    m = np.size(next(iter(outer.values())))
    pts = grid.points(outer)
    chi2 = np.asarray(likelihood.chi2(pts), dtype=float).reshape(m, grid.n_profile)
    chi2 = np.where(np.isnan(chi2), np.inf, chi2)
    arg = np.argmin(chi2, axis=1)
    return chi2[np.arange(m), arg], arg


def analyse_scan(likelihood, scan, data: ScanData) -> tuple[dict, dict]:
    """Intervals / contours / exclusion of an evaluated scan.

    Returns
    -------
    result : dict
        The entry of ``results.json``.
    plot : dict
        Arrays for the plot and CSV (``x``, ``y``, ``dchi2``, thresholds, exclusion curves).
    """
    grid = data.grid
    chi2 = data.chi2
    if not np.any(np.isfinite(chi2)):
        raise ValueError(f"scan {scan.name!r}: chi^2 is infinite everywhere on the grid")
    k = int(np.argmin(chi2))
    idx = np.unravel_index(k, grid.shape)
    chi2_min = float(chi2.flat[k])
    thresholds = {_cl_key(cl): iv.delta_chi2_threshold(cl, scan.dof) for cl in scan.confidence_levels}
    prof_best = {n: float(v) for n, v in grid.profile_values(data.argmin.flat[k]).items()}
    if grid.profile_axes:
        warn_edge = [n for n, ax, i in zip(grid.profile_names, grid.profile_axes,
                                           np.unravel_index(data.argmin.flat[k], grid.profile_shape))
                     if i in (0, ax.size - 1)]
    else:
        warn_edge = []
    if len(grid.names) == 1:
        x = grid.axes[0]
        best = float(x[k])
        f = _profile_function(likelihood, grid) if scan.refine else None
        if f is not None:
            lo, hi = x[max(k - 1, 0)], x[min(k + 1, x.size - 1)]
            if hi > lo:
                res = optimize.minimize_scalar(f, bounds=(lo, hi), method="bounded",
                                               options={"xatol": 1e-10 * max(1.0, abs(hi - lo))})
                if res.success and res.fun < chi2_min:
                    best, chi2_min = float(res.x), float(res.fun)
        dchi2 = chi2 - chi2_min
        ints, opens = {}, {}
        for key, t in thresholds.items():
            det = iv.intervals_1d_detailed(x, dchi2, t)
            pairs = [[i.lo, i.hi] for i in det]
            if f is not None and det:
                try:
                    pairs = iv.refine_interval_roots(lambda xx: f(xx) - chi2_min, det, t,
                                                     scan_range=(float(x[0]), float(x[-1])), xtol=1e-12)
                except (ValueError, RuntimeError):
                    pass
            ints[key] = pairs
            opens[key] = [[bool(i.lo_open), bool(i.hi_open)] for i in det]
        result = {"name": scan.name, "parameter": grid.names[0], "best_fit": best, "chi2_min": chi2_min,
                  "intervals": ints, "threshold": thresholds, "dof": scan.dof, "open_ends": opens}
        if prof_best:
            result["profiled_at_best_fit"] = prof_best
        if warn_edge:
            result["warnings"] = [f"profiled parameter(s) {warn_edge} at the edge of their grid at the best fit"]
        plot = {"x": x, "dchi2": dchi2, "thresholds": thresholds}
        return result, plot
    x, y = grid.axes
    iy, ix = idx
    dchi2 = chi2 - chi2_min
    log = scan.log or [False, False]
    cx = np.log(x) if log[0] else x
    cy = np.log(y) if log[1] else y
    contours = {}
    for key, t in thresholds.items():
        lines = iv.contours_2d(cx, cy, dchi2, t)
        out = []
        for ln in lines:
            ln = np.array(ln, dtype=float)
            if log[0]:
                ln[:, 0] = np.exp(ln[:, 0])
            if log[1]:
                ln[:, 1] = np.exp(ln[:, 1])
            out.append(ln.tolist())
        contours[key] = out
    result = {"name": scan.name, "parameters": list(grid.names), "best_fit": [float(x[ix]), float(y[iy])],
              "chi2_min": chi2_min, "contours": contours, "threshold": thresholds, "dof": scan.dof}
    if prof_best:
        result["profiled_at_best_fit"] = prof_best
    if warn_edge:
        result["warnings"] = [f"profiled parameter(s) {warn_edge} at the edge of their grid at the best fit"]
    plot = {"x": x, "y": y, "dchi2": dchi2, "thresholds": thresholds}
    if scan.y_transform is not None:
        from ..analysis import y_transform

        result["y_transform"] = scan.y_transform
        plot["y_plot"] = y_transform(scan.y_transform, y)
    if scan.exclusion:
        grid_ex = dchi2 if scan.exclusion_method == "global" else chi2 - np.min(chi2, axis=0, keepdims=True)
        grid_ex = np.where(np.isnan(grid_ex), np.inf, grid_ex)
        exc = {}
        for key, t in thresholds.items():
            ycurve = iv.exclusion_curve(x, y, grid_ex, t, log_y=bool(log[1]))
            if scan.y_transform is not None:
                from ..analysis import y_transform

                ycurve = y_transform(scan.y_transform, ycurve)
            exc[key] = {"x": x.tolist(), "y": [None if not np.isfinite(v) else float(v) for v in ycurve]}
        result["exclusion"] = exc
        result["exclusion_method"] = scan.exclusion_method
        plot["exclusion"] = exc
    return result, plot


def write_scan_csv(path, data: ScanData, dchi2: np.ndarray) -> None:
    """``x,delta_chi2`` (1D) or ``x,y,delta_chi2`` (2D, x running fastest), written atomically."""
    from ..io import write_text

    grid = data.grid
    fmt = "{:.12g}"
    if len(grid.names) == 1:
        rows = ["x,delta_chi2"] + [f"{fmt.format(a)},{fmt.format(b)}" for a, b in zip(grid.axes[0], dchi2)]
    else:
        x, y = grid.axes
        xx = np.tile(x, y.size)
        yy = np.repeat(y, x.size)
        rows = ["x,y,delta_chi2"] + [f"{fmt.format(a)},{fmt.format(b)},{fmt.format(c)}"
                                     for a, b, c in zip(xx, yy, dchi2.reshape(-1))]
    write_text(path, "\n".join(rows) + "\n")


def run_scan(likelihood, spec, scan, out_dir, executor=None, progress=True, chunk_points=None,
             grids: dict | None = None) -> dict:
    """Evaluate one scan of an analysis and write ``<scan>.csv``, ``<scan>.png`` and ``<scan>.pdf``.

    Returns the scan's entry of ``results.json``. With ``grids`` (a dict), also stores the scan's arrays
    there: ``grids[scan.name] = {"x", "y" (2D only), "dchi2"}`` (dchi2 of shape (ny, nx) in 2D).
    """
    out = Path(out_dir)
    data = compute_scan(likelihood, spec, scan, partial_root=out / PARTIAL_DIR, executor=executor,
                        progress=progress, chunk_points=chunk_points)
    result, plot = analyse_scan(likelihood, scan, data)
    write_scan_csv(out / f"{scan.name}.csv", data, plot["dchi2"])
    if grids is not None:
        grids[scan.name] = {k: plot[k] for k in ("x", "y", "dchi2") if k in plot}
    from ..plotting.scans import save_scan_figure

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        save_scan_figure(scan, result, plot, out / scan.name, title=spec.title)
    return result


def remove_partials(out_dir) -> None:
    """Remove ``out_dir/.partial`` (all chunks of finished scans)."""
    p = Path(out_dir) / PARTIAL_DIR
    if p.exists():
        shutil.rmtree(p, ignore_errors=True)

