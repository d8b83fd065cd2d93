"""Raster exclusion curves that resolve narrow allowed bands between grid points.

A raster exclusion (for each x, Delta chi^2 to the minimum over y at that x; the curve is the y above
which everything is excluded, :func:`cevns.stats.intervals.exclusion_curve`) is read off a grid. If the
chi^2 of a column has a narrow allowed valley above its main allowed region -- e.g. a light vector Z'
whose interference with the Standard Model is destructive: the weak charge flips sign at a coupling
``g_flip ~ m^2`` and the rate returns to the Standard Model value there -- the grid sees the valley only
in the columns where a grid point happens to fall into it, and the curve jumps between the valley and
the lower edge from column to column (a saw-tooth).

:func:`refine_raster_exclusion` looks at the grid dips of each column (interior local minima of chi^2
along y) above the highest allowed grid point, locates each dip's minimum with a vectorised golden-
section search (Kiefer 1953; Press et al., *Numerical Recipes*, 3rd ed., Sec. 10.2) between its grid
neighbours, lowers the column minimum if a dip goes below it and, for every dip that is allowed
(``chi^2 - min <= threshold``), finds the edges of the allowed band by vectorised regula falsi. The curve
of such a column is the upper edge of its highest band. A column whose grid shows no dip at all (a
coarse grid with no point between the rate's zero and the flip) is searched where its neighbour columns
have a band. All columns are refined together: each step is one call of the chi^2 function on arrays
(a few tens of calls in all), never a loop over points.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

from . import intervals as iv

__all__ = ["RasterRefinement", "golden_section_min", "bisect_crossing", "refine_raster_exclusion"]

#: 1 / golden ratio.
_INVPHI = (np.sqrt(5.0) - 1.0) / 2.0
#: Evenly spaced probes between a dip's grid neighbours before the golden-section search.
_N_PROBES = 16


class RasterRefinement(NamedTuple):
    """Result of :func:`refine_raster_exclusion`.

    Attributes
    ----------
    curve : numpy.ndarray
        Exclusion curve, shape (nx,): the y above which everything is excluded (NaN if the highest y is
        allowed, the lowest y if the whole column is excluded), in the units of y.
    column_min : numpy.ndarray
        chi^2 minimum of each column, shape (nx,): the grid minimum, or a refined dip if lower.
    bands : list of (int, float, float)
        Refined allowed bands (above the highest allowed grid point, or around an allowed grid point
        between two excluded ones): ``(ix, lo, hi)`` in the units of y, ordered
        by column then y. ``lo`` is the lower grid neighbour of the dip when that grid point is allowed
        (the band then touches the grid's allowed region).
    n_calls : int
        Number of calls of the chi^2 function.
    """

    curve: np.ndarray
    column_min: np.ndarray
    bands: list
    n_calls: int


def golden_section_min(f: Callable[[np.ndarray], np.ndarray], a, b, iterations: int = 30):
    """Vectorised golden-section search for a minimum of ``f`` in each bracket ``[a_k, b_k]``.

    Each iteration shrinks every bracket by the factor 0.618 with one call of ``f`` on all brackets (two
    calls to start)
    (Kiefer 1953; Press et al., *Numerical Recipes*, 3rd ed., Sec. 10.2). For a function unimodal in
    the bracket the result is its minimum to ``0.618**iterations`` of the bracket width.

    Parameters
    ----------
    f : callable
        ``f(u) -> values`` on an array of shape (n,), one point per bracket; NaN counts as ``+inf``.
    a, b : array_like
        Bracket ends, shape (n,), ``a <= b``.
    iterations : int, optional
        Number of shrinking steps.

    Returns
    -------
    u : numpy.ndarray
        Location of the lowest value found, shape (n,).
    fu : numpy.ndarray
        ``f(u)``, shape (n,).
    """
    a = np.array(a, dtype=float, ndmin=1)
    b = np.array(b, dtype=float, ndmin=1)
    if a.size == 0:
        return a.copy(), a.copy()
    c = b - _INVPHI * (b - a)
    d = a + _INVPHI * (b - a)
    fc, fd = _finite(f(c)), _finite(f(d))
    for _ in range(int(iterations)):
        left = fc < fd  # the minimum is in [a, d]: drop (d, b]
        b = np.where(left, d, b)
        a = np.where(left, a, c)
        c_new = b - _INVPHI * (b - a)
        d_new = a + _INVPHI * (b - a)
        probe = np.where(left, c_new, d_new)
        fp = _finite(f(probe))
        c, d = np.where(left, c_new, d), np.where(left, c, d_new)
        fc, fd = np.where(left, fp, fd), np.where(left, fc, fp)
    take_c = fc <= fd
    return np.where(take_c, c, d), np.where(take_c, fc, fd)


def bisect_crossing(g: Callable[[np.ndarray], np.ndarray], inside, outside, xtol: float = 1e-10,
                    max_iter: int = 100, g_inside=None, g_outside=None) -> np.ndarray:
    """Vectorised bracketing search for the boundary between ``g <= 0`` (inside) and ``g > 0`` (outside).

    Regula falsi with the Illinois modification (Dowell & Jarratt 1971, BIT 11, 168): the new point is
    where the straight line through the bracket ends crosses zero, and the value at an end kept twice in
    a row is halved, so that both ends converge (order ~1.44); a bracket with a non-finite end is
    bisected. One call of ``g`` per step for all brackets.

    Parameters
    ----------
    g : callable
        ``g(u) -> values`` on an array of shape (n,), one point per bracket; NaN counts as outside.
    inside, outside : array_like
        Points with ``g <= 0`` and ``g > 0``, shape (n,) (either may be the larger one).
    xtol : float, optional
        Stop when every bracket is narrower than this (units of ``u``).
    max_iter : int, optional
        At most this many calls of ``g``.
    g_inside, g_outside : array_like, optional
        ``g`` at ``inside`` and ``outside`` if known (else evaluated).

    Returns
    -------
    numpy.ndarray
        A crossing in each bracket to ``xtol``, shape (n,): the last point found inside.
    """
    a = np.array(inside, dtype=float, ndmin=1)
    b = np.array(outside, dtype=float, ndmin=1)
    if a.size == 0:
        return a
    ga = np.minimum(_finite(g(a) if g_inside is None else g_inside), 0.0)
    gb = _finite(g(b) if g_outside is None else g_outside)
    gb = np.where(gb > 0, gb, np.inf)
    last = np.zeros(a.size, dtype=int)  # +1: the inside end moved last step, -1: the outside end
    for _ in range(int(max_iter)):
        active = np.abs(b - a) > xtol
        if not active.any():
            break
        mid = 0.5 * (a + b)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            c = a - ga * (b - a) / (gb - ga)
        c = np.where(np.isfinite(c) & ((c - a) * (c - b) < 0), c, mid)
        gc = _finite(g(np.where(active, c, a)))
        ins = active & (gc <= 0)
        out = active & ~(gc <= 0)
        a, ga = np.where(ins, c, a), np.where(ins, gc, ga)
        b, gb = np.where(out, c, b), np.where(out, gc, gb)
        gb = np.where(ins & (last == 1), 0.5 * gb, gb)
        ga = np.where(out & (last == -1), 0.5 * ga, ga)
        last = np.where(ins, 1, np.where(out, -1, last))
    return a


def _finite(v) -> np.ndarray:
    v = np.asarray(v, dtype=float)
    return np.where(np.isnan(v), np.inf, v)


def _top_allowed(chi2, col_min, t) -> np.ndarray:
    """Index of the highest allowed grid point of each column (-1 if none)."""
    allowed = chi2 - col_min[None, :] <= t
    ny = chi2.shape[0]
    return np.where(allowed.any(axis=0), ny - 1 - np.argmax(allowed[::-1], axis=0), -1)


def _search(f, ix, a, b, iterations, fa=None, fb=None, n_probes=_N_PROBES):
    """Minimum of ``f(ix, u)`` for u in each bracket [a, b]: evenly spaced probes pick the sub-bracket
    around the lowest local minimum among them, then a golden-section search in it. ``fa``, ``fb``:
    known values at the ends."""
    frac = np.arange(1, n_probes + 1) / (n_probes + 1)
    up = a[:, None] + (b - a)[:, None] * frac[None, :]
    fp = f(np.repeat(ix, n_probes), up.reshape(-1)).reshape(ix.size, n_probes)
    ends = [np.full(ix.size, np.inf) if v is None else np.asarray(v, dtype=float) for v in (fa, fb)]
    fp = np.concatenate([ends[0][:, None], fp, ends[1][:, None]], axis=1)
    up = np.concatenate([a[:, None], up, b[:, None]], axis=1)
    # the lowest probe that is a local minimum between two known values (a probe next to an end of
    # unknown value may only be the foot of a slope running out of the bracket), else the lowest probe
    mid = fp[:, 1:-1]
    local = ((mid <= fp[:, :-2]) & (mid <= fp[:, 2:]) & np.isfinite(fp[:, :-2]) & np.isfinite(fp[:, 2:])
             & np.isfinite(mid))
    best_local = 1 + np.argmin(np.where(local, mid, np.inf), axis=1)
    j = np.where(local.any(axis=1), best_local, np.clip(np.argmin(fp, axis=1), 1, n_probes))
    rows = np.arange(ix.size)
    return golden_section_min(lambda uu: f(ix, uu), up[rows, j - 1], up[rows, j + 1], iterations)


def refine_raster_exclusion(chi2_at: Callable[[np.ndarray, np.ndarray], np.ndarray], x, y, chi2, threshold,
                            *, log_y: bool = False, iterations: int = 20, xtol: float = 1e-9,
                            max_passes: int = 3) -> RasterRefinement:
    """Raster exclusion curve with narrow allowed bands above the grid's allowed region resolved.

    For each column (fixed x) of a 2D scan: the grid dips (interior local minima of chi^2 along y) above
    the highest allowed grid point, and allowed grid dips whose two neighbours are excluded (a band
    narrower than the grid step that a grid point happens to fall into), are refined by a golden-section
    search (in ``log y`` if ``log_y``) between their grid neighbours, after :data:`_N_PROBES` evenly
    spaced probes pick the best sub-bracket. A refined dip lower than the column's grid minimum becomes
    the column minimum (the search is then repeated for dips newly above the highest allowed grid point,
    at most ``max_passes`` times). A refined dip with ``chi^2 - min <= threshold`` is an allowed band whose edges
    are found by regula falsi between the dip and its grid neighbours. Columns still without a band next to
    a column with one are then searched around the neighbours' band (at most ``max_passes`` times, as a
    band may continue over several columns). The curve of a column with a band at its top is then the
    upper edge of its highest band (everything above is excluded). Columns without such a band get
    :func:`cevns.stats.intervals.exclusion_curve` of ``chi^2 - column min``, unchanged from the grid.

    Parameters
    ----------
    chi2_at : callable
        ``chi2_at(xs, ys) -> chi2`` on arrays of shape (m,) of scanned values (NaN counts as ``inf``).
    x : array_like
        Column values, shape (nx,).
    y : array_like
        Increasing row values, shape (ny,) (positive if ``log_y``).
    chi2 : array_like
        chi^2 on the grid (not Delta chi^2), shape (ny, nx), indexed ``[iy, ix]``.
    threshold : float
        Delta chi^2 level, e.g. ``delta_chi2_threshold(0.9, 1)`` = 2.706.
    log_y : bool, optional
        Search and interpolate in ``log y``.
    iterations : int, optional
        Golden-section steps per dip (one call of ``chi2_at`` each for all dips together).
    xtol : float, optional
        Bisection tolerance on the band edges, in ``log y`` (relative) if ``log_y``, else in y.
    max_passes : int, optional
        Passes of each stage (a lowered column minimum can uncover further dips; a band can continue
        over several columns).

    Returns
    -------
    RasterRefinement
        The curve, the column minima, the allowed bands and the number of ``chi2_at`` calls.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    z = np.where(np.isnan(np.asarray(chi2, dtype=float)), np.inf, np.asarray(chi2, dtype=float))
    if z.shape != (y.size, x.size):
        raise ValueError(f"chi2 must have shape (len(y), len(x)) = ({y.size}, {x.size}), got {z.shape}")
    t = float(threshold)
    u = np.log(y) if log_y else y
    to_y = np.exp if log_y else (lambda v: v)
    calls = 0

    def f(ix, uu):
        nonlocal calls
        calls += 1
        if ix.size == 0:
            return np.empty(0)
        return _finite(np.asarray(chi2_at(x[ix], to_y(uu)), dtype=float).reshape(-1))

    col_min = np.min(z, axis=0)
    ny = y.size
    pad = np.pad(z, ((1, 1), (0, 0)), constant_values=np.inf)
    dip = np.zeros_like(z, dtype=bool)
    dip[1:-1] = (z[1:-1] < pad[1:-3]) & (z[1:-1] <= pad[3:-1])  # interior local minima along y
    done = np.zeros_like(dip)
    tried = np.zeros((2, x.size), dtype=bool)  # columns searched around neighbours' grid / refined bands
    found = {"ix": [], "u": [], "f": [], "lo": [], "hi": []}  # refined minima, grid points either side
    h = float(np.median(np.diff(u)))
    rows_y = np.arange(ny)[:, None]
    for npass in range(int(max_passes)):
        top = _top_allowed(z, col_min, t)
        allowed = z - col_min[None, :] <= t
        lone = np.zeros_like(dip)  # an allowed grid point between two excluded ones: inside a narrow band
        lone[1:-1] = allowed[1:-1] & ~allowed[:-2] & ~allowed[2:]
        # (a) grid dips above the highest allowed grid point, and lone allowed dips
        todo = dip & ~done & ((rows_y > top[None, :]) | lone)
        done |= todo
        iy, ix = np.nonzero(todo)
        # (b) columns without a band at their top, next to a column with one, searched around the
        # neighbours' band: first pass, a grid dip above the highest allowed grid point (the deepest is
        # the likeliest band); later passes, refined allowed bands (a grid dip may be a spurious wiggle)
        band_u = np.full(x.size, np.nan)
        if npass == 0:
            cand = dip & ((rows_y > top[None, :]) | lone)
            band_u = np.where(cand.any(axis=0), u[np.argmin(np.where(cand, z, np.inf), axis=0)], np.nan)
        if found["ix"]:
            fix, fu, ff, fhi = (np.concatenate(found[k]) for k in ("ix", "u", "f", "hi"))
            top_band = (ff - col_min[fix] <= t) & (fhi > top[fix])
            np.fmax.at(band_u, fix[top_band], fu[top_band])
        own = np.isfinite(band_u)
        left = np.concatenate([[np.nan], band_u[:-1]])
        right = np.concatenate([band_u[1:], [np.nan]])
        cx = np.flatnonzero(~own & ~tried[min(npass, 1)] & (np.isfinite(left) | np.isfinite(right)))
        tried[min(npass, 1), cx] = True
        two = np.isfinite(left[cx]) & np.isfinite(right[cx])
        centre = np.where(two, 0.5 * (left[cx] + right[cx]), np.where(np.isfinite(left[cx]), left[cx], right[cx]))
        half = np.where(two, h + 0.5 * np.abs(left[cx] - right[cx]), 2.0 * h)
        ca = np.maximum(centre - half, u[np.maximum(top[cx], 0)])
        cb = np.maximum(np.minimum(centre + half, u[-1]), ca)
        if ix.size + cx.size == 0:
            break
        # one search for both kinds: coarse probes pick a sub-bracket, then golden section
        n_a = ix.size
        sx = np.concatenate([ix, cx])
        ud, fd = _search(f, sx, np.concatenate([u[iy - 1], ca]), np.concatenate([u[iy + 1], cb]), iterations,
                         np.concatenate([z[iy - 1, ix], np.full(cx.size, np.inf)]),
                         np.concatenate([z[iy + 1, ix], np.full(cx.size, np.inf)]))
        better_grid = z[iy, ix] < fd[:n_a]
        ud[:n_a] = np.where(better_grid, u[iy], ud[:n_a])
        fd[:n_a] = np.where(better_grid, z[iy, ix], fd[:n_a])
        i_lo = np.concatenate([iy - 1, np.searchsorted(u, ud[n_a:], side="right") - 1])
        keep = np.ones(sx.size, dtype=bool)  # continued bands: allowed, above the top allowed grid point
        keep[n_a:] = ((fd[n_a:] - np.minimum(col_min[cx], fd[n_a:]) <= t) & (cb > ca)
                      & (i_lo[n_a:] + 1 < ny) & (i_lo[n_a:] >= top[cx]))
        i_hi = np.concatenate([iy + 1, i_lo[n_a:] + 1])
        for key, v in zip(found, (sx, ud, fd, i_lo, i_hi)):
            found[key].append(v[keep])
        np.minimum.at(col_min, sx[keep], fd[keep])
    curve = iv.exclusion_curve(x, y, z - col_min[None, :], t, log_y=log_y)
    bands = []
    if found["ix"]:
        ix, ud, fd, i_lo, i_hi = (np.concatenate(found[k]) for k in found)
        ok = fd - col_min[ix] <= t
        ix, ud, fd, i_lo, i_hi = ix[ok], ud[ok], fd[ok], i_lo[ok], i_hi[ok]
        g = lambda k: (lambda uu: f(ix[k], uu) - col_min[ix[k]] - t)  # noqa: E731
        k = np.flatnonzero(z[i_lo, ix] - col_min[ix] > t)  # lower grid neighbour excluded: bisect that edge too
        both = np.concatenate([np.arange(ix.size), k])  # upper edges of all bands and lower edges, together
        g_in = fd[both] - col_min[ix[both]] - t
        i_out = np.concatenate([i_hi, i_lo[k]])
        edges = bisect_crossing(g(both), ud[both], u[i_out], xtol=xtol, g_inside=g_in,
                                g_outside=z[i_out, ix[both]] - col_min[ix[both]] - t)
        hi = edges[:ix.size]
        lo = u[i_lo].copy()
        lo[k] = edges[ix.size:]
        top = _top_allowed(z, col_min, t)
        for n in np.lexsort((ud, ix)):
            bands.append((int(ix[n]), float(to_y(lo[n])), float(to_y(hi[n]))))
            if i_hi[n] > top[ix[n]]:  # nothing allowed on the grid above: the curve is the band's top
                curve[ix[n]] = to_y(hi[n])  # the last (highest) band of the column wins
    return RasterRefinement(curve=curve, column_min=col_min, bands=bands, n_calls=calls)
