"""Vectorised profile likelihood of template experiments with yield nuisances (XENONnT solar 8B).

For science runs r with 81 analysis bins each, the expected events of a point are

    mu_rb = x_r [ e sum_c a_c sum_i R_ci eps_rib(tly, tqy)  +  a_ac,r AC_rb + a_er ER_rb + a_n N_rb(tly, tqy) ],

with x_r the exposure [t yr], R_ci the CEvNS recoil rate [events / t / yr] of solar component c (8B, hep)
in the mono-energetic recoil bin i (a function of the physics point), eps_rib the release's detection
efficiencies and N_rb the neutron template, both bilinear in the yield nuisances (tly, tqy) between the
nodes of the 7 x 7 grid (exact at the nodes); AC, ER are the accidental-coincidence and electronic-recoil
rates; e is a signal-expectation (efficiency) factor common to all runs. The cost is the extended binned Poisson chi^2 (Baker & Cousins, NIM 221, 437 (1984)) plus
Gaussian constraints,

    chi2 = sum_rb 2 [mu_rb - n_rb + n_rb ln(n_rb / mu_rb)] + tly^2 + tqy^2 + sum_k ((a_k - 1) / sigma_k)^2,

minimised over the nuisances theta = (a_8B, a_hep, tly, tqy, a_ac,r..., a_er, a_n, e) at every physics
point *at once* within the bounds a_k >= 0, |t| <= 3, 0.5 <= e <= 1.5 by the active-set projected Newton
iteration of :mod:`cevns.stats.solar_newton` (nuisances on a bound with an outward gradient held there,
one grid cell of (tly, tqy) at a time, a step-halving line search per point). No minimiser runs per point.

Any nuisance can be held at given values per point (``fixed``), which is how a profile of the 8B flux
is computed (:meth:`TemplateProfiler.profile`). Plain arrays only: the experiment kind
(:mod:`cevns.experiments.xenonnt_8b.kind`) supplies them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from ..errors import ConfigError
from .solar_newton import MAX_ITER, TOL_CHI2, BoxNewton, bilinear_weights

__all__ = ["RunArrays", "TemplateProfiler", "ProfileResult", "bilinear_weights", "MAX_ITER", "TOL_CHI2"]

#: Range of the signal-expectation factor e (the fit limits of the collaboration's model, see
#: :mod:`cevns.stats.solar_term`): a Gaussian factor allowed to reach 0 would let any signal, however
#: large, be switched off at a finite cost.
SIGNAL_EFF_LIMITS = (0.5, 1.5)
_MU_FLOOR = 1e-12


@dataclass(frozen=True)
class RunArrays:
    """One science run as plain arrays.

    Attributes
    ----------
    name : str
        Run name (e.g. ``"sr0"``); the AC nuisance is ``ac_<name>``.
    exposure : float
        Exposure x_r [tonne x year].
    observed : ndarray (n_bins,)
        Observed events per analysis bin.
    ac, er : ndarray (n_bins,)
        Background rates [events / t / yr].
    neutron : ndarray (n_grid, n_grid, n_bins)
        Neutron rate [events / t / yr] on the (tly, tqy) grid.
    mono : ndarray (n_energy, n_grid, n_grid, n_bins)
        Detection efficiency of mono-energetic recoils on the grid.
    """

    name: str
    exposure: float
    observed: np.ndarray
    ac: np.ndarray
    er: np.ndarray
    neutron: np.ndarray
    mono: np.ndarray


@dataclass
class ProfileResult:
    """Result of :meth:`TemplateProfiler.profile` for n physics points.

    Attributes
    ----------
    chi2 : ndarray (n,)
        Profiled chi^2 (Poisson deviance + constraints, module docstring) at each point.
    nuisances : dict str -> ndarray (n,)
        Nuisances at the minimum, by name (:attr:`TemplateProfiler.names`).
    converged : ndarray of bool (n,)
        Whether the Newton iteration (:mod:`cevns.stats.solar_newton`) stopped by converging (predicted or
        achieved chi^2 decrease below :data:`TOL_CHI2`, or no decreasing step) rather than by reaching
        :data:`MAX_ITER`.
    """

    chi2: np.ndarray
    nuisances: dict
    converged: np.ndarray


class TemplateProfiler(BoxNewton):
    """The likelihood of the module docstring for arrays of physics points.

    Parameters
    ----------
    runs : sequence of RunArrays
    components : sequence of str
        Solar components, in the order of the recoil-rate arrays (e.g. ``("8B", "hep")``).
    grid : ndarray
        Nodes of tly and tqy [sigma].
    sigmas : mapping
        Relative 1-sigma constraints of the normalisations: keys ``"8B"``, ``"hep"`` (flux / SSM; ``inf``
        = free), ``"ac"`` (a number or a mapping run -> number), ``"er"``, ``"neutron"``, ``"signal"`` (the signal-expectation factor
        ``signal_eff`` multiplying every solar component in every run).

    Attributes
    ----------
    names : list of str
        Nuisance names, in parameter order: ``flux_<component>...``, ``tly``, ``tqy``, ``ac_<run>...``,
        ``er``, ``neutron``, ``signal_eff``.
    n_energy : int
        Number of mono-energetic recoil bins of the templates.
    sigmas : dict str -> float
        The constraints, with ``ac`` split into ``ac_<run>``.

    Raises
    ------
    ConfigError
        No runs, a missing or non-positive constraint, templates not on the yield grid, or observed counts
        that are negative or not finite.
    """

    def __init__(self, runs: Sequence[RunArrays], components: Sequence[str], grid, sigmas: Mapping):
        self.runs = list(runs)
        if not self.runs:
            raise ConfigError("the template likelihood needs at least one science run")
        self.components = tuple(components)
        self.grid = np.asarray(grid, dtype=float)
        sig = dict(sigmas)
        ac = sig.pop("ac", None)
        ac = {r.name: (ac.get(r.name) if isinstance(ac, Mapping) else ac) for r in self.runs}
        self.sigmas = {k: float(v) for k, v in sig.items()}
        self.sigmas.update({f"ac_{r}": (None if v is None else float(v)) for r, v in ac.items()})
        for k in (*self.components, *[f"ac_{r.name}" for r in self.runs], "er", "neutron", "signal"):
            s = self.sigmas.get(k)
            if s is None or not (s > 0) or math.isnan(s):
                raise ConfigError(f"template likelihood: constraint of {k!r} must be positive (inf = free), got {s}")
        self.names = [f"flux_{c}" for c in self.components] + ["tly", "tqy"] \
            + [f"ac_{r.name}" for r in self.runs] + ["er", "neutron", "signal_eff"]
        g = self.grid.size
        self._nbins = [r.observed.size for r in self.runs]
        for r in self.runs:
            if r.mono.shape[1:3] != (g, g) or r.neutron.shape[:2] != (g, g):
                raise ConfigError(f"run {r.name}: templates are not on the {g} x {g} yield grid")
            if np.any(r.observed < 0) or not np.all(np.isfinite(r.observed)):
                raise ConfigError(f"run {r.name}: observed counts must be finite and >= 0")
        self.n_energy = self.runs[0].mono.shape[0]

    # ------------------------------------------------------------------ building blocks
    def signal_grids(self, rates: Mapping) -> list:
        """Expected CEvNS events on the nodes of the yield grid, per run and component.

        ``S_crb(tly, tqy) = x_r sum_i R_ci eps_rib(tly, tqy)`` at every (tly, tqy) node (module docstring),
        at the SSM flux and nominal signal expectation.

        Parameters
        ----------
        rates : mapping component -> ndarray (n, n_energy) or (n_energy,)
            CEvNS recoil rates [events / t / yr] per mono-energetic bin at the SSM flux.

        Returns
        -------
        list (per run) of dict component -> ndarray (n, g, g, n_bins)
            Events, g the number of grid nodes.

        Raises
        ------
        ConfigError
            If the rates do not have ``n_energy`` entries.
        """
        out = []
        for r in self.runs:
            g = self.grid.size
            flat = r.mono.reshape(self.n_energy, -1)
            per = {}
            for c in self.components:
                R = np.atleast_2d(np.asarray(rates[c], dtype=float))
                if R.shape[-1] != self.n_energy:
                    raise ConfigError(f"recoil rates of {c} need {self.n_energy} energies, got {R.shape[-1]}")
                per[c] = (r.exposure * (R @ flat)).reshape(R.shape[0], g, g, -1)
            out.append(per)
        return out

    @staticmethod
    def _corners(grid_vals, i, j, u, v):
        """Bilinear value, derivatives d/du, d/dv and d2/du dv of grid_vals (n or 1, g, g, B) at per-point cells."""
        n = i.size
        k = np.arange(n) if grid_vals.shape[0] == n else np.zeros(n, dtype=int)
        g00, g10 = grid_vals[k, i, j], grid_vals[k, i + 1, j]
        g01, g11 = grid_vals[k, i, j + 1], grid_vals[k, i + 1, j + 1]
        u, v = u[:, None], v[:, None]
        val = (1 - u) * (1 - v) * g00 + u * (1 - v) * g10 + (1 - u) * v * g01 + u * v * g11
        du = (1 - v) * (g10 - g00) + v * (g11 - g01)
        dv = (1 - u) * (g01 - g00) + u * (g11 - g10)
        return val, du, dv, g11 - g10 - g01 + g00

    def _expected(self, sig_grids, theta, derivatives: bool, cells=None, second: bool = False):
        """mu per run (n, B) and, if asked, dmu/dtheta per run (n, P, B) and the second derivatives.

        ``cells`` = (i, j): the grid cells of (tly, tqy) per point (default: the cells of
        :func:`bilinear_weights`); a value on a node may be taken in either neighbouring cell, which gives
        the same mu but the one-sided derivatives of that cell. ``second``: also a list per run of dicts
        (p, q) -> (n, B) with the non-zero d2mu / dtheta_p dtheta_q (one of each pair p != q; mu is linear in each nuisance
        inside a cell, so the diagonal vanishes).
        """
        nc = len(self.components)
        step = self.grid[1] - self.grid[0]
        if cells is None:
            i, u = bilinear_weights(theta[:, nc], self.grid)
            j, v = bilinear_weights(theta[:, nc + 1], self.grid)
        else:
            i, j = cells
            u = np.clip((theta[:, nc] - self.grid[i]) / step, 0.0, 1.0)
            v = np.clip((theta[:, nc + 1] - self.grid[j]) / step, 0.0, 1.0)
        mus, jacs, curvs = [], [], []
        nr = len(self.runs)
        p_ly, p_qy, p_n, p_e = nc, nc + 1, nc + 3 + nr, len(self.names) - 1
        eff = theta[:, -1][:, None]
        for ri, (r, sg) in enumerate(zip(self.runs, sig_grids)):
            x = r.exposure
            nval, ndu, ndv, nduv = self._corners(x * r.neutron[None], i, j, u, v)
            a_ac = theta[:, nc + 2 + ri][:, None]
            a_er, a_n = theta[:, nc + 2 + nr][:, None], theta[:, nc + 3 + nr][:, None]
            mu = a_ac * (x * r.ac) + a_er * (x * r.er) + a_n * nval
            dly, dqy = a_n * ndu, a_n * ndv
            parts, total_signal = [], 0.0
            curv = {(p_n, p_ly): ndu / step, (p_n, p_qy): ndv / step, (p_ly, p_qy): a_n * nduv / step**2,
                    (p_ly, p_e): 0.0, (p_qy, p_e): 0.0}
            for ci, c in enumerate(self.components):
                sval, sdu, sdv, sduv = self._corners(sg[c], i, j, u, v)
                a = theta[:, ci][:, None] * eff
                total_signal = total_signal + theta[:, ci][:, None] * sval
                mu = mu + a * sval
                dly = dly + a * sdu
                dqy = dqy + a * sdv
                parts.append(eff * sval)
                if second:
                    curv[(ci, p_e)] = sval
                    curv[(ci, p_ly)], curv[(ci, p_qy)] = eff * sdu / step, eff * sdv / step
                    curv[(p_ly, p_qy)] = curv[(p_ly, p_qy)] + a * sduv / step**2
                    curv[(p_ly, p_e)] = curv[(p_ly, p_e)] + theta[:, ci][:, None] * sdu / step
                    curv[(p_qy, p_e)] = curv[(p_qy, p_e)] + theta[:, ci][:, None] * sdv / step
            curvs.append(curv)
            mus.append(np.maximum(mu, _MU_FLOOR))
            if derivatives:
                n, b = mu.shape
                jac = np.zeros((n, len(self.names), b))
                for ci in range(nc):
                    jac[:, ci] = parts[ci]
                jac[:, nc] = dly / step
                jac[:, nc + 1] = dqy / step
                jac[:, nc + 2 + ri] = x * r.ac
                jac[:, nc + 2 + nr] = x * r.er
                jac[:, nc + 3 + nr] = nval
                jac[:, -1] = total_signal
                jacs.append(jac)
        return (mus, jacs, curvs) if second else (mus, jacs)

    def _prior(self, theta):
        """Constraint chi^2 (n,), its gradient (n, P) and (diagonal) Hessian (P,)."""
        nc = len(self.components)
        sig = np.array([self.sigmas[c] for c in self.components] + [1.0, 1.0]
                       + [self.sigmas[f"ac_{r.name}"] for r in self.runs] + [self.sigmas["er"], self.sigmas["neutron"],
                                                                  self.sigmas["signal"]])
        centre = np.ones(len(self.names))
        centre[nc:nc + 2] = 0.0
        w = np.where(np.isinf(sig), 0.0, 1.0 / sig**2)
        d = theta - centre
        return (w * d * d).sum(axis=1), 2 * w * d, 2 * w

    def _chi2(self, sig_grids, theta, observed):
        mus, _ = self._expected(sig_grids, theta, False)
        c = self._prior(theta)[0]
        for mu, n in zip(mus, observed):
            c = c + 2.0 * (mu - n + np.where(n > 0, n * np.log(np.where(n > 0, n, 1.0) / mu), 0.0)).sum(axis=1)
        return c

    def _bounds(self):
        nc = len(self.components)
        lo = np.zeros(len(self.names))
        hi = np.full(len(self.names), np.inf)
        lo[nc:nc + 2] = self.grid[0]
        hi[nc:nc + 2] = self.grid[-1]
        lo[-1], hi[-1] = SIGNAL_EFF_LIMITS
        return lo, hi

    def _gradient_hessian(self, sig_grids, theta, observed, cells=None, hessian: bool = True):
        """Gradient (n, P) of the chi^2 and (if asked) two Hessians (n, P, P): Gauss-Newton and exact.

        ``d2 chi2 = sum_b 2 [n_b / mu_b^2 dmu_b dmu_b^T + (1 - n_b / mu_b) d2mu_b] + priors``: the first
        term alone (Gauss-Newton) is positive semi-definite; the exact one converges quadratically where
        it is positive definite (:meth:`_newton_step` chooses).
        """
        if not hessian:
            mus, jacs = self._expected(sig_grids, theta, True, cells)
        else:
            mus, jacs, curvs = self._expected(sig_grids, theta, True, cells, second=True)
        _, pg, ph = self._prior(theta)
        p = len(self.names)
        grad, hess, exact = pg.copy(), None, None
        if hessian:
            hess = np.zeros((theta.shape[0], p, p))
            hess[:, np.arange(p), np.arange(p)] = ph
            exact = np.zeros_like(hess)
        for ri, (mu, jac, o) in enumerate(zip(mus, jacs, observed)):
            w = 2.0 * (1.0 - o / mu)
            grad += np.einsum("npb,nb->np", jac, w)
            if hessian:
                hess += 2.0 * (jac * (o / mu**2)[:, None, :]) @ jac.transpose(0, 2, 1)
                for (a, b), d2 in curvs[ri].items():
                    if np.ndim(d2):
                        c = (w * d2).sum(axis=1)
                        exact[:, a, b] += c
                        exact[:, b, a] += c
        return grad, (None if hess is None else (hess, hess + exact))

    # ------------------------------------------------------------------ public
    def profile(self, rates: Mapping, fixed: Mapping | None = None, observed: Sequence | None = None,
                start: Mapping | None = None) -> ProfileResult:
        """Minimise the chi^2 over the free nuisances at each point.

        Parameters
        ----------
        rates : mapping component -> ndarray (n, n_energy) or (n_energy,)
            CEvNS recoil rates [events / t / yr] at the SSM flux per mono-energetic bin.
        fixed : mapping nuisance name -> float or (n,) array, optional
            Nuisances held at the given values (e.g. ``{"flux_8B": scales}``).
        observed : sequence of (n_bins,) arrays, optional
            Data per run instead of the runs' observed counts (e.g. Asimov data).
        start : mapping, optional
            Starting values (default: 1 for normalisations, 0 for tly, tqy).

        Returns
        -------
        ProfileResult
            Profiled chi^2, nuisances at the minimum and convergence flags, per point.

        Raises
        ------
        ConfigError
            An unknown nuisance name in ``fixed``, or rates without ``n_energy`` entries.
        """
        fixed = dict(fixed or {})
        for k in fixed:
            if k not in self.names:
                raise ConfigError(f"unknown nuisance {k!r}; nuisances: {', '.join(self.names)}")
        n = max([np.atleast_2d(np.asarray(rates[c])).shape[0] for c in self.components]
                + [np.size(v) for v in fixed.values()])
        obs = [np.asarray(o, dtype=float) for o in (observed if observed is not None
                                                    else [r.observed for r in self.runs])]
        sig_grids = self.signal_grids(rates)
        nc = len(self.components)
        theta = np.ones((n, len(self.names)))
        theta[:, nc:nc + 2] = 0.0
        for k, v in dict(start or {}).items():
            theta[:, self.names.index(k)] = v
        free = np.ones(len(self.names), dtype=bool)
        for k, v in fixed.items():
            idx = self.names.index(k)
            theta[:, idx] = np.broadcast_to(np.asarray(v, dtype=float), (n,))
            free[idx] = False
        theta, chi2, converged = self._minimise(sig_grids, theta, free, obs)
        theta, chi2, converged = self._across_nodes(sig_grids, theta, chi2, converged, free, obs)
        return ProfileResult(chi2=chi2, nuisances={k: theta[:, i].copy() for i, k in enumerate(self.names)},
                             converged=converged)

    def expected(self, rates: Mapping, values: Mapping | None = None) -> list:
        """Expected events mu_rb of the module docstring at given nuisance values.

        Parameters
        ----------
        rates : mapping component -> ndarray (n, n_energy) or (n_energy,)
            CEvNS recoil rates [events / t / yr] per mono-energetic bin at the SSM flux.
        values : mapping nuisance name -> float or (n,) array, optional
            Nuisance values; the others nominal (1 for normalisations, 0 for tly, tqy).

        Returns
        -------
        list (per run) of ndarray (n, n_bins)
            Events (floored at 1e-12).

        Raises
        ------
        ConfigError
            An unknown nuisance name, or rates without ``n_energy`` entries.
        """
        n = max(np.atleast_2d(np.asarray(rates[c])).shape[0] for c in self.components)
        nc = len(self.components)
        theta = np.ones((n, len(self.names)))
        theta[:, nc:nc + 2] = 0.0
        for k, v in dict(values or {}).items():
            if k not in self.names:
                raise ConfigError(f"unknown nuisance {k!r}; nuisances: {', '.join(self.names)}")
            theta[:, self.names.index(k)] = np.broadcast_to(np.asarray(v, dtype=float), (n,))
        return self._expected(self.signal_grids(rates), theta, False)[0]

    def expected_by_component(self, rates: Mapping, values: Mapping | None = None) -> list:
        """Expected events per run and component at nuisance ``values`` (one point).

        Parameters
        ----------
        rates : mapping component -> ndarray (n_energy,) or (1, n_energy)
            CEvNS recoil rates [events / t / yr] per mono-energetic bin at the SSM flux (the first point
            is used).
        values : mapping nuisance name -> float, optional
            Nuisance values (e.g. ``ProfileResult.nuisances`` of a best fit); the others nominal.

        Returns
        -------
        list (per run) of dict name -> ndarray (n_bins,)
            Names: the solar components, ``"ac"``, ``"er"``, ``"neutron"``; events, summing to
            :meth:`expected` at the same values (up to its 1e-12 floor).

        Raises
        ------
        ConfigError
            An unknown nuisance name, or rates without ``n_energy`` entries.
        """
        v = {k: float(np.ravel(x)[0]) for k, x in dict(values or {}).items()}
        for k in v:
            if k not in self.names:
                raise ConfigError(f"unknown nuisance {k!r}; nuisances: {', '.join(self.names)}")
        i, u = bilinear_weights(np.array([v.get("tly", 0.0)]), self.grid)
        j, w = bilinear_weights(np.array([v.get("tqy", 0.0)]), self.grid)
        out = []
        for r, sg in zip(self.runs, self.signal_grids(rates)):
            x = r.exposure
            d = {c: v.get(f"flux_{c}", 1.0) * v.get("signal_eff", 1.0) * self._corners(sg[c][:1], i, j, u, w)[0][0] for c in self.components}
            d["ac"] = v.get(f"ac_{r.name}", 1.0) * x * r.ac
            d["er"] = v.get("er", 1.0) * x * r.er
            d["neutron"] = v.get("neutron", 1.0) * self._corners(x * r.neutron[None], i, j, u, w)[0][0]
            out.append(d)
        return out
