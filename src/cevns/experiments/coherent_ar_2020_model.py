"""COHERENT CENNS-10 LAr 2020 Analysis A: released 3D templates, likelihood, own CEvNS prediction.

The released PDFs (12 energy x 8 F90 x 10 time bins, events per bin for 6.12 GWh) are the fit model:
each component's template is scaled by ``s_c`` with the prior of the YAML (``N(1, sigma/events)``; CEvNS
free) and the released +-1 sigma shape variants are histosys nuisances (shape only; one-sided ones
mirrored). The CEvNS prediction of the toolkit's own physics (:func:`Ar2020Model.cevns_energy_prediction`)
uses QF = 0.246 + 7.8e-4 T[keVnr], sigma/E = 0.58/sqrt(E[keVee]), the released efficiency in keVee,
27.5 m, 1.38e23 POT, 0.09 nu/flavour/POT and 24.4 kg of natural argon, and the SNS arrival times of
:mod:`cevns.sources.sns_timing` (pulse 440 ns, 150 ns; the onset is a nuisance). Its 3D form
(:meth:`Ar2020Model.cevns_prediction`) takes the F90 distribution of each energy bin from the released
CEvNS PDF (the toolkit has no pulse-shape model)::

    N[e, f, t] = sum_flavours N_engine[flavour, e] P_flavour(t) * P_release(f | e)
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Mapping

import numpy as np

from ..detectors.efficiency import Efficiency
from ..detectors.quenching import Quenching
from ..detectors.response import DetectorResponse
from ..engine import RateEngine, Target
from ..errors import ConfigError
from ..physics import nuclei
from ..physics.settings import PhysicsSettings
from ..sources.sns_timing import BeamPulse
from ..sources.spallation import spallation_flux
from .coherent_data import read_3d_table
from .coherent_inputs import Ar2020Inputs, load_inputs

__all__ = ["Ar2020Model", "load_ar_2020"]


@dataclass
class Ar2020Model:
    """LAr 2020 inputs with template access; build with :func:`load_ar_2020`.

    Attributes
    ----------
    inputs : Ar2020Inputs
        The validated inputs file.
    path : pathlib.Path
        The inputs file (relative data files are resolved against its folder).
    settings : PhysicsSettings
        Physics settings of the CEvNS prediction.
    """

    inputs: Ar2020Inputs
    path: Path
    settings: PhysicsSettings

    def _file(self, rel: str) -> Path:
        p = (self.path.parent / rel).resolve()
        if not p.exists():
            raise ConfigError(f"{self.path.name}: data file {rel!r} not found")
        return p

    def table(self, rel: str) -> np.ndarray:
        """A released 3D table, shape (12, 8, 10) = (energy, F90, time).

        Parameters
        ----------
        rel : str
            File path relative to the inputs file.

        Returns
        -------
        numpy.ndarray
            Events per bin, shape (12, 8, 10).

        Raises
        ------
        ConfigError
            If the file is missing or not a (12, 8, 10) grid.
        """
        return read_3d_table(self._file(rel))[3]

    def observed(self) -> np.ndarray:
        """Observed events per (energy, F90, time) bin, shape (12, 8, 10)."""
        return self.table(self.inputs.data)

    def template(self, component: str) -> np.ndarray:
        """Released template of a component: events per (energy, F90, time) bin, shape (12, 8, 10).

        Parameters
        ----------
        component : str
            Component name of the inputs file (e.g. ``"cevns"``, ``"brn"``).

        Returns
        -------
        numpy.ndarray

        Raises
        ------
        ConfigError
            For an unknown component.
        """
        comps = {c.name: c for c in self.inputs.components}
        if component not in comps:
            raise ConfigError(f"unknown LAr 2020 component {component!r}; known: {sorted(comps)}")
        return self.table(comps[component].template)

    def fit_inputs(self, free: tuple = (), drop_systematics: tuple = (), own_cevns: bool = False,
                   params: Mapping | None = None) -> dict:
        """Plain-array inputs of the 3D likelihood (:meth:`cevns.stats.binned_templates.TemplateLikelihood.from_inputs`).

        ``free`` names extra components whose prior is dropped; ``drop_systematics`` leaves out shape
        templates by name. Variations act on the shape only (each normalisation has its own prior).
        ``own_cevns``: the CEvNS template is :meth:`cevns_prediction` at ``params`` (scale 1 = that
        prediction), the released CEvNS variations enter as ratios to the released nominal, and the
        beam-timing onset (+-``onset_sigma_us``) is an extra shape nuisance ``theta_onset``.
        """
        names = {c.name for c in self.inputs.components}
        bad = set(free) - names
        if bad:
            raise ConfigError(f"cannot free unknown component(s) {sorted(bad)}; known: {sorted(names)}")
        known = {s.name for s in self.inputs.shape_systematics}
        bad = set(drop_systematics) - known
        if bad:
            raise ConfigError(f"unknown shape systematic(s) {sorted(bad)}; known: {sorted(known)}")
        comps = []
        for c in self.inputs.components:
            nominal = self.table(c.template)
            sys = {s.name: (self.table(s.up), None if s.down is None else self.table(s.down))
                   for s in self.inputs.shape_systematics if s.component == c.name and s.name not in drop_systematics}
            sigma = None if (c.free or c.name in free) else c.sigma / c.events
            if own_cevns and c.name == "cevns":
                own = self.cevns_prediction(params)[0]
                ratio = lambda h: np.divide(h, nominal, out=np.ones_like(h), where=nominal > 0)  # noqa: E731
                sys = {k: (own * ratio(u), None if d is None else own * ratio(d)) for k, (u, d) in sys.items()}
                s_on = self.inputs.source.timing.onset_sigma_us
                sys["theta_onset"] = (self.cevns_prediction(params, s_on)[0], self.cevns_prediction(params, -s_on)[0])
                nominal = own
            comps.append({"name": c.name, "nominal": nominal, "sigma": sigma, "systematics": sys, "shape_only": True})
        return {"observed": self.observed(), "components": comps, "onoff": None}

    # ------------------------------------------------------------------ own prediction
    def pulse(self, onset_shift_us: float = 0.0) -> BeamPulse:
        """The SNS proton pulse of the inputs, its onset shifted by ``onset_shift_us``."""
        tm = self.inputs.source.timing
        return BeamPulse(tm.pulse_mean_us, tm.pulse_sigma_us).shifted(onset_shift_us)

    @cached_property
    def _engine(self) -> RateEngine:
        return self.engine()

    def engine(self, n_t: int = 300) -> RateEngine:
        """Rate engine binned in reconstructed energy (keVee) on ``energy_edges_kevee``.

        Parameters
        ----------
        n_t : int, optional
            Number of recoil-energy integration points.

        Returns
        -------
        RateEngine
        """
        src, det = self.inputs.source, self.inputs.detector
        kev, _, eff = np.loadtxt(self._file(det.efficiency), unpack=True)
        response = DetectorResponse(
            quenching=Quenching("polynomial", {"coeffs": list(det.quenching)}),
            observable="kevee", light_yield_pe_per_kevee=None, smearing="gaussian",
            smearing_params={"linear": det.resolution_a_sqrt_kevee**2},
            efficiency=Efficiency("tabulated", {"xs": kev, "ys": eff}),
            bin_edges=np.asarray(self.inputs.energy_edges_kevee, dtype=float))
        fluxes = spallation_flux(src.pot, src.nu_per_flavor_per_pot, src.distance_m)
        targets = [Target(t.isotope, t.nuclei_per_kg * det.mass_kg) for t in nuclei.target_nuclei(det.material)]
        return RateEngine(targets, fluxes, response, settings=self.settings, baseline_m=src.distance_m, n_t=n_t)

    def cevns_energy_prediction(self, params: Mapping | None = None) -> np.ndarray:
        """CEvNS events per energy bin (all times and F90), shape (n_points, n_energy_bins).

        Parameters
        ----------
        params : mapping, optional
            Physics point(s) (Standard Model defaults for missing parameters).

        Returns
        -------
        numpy.ndarray
            Events per bin.
        """
        return self._engine.predict(params).per_bin

    def cevns_energy_time_prediction(self, params: Mapping | None = None, onset_shift_us: float = 0.0):
        """CEvNS events per (energy, time) bin, shape (n_points, n_energy, n_time).

        The energy spectrum of each flavour times the fraction of its arrival-time distribution (beam pulse
        convolved with the parent lifetimes) in each time bin.

        Parameters
        ----------
        params : mapping, optional
            Physics point(s).
        onset_shift_us : float, optional
            Shift of the beam-timing onset [us].

        Returns
        -------
        numpy.ndarray
            Events per bin.
        """
        pred = self._engine.predict(params)
        rows = self.pulse(onset_shift_us).flavor_bin_probabilities(pred.flavors, self.inputs.time_edges_us)
        return np.einsum("pfe,ft->pet", pred.counts, rows)

    def released_f90_fractions(self) -> np.ndarray:
        """P(F90 bin | energy bin) of the released CEvNS PDF, shape (n_energy, n_f90).

        Energy bins where the released PDF is empty take the fractions of the nearest non-empty bin below.
        """
        ef = self.template("cevns").sum(axis=2)
        tot = ef.sum(axis=1)
        out = np.zeros_like(ef)
        last = None
        for i in range(ef.shape[0]):
            if tot[i] > 0:
                last = ef[i] / tot[i]
            if last is None:
                raise ConfigError("released CEvNS PDF: the lowest energy bin is empty")
            out[i] = last
        return out

    def cevns_prediction(self, params: Mapping | None = None, onset_shift_us: float = 0.0) -> np.ndarray:
        """CEvNS events per (energy, F90, time) bin, shape (n_points, 12, 8, 10) (module docstring).

        Parameters
        ----------
        params : mapping, optional
            Physics point(s).
        onset_shift_us : float, optional
            Shift of the beam-timing onset [us].

        Returns
        -------
        numpy.ndarray
            Events per bin.

        Raises
        ------
        ConfigError
            If the edges of the inputs file do not match the released 3D grid.
        """
        et = self.cevns_energy_time_prediction(params, onset_shift_us)
        f90 = self.released_f90_fractions()
        if f90.shape[0] != et.shape[1] or self.observed().shape != (et.shape[1], f90.shape[1], et.shape[2]):
            raise ConfigError("LAr 2020: energy/time edges of inputs.toml do not match the released 3D grid")
        return np.einsum("pet,ef->peft", et, f90)


def load_ar_2020(inputs="coherent-ar-2020", settings: PhysicsSettings | None = None) -> Ar2020Model:
    """Load the LAr 2020 inputs (built-in name or path).

    Parameters
    ----------
    inputs : str or pathlib.Path, optional
        Built-in inputs name or path of an inputs TOML file.
    settings : PhysicsSettings, optional
        Physics settings (defaults if None).

    Returns
    -------
    Ar2020Model
    """
    spec, path = load_inputs(inputs, Ar2020Inputs)
    return Ar2020Model(spec, path, settings or PhysicsSettings())
