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
point *at once* by damped Gauss-Newton steps (Hessian sum_b 2 n_b / mu_b^2 dmu_b dmu_b^T + priors, the
expected-information form, positive definite), projected on the bounds a_k >= 0, |t| <= 3, 0.5 <= e <= 1.5, with a
step-halving line search per point. No minimiser runs per point.

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

__all__ = ["RunArrays", "TemplateProfiler", "ProfileResult", "bilinear_weights"]

#: Range of the signal-expectation factor e (the fit limits of the collaboration's model, see
#: :mod:`cevns.stats.solar_term`): a Gaussian factor allowed to reach 0 would let any signal, however
#: large, be switched off at a finite cost.
SIGNAL_EFF_LIMITS = (0.5, 1.5)
#: Newton iterations and convergence tolerance on chi^2.
MAX_ITER = 60
TOL_CHI2 = 1e-7
_MU_FLOOR = 1e-12


@dataclass(frozen=True)
class RunArrays:
    """One science run as plain arrays.

    Attributes
    ----------
    name : str
    exposure : float
        [tonne x year].
    observed : ndarray (n_bins,)
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


def bilinear_weights(t, grid: np.ndarray):
    """Cell index and fractional position of values ``t`` on an equally spaced ``grid``.

    Returns
    -------
    index : ndarray of int
        Lower node, in ``[0, len(grid) - 2]``.
    frac : ndarray
        ``(t - grid[index]) / step`` in [0, 1] (t clipped to the grid).
    """
    t = np.clip(np.asarray(t, dtype=float), grid[0], grid[-1])
    step = grid[1] - grid[0]
    idx = np.minimum(np.floor((t - grid[0]) / step).astype(int), grid.size - 2)
    return idx, (t - grid[idx]) / step


@dataclass
class ProfileResult:
    """Profiled ``chi2`` per point (n,), the ``nuisances`` at the minimum (name -> (n,) array) and whether
    each point ``converged`` (n,) bool."""

    chi2: np.ndarray
    nuisances: dict
    converged: np.ndarray


class TemplateProfiler:
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
        """Per run, per component: expected CEvNS events on the yield grid, (n, g, g, n_bins), from the recoil
        ``rates`` (component -> (n, n_energy) events / t / yr)."""
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
        """Bilinear value and derivatives (d/du, d/dv) of grid_vals (n or 1, g, g, B) at per-point cells."""
        n = i.size
        k = np.arange(n) if grid_vals.shape[0] == n else np.zeros(n, dtype=int)
        g00, g10 = grid_vals[k, i, j], grid_vals[k, i + 1, j]
        g01, g11 = grid_vals[k, i, j + 1], grid_vals[k, i + 1, j + 1]
        u, v = u[:, None], v[:, None]
        val = (1 - u) * (1 - v) * g00 + u * (1 - v) * g10 + (1 - u) * v * g01 + u * v * g11
        du = (1 - v) * (g10 - g00) + v * (g11 - g01)
        dv = (1 - u) * (g01 - g00) + u * (g11 - g10)
        return val, du, dv

    def _expected(self, sig_grids, theta, derivatives: bool):
        """mu per run (n, B) and, if asked, dmu/dtheta per run (n, P, B)."""
        nc = len(self.components)
        i, u = bilinear_weights(theta[:, nc], self.grid)
        j, v = bilinear_weights(theta[:, nc + 1], self.grid)
        step = self.grid[1] - self.grid[0]
        mus, jacs = [], []
        nr = len(self.runs)
        eff = theta[:, -1][:, None]
        for ri, (r, sg) in enumerate(zip(self.runs, sig_grids)):
            x = r.exposure
            nval, ndu, ndv = self._corners(x * r.neutron[None], i, j, u, v)
            a_ac = theta[:, nc + 2 + ri][:, None]
            a_er, a_n = theta[:, nc + 2 + nr][:, None], theta[:, nc + 3 + nr][:, None]
            mu = a_ac * (x * r.ac) + a_er * (x * r.er) + a_n * nval
            dly, dqy = a_n * ndu, a_n * ndv
            parts, total_signal = [], 0.0
            for ci, c in enumerate(self.components):
                sval, sdu, sdv = self._corners(sg[c], i, j, u, v)
                a = theta[:, ci][:, None] * eff
                total_signal = total_signal + theta[:, ci][:, None] * sval
                mu = mu + a * sval
                dly = dly + a * sdu
                dqy = dqy + a * sdv
                parts.append(eff * sval)
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
        return mus, jacs

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
        lo, hi = self._bounds()
        theta = np.clip(theta, lo, hi)
        chi2 = self._chi2(sig_grids, theta, obs)
        converged = np.zeros(n, dtype=bool)
        fidx = np.flatnonzero(free)
        for _ in range(MAX_ITER):
            act = np.flatnonzero(~converged)
            if act.size == 0:
                break
            sg = [{c: (g[c] if g[c].shape[0] == 1 else g[c][act]) for c in g} for g in sig_grids]
            th = theta[act]
            mus, jacs = self._expected(sg, th, True)
            _, pg, ph = self._prior(th)
            grad, hess = pg.copy(), np.zeros((act.size, len(self.names), len(self.names)))
            hess[:, np.arange(len(self.names)), np.arange(len(self.names))] = ph
            for mu, jac, o in zip(mus, jacs, obs):
                grad += 2.0 * np.einsum("npb,nb->np", jac, 1.0 - o / mu)
                hess += 2.0 * np.einsum("npb,nqb->npq", jac * (o / mu**2)[:, None, :], jac)
            gf, hf = grad[:, fidx], hess[:, fidx][:, :, fidx]
            hf = hf + 1e-9 * np.eye(fidx.size)
            step = -np.linalg.solve(hf, gf[..., None])[..., 0]
            old = chi2[act]
            lam = np.ones(act.size)
            new_theta = th.copy()
            accepted = np.zeros(act.size, dtype=bool)
            new_chi2 = old.copy()
            for _ in range(12):
                trial = th.copy()
                trial[:, fidx] = np.clip(th[:, fidx] + lam[:, None] * step, lo[fidx], hi[fidx])
                c = self._chi2(sg, trial, obs)
                ok = (c <= old + 1e-12) & ~accepted
                new_theta[ok] = trial[ok]
                new_chi2[ok] = c[ok]
                accepted |= ok
                if accepted.all():
                    break
                lam = np.where(accepted, lam, 0.5 * lam)
            theta[act] = new_theta
            chi2[act] = new_chi2
            converged[act] = (old - new_chi2 < TOL_CHI2) | ~accepted
        return ProfileResult(chi2=chi2, nuisances={k: theta[:, i].copy() for i, k in enumerate(self.names)},
                             converged=converged)

    def expected(self, rates: Mapping, values: Mapping | None = None) -> list:
        """Expected events per run (n, n_bins) for recoil ``rates`` (component -> (n, n_energy)) at nuisance
        ``values`` (defaults: nominal)."""
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
        """Expected events per run and component for recoil ``rates`` at nuisance ``values`` (one point).

        Returns
        -------
        list (per run) of dict name -> ndarray (n_bins,)
            Names: the solar components, ``"ac"``, ``"er"``, ``"neutron"``.
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
