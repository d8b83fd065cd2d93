"""Arrival-time distributions of the SNS pion-decay-at-rest neutrinos, per flavour.

The proton pulse on target is modelled as a Gaussian of mean ``t_p`` and width ``s`` (the SNS
protons-on-target trace, COHERENT LAr release arXiv:2006.12659, LArParametersAnlA.yaml:
``snsPOTTraceTiming``, 440 +- 200 ns and 150 ns in that detector's clock). A stopped pi+ decays with
lifetime tau_pi = 26.033 ns (PDG) into the prompt nu_mu; the mu+ it makes decays with lifetime
tau_mu = 2.1969811 us (PDG) into the delayed nu_e and anti-nu_mu. Hence (PHYSICS.md section 5)::

    prompt:   f_p(t) = G(t) * Exp(tau_pi)(t)                       (exponentially modified Gaussian)
    delayed:  f_d(t) = G(t) * Exp(tau_pi) * Exp(tau_mu)
                     = [tau_mu EMG(t; tau_mu) - tau_pi EMG(t; tau_pi)] / (tau_mu - tau_pi)

where ``*`` is a convolution and EMG(t; tau) the normalised Gaussian-exponential convolution: the
two-step decay chain density ``(e^{-t/tau_mu} - e^{-t/tau_pi}) / (tau_mu - tau_pi)`` is this
difference of exponential densities. All CDFs are closed forms (``scipy.stats.exponnorm``).

Mean arrival times: ``t_p + tau_pi`` (prompt), ``t_p + tau_pi + tau_mu`` (delayed).

The time-bin probabilities of any bin edges, optionally weighted by a time-dependent efficiency,
feed the (observable x time) templates of the COHERENT CsI 2021 and LAr 2020 analyses; the
beam-timing onset enters as a shift of ``t_p``. The normalisation of each flavour is
``N_POT r / (4 pi L^2)`` (:func:`cevns.sources.spallation.fluence_per_flavor_cm2`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.stats import exponnorm, norm

from ..errors import ConfigError
from .spallation import fluence_per_flavor_cm2

__all__ = [
    "TAU_PI_US",
    "TAU_MU_US",
    "PROMPT_FLAVORS",
    "DELAYED_FLAVORS",
    "BeamPulse",
    "population_of",
    "binned_fluences_cm2",
]

#: Charged-pion lifetime [us] (PDG 2024: 2.6033e-8 s).
TAU_PI_US = 0.026033
#: Muon lifetime [us] (PDG 2024: 2.1969811e-6 s).
TAU_MU_US = 2.1969811

PROMPT_FLAVORS = ("nu_mu",)
DELAYED_FLAVORS = ("nu_e", "nu_mu_bar")


def population_of(flavor: str) -> str:
    """``"prompt"`` for nu_mu (pi+ decay), ``"delayed"`` for nu_e and anti-nu_mu (mu+ decay).

    Parameters
    ----------
    flavor : str
        Flux label such as ``"nu_e"`` or ``"nu_mu_bar"``.
    """
    if flavor in PROMPT_FLAVORS:
        return "prompt"
    if flavor in DELAYED_FLAVORS:
        return "delayed"
    raise ConfigError(f"SNS timing: flavour {flavor!r} is not produced by pi+/mu+ decay at rest "
                      f"(expected one of {PROMPT_FLAVORS + DELAYED_FLAVORS})")


def _positive(name: str, value) -> float:
    x = float(value)
    if not math.isfinite(x) or x <= 0:
        raise ConfigError(f"SNS timing: {name} must be a positive finite number, got {value!r}")
    return x


def _emg_cdf(t: np.ndarray, mean: float, sigma: float, tau: float) -> np.ndarray:
    """CDF of a Gaussian(mean, sigma) convolved with an exponential of mean ``tau``."""
    return exponnorm.cdf(t, tau / sigma, loc=mean, scale=sigma)


def _emg_pdf(t: np.ndarray, mean: float, sigma: float, tau: float) -> np.ndarray:
    return exponnorm.pdf(t, tau / sigma, loc=mean, scale=sigma)


@dataclass(frozen=True)
class BeamPulse:
    """Gaussian proton pulse and the pi/mu decay chain: arrival-time PDFs and bin probabilities.

    Parameters
    ----------
    mean_us : float
        Mean time of the proton pulse ``t_p`` in the detector's clock [us].
    sigma_us : float
        Gaussian width of the pulse [us] (0.150 for the SNS).
    tau_pi_us, tau_mu_us : float
        Pion and muon lifetimes [us].
    """

    mean_us: float
    sigma_us: float = 0.150
    tau_pi_us: float = TAU_PI_US
    tau_mu_us: float = TAU_MU_US

    def __post_init__(self):
        if not math.isfinite(float(self.mean_us)):
            raise ConfigError(f"SNS timing: mean_us must be finite, got {self.mean_us!r}")
        _positive("sigma_us", self.sigma_us)
        _positive("tau_pi_us", self.tau_pi_us)
        _positive("tau_mu_us", self.tau_mu_us)
        if self.tau_mu_us == self.tau_pi_us:
            raise ConfigError("SNS timing: tau_mu_us must differ from tau_pi_us")

    def shifted(self, onset_shift_us: float) -> "BeamPulse":
        """The same pulse with its timing onset moved by ``onset_shift_us`` [us]."""
        return BeamPulse(self.mean_us + float(onset_shift_us), self.sigma_us, self.tau_pi_us, self.tau_mu_us)

    def mean_time_us(self, population: str) -> float:
        """Mean arrival time [us]: ``t_p + tau_pi`` (prompt) or ``t_p + tau_pi + tau_mu`` (delayed).

        Parameters
        ----------
        population : {"prompt", "delayed"}
            Neutrino population.
        """
        extra = self.tau_pi_us + (self.tau_mu_us if _population(population) == "delayed" else 0.0)
        return float(self.mean_us) + extra

    def cdf(self, population: str, t_us) -> np.ndarray:
        """P(arrival < t) of the ``"prompt"``, ``"delayed"`` or ``"pulse"`` population.

        Parameters
        ----------
        population : {"prompt", "delayed", "pulse"}
            Neutrino population (or the proton pulse itself).
        t_us : float or ndarray
            Time after the pulse reference [us].
        """
        t = np.asarray(t_us, dtype=float)
        m, s = float(self.mean_us), float(self.sigma_us)
        pop = _population(population, allow_pulse=True)
        if pop == "pulse":
            return norm.cdf(t, loc=m, scale=s)
        if pop == "prompt":
            return _emg_cdf(t, m, s, self.tau_pi_us)
        a, b = self.tau_mu_us, self.tau_pi_us
        return (a * _emg_cdf(t, m, s, a) - b * _emg_cdf(t, m, s, b)) / (a - b)

    def pdf(self, population: str, t_us) -> np.ndarray:
        """Arrival-time density [1/us] of the ``"prompt"``, ``"delayed"`` or ``"pulse"`` population.

        Parameters
        ----------
        population : {"prompt", "delayed", "pulse"}
            Neutrino population (or the proton pulse itself).
        t_us : float or ndarray
            Time after the pulse reference [us].
        """
        t = np.asarray(t_us, dtype=float)
        m, s = float(self.mean_us), float(self.sigma_us)
        pop = _population(population, allow_pulse=True)
        if pop == "pulse":
            return norm.pdf(t, loc=m, scale=s)
        if pop == "prompt":
            return _emg_pdf(t, m, s, self.tau_pi_us)
        a, b = self.tau_mu_us, self.tau_pi_us
        return (a * _emg_pdf(t, m, s, a) - b * _emg_pdf(t, m, s, b)) / (a - b)

    def bin_probabilities(self, population: str, edges_us, efficiency: Callable | None = None,
                          max_sub_width_us: float = 0.005) -> np.ndarray:
        """Probability of arriving in each time bin, optionally weighted by an efficiency eps(t).

        Without an efficiency these are exact CDF differences. With one, each bin is split into
        sub-bins no wider than ``max_sub_width_us`` and ``sum_s [F(t_s+1) - F(t_s)] eps(mid_s)`` is
        returned (midpoint rule on the efficiency, exact on the arrival distribution).

        Parameters
        ----------
        population : {"prompt", "delayed", "pulse"}
        edges_us : array_like, shape (n + 1,)
            Strictly ascending finite bin edges [us].
        efficiency : callable, optional
            ``eps(t_us) -> array`` in [0, 1].

        Returns
        -------
        ndarray, shape (n,)
        """
        edges = np.asarray(edges_us, dtype=float)
        if edges.ndim != 1 or edges.size < 2 or not np.all(np.isfinite(edges)) or np.any(np.diff(edges) <= 0):
            raise ConfigError("SNS timing: time-bin edges must be a strictly ascending list of >= 2 finite values")
        if efficiency is None:
            return np.diff(self.cdf(population, edges))
        width = _positive("max_sub_width_us", max_sub_width_us)
        out = np.empty(edges.size - 1)
        for i, (a, b) in enumerate(zip(edges[:-1], edges[1:])):
            n = max(1, int(math.ceil((b - a) / width)))
            sub = np.linspace(a, b, n + 1)
            p = np.diff(self.cdf(population, sub))
            out[i] = float(np.sum(p * np.asarray(efficiency(0.5 * (sub[1:] + sub[:-1])), dtype=float)))
        return out

    def flavor_bin_probabilities(self, flavors, edges_us, efficiency: Callable | None = None) -> np.ndarray:
        """Rows of :meth:`bin_probabilities` for each flavour label, shape (n_flavors, n_bins).

        Parameters
        ----------
        flavors : sequence of str
            Flux labels (each mapped to its population by :func:`population_of`).
        edges_us : array_like
            Ascending time-bin edges [us].
        efficiency : callable, optional
            Time efficiency eps(t_us) (dimensionless) weighting the arrival distribution.
        """
        cache: dict[str, np.ndarray] = {}
        rows = []
        for f in flavors:
            pop = population_of(f)
            if pop not in cache:
                cache[pop] = self.bin_probabilities(pop, edges_us, efficiency)
            rows.append(cache[pop])
        return np.array(rows)


def _population(name: str, allow_pulse: bool = False) -> str:
    allowed = ("prompt", "delayed", "pulse") if allow_pulse else ("prompt", "delayed")
    if name not in allowed:
        raise ConfigError(f"SNS timing: population must be one of {allowed}, got {name!r}")
    return name


def binned_fluences_cm2(pot, nu_per_flavor_per_pot, distance_m, pulse: BeamPulse, edges_us,
                        flavors=("nu_mu", "nu_e", "nu_mu_bar"), flux_scale: float = 1.0,
                        efficiency: Callable | None = None) -> dict[str, np.ndarray]:
    """Fluence of each flavour in each arrival-time bin [cm^-2].

    ``Phi_f(bin) = flux_scale * N_POT r / (4 pi L^2) * P_f(bin)`` with ``P_f`` from
    :meth:`BeamPulse.bin_probabilities` (optionally efficiency-weighted); ``flux_scale`` is the
    flux-normalisation nuisance (1 + 10 % x theta for COHERENT).

    Parameters
    ----------
    pot : float
        Protons on target N_POT.
    nu_per_flavor_per_pot : float
        Neutrinos of each flavour per proton, r (dimensionless).
    distance_m : float
        Source-detector distance L [m].
    pulse : BeamPulse
        Arrival-time model.
    edges_us : array_like
        Ascending time-bin edges [us].
    flavors : sequence of str, optional
        Flux labels.
    flux_scale : float, optional
        Overall flux normalisation (dimensionless).
    efficiency : callable, optional
        Time efficiency eps(t_us) (dimensionless).

    Returns
    -------
    dict
        flavour -> ndarray of shape (n_bins,).
    """
    try:
        phi = fluence_per_flavor_cm2(pot, nu_per_flavor_per_pot, distance_m)
    except ValueError as exc:
        raise ConfigError(f"SNS timing: {exc}") from None
    scale = float(flux_scale)
    if not (math.isfinite(scale) and scale >= 0):
        raise ConfigError(f"SNS timing: flux_scale must be finite and >= 0, got {flux_scale!r}")
    rows = pulse.flavor_bin_probabilities(list(flavors), edges_us, efficiency)
    return {f: scale * phi * row for f, row in zip(flavors, rows)}
