"""Grid scans of a likelihood: 1D profiles and 2D regions, extra dimensions profiled over a grid.

A scan evaluates ``chi2`` on the outer grid (one or two scanned parameters) times the grid of the
profiled parameters, keeping for each outer point the minimum over the profiled grid. The outer grid
is cut into chunks of about :data:`DEFAULT_CHUNK_POINTS` physics points (:func:`chunk_bounds`,
evaluated by :func:`evaluate_chunk`, in process or on dask workers, :mod:`cevns.stats.executors`).
This module works on arrays and built likelihoods only; files (resumable chunks, CSV) and figures
belong to :mod:`cevns.analysis`.

Results: Delta chi^2 = chi^2 - min over the grid; every minimum within :data:`DEGENERATE_DCHI2` of the
global one is reported (``best_fits``); 1D allowed intervals
(:func:`cevns.stats.intervals.intervals_1d_detailed`, endpoints refined by brentq on the profile,
:func:`cevns.stats.intervals.refine_interval_roots`), 2D contours (contourpy), exclusion curves;
thresholds ``chi2.ppf(CL, dof)`` (Wilks' theorem).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
from scipy import optimize

from ..errors import CevnsError
from . import intervals as iv
from .exclusion_bands import refine_raster_exclusion
from .transforms import y_transform

__all__ = [
    "DEFAULT_CHUNK_POINTS",
    "DEGENERATE_DCHI2",
    "ScanError",
    "ScanGrid",
    "ScanData",
    "chunk_bounds",
    "evaluate_chunk",
    "evaluate_chunk_at",
    "evaluate_grid",
    "analyse_scan",
]

#: Physics points per chunk (outer points x profiled points).
DEFAULT_CHUNK_POINTS = 1 << 16
#: A scan with at least this many points is cut into at least :data:`MIN_CHUNKS` chunks.
_MIN_SPLIT_POINTS = 4096
MIN_CHUNKS = 8
#: Minima whose chi^2 is within this of the global minimum are all reported as best fits.
DEGENERATE_DCHI2 = 1e-6


class ScanError(CevnsError):
    """A scan whose chi^2 cannot be analysed (non-finite values, ...)."""


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
        """Shape of the profiled grid, one entry per profiled parameter."""
        return tuple(a.size for a in self.profile_axes)

    @property
    def n_outer(self) -> int:
        """Number of outer (scanned) grid points."""
        return int(np.prod(self.shape))

    @property
    def n_profile(self) -> int:
        """Number of profiled grid points per outer point (1 without profiling)."""
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
        """Profiled parameter values at flat profile-grid indices.

        Parameters
        ----------
        flat_index : int or array_like of int
            Flat indices into the profiled grid (C order over :attr:`profile_shape`).

        Returns
        -------
        dict of str to numpy.ndarray
            Value of each profiled parameter; empty without profiling.
        """
        if not self.profile_axes:
            return {}
        idx = np.unravel_index(np.asarray(flat_index), self.profile_shape)
        return {name: ax[i] for name, ax, i in zip(self.profile_names, self.profile_axes, idx)}


@dataclass
class ScanData:
    """Evaluated scan: chi^2 on the outer grid and the index of the profiled minimum.

    Attributes
    ----------
    grid : ScanGrid
        The scan grid.
    chi2 : numpy.ndarray
        Profiled chi^2 (dimensionless), shape ``grid.shape``.
    argmin : numpy.ndarray
        Flat index into the profiled grid of the minimum at each outer point, shape ``grid.shape``.
    n_chunks : int
        Number of chunks the scan was cut into.
    resumed_chunks : int
        How many of them were read back from an interrupted run.
    """

    grid: ScanGrid
    chi2: np.ndarray  # grid.shape
    argmin: np.ndarray  # grid.shape, flat index into the profiled grid
    n_chunks: int = 0
    resumed_chunks: int = 0


def chunk_bounds(n_outer: int, n_profile: int, chunk_points: int | None = None) -> list[tuple[int, int]]:
    """Split ``n_outer`` outer points into chunks of about ``chunk_points`` physics points.

    Scans of more than a few thousand points get at least :data:`MIN_CHUNKS` chunks (progress
    reporting and parallelism).

    Parameters
    ----------
    n_outer : int
        Number of outer grid points.
    n_profile : int
        Profiled points per outer point.
    chunk_points : int, optional
        Target physics points per chunk (default :data:`DEFAULT_CHUNK_POINTS`).

    Returns
    -------
    list of (int, int)
        ``[start, stop)`` outer-index ranges covering ``0 .. n_outer``.

    Raises
    ------
    ValueError
        If ``chunk_points`` is not positive.
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
    """chi^2 minimised over the profiled grid at outer points [start, stop), and the argmin index.

    Parameters
    ----------
    likelihood : Likelihood
        Anything with ``chi2(mapping) -> array``.
    grid : ScanGrid
        The scan grid.
    start, stop : int
        Flat outer-grid indices of the chunk.

    Returns
    -------
    chi2 : numpy.ndarray
        Minimum chi^2 at each outer point, shape (stop - start,); NaN counts as ``inf``.
    argmin : numpy.ndarray of int64
        Flat profiled-grid index of the minimum.
    """
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
    """Like :func:`evaluate_chunk` at arbitrary outer values (mapping name -> (m,) arrays).

    Parameters
    ----------
    likelihood : Likelihood
        Anything with ``chi2(mapping) -> array``.
    grid : ScanGrid
        The scan grid (its profiled axes are used).
    outer : mapping of str to array_like
        Values of the scanned parameters, each of shape (m,).

    Returns
    -------
    chi2, argmin : numpy.ndarray
        As for :func:`evaluate_chunk`, shape (m,).
    """
    m = np.size(next(iter(outer.values())))
    pts = grid.points(outer)
    chi2 = np.asarray(likelihood.chi2(pts), dtype=float).reshape(m, grid.n_profile)
    chi2 = np.where(np.isnan(chi2), np.inf, chi2)
    arg = np.argmin(chi2, axis=1)
    return chi2[np.arange(m), arg], arg


_MAX_BEST_FITS = 20


def _degenerate_minima_1d(x, chi2, k, best, chi2_min, f) -> list[float]:
    """Every local minimum of a 1D profile within :data:`DEGENERATE_DCHI2` of ``chi2_min``; the global
    one (``best``, at grid index ``k``) first. Local minima of the grid are refined with ``f`` (if
    given) on their neighbouring grid interval."""
    out = [best]
    n = x.size
    left = np.concatenate([[np.inf], chi2[:-1]])
    right = np.concatenate([chi2[1:], [np.inf]])
    local = np.flatnonzero((chi2 < left) & (chi2 <= right))
    for i in local:
        if i == k or len(out) >= _MAX_BEST_FITS:
            continue
        xi, ci = float(x[i]), float(chi2[i])
        slack = max(abs(left[i] - ci) if np.isfinite(left[i]) else 0.0,
                    abs(right[i] - ci) if np.isfinite(right[i]) else 0.0)
        if f is not None and ci - chi2_min <= slack + DEGENERATE_DCHI2:
            lo, hi = x[max(i - 1, 0)], x[min(i + 1, n - 1)]
            res = optimize.minimize_scalar(f, bounds=(lo, hi), method="bounded",
                                           options={"xatol": 1e-10 * max(1.0, abs(hi - lo))})
            if res.success and res.fun < ci:
                xi, ci = float(res.x), float(res.fun)
        if ci - chi2_min < DEGENERATE_DCHI2 and abs(xi - best) > 0:
            out.append(xi)
    return out


def _grid_minima_2d(chi2, chi2_min) -> list[tuple[int, int]]:
    """Grid points (iy, ix) that are local minima (4 neighbours) within DEGENERATE_DCHI2 of chi2_min."""
    pad = np.pad(chi2, 1, constant_values=np.inf)
    c = pad[1:-1, 1:-1]
    local = (c <= pad[:-2, 1:-1]) & (c <= pad[2:, 1:-1]) & (c <= pad[1:-1, :-2]) & (c <= pad[1:-1, 2:])
    near = local & (c - chi2_min < DEGENERATE_DCHI2)
    idx = np.argwhere(near)
    order = np.argsort(c[near], kind="stable")
    return [tuple(int(v) for v in idx[j]) for j in order[:_MAX_BEST_FITS]]


def _refined_raster_curve(likelihood, grid: ScanGrid, chi2, threshold, log_y, transform):
    """Raster exclusion curve of a 2D scan without profiled axes, narrow allowed bands above the grid's
    allowed region resolved with the likelihood (:func:`cevns.stats.exclusion_bands.refine_raster_exclusion`).
    Returns the curve (untransformed y) and the bands ``{"x", "lo", "hi"}`` (transformed y)."""
    xname, yname = grid.names
    x, y = grid.axes

    def chi2_at(xs, ys):
        return evaluate_chunk_at(likelihood, grid, {xname: xs, yname: ys})[0]

    ref = refine_raster_exclusion(chi2_at, x, y, chi2, threshold, log_y=log_y)
    lo = np.array([b[1] for b in ref.bands], dtype=float)
    hi = np.array([b[2] for b in ref.bands], dtype=float)
    if transform is not None and lo.size:
        lo, hi = y_transform(transform, lo), y_transform(transform, hi)
    bands = {"x": [float(x[b[0]]) for b in ref.bands], "lo": lo.tolist(), "hi": hi.tolist()}
    return ref.curve, bands


def analyse_scan(likelihood, scan, data: ScanData) -> tuple[dict, dict]:
    """Intervals / contours / exclusion / best fits of an evaluated scan.

    ``scan`` is any object with the attributes of a scan of an analysis file (``name``, ``dof``,
    ``confidence_levels``, ``refine``, ``log``, ``exclusion``, ``exclusion_method``, ``y_transform``).

    Parameters
    ----------
    likelihood : Likelihood
        The likelihood of the scan (used to refine interval endpoints).
    scan : object
        The scan description.
    data : ScanData
        The evaluated scan.

    Raises
    ------
    ScanError
        If chi^2 is not finite at some grid point.

    Returns
    -------
    result : dict
        The entry of ``results.json``. A raster exclusion of a 2D scan without profiled axes (with
        ``scan.refine``) resolves allowed bands narrower than the grid step with the likelihood
        (:func:`cevns.stats.exclusion_bands.refine_raster_exclusion`) and lists them under
        ``exclusion_bands`` (``{cl: {"x", "lo", "hi"}}``).
    plot : dict
        Arrays for the plot and CSV (``x``, ``y``, ``dchi2``, thresholds, exclusion curves).
    """
    grid = data.grid
    chi2 = data.chi2
    bad = ~np.isfinite(chi2)
    if np.any(bad):
        first = np.unravel_index(int(np.flatnonzero(bad.reshape(-1))[0]), grid.shape)
        at = {name: float(grid.axes[j][first[len(grid.axes) - 1 - j]]) for j, name in enumerate(grid.names)}
        raise ScanError(f"scan {scan.name!r}: chi^2 is not finite at {int(bad.sum())} of {bad.size} grid "
                        f"point(s), first at {at} (no data-compatible prediction there: e.g. observed counts in "
                        f"a bin with zero expectation); narrow the scan range")
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
        best_fits = _degenerate_minima_1d(x, chi2, k, best, chi2_min, f)
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
        result = {"name": scan.name, "parameter": grid.names[0], "best_fit": best, "best_fits": best_fits,
                  "chi2_min": chi2_min,
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
    best_fits = [[float(x[ix]), float(y[iy])]]
    for jy, jx in _grid_minima_2d(chi2, chi2_min):
        if (jy, jx) != (iy, ix):
            best_fits.append([float(x[jx]), float(y[jy])])
    result = {"name": scan.name, "parameters": list(grid.names), "best_fit": [float(x[ix]), float(y[iy])],
              "best_fits": best_fits, "chi2_min": chi2_min, "contours": contours, "threshold": thresholds, "dof": scan.dof}
    if prof_best:
        result["profiled_at_best_fit"] = prof_best
    if warn_edge:
        result["warnings"] = [f"profiled parameter(s) {warn_edge} at the edge of their grid at the best fit"]
    plot = {"x": x, "y": y, "dchi2": dchi2, "thresholds": thresholds}
    if scan.y_transform is not None:
        result["y_transform"] = scan.y_transform
        plot["y_plot"] = y_transform(scan.y_transform, y)
    if scan.exclusion:
        grid_ex = dchi2 if scan.exclusion_method == "global" else chi2 - np.min(chi2, axis=0, keepdims=True)
        grid_ex = np.where(np.isnan(grid_ex), np.inf, grid_ex)
        refine = (scan.exclusion_method == "raster" and not grid.profile_axes and getattr(scan, "refine", True)
                  and likelihood is not None)
        exc, bands = {}, {}
        for key, t in thresholds.items():
            if refine:
                ycurve, bands[key] = _refined_raster_curve(likelihood, grid, chi2, t, bool(log[1]),
                                                           scan.y_transform)
            else:
                ycurve = iv.exclusion_curve(x, y, grid_ex, t, log_y=bool(log[1]))
            if scan.y_transform is not None:
                ycurve = y_transform(scan.y_transform, ycurve)
            exc[key] = {"x": x.tolist(), "y": [None if not np.isfinite(v) else float(v) for v in ycurve]}
        result["exclusion"] = exc
        if refine:
            result["exclusion_bands"] = bands
        result["exclusion_method"] = scan.exclusion_method
        plot["exclusion"] = exc
    return result, plot
