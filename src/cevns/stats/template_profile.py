"""Vectorised profiling of a binned template likelihood over many points at once (no minimiser per point).

The model and statistic are those of :class:`cevns.stats.binned_templates.TemplateLikelihood` with the
``"exp-quadratic"`` histosys interpolation of :mod:`cevns.stats.templates`: in each bin, ln h is the
parabola through ln h-, ln h0, ln h+ for |theta| <= 1, continued linearly beyond (the log-space analogue of
HistFactory's quadratic-interpolation / linear-extrapolation code, Cranmer et al., CERN-OPEN-2012-016).
It is positive without clipping and smooth (C1) at theta = 0, so that Newton steps converge quadratically
(the piecewise-linear code 0 has a kink at 0 and is clipped at 0, which leaves Newton and MIGRAD in spurious
minima). The templates may differ from point to point (a physics point changes the signal template)::

    h_c(theta) = h0_c exp(sum_s [theta_s b_cs + q(theta_s) a_cs]),
    b = (ln(h+/h0) - ln(h-/h0)) / 2,  a = ln(h+/h0) + ln(h-/h0),
    q(theta) = theta^2 / 2 (|theta| <= 1),  |theta| - 1/2 (otherwise)
    mu_b = sum_c s_c h_cb(theta) + r sum_g k_g M_bg
    chi2 = 2 sum_b [mu_b - n_b + n_b ln(n_b / mu_b)] + 2 sum_g [k_g - m_g + m_g ln(m_g / k_g)]
           + sum_c ((s_c - 1) / sigma_c)^2 + sum_s theta_s^2 + ((r - 1) / sigma_r)^2

Every nuisance (scales ``s_c``, shape nuisances ``theta_s``, the on/off ratio ``r`` and the off-sample
means ``k_g``) is profiled by damped Newton steps (Levenberg-Marquardt on the exact Hessian), vectorised
over the points: one batched linear solve per iteration for all points, each point accepting its step
only if chi2 decreases (:func:`cevns.stats.template_newton.newton`; chi2, gradient and Hessian from
:class:`cevns.stats.template_kernel.TemplateKernel`). Starting values (a warm start, e.g. the best fit of a
neighbouring point) may be given.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError
from .template_kernel import TemplateKernel
from .template_newton import newton

#: Shape nuisances are limited to +-THETA_MAX sigma (the exponential form would overflow far beyond).
THETA_MAX = 5.0

__all__ = ["THETA_MAX", "TemplateArrays", "ProfileResult", "profile_templates", "default_start", "presolve_scales",
           "chi2_at", "component_events", "expected_counts", "variation_terms"]


@dataclass
class TemplateArrays:
    """Plain-array template model (see module docstring).

    Parameters
    ----------
    observed : ndarray (n_bins,)
    names : list of str
        Component names (scale parameters ``s_<name>``).
    nominal : list of ndarray, each (n_points, n_bins) or (n_bins,)
        Nominal template of each component [events per bin].
    sigma : list of float or None
        Relative prior width of each scale (None: free).
    nuisances : list of str
        Shape-nuisance names.
    variations : list of (component index, nuisance index, b, a)
        ``b = (ln(h+/h0) - ln(h-/h0)) / 2`` and ``a = ln(h+/h0) + ln(h-/h0)`` (each (n_points, n_bins) or
        (n_bins,)) of one component under one nuisance (:func:`variation_terms`).
    off_counts, membership, ratio_sigma : optional
        On/off background: off-sample counts (n_groups,), the on-bin weights ``M`` (n_bins, n_groups) and
        the prior width of the ratio ``r``; ``off_counts=None`` for none.
    """

    observed: np.ndarray
    names: list
    nominal: list
    sigma: list
    nuisances: list
    variations: list
    off_counts: np.ndarray | None = None
    membership: np.ndarray | None = None
    ratio_sigma: float = 1.0

    @property
    def parameters(self) -> list[str]:
        """Profiled parameter names in vector order (the ``k_g`` last, as ``k_<g>``)."""
        out = [f"s_{n}" for n in self.names] + list(self.nuisances)
        if self.off_counts is not None:
            out += ["r_onoff"] + [f"k_{g}" for g in range(self.off_counts.size)]
        return out


@dataclass
class ProfileResult:
    """Result of :func:`profile_templates`.

    Attributes
    ----------
    chi2 : ndarray, shape (n_points,)
        Profiled chi2 (module docstring) at each point.
    values : ndarray, shape (n_points, n_par)
        Best-fit parameter vectors.
    parameters : list of str
        Parameter names in vector order (:attr:`TemplateArrays.parameters`).
    iterations : int
        Newton iterations run.
    converged : bool
        True if every point met the tolerance (none stalled with an exploding damping).
    """

    chi2: np.ndarray
    values: np.ndarray
    parameters: list
    iterations: int
    converged: bool


def _project(t: TemplateArrays, p: np.ndarray) -> np.ndarray:
    nc, ns = len(t.names), len(t.nuisances)
    p[:, :nc] = np.maximum(p[:, :nc], 0.0)
    p[:, nc:nc + ns] = np.clip(p[:, nc:nc + ns], -THETA_MAX, THETA_MAX)
    if t.off_counts is not None:
        p[:, nc + ns] = np.maximum(p[:, nc + ns], 1e-6)
        p[:, nc + ns + 1:] = np.maximum(p[:, nc + ns + 1:], 1e-9)
    return p


class _Subsets:
    """Kernels of subsets of the points, shared by the kernels of several terms (same points).

    A Newton iteration evaluates its still-active points; copying their per-point arrays each time
    costs about as much as evaluating a few more points, so a set of points that fills most (>= 85 %)
    of an already built subset is evaluated on that one (the extra rows padded and dropped).
    """

    FILL = 0.85

    def __init__(self, kernels: list):
        self.kernels = kernels
        n = kernels[0].n_points
        self.cache: list = [(np.arange(n), kernels)]

    def _find(self, idx: np.ndarray):
        best = None
        for pts, ks in self.cache:
            if pts.size < idx.size:
                continue
            pos = np.searchsorted(pts, idx)
            if np.any(pos >= pts.size) or not np.array_equal(pts[np.minimum(pos, pts.size - 1)], idx):
                continue
            if best is None or pts.size < best[0].size:
                best = (pts, ks, pos)
        return best

    def evaluate(self, idx: np.ndarray, x: np.ndarray, fn):
        """``fn(kernels, x)`` at the points ``idx`` (sorted) with parameter rows ``x``."""
        pts, ks, pos = self._find(idx)
        if pts.size > idx.size and idx.size < self.FILL * pts.size:
            ks = [k.take(pos) for k in ks]
            pts, pos = idx, np.arange(idx.size)
            self.cache = self.cache[:1] + [(idx, ks)] + self.cache[1:3]
        if pts.size == idx.size:
            return fn(ks, x)
        full = np.repeat(x[:1], pts.size, axis=0)
        full[pos] = x
        out = fn(ks, full)
        return tuple(o[pos] for o in out) if isinstance(out, tuple) else out[pos]


def default_start(t: TemplateArrays, n_points: int) -> np.ndarray:
    """Default starting vectors: scales 1, nuisances 0, r = 1 and k_g = the off counts (+0.5).

    Parameters
    ----------
    t : TemplateArrays
        The template model.
    n_points : int
        Number of points.

    Returns
    -------
    ndarray, shape (n_points, n_par)
        The same row for every point (order of ``t.parameters``).
    """
    row = [1.0] * len(t.names) + [0.0] * len(t.nuisances)
    if t.off_counts is not None:
        row += [1.0] + list(np.asarray(t.off_counts, float) + 0.5)
    return np.tile(np.array(row, dtype=float), (n_points, 1))


def presolve_scales(t: TemplateArrays, p: np.ndarray, n_points: int, iterations: int = 30) -> np.ndarray:
    """Starting vectors with the scale of every point-dependent component solved in one dimension.

    A physics point far from the warm start (e.g. a BSM point predicting 30 times the SM signal) pulls the
    signal scale ``s_c`` far from its prior; damped Newton steps in all parameters get there slowly. Here
    each component whose template changes from point to point gets its scale from the 1-d minimisation of
    the chi2 of the module docstring with every other parameter held at ``p``::

        chi2(s) = 2 sum_b [s h_b + m_b - n_b ln(s h_b + m_b)] + ((s - 1) / sigma)^2 + const,

    (``m_b``: the other components' counts) which is convex in ``s``. Safeguarded Newton steps (each step
    limited to a factor of 10 either way, ``s >= 0``), vectorised over the points, cost O(points x bins) per
    iteration, against O(points x parameters^2 x bins) for a full step. The result only seeds the full
    minimisation (whose minimum it does not change).

    Parameters
    ----------
    t : TemplateArrays
        The template model; per-point arrays have ``n_points`` rows.
    p : ndarray, shape (n_points, n_par)
        Starting vectors (order of ``t.parameters``); not modified.
    n_points : int
        Number of points.
    iterations : int, optional
        Newton steps at most (fewer once every point's step is below 1e-13 relative).

    Returns
    -------
    ndarray, shape (n_points, n_par)
        ``p`` with the per-point scales replaced.
    """
    return _presolve(TemplateKernel(t, n_points), p, iterations)


def _presolve(kernel: TemplateKernel, p: np.ndarray, iterations: int = 30, sigma: list | None = None) -> np.ndarray:
    """:func:`presolve_scales` with an already built kernel (``sigma``: the scale priors, default the kernel's)."""
    t, n_points = kernel.t, kernel.n_points
    p = np.array(p, dtype=float)
    per_point = [c for c, h in enumerate(t.nominal) if np.ndim(h) == 2 and np.shape(h)[0] == n_points]
    if not per_point:
        return p
    nc = len(t.names)
    for c in per_point:
        mu, h = kernel.counts_components(p)
        cols = np.flatnonzero(np.any(h[c] != 0.0, axis=0))   # other bins add nothing to g and H
        hc = h[c][:, cols]
        n = t.observed[None, cols]
        rest = np.maximum(mu[:, cols] - p[:, c:c + 1] * hc, 0.0)
        s = p[:, c].copy()
        sg = (t.sigma if sigma is None else sigma)[c]
        for _ in range(iterations):
            m = np.maximum(s[:, None] * hc + rest, 1e-300)
            g = 2.0 * np.sum(hc * (1.0 - n / m), axis=1)
            H = 2.0 * np.sum(n * hc**2 / m**2, axis=1)
            if sg is not None:
                g += 2.0 * (s - 1.0) / sg**2
                H += 2.0 / sg**2
            new = s - g / np.maximum(H, 1e-300)
            new = np.clip(np.where(np.isfinite(new), new, s), 0.1 * s, 10.0 * s + 1e-12)
            done = np.all(np.abs(new - s) <= 1e-13 * (1.0 + np.abs(s)))
            s = new
            if done:                                     # converged to rounding: more steps change nothing
                break
        p[:, c] = np.maximum(s, 0.0) if c < nc else p[:, c]
    return p


def profile_templates(t: TemplateArrays, n_points: int, start: np.ndarray | None = None, max_iter: int = 100,
                      tol: float = 1e-7, fixed: dict | None = None) -> ProfileResult:
    """Minimise chi2 over every nuisance at ``n_points`` points at once (module docstring).

    Parameters
    ----------
    t : TemplateArrays
        Templates; per-point arrays have ``n_points`` rows.
    n_points : int
    start : ndarray (n_par,) or (n_points, n_par), optional
        Starting values (warm start); default :func:`default_start`.
    max_iter : int
        Newton iterations at most.
    tol : float
        Convergence: every point's chi2 decrease and step below ``tol`` (relative to 1 + |value|).
    fixed : mapping name -> value, optional
        Parameters held at a value (e.g. ``{"s_cevns": 0.0}`` for the no-signal hypothesis).

    Returns
    -------
    ProfileResult
    """
    names = t.parameters
    npar = len(names)
    p = default_start(t, n_points) if start is None else np.array(np.broadcast_to(start, (n_points, npar)), float)
    free = np.ones(npar, dtype=bool)
    for k, v in dict(fixed or {}).items():
        if k not in names:
            raise ConfigError(f"cannot fix unknown template parameter {k!r}; known: {names}")
        p[:, names.index(k)] = v
        free[names.index(k)] = False
    kernel = TemplateKernel(t, n_points)
    if free[:len(t.names)].all():
        p = _presolve(kernel, p)
    p = _project(t, p)
    subsets = _Subsets([kernel])
    p, it, converged = newton(p, free, lambda idx, x: subsets.evaluate(idx, x, lambda k, y: k[0].grad_hess(y)),
                              lambda idx, x: subsets.evaluate(idx, x, lambda k, y: k[0].chi2(y)),
                              lambda idx, x: _project(t, x), max_iter, tol)
    return ProfileResult(chi2=kernel.chi2(p), values=p, parameters=names, iterations=it, converged=converged)


def chi2_at(t: TemplateArrays, p: np.ndarray) -> np.ndarray:
    """chi2 of the module docstring at given parameter vectors (no minimisation).

    Parameters
    ----------
    t : TemplateArrays
        The template model.
    p : array_like, shape (n_points, n_par) or (n_par,)
        Parameter vectors (order of ``t.parameters``).

    Returns
    -------
    ndarray, shape (n_points,)
    """
    p = np.atleast_2d(np.asarray(p, dtype=float))
    rows = [np.shape(a)[0] for a in [*t.nominal, *(x for v in t.variations for x in v[2:])] if np.ndim(a) == 2]
    if p.shape[0] == 1 and rows and max(rows) > 1:       # one vector at every point of per-point templates
        p = np.repeat(p, max(rows), axis=0)
    return TemplateKernel(t, p.shape[0]).chi2(p)


def variation_terms(nominal, up, down) -> tuple[np.ndarray, np.ndarray]:
    """``(b, a) = ((ln(h+/h0) - ln(h-/h0)) / 2, ln(h+/h0) + ln(h-/h0))`` of one variation (module docstring).

    Ratios are limited to [1e-3, 1e3]; bins where the nominal is empty do not vary.

    Parameters
    ----------
    nominal, up, down : array_like
        Nominal template h0 and its +1 sigma (h+) and -1 sigma (h-) variations, same shape [events per bin].

    Returns
    -------
    b, a : ndarray
        Linear and quadratic log-space coefficients, shape of ``nominal``.
    """
    h0, u, d = (np.asarray(x, dtype=float) for x in (nominal, up, down))
    h0, u, d = np.broadcast_arrays(h0, u, d)
    ok = h0 > 0
    logs = []
    for x in (u, d):
        r = np.divide(x, h0, out=np.ones(h0.shape), where=ok)     # 1 (log 0) where the nominal is empty
        np.clip(r, 1e-3, 1e3, out=r)
        logs.append(np.log(r, out=r))
    lu, ld = logs
    b = lu - ld
    b *= 0.5
    lu += ld
    return b, lu


def _templates(t: TemplateArrays, p: np.ndarray) -> list:
    th = p[:, len(t.names):len(t.names) + len(t.nuisances)]
    logs = [np.zeros((p.shape[0], t.observed.size)) for _ in t.nominal]
    for c, j, b, a in t.variations:
        x = th[:, j:j + 1]
        logs[c] += x * b + np.where(np.abs(x) <= 1.0, 0.5 * x * x, np.abs(x) - 0.5) * a
    return [h0 * np.exp(np.clip(lg, -50.0, 50.0)) for h0, lg in zip(t.nominal, logs)]


def component_events(t: TemplateArrays, p: np.ndarray) -> dict:
    """Expected events of each component, summed over bins: ``s_c sum_b h_cb(theta)`` (module docstring).

    Parameters
    ----------
    t : TemplateArrays
        The template model.
    p : array_like, shape (n_points, n_par) or (n_par,)
        Parameter vectors (order of ``t.parameters``).

    Returns
    -------
    dict of str to ndarray
        ``{name: (n_points,)}``, the on/off background ``r sum_b sum_g k_g M_bg`` as ``"steady_state"``.
    """
    p = np.atleast_2d(np.asarray(p, dtype=float))
    nc, ns = len(t.names), len(t.nuisances)
    out = {name: p[:, c] * h.sum(axis=1) for c, (name, h) in enumerate(zip(t.names, _templates(t, p)))}
    if t.off_counts is not None:
        out["steady_state"] = p[:, nc + ns] * (p[:, nc + ns + 1:] @ t.membership.T).sum(axis=1)
    return out


def expected_counts(t: TemplateArrays, p: np.ndarray) -> dict:
    """Expected counts per bin of each component at one point (module docstring).

    Parameters
    ----------
    t : TemplateArrays
        The template model, with one row per per-point array (or arrays common to all points).
    p : array_like, shape (n_par,)
        Parameter vector (order of ``t.parameters``); of a 2-d array only the first row is used.

    Returns
    -------
    dict of str to ndarray
        ``{name: (n_bins,)}`` = ``s_c h_c(theta)``, the on/off background ``r M k`` as ``"steady_state"``.
    """
    p = np.atleast_2d(np.asarray(p, dtype=float))[:1]
    nc, ns = len(t.names), len(t.nuisances)
    out = {name: p[0, c] * h[0] for c, (name, h) in enumerate(zip(t.names, _templates(t, p)))}
    if t.off_counts is not None:
        out["steady_state"] = p[0, nc + ns] * (t.membership @ p[0, nc + ns + 1:])
    return out
