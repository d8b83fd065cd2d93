"""COHERENT CENNS-10 LAr 2020 Analysis A: released 3D templates, likelihood, own CEvNS prediction.

The released PDFs (12 energy x 8 F90 x 10 time bins, events per bin for 6.12 GWh) are the fit model:
each component's template is scaled by ``s_c`` with the prior of the YAML (``N(1, sigma/events)``; CEvNS
free) and the released +-1 sigma shape variants are histosys nuisances (shape only; one-sided ones
mirrored). The CEvNS prediction of the toolkit's own physics (:func:`Ar2020Model.cevns_energy_prediction`)
uses QF = 0.246 + 7.8e-4 T[keVnr], sigma/E = 0.58/sqrt(E[keVee]), the released efficiency in keVee,
27.5 m, 1.38e23 POT, 0.09 nu/flavour/POT and 24.4 kg of natural argon.
"""

from __future__ import annotations

from dataclasses import dataclass
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
from ..sources.spallation import spallation_flux
from .coherent_data import read_3d_table
from .coherent_inputs import Ar2020Inputs, load_inputs

__all__ = ["Ar2020Model", "load_ar_2020"]


@dataclass
class Ar2020Model:
    """LAr 2020 inputs with template access; build with :func:`load_ar_2020`."""

    inputs: Ar2020Inputs
    path: Path
    settings: PhysicsSettings

    def _file(self, rel: str) -> Path:
        p = (self.path.parent / rel).resolve()
        if not p.exists():
            raise ConfigError(f"{self.path.name}: data file {rel!r} not found")
        return p

    def table(self, rel: str) -> np.ndarray:
        """A released 3D table, shape (12, 8, 10) = (energy, F90, time)."""
        return read_3d_table(self._file(rel))[3]

    def observed(self) -> np.ndarray:
        return self.table(self.inputs.data)

    def template(self, component: str) -> np.ndarray:
        comps = {c.name: c for c in self.inputs.components}
        if component not in comps:
            raise ConfigError(f"unknown LAr 2020 component {component!r}; known: {sorted(comps)}")
        return self.table(comps[component].template)

    def fit_inputs(self, free: tuple = (), drop_systematics: tuple = ()) -> dict:
        """Plain-array inputs of the 3D likelihood (:meth:`cevns.stats.binned_templates.TemplateLikelihood.from_inputs`).

        ``free`` names extra components whose prior is dropped; ``drop_systematics`` leaves out shape
        templates by name. Variations act on the shape only (each normalisation has its own prior).
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
            sys = {s.name: (self.table(s.up), None if s.down is None else self.table(s.down))
                   for s in self.inputs.shape_systematics if s.component == c.name and s.name not in drop_systematics}
            sigma = None if (c.free or c.name in free) else c.sigma / c.events
            comps.append({"name": c.name, "nominal": self.table(c.template), "sigma": sigma,
                          "systematics": sys, "shape_only": True})
        return {"observed": self.observed(), "components": comps, "onoff": None}

    # ------------------------------------------------------------------ own prediction
    def engine(self, n_t: int = 300) -> RateEngine:
        """Rate engine binned in reconstructed energy (keVee) on ``energy_edges_kevee``."""
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
        """CEvNS events per energy bin (all times and F90), shape (n_points, n_energy_bins)."""
        return self.engine().predict(params).per_bin


def load_ar_2020(inputs="coherent-ar-2020", settings: PhysicsSettings | None = None) -> Ar2020Model:
    """Load the LAr 2020 inputs (built-in name or path)."""
    spec, path = load_inputs(inputs, Ar2020Inputs)
    return Ar2020Model(spec, path, settings or PhysicsSettings())
