"""One nuisance shared by terms of different likelihood families, profiled by an outer 1-d minimisation.

A :class:`~cevns.stats.likelihood.Likelihood` profiles its terms in families: the binned terms jointly
(:func:`cevns.stats.binned.combined_chi2`, linear normalisation nuisances), the template terms that
share nuisances jointly (:mod:`cevns.stats.template_joint`), every other term alone with its own internal
profile (e.g. the XENONnT 8B template term, :mod:`cevns.stats.solar_term`). A ``[[correlations]]`` entry
whose members are in different families (e.g. the solar 8B flux of XENONnT and of the PandaX-4T summary
channels) is one parameter ``f`` (a normalisation, nominal 1, prior width ``sigma``) profiled *outside*
the families::

    chi2(point) = min_f [ sum_F chi2_F(point | f) + ((f - 1) / sigma)^2 ],

where each family ``F`` profiles all its other nuisances with the member nuisance held at ``f`` and its
own prior on it left out (binned: ``held`` of :func:`~cevns.stats.binned.combined_chi2`, the
fractional shift ``theta = f - 1``; XENONnT: ``fixed`` of
:meth:`~cevns.stats.solar_templates.TemplateProfiler.profile`, ``a_8B = f``). This equals the joint
minimum over all nuisances of all families (a minimum over a product set is the iterated minimum).

Why an outer 1-d minimisation rather than one joint Newton iteration over every family's nuisances:
the families are profiled by different, already tested cores (closed form / damped Newton on linear
nuisances; Gauss-Newton with bilinear yield-grid interpolation and bounds), so holding one parameter
fixed is the only thing each has to offer; the shared parameter is one number per point, and
``g(f) = sum_F chi2_F(f) + prior`` is smooth and nearly parabolic in ``f`` (a normalisation of
Poisson/Gaussian counts), so a few parabola steps reach the minimum. Folding e.g. the PandaX-4T channels
into the XENONnT Gauss-Newton would be faster but specific to one pair of experiments.

The minimiser (:func:`minimise_scalar`) is vectorised over points, with no minimiser call per point: three
starting values ``f0 - h, f0, f0 + h`` are evaluated for every point, then one new value per active point
and iteration: the vertex of the parabola through the best point and its two neighbours when they bracket
the minimum (golden-section step when the vertex is unusable), an expanding step downhill when they do
not, within the bounds ``[lo, hi]`` (a minimum on a bound is accepted). A point is done when the parabola
predicted the value at its own vertex to ``tol`` (the minimum is then known to about ``tol``), or the
bracket is narrower than ``xtol``. The chi^2 returned is the lowest value evaluated, so it can only lie
above the true minimum, by about ``tol`` (tests/test_correlations_across.py checks 0.01 against
iminuit over all nuisances).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np

from ..errors import ConfigError
from . import binned

__all__ = ["minimise_scalar", "profile_shared", "shared_bounds", "GOLDEN", "SharedAcross", "shared_across_families",
           "binned_family", "held_family"]

#: Golden-section fraction of a bracket.
GOLDEN = 0.3819660112501051


def minimise_scalar(func: Callable[[np.ndarray, np.ndarray], np.ndarray], start, step, lo, hi,
                    tol: float = 1e-4, xtol: float = 1e-5, max_eval: int = 40):
    """Minimise ``n`` one-dimensional functions at once (module docstring).

    Parameters
    ----------
    func : callable
        ``func(x, idx)``: values of the functions with indices ``idx`` (int array) at ``x`` (same shape).
    start : array_like (n,)
        Starting values.
    step : float or array_like (n,)
        Initial spacing ``h`` (> 0) of the three starting values.
    lo, hi : float
        Bounds of the variable (``lo < hi``).
    tol : float, optional
        Accuracy of the minimum value (the parabola's prediction error at its vertex).
    xtol : float, optional
        Bracket width at which a point is done regardless.
    max_eval : int, optional
        Largest number of evaluations per point.

    Returns
    -------
    x : ndarray (n,)
        Position of the lowest value found.
    value : ndarray (n,)
        Lowest value found.
    converged : ndarray of bool (n,)
        Whether the point met ``tol``/``xtol`` within ``max_eval`` evaluations.

    Raises
    ------
    ValueError
        If ``lo >= hi`` or ``step`` is not positive.
    """
    start = np.atleast_1d(np.asarray(start, dtype=float))
    n = start.size
    lo, hi = float(lo), float(hi)
    h = np.broadcast_to(np.asarray(step, dtype=float), (n,)).copy()
    if not lo < hi or np.any(~(h > 0)):
        raise ValueError(f"minimise_scalar needs lo < hi and a positive step, got [{lo}, {hi}], step {step}")
    h = np.minimum(h, (hi - lo) / 4)
    mid = np.clip(start, lo + h, hi - h)
    X = np.stack([mid - h, mid, mid + h], axis=1)
    idx_all = np.arange(n)
    G = np.stack([func(X[:, j], idx_all) for j in range(3)], axis=1)
    converged = np.zeros(n, dtype=bool)
    for _ in range(max_eval - 3):
        act = np.flatnonzero(~converged)
        if act.size == 0:
            break
        x, g = X[act], G[act]
        k = np.argmin(g, axis=1)
        v, pred, bracketed = _next_point(x, g, k, lo, hi, xtol)
        gv = func(v, act)
        # the best point and its neighbours among the four values
        x4 = np.concatenate([x, v[:, None]], axis=1)
        g4 = np.concatenate([g, gv[:, None]], axis=1)
        order = np.argsort(x4, axis=1)
        x4 = np.take_along_axis(x4, order, axis=1)
        g4 = np.take_along_axis(g4, order, axis=1)
        b = np.clip(np.argmin(g4, axis=1), 1, 2)
        cols = np.stack([b - 1, b, b + 1], axis=1)
        X[act] = np.take_along_axis(x4, cols, axis=1)
        G[act] = np.take_along_axis(g4, cols, axis=1)
        width = X[act, 2] - X[act, 0]
        at_bound = ((X[act, 0] <= lo) & (np.argmin(G[act], axis=1) == 0) & (X[act, 1] - lo < xtol)) | \
                   ((X[act, 2] >= hi) & (np.argmin(G[act], axis=1) == 2) & (hi - X[act, 1] < xtol))
        done = (bracketed & (np.abs(gv - pred) < tol) & (gv <= g.min(axis=1) + tol)) | (width < xtol) | at_bound
        converged[act[done]] = True
    best = np.argmin(G, axis=1)
    return X[idx_all, best], G[idx_all, best], converged


def _next_point(x, g, k, lo, hi, xtol):
    """Next abscissa per point, the parabola's predicted value there, and whether the triple brackets."""
    x0, x1, x2 = x[:, 0], x[:, 1], x[:, 2]
    g0, g1, g2 = g[:, 0], g[:, 1], g[:, 2]
    # parabola through the three points (divided differences)
    d01 = (g1 - g0) / (x1 - x0)
    d12 = (g2 - g1) / (x2 - x1)
    curv = (d12 - d01) / (x2 - x0)
    slope = d01 - curv * (x0 + x1)            # g = g0 + d01 (x - x0) + curv (x - x0)(x - x1)
    with np.errstate(divide="ignore", invalid="ignore"):
        vertex = np.where(curv > 0, -slope / (2 * curv), np.nan)
    bracketed = k == 1
    left, right = x1 - x0, x2 - x1
    golden = np.where(right > left, x1 + GOLDEN * right, x1 - GOLDEN * left)
    ok = bracketed & np.isfinite(vertex) & (vertex > x0) & (vertex < x2)
    v = np.where(ok, vertex, golden)
    # not on top of the best point
    near = bracketed & (np.abs(v - x1) < 0.5 * xtol)
    v = np.where(near, np.where(right > left, x1 + xtol, x1 - xtol), v)
    # not bracketed: move downhill, to the parabola's vertex if it is beyond the end, else by an
    # expanding step (1.618 x the triple's width), within the bounds; on a bound, bisect towards it
    span = x2 - x0
    down_left = np.where(np.isfinite(vertex) & (vertex < x0), np.maximum(vertex, x0 - 4 * span), x0 - 1.618 * span)
    down_right = np.where(np.isfinite(vertex) & (vertex > x2), np.minimum(vertex, x2 + 4 * span), x2 + 1.618 * span)
    v = np.where(k == 0, np.where(x0 <= lo, 0.5 * (x0 + x1), np.maximum(down_left, lo)), v)
    v = np.where(k == 2, np.where(x2 >= hi, 0.5 * (x1 + x2), np.minimum(down_right, hi)), v)
    pred = g0 + d01 * (v - x0) + curv * (v - x0) * (v - x1)
    return v, pred, bracketed


def shared_bounds(sigma: float) -> tuple[float, float, float]:
    """Bounds and initial step of a shared normalisation ``f`` with prior width ``sigma``.

    Parameters
    ----------
    sigma : float
        Relative prior width (``inf`` = free).

    Returns
    -------
    (lo, hi, step) : tuple of float
        ``f`` in ``[0, 1 + 10 sigma]`` (``[0, 10]`` when free), initial step ``min(sigma, 0.2) / 2``.
    """
    if not np.isfinite(sigma):
        return 0.0, 10.0, 0.1
    return 0.0, 1.0 + 10.0 * sigma, min(sigma, 0.2) / 2


def profile_shared(families: Sequence[Callable], n: int, sigma: float, details: bool = False,
                   tol: float = 1e-4):
    """chi^2 profiled over one normalisation shared by several likelihood families (module docstring).

    Parameters
    ----------
    families : sequence of callable
        ``family(f, idx, details) -> (chi2 (m,), per_term dict, nuisances dict)``: the family's chi^2 at
        the points ``idx`` (int array) with the shared normalisation held at ``f`` (its own prior on it
        left out).
    n : int
        Number of points.
    sigma : float
        Prior width of ``f`` (mean 1; ``inf`` = free, 0 = held at 1).
    details : bool, optional
        Also evaluate every family at the minimum for its per-term chi^2 and nuisances.
    tol : float, optional
        Accuracy of the profiled chi^2 (:func:`minimise_scalar`).

    Returns
    -------
    chi2 : ndarray (n,)
        Profiled chi^2 (families + prior of ``f``).
    f : ndarray (n,)
        The shared normalisation at the minimum.
    per_term : dict
        Per-term chi^2 at the minimum (``details`` only).
    nuisances : dict
        The families' nuisances at the minimum (``details`` only).
    """
    if sigma == 0:   # a fixed normalisation: no minimisation
        idx = np.arange(n)
        f = np.ones(n)
        parts = [fam(f, idx, details) for fam in families]
        per = {k: v for p in parts for k, v in p[1].items()} if details else {}
        nuis = {k: v for p in parts for k, v in p[2].items()} if details else {}
        return sum(p[0] for p in parts), f, per, nuis
    lo, hi, step = shared_bounds(sigma)
    w = 0.0 if not np.isfinite(sigma) else 1.0 / sigma**2

    def total(f, idx):
        out = w * (f - 1.0) ** 2
        for fam in families:
            out = out + fam(f, idx, False)[0]
        return out

    f, chi2, conv = minimise_scalar(total, np.ones(n), step, lo, hi, tol=tol)
    if not np.all(conv):
        warnings.warn(f"shared-nuisance profile did not converge at {np.sum(~conv)} point(s)", RuntimeWarning,
                      stacklevel=3)
    per, nuis = {}, {}
    if details:
        idx = np.arange(n)
        for fam in families:
            _, p, q = fam(f, idx, True)
            per.update(p)
            nuis.update(q)
    return chi2, f, per, nuis


@dataclass(frozen=True)
class SharedAcross:
    """The nuisance of a likelihood shared across families (:func:`shared_across_families`).

    Attributes
    ----------
    name : str
        Its (correlation) name.
    sigma : float
        Prior width of ``f`` (``inf`` = free).
    binned : bool
        Whether the binned terms have it (they are then profiled inside the outer minimisation).
    terms : list
        The terms profiled alone that have it (held through their ``chi2_held``).
    """

    name: str
    sigma: float
    binned: bool
    terms: list


def shared_across_families(terms: Sequence) -> SharedAcross | None:
    """The nuisance shared across the likelihood families of ``terms``, if any.

    Families: the binned terms (``joint``, one family), the template terms sharing nuisances (``shared``, one),
    every other term (one each, its shareable nuisances from ``holdable()``). A name in two or more families
    is shared across them; at most one such name is supported, and never one of the template family
    (:mod:`cevns.stats.template_joint` cannot hold it fixed).

    Parameters
    ----------
    terms : sequence of Term
        The likelihood's terms.

    Returns
    -------
    SharedAcross or None

    Raises
    ------
    ConfigError
        A template nuisance shared with another family, two names shared across families, or different widths
        of the shared name in different terms.
    """
    binned_names = {k: row["sigma"] for t in terms if t.joint for k, row in t.nuisance_table().items()}
    template_names = {k for t in terms if not t.joint and getattr(t, "shared", None) for k in t.nuisance_table()}
    alone = [t for t in terms if not t.joint and not getattr(t, "shared", None) and t.holdable()]
    families: dict[str, list] = {}
    for k in binned_names:
        families.setdefault(k, []).append("binned terms")
    for k in template_names:
        families.setdefault(k, []).append("template terms")
    for t in alone:
        for k in t.holdable():
            families.setdefault(k, []).append(t.label)
    cross = {k: v for k, v in families.items() if len(v) > 1}
    if not cross:
        return None
    bad = sorted(k for k in cross if k in template_names)
    if bad:
        raise ConfigError(f"nuisance(s) {bad} shared between template_poisson terms and {cross[bad[0]]}: a "
                          "template_poisson term shares nuisances only with other template_poisson terms")
    if len(cross) > 1:
        raise ConfigError(f"nuisances {sorted(cross)} are each shared across likelihood families; only one "
                          "such nuisance is supported (profiled outside the families)")
    name = next(iter(cross))
    sigmas = {binned_names[name]} if name in binned_names else set()
    sigmas |= {t.holdable()[name] for t in alone if name in t.holdable()}
    if len(sigmas) > 1:
        raise ConfigError(f"shared nuisance {name!r} has different widths in different terms: "
                          f"{sorted(map(str, sigmas))}")
    sigma = sigmas.pop()
    return SharedAcross(name, np.inf if sigma is None else float(sigma), name in binned_names,
                        [t for t in alone if name in t.holdable()])


def binned_family(terms: Sequence, signals: Mapping, name: str) -> Callable:
    """The binned terms as one family of :func:`profile_shared`: profiled jointly
    (:func:`cevns.stats.binned.combined_chi2`) with the nuisance ``name`` held at ``theta = f - 1``.

    Parameters
    ----------
    terms : sequence of Term
        The binned terms (``binned_dataset``).
    signals : mapping
        Dataset key -> signal (n, n_bins) of each term.
    name : str
        The shared nuisance.

    Returns
    -------
    callable
        ``family(f, idx, details) -> (chi2, per-dataset chi2, nuisances)``.
    """
    def family(f, idx, details):
        sigs = {t.dataset: np.asarray(signals[t.dataset])[idx] for t in terms}
        res = binned.combined_chi2([t.binned_dataset(sigs[t.dataset]) for t in terms], sigs, held={name: f - 1.0})
        return res.chi2, res.per_dataset, res.nuisances
    return family


def held_family(term, signal, name: str) -> Callable:
    """One term as a family of :func:`profile_shared` (its ``chi2_held`` with ``name`` held at ``f``).

    Each call starts the term's own profile afresh: a warm start from the previous ``f`` would make the
    value depend on the history of the search (the XENONnT Gauss-Newton stops on the bilinear yield grid at
    the 1e-3 level) and was not faster.

    Parameters
    ----------
    term : Term
        A term with ``chi2_held``.
    signal : ndarray
        Its signal at the n points.
    name : str
        The shared nuisance.

    Returns
    -------
    callable
        ``family(f, idx, details) -> (chi2, {dataset: chi2}, nuisances)``.
    """
    def family(f, idx, details):
        value, fitted = term.chi2_held(np.asarray(signal)[idx], {name: f})
        return value, {term.dataset: value}, (fitted if details else {})
    return family
