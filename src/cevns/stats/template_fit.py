"""Extended binned Poisson likelihood of template experiments (XENONnT solar 8B), runs combined, with iminuit.

For a model with per-run expected counts ``mu_r(theta)`` (81 bins per run; see
:class:`cevns.experiments.xenonnt_8b.model.XenonntModel`) the cost is

    chi2(theta) = -2 ln L + const = sum_r sum_b 2 [mu_rb - n_rb + n_rb ln(n_rb / mu_rb)]     (Baker-Cousins)
                  + tly^2 + tqy^2 + sum_k ((a_k - 1) / sigma_k)^2

with parameters: ``flux_8b`` (the 8B flux in 1e6 cm^-2 s^-1, free, >= 0), ``hep`` (hep flux / SSM,
Gaussian-constrained with the SSM uncertainty 30 %, Vinyoles et al. 2017), the yield nuisances ``tly``,
``tqy`` (standard-normal constraints, limited to the template grid [-3, 3]), one accidental-coincidence
normalisation per run ``ac_<run>``, and shared ``er`` and ``neutron`` normalisations.

Background normalisation uncertainties (:data:`DEFAULT_BACKGROUND_SIGMAS`) are *assumed* values, chosen so
that the SR0+SR1 background uncertainty is close to the published +1.4 / -1.3 events (PRL 133, 191002;
the per-component constraints of arXiv:2408.02877 Table I and arXiv:2604.06002 were not available to us
offline): AC 5 % per run, ER 50 %, neutrons 50 %. Pass ``background_sigmas`` to use other values.

Significance: one-sided asymptotic Z = sqrt(q0), q0 = chi2(flux_8b = 0, nuisances profiled) - chi2_min
(Cowan, Cranmer, Gross & Vitells, Eur. Phys. J. C 71, 1554 (2011)). Flux interval: where the profiled
chi2 rises by 1 above its minimum.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

import numpy as np
from iminuit import Minuit
from scipy.optimize import brentq

from ..errors import ConfigError
from .binned import poisson_chi2

#: Assumed relative 1-sigma uncertainties of the background normalisations (see module docstring).
DEFAULT_BACKGROUND_SIGMAS = {"ac": 0.05, "er": 0.5, "neutron": 0.5}
#: Relative SSM uncertainty of the hep flux (Vinyoles et al. 2017, B16).
HEP_SIGMA = 0.30


@dataclass
class FitResult:
    """Best fit: parameter values, their HESSE errors, the minimum chi2 and Minuit's validity flag.

    Attributes
    ----------
    values : dict of str to float
        Best-fit parameter values.
    errors : dict of str to float
        HESSE (parabolic) 1-sigma errors.
    chi2 : float
        Minimum chi^2 (dimensionless).
    valid : bool
        Minuit's validity flag of the minimum.
    """

    values: dict
    errors: dict
    chi2: float
    valid: bool


class TemplateFit:
    """The combined likelihood of the runs of a :class:`~cevns.experiments.xenonnt_8b.model.XenonntModel`.

    Parameters
    ----------
    model : XenonntModel
        Provides ``run_names``, ``observed(run)``, ``expected(run, flux_scale, tly, tqy, ac, er, neutron)``,
        ``ssm_flux_cm2_s`` and ``recoil_rates``.
    observed : mapping run -> array (81,), optional
        Data to fit instead of the model's observed events (e.g. Asimov data).
    background_sigmas : mapping, optional
        Relative uncertainties of the ``ac`` (per run), ``er`` and ``neutron`` normalisations.
    """

    def __init__(self, model, observed: Mapping | None = None, background_sigmas: Mapping | None = None):
        self.model = model
        self.runs = tuple(model.run_names)
        obs = {r: np.asarray(model.observed(r), dtype=float) for r in self.runs}
        if observed is not None:
            unknown = set(observed) - set(self.runs)
            if unknown:
                raise ConfigError(f"observed data given for runs not in the model: {sorted(unknown)}")
            obs.update({r: np.asarray(v, dtype=float).ravel() for r, v in observed.items()})
        for r, v in obs.items():
            if v.shape != (81,) or not np.all(np.isfinite(v)) or np.any(v < 0):
                raise ConfigError(f"observed data of run {r} must be 81 finite non-negative counts")
        self.observed = obs
        self.sigmas = dict(DEFAULT_BACKGROUND_SIGMAS)
        self.sigmas.update(background_sigmas or {})
        for k, s in self.sigmas.items():
            if k not in DEFAULT_BACKGROUND_SIGMAS or not (math.isfinite(s) and s > 0):
                raise ConfigError(f"background sigma {k!r} = {s!r}: expected ac/er/neutron with a positive value")
        self.has_hep = "hep" in model.recoil_rates
        self.flux_ref_1e6 = model.ssm_flux_cm2_s["8B"] / 1e6
        self.names = ["flux_8b", "tly", "tqy"] + (["hep"] if self.has_hep else []) \
            + [f"ac_{r}" for r in self.runs] + ["er", "neutron"]

    # -------------------------------------------------------------------------------- cost
    def start(self) -> dict:
        """Starting values: SSM 8B flux, nominal nuisances."""
        d = {n: 1.0 for n in self.names}
        d.update(flux_8b=self.flux_ref_1e6, tly=0.0, tqy=0.0)
        return d

    def expected(self, values: Mapping) -> dict:
        """Expected counts per run (81,) at parameter ``values`` (missing names: start values)."""
        v = self.start()
        v.update(values)
        scale = {"8B": v["flux_8b"] / self.flux_ref_1e6}
        if self.has_hep:
            scale["hep"] = v["hep"]
        return {r: self.model.expected(r, scale, v["tly"], v["tqy"], v[f"ac_{r}"], v["er"], v["neutron"])
                for r in self.runs}

    def chi2(self, *args) -> float:
        """-2 ln L (Baker-Cousins form) + constraint terms, parameters in the order of :attr:`names`."""
        v = dict(zip(self.names, args))
        mu = self.expected(v)
        c = sum(float(poisson_chi2(self.observed[r], mu[r])) for r in self.runs)
        c += v["tly"] ** 2 + v["tqy"] ** 2
        if self.has_hep:
            c += ((v["hep"] - 1.0) / HEP_SIGMA) ** 2
        c += sum(((v[f"ac_{r}"] - 1.0) / self.sigmas["ac"]) ** 2 for r in self.runs)
        c += ((v["er"] - 1.0) / self.sigmas["er"]) ** 2 + ((v["neutron"] - 1.0) / self.sigmas["neutron"]) ** 2
        return c

    def _minuit(self, fixed: Mapping | None) -> Minuit:
        start = self.start()
        start.update(fixed or {})
        m = Minuit(self.chi2, *[start[n] for n in self.names], name=self.names)
        m.errordef = Minuit.LEAST_SQUARES
        m.limits["flux_8b"] = (0.0, None)
        m.limits["tly"] = (-3.0, 3.0)
        m.limits["tqy"] = (-3.0, 3.0)
        for n in self.names[3:]:
            m.limits[n] = (0.0, None)
        for n in fixed or {}:
            if n not in self.names:
                raise ConfigError(f"unknown fit parameter {n!r}; parameters: {', '.join(self.names)}")
            m.fixed[n] = True
        return m

    def fit(self, fixed: Mapping | None = None) -> FitResult:
        """Minimise the chi2 (MIGRAD, then HESSE), with the parameters in ``fixed`` held at the given values."""
        m = self._minuit(fixed)
        m.migrad()
        if not m.valid:
            m.migrad()
        m.hesse()
        return FitResult(dict(zip(self.names, map(float, m.values))), dict(zip(self.names, map(float, m.errors))),
                         float(m.fval), bool(m.valid))

    # -------------------------------------------------------------------------------- results
    def profile_chi2(self, flux_1e6: float) -> float:
        """chi2 minimised over the nuisances at fixed 8B flux [1e6 cm^-2 s^-1].

        Parameters
        ----------
        flux_1e6 : float
            8B neutrino flux [1e6 cm^-2 s^-1].

        Returns
        -------
        float
            Profiled chi^2 (dimensionless).
        """
        return self.fit({"flux_8b": float(flux_1e6)}).chi2

    def significance(self, best: FitResult | None = None) -> float:
        """Asymptotic one-sided rejection of the no-8B hypothesis, sqrt(q0) [sigma].

        ``q0 = chi2(flux_8b = 0) - chi2_min`` (Cowan, Cranmer, Gross & Vitells, Eur. Phys. J. C 71 (2011)
        1554); 0 if the best-fit flux is not positive.

        Parameters
        ----------
        best : FitResult, optional
            A previous :meth:`fit` result (fitted again if not given).

        Returns
        -------
        float
            Significance in standard deviations.
        """
        best = best or self.fit()
        if best.values["flux_8b"] <= 0:
            return 0.0
        q0 = max(self.profile_chi2(0.0) - best.chi2, 0.0)
        return math.sqrt(q0)

    def flux_interval(self, best: FitResult | None = None, delta_chi2: float = 1.0):
        """(best, lower, upper) 8B flux [1e6 cm^-2 s^-1] where the profiled chi2 rises by ``delta_chi2``."""
        best = best or self.fit()
        f0, c0 = best.values["flux_8b"], best.chi2

        def g(f):
            return self.profile_chi2(f) - c0 - delta_chi2

        lo = 0.0
        if f0 > 0 and g(0.0) > 0:
            lo = brentq(g, 0.0, f0, xtol=1e-3)
        hi_edge = max(2.0 * f0, f0 + 1.0)
        while g(hi_edge) < 0:
            hi_edge *= 2.0
            if hi_edge > 1e4:
                raise ConfigError("the 8B flux upper limit is not bounded by the data")
        hi = brentq(g, f0, hi_edge, xtol=1e-3)
        return f0, lo, hi

    def nominal_background(self) -> float:
        """Background events summed over runs and bins at nominal normalisations and tly = tqy = 0."""
        return float(sum(sum(b.sum() for b in self.model.backgrounds(r).values()) for r in self.runs))

    def headline(self) -> dict:
        """Fitted flux [value, minus, plus], significance, observed and expected background events."""
        best = self.fit()
        f0, lo, hi = self.flux_interval(best)
        return {
            "fitted_8b_flux_1e6_cm2_s": [f0, f0 - lo, hi - f0],
            "significance_sigma": self.significance(best),
            "observed_events": float(sum(v.sum() for v in self.observed.values())),
            "expected_background_events": self.nominal_background(),
        }


def asimov_data(model, flux_8b_1e6: float | None = None, **nuisances) -> dict:
    """Expected counts per run (no fluctuation) at the given 8B flux [1e6 cm^-2 s^-1] and nuisances.

    Parameters
    ----------
    model : XenonntModel
        The template model.
    flux_8b_1e6 : float, optional
        8B neutrino flux [1e6 cm^-2 s^-1] (the fit's default if not given).
    **nuisances
        Values of other fit parameters (``hep``, ``tly``, ``tqy``, ``ac_<run>``, ``er``, ``neutron``).

    Returns
    -------
    dict of str to numpy.ndarray
        Expected counts per bin [events] for each run.
    """
    fit = TemplateFit(model)
    values = dict(nuisances)
    if flux_8b_1e6 is not None:
        values["flux_8b"] = float(flux_8b_1e6)
    return fit.expected(values)
