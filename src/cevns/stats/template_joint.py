"""Joint profiling of several template likelihoods that share normalisation nuisances.

Each term ``t`` is a :class:`~cevns.stats.template_profile.TemplateArrays` model with its own parameter
vector ``p_t`` (scales, shape nuisances, on/off). A :class:`SharedNorm` ``f`` (prior width ``sigma_f``,
e.g. the SNS flux normalisation common to COHERENT CsI and Ar) is one global parameter that enters the
scale ``s_c`` of a member component of every member term additively,

    s_c = u_t + (f - 1),     chi2 = sum_t chi2_t(p_t) + ((f - 1) / sigma_f)^2 + sum_t ((u_t - 1) / sigma_u,t)^2,

where the member's own prior on ``s_c`` (width ``sigma_t``) is replaced by the prior of the remainder
``u_t`` with ``sigma_u,t = sqrt(sigma_t^2 - sigma_f^2)`` (``u_t`` fixed at 1 when ``sigma_t = sigma_f``).
Profiled over ``f`` alone this gives back each term's own prior ``((s_c - 1)/sigma_t)^2`` (Gaussian
widths add in quadrature), so a single member term reproduces its separate fit exactly.

The map from the global vector ``P = (p_1, ..., p_T, f_1, ...)`` to each term's effective vector is linear,
``p_t = A_t P + const``, so the gradient and Hessian of the sum are ``sum_t A_t^T g_t`` and
``sum_t A_t^T H_t A_t``: the shared rows/columns add across terms, everything else stays block
diagonal. Minimisation: damped Newton (Levenberg-Marquardt) steps vectorised over the points, as in
:func:`cevns.stats.template_profile.profile_templates`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from ..errors import ConfigError
from .template_kernel import TemplateKernel
from .template_newton import newton
from .template_profile import _presolve, _project, _Subsets, default_start

__all__ = ["SharedNorm", "JointResult", "profile_joint", "joint_term_chi2"]


@dataclass
class SharedNorm:
    """One normalisation nuisance shared by several template terms (module docstring).

    Parameters
    ----------
    name : str
        Global parameter name.
    sigma : float
        Relative prior width of the shared factor ``f`` (mean 1).
    members : list of (int, str)
        ``(term index, component name)``: the component whose scale ``s_c`` contains ``f``. The member's
        own prior width (its ``TemplateArrays.sigma``) must be at least ``sigma``.
    """

    name: str
    sigma: float
    members: list = field(default_factory=list)


@dataclass
class JointResult:
    """Result of :func:`profile_joint`.

    Attributes
    ----------
    chi2 : ndarray, shape (n_points,)
        Joint profiled chi2 (module docstring).
    per_term : list of ndarray
        Each term's part (its Poisson terms and own priors, the remainders ``u_t`` included).
    values : list of ndarray
        Each term's effective parameter vectors (n_points, n_par_t), scales ``s_c = u_t + f - 1``.
    shared : dict of str to ndarray
        Fitted shared factors ``f`` by name, (n_points,).
    converged : bool
        Every point met the tolerance.
    """

    chi2: np.ndarray
    per_term: list
    values: list
    shared: dict
    converged: bool


class _Layout:
    """Index bookkeeping: term blocks, member (term, local index, shared index, sigma_u)."""

    def __init__(self, arrays: list, shared: list):
        self.arrays, self.shared = [], shared
        self.offsets, off = [], 0
        self.members = []  # (term, local index, global shared index)
        self.u_sigma = []  # (term, local index, sigma_u or 0)
        member_sigmas = {}
        for k, sh in enumerate(shared):
            if not (sh.sigma is not None and sh.sigma > 0 and math.isfinite(sh.sigma)):
                raise ConfigError(f"shared normalisation {sh.name!r}: needs a finite prior width > 0, got {sh.sigma}")
            for t, comp in sh.members:
                if not 0 <= t < len(arrays):
                    raise ConfigError(f"shared normalisation {sh.name!r}: no term {t}")
                if comp not in arrays[t].names:
                    raise ConfigError(f"shared normalisation {sh.name!r}: term {t} has no component {comp!r} "
                                      f"(it has {arrays[t].names})")
                c = arrays[t].names.index(comp)
                if (t, c) in member_sigmas:
                    raise ConfigError(f"component {comp!r} of term {t} is in two shared normalisations")
                own = arrays[t].sigma[c]
                if own is None or own < sh.sigma * (1.0 - 1e-9):
                    raise ConfigError(f"shared normalisation {sh.name!r} ({sh.sigma:g}): the prior of {comp!r} in "
                                      f"term {t} ({own}) must be at least as wide")
                member_sigmas[(t, c)] = math.sqrt(max(own**2 - sh.sigma**2, 0.0))
                self.members.append((t, c, k))
        for t, a in enumerate(arrays):
            sig = list(a.sigma)
            for (tt, c), _ in member_sigmas.items():
                if tt == t:
                    sig[c] = None          # the member's prior is carried by u_t and f (added here)
            self.arrays.append(replace(a, sigma=sig))
            self.offsets.append(off)
            off += len(a.parameters)
        self.u_sigma = [(t, c, s) for (t, c), s in member_sigmas.items()]
        self.n_local = off
        self.size = off + len(shared)

    def effective(self, P: np.ndarray) -> list:
        """Each term's effective parameter vectors from the global ones."""
        out = []
        for t, a in enumerate(self.arrays):
            out.append(P[:, self.offsets[t]:self.offsets[t] + len(a.parameters)].copy())
        for t, c, k in self.members:
            out[t][:, c] += P[:, self.n_local + k] - 1.0
        return out

    def priors(self, P: np.ndarray):
        """Chi2, gradient and Hessian diagonal of the priors of ``f`` and of the remainders ``u_t``."""
        chi = np.zeros(P.shape[0])
        g = np.zeros_like(P)
        h = np.zeros(P.shape[1])
        for k, sh in enumerate(self.shared):
            i = self.n_local + k
            chi += ((P[:, i] - 1.0) / sh.sigma) ** 2
            g[:, i] += 2.0 * (P[:, i] - 1.0) / sh.sigma**2
            h[i] += 2.0 / sh.sigma**2
        for t, c, s in self.u_sigma:
            if s > 0:
                i = self.offsets[t] + c
                chi += ((P[:, i] - 1.0) / s) ** 2
                g[:, i] += 2.0 * (P[:, i] - 1.0) / s**2
                h[i] += 2.0 / s**2
        return chi, g, h

    def free(self) -> np.ndarray:
        """Mask of free global parameters (remainders with zero width are fixed at 1)."""
        m = np.ones(self.size, dtype=bool)
        for t, c, s in self.u_sigma:
            if s <= 0:
                m[self.offsets[t] + c] = False
        return m


def _total(lay: _Layout, kernels: list, P: np.ndarray):
    """Per-term chi2 (without shared priors) and the joint chi2."""
    parts = [k.chi2(p) for k, p in zip(kernels, lay.effective(P))]
    pri = lay.priors(P)[0]
    return parts, sum(parts) + pri


def _project_all(lay: _Layout, arrays: list, P: np.ndarray) -> np.ndarray:
    for t, a in enumerate(arrays):
        sl = slice(lay.offsets[t], lay.offsets[t] + len(a.parameters))
        P[:, sl] = _project(a, P[:, sl])
    P[:, lay.n_local:] = np.maximum(P[:, lay.n_local:], 0.0)
    return P


def _grad_hess(lay: _Layout, kernels: list, P: np.ndarray):
    """Joint chi2, gradient and Hessian: ``sum_t A_t^T g_t``, ``sum_t A_t^T H_t A_t`` (module docstring)."""
    chi, g, hdiag = lay.priors(P)
    H = np.zeros((P.shape[0], lay.size, lay.size))
    H[:, np.arange(lay.size), np.arange(lay.size)] = hdiag
    for t, (k, p) in enumerate(zip(kernels, lay.effective(P))):
        c_t, g_t, H_t = k.grad_hess(p)
        chi = chi + c_t
        lo, hi = lay.offsets[t], lay.offsets[t] + p.shape[1]
        g[:, lo:hi] += g_t
        H[:, lo:hi, lo:hi] += H_t
        idx = np.arange(lo, hi)
        for tt, c, s in lay.members:           # the shared row/column adds
            if tt != t:
                continue
            i = lay.n_local + s
            g[:, i] += g_t[:, c]
            H[:, i, idx] += H_t[:, c, :]
            H[:, idx, i] += H_t[:, :, c]
            H[:, i, i] += H_t[:, c, c]
    return chi, g, H


def profile_joint(arrays: list, n_points: int, shared: list, starts: list | None = None, max_iter: int = 100,
                  tol: float = 1e-7) -> JointResult:
    """Minimise the joint chi2 of several template terms with shared normalisations (module docstring).

    Parameters
    ----------
    arrays : list of TemplateArrays
        The terms; per-point arrays have ``n_points`` rows.
    n_points : int
        Number of points.
    shared : list of SharedNorm
        The shared normalisations.
    starts : list of ndarray, optional
        Per term a starting vector (n_par_t,) or (n_points, n_par_t) of effective parameters (warm start);
        default :func:`~cevns.stats.template_profile.default_start`.
    max_iter : int, optional
        Newton iterations at most.
    tol : float, optional
        Convergence: chi2 decrease and relative step below ``tol`` at every point.

    Returns
    -------
    JointResult

    Raises
    ------
    ConfigError
        A member that names no term or component, or whose own prior is narrower than the shared one.
    """
    lay = _Layout(list(arrays), list(shared))
    kernels = [TemplateKernel(a, n_points) for a in lay.arrays]
    P = np.empty((n_points, lay.size))
    for t, a in enumerate(lay.arrays):
        npar = len(a.parameters)
        st = default_start(a, n_points) if starts is None or starts[t] is None else \
            np.array(np.broadcast_to(starts[t], (n_points, npar)), float)
        P[:, lay.offsets[t]:lay.offsets[t] + npar] = _presolve(kernels[t], st, sigma=arrays[t].sigma)
    for k in range(len(lay.shared)):           # f from the first member's scale; remainders at 1 then
        t0, c0, _ = next(m for m in lay.members if m[2] == k)
        P[:, lay.n_local + k] = P[:, lay.offsets[t0] + c0]
    for t, c, k in lay.members:
        P[:, lay.offsets[t] + c] -= P[:, lay.n_local + k] - 1.0
    free = lay.free()
    P[:, ~free] = 1.0
    P = _project_all(lay, lay.arrays, P)
    subsets = _Subsets(kernels)
    P, _, converged = newton(P, free, lambda idx, x: subsets.evaluate(idx, x, lambda k, y: _grad_hess(lay, k, y)),
                             lambda idx, x: subsets.evaluate(idx, x, lambda k, y: _total(lay, k, y)[1]),
                             lambda idx, x: _project_all(lay, lay.arrays, x), max_iter, tol)
    parts, total = _total(lay, kernels, P)
    for t, c, s in lay.u_sigma:                # the remainders' priors belong to their terms
        if s > 0:
            parts[t] = parts[t] + ((P[:, lay.offsets[t] + c] - 1.0) / s) ** 2
    return JointResult(chi2=total, per_term=parts, values=lay.effective(P),
                       shared={sh.name: P[:, lay.n_local + k].copy() for k, sh in enumerate(lay.shared)},
                       converged=converged)


def _shared_of(terms) -> list:
    """The :class:`SharedNorm` list of template terms' ``shared`` mappings (global name -> members)."""
    out: dict = {}
    for i, term in enumerate(terms):
        for own, (name, sigma) in term.shared.items():
            comp, own_sigma = term.shared_norm(own)
            width = own_sigma if sigma is None else float(sigma)
            sh = out.setdefault(name, SharedNorm(name, width, []))
            if sigma is None and not math.isclose(sh.sigma, width, rel_tol=1e-9):
                raise ConfigError(f"correlation {name!r}: the members' own widths differ ({sh.sigma:g} vs {width:g} "
                                  f"of {term.label}); give the correlation a sigma")
            sh.members.append((i, comp))
    return list(out.values())


def joint_term_chi2(terms, signals, details: bool = False):
    """Joint profiled chi2 of template likelihood terms whose ``shared`` nuisances are one parameter.

    The templates are built chunk by chunk over the points (each term's ``chunk_elements`` bounds the
    arrays) and profiled with :func:`profile_joint`, warm-started from each term's own best fit.

    Parameters
    ----------
    terms : list of TemplatePoisson
        Terms with ``shared = {own nuisance: (global name, sigma or None)}`` (sigma None: the members' own
        width, which must then agree).
    signals : mapping
        Dataset key -> the term's ``signal(flat, n)`` (``{"points", "n"}``).
    details : bool, optional
        Also return the fitted nuisances.

    Returns
    -------
    chi2 : ndarray, shape (n,)
        Joint profiled chi2.
    per_term : dict of str to ndarray
        Dataset key -> that term's part (Poisson terms and its own priors).
    nuisances : dict of str to ndarray
        ``"<dataset>:<name>"`` per term (on/off means left out) and the shared factors by global name;
        empty without ``details``.
    """
    shared = _shared_of(terms)
    n = int(signals[terms[0].dataset]["n"])
    flats = [signals[t.dataset]["points"] for t in terms]
    names = [t.arrays().parameters for t in terms]
    width = max(len(nm) * t.observed.size for nm, t in zip(names, terms))
    step = max(64, int(min(t.chunk_elements for t in terms) // width))
    starts = [t.warm_start() for t in terms]
    chi2 = np.empty(n)
    per = {t.dataset: np.empty(n) for t in terms}
    vals: list = [[] for _ in terms]
    fs: dict = {sh.name: [] for sh in shared}
    for lo in range(0, n, step):
        hi = min(n, lo + step)
        arrays = []
        for t, flat in zip(terms, flats):
            sub = {k: (v if np.ndim(v) == 0 else np.asarray(v)[lo:hi]) for k, v in flat.items()}
            arrays.append(t.arrays(sub, hi - lo))
        res = profile_joint(arrays, hi - lo, shared, starts=starts)
        chi2[lo:hi] = res.chi2
        for i, t in enumerate(terms):
            per[t.dataset][lo:hi] = res.per_term[i]
            if details:
                vals[i].append(res.values[i])
        if details:
            for k, v in res.shared.items():
                fs[k].append(v)
    nuis: dict = {}
    if details:
        for i, t in enumerate(terms):
            v = np.concatenate(vals[i])
            nuis.update({f"{t.dataset}:{k}": v[:, j] for j, k in enumerate(names[i]) if not k.startswith("k_")})
        nuis.update({k: np.concatenate(v) for k, v in fs.items()})
    return chi2, per, nuis
