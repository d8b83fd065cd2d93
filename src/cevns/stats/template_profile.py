"""Vectorised profiling of a binned template likelihood over many points at once (no minimiser per point).

The model and statistic are those of :class:`cevns.stats.binned_templates.TemplateLikelihood` with the
piecewise-linear histosys interpolation (Cranmer et al., CERN-OPEN-2012-016, code 0), except that the
templates may differ from point to point (a physics point changes the signal template)::

    mu_b = sum_c s_c [h0_cb + sum_s theta_s (theta_s >= 0 ? U_csb : D_csb)] + r sum_g k_g M_bg
    chi2 = 2 sum_b [mu_b - n_b + n_b ln(n_b / mu_b)] + 2 sum_g [k_g - m_g + m_g ln(m_g / k_g)]
           + sum_c ((s_c - 1) / sigma_c)^2 + sum_s theta_s^2 + ((r - 1) / sigma_r)^2

with ``U = h+ - h0`` and ``D = h0 - h-``. Every nuisance (scales ``s_c``, shape nuisances ``theta_s``, the
on/off ratio ``r`` and the off-sample means ``k_g``) is profiled by damped Newton steps
(Levenberg-Marquardt on the exact Hessian), vectorised over the points: one batched linear solve per
iteration for all points, each point accepting its step only if chi2 decreases. Starting values (a warm
start, e.g. the best fit of a neighbouring point) may be given.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import xlogy

from ..errors import ConfigError

__all__ = ["TemplateArrays", "ProfileResult", "profile_templates", "default_start", "chi2_at", "component_events",
           "expected_counts"]


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
    variations : list of (component index, nuisance index, up, down)
        +-1 sigma templates (each (n_points, n_bins) or (n_bins,)) of one component under one nuisance.
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
    """Profiled chi2 (n_points,), best-fit parameter vectors (n_points, n_par), their names, iterations."""

    chi2: np.ndarray
    values: np.ndarray
    parameters: list
    iterations: int
    converged: bool


def _model(t: TemplateArrays, p: np.ndarray):
    """Expected counts, Jacobian (P, n_par, B) and the mixed second derivatives needed for the Hessian."""
    nc, ns = len(t.names), len(t.nuisances)
    npt = p.shape[0]
    nb = t.observed.size
    s = p[:, :nc]
    th = p[:, nc:nc + ns]
    pos = th >= 0
    npar = p.shape[1]
    J = np.zeros((npt, npar, nb))
    h = [np.broadcast_to(h0, (npt, nb)).copy() for h0 in t.nominal]
    slopes = []  # (c, s, slope (P, B))
    for c, j, up, dn in t.variations:
        slope = np.where(pos[:, j:j + 1], up, dn)
        slopes.append((c, j, slope))
        h[c] += th[:, j:j + 1] * slope
    h = [np.clip(x, 0.0, None) for x in h]
    mu = np.zeros((npt, nb))
    for c in range(nc):
        mu += s[:, c:c + 1] * h[c]
        J[:, c] = h[c]
    for c, j, slope in slopes:
        J[:, nc + j] += s[:, c:c + 1] * slope
    if t.off_counts is not None:
        r = p[:, nc + ns]
        k = p[:, nc + ns + 1:]
        kb = k @ t.membership.T
        mu += r[:, None] * kb
        J[:, nc + ns] = kb
        J[:, nc + ns + 1:] = r[:, None, None] * t.membership.T[None]
    return mu, J, slopes


def _chi2(t: TemplateArrays, p: np.ndarray, mu: np.ndarray) -> np.ndarray:
    nc, ns = len(t.names), len(t.nuisances)
    n = t.observed[None, :]
    m = np.maximum(mu, 1e-300)
    out = 2.0 * np.sum(m - n + xlogy(n, n / m), axis=1)
    for c, sg in enumerate(t.sigma):
        if sg is not None:
            out += ((p[:, c] - 1.0) / sg) ** 2
    out += np.sum(p[:, nc:nc + ns] ** 2, axis=1)
    if t.off_counts is not None:
        k = np.maximum(p[:, nc + ns + 1:], 1e-300)
        mo = t.off_counts[None, :]
        out += 2.0 * np.sum(k - mo + xlogy(mo, mo / k), axis=1)
        out += ((p[:, nc + ns] - 1.0) / t.ratio_sigma) ** 2
    return out


def _grad_hess(t: TemplateArrays, p: np.ndarray):
    nc, ns = len(t.names), len(t.nuisances)
    mu, J, slopes = _model(t, p)
    mu = np.maximum(mu, 1e-300)
    n = t.observed[None, :]
    a = 1.0 - n / mu                              # d(dev/2)/dmu
    w = n / mu**2                                 # d2(dev/2)/dmu2
    g = 2.0 * np.einsum("pb,pjb->pj", a, J)
    H = 2.0 * np.einsum("pib,pjb->pij", J * w[:, None, :], J)
    for c, j, slope in slopes:                    # d2 mu / ds_c dtheta_j
        v = 2.0 * np.sum(a * slope, axis=1)
        H[:, c, nc + j] += v
        H[:, nc + j, c] += v
    for c, sg in enumerate(t.sigma):
        if sg is not None:
            g[:, c] += 2.0 * (p[:, c] - 1.0) / sg**2
            H[:, c, c] += 2.0 / sg**2
    idx = np.arange(nc, nc + ns)
    g[:, idx] += 2.0 * p[:, idx]
    H[:, idx, idx] += 2.0
    if t.off_counts is not None:
        ir = nc + ns
        k = np.maximum(p[:, ir + 1:], 1e-300)
        mo = t.off_counts[None, :]
        g[:, ir + 1:] += 2.0 * (1.0 - mo / k)
        kk = np.arange(ir + 1, p.shape[1])
        H[:, kk, kk] += 2.0 * mo / k**2
        v = 2.0 * (a @ t.membership)              # d2 mu / dr dk_g = M_bg
        H[:, ir, ir + 1:] += v
        H[:, ir + 1:, ir] += v
        g[:, ir] += 2.0 * (p[:, ir] - 1.0) / t.ratio_sigma**2
        H[:, ir, ir] += 2.0 / t.ratio_sigma**2
    return _chi2(t, p, mu), g, H


def _project(t: TemplateArrays, p: np.ndarray) -> np.ndarray:
    nc, ns = len(t.names), len(t.nuisances)
    p[:, :nc] = np.maximum(p[:, :nc], 0.0)
    if t.off_counts is not None:
        p[:, nc + ns] = np.maximum(p[:, nc + ns], 1e-6)
        p[:, nc + ns + 1:] = np.maximum(p[:, nc + ns + 1:], 1e-9)
    return p


def default_start(t: TemplateArrays, n_points: int) -> np.ndarray:
    """Scales 1, nuisances 0, r = 1 and k_g = the off counts (+0.5)."""
    row = [1.0] * len(t.names) + [0.0] * len(t.nuisances)
    if t.off_counts is not None:
        row += [1.0] + list(np.asarray(t.off_counts, float) + 0.5)
    return np.tile(np.array(row, dtype=float), (n_points, 1))


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
    p = _project(t, p)
    lam = np.full(n_points, 1e-3)
    chi, g, H = _grad_hess(t, p)
    eye = np.eye(npar)
    converged = False
    it = 0
    for it in range(1, max_iter + 1):
        g = np.where(free, g, 0.0)
        H = np.where(free[:, None] & free[None, :], H, eye)
        diag = np.abs(np.diagonal(H, axis1=1, axis2=2)) + 1e-12
        A = H + lam[:, None, None] * (diag[:, :, None] * eye)
        try:
            step = -np.linalg.solve(A, g[:, :, None])[:, :, 0]
        except np.linalg.LinAlgError:
            step = -g / diag
        step = np.where(np.isfinite(step), step, 0.0)
        trial = _project(t, p + step)
        mu, _, _ = _model(t, trial)
        chi_new = _chi2(t, trial, mu)
        ok = chi_new <= chi + 1e-12
        dchi = np.where(ok, chi - chi_new, 0.0)
        small = np.max(np.abs(trial - p) / (1.0 + np.abs(p)), axis=1)
        p = np.where(ok[:, None], trial, p)
        lam = np.where(ok, np.maximum(lam * 0.2, 1e-9), lam * 10.0)
        done = ok & (dchi < tol) & (small < tol ** 0.5) | (lam > 1e12)
        if np.all(done):
            converged = bool(np.all(lam <= 1e12))
            break
        chi_new_all, g, H = _grad_hess(t, p)
        chi = chi_new_all
    chi = _chi2(t, p, _model(t, p)[0])
    return ProfileResult(chi2=chi, values=p, parameters=names, iterations=it, converged=converged)


def chi2_at(t: TemplateArrays, p: np.ndarray) -> np.ndarray:
    """chi2 of the module docstring at parameter vectors ``p`` (n_points, n_par) (order of ``t.parameters``)."""
    p = np.atleast_2d(np.asarray(p, dtype=float))
    return _chi2(t, p, _model(t, p)[0])


def component_events(t: TemplateArrays, p: np.ndarray) -> dict:
    """Expected events of each component at ``p`` (n_points, n_par): ``{name: (n_points,)}``, the on/off
    background as ``"steady_state"``."""
    p = np.atleast_2d(np.asarray(p, dtype=float))
    nc, ns = len(t.names), len(t.nuisances)
    th = p[:, nc:nc + ns]
    pos = th >= 0
    h = [np.broadcast_to(h0, (p.shape[0], t.observed.size)).copy() for h0 in t.nominal]
    for c, j, up, dn in t.variations:
        h[c] += th[:, j:j + 1] * np.where(pos[:, j:j + 1], up, dn)
    out = {name: p[:, c] * np.clip(h[c], 0.0, None).sum(axis=1) for c, name in enumerate(t.names)}
    if t.off_counts is not None:
        out["steady_state"] = p[:, nc + ns] * (p[:, nc + ns + 1:] @ t.membership.T).sum(axis=1)
    return out


def expected_counts(t: TemplateArrays, p: np.ndarray) -> dict:
    """Expected counts per bin of each component at one parameter vector ``p`` (n_par,): ``{name: (n_bins,)}``."""
    p = np.atleast_2d(np.asarray(p, dtype=float))[:1]
    nc, ns = len(t.names), len(t.nuisances)
    th = p[:, nc:nc + ns]
    pos = th >= 0
    h = [np.broadcast_to(h0, (1, t.observed.size)).copy() for h0 in t.nominal]
    for c, j, up, dn in t.variations:
        h[c] += th[:, j:j + 1] * np.where(pos[:, j:j + 1], up[:1] if np.ndim(up) == 2 else up,
                                          dn[:1] if np.ndim(dn) == 2 else dn)
    out = {name: p[0, c] * np.clip(h[c][0], 0.0, None) for c, name in enumerate(t.names)}
    if t.off_counts is not None:
        out["steady_state"] = p[0, nc + ns] * (t.membership @ p[0, nc + ns + 1:])
    return out
