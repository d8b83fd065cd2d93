"""The damped Newton (Levenberg-Marquardt) loop of the template profiles, vectorised over points.

Used by :func:`cevns.stats.template_profile.profile_templates` and
:func:`cevns.stats.template_joint.profile_joint` with the chi2, gradient and Hessian of
:class:`cevns.stats.template_kernel.TemplateKernel`. Each point takes its own steps (its own damping
``lambda``); the gradient and Hessian of a point whose last step was rejected are kept (the point has not
moved), so a rejected step costs one evaluation of the chi2, not of its derivatives. Points leave the
loop when converged.
"""

from __future__ import annotations

import numpy as np

__all__ = ["newton"]


def _solve(A: np.ndarray, g: np.ndarray, diag: np.ndarray) -> np.ndarray:
    """Newton steps ``-A^-1 g`` per point; a singular system falls back to a gradient step for that point only."""
    try:
        return -np.linalg.solve(A, g[:, :, None])[:, :, 0]
    except np.linalg.LinAlgError:
        out = -g / diag
        for i in range(A.shape[0]):
            try:
                out[i] = -np.linalg.solve(A[i], g[i])
            except np.linalg.LinAlgError:
                pass
        return out


def newton(P: np.ndarray, free: np.ndarray, grad_hess, value, project, max_iter: int, tol: float):
    """Damped Newton (Levenberg-Marquardt) minimisation vectorised over points.

    Each point's step solves ``(H + lambda diag|H|) step = -g``; the step is projected and accepted if the
    chi2 does not increase (``lambda`` / 5), else rejected (``lambda`` x 10; the point keeps its gradient
    and Hessian). A point is done when an accepted step lowers the chi2 by less than ``tol`` and moves no
    parameter by more than ``sqrt(tol)`` (relative to 1 + |value|), or when ``lambda`` exceeds 1e12
    (stalled).

    Parameters
    ----------
    P : ndarray, shape (n_points, n_par)
        Starting vectors (modified in place: the minima on return).
    free : ndarray of bool, shape (n_par,)
        Free parameters (the others keep their values).
    grad_hess : callable
        ``grad_hess(idx, P_idx) -> (chi2, gradient, Hessian)`` at the points ``idx``.
    value : callable
        ``value(idx, P_idx) -> chi2`` at the points ``idx``.
    project : callable
        ``project(idx, P_idx) -> P_idx`` onto the allowed region (in place allowed).
    max_iter : int
        Iterations at most.
    tol : float
        Convergence tolerance.

    Returns
    -------
    P : ndarray
        The minima.
    iterations : int
        Iterations run.
    converged : bool
        Every point done and none stalled.
    """
    n_points, npar = P.shape
    eye = np.eye(npar)
    fmask = free[:, None] & free[None, :]
    lam = np.full(n_points, 1e-3)
    chi_c = np.empty(n_points)
    g_c = np.empty((n_points, npar))
    H_c = np.empty((n_points, npar, npar))
    stale = np.ones(n_points, dtype=bool)
    active = np.arange(n_points)
    stalled = np.zeros(n_points, dtype=bool)
    it = 0
    while active.size and it < max_iter:
        it += 1
        need = active[stale[active]]
        if need.size:
            chi, g, H = grad_hess(need, P[need])
            chi_c[need] = chi
            g_c[need] = np.where(free, g, 0.0)
            H_c[need] = np.where(fmask, H, eye)
            stale[need] = False
        Pa = P[active]
        chi, g, H = chi_c[active], g_c[active], H_c[active]
        diag = np.abs(np.diagonal(H, axis1=1, axis2=2)) + 1e-12
        A = H + lam[active][:, None, None] * (diag[:, :, None] * eye)
        step = _solve(A, g, diag)
        step = np.where(np.isfinite(step), step, 0.0)
        trial = project(active, Pa + step)
        chi_new = value(active, trial)
        ok = chi_new <= chi + 1e-12
        dchi = np.where(ok, chi - chi_new, 0.0)
        small = np.max(np.abs(trial - Pa) / (1.0 + np.abs(Pa)), axis=1)
        P[active] = np.where(ok[:, None], trial, Pa)
        stale[active] = ok
        la = np.where(ok, np.maximum(lam[active] * 0.2, 1e-9), lam[active] * 10.0)
        lam[active] = la
        stalled[active] = la > 1e12
        done = ok & (dchi < tol) & (small < tol ** 0.5) | (la > 1e12)
        active = active[~done]
    return P, it, not active.size and not np.any(stalled)
