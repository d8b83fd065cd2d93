"""Binned spectral chi^2 with linear normalisation nuisances, vectorised over parameter points.

Model (for one dataset, parameter point ``p`` and bin ``b``)::

    mu[p, b] = sum_c T_c[p, b] + sum_k theta_k U_k[p, b],   U_k = sum_{c in applies_to(k)} T_c,

i.e. each nuisance ``theta_k`` is a fractional normalisation shift of the components it acts on
(with one nuisance per component this is ``sum_c (1 + theta_c) T_c``; several nuisances acting on one
component add linearly, ``(1 + theta_1 + theta_2) T``). Each nuisance carries a Gaussian prior
``(theta_k / sigma_k)^2``; ``sigma = None`` or ``inf`` leaves it free, ``sigma = 0`` fixes it at 0.

Statistics (both "chi^2" = -2 ln L up to a constant, errordef 1):

* Gaussian: ``sum_b (n_b - mu_b)^2 / V_b`` with a variance ``V`` that does not depend on theta, so the
  profile over theta is linear least squares and is solved in closed form (normal equations).
* Poisson: Baker & Cousins, Nucl. Instrum. Meth. 221 (1984) 437,
  ``2 sum_b [mu_b - n_b + n_b ln(n_b / mu_b)]``; profiled by damped Newton iterations.

Nuisances with the same name in several :class:`BinnedDataset` objects are one shared (fully
correlated) parameter in :func:`combined_chi2`, e.g. a reactor-flux normalisation common to CONUS and
CONNIE (Canas et al., arXiv:1911.09831).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
from scipy.special import xlogy

from .onoff import onoff_chi2, onoff_derivatives

__all__ = [
    "Nuisance",
    "BinnedDataset",
    "CombinedFit",
    "gaussian_chi2",
    "poisson_chi2",
    "profile_linear_gaussian",
    "profile_linear_poisson",
    "combined_chi2",
    "asimov",
    "scaled_data",
]

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


# ----------------------------------------------------------------------------------------------
# datasets
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Nuisance:
    """A fractional normalisation nuisance with a Gaussian prior.

    Parameters
    ----------
    name : str
        Identifier; equal names in different datasets of :func:`combined_chi2` are one shared
        (fully correlated) parameter.
    sigma : float or None
        Prior width (fraction, e.g. 0.04 for 4 %); ``None``/``inf`` = free, ``0`` = fixed.
    applies_to : sequence of str
        Components scaled by ``(1 + theta)``: ``"signal"`` and/or background names. In the
        ``nuisances`` argument of :func:`combined_chi2` entries are ``"dataset/component"``.
    """

    name: str
    sigma: float | None
    applies_to: tuple[str, ...] = ("signal",)

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise ValueError("nuisance name must be a non-empty string")
        applies = (self.applies_to,) if isinstance(self.applies_to, str) else tuple(self.applies_to)
        if not applies:
            raise ValueError(f"nuisance '{self.name}' applies to no component")
        object.__setattr__(self, "applies_to", applies)
        sigma = np.inf if self.sigma is None else float(self.sigma)
        if np.isnan(sigma) or sigma < 0:
            raise ValueError(f"nuisance '{self.name}': sigma must be >= 0 or None, got {self.sigma}")
        object.__setattr__(self, "sigma", sigma)


@dataclass
class BinnedDataset:
    """Observed binned counts, backgrounds and nuisances of one experiment.

    Parameters
    ----------
    name : str
        Dataset name (key of the ``signals`` dict of :func:`combined_chi2`).
    observed : array_like
        Observed counts, shape (n_bins,).
    backgrounds : dict of str -> array_like
        Background expectations, shape (n_bins,) or (n_points, n_bins); "signal" is reserved.
    statistic : {"poisson", "gaussian"}
        Baker-Cousins Poisson chi^2 or Gaussian chi^2.
    variance : array_like or {"expected", "observed"} or None
        Gaussian variance per bin (fixed while profiling). ``None``/"expected": the nominal
        expectation (signal + backgrounds) of each point; "observed": the data.
    nuisances : list of Nuisance
        Normalisation nuisances acting on "signal" and/or named backgrounds.
    off_counts : array_like, optional
        Poisson statistic only: counts of a signal-free off window (n_bins,) measuring a further
        background of the on window (``observed``) bin by bin; that background is profiled per bin
        in closed form (:mod:`cevns.stats.onoff`) and is not one of ``backgrounds``.
    off_ratio : float, optional
        Off/on exposure ratio ``tau`` of ``off_counts`` (default 1: equal windows).
    """

    name: str
    observed: np.ndarray
    backgrounds: dict[str, np.ndarray] = field(default_factory=dict)
    statistic: str = "poisson"
    variance: np.ndarray | str | None = None
    nuisances: list[Nuisance] = field(default_factory=list)
    off_counts: np.ndarray | None = None
    off_ratio: float = 1.0

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name or "/" in self.name:
            raise ValueError(f"dataset name must be a non-empty string without '/', got {self.name!r}")
        self.observed = _counts(self.observed, f"{self.name}: observed")
        if self.observed.ndim != 1:
            raise ValueError(f"{self.name}: observed must have shape (n_bins,), got {self.observed.shape}")
        if self.statistic not in STATISTICS:
            raise ValueError(f"{self.name}: unknown statistic '{self.statistic}', use one of {STATISTICS}")
        bkgs = {}
        for key, arr in dict(self.backgrounds).items():
            if key == "signal" or "/" in key:
                raise ValueError(f"{self.name}: invalid background name '{key}'")
            arr = _counts(arr, f"{self.name}: background '{key}'")
            if arr.shape[-1] != self.n_bins or arr.ndim > 2:
                raise ValueError(f"{self.name}: background '{key}' has shape {arr.shape}, expected "
                                 f"({self.n_bins},) or (n_points, {self.n_bins})")
            bkgs[key] = arr
        self.backgrounds = bkgs
        if isinstance(self.variance, str):
            if self.variance not in ("expected", "observed"):
                raise ValueError(f"{self.name}: unknown variance '{self.variance}'")
        elif self.variance is not None:
            var = np.asarray(self.variance, dtype=float)
            if var.shape[-1:] != (self.n_bins,) or np.any(~np.isfinite(var)) or np.any(var < 0):
                raise ValueError(f"{self.name}: variance must be finite, >= 0, with {self.n_bins} bins")
            self.variance = var
        if self.off_counts is not None:
            if self.statistic != "poisson":
                raise ValueError(f"{self.name}: off-window counts need the poisson statistic")
            self.off_counts = _counts(self.off_counts, f"{self.name}: off counts")
            if self.off_counts.shape != (self.n_bins,):
                raise ValueError(f"{self.name}: off counts have shape {self.off_counts.shape}, expected "
                                 f"({self.n_bins},)")
            tau = float(self.off_ratio)
            if not np.isfinite(tau) or tau <= 0:
                raise ValueError(f"{self.name}: off/on exposure ratio must be positive, got {self.off_ratio}")
            self.off_ratio = tau
        names = [nu.name for nu in self.nuisances]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.name}: duplicate nuisance names {names}")
        valid = {"signal", *self.backgrounds}
        for nu in self.nuisances:
            if not isinstance(nu, Nuisance):
                raise ValueError(f"{self.name}: nuisances must be Nuisance objects, got {nu!r}")
            bad = [c for c in nu.applies_to if c not in valid]
            if bad:
                raise ValueError(f"{self.name}: nuisance '{nu.name}' applies to unknown component(s) "
                                 f"{bad}; known: {sorted(valid)}")

    @property
    def n_bins(self) -> int:
        """Number of bins."""
        return self.observed.shape[0]

    def components(self, signal) -> dict[str, np.ndarray]:
        """Expected counts per component (signal first), each of shape (n_points, n_bins)."""
        sig = _counts(signal, f"{self.name}: signal")
        if sig.ndim == 1:
            sig = sig[None, :]
        if sig.ndim != 2 or sig.shape[-1] != self.n_bins:
            raise ValueError(f"{self.name}: signal has shape {sig.shape}, expected (n_points, {self.n_bins})")
        comps = {"signal": sig}
        comps.update(self.backgrounds)
        n_points = np.broadcast_shapes(*[c.shape for c in comps.values()], (1, self.n_bins))[0]
        return {k: np.broadcast_to(np.atleast_2d(v), (n_points, self.n_bins)) for k, v in comps.items()}

    def expected(self, signal, nuisance_values: Mapping[str, object] | None = None) -> np.ndarray:
        """Expected counts ``sum_c T_c + sum_k theta_k U_k`` (n_points, n_bins).

        ``nuisance_values`` maps nuisance names of this dataset to values (scalars or (n_points,)
        arrays); missing nuisances are at 0.
        """
        comps = self.components(signal)
        mu = sum(comps.values())
        known = {nu.name: nu for nu in self.nuisances}
        for key, value in dict(nuisance_values or {}).items():
            if key not in known:
                raise ValueError(f"{self.name}: unknown nuisance '{key}'")
            shift = sum(comps[c] for c in known[key].applies_to)
            mu = mu + np.asarray(value, dtype=float).reshape(-1, 1) * shift
        return mu

    def chi2(self, signal) -> "CombinedFit":
        """Profiled chi^2 of this dataset alone (see :func:`combined_chi2`)."""
        return combined_chi2([self], {self.name: signal})


@dataclass(frozen=True)
class CombinedFit:
    """Result of :func:`combined_chi2`.

    Attributes
    ----------
    chi2 : numpy.ndarray
        Profiled chi^2 (data terms + priors), shape (n_points,).
    nuisances : dict of str -> numpy.ndarray
        Best-fit value of each nuisance, shape (n_points,).
    per_dataset : dict of str -> numpy.ndarray
        Data term of each dataset at the common best fit (priors excluded), shape (n_points,).
    converged : numpy.ndarray
        Boolean (n_points,); always True for the closed-form Gaussian case.
    """

    chi2: np.ndarray
    nuisances: dict[str, np.ndarray]
    per_dataset: dict[str, np.ndarray]
    converged: np.ndarray


def _nuisance_table(datasets, extra):
    """Ordered mapping nuisance name -> (sigma, list of (dataset name, component))."""
    table: dict[str, tuple[float, list[tuple[str, str]]]] = {}
    by_name = {ds.name: ds for ds in datasets}
    for ds in datasets:
        for nu in ds.nuisances:
            if nu.name in table:
                sigma, targets = table[nu.name]
                if not np.isclose(sigma, nu.sigma, rtol=1e-12, atol=0) and not (sigma == nu.sigma):
                    raise ValueError(f"shared nuisance '{nu.name}' has different sigmas ({sigma} and "
                                     f"{nu.sigma}) in different datasets")
            else:
                table[nu.name] = (nu.sigma, [])
            table[nu.name][1].extend((ds.name, c) for c in nu.applies_to)
    for nu in extra or ():
        if not isinstance(nu, Nuisance):
            raise ValueError(f"nuisances must be Nuisance objects, got {nu!r}")
        if nu.name in table:
            raise ValueError(f"nuisance '{nu.name}' is declared both in a dataset and globally")
        targets = []
        for entry in nu.applies_to:
            ds_name, _, comp = entry.partition("/")
            if ds_name not in by_name or not comp:
                raise ValueError(f"global nuisance '{nu.name}': '{entry}' is not 'dataset/component' "
                                 f"with a known dataset ({sorted(by_name)})")
            if comp != "signal" and comp not in by_name[ds_name].backgrounds:
                raise ValueError(f"global nuisance '{nu.name}': dataset '{ds_name}' has no component '{comp}'")
            targets.append((ds_name, comp))
        table[nu.name] = (nu.sigma, targets)
    return table


def combined_chi2(datasets: Sequence[BinnedDataset], signals: Mapping[str, object],
                  nuisances: Sequence[Nuisance] | None = None, n_iter: int = 100) -> CombinedFit:
    """Joint chi^2 of several binned datasets, profiled over all normalisation nuisances.

    ``chi2(p) = min_theta [ sum_d chi2_d(n_d, mu_d(p, theta)) + sum_k (theta_k / sigma_k)^2 ]`` where
    ``mu_d = sum_c T_{d,c} + sum_k theta_k sum_{c in applies_to(k), d} T_{d,c}``. Nuisances with the
    same name in several datasets are one parameter (a correlated systematic, e.g. the reactor flux
    normalisation shared by CONUS and CONNIE, Canas et al. arXiv:1911.09831). All bins of all
    datasets are stacked: if every dataset is Gaussian the profile is solved in closed form,
    otherwise by the Newton iterations of :func:`profile_linear_poisson` (Gaussian datasets then
    contribute their quadratic terms to the same objective).

    Parameters
    ----------
    datasets : sequence of BinnedDataset
        Datasets with distinct names.
    signals : mapping of str -> array_like
        Signal expectation of each dataset, shape (n_points, n_bins) (or (n_bins,) for one point);
        the number of points must agree between datasets (or be 1).
    nuisances : sequence of Nuisance, optional
        Extra nuisances declared outside the datasets, with ``applies_to`` entries
        ``"dataset/component"`` (e.g. ``"CONUS/signal"``).
    n_iter : int, optional
        Maximum Newton iterations (Poisson case).

    Returns
    -------
    CombinedFit
        ``chi2`` (n_points,), ``nuisances`` (name -> (n_points,)), ``per_dataset`` and ``converged``.
    """
    datasets = list(datasets)
    if not datasets:
        raise ValueError("combined_chi2 needs at least one dataset")
    names = [ds.name for ds in datasets]
    if len(set(names)) != len(names):
        raise ValueError(f"dataset names must be distinct, got {names}")
    missing = [n for n in names if n not in signals]
    if missing:
        raise ValueError(f"no signal given for dataset(s) {missing}")
    unknown = [k for k in signals if k not in names]
    if unknown:
        raise ValueError(f"signals given for unknown dataset(s) {unknown}")
    comps = {ds.name: ds.components(signals[ds.name]) for ds in datasets}
    try:
        n_points = np.broadcast_shapes(*[(c["signal"].shape[0],) for c in comps.values()])[0]
    except ValueError:
        raise ValueError("signals of different datasets have different numbers of points: "
                         f"{ {k: c['signal'].shape[0] for k, c in comps.items()} }") from None
    table = _nuisance_table(datasets, nuisances)
    nuis_names = list(table)
    n_nuis = len(nuis_names)

    offsets, start = {}, 0
    for ds in datasets:
        offsets[ds.name] = slice(start, start + ds.n_bins)
        start += ds.n_bins
    n_bins = start

    observed = np.concatenate([ds.observed for ds in datasets])
    base = np.zeros((n_points, n_bins))
    shifts = np.zeros((n_points, n_nuis, n_bins))
    poisson_bins = np.zeros(n_bins, dtype=bool)
    inv_var = np.zeros((n_points, n_bins))
    for ds in datasets:
        sl = offsets[ds.name]
        nominal = sum(comps[ds.name].values())
        base[:, sl] = nominal
        if ds.statistic == "poisson":
            poisson_bins[sl] = True
        else:
            inv_var[:, sl] = _variance(ds.variance, ds.observed, nominal)
    for k, key in enumerate(nuis_names):
        for ds_name, comp in table[key][1]:
            shifts[:, k, offsets[ds_name]] += comps[ds_name][comp]
    precision, fixed = _sigmas([table[k][0] for k in nuis_names], n_nuis)
    onoff = None
    if any(ds.off_counts is not None for ds in datasets):
        mask, off, tau = np.zeros(n_bins, dtype=bool), np.zeros(n_bins), np.ones(n_bins)
        for ds in datasets:
            if ds.off_counts is not None:
                sl = offsets[ds.name]
                mask[sl], off[sl], tau[sl] = True, ds.off_counts, ds.off_ratio
        onoff = _OnOff(mask, off, tau)

    if not np.any(poisson_bins):
        chi2, theta = _profile_gaussian_core(observed, base, shifts, inv_var, precision, fixed)
        conv = np.ones(n_points, dtype=bool)
    else:
        chi2, theta, conv = _profile_newton_core(observed, base, shifts, poisson_bins, inv_var,
                                                 precision, fixed, n_iter=int(n_iter), onoff=onoff)
        if not np.all(conv):
            warnings.warn(f"combined profile did not converge at {np.sum(~conv)} point(s)",
                          RuntimeWarning, stacklevel=2)
    mu = base + np.einsum("pk,pkb->pb", theta, shifts)
    per_dataset = {}
    for ds in datasets:
        sl = offsets[ds.name]
        sub = None if onoff is None else _OnOff(onoff.mask[sl], onoff.off[sl], onoff.tau[sl])
        per_dataset[ds.name] = _mixed_objective(observed[sl], mu[:, sl], poisson_bins[sl], inv_var[:, sl], sub)
    return CombinedFit(chi2=chi2, nuisances={k: theta[:, i] for i, k in enumerate(nuis_names)},
                       per_dataset=per_dataset, converged=conv)


# ----------------------------------------------------------------------------------------------
# pseudo data
# ----------------------------------------------------------------------------------------------
def asimov(expected):
    """Asimov data set: the expected counts themselves, unrounded (Cowan et al., arXiv:1007.1727).

    Parameters
    ----------
    expected : array_like
        Expected counts (non-negative, finite).

    Returns
    -------
    numpy.ndarray
        A float copy of ``expected`` to be used as "observed".
    """
    return np.array(_counts(expected, "expected", min_ndim=0), dtype=float, copy=True)


def scaled_data(expected, factor):
    """Pseudo data deviating from the expectation by a common factor, ``factor * expected``.

    Parameters
    ----------
    expected : array_like
        Expected counts (non-negative, finite).
    factor : float
        Positive scale, e.g. 1.3 for a +30 % deviation.

    Returns
    -------
    numpy.ndarray
        ``factor * expected`` (unrounded).
    """
    factor = float(factor)
    if not np.isfinite(factor) or factor <= 0:
        raise ValueError(f"scale factor must be positive and finite, got {factor}")
    return factor * _counts(expected, "expected", min_ndim=0)
