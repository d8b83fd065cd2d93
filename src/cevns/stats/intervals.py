"""Confidence intervals, contours and exclusion curves from Delta chi^2 scans.

Wilks' theorem: for ``k`` parameters of interest, the region ``Delta chi^2 <= F^-1_{chi2_k}(CL)`` is a
confidence region at level CL (Wilks 1938; PDG review "Statistics", Sec. 40.4.2.2). 2D grids are indexed
``grid[iy, ix]`` (row = y, column = x), as for :func:`numpy.meshgrid` with default ``indexing="xy"``
and for matplotlib's ``contour(x, y, z)``.
"""

from __future__ import annotations

from typing import Callable, NamedTuple, Sequence

import contourpy
import numpy as np
from scipy import optimize, stats

__all__ = [
    "Interval",
    "delta_chi2_threshold",
    "intervals_1d",
    "intervals_1d_detailed",
    "refine_interval_roots",
    "contours_2d",
    "region_extent",
    "profile_1d_from_grid",
    "exclusion_curve",
]


class Interval(NamedTuple):
    """An allowed interval; ``lo_open``/``hi_open`` flag ends cut by the scan boundary."""

    lo: float
    hi: float
    lo_open: bool
    hi_open: bool


def delta_chi2_threshold(cl, dof=1):
    """Delta chi^2 threshold for a confidence level: ``chi2.ppf(cl, dof)`` (Wilks' theorem).

    E.g. 2.706 (90 %, 1 dof), 2.296 (68.27 %, 2 dof), 4.605 (90 %, 2 dof).

    Parameters
    ----------
    cl : float or array_like
        Confidence level, strictly between 0 and 1.
    dof : int or array_like
        Number of parameters of interest (> 0).

    Returns
    -------
    float or numpy.ndarray
        The threshold.

    Raises
    ------
    ValueError
        If ``cl`` is not in (0, 1) or ``dof`` is not positive.

    Examples
    --------
    >>> round(delta_chi2_threshold(0.9), 3)  # 90 % CL, 1 parameter
    2.706
    >>> round(delta_chi2_threshold(0.6827, dof=2), 3)  # 1 sigma, 2 parameters
    2.296
    """
    cl_arr = np.asarray(cl, dtype=float)
    if np.any(np.isnan(cl_arr)) or np.any((cl_arr <= 0) | (cl_arr >= 1)):
        raise ValueError(f"confidence level must be in (0, 1), got {cl}")
    dof_arr = np.asarray(dof, dtype=float)
    if np.any(np.isnan(dof_arr)) or np.any(dof_arr <= 0):
        raise ValueError(f"degrees of freedom must be positive, got {dof}")
    out = stats.chi2.ppf(cl_arr, dof_arr)
    return float(out) if np.ndim(out) == 0 else out


def _grid_1d(x, values, name="delta_chi2"):
    x = np.asarray(x, dtype=float)
    d = np.asarray(values, dtype=float)
    if x.ndim != 1 or x.size < 2:
        raise ValueError(f"x must be a 1D grid with at least 2 points, got shape {x.shape}")
    if d.shape != x.shape:
        raise ValueError(f"{name} has shape {d.shape} but x has shape {x.shape}")
    if np.any(~np.isfinite(x)) or np.any(np.diff(x) <= 0):
        raise ValueError("x must be finite and strictly increasing")
    if np.any(np.isnan(d)):
        raise ValueError(f"{name} contains NaN")
    return x, d


def _crossing(xa, da, xb, db, threshold):
    """x where the straight line through (xa, da), (xb, db) equals threshold (da <= t < db or reverse)."""
    if np.isinf(da) or np.isinf(db):
        return xb if np.isinf(da) else xa
    return xa + (threshold - da) / (db - da) * (xb - xa)


def intervals_1d_detailed(x, delta_chi2, threshold) -> list[Interval]:
    """Allowed intervals ``{x : Delta chi^2(x) <= threshold}`` with scan-edge flags.

    Endpoints inside the scan are the linear interpolation of the threshold crossing between the
    two neighbouring grid points (error O(h^2) for a smooth curve); an interval reaching the first
    or last grid point ends there and is flagged open (the true interval may extend further).

    Parameters
    ----------
    x : array_like
        Strictly increasing scan grid, shape (n,).
    delta_chi2 : array_like
        Delta chi^2 at ``x`` (``inf`` allowed, NaN not).
    threshold : float
        E.g. :func:`delta_chi2_threshold`.

    Returns
    -------
    list of Interval
        Disjoint intervals ordered in x; empty if nothing is allowed.
    """
    x, d = _grid_1d(x, delta_chi2)
    t = float(threshold)
    allowed = d <= t
    out = []
    n = x.size
    i = 0
    while i < n:
        if not allowed[i]:
            i += 1
            continue
        j = i
        while j + 1 < n and allowed[j + 1]:
            j += 1
        lo = x[0] if i == 0 else _crossing(x[i - 1], d[i - 1], x[i], d[i], t)
        hi = x[-1] if j == n - 1 else _crossing(x[j], d[j], x[j + 1], d[j + 1], t)
        out.append(Interval(float(lo), float(hi), i == 0, j == n - 1))
        i = j + 1
    return out


def intervals_1d(x, delta_chi2, threshold) -> list[list[float]]:
    """Allowed region ``{x : Delta chi^2(x) <= threshold}`` as a list of ``[lo, hi]`` intervals.

    See :func:`intervals_1d_detailed` (same intervals, with flags for ends at the scan boundary).

    Parameters
    ----------
    x : array_like
        Strictly increasing scan grid, shape (n,).
    delta_chi2 : array_like
        Delta chi^2 at ``x`` (``inf`` allowed, NaN not), shape (n,).
    threshold : float
        Level, e.g. :func:`delta_chi2_threshold` (Wilks' theorem).

    Returns
    -------
    list of [float, float]
        Disjoint ``[lo, hi]`` intervals ordered in x, in the units of ``x``; endpoints linearly
        interpolated between grid points; empty if nothing is allowed.

    Raises
    ------
    ValueError
        If ``x`` is not strictly increasing, the shapes differ or ``delta_chi2`` contains NaN.

    Examples
    --------
    For the parabola ``Delta chi^2 = ((x - 0.5) / 0.5)^2`` (a Gaussian measurement 0.5 +- 0.5) the
    2-sigma interval (threshold 4) is ``0.5 +- 2 * 0.5``:

    >>> import numpy as np
    >>> x = np.linspace(-3.0, 3.0, 61)
    >>> intervals_1d(x, ((x - 0.5) / 0.5) ** 2, 4.0)
    [[-0.5, 1.5]]
    >>> intervals_1d(x, x ** 2, delta_chi2_threshold(0.6827))  # 1 sigma: x = +-1
    [[-1.0..., 1.0...]]
    """
    return [[iv.lo, iv.hi] for iv in intervals_1d_detailed(x, delta_chi2, threshold)]


def refine_interval_roots(f: Callable[[float], float], intervals, threshold, *, scan_range=None,
                          width=None, xtol=1e-12):
    """Refine interval endpoints to the roots of ``f(x) - threshold`` with :func:`scipy.optimize.brentq`.

    Each interior endpoint is bracketed by stepping outwards (excluded side) and inwards (allowed
    side) from the approximate endpoint with a width that doubles until the sign changes. Ends
    flagged open (:class:`Interval`) or equal to a bound of ``scan_range`` are kept as they are.

    Parameters
    ----------
    f : callable
        ``Delta chi^2(x)`` for scalar x.
    intervals : list of [lo, hi] or list of Interval
        Approximate intervals, e.g. from :func:`intervals_1d_detailed`.
    threshold : float
        Level.
    scan_range : (float, float), optional
        Scan boundaries; endpoints equal to them are not refined.
    width : float, optional
        Initial bracketing half-width (default 1e-3 of the interval length, or 1e-6 if degenerate).
    xtol : float, optional
        Absolute tolerance passed to brentq.

    Returns
    -------
    list of [lo, hi]
    """
    t = float(threshold)
    g = lambda xx: float(f(xx)) - t  # noqa: E731

    def refine(x0, inside_dir, limit):
        # inside_dir = +1: allowed side is at larger x (a lower end); -1 for an upper end.
        w = width if width is not None else max(1e-3 * limit, 1e-6 * max(1.0, abs(x0)))
        for _ in range(60):
            x_in = x0 + inside_dir * min(w, limit)
            x_out = x0 - inside_dir * w
            g_in, g_out = g(x_in), g(x_out)
            if g_in <= 0 < g_out:
                if g_in == 0:
                    return x_in
                return optimize.brentq(g, min(x_in, x_out), max(x_in, x_out), xtol=xtol)
            w *= 2.0
        raise ValueError(f"could not bracket the threshold crossing near x = {x0}")

    out = []
    for iv in intervals:
        if isinstance(iv, Interval):
            lo, hi, lo_open, hi_open = iv
        else:
            lo, hi = float(iv[0]), float(iv[1])
            lo_open = hi_open = False
        if scan_range is not None:
            lo_open = lo_open or np.isclose(lo, scan_range[0], rtol=0, atol=1e-12 * max(1, abs(lo)))
            hi_open = hi_open or np.isclose(hi, scan_range[1], rtol=0, atol=1e-12 * max(1, abs(hi)))
        length = max(hi - lo, 0.0)
        half = 0.5 * length if length > 0 else 1e-6
        new_lo = lo if lo_open else refine(lo, +1, half)
        new_hi = hi if hi_open else refine(hi, -1, half)
        out.append([float(new_lo), float(new_hi)])
    return out


def _grid_2d(x, y, grid):
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    z = np.asarray(grid, dtype=float)
    if x.ndim != 1 or y.ndim != 1:
        raise ValueError("x and y must be 1D grids")
    if z.shape != (y.size, x.size):
        raise ValueError(f"grid must have shape (len(y), len(x)) = ({y.size}, {x.size}) "
                         f"(indexed [iy, ix]), got {z.shape}")
    for arr, name in ((x, "x"), (y, "y")):
        if arr.size < 2 or np.any(~np.isfinite(arr)) or np.any(np.diff(arr) <= 0):
            raise ValueError(f"{name} must be finite, strictly increasing, with >= 2 points")
    if np.any(np.isnan(z)):
        raise ValueError("delta_chi2 grid contains NaN")
    return x, y, z


def contours_2d(x, y, delta_chi2_grid, threshold) -> list[np.ndarray]:
    """Level-set lines ``Delta chi^2 = threshold`` of a 2D scan, via ``contourpy``.

    Parameters
    ----------
    x : array_like
        Grid of the first parameter, shape (nx,), increasing.
    y : array_like
        Grid of the second parameter, shape (ny,), increasing.
    delta_chi2_grid : array_like
        Shape (ny, nx), indexed ``[iy, ix]``; ``+inf`` allowed (treated as far above threshold).
    threshold : float
        Level, e.g. ``delta_chi2_threshold(0.9, 2)`` = 4.61.

    Returns
    -------
    list of numpy.ndarray
        Polylines of shape (n, 2) with columns (x, y); a closed line repeats its first point,
        a line ending on the scan boundary is open.
    """
    x, y, z = _grid_2d(x, y, delta_chi2_grid)
    t = float(threshold)
    if np.any(np.isinf(z)):
        finite = z[np.isfinite(z)]
        top = max(float(finite.max()) if finite.size else t, abs(t), 1.0)
        z = np.where(np.isposinf(z), 1e6 * top, np.where(np.isneginf(z), -1e6 * top, z))
    gen = contourpy.contour_generator(x, y, z, line_type=contourpy.LineType.Separate)
    return [np.asarray(line, dtype=float) for line in gen.lines(t)]


def region_extent(contours: Sequence[np.ndarray]):
    """Bounding box ``((xmin, xmax), (ymin, ymax))`` of contour lines.

    This is the extent of the allowed region when the region is closed inside the scan; if it
    reaches the scan boundary the box of the lines may be smaller than the region.

    Parameters
    ----------
    contours : sequence of numpy.ndarray
        Polylines of shape (n, 2) with columns (x, y), e.g. from :func:`contours_2d`.

    Returns
    -------
    ((float, float), (float, float))
        ``((xmin, xmax), (ymin, ymax))`` in the units of the scan axes.

    Raises
    ------
    ValueError
        If there are no contour lines (the region is empty or covers the whole scan).
    """
    lines = [np.asarray(c, dtype=float).reshape(-1, 2) for c in contours]
    lines = [c for c in lines if c.size]
    if not lines:
        raise ValueError("no contour lines: the region is empty or covers the whole scan")
    pts = np.concatenate(lines)
    return (float(pts[:, 0].min()), float(pts[:, 0].max())), (float(pts[:, 1].min()), float(pts[:, 1].max()))


def profile_1d_from_grid(delta_chi2_grid, axis):
    """Profile of a grid scan: minimum over every axis except ``axis``.

    Parameters
    ----------
    delta_chi2_grid : array_like
        Scan, e.g. shape (ny, nx) indexed ``[iy, ix]``.
    axis : int or {"x", "y"}
        The axis of the parameter that is kept. For a 2D ``[iy, ix]`` grid, ``"x"`` (= 1) gives
        ``min_y chi2(x, y)`` as a function of x and ``"y"`` (= 0) the profile in y.

    Returns
    -------
    numpy.ndarray
        1D profile along ``axis`` (not re-minimised: subtract its minimum for a Delta chi^2).
    """
    z = np.asarray(delta_chi2_grid, dtype=float)
    if np.any(np.isnan(z)):
        raise ValueError("delta_chi2 grid contains NaN")
    if isinstance(axis, str):
        if z.ndim != 2 or axis not in ("x", "y"):
            raise ValueError(f"axis must be 'x' or 'y' for a 2D grid (or an integer), got {axis!r}")
        axis = 1 if axis == "x" else 0
    axis = int(axis)
    if not -z.ndim <= axis < z.ndim:
        raise ValueError(f"axis {axis} out of range for a {z.ndim}D grid")
    axis %= z.ndim
    others = tuple(a for a in range(z.ndim) if a != axis)
    return np.min(z, axis=others) if others else z.copy()


def exclusion_curve(x_values, y_grid, dchi2_grid, threshold, *, log_y=False):
    """One-sided exclusion limit: for each x, the y above which everything is excluded.

    For each column ``ix`` the result is ``y*`` such that ``Delta chi^2(x, y) > threshold`` for all
    scanned ``y > y*``: the crossing (linearly interpolated, in ``log y`` if ``log_y``) between the
    highest allowed grid point and the next one above it. If the whole column is excluded, ``y*``
    is the lowest scanned y; if the highest y is allowed nothing is excluded and ``y*`` is NaN.
    Typical use: sterile mixing ``sin^2(2 theta)`` (y) versus ``Delta m^2_41`` (x).

    Parameters
    ----------
    x_values : array_like
        Shape (nx,).
    y_grid : array_like
        Increasing y values, shape (ny,) (positive if ``log_y``).
    dchi2_grid : array_like
        Shape (ny, nx), indexed ``[iy, ix]``.
    threshold : float
        Level, e.g. ``delta_chi2_threshold(0.9, 1)`` for a one-sided-by-construction scan.
    log_y : bool, optional
        Interpolate in ``log(y)`` (for log-spaced y scans).

    Returns
    -------
    numpy.ndarray
        Shape (nx,).
    """
    x = np.asarray(x_values, dtype=float)
    y = np.asarray(y_grid, dtype=float)
    if x.ndim != 1:
        raise ValueError("x_values must be 1D")
    if y.ndim != 1 or y.size < 2 or np.any(~np.isfinite(y)) or np.any(np.diff(y) <= 0):
        raise ValueError("y_grid must be finite, strictly increasing, with >= 2 points")
    z = np.asarray(dchi2_grid, dtype=float)
    if z.shape != (y.size, x.size):
        raise ValueError(f"dchi2_grid must have shape (len(y), len(x)) = ({y.size}, {x.size}), got {z.shape}")
    if np.any(np.isnan(z)):
        raise ValueError("dchi2_grid contains NaN")
    if log_y and np.any(y <= 0):
        raise ValueError("log_y needs positive y values")
    yy = np.log(y) if log_y else y
    t = float(threshold)
    out = np.full(x.size, np.nan)
    for ix in range(x.size):
        col = z[:, ix]
        allowed = np.flatnonzero(col <= t)
        if allowed.size == 0:
            out[ix] = y[0]
            continue
        top = allowed[-1]
        if top == y.size - 1:
            continue
        yc = _crossing(yy[top], col[top], yy[top + 1], col[top + 1], t)
        out[ix] = np.exp(yc) if log_y else yc
    return out
