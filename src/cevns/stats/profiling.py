"""Profiling cores of the binned chi^2: closed-form Gaussian and vectorised Newton (Poisson, on/off).

The model is ``mu[p, b] = base[p, b] + sum_k theta_k U_k[p, b]`` (linear normalisation nuisances,
see :mod:`cevns.stats.binned`); the Gaussian profile is linear least squares (normal equations), the
Poisson one (Baker & Cousins, Nucl. Instrum. Meth. 221 (1984) 437) is convex and solved by damped
Newton steps for all points at once; on/off bins (:mod:`cevns.stats.onoff`) enter through their
profiled per-bin value and derivatives.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.special import xlogy

from .onoff import onoff_chi2, onoff_derivatives

__all__ = ["STATISTICS", "gaussian_chi2", "poisson_chi2", "profile_linear_gaussian", "profile_linear_poisson"]

STATISTICS = ("poisson", "gaussian")
_NEWTON_TOL = 1e-8


# ----------------------------------------------------------------------------------------------
# validation helpers
# ----------------------------------------------------------------------------------------------
def _counts(value, name: str, *, min_ndim: int = 1) -> np.ndarray:
    arr = np.asarray(value, dtype=float)
    if arr.ndim < min_ndim:
        raise ValueError(f"{name} must have at least {min_ndim} dimension(s), got shape {arr.shape}")
    if np.any(np.isnan(arr)):
        raise ValueError(f"{name} contains NaN")
    if np.any(np.isinf(arr)):
        raise ValueError(f"{name} must be finite")
    if np.any(arr < 0):
        raise ValueError(f"{name} must be non-negative (counts), got minimum {arr.min()}")
    return arr


def _sigmas(sigmas, n_comp: int) -> tuple[np.ndarray, np.ndarray]:
    """Prior precisions 1/sigma^2 (0 for free) and a mask of fixed (sigma = 0) nuisances."""
    if sigmas is None:
        sig = np.full(n_comp, np.inf)
    else:
        sig = np.array([np.inf if s is None else s for s in np.atleast_1d(np.asarray(sigmas, dtype=object))],
                       dtype=float)
    if sig.shape != (n_comp,):
        raise ValueError(f"sigmas must have one entry per component ({n_comp}), got {sig.shape[0]}")
    if np.any(np.isnan(sig)) or np.any(sig < 0):
        raise ValueError(f"nuisance sigmas must be >= 0 (0 = fixed, None/inf = free), got {sig}")
    fixed = sig == 0
    with np.errstate(divide="ignore"):
        precision = np.where(fixed, 0.0, 1.0 / sig**2)
    return precision, fixed


def _variance(variance, observed: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """Resolve a Gaussian variance spec into an array broadcastable to ``expected`` (P, B)."""
    if variance is None or (isinstance(variance, str) and variance == "expected"):
        var = np.broadcast_to(expected, np.broadcast_shapes(expected.shape, observed.shape))
    elif isinstance(variance, str) and variance == "observed":
        var = np.broadcast_to(observed, np.broadcast_shapes(expected.shape, observed.shape))
    elif isinstance(variance, str):
        raise ValueError(f"unknown variance '{variance}': use an array, 'expected' or 'observed'")
    else:
        var = np.asarray(variance, dtype=float)
        if np.any(np.isnan(var)) or np.any(np.isinf(var)):
            raise ValueError("variance must be finite")
        var = np.broadcast_to(var, np.broadcast_shapes(expected.shape, var.shape, observed.shape))
    if np.any(var < 0):
        raise ValueError("variance must be non-negative")
    # A bin with zero variance is allowed only if it carries no information (nothing observed and
    # nothing expected); it is then dropped from the sum.
    zero = var == 0
    if np.any(zero & ((np.broadcast_to(observed, var.shape) > 0) | (np.broadcast_to(expected, var.shape) > 0))):
        raise ValueError("gaussian variance must be positive in every bin with observed or expected counts")
    with np.errstate(divide="ignore"):
        return np.where(zero, 0.0, 1.0 / np.where(zero, 1.0, var))


# ----------------------------------------------------------------------------------------------
# plain statistics
# ----------------------------------------------------------------------------------------------
def gaussian_chi2(observed, expected, variance):
    """Gaussian chi^2 ``sum_b (n_b - mu_b)^2 / V_b`` over the last axis.

    Parameters
    ----------
    observed : array_like
        Observed counts, shape (..., n_bins).
    expected : array_like
        Expected counts, broadcastable with ``observed`` (e.g. (n_points, n_bins)).
    variance : array_like
        Variance per bin (> 0), broadcastable.

    Returns
    -------
    numpy.ndarray
        chi^2 summed over bins, shape = broadcast shape without the last axis.
    """
    obs = np.asarray(observed, dtype=float)
    exp = np.asarray(expected, dtype=float)
    var = np.asarray(variance, dtype=float)
    for arr, name in ((obs, "observed"), (exp, "expected"), (var, "variance")):
        if np.any(~np.isfinite(arr)):
            raise ValueError(f"{name} must be finite (no NaN/inf)")
    if np.any(var <= 0):
        raise ValueError("variance must be positive in every bin")
    return np.sum((obs - exp) ** 2 / var, axis=-1)


def _poisson_terms(n: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """Baker-Cousins per-bin terms 2 [mu - n + n ln(n/mu)], inf where mu <= 0 < n."""
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = 2.0 * (mu - n + xlogy(n, n) - xlogy(n, np.where(mu > 0, mu, 1.0)))
    return np.where((mu <= 0) & (n > 0), np.inf, terms)


def poisson_chi2(observed, expected):
    """Poisson likelihood-ratio chi^2 of Baker & Cousins over the last axis.

    ``chi2 = 2 sum_b [mu_b - n_b + n_b ln(n_b / mu_b)]`` (Baker & Cousins, Nucl. Instrum. Meth. 221
    (1984) 437), with the ``n_b = 0`` term equal to ``2 mu_b``. It is ``-2 ln(L(mu)/L(n))`` for
    Poisson counts and tends to the Gaussian chi^2 for large counts.

    Parameters
    ----------
    observed : array_like
        Observed counts (non-negative; need not be integers, e.g. Asimov data), shape (..., n_bins).
    expected : array_like
        Expected counts (non-negative), broadcastable with ``observed``.

    Returns
    -------
    numpy.ndarray
        chi^2 summed over the last axis; ``inf`` if a bin with ``n > 0`` has ``mu = 0``.
    """
    n = _counts(observed, "observed")
    mu = _counts(expected, "expected")
    return np.sum(_poisson_terms(n, mu), axis=-1)


# ----------------------------------------------------------------------------------------------
# profiling cores: mu = base + sum_k theta_k U_k
# ----------------------------------------------------------------------------------------------
def _solve_stacked(mat: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Solve mat[p] x[p] = rhs[p] for all p (pseudo-inverse fallback for degenerate systems)."""
    try:
        return np.linalg.solve(mat, rhs[..., None])[..., 0]
    except np.linalg.LinAlgError:
        return np.einsum("pkl,pl->pk", np.linalg.pinv(mat), rhs)


def _apply_fixed(mat: np.ndarray, vec: np.ndarray, fixed: np.ndarray) -> None:
    """Pin fixed nuisances at 0: identity rows/columns in ``mat`` and 0 in ``vec`` (in place)."""
    if np.any(fixed):
        mat[:, fixed, :] = 0.0
        mat[:, :, fixed] = 0.0
        idx = np.flatnonzero(fixed)
        mat[:, idx, idx] = 1.0
        vec[:, fixed] = 0.0


def _profile_gaussian_core(observed, base, shifts, inv_var, precision, fixed):
    """Closed-form minimum of sum_b w_b (n_b - mu_b)^2 + sum_k prec_k theta_k^2.

    Normal equations: (U W U^T + P) theta = U W (n - base).
    """
    n_points, n_nuis = shifts.shape[0], shifts.shape[1]
    resid = np.broadcast_to(observed - base, (n_points, base.shape[-1]))
    inv_var = np.broadcast_to(inv_var, resid.shape)
    if n_nuis == 0:
        return np.sum(resid**2 * inv_var, axis=-1), np.zeros((n_points, 0))
    weighted = shifts * inv_var[:, None, :]
    mat = np.einsum("pkb,plb->pkl", weighted, shifts)
    mat[:, np.arange(n_nuis), np.arange(n_nuis)] += precision
    rhs = np.einsum("pkb,pb->pk", weighted, resid)
    _apply_fixed(mat, rhs, fixed)
    theta = _solve_stacked(mat, rhs)
    r = resid - np.einsum("pk,pkb->pb", theta, shifts)
    chi2 = np.sum(r**2 * inv_var, axis=-1) + np.sum(precision * theta**2, axis=-1)
    return chi2, theta


@dataclass(frozen=True)
class _OnOff:
    """On/off bins of a stacked fit: mask (n_bins,), off counts and off/on exposure ratio per bin."""

    mask: np.ndarray
    off: np.ndarray
    tau: np.ndarray


def _mixed_objective(n, mu, poisson_bins, inv_var, onoff: _OnOff | None = None):
    """Per-bin contributions: Baker-Cousins in Poisson bins, profiled on/off in on/off bins, (n - mu)^2 w
    elsewhere."""
    gauss = (n - mu) ** 2 * inv_var
    if not np.any(poisson_bins):
        return np.sum(gauss, axis=-1)
    pois = _poisson_terms(n, np.where(poisson_bins, mu, 1.0))
    if onoff is not None:
        m = onoff.mask
        pois = pois.copy()
        pois[..., m] = onoff_chi2(mu[..., m], n[..., m], onoff.off[m], onoff.tau[m])
    return np.sum(np.where(poisson_bins, pois, gauss), axis=-1)


def _profile_newton_core(observed, base, shifts, poisson_bins, inv_var, precision, fixed,
                         n_iter=100, tol=_NEWTON_TOL, onoff: _OnOff | None = None):
    """Minimise the mixed Poisson/Gaussian chi^2 + priors over theta by damped Newton steps.

    The objective is convex in theta (mu is linear in theta). Each step solves H d = -g for all
    active points at once, is capped so that mu stays > 0 in Poisson bins, and is halved until the
    Armijo condition holds. A point is converged once a step with Newton decrement g.H^-1.g (twice
    the predicted decrease of chi^2) below ``tol`` has been taken, or when an accepted step lowers chi^2 by less
    than ``tol / 100`` (this ends the approach to a boundary mu = 0 in an empty Poisson bin).

    Returns chi2 (P,), theta (P, K), converged (P,).
    """
    n_points, n_nuis, n_bins = shifts.shape
    n = np.broadcast_to(observed, (n_points, n_bins))
    base = np.broadcast_to(base, (n_points, n_bins))
    inv_var = np.broadcast_to(inv_var, (n_points, n_bins))
    theta = np.zeros((n_points, n_nuis))
    chi2_0 = _mixed_objective(n, base, poisson_bins, inv_var, onoff)
    chi2 = chi2_0.copy()
    converged = np.zeros(n_points, dtype=bool)
    if n_nuis == 0:
        return chi2, theta, np.ones(n_points, dtype=bool)
    # A Poisson bin with n > 0 and base = 0 cannot be fitted by any normalisation: chi2 = inf.
    impossible = ~np.isfinite(chi2_0)
    converged[impossible] = True
    free = ~fixed
    diag = np.arange(n_nuis)

    def objective(idx, th):
        mu = base[idx] + np.einsum("pk,pkb->pb", th, shifts[idx])
        return (_mixed_objective(n[idx], mu, poisson_bins, inv_var[idx], onoff)
                + np.sum(precision * th**2, axis=-1)), mu

    active = np.flatnonzero(~converged)
    for _ in range(n_iter):
        if active.size == 0:
            break
        th = theta[active]
        u = shifts[active]
        nn = n[active]
        mu = base[active] + np.einsum("pk,pkb->pb", th, u)
        safe_mu = np.where(mu > 0, mu, 1.0)
        ratio = np.where(mu > 0, nn / safe_mu, 0.0)
        d1 = np.where(poisson_bins, 2.0 * (1.0 - ratio), -2.0 * inv_var[active] * (nn - mu))
        d2 = np.where(poisson_bins, 2.0 * ratio / safe_mu, 2.0 * inv_var[active])
        if onoff is not None:
            m = onoff.mask
            d1[:, m], d2[:, m] = onoff_derivatives(mu[:, m], nn[:, m], onoff.off[m], onoff.tau[m])
        grad = np.einsum("pkb,pb->pk", u, d1) + 2.0 * precision * th
        hess = np.einsum("pkb,plb,pb->pkl", u, u, d2)
        hess[:, diag, diag] += 2.0 * precision
        _apply_fixed(hess, grad, fixed)
        # tiny ridge keeps H invertible where a free nuisance only touches empty Poisson bins
        hd = hess[:, diag, diag]
        hess[:, diag, diag] += np.where(hd > 0, 1e-12 * hd, 1.0)
        step = _solve_stacked(hess, -grad)
        step[:, fixed] = 0.0
        decrement = -np.einsum("pk,pk->p", grad, step)
        # below tol the last (full) step is still taken, which makes theta accurate to ~tol
        # instead of sqrt(tol); below 1e-8 tol nothing is left to gain
        done = decrement < 1e-8 * tol
        converged[active[done]] = True
        keep = ~done
        active, th, u, mu, grad, step, decrement = (
            active[keep], th[keep], u[keep], mu[keep], grad[keep], step[keep], decrement[keep])
        if active.size == 0:
            break
        # largest step keeping mu > 0 in Poisson bins
        dmu = np.einsum("pk,pkb->pb", step, u)
        shrinking = poisson_bins & (dmu < 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            t_bin = np.where(shrinking, -mu / np.where(shrinking, dmu, -1.0), np.inf)
        t = np.minimum(1.0, 0.99 * np.min(t_bin, axis=-1))
        f_old = chi2[active]
        accepted = np.zeros(active.size, dtype=bool)
        f_new = f_old.copy()
        th_new = th.copy()
        for _ls in range(60):
            todo = np.flatnonzero(~accepted)
            if todo.size == 0:
                break
            trial = th[todo] + t[todo, None] * step[todo]
            f_trial, _ = objective(active[todo], trial)
            # Armijo condition, with slack for rounding in chi2
            ok = f_trial <= (f_old[todo] - 1e-4 * t[todo] * decrement[todo]
                             + 1e-13 * np.abs(f_old[todo]))
            accepted[todo[ok]] = True
            f_new[todo[ok]] = f_trial[ok]
            th_new[todo[ok]] = trial[ok]
            t[todo[~ok]] *= 0.5
        theta[active] = th_new
        chi2[active] = f_new
        # converged: the step was taken with a decrement below tol, or it changed chi2 by
        # < tol/100 (e.g. creeping towards mu = 0 in an empty bin)
        tiny = accepted & ((f_old - f_new < 1e-2 * tol) | (decrement < tol))
        converged[active[tiny]] = True
        # a failed line search means the step is below rounding: stop that point
        stalled = ~accepted
        converged[active[stalled]] = decrement[stalled] < np.maximum(1e3 * tol, 1e-12 * np.abs(f_old[stalled]))
        active = active[~(stalled | tiny)]
    return chi2, theta, converged


def _templates(templates) -> np.ndarray:
    tpl = _counts(templates, "templates", min_ndim=3)
    if tpl.ndim != 3:
        raise ValueError(f"templates must have shape (n_points, n_comp, n_bins), got {tpl.shape}")
    return tpl


def profile_linear_gaussian(observed, templates, sigmas, variance):
    """Gaussian chi^2 profiled over linear component normalisations, in closed form.

    Minimises over theta, for every parameter point p at once,

        chi2(theta) = sum_b (n_b - sum_c (1 + theta_c) T_c[p, b])^2 / V_b + sum_c (theta_c / sigma_c)^2,

    which is linear least squares: ``(T W T^T + diag(1/sigma^2)) theta = T W (n - sum_c T_c)`` with
    ``W = diag(1/V)``, solved with :func:`numpy.linalg.solve` on the stacked (n_comp x n_comp) systems.

    Parameters
    ----------
    observed : array_like
        Observed counts, shape (n_bins,) or (n_points, n_bins).
    templates : array_like
        Expected counts per component, shape (n_points, n_comp, n_bins), non-negative.
    sigmas : sequence of float or None
        Prior width of each component's fractional normalisation: ``None``/``inf`` = free
        (no prior), ``0`` = fixed at nominal.
    variance : array_like or {"expected", "observed"}
        Bin variance (fixed, not refitted), broadcastable to (n_points, n_bins); "expected" uses the
        nominal prediction ``sum_c T_c`` of each point (Pearson), "observed" the data (Neyman).

    Returns
    -------
    chi2_min : numpy.ndarray
        Shape (n_points,).
    theta_hat : numpy.ndarray
        Minimising normalisation shifts, shape (n_points, n_comp).
    """
    tpl = _templates(templates)
    obs = _counts(observed, "observed")
    if obs.shape[-1] != tpl.shape[-1]:
        raise ValueError(f"observed has {obs.shape[-1]} bins but templates have {tpl.shape[-1]}")
    precision, fixed = _sigmas(sigmas, tpl.shape[1])
    base = tpl.sum(axis=1)
    inv_var = _variance(variance, obs, base)
    return _profile_gaussian_core(obs, base, tpl, inv_var, precision, fixed)


def profile_linear_poisson(observed, templates, sigmas, n_iter=100):
    """Poisson (Baker-Cousins) chi^2 profiled over linear component normalisations.

    Minimises over theta, for every parameter point at once,

        chi2(theta) = 2 sum_b [mu_b - n_b + n_b ln(n_b/mu_b)] + sum_c (theta_c / sigma_c)^2,
        mu_b = sum_c (1 + theta_c) T_c[p, b],

    (Baker & Cousins, Nucl. Instrum. Meth. 221 (1984) 437) by vectorised Newton iterations with a
    step cap keeping ``mu > 0`` and Armijo backtracking; the objective is convex in theta. Iteration
    stops when the Newton decrement (predicted chi^2 decrease x 2) is below 1e-8.

    Parameters
    ----------
    observed : array_like
        Observed counts (n_bins,) or (n_points, n_bins); need not be integers.
    templates : array_like
        Expected counts per component, shape (n_points, n_comp, n_bins), non-negative.
    sigmas : sequence of float or None
        Prior widths (``None``/``inf`` free, ``0`` fixed).
    n_iter : int, optional
        Maximum number of Newton iterations (a RuntimeWarning is issued if some point has not
        converged).

    Returns
    -------
    chi2_min : numpy.ndarray
        Shape (n_points,); ``inf`` where a bin with counts has zero expectation in every component.
    theta_hat : numpy.ndarray
        Shape (n_points, n_comp).
    """
    tpl = _templates(templates)
    obs = _counts(observed, "observed")
    if obs.shape[-1] != tpl.shape[-1]:
        raise ValueError(f"observed has {obs.shape[-1]} bins but templates have {tpl.shape[-1]}")
    if int(n_iter) < 1:
        raise ValueError(f"n_iter must be >= 1, got {n_iter}")
    precision, fixed = _sigmas(sigmas, tpl.shape[1])
    n_bins = tpl.shape[-1]
    chi2, theta, conv = _profile_newton_core(
        obs, tpl.sum(axis=1), tpl, np.ones(n_bins, dtype=bool), np.zeros(n_bins), precision, fixed,
        n_iter=int(n_iter))
    if not np.all(conv):
        warnings.warn(f"Poisson profile did not converge at {np.sum(~conv)} point(s)", RuntimeWarning,
                      stacklevel=2)
    return chi2, theta
