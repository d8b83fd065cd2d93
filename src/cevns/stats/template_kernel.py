"""Compiled evaluation of the template chi2 of :mod:`cevns.stats.template_profile`, and its Newton loop.

:class:`TemplateKernel` rearranges a template model once per profiling call (the per-point templates of
the points being profiled) so that each Newton iteration costs a few dense passes over (points x bins):

* the log-space variations of each component are stacked, ``ln h_c = x B_c + q(x) A_c`` (a matrix
  product per point; the same ``(b, a)`` of one component and nuisance given twice are summed, which is
  exact because ``ln h`` is linear in them);
* components without variations and the same template at every point add to the counts through one
  matrix product ``s_const @ H0``;
* the Poisson deviance uses the constant ``sum_b n_b ln n_b`` computed once:
  ``2 sum_b [mu_b - n_b + n_b ln(n_b / mu_b)] = 2 [sum_b mu_b - sum_b n_b + sum_b n_b ln n_b - n . ln mu]``;
* the Gauss-Newton part of the Hessian ``2 J diag(n / mu^2) J^T`` is one batched matrix product, and the
  second derivatives of the counts (``d2 mu / ds_c dtheta_j``, ``d2 mu / dtheta_j dtheta_k``) are batched
  products over the nuisances of each component.

The model is that of :mod:`cevns.stats.template_profile` (its docstring gives the formulas):
``h_c(theta) = h0_c exp(sum_s [theta_s b_cs + q(theta_s) a_cs])`` with ``q = theta^2 / 2`` for
``|theta| <= 1`` and ``|theta| - 1/2`` beyond, ``mu = sum_c s_c h_c + r k M^T``.

:func:`newton` is the damped Newton (Levenberg-Marquardt) loop of both the single-term and the joint
profiles; the gradient and Hessian of a point whose last step was rejected are kept (the point has not
moved), so a rejected step costs one evaluation of the chi2, not of its derivatives.
"""

from __future__ import annotations

import numpy as np
from scipy.special import xlogy

__all__ = ["TemplateKernel", "newton"]


def _per_point(a, n_points: int) -> bool:
    return np.ndim(a) == 2 and np.shape(a)[0] == n_points


class TemplateKernel:
    """A :class:`~cevns.stats.template_profile.TemplateArrays` model rearranged for fast evaluation at
    ``n_points`` points (module docstring).

    Parameters
    ----------
    t : TemplateArrays
        The template model; per-point arrays have ``n_points`` rows.
    n_points : int
        Number of points.
    """

    def __init__(self, t, n_points: int):
        self.t = t
        self.n_points = n_points
        n = np.asarray(t.observed, dtype=float)
        self.n = n
        self.B = n.size
        self.nc, self.ns = len(t.names), len(t.nuisances)
        self.npar = len(t.parameters)
        self.const_nlogn = float(np.sum(xlogy(n, n)) - n.sum())
        merged: dict = {}
        for c, j, b, a in t.variations:
            key = (c, j)
            if key in merged:
                b0, a0 = merged[key]
                merged[key] = (b0 + b, a0 + a)
            else:
                merged[key] = (b, a)
        self.per_point_names = []      # attributes holding per-point arrays (leading axis = points)
        self.varying = []              # (c, js, Bc, Ac, per_point)
        const_shared, self.const_point = [], []
        self.h0 = []
        for c, h0 in enumerate(t.nominal):
            pp = _per_point(h0, n_points)
            self.h0.append(np.asarray(h0, float) if pp else np.asarray(h0, float).reshape(self.B))
            keys = [k for k in merged if k[0] == c]
            if not keys:
                (self.const_point if pp else const_shared).append(c)
                continue
            js = np.array([k[1] for k in keys], dtype=int)
            vpp = any(_per_point(x, n_points) for k in keys for x in merged[k])
            shape = (n_points, self.B) if vpp else (self.B,)
            Bc = np.stack([np.broadcast_to(np.asarray(merged[k][0], float).reshape(
                (-1, self.B) if vpp and _per_point(merged[k][0], n_points) else (self.B,)), shape) for k in keys],
                axis=-2)
            Ac = np.stack([np.broadcast_to(np.asarray(merged[k][1], float).reshape(
                (-1, self.B) if vpp and _per_point(merged[k][1], n_points) else (self.B,)), shape) for k in keys],
                axis=-2)
            self.varying.append([c, js, Bc, Ac, vpp])
        self.const_shared = np.array(const_shared, dtype=int)
        self.H0 = np.array([self.h0[c] for c in const_shared]).reshape(len(const_shared), self.B)
        self.onoff = t.off_counts is not None
        if self.onoff:
            self.M = np.asarray(t.membership, float)
            self.MT = np.ascontiguousarray(self.M.T)
            self.mo = np.asarray(t.off_counts, float)
        self.sig_idx = np.array([c for c, sg in enumerate(t.sigma) if sg is not None], dtype=int)
        self.sig_w = np.array([1.0 / t.sigma[c] ** 2 for c in self.sig_idx])

    def take(self, idx: np.ndarray) -> "TemplateKernel":
        """The kernel of the points ``idx`` (per-point arrays indexed; the rest shared).

        Parameters
        ----------
        idx : ndarray of int
            Point indices.

        Returns
        -------
        TemplateKernel
        """
        if idx.size == self.n_points:
            return self
        out = object.__new__(TemplateKernel)
        out.__dict__.update(self.__dict__)
        out.n_points = idx.size
        out.h0 = [h[idx] if h.ndim == 2 else h for h in self.h0]
        out.varying = [[c, js, Bc[idx], Ac[idx], True] if pp else [c, js, Bc, Ac, False]
                       for c, js, Bc, Ac, pp in self.varying]
        return out

    # ------------------------------------------------------------------ evaluation
    def _templates(self, p: np.ndarray, jacobian: bool):
        """``mu`` (P, B), the varying components' templates and, with ``jacobian``, their log derivatives."""
        nc = self.nc
        s = p[:, :nc]
        th = p[:, nc:nc + self.ns]
        if self.const_shared.size:
            mu = s[:, self.const_shared] @ self.H0
        else:
            mu = np.zeros((p.shape[0], self.B))
        for c in self.const_point:
            mu += s[:, c:c + 1] * self.h0[c]
        parts = []
        for c, js, Bc, Ac, pp in self.varying:
            x = th[:, js]
            ax = np.abs(x)
            inside = ax <= 1.0
            q = np.where(inside, 0.5 * x * x, ax - 0.5)
            if pp:
                L = np.matmul(x[:, None, :], Bc)[:, 0] + np.matmul(q[:, None, :], Ac)[:, 0]
            else:
                L = x @ Bc + q @ Ac
            np.clip(L, -50.0, 50.0, out=L)
            h = np.exp(L, out=L)
            h *= self.h0[c]
            mu += s[:, c:c + 1] * h
            if jacobian:
                D = Bc + np.clip(x, -1.0, 1.0)[:, :, None] * Ac      # d ln h / d theta_j, (P, S, B)
                parts.append((c, js, h, D, inside))
            else:
                parts.append((c, js, h, None, None))
        if self.onoff:
            kb = p[:, nc + self.ns + 1:] @ self.MT
            mu += p[:, nc + self.ns, None] * kb
        else:
            kb = None
        return mu, parts, kb

    def counts_components(self, p: np.ndarray):
        """Expected counts and each component's template ``h_c(theta)`` at the points.

        Parameters
        ----------
        p : ndarray, shape (P, n_par)
            Parameter vectors.

        Returns
        -------
        mu : ndarray, shape (P, B)
        templates : list of ndarray
            (P, B), or (B,) for a component that is the same at every point.
        """
        mu, parts, _ = self._templates(p, False)
        out = list(self.h0)
        for c, _, h, _, _ in parts:
            out[c] = h
        return mu, out

    def counts(self, p: np.ndarray) -> np.ndarray:
        """Expected counts ``mu`` (P, B).

        Parameters
        ----------
        p : ndarray, shape (P, n_par)
            Parameter vectors.

        Returns
        -------
        ndarray
        """
        return self._templates(p, False)[0]

    def _priors(self, p: np.ndarray, m: np.ndarray) -> np.ndarray:
        nc, ns = self.nc, self.ns
        out = 2.0 * (np.sum(m, axis=1) + self.const_nlogn - np.log(m) @ self.n)
        if self.sig_idx.size:
            out += ((p[:, self.sig_idx] - 1.0) ** 2) @ self.sig_w
        out += np.sum(p[:, nc:nc + ns] ** 2, axis=1)
        if self.onoff:
            k = np.maximum(p[:, nc + ns + 1:], 1e-300)
            mo = self.mo[None, :]
            out += 2.0 * np.sum(k - mo + xlogy(mo, mo / k), axis=1)
            out += ((p[:, nc + ns] - 1.0) / self.t.ratio_sigma) ** 2
        return out

    def chi2(self, p: np.ndarray) -> np.ndarray:
        """chi2 of :mod:`cevns.stats.template_profile` at parameter vectors ``p`` (P, n_par).

        Parameters
        ----------
        p : ndarray, shape (P, n_par)
            Parameter vectors (order of ``t.parameters``).

        Returns
        -------
        ndarray, shape (P,)
        """
        return self._priors(p, np.maximum(self.counts(p), 1e-300))

    def grad_hess(self, p: np.ndarray):
        """chi2, its gradient (P, n_par) and Hessian (P, n_par, n_par) at ``p``.

        Parameters
        ----------
        p : ndarray, shape (P, n_par)
            Parameter vectors.

        Returns
        -------
        chi2, gradient, Hessian : ndarray
        """
        nc, ns, B = self.nc, self.ns, self.B
        npt = p.shape[0]
        mu, parts, kb = self._templates(p, True)
        mu = np.maximum(mu, 1e-300, out=mu)
        chi = self._priors(p, mu)
        n = self.n
        r_mu = n / mu
        a = 1.0 - r_mu                                  # d(dev/2)/dmu
        w = r_mu / mu                                   # d2(dev/2)/dmu2
        J = np.empty((npt, self.npar, B))
        for i, c in enumerate(self.const_shared):
            J[:, c] = self.H0[i]
        for c in self.const_point:
            J[:, c] = self.h0[c]
        J[:, nc:nc + ns] = 0.0
        s = p[:, :nc]
        for c, js, h, D, _ in parts:
            J[:, c] = h
            sh = s[:, c:c + 1] * h
            J[:, nc + js] += sh[:, None, :] * D
        if self.onoff:
            ir = nc + ns
            J[:, ir] = kb
            J[:, ir + 1:] = p[:, ir, None, None] * self.M.T[None]
        g = 2.0 * np.matmul(J, a[:, :, None])[:, :, 0]
        Jw = J * w[:, None, :]
        H = np.matmul(Jw, J.transpose(0, 2, 1))
        H *= 2.0
        for c, js, h, D, inside in parts:              # second derivatives of mu in s_c, theta_j, theta_k
            ah = a * h
            v = 2.0 * np.matmul(D, ah[:, :, None])[:, :, 0]
            tj = nc + js
            H[:, c, tj] += v
            H[:, tj, c] += v
            sc = 2.0 * s[:, c]
            DA = D * ah[:, None, :]
            H[:, tj[:, None], tj[None, :]] += sc[:, None, None] * np.matmul(DA, D.transpose(0, 2, 1))
            Bc_, Ac = self._stacks(c)
            if Ac.ndim == 3:
                d2 = np.matmul(Ac, ah[:, :, None])[:, :, 0]
            else:
                d2 = ah @ Ac.T
            H[:, tj, tj] += sc[:, None] * np.where(inside, d2, 0.0)
        if self.sig_idx.size:
            g[:, self.sig_idx] += 2.0 * (p[:, self.sig_idx] - 1.0) * self.sig_w
            H[:, self.sig_idx, self.sig_idx] += 2.0 * self.sig_w
        idx = np.arange(nc, nc + ns)
        g[:, idx] += 2.0 * p[:, idx]
        H[:, idx, idx] += 2.0
        if self.onoff:
            ir = nc + ns
            k = np.maximum(p[:, ir + 1:], 1e-300)
            mo = self.mo[None, :]
            g[:, ir + 1:] += 2.0 * (1.0 - mo / k)
            kk = np.arange(ir + 1, self.npar)
            H[:, kk, kk] += 2.0 * mo / k**2
            v = 2.0 * (a @ self.M)                      # d2 mu / dr dk_g = M_bg
            H[:, ir, ir + 1:] += v
            H[:, ir + 1:, ir] += v
            g[:, ir] += 2.0 * (p[:, ir] - 1.0) / self.t.ratio_sigma**2
            H[:, ir, ir] += 2.0 / self.t.ratio_sigma**2
        return chi, g, H

    def _stacks(self, c: int):
        for cc, _, Bc, Ac, _ in self.varying:
            if cc == c:
                return Bc, Ac
        raise KeyError(c)


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
