"""Expected counts of the XENONnT solar-8B analysis: CEvNS from the release's mono-energetic templates + backgrounds.

Per science run r and analysis bin b (81 bins, flattened C-order from the (3, 3, 3, 3) release layout)::

    mu_rb = exposure_r * [ sum_c s_c * sum_i R_c(T_i) * eps_rib(tly, tqy)           (CEvNS, c = 8B, hep)
                           + a_ac,r AC_rb + a_er ER_rb + a_n N_rb(tly, tqy) ]         (backgrounds)

R_c(T_i) is the CEvNS recoil rate [events / t / yr] of component c in the 0.1-keV bin centred on the
mono-energetic template energy T_i (0.5 ... 5.0 keVnr), computed by the rate engine for natural xenon
(all nine stable isotopes with their natural abundances, Helm form factors) and a physics point;
eps_rib is the release's detection efficiency, bilinear in the yield nuisances (tly, tqy) between the
grid nodes (exact at the nodes). s_c scales the SSM flux of component c; AC, ER, N are the release's
background rates [events / t / yr]; a_* their normalisations.

This is the layer below the statistics: :mod:`cevns.stats.template_fit` builds the likelihood.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from ...detectors.response import DetectorResponse
from ...engine import RateEngine, Target
from ...physics import nuclei
from ...physics.constants import SECONDS_PER_YEAR
from ...physics.settings import PhysicsSettings
from ...sources import solar
from .release import MONO_ENERGIES_KEV, RunTemplates, check_runs, interpolate_grid, load_runs

#: Width [keVnr] of the recoil bin each mono-energetic template stands for (the template spacing).
MONO_BIN_WIDTH_KEV = 0.1


def mono_bin_edges_kev() -> np.ndarray:
    """Recoil-energy bin edges [keVnr] centred on the mono-energetic template energies."""
    e = MONO_ENERGIES_KEV
    return np.concatenate([e - 0.5 * MONO_BIN_WIDTH_KEV, [e[-1] + 0.5 * MONO_BIN_WIDTH_KEV]])


def xenon_targets(mass_kg: float = 1000.0) -> list:
    """Natural-xenon target isotopes (abundances from ``periodictable``) for ``mass_kg`` of xenon."""
    return [Target(t.isotope, t.nuclei_per_kg * mass_kg) for t in nuclei.target_nuclei("Xe")]


def recoil_rate_engine(component: str = "8B", solar_model: str = "B16-GS98", settings=None,
                       edges_kev=None, osc=solar.NUFIT_5_0, n_t: int = 400) -> RateEngine:
    """Rate engine of ``component`` CEvNS in one tonne of xenon over one year, binned in keVnr.

    ``predict(params).per_bin`` gives events / t / yr in the bins ``edges_kev`` (default: the 46
    0.1-keV bins of the mono-energetic templates); the flux is the SSM one (``solar_model``).

    Parameters
    ----------
    component : {"8B", "hep"}, optional
        Solar neutrino flux component.
    solar_model : {"B16-GS98", "B16-AGSS09met"}, optional
        Standard solar model of the flux.
    settings : PhysicsSettings, optional
        Physics settings (defaults if None).
    edges_kev : array_like, optional
        Nuclear-recoil bin edges [keVnr].
    osc : OscillationParameters, optional
        Oscillation parameters of the solar survival probabilities.
    n_t : int, optional
        Number of recoil-energy integration points.

    Returns
    -------
    RateEngine
    """
    edges = mono_bin_edges_kev() if edges_kev is None else np.asarray(edges_kev, dtype=float)
    response = DetectorResponse(quenching=None, observable="kevnr", light_yield_pe_per_kevee=None,
                                smearing="none", smearing_params={}, efficiency=None, bin_edges=edges)
    fluxes = solar.solar_flux((component,), model=solar_model, exposure_s=SECONDS_PER_YEAR, osc=osc)
    return RateEngine(xenon_targets(), fluxes, response, settings=settings or PhysicsSettings(),
                      baseline_m=solar.AU_M, n_t=n_t)


@dataclass
class XenonntModel:
    """Expected counts per run for the XENONnT 8B likelihood (see module docstring).

    Parameters
    ----------
    runs : mapping run name -> RunTemplates
    recoil_rates : mapping component -> ndarray (46,)
        Events / t / yr in each mono-energetic bin at the SSM flux (from :func:`recoil_rate_engine`).
    ssm_flux_cm2_s : mapping component -> float
        The flux the recoil rates correspond to [cm^-2 s^-1].
    """

    runs: Mapping[str, RunTemplates]
    recoil_rates: Mapping[str, np.ndarray]
    ssm_flux_cm2_s: Mapping[str, float]
    _signal_grid: dict = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self):
        for comp, rate in self.recoil_rates.items():
            rate = np.asarray(rate, dtype=float)
            if rate.shape != MONO_ENERGIES_KEV.shape:
                raise ValueError(f"recoil rate of {comp} must have shape {MONO_ENERGIES_KEV.shape}")
            for run, t in self.runs.items():
                # sum_i R(T_i) eps_i(tly, tqy) on the grid nodes: (7, 7, 3, 3, 3, 3)
                self._signal_grid[(comp, run)] = np.tensordot(rate, t.mono, axes=(0, 0))

    @property
    def run_names(self) -> tuple:
        """Names of the science runs in the model, e.g. ``("sr0", "sr1")``."""
        return tuple(self.runs)

    def observed(self, run: str) -> np.ndarray:
        """Observed events per bin (81,) of ``run``."""
        return np.asarray(self.runs[run].observed, dtype=float).ravel()

    def signal(self, run: str, component: str = "8B", tly: float = 0.0, tqy: float = 0.0) -> np.ndarray:
        """CEvNS events per bin (81,) of ``run`` at the SSM flux of ``component``.

        Parameters
        ----------
        run : str
            Science run.
        component : {"8B", "hep"}, optional
            Solar neutrino flux component.
        tly, tqy : float, optional
            Light- and charge-yield nuisances in standard deviations (template grid [-3, 3]).

        Returns
        -------
        numpy.ndarray
            Events per bin.
        """
        t = self.runs[run]
        return t.exposure_t_yr * interpolate_grid(self._signal_grid[(component, run)], tly, tqy).ravel()

    def backgrounds(self, run: str, tly: float = 0.0, tqy: float = 0.0) -> dict:
        """Background events per bin (81,) of ``run`` at nominal normalisation: ac, er, neutron.

        Parameters
        ----------
        run : str
            Science run.
        tly, tqy : float, optional
            Light- and charge-yield nuisances in standard deviations (they move the neutron template).

        Returns
        -------
        dict of str to numpy.ndarray
        """
        t = self.runs[run]
        x = t.exposure_t_yr
        return {"ac": x * t.ac.ravel(), "er": x * t.er.ravel(), "neutron": x * t.neutron_at(tly, tqy).ravel()}

    def expected(self, run: str, flux_scale: Mapping[str, float] | None = None, tly: float = 0.0,
                 tqy: float = 0.0, ac: float = 1.0, er: float = 1.0, neutron: float = 1.0) -> np.ndarray:
        """Total expected events per bin (81,) of ``run``.

        ``flux_scale[c]`` multiplies the SSM flux of component c (default 1 for every component).

        Parameters
        ----------
        run : str
            Science run.
        flux_scale : mapping of str to float, optional
            Flux of each solar component relative to the SSM.
        tly, tqy : float, optional
            Light- and charge-yield nuisances in standard deviations.
        ac, er, neutron : float, optional
            Normalisations of the accidental-coincidence, electronic-recoil and neutron backgrounds
            (dimensionless, nominal 1).

        Returns
        -------
        numpy.ndarray
            Events per bin.
        """
        scale = {c: 1.0 for c in self.recoil_rates}
        scale.update(flux_scale or {})
        mu = sum(s * self.signal(run, c, tly, tqy) for c, s in scale.items())
        b = self.backgrounds(run, tly, tqy)
        return mu + ac * b["ac"] + er * b["er"] + neutron * b["neutron"]


def build_model(runs=("sr0", "sr1"), release=None, params=None, solar_model: str = "B16-GS98",
                components=("8B", "hep"), settings=None, osc=solar.NUFIT_5_0) -> XenonntModel:
    """The :class:`XenonntModel` of science runs ``runs``.

    Parameters
    ----------
    runs : sequence of {"sr0", "sr1", "sr2"}
    release : path-like or None
        A user's copy of the release folder; ``None`` uses the shipped derived templates.
    params : mapping or PhysicsPoint, optional
        Physics point of the CEvNS prediction (SM by default; NSI etc. act through the flavour mix).
    solar_model : {"B16-GS98", "B16-AGSS09met"}
    components : sequence of {"8B", "hep"}
    settings : PhysicsSettings, optional
        Physics settings of the CEvNS prediction.
    osc : OscillationParameters, optional
        Oscillation parameters of the solar survival probabilities.
    """
    runs = check_runs(runs)
    data = load_runs(runs, release)
    rates, fluxes = {}, {}
    for comp in components:
        eng = recoil_rate_engine(comp, solar_model, settings, osc=osc)
        rates[comp] = eng.predict(params).per_bin[0]
        fluxes[comp] = solar.ssm_flux(comp, solar_model)[0]
    return XenonntModel(data, rates, fluxes)
