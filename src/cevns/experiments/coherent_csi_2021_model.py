"""COHERENT CsI[Na] 2021 (arXiv:2110.07730): data, (PE x t_rec) templates and the binned likelihood.

CEvNS template (events per (PE, t) bin)::

    N_bt = sum_f  N_fb(PE)  P_f(t-bin; t_p + delta_t) eps_t

with ``N_fb`` the toolkit's rate engine (fluence ``N_POT r / 4 pi L^2`` per flavour, Helm form factors of
the package's Cs and I isotopes, the CsI 2021 response of :mod:`cevns.detectors.csi_2021`) and
``P_f`` the arrival-time probabilities of :mod:`cevns.sources.sns_timing` weighted by the time
efficiency. BRN and NIN: released PE PDF x time PDF (x time efficiency), normalised to the published
expected counts in 0-60 PE, 0-6 us. Steady state: the anti-coincidence (AC) sample as an on/off term,
uniform in time (x time efficiency; the AC time distribution agrees with that, chi2 ~ 10 for 11 dof).

Nuisances on CEvNS (histosys templates at +-1 sigma): the two scintillation principal components, the
energy efficiency, and the beam-timing onset (+-``onset_sigma_us``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Mapping

import numpy as np

from ..detectors.csi_2021 import CsI2021Response, EnergyEfficiency, ScintillationResponse, time_efficiency
from ..engine import RateEngine, Target
from ..errors import ConfigError
from ..physics import nuclei
from ..physics.settings import PhysicsSettings
from ..sources.sns_timing import BeamPulse
from ..sources.spallation import spallation_flux
from .coherent_data import (
    bin_events,
    check_edges_in_range,
    read_binned_pdf,
    read_coefficient_sets,
    read_event_list,
    rebin_fine_pdf,
)
from .coherent_inputs import CsI2021Inputs, load_inputs

__all__ = ["CsI2021Model", "load_csi_2021"]

#: Region in which the published BRN / NIN counts are quoted (PE, t_rec [us]).
_PUBLISHED_REGION = ((0.0, 60.0), (0.0, 6.0))


@dataclass
class CsI2021Model:
    """Everything needed to fit CsI 2021 on given (PE, t) edges.

    Build with :func:`load_csi_2021`; ``pe_edges`` / ``t_edges_us`` default to the published binning.

    Attributes
    ----------
    inputs : CsI2021Inputs
        The validated inputs file.
    path : pathlib.Path
        The inputs file (relative data files are resolved against its folder).
    pe_edges : numpy.ndarray
        Photo-electron (PE) bin edges.
    t_edges_us : numpy.ndarray
        Arrival-time bin edges [us].
    settings : PhysicsSettings
        Physics settings of the CEvNS prediction.
    """

    inputs: CsI2021Inputs
    path: Path
    pe_edges: np.ndarray
    t_edges_us: np.ndarray
    settings: PhysicsSettings

    def _file(self, rel: str) -> Path:
        p = (self.path.parent / rel).resolve()
        if not p.exists():
            raise ConfigError(f"{self.path.name}: data file {rel!r} not found")
        return p

    # ------------------------------------------------------------------ data
    def _events(self, which: str):
        d = self.inputs.data
        pe, t = read_event_list(self._file(getattr(d, which)))
        want = d.expected_counts.get(which)
        if want is not None and pe.size != want:
            raise ConfigError(f"{getattr(d, which)}: {pe.size} events, the release has {want}")
        return pe, t

    def counts(self, which: str = "coincidence") -> np.ndarray:
        """Binned beam-on events of the ``"coincidence"`` or ``"anticoincidence"`` window, shape (n_pe, n_t).

        Parameters
        ----------
        which : {"coincidence", "anticoincidence"}
            The event sample.

        Returns
        -------
        numpy.ndarray
            Events per (PE, t) bin.

        Raises
        ------
        ConfigError
            For an unknown sample or an event list whose size differs from the release.
        """
        if which not in ("coincidence", "anticoincidence"):
            raise ConfigError(f"unknown CsI 2021 sample {which!r}")
        pe, t = self._events(which)
        d = self.inputs.data
        return bin_events(pe, t, self.pe_edges, self.t_edges_us, d.pe_range, d.t_range_us)

    # ------------------------------------------------------------------ response pieces
    @cached_property
    def scintillation(self) -> ScintillationResponse:
        sets = read_coefficient_sets(self._file(self.inputs.detector.scintillation))
        if len(sets) != 5:
            raise ConfigError(f"{self.inputs.detector.scintillation}: expected 5 coefficient sets, got {len(sets)}")
        return ScintillationResponse(*sets)

    @cached_property
    def efficiency(self) -> EnergyEfficiency:
        sets = read_coefficient_sets(self._file(self.inputs.detector.efficiency))
        if len(sets) != 3:
            raise ConfigError(f"{self.inputs.detector.efficiency}: expected 3 coefficient sets, got {len(sets)}")
        return EnergyEfficiency(*sets)

    def time_efficiency(self, t_us) -> np.ndarray:
        """Time efficiency at arrival times ``t_us`` [us] (:func:`cevns.detectors.csi_2021.time_efficiency`).

        Parameters
        ----------
        t_us : array_like
            Arrival time [us].

        Returns
        -------
        numpy.ndarray
            Efficiency (dimensionless, between 0 and 1).
        """
        det = self.inputs.detector
        return time_efficiency(t_us, det.time_efficiency_onset_us, det.time_efficiency_slope_per_us)

    def pulse(self, onset_shift_us: float = 0.0) -> BeamPulse:
        """The beam pulse of the inputs file, its onset shifted by ``onset_shift_us``.

        Parameters
        ----------
        onset_shift_us : float, optional
            Shift of the beam-timing onset [us].

        Returns
        -------
        BeamPulse
        """
        tm = self.inputs.source.timing
        return BeamPulse(tm.pulse_mean_us, tm.pulse_sigma_us).shifted(onset_shift_us)

    def engine(self, theta_qf0: float = 0.0, theta_qf1: float = 0.0, theta_eff: float = 0.0,
               n_t: int = 300) -> RateEngine:
        """Rate engine of the PE bins at the given response nuisances (all flavours, whole exposure).

        Parameters
        ----------
        theta_qf0, theta_qf1 : float, optional
            Quenching (light-yield) nuisances in standard deviations of the released coefficient sets.
        theta_eff : float, optional
            Efficiency nuisance in standard deviations.
        n_t : int, optional
            Number of recoil-energy integration points.

        Returns
        -------
        RateEngine
        """
        src, det = self.inputs.source, self.inputs.detector
        response = CsI2021Response(self.scintillation, self.efficiency, self.pe_edges,
                                   det.light_yield_pe_per_kevee, det.gamma_beta_per_kevee,
                                   theta_qf0, theta_qf1, theta_eff)
        fluxes = spallation_flux(src.pot, src.nu_per_flavor_per_pot, src.distance_m)
        targets = [Target(t.isotope, t.nuclei_per_kg * det.mass_kg) for t in nuclei.target_nuclei(det.material)]
        return RateEngine(targets, fluxes, response, settings=self.settings, baseline_m=src.distance_m, n_t=n_t)

    def cevns_template(self, params: Mapping | None = None, onset_shift_us: float = 0.0, **response_nuisances):
        """CEvNS events per (PE, t) bin, shape (n_points, n_pe, n_t), for physics points ``params``.

        Parameters
        ----------
        params : mapping, optional
            Physics point(s).
        onset_shift_us : float, optional
            Shift of the beam-timing onset [us].
        **response_nuisances
            ``theta_qf0``, ``theta_qf1``, ``theta_eff``, ``n_t`` of :meth:`engine`.

        Returns
        -------
        numpy.ndarray
            Events per bin.
        """
        eng = self.engine(**response_nuisances)
        pred = eng.predict(params)
        rows = self.pulse(onset_shift_us).flavor_bin_probabilities(pred.flavors, self.t_edges_us,
                                                                   self.time_efficiency)
        return np.einsum("pfb,ft->pbt", pred.counts, rows)

    def background_template(self, name: str) -> np.ndarray:
        """BRN or NIN events per (PE, t) bin (time efficiency applied), shape (n_pe, n_t).

        Parameters
        ----------
        name : str
            Background name of the inputs file (e.g. ``"brn"``, ``"nin"``).

        Returns
        -------
        numpy.ndarray
            Events per bin: the released total times the PE and time PDFs, normalised in the published region.

        Raises
        ------
        ConfigError
            For an unknown background.
        """
        bgs = {b.name: b for b in self.inputs.backgrounds}
        if name not in bgs:
            raise ConfigError(f"unknown CsI 2021 background {name!r}; known: {sorted(bgs)}")
        bg = bgs[name]
        (pe_lo, pe_hi), (t_lo, t_hi) = _PUBLISHED_REGION
        c, v = read_binned_pdf(self._file(bg.pe_pdf))
        pe = rebin_fine_pdf(c, v, self.pe_edges) / rebin_fine_pdf(c, v, [pe_lo, pe_hi])[0]
        c, v = read_binned_pdf(self._file(bg.time_pdf))
        t = rebin_fine_pdf(c, v * self.time_efficiency(c), self.t_edges_us) / rebin_fine_pdf(c, v, [t_lo, t_hi])[0]
        return bg.events * np.outer(pe, t)

    # ------------------------------------------------------------------ likelihood
    def fit_inputs(self, params: Mapping | None = None, pooled: bool = True) -> dict:
        """Plain-array inputs of the (PE x t) binned likelihood (:meth:`cevns.stats.binned_templates.TemplateLikelihood.from_inputs`).

        CEvNS is free (its scale multiplies the prediction at ``params``); its nuisances act on the shape
        only (their normalisation effect is degenerate with the free scale), so scale x the nominal
        prediction is the fitted number of CEvNS events. BRN and NIN carry their relative priors. The
        steady state is :meth:`steady_state` (``pooled`` over time by default).
        """
        nominal = self.cevns_template(params)[0]
        sys = {}
        for key in ("theta_qf0", "theta_qf1", "theta_eff"):
            sys[key] = (self.cevns_template(params, **{key: 1.0})[0], self.cevns_template(params, **{key: -1.0})[0])
        s_on = self.inputs.source.timing.onset_sigma_us
        sys["theta_onset"] = (self.cevns_template(params, onset_shift_us=s_on)[0],
                              self.cevns_template(params, onset_shift_us=-s_on)[0])
        comps = [{"name": "cevns", "nominal": nominal, "sigma": None, "systematics": sys, "shape_only": True}]
        for bg in self.inputs.backgrounds:
            comps.append({"name": bg.name, "nominal": self.background_template(bg.name), "sigma": bg.sigma})
        return {"observed": self.counts("coincidence"), "components": comps, "onoff": self.steady_state(pooled)}

    def steady_state_time_fractions(self) -> np.ndarray:
        """Fraction of a time-uniform background in each t bin, weighted by the time efficiency."""
        t = self.t_edges_us
        fine = np.linspace(t[0], t[-1], 20 * int(np.ceil((t[-1] - t[0]) / 0.01)) + 1)
        mids = 0.5 * (fine[1:] + fine[:-1])
        w = self.time_efficiency(mids) * np.diff(fine)
        per_bin = np.array([w[(mids >= a) & (mids < b)].sum() for a, b in zip(t[:-1], t[1:])])
        return per_bin / per_bin.sum()

    def steady_state(self, pooled: bool = True) -> dict:
        """The steady-state on/off term from the anti-coincidence (AC) sample, as plain arrays.

        Keys ``off_counts``, ``ratio_sigma``, ``groups``, ``weights`` (see
        :class:`cevns.stats.binned_templates.OnOffBackground`). ``pooled`` (default): the steady state is
        uniform in time (x time efficiency), so the AC counts of each PE bin are pooled over time and
        shared out by :meth:`steady_state_time_fractions`; otherwise every (PE, t) bin has its own AC mean.
        """
        ac = self.counts("anticoincidence")
        sigma = self.inputs.data.steady_state_sigma
        if not pooled:
            return {"off_counts": ac.ravel(), "ratio_sigma": sigma, "groups": None, "weights": None}
        n_pe, n_t = ac.shape
        return {"off_counts": ac.sum(axis=1), "ratio_sigma": sigma, "groups": np.repeat(np.arange(n_pe), n_t),
                "weights": np.tile(self.steady_state_time_fractions(), n_pe)}


def load_csi_2021(inputs="coherent-csi-2021", pe_edges=None, t_edges_us=None,
                  settings: PhysicsSettings | None = None) -> CsI2021Model:
    """Load the CsI 2021 inputs (built-in name or path) with optional bin edges (checked against the data range).

    Parameters
    ----------
    inputs : str or pathlib.Path, optional
        Built-in inputs name or path of an inputs TOML file.
    pe_edges : array_like, optional
        Photo-electron (PE) bin edges (published binning if None).
    t_edges_us : array_like, optional
        Arrival-time bin edges [us] (published binning if None).
    settings : PhysicsSettings, optional
        Physics settings (defaults if None).

    Returns
    -------
    CsI2021Model

    Raises
    ------
    ConfigError
        If edges are not ascending or leave the data range.
    """
    spec, path = load_inputs(inputs, CsI2021Inputs)
    d = spec.data
    pe = check_edges_in_range(d.pe_edges if pe_edges is None else pe_edges, d.pe_range, "PE")
    t = check_edges_in_range(d.t_edges_us if t_edges_us is None else t_edges_us, d.t_range_us, "t_rec [us]")
    return CsI2021Model(spec, path, pe, t, settings or PhysicsSettings())
