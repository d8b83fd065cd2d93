"""The ``solar-summary`` experiment kind: solar-8B CEvNS counting channels from published summary numbers.

A SUMMARY likelihood, not the collaboration's: each channel k (e.g. PandaX-4T "paired" S1+S2 and
"US2" S2-only data) is one counting bin with the published observed events n_k, background b_k +- sigma_k
and best-fit 8B signal s_k at the best-fit flux Phi_fit. The expected signal at a physics point is

    S_k(point) = s_k / Phi_fit * Phi_SSM * R_k(point) / R_k(SM),

with R_k the CEvNS rate of solar 8B (+ hep) neutrinos on natural xenon above the channel's nuclear-recoil
threshold (a step at the threshold: the channels' efficiency curves are not published in a usable form,
so the physics point changes the signal through the rate above threshold only), Phi_SSM the SSM flux
(``solar_model``). The per-flavour solar flux (adiabatic MSW) makes NSI, charge radii and magnetic moments
act with the right flavour mix. Systematics: the 8B flux normalisation (SSM uncertainty) on the signal
and one background normalisation per channel (sigma_k / b_k), profiled by the ``poisson`` likelihood::

    kind = "solar-summary"
    name = "pandax-4t-8b"
    solar_model = "b16-gs98"
    best_fit_flux_1e6 = 8.4
    [[channels]]
    name = "paired"; observed = 3; background = 2.8; background_sigma = 0.5; best_fit_signal = 3.5
    threshold_kevnr = 1.1; exposure_t_yr = 1.20
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping

import numpy as np

from ..engine import Prediction, RateEngine, Target
from ..engine.momentum import momentum_distribution_mev, momentum_summary_mev
from ..errors import ConfigError
from ..detectors.response import DetectorResponse
from ..physics import nuclei
from ..physics.constants import SECONDS_PER_YEAR
from ..physics.parameters import PhysicsPoint
from ..physics.settings import PhysicsSettings
from ..sources import solar
from .experiment import nuclei_settings
from .kinds import PluginDetector, PluginStatistics, register_experiment_kind

__all__ = ["KIND", "SummaryChannel", "SummaryEngine", "SummaryExperiment", "build_solar_summary"]

KIND = "solar-summary"
#: Upper edge [keVnr] of the recoil range (above every 8B/hep recoil on xenon).
T_MAX_KEVNR = 60.0
_SOLAR = {"b16-gs98": "B16-GS98", "b16-agss09": "B16-AGSS09met"}
_KEYS = {"kind", "schema_version", "name", "title", "description", "references", "solar_model", "components",
         "best_fit_flux_1e6", "channels", "physics", "label"}
_CH_KEYS = {"name", "observed", "background", "background_sigma", "best_fit_signal", "threshold_kevnr",
            "exposure_t_yr"}


@dataclass(frozen=True)
class SummaryChannel:
    """One counting channel of a ``solar-summary`` experiment, as published.

    Attributes
    ----------
    name : str
        Channel name (e.g. ``"paired"``, ``"US2"``); the background component is ``background_<name>``.
    observed : float
        Observed events n_k (non-negative).
    background : float
        Expected background events b_k (positive).
    background_sigma : float
        Absolute 1-sigma uncertainty sigma_k of the background [events]; the relative constraint of the
        ``bkg_<name>`` normalisation nuisance is ``sigma_k / b_k``.
    best_fit_signal : float
        Published best-fit 8B signal s_k [events] at the best-fit flux
        (:attr:`SummarySpec.best_fit_flux_1e6`).
    threshold_kevnr : float
        Nuclear-recoil threshold of the channel [keVnr]: the signal counts recoils between it and
        :data:`T_MAX_KEVNR` (a step efficiency).
    exposure_t_yr : float
        Exposure [tonne x year], kept for the record (the normalisation comes from ``best_fit_signal``).
    """

    name: str
    observed: float
    background: float
    background_sigma: float
    best_fit_signal: float
    threshold_kevnr: float
    exposure_t_yr: float


@dataclass(frozen=True)
class _Systematic:
    name: str
    sigma: float
    applies_to: tuple
    description: str = ""


@dataclass(frozen=True)
class SummarySpec:
    """Validated options of a ``solar-summary`` file (what analyses read as ``experiment.spec``).

    Attributes
    ----------
    name : str
        Experiment name (default: the name of the folder of the file).
    title : str
        One-line title.
    solar_model : str
        Standard solar model of :data:`cevns.sources.solar.SOLAR_MODELS` (``"B16-GS98"`` or
        ``"B16-AGSS09met"``; Vinyoles et al. 2017, arXiv:1611.09867).
    best_fit_flux_1e6 : float
        Published best-fit 8B flux Phi_fit [1e6 cm^-2 s^-1] at which the channels' ``best_fit_signal``
        are quoted.
    channels : tuple of SummaryChannel
        The counting channels, in bin order.
    references : tuple of str, optional
        References of the experiment file.
    systematics : tuple, optional
        Normalisation systematics (objects with ``name``, ``sigma`` (relative 1 sigma), ``applies_to``,
        ``description``): ``flux_8b`` on the signal (SSM uncertainty) and ``bkg_<channel>`` =
        sigma_k / b_k on each channel's background.
    statistics : object, optional
        Statistics options read by analyses: no single-bin section, spectral likelihood ``"poisson"``.
    detector : object, optional
        Detector description read by analyses (observable ``"counting channel"``).
    """

    name: str
    title: str
    solar_model: str
    best_fit_flux_1e6: float
    channels: tuple
    references: tuple = ()
    systematics: tuple = ()
    statistics: PluginStatistics = field(default_factory=lambda: PluginStatistics("poisson"))
    detector: PluginDetector = field(default_factory=lambda: PluginDetector("counting channel"))

    def model_dump(self) -> dict:
        """Plain dict of the options."""
        return {"name": self.name, "solar_model": self.solar_model, "best_fit_flux_1e6": self.best_fit_flux_1e6,
                "channels": [c.__dict__ for c in self.channels]}


class SummaryEngine:
    """Expected 8B (+ hep) CEvNS events per channel for arrays of physics points (``predict``, ``total``).

    One :class:`~cevns.engine.RateEngine` per channel (one tonne of natural xenon, one year, one recoil
    bin from the channel threshold to :data:`T_MAX_KEVNR`, per-flavour solar flux with adiabatic MSW) gives
    R_k(point) [events / t / yr]. The events of channel k are ``scale[k] * R_k(point)``; the builder
    (:func:`build_solar_summary`) sets

        scale_k = s_k / Phi_fit * Phi_SSM / R_k(SM),

    so that the SM point gives ``best_fit_signal / best_fit_flux x SSM flux`` (module docstring).

    Parameters
    ----------
    channels : sequence of SummaryChannel
        The counting channels (their ``threshold_kevnr`` [keVnr] sets the recoil bin).
    solar_model : str
        Standard solar model of :data:`cevns.sources.solar.SOLAR_MODELS` (e.g. ``"B16-GS98"``).
    settings : PhysicsSettings
        Physics settings of the rate engines (form factor, couplings, ...).
    components : sequence of str, optional
        Solar components of the flux (default ``("8B", "hep")``).

    Attributes
    ----------
    engines : list of RateEngine
        One per channel.
    sm_rate_per_t_yr : ndarray (n_channels,)
        R_k(SM) [events / t / yr].
    scale : ndarray (n_channels,)
        Factor from the rate to the channel's events (ones until the builder sets it).
    bin_edges : ndarray (n_channels + 1,)
        Channel indices 0..n as bin edges.

    Raises
    ------
    ConfigError
        Unknown solar model or components (raised by :func:`cevns.sources.solar.solar_flux`).
    """

    def __init__(self, channels, solar_model: str, settings: PhysicsSettings, components=("8B", "hep")):
        targets = [Target(t.isotope, t.nuclei_per_kg * 1000.0) for t in nuclei.target_nuclei("Xe")]
        fluxes = solar.solar_flux(components, model=solar_model, exposure_s=SECONDS_PER_YEAR)
        self.engines = []
        for ch in channels:
            resp = DetectorResponse(quenching=None, observable="kevnr", light_yield_pe_per_kevee=None,
                                    smearing="none", smearing_params={}, efficiency=None,
                                    bin_edges=np.array([ch.threshold_kevnr, T_MAX_KEVNR]))
            self.engines.append(RateEngine(targets, fluxes, resp, settings=settings, baseline_m=solar.AU_M))
        self.defaults: dict = {}
        self.bin_edges = np.arange(len(self.engines) + 1, dtype=float)
        sm = np.array([e.total(PhysicsPoint({}, defaults={}))[0] for e in self.engines])
        self.sm_rate_per_t_yr = sm
        self.scale = np.ones(len(self.engines))
        self.n_t = self.engines[0].n_t

    @property
    def n_bins(self) -> int:
        """Number of counting channels."""
        return len(self.engines)

    def point(self, params=None) -> PhysicsPoint:
        """The physics point (validated).

        Parameters
        ----------
        params : mapping or PhysicsPoint, optional
            Physics parameters (floats or equal-length arrays); a PhysicsPoint is returned as is, None
            gives the Standard Model.

        Returns
        -------
        PhysicsPoint

        Raises
        ------
        ParameterError
            Unknown parameter names or invalid values (from :class:`~cevns.physics.parameters.PhysicsPoint`).
        """
        return params if isinstance(params, PhysicsPoint) else PhysicsPoint(dict(params or {}), defaults={})

    def predict(self, params=None, chunk_size: int = 1024) -> Prediction:
        """Expected signal events per channel.

        Parameters
        ----------
        params : mapping or PhysicsPoint, optional
            Physics parameters (floats or equal-length arrays); Standard Model by default.
        chunk_size : int, optional
            Points evaluated together by each channel's rate engine (bounds the memory).

        Returns
        -------
        Prediction
            Counts [events] of shape (n_points, 1, n_channels): one flavour group ``"all"``, the channels
            as bins.
        """
        pt = self.point(params)
        cols = [self.scale[k] * e.total(pt, chunk_size=chunk_size) for k, e in enumerate(self.engines)]
        counts = np.stack(cols, axis=-1)[:, None, :]
        return Prediction(counts=counts, flavors=["all"], bin_edges=self.bin_edges)

    def total(self, params=None, chunk_size: int = 1024) -> np.ndarray:
        """Expected signal events summed over the channels.

        Parameters
        ----------
        params : mapping or PhysicsPoint, optional
            Physics parameters (floats or equal-length arrays); Standard Model by default.
        chunk_size : int, optional
            Points evaluated together (see :meth:`predict`).

        Returns
        -------
        ndarray (n_points,)
            Events.
        """
        return self.predict(params, chunk_size).total

    def resolved_settings(self) -> dict:
        """Physics settings in use (those of the channel engines)."""
        return self.engines[0].resolved_settings()


@dataclass(eq=False)
class SummaryExperiment:
    """A built ``solar-summary`` experiment (channels as bins; ``poisson`` likelihood).

    Attributes
    ----------
    name : str
        Experiment name.
    spec : SummarySpec
        The validated options.
    path : Path
        The experiment file.
    engine : SummaryEngine
        Expected signal events per channel.
    observed : ndarray (n_channels,)
        Observed events n_k.
    backgrounds : dict str -> ndarray (n_channels,)
        ``background_<channel>`` -> b_k in that channel's bin, 0 elsewhere [events].
    files : list of Path, optional
        Data files the experiment read (none: the numbers are in the experiment file).
    raw : dict, optional
        The parsed experiment file, as given to the builder.
    """

    name: str
    spec: SummarySpec
    path: Path
    engine: SummaryEngine
    observed: np.ndarray
    backgrounds: dict
    files: list = field(default_factory=list)
    raw: dict = field(default_factory=dict)
    sideband = None

    @property
    def title(self) -> str:
        """One-line title of the experiment file."""
        return self.spec.title

    @property
    def references(self) -> list:
        """References of the experiment file."""
        return list(self.spec.references)

    @property
    def bin_edges(self) -> np.ndarray:
        """Channel indices 0..n as bin edges."""
        return self.engine.bin_edges

    def copy(self) -> "SummaryExperiment":
        """A cheap copy sharing the engine."""
        return replace(self, observed=self.observed.copy(), backgrounds={k: v.copy() for k, v in self.backgrounds.items()},
                       files=list(self.files), raw=copy.deepcopy(self.raw))

    def predict(self, params: Mapping | None = None, chunk_size: int = 1024) -> Prediction:
        """Expected signal events per channel (see :meth:`SummaryEngine.predict`).

        Parameters
        ----------
        params : mapping, optional
            Physics parameters (floats or equal-length arrays); Standard Model by default.
        chunk_size : int, optional
            Points evaluated together by the rate engines.

        Returns
        -------
        Prediction
            Counts [events] of shape (n_points, 1, n_channels).
        """
        return self.engine.predict(params, chunk_size)

    def momentum_transfer_mev(self, quantiles=(0.16, 0.84), params=None) -> tuple:
        """Typical momentum transfer of the expected SM signal: (mean, low, high) [MeV].

        Event-weighted ``|q| = sqrt(2 M_x T)`` over the xenon isotopes and the recoil spectrum above each
        channel's threshold (a step: the summary has no efficiency curve), channels weighted by their
        expected signal (:func:`cevns.engine.momentum.momentum_summary_mev`).

        Parameters
        ----------
        quantiles : pair of float in [0, 1]
        params : mapping, optional
            Only ``sin2_theta_w`` is used.

        Returns
        -------
        (mean, low, high) : tuple of float
            [MeV].
        """
        qs, ws = [], []
        for scale, eng in zip(self.engine.scale, self.engine.engines):
            q, w = momentum_distribution_mev(eng, None, params)
            qs.append(q)
            ws.append(scale * w)
        return momentum_summary_mev(np.concatenate(qs), np.concatenate(ws), quantiles)

    def total_background(self) -> np.ndarray:
        """Background per channel."""
        return sum(self.backgrounds.values())

    def settings(self, params: Mapping | None = None) -> dict:
        """Physics settings, the resolved physics point and the options in use (for output files).

        Parameters
        ----------
        params : mapping, optional
            Physics parameters; Standard Model by default.

        Returns
        -------
        dict
            Keys ``"parameters"`` (resolved values), ``"physics"`` (engine settings), ``"nuclei"`` and
            ``"options"`` (:meth:`SummarySpec.model_dump`).
        """
        pt = self.engine.point(params)
        vals = {k: (float(np.ravel(v)[0]) if np.size(v) == 1 else np.asarray(v).tolist())
                for k, v in pt.resolved().items()}
        return {"parameters": vals, "physics": self.engine.resolved_settings(),
                "nuclei": nuclei_settings(self.engine.engines[0], pt), "options": self.spec.model_dump()}

    def describe(self) -> dict:
        """JSON-serialisable description (a SUMMARY likelihood)."""
        return {"name": self.name, "kind": KIND, "title": self.title, "likelihood_type": "SUMMARY",
                "options": self.spec.model_dump(), "sm_signal": self.engine.predict().per_bin[0].tolist(),
                "references": self.references}


def _num(v, where, positive=False):
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0 or (positive and v == 0):
        raise ConfigError(f"{where}: expected a {'positive' if positive else 'non-negative'} number, got {v!r}")
    return float(v)


@register_experiment_kind(KIND)
def build_solar_summary(raw: dict, path: Path) -> SummaryExperiment:
    """Build a ``kind = "solar-summary"`` experiment (see the module docstring).

    Sets the channel scales so that the Standard Model gives
    S_k = s_k / Phi_fit * Phi_SSM events (module docstring), one background component per channel and the
    systematics ``flux_8b`` (SSM 8B uncertainty, Vinyoles et al. 2017, arXiv:1611.09867) and
    ``bkg_<channel>`` (sigma_k / b_k).

    Parameters
    ----------
    raw : dict
        The parsed experiment file (keys ``name``, ``title``, ``solar_model``, ``components``,
        ``best_fit_flux_1e6`` [1e6 cm^-2 s^-1], ``channels`` (list of tables with exactly the
        :class:`SummaryChannel` fields), ``physics``, ``references``, ...).
    path : Path
        The experiment file (for messages; its folder names the experiment by default).

    Returns
    -------
    SummaryExperiment

    Raises
    ------
    ConfigError
        Unknown keys, an unknown ``solar_model``, an empty ``channels`` list, a channel without exactly
        the required keys, a negative/non-finite number (zero where it must be positive) or invalid
        ``physics`` settings; the message names the file and the key.
    """
    path = Path(path)
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {unknown} for kind {KIND!r}")
    sm = str(raw.get("solar_model", "b16-gs98")).lower()
    if sm not in _SOLAR:
        raise ConfigError(f"{path}: solar_model: expected one of {', '.join(_SOLAR)}, got {raw.get('solar_model')!r}")
    flux_fit = _num(raw.get("best_fit_flux_1e6"), f"{path}: best_fit_flux_1e6", positive=True)
    chans = raw.get("channels")
    if not isinstance(chans, list) or not chans:
        raise ConfigError(f"{path}: channels: expected a non-empty list of [[channels]] tables")
    channels = []
    for i, c in enumerate(chans):
        where = f"{path}: channels[{i}]"
        if not isinstance(c, dict) or set(c) != _CH_KEYS:
            raise ConfigError(f"{where}: needs exactly the keys {sorted(_CH_KEYS)}")
        channels.append(SummaryChannel(str(c["name"]), _num(c["observed"], f"{where}.observed"),
                                       _num(c["background"], f"{where}.background", True),
                                       _num(c["background_sigma"], f"{where}.background_sigma", True),
                                       _num(c["best_fit_signal"], f"{where}.best_fit_signal", True),
                                       _num(c["threshold_kevnr"], f"{where}.threshold_kevnr", True),
                                       _num(c["exposure_t_yr"], f"{where}.exposure_t_yr", True)))
    comps = tuple(raw.get("components", ["8B", "hep"]))
    try:
        settings = PhysicsSettings(**dict(raw.get("physics", {})))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{path}: physics: {exc}") from None
    engine = SummaryEngine(channels, _SOLAR[sm], settings, comps)
    ssm = solar.ssm_flux("8B", _SOLAR[sm])
    engine.scale = np.array([c.best_fit_signal / flux_fit * ssm[0] / 1e6 for c in channels]) / engine.sm_rate_per_t_yr
    n = len(channels)
    backgrounds = {f"background_{c.name}": np.where(np.arange(n) == k, c.background, 0.0)
                   for k, c in enumerate(channels)}
    systematics = (_Systematic("flux_8b", ssm[1], ("signal",), "8B flux / SSM (B16, Vinyoles et al. 2017)"),) + tuple(
        _Systematic(f"bkg_{c.name}", c.background_sigma / c.background, (f"background_{c.name}",),
                    "published background uncertainty") for c in channels)
    spec = SummarySpec(name=str(raw.get("name", path.parent.name)), title=str(raw.get("title", "")),
                       solar_model=_SOLAR[sm], best_fit_flux_1e6=flux_fit, channels=tuple(channels),
                       references=tuple(raw.get("references", ())), systematics=systematics)
    return SummaryExperiment(name=spec.name, spec=spec, path=path, engine=engine,
                             observed=np.array([c.observed for c in channels]), backgrounds=backgrounds,
                             raw=copy.deepcopy(raw))
