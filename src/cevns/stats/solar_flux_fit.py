"""Measurement of the solar 8B flux from a template likelihood: profile, interval, significance, headline.

The 8B flux is the parameter of interest, unconstrained (``flux_8B`` / SSM free), all other nuisances
profiled (:class:`cevns.stats.solar_templates.TemplateProfiler`), on a dense flux grid evaluated in one
vectorised call. Interval: where the profiled chi^2 rises by 1 above its minimum (linear interpolation
between grid points, then refined by bisection on the profile). Significance: one-sided asymptotic
Z = sqrt(q0), q0 = chi2(flux = 0) - chi2_min (Cowan, Cranmer, Gross & Vitells, EPJC 71, 1554 (2011)).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

import numpy as np

from ..errors import ConfigError
from .solar_templates import TemplateProfiler

__all__ = ["FluxMeasurement", "measure_flux"]


@dataclass
class FluxMeasurement:
    """Result of :func:`measure_flux` (fluxes in 1e6 cm^-2 s^-1).

    Attributes
    ----------
    best, lower, upper : float
        Best fit and the Delta-chi2 = 1 interval.
    significance : float
        sqrt(q0) [sigma].
    chi2_min : float
    flux_grid, delta_chi2 : ndarray
        The profile.
    nuisances : dict
        Nuisances at the best fit.
    """

    best: float
    lower: float
    upper: float
    significance: float
    chi2_min: float
    flux_grid: np.ndarray
    delta_chi2: np.ndarray
    nuisances: dict

    def headline(self, observed: float, background: float) -> dict:
        """The results.json ``headline`` block, with the ``observed`` and ``background`` event totals."""
        return {"fitted_8b_flux_1e6_cm2_s": [self.best, self.best - self.lower, self.upper - self.best],
                "significance_sigma": self.significance, "observed_events": float(observed),
                "expected_background_events": float(background)}


def _bisect(f, a: float, b: float, tol: float = 1e-4) -> float:
    fa = f(a)
    for _ in range(60):
        m = 0.5 * (a + b)
        fm = f(m)
        if (fm > 0) == (fa > 0):
            a, fa = m, fm
        else:
            b = m
        if b - a < tol:
            break
    return 0.5 * (a + b)


def measure_flux(profiler: TemplateProfiler, rates: Mapping, ssm_flux_1e6: float, observed=None,
                 flux_max_1e6: float = 25.0, n_grid: int = 501) -> FluxMeasurement:
    """Fit the 8B flux [1e6 cm^-2 s^-1] with all nuisances profiled.

    Parameters
    ----------
    profiler : TemplateProfiler
        Its ``"8B"`` constraint should be ``inf`` (the flux is measured, not constrained).
    rates : mapping component -> (46,) or (1, 46) recoil rates at the SSM flux.
    ssm_flux_1e6 : float
        The 8B flux the rates correspond to [1e6 cm^-2 s^-1].
    observed : sequence of arrays, optional
        Data per run (default: the profiler's observed counts).
    flux_max_1e6 : float
        Upper end of the profile grid.
    n_grid : int

    Raises
    ------
    ConfigError
        If the upper end of the interval is beyond ``flux_max_1e6``.
    """
    if not (ssm_flux_1e6 > 0 and math.isfinite(ssm_flux_1e6)):
        raise ConfigError(f"ssm_flux_1e6 must be positive, got {ssm_flux_1e6}")

    def chi2_at(fluxes):
        f = np.atleast_1d(np.asarray(fluxes, dtype=float))
        return profiler.profile(rates, fixed={"flux_8B": f / ssm_flux_1e6}, observed=observed).chi2

    grid = np.linspace(0.0, float(flux_max_1e6), int(n_grid))
    prof = chi2_at(grid)
    free = profiler.profile(rates, observed=observed)
    c_min = float(min(free.chi2[0], prof.min()))
    best = float(free.nuisances["flux_8B"][0] * ssm_flux_1e6) if free.chi2[0] <= prof.min() \
        else float(grid[np.argmin(prof)])
    delta = prof - c_min

    def g(x):
        return float(chi2_at([x])[0]) - c_min - 1.0

    k = int(np.searchsorted(grid, best))
    lower = 0.0
    if delta[0] > 1.0:
        below = np.flatnonzero(delta[:max(k, 1)] > 1.0)
        lower = _bisect(g, float(grid[below[-1]]), best)
    above = np.flatnonzero((delta > 1.0) & (grid > best))
    if above.size == 0:
        raise ConfigError(f"the 8B flux upper bound lies beyond {flux_max_1e6} x 1e6 cm^-2 s^-1")
    upper = _bisect(g, best, float(grid[above[0]]))
    q0 = max(float(prof[0]) - c_min, 0.0) if best > 0 else 0.0
    nuis = {k: float(v[0]) for k, v in free.nuisances.items()}
    return FluxMeasurement(best=best, lower=lower, upper=upper, significance=math.sqrt(q0), chi2_min=c_min,
                           flux_grid=grid, delta_chi2=delta, nuisances=nuis)
