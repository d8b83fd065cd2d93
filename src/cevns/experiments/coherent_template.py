"""The ``coherent-template`` experiment kind: COHERENT CsI 2021 and LAr 2020 as template likelihoods.

An ``experiment.toml`` with ``kind = "coherent-template"`` names the analysis inputs (``inputs``, an
``inputs.toml`` read by :mod:`cevns.experiments.coherent_inputs`), the data set (``model = "csi-2021"``
or ``"ar-2020"``), optionally the binning (``[binning] pe_edges, t_edges_us``, CsI only, checked
against the released event lists) and ``[fit]``: ``free`` (components whose normalisation has no
prior, e.g. ``["cevns"]``) and ``systematics`` (the shape nuisances used, default all).

The built experiment gives, for arrays of physics points, plain-array templates
(:meth:`CoherentTemplateExperiment.template_inputs`): the CEvNS template predicted by the toolkit's
rate engine (per flavour x arrival-time probabilities) with its +-1 sigma variations, each evaluated
at the physics point itself (so BSM parameters change the nominal and the variations consistently),
the background templates with their priors and shape variations, and the on/off steady-state term.

CEvNS nuisances: CsI -- scintillation principal components ``theta_qf0``, ``theta_qf1``, energy
efficiency ``theta_eff``, beam-timing onset ``theta_onset``, flux normalisation (the prior of
``s_cevns``, 10 %) unless CEvNS is free; LAr -- the released F90 and timing-mean variations (as ratios to
the released nominal, applied to the own prediction), ``theta_onset``, and the YAML prior (128 +- 17)
unless free. With CEvNS free, the variations act on the shape only.
"""

from __future__ import annotations

import copy as _copy
from functools import cached_property
from pathlib import Path
from typing import Mapping

import numpy as np

from ..engine import Prediction
from ..engine.flux_averaged import sns_flux_averaged_cross_section_cm2
from ..errors import ConfigError
from ..physics.parameters import PhysicsPoint
from .coherent_ar_2020_model import Ar2020Model
from .coherent_csi_2021_model import CsI2021Model
from .coherent_data import read_3d_table
from .prediction_tables import template_prediction_tables

__all__ = ["CoherentTemplateExperiment", "KIND"]

KIND = "coherent-template"
_CSI_SYS = ("theta_qf0", "theta_qf1", "theta_eff", "theta_onset")


def _shape_only(h0: np.ndarray, h: np.ndarray) -> np.ndarray:
    """``h`` rescaled per point to the total of ``h0`` (last axis summed)."""
    t0 = h0.sum(axis=-1, keepdims=True)
    t = h.sum(axis=-1, keepdims=True)
    return h * np.divide(t0, t, out=np.ones_like(t), where=t > 0)


class CoherentTemplateExperiment:
    """A COHERENT data set as templates (module docstring). Build with
    :func:`cevns.experiments.coherent_template_build.build_coherent_template`.

    Attributes
    ----------
    name : str
    path : Path
        The ``experiment.toml``.
    model : CsI2021Model or Ar2020Model
    free : tuple of str
        Components without a normalisation prior.
    systematics : tuple of str
        Shape nuisances in use.
    files : list of Path
        Files read (for the experiment cache).
    """

    def __init__(self, name: str, path: Path, model, free=(), systematics=None, files=()):
        self.name = name
        self.path = Path(path)
        self.model = model
        self.is_csi = isinstance(model, CsI2021Model)
        known = set(self.component_names)
        bad = sorted(set(free) - known)
        if bad:
            raise ConfigError(f"{self.path}: fit.free: unknown component(s) {bad}; known: {sorted(known)}")
        self.free = tuple(free)
        avail = self.available_systematics
        if systematics is None:
            systematics = avail
        bad = sorted(set(systematics) - set(avail))
        if bad:
            raise ConfigError(f"{self.path}: fit.systematics: no template for nuisance(s) {bad}; "
                              f"available: {list(avail)}")
        self.systematics = tuple(s for s in avail if s in systematics)
        self.files = list(files)
        self.sideband = None
        self.backgrounds: dict = {}
        self.spec = None
        self.default_likelihood = "template_poisson"

    # ------------------------------------------------------------------ description
    @property
    def component_names(self) -> list[str]:
        """Template components (scale parameters ``s_<name>``); the CsI steady state is the on/off term."""
        if self.is_csi:
            return ["cevns"] + [b.name for b in self.model.inputs.backgrounds]
        return [c.name for c in self.model.inputs.components]

    @property
    def available_systematics(self) -> tuple[str, ...]:
        """Names of every shape nuisance the data set provides templates for."""
        if self.is_csi:
            return _CSI_SYS
        return tuple(s.name for s in self.model.inputs.shape_systematics) + ("theta_onset",)

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of the binned data: (PE, t) for CsI, (energy, F90, t) for LAr."""
        return tuple(self.observed_grid.shape)

    @cached_property
    def observed_grid(self) -> np.ndarray:
        """Observed counts on the analysis grid (unflattened)."""
        return self.model.counts("coincidence") if self.is_csi else self.model.observed()

    @property
    def observed(self) -> np.ndarray:
        """Observed counts, flattened (C order)."""
        return self.observed_grid.ravel()

    def copy(self) -> "CoherentTemplateExperiment":
        """A shallow copy sharing the (read-only) model, templates and engines."""
        return _copy.copy(self)

    def settings(self, params: Mapping | None = None) -> dict:
        """Physics settings in use (for analysis descriptions).

        Parameters
        ----------
        params : mapping, optional
            Unused (the settings do not depend on the physics point; kept for the experiment interface).

        Returns
        -------
        dict
            The :class:`~cevns.physics.settings.PhysicsSettings` of the data-set model as a dict.
        """
        return self.model.settings.model_dump() if hasattr(self.model.settings, "model_dump") else {}

    def describe(self) -> dict:
        """JSON-compatible summary: kind, data set, binning, components, nuisances, observed total."""
        out = {"name": self.name, "kind": KIND, "path": str(self.path), "components": self.component_names,
               "free": list(self.free), "shape_nuisances": list(self.systematics),
               "bins": list(self.shape), "observed_events": float(self.observed.sum())}
        if self.is_csi:
            out["pe_edges"] = self.model.pe_edges.tolist()
            out["t_edges_us"] = self.model.t_edges_us.tolist()
            out["anticoincidence_events"] = float(self.model.counts("anticoincidence").sum())
        return out

    # ------------------------------------------------------------------ CEvNS prediction
    @cached_property
    def _engines(self) -> dict:
        """Rate engines: nominal and, for CsI, at +-1 sigma of each response nuisance."""
        if not self.is_csi:
            return {"nominal": self.model._engine}
        out = {"nominal": self.model.engine()}
        for key in ("theta_qf0", "theta_qf1", "theta_eff"):
            if key in self.systematics:
                out[(key, 1)] = self.model.engine(**{key: 1.0})
                out[(key, -1)] = self.model.engine(**{key: -1.0})
        return out

    @property
    def engine(self):
        """The nominal CEvNS rate engine (energy or PE bins, all arrival times)."""
        return self._engines["nominal"]

    def predict(self, params: Mapping | None = None):
        """CEvNS prediction in the analysis window: per flavour and PE (CsI) or keVee (LAr) bin.

        The flavour x bin counts of :meth:`cevns_flavor_grid` summed over the arrival-time bins (LAr also
        over F90), so ``predict(p).total`` is the sum of the nominal template of :meth:`cevns_templates`
        (the all-arrival-times spectrum is ``engine.predict``).

        Parameters
        ----------
        params : mapping of str to float or ndarray, optional
            Physics parameter values (scalars or arrays over points); defaults of the engine for the rest.

        Returns
        -------
        cevns.engine.Prediction
            Counts [events] per point, flavour and PE / energy bin.
        """
        flavors, grid = self.cevns_flavor_grid(params)
        counts = grid.reshape(grid.shape[:3] + (-1,)).sum(axis=-1)
        return Prediction(counts=counts, flavors=list(flavors), bin_edges=np.asarray(self.axes[0]["edges"], float))

    def total(self, params: Mapping | None = None) -> np.ndarray:
        """CEvNS events in the analysis window, summed over bins and flavours (``predict(params).total``).

        Parameters
        ----------
        params : mapping of str to float or ndarray, optional
            Physics parameter values (scalars or arrays over points); defaults of the engine for the rest.

        Returns
        -------
        ndarray, shape (n_points,)
            Expected CEvNS events.
        """
        return self.predict(params).total

    @cached_property
    def axes(self) -> list[dict]:
        """The analysis grid: ``{"name", "unit", "edges"}`` per axis -- CsI (PE, t [us]), LAr (energy [keVee],
        F90, t [us]); the F90 edges are the midpoints between the released bin centres."""
        if self.is_csi:
            return [{"name": "pe", "unit": "PE", "edges": self.model.pe_edges.tolist()},
                    {"name": "t", "unit": "us", "edges": self.model.t_edges_us.tolist()}]
        inp = self.model.inputs
        f90 = read_3d_table(self.model.path.parent / inp.data)[1]
        half = 0.5 * float(np.diff(f90).mean())
        f90_edges = np.append(f90 - half, f90[-1] + half)
        return [{"name": "energy", "unit": "keVee", "edges": list(inp.energy_edges_kevee)},
                {"name": "f90", "unit": "", "edges": np.round(f90_edges, 6).tolist()},
                {"name": "t", "unit": "us", "edges": list(inp.time_edges_us)}]

    def cevns_flavor_grid(self, params: Mapping | None = None) -> tuple[list, np.ndarray]:
        """CEvNS events per flavour on the analysis grid (nominal response and beam timing).

        ``N[p, f, b, t] = N_engine[p, f, b] P_f(t)`` (CsI, P_f with the time efficiency) and
        ``N[p, f, e, g, t] = N_engine[p, f, e] P_f(t) P_release(g | e)`` (LAr); summed over flavours this
        is the nominal template of :meth:`cevns_templates`.

        Parameters
        ----------
        params : mapping of str to float or ndarray, optional
            Physics parameter values (scalars or equal-length arrays over points).

        Returns
        -------
        flavors : list of str
        grid : ndarray, shape (n_points, n_flavors) + :attr:`shape`
            Expected events.
        """
        sizes = [np.size(v) for v in dict(params or {}).values() if np.ndim(v) > 0]
        n = max(sizes, default=1)
        pred = self.engine.predict(self._point(params, n))
        counts = np.broadcast_to(pred.counts, (n,) + pred.counts.shape[1:])
        rows = self._time_rows(pred.flavors, 0.0)
        if self.is_csi:
            return list(pred.flavors), np.einsum("pfb,ft->pfbt", counts, rows)
        f90 = self.model.released_f90_fractions()
        return list(pred.flavors), np.einsum("pfe,ft,eg->pfegt", counts, rows, f90)

    def background_expectations(self) -> dict:
        """Nominal background events on the analysis grid: ``name -> (grid (shape), source text)``.

        The components of :attr:`background_inputs` at their nominal normalisation; for CsI also the steady
        state expected in the coincidence window from the anti-coincidence counts (the on/off term at
        ratio 1, :attr:`onoff`).

        Returns
        -------
        dict
            ``{name: (ndarray of shape :attr:`shape`, str)}``.
        """
        shape = self.shape
        src = ("released total x PE and time PDFs (time efficiency applied)" if self.is_csi
               else "released template at the released normalisation")
        out = {b["name"]: (np.asarray(b["nominal"], float).reshape(shape), src) for b in self.background_inputs}
        if self.onoff is not None:
            ss = self.onoff["membership"] @ self.onoff["off_counts"]
            out["steady_state"] = (ss.reshape(shape), "anti-coincidence (beam-off window) counts, on/off ratio 1")
        return out

    def describe_prediction(self, params: Mapping | None = None) -> dict:
        """The CEvNS prediction at one physics point with the background expectations, as tables
        (:func:`cevns.experiments.prediction_tables.template_prediction_tables`).

        Parameters
        ----------
        params : mapping of str to float, optional
            Physics parameter values of one point; engine defaults for the rest.

        Returns
        -------
        dict
            JSON-compatible tables (totals, per flavour, per-axis projections, full grid).
        """
        return template_prediction_tables(self, params)

    def _time_rows(self, flavors, shift_us: float) -> np.ndarray:
        pulse = self.model.pulse(shift_us)
        if self.is_csi:
            return pulse.flavor_bin_probabilities(flavors, self.model.t_edges_us, self.model.time_efficiency)
        return pulse.flavor_bin_probabilities(flavors, self.model.inputs.time_edges_us)

    def _point(self, params, n: int) -> PhysicsPoint:
        eng = self.engine
        flat = {k: (v if np.ndim(v) == 0 else np.broadcast_to(v, (n,))) for k, v in dict(params or {}).items()}
        return PhysicsPoint(flat, defaults=eng.defaults)

    def _cevns(self, engine, pt, n: int, shift_us: float = 0.0) -> np.ndarray:
        pred = engine.predict(pt)
        counts = np.broadcast_to(pred.counts, (n,) + pred.counts.shape[1:])
        rows = self._time_rows(pred.flavors, shift_us)
        if self.is_csi:
            return np.einsum("pfb,ft->pbt", counts, rows).reshape(n, -1)
        f90 = self.model.released_f90_fractions()
        return np.einsum("pke,kt,eg->pegt", counts, rows, f90).reshape(n, -1)

    def cevns_templates(self, params: Mapping | None = None, n: int = 1) -> tuple[np.ndarray, dict]:
        """CEvNS nominal template and its +-1 sigma variations at ``n`` physics points.

        The engine's counts per flavour and energy (PE) bin times the per-flavour arrival-time bin
        probabilities (LAr also times the released F90 fractions). CsI: variations from engines at +-1 sigma of
        each QF principal component and of the efficiency; LAr: the released F90 / timing variations as ratios
        to the released nominal, applied to the own nominal; both: ``theta_onset`` from the timing pulse
        shifted by +-1 sigma of the beam onset. The onset variation, and every variation when CEvNS is free,
        are rescaled to the nominal total per point (shape only).

        Parameters
        ----------
        params : mapping of str to float or ndarray, optional
            Physics parameter values (scalars or arrays over points); defaults of the engine for the rest.
        n : int, optional
            Number of physics points.

        Returns
        -------
        nominal : ndarray, shape (n, n_bins)
            Expected CEvNS events per (flattened) analysis bin.
        variations : dict of str to (ndarray, ndarray)
            ``{nuisance: (up, down)}``, each (n, n_bins).
        """
        pt = self._point(params, n)
        eng = self.engine
        nominal = self._cevns(eng, pt, n)
        var = {}
        if self.is_csi:
            for key in ("theta_qf0", "theta_qf1", "theta_eff"):
                if key in self.systematics:
                    var[key] = (self._cevns(self._engines[(key, 1)], pt, n),
                                self._cevns(self._engines[(key, -1)], pt, n))
        else:
            rel = self.model.template("cevns").ravel()
            for s in self.model.inputs.shape_systematics:
                if s.component == "cevns" and s.name in self.systematics:
                    up = self.model.table(s.up).ravel()
                    dn = 2.0 * rel - up if s.down is None else self.model.table(s.down).ravel()
                    ratio_u = np.divide(up, rel, out=np.ones_like(rel), where=rel > 0)
                    ratio_d = np.clip(np.divide(dn, rel, out=np.ones_like(rel), where=rel > 0), 0.0, None)
                    var[s.name] = (nominal * ratio_u, nominal * ratio_d)
        if "theta_onset" in self.systematics:
            s_on = self.model.inputs.source.timing.onset_sigma_us
            var["theta_onset"] = (self._cevns(eng, pt, n, s_on), self._cevns(eng, pt, n, -s_on))
        if "cevns" in self.free or "theta_onset" in var:
            for key, (u, d) in var.items():
                if "cevns" in self.free or key == "theta_onset":  # timing moves events across times only
                    var[key] = (_shape_only(nominal, u), _shape_only(nominal, d))
        return nominal, var

    # ------------------------------------------------------------------ backgrounds
    @cached_property
    def background_inputs(self) -> list[dict]:
        """Background components: ``{"name", "nominal" (n_bins,), "sigma", "systematics": {name: (up, down)}}``."""
        out = []
        if self.is_csi:
            for b in self.model.inputs.backgrounds:
                out.append({"name": b.name, "nominal": self.model.background_template(b.name).ravel(),
                            "sigma": None if b.name in self.free else b.sigma, "systematics": {}})
            return out
        for c in self.model.inputs.components:
            if c.name == "cevns":
                continue
            h0 = self.model.table(c.template).ravel()
            sys = {}
            for s in self.model.inputs.shape_systematics:
                if s.component == c.name and s.name in self.systematics:
                    up = self.model.table(s.up).ravel()
                    dn = np.clip(2.0 * h0 - up, 0.0, None) if s.down is None else self.model.table(s.down).ravel()
                    sys[s.name] = (_shape_only(h0, up), _shape_only(h0, dn))
            out.append({"name": c.name, "nominal": h0, "sigma": None if c.name in self.free else c.sigma / c.events,
                        "systematics": sys})
        return out

    @property
    def flux_norm_sigma(self) -> float:
        """Relative width of the SNS neutrino-flux normalisation (10 %, part of the CEvNS prior), the
        nuisance a ``[[correlations]]`` entry can share between COHERENT data sets as ``flux_norm``."""
        return float(self.model.inputs.source.flux_norm_sigma)

    @property
    def cevns_sigma(self) -> float | None:
        """Relative prior width of the CEvNS normalisation (None when free)."""
        if "cevns" in self.free:
            return None
        if self.is_csi:
            return self.model.inputs.source.flux_norm_sigma
        c = {c.name: c for c in self.model.inputs.components}["cevns"]
        return c.sigma / c.events

    def prediction_uncertainty(self, params: Mapping | None = None) -> float:
        """Relative 1-sigma uncertainty of the predicted CEvNS count (not of its shape).

        CsI: the flux normalisation and the count changes of the QF principal components and of the energy
        efficiency at +-1 sigma (mean of up and down), added in quadrature; LAr: the YAML prior of the CEvNS
        normalisation (17 / 128). Used to turn a fitted / predicted ratio into a cross section.

        Parameters
        ----------
        params : mapping of str to float or ndarray, optional
            Physics parameter values (scalars or arrays over points); defaults of the engine for the rest.

        Returns
        -------
        float
            Relative uncertainty (dimensionless).
        """
        if not self.is_csi:
            c = {c.name: c for c in self.model.inputs.components}["cevns"]
            return c.sigma / c.events
        pt = self._point(params, 1)
        n0 = self._cevns(self.engine, pt, 1).sum()
        parts = [self.model.inputs.source.flux_norm_sigma]
        for key in ("theta_qf0", "theta_qf1", "theta_eff"):
            if key in self.systematics:
                up = self._cevns(self._engines[(key, 1)], pt, 1).sum()
                dn = self._cevns(self._engines[(key, -1)], pt, 1).sum()
                parts.append(0.5 * abs(up - dn) / n0)
        return float(np.sqrt(np.sum(np.square(parts))))

    def sm_flux_averaged_cross_section_cm2(self, sin2_theta_w: float = 0.23857, n_e: int = 400,
                                           n_t: int = 400) -> float:
        """SM CEvNS cross section averaged over the SNS flux and the target nuclei [cm^2 per nucleus].

        ``<sigma> = sum_A w_A sum_f int phi_f(E) sigma_A(E) dE / 3``, ``sigma_A(E) = int_0^Tmax dsigma/dT dT``
        (tree-level couplings at ``sin2_theta_w``, Helm form factors with s = 0.9 fm and the proton rms
        radius for protons and neutrons), phi_f: the 29.8 MeV prompt nu_mu line and the Michel nu_e and
        anti-nu_mu spectra (one of each per decay chain), w_A: the number fractions of the target nuclei.
        The quantity COHERENT quotes for CsI (189 +- 6 x 1e-40 cm^2 SM, arXiv:2110.07730), the flux-averaged
        cross section being that times the fitted / predicted CEvNS ratio.

        Parameters
        ----------
        sin2_theta_w : float, optional
            Weak mixing angle sin^2(theta_W) of the tree-level couplings (dimensionless).
        n_e : int, optional
            Number of Michel neutrino energy nodes on [1 keV, 52.83 MeV] (pdf times node spacing).
        n_t : int, optional
            Number of recoil-energy nodes on [0, Tmax] per neutrino energy (trapezoidal rule).

        Returns
        -------
        float
            Flux-averaged cross section [cm^2 per nucleus].
        """
        return sns_flux_averaged_cross_section_cm2(self.model.inputs.detector.material, sin2_theta_w, n_e, n_t)

    @cached_property
    def onoff(self) -> dict | None:
        """The CsI steady-state on/off term: ``off_counts`` (n_groups,), ``membership`` (n_bins, n_groups),
        ``ratio_sigma``; None for LAr (its steady state is a template with a prior)."""
        if not self.is_csi:
            return None
        ss = self.model.steady_state(pooled=True)
        nb = self.observed.size
        member = np.zeros((nb, ss["off_counts"].size))
        member[np.arange(nb), ss["groups"]] = ss["weights"]
        return {"off_counts": np.asarray(ss["off_counts"], float), "membership": member,
                "ratio_sigma": float(ss["ratio_sigma"])}

    def template_inputs(self, params: Mapping | None = None, n: int = 1) -> dict:
        """Every template at ``n`` physics points, as plain arrays (input of
        :func:`cevns.stats.template_term.template_arrays`).

        Parameters
        ----------
        params : mapping of str to float or ndarray, optional
            Physics parameter values (scalars or arrays over points); defaults of the engine for the rest.
        n : int, optional
            Number of physics points.

        Returns
        -------
        dict
            ``observed`` (n_bins,), ``components``: list of ``{"name", "nominal", "sigma",
            "systematics"}`` (CEvNS first, its arrays (n, n_bins), backgrounds (n_bins,)), ``onoff``
            (see :attr:`onoff`).
        """
        nominal, var = self.cevns_templates(params, n)
        comps = [{"name": "cevns", "nominal": nominal, "sigma": self.cevns_sigma, "systematics": var}]
        comps += self.background_inputs
        return {"observed": self.observed, "components": comps, "onoff": self.onoff}
