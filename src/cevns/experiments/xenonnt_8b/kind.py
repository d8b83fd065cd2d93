"""The ``xenonnt-8b`` experiment kind: XENONnT solar-8B CEvNS from the collaboration's data release.

An ``experiment.toml`` with ``kind = "xenonnt-8b"``::

    kind = "xenonnt-8b"
    name = "xenonnt-8b"
    runs = "sr0+sr1"             # or "sr0-sr2", or a list such as ["sr0", "sr2"]
    solar_model = "b16-gs98"     # or "b16-agss09" (B16 SSM fluxes, Vinyoles et al. 2017)
    components = ["8B", "hep"]
    release = ""                 # a folder with a copy of the release (read with h5py); "" = shipped npz
    [physics]                    # PhysicsSettings (form factor, couplings, ...)

builds a :class:`XenonntExperiment`: the release's templates of the chosen runs plus one rate engine per
solar component that gives the CEvNS recoil rate [events / t / yr] of natural xenon in the 46 0.1-keVnr
bins of the mono-energetic templates for arrays of physics points. The per-flavour solar flux
(adiabatic MSW, :mod:`cevns.sources.solar`) makes every flavour-dependent parameter of the physics point
(NSI, charge radii, magnetic moments) act with the right nu_e / nu_mu + nu_tau mix. The likelihood is
the ``xenonnt_8b`` kind (:mod:`cevns.stats.solar_templates`).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping

import numpy as np
from pydantic import ValidationError

from ...errors import CevnsError, ConfigError
from ...engine import Prediction
from ...engine.momentum import momentum_distribution_mev, momentum_summary_mev
from ...physics.parameters import PhysicsPoint
from ...physics.settings import PhysicsSettings
from ...sources import solar
from ..experiment import nuclei_settings
from ..kinds import PluginDetector, PluginStatistics, register_experiment_kind
from ..prediction_tables import xenonnt_prediction_tables
from .model import recoil_rate_engine
from .release import DERIVED_FILE, MONO_ENERGIES_KEV, RUNS, check_runs, load_runs

__all__ = ["KIND", "RUN_SETS", "SOLAR_MODEL_NAMES", "XenonntExperiment", "build_xenonnt_8b", "parse_runs"]

KIND = "xenonnt-8b"
#: Named run selections.
RUN_SETS = {"sr0+sr1": ("sr0", "sr1"), "sr0-sr2": ("sr0", "sr1", "sr2"), "sr0": ("sr0",), "sr1": ("sr1",),
            "sr2": ("sr2",)}
#: Option value -> solar model of :data:`cevns.sources.solar.SOLAR_MODELS`.
SOLAR_MODEL_NAMES = {"b16-gs98": "B16-GS98", "b16-agss09": "B16-AGSS09met", "b16-agss09met": "B16-AGSS09met"}
_KEYS = {"kind", "schema_version", "name", "title", "description", "references", "runs", "solar_model",
         "components", "release", "physics", "n_t", "likelihood"}


def parse_runs(value, where: str = "runs") -> tuple:
    """Science runs from ``"sr0+sr1"``, ``"sr0-sr2"``, a single run name or a list of run names.

    Parameters
    ----------
    value : str or sequence of str
        A key of :data:`RUN_SETS` (case-insensitive) or a list of run names of the release
        (``"sr0"``, ``"sr1"``, ``"sr2"``), each at most once.
    where : str, optional
        Prefix of error messages (file and key).

    Returns
    -------
    tuple of str
        Run names, in likelihood order.

    Raises
    ------
    ConfigError
        An unknown selection or run name, a run listed twice, or a value of another type.

    Examples
    --------
    >>> parse_runs("SR0+SR1")
    ('sr0', 'sr1')
    """
    if isinstance(value, str):
        key = value.strip().lower()
        if key in RUN_SETS:
            return RUN_SETS[key]
        raise ConfigError(f"{where}: unknown science-run selection {value!r}; expected one of "
                          f"{', '.join(RUN_SETS)} or a list of {', '.join(RUNS)}")
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        try:
            runs = check_runs(tuple(v.lower() for v in value))
        except CevnsError as exc:
            raise ConfigError(f"{where}: {exc}") from None
        if len(set(runs)) != len(runs):
            raise ConfigError(f"{where}: a science run is listed twice in {list(value)}")
        return runs
    raise ConfigError(f"{where}: expected a run selection string or a list of run names, got {value!r}")


@dataclass(frozen=True)
class XenonntSpec:
    """The validated options of a ``xenonnt-8b`` file (the part analyses read as ``experiment.spec``).

    Attributes
    ----------
    name : str
        Experiment name (default ``"xenonnt-8b"``).
    title : str
        One-line title.
    runs : tuple of str
        Science runs, in likelihood order (:func:`parse_runs`).
    solar_model : str
        Standard solar model of :data:`cevns.sources.solar.SOLAR_MODELS` (``"B16-GS98"`` or
        ``"B16-AGSS09met"``; Vinyoles et al. 2017, arXiv:1611.09867).
    components : tuple of str
        Solar components, ``("8B",)`` or ``("8B", "hep")``; the first is always ``"8B"``.
    release : str or None
        Absolute path of a folder with a copy of the release (read with h5py), or None for the shipped
        derived npz file.
    references : tuple of str, optional
        References of the experiment file.
    description : str, optional
        Free text.
    statistics : object, optional
        Statistics options read by analyses: no single-bin section, spectral likelihood ``"xenonnt_8b"``.
    systematics : tuple, optional
        Empty: the nuisances are those of the template likelihood (:mod:`cevns.stats.solar_term`).
    likelihood : dict, optional
        The ``[likelihood]`` table: constraint overrides read by
        :func:`cevns.stats.solar_term.likelihood_sigmas`.
    detector : object, optional
        Detector description read by analyses (observable ``"analysis bin (81 per run)"``).
    """

    name: str
    title: str
    runs: tuple
    solar_model: str
    components: tuple
    release: str | None
    references: tuple = ()
    description: str = ""
    statistics: PluginStatistics = field(default_factory=lambda: PluginStatistics("xenonnt_8b"))
    systematics: tuple = ()
    likelihood: dict = field(default_factory=dict)
    detector: PluginDetector = field(default_factory=lambda: PluginDetector("analysis bin (81 per run)"))

    def model_dump(self) -> dict:
        """Plain dict of the options."""
        return {"name": self.name, "title": self.title, "runs": list(self.runs), "solar_model": self.solar_model,
                "components": list(self.components), "release": self.release, "likelihood": dict(self.likelihood)}


@dataclass(eq=False)
class XenonntExperiment:
    """A built ``xenonnt-8b`` experiment.

    Attributes
    ----------
    name : str
        Experiment name.
    spec : XenonntSpec
        The validated options.
    path : Path
        The experiment file.
    runs : dict run -> :class:`~cevns.experiments.xenonnt_8b.release.RunTemplates`
        The release's templates and observed counts of the chosen runs, in likelihood order.
    engines : dict component -> RateEngine
        CEvNS recoil rate [events / t / yr] of natural xenon at the SSM flux in the 46 mono-energetic
        bins (0.45-5.05 keVnr); ``engine`` is the 8B one.
    ssm_flux_cm2_s : dict component -> (flux [cm^-2 s^-1], relative 1-sigma SSM uncertainty)
        From :func:`cevns.sources.solar.ssm_flux`.
    files : list of Path, optional
        Data files read (the shipped derived npz file, or none for a release folder).
    raw : dict, optional
        The parsed experiment file, as given to the builder.
    """

    name: str
    spec: XenonntSpec
    path: Path
    runs: dict
    engines: dict
    ssm_flux_cm2_s: dict
    files: list = field(default_factory=list)
    raw: dict = field(default_factory=dict)

    # ---------------------------------------------------------------- contract used by analyses
    @property
    def engine(self):
        """The 8B engine (defaults, n_bins) -- what generic code asks an experiment for."""
        return self.engines[self.spec.components[0]]

    @property
    def title(self) -> str:
        """One-line title of the experiment file."""
        return self.spec.title

    @property
    def references(self) -> list:
        """References of the experiment file."""
        return list(self.spec.references)

    @property
    def run_names(self) -> tuple:
        """Science runs, in likelihood order."""
        return tuple(self.runs)

    @property
    def observed(self) -> np.ndarray:
        """Observed events, the 81 bins of each run concatenated in run order."""
        return np.concatenate([np.asarray(t.observed, dtype=float).ravel() for t in self.runs.values()])

    @property
    def backgrounds(self) -> dict:
        """Nominal background events (tly = tqy = 0) per bin, runs concatenated: ac, er, neutron."""
        out = {"ac": [], "er": [], "neutron": []}
        for t in self.runs.values():
            x = t.exposure_t_yr
            out["ac"].append(x * t.ac.ravel())
            out["er"].append(x * t.er.ravel())
            out["neutron"].append(x * t.neutron_at(0.0, 0.0).ravel())
        return {k: np.concatenate(v) for k, v in out.items()}

    sideband = None

    def copy(self) -> "XenonntExperiment":
        """A cheap copy sharing the (read-only) templates and engines."""
        return replace(self, runs=dict(self.runs), engines=dict(self.engines), files=list(self.files),
                       raw=copy.deepcopy(self.raw))

    def recoil_rates(self, params: Mapping | PhysicsPoint | None = None) -> dict:
        """CEvNS recoil rates [events / t / yr] in the 46 mono-energetic bins at the SSM fluxes.

        Parameters
        ----------
        params : mapping or PhysicsPoint, optional
            Physics parameters (floats or equal-length arrays); SM by default.

        Returns
        -------
        dict component -> ndarray (n_points, 46)
        """
        out = {}
        for comp, eng in self.engines.items():
            pt = params if isinstance(params, PhysicsPoint) else PhysicsPoint(dict(params or {}),
                                                                                defaults=eng.defaults)
            with np.errstate(over="ignore", invalid="ignore"):
                r = eng.predict(pt).per_bin
            if not np.all(np.isfinite(r)):
                raise ConfigError(f"{self.name}: the {comp} CEvNS rate is not finite for these parameters")
            out[comp] = r
        return out

    def signal_events(self, params=None, tly: float = 0.0, tqy: float = 0.0) -> np.ndarray:
        """CEvNS events per analysis bin (runs concatenated) at one physics point and SSM fluxes.

        For run r and bin b, ``N_rb = x_r sum_c sum_i R_ci eps_rib(tly, tqy)`` with x_r the exposure
        [t yr], R_ci the recoil rate of component c in the mono-energetic bin i (:meth:`recoil_rates`) and
        eps_rib the release's detection efficiency, bilinear in the yield nuisances
        (:mod:`cevns.stats.solar_templates`).

        Parameters
        ----------
        params : mapping or PhysicsPoint, optional
            Physics parameters of ONE point (the first point is used); Standard Model by default.
        tly, tqy : float, optional
            Light- and charge-yield nuisances [sigma] in [-3, 3], the release's grid (default 0: nominal).

        Returns
        -------
        ndarray (81 x n_runs,)
            Events.

        Raises
        ------
        ConfigError
            If a CEvNS rate is not finite for these parameters.
        ReleaseError
            If ``tly`` or ``tqy`` is outside [-3, 3] or not finite.
        """
        rates = self.recoil_rates(params)
        parts = []
        for t in self.runs.values():
            eff = t.mono_at(tly, tqy).reshape(MONO_ENERGIES_KEV.size, -1)  # (46, 81)
            parts.append(t.exposure_t_yr * sum(r[0] @ eff for r in rates.values()))
        return np.concatenate(parts)

    def signal_events_by_component(self, params=None, tly: float = 0.0, tqy: float = 0.0) -> dict:
        """CEvNS events per analysis bin (runs concatenated) of each solar component at one physics point.

        The terms of :meth:`signal_events` (which is their sum): ``N_crb = x_r sum_i R_ci eps_rib(tly, tqy)``.

        Parameters
        ----------
        params : mapping or PhysicsPoint, optional
            Physics parameters of ONE point (the first point is used); Standard Model by default.
        tly, tqy : float, optional
            Light- and charge-yield nuisances [sigma] in [-3, 3] (default 0: nominal).

        Returns
        -------
        dict
            Component (``"8B"``, ``"hep"``) -> ndarray (81 x n_runs,) [events].
        """
        rates = self.recoil_rates(params)
        effs = [(t.exposure_t_yr, t.mono_at(tly, tqy).reshape(MONO_ENERGIES_KEV.size, -1)) for t in self.runs.values()]
        return {comp: np.concatenate([x * (r[0] @ eff) for x, eff in effs]) for comp, r in rates.items()}

    def describe_prediction(self, params: Mapping | None = None) -> dict:
        """The CEvNS prediction at one physics point with the release's background expectations, as tables
        (:func:`cevns.experiments.prediction_tables.xenonnt_prediction_tables`).

        Parameters
        ----------
        params : mapping of str to float, optional
            Physics parameter values of one point; Standard Model by default.

        Returns
        -------
        dict
            JSON-compatible tables (totals per component, per science run, per analysis bin).
        """
        return xenonnt_prediction_tables(self, params)

    def detection_weights(self, tly: float = 0.0, tqy: float = 0.0) -> np.ndarray:
        """Detected fraction x exposure [t yr] of each 0.1-keV recoil bin, summed over runs and analysis bins.

        ``a_i = sum_r X_r sum_b eps_rib(tly, tqy)`` for the 46 mono-energetic templates i (0.5-5.0 keVnr):
        the recoil-rate [events / t / yr] to detected-events conversion of the likelihood.
        """
        return sum(t.exposure_t_yr * t.mono_at(tly, tqy).reshape(MONO_ENERGIES_KEV.size, -1).sum(axis=1)
                   for t in self.runs.values())

    def momentum_transfer_mev(self, quantiles=(0.16, 0.84), params=None) -> tuple:
        """Typical momentum transfer of the detected SM CEvNS events: (mean, low, high) [MeV].

        Event-weighted mean of ``|q| = sqrt(2 M_x T)`` (or the engine's exact form) over the xenon
        isotopes x and the recoil spectrum of every solar component (8B, hep at SSM fluxes) times the
        detection efficiency :meth:`detection_weights` at nominal yields; low/high are the ``quantiles``
        of the same distribution (:func:`cevns.engine.momentum.momentum_summary_mev`).

        Parameters
        ----------
        quantiles : pair of float in [0, 1]
        params : mapping, optional
            Only ``sin2_theta_w`` is used (default: the engine's default).

        Returns
        -------
        (mean, low, high) : tuple of float
            [MeV].
        """
        a = self.detection_weights()
        qs, ws = [], []
        for eng in self.engines.values():
            q, w = momentum_distribution_mev(eng, a, params)
            qs.append(q)
            ws.append(w)
        return momentum_summary_mev(np.concatenate(qs), np.concatenate(ws), quantiles)

    @property
    def bin_edges(self) -> np.ndarray:
        """Analysis-bin indices 0..n (runs concatenated): the bins are 4D, not intervals of one observable."""
        return np.arange(self.observed.size + 1, dtype=float)

    def total_background(self) -> np.ndarray:
        """Nominal background events per analysis bin (runs concatenated)."""
        return sum(self.backgrounds.values())

    def predict(self, params: Mapping | None = None, chunk_size: int = 1024) -> Prediction:
        """CEvNS events per analysis bin at one physics point (SSM fluxes, tly = tqy = 0).

        For generic tables; the likelihood uses :meth:`recoil_rates`.

        Parameters
        ----------
        params : mapping, optional
            Physics parameters of one point; Standard Model by default.
        chunk_size : int, optional
            Accepted for the common experiment interface; unused (one point).

        Returns
        -------
        Prediction
            Counts [events] of shape (1, 1, 81 x n_runs), one flavour group ``"all"``.
        """
        counts = self.signal_events(params)[None, None, :]
        return Prediction(counts=counts, flavors=["all"], bin_edges=self.bin_edges)

    def settings(self, params: Mapping | None = None) -> dict:
        """Physics settings, the resolved physics point and the options in use (for output files).

        Parameters
        ----------
        params : mapping, optional
            Physics parameters; Standard Model by default.

        Returns
        -------
        dict
            Keys ``"parameters"``, ``"physics"``, ``"nuclei"``, ``"options"`` (:meth:`XenonntSpec.model_dump`)
            and ``"exposure_t_yr"`` (run -> exposure [t yr]).
        """
        eng = self.engine
        pt = PhysicsPoint(dict(params or {}), defaults=eng.defaults)
        values = {}
        for name, v in pt.resolved().items():
            arr = np.atleast_1d(np.asarray(v, dtype=float))
            values[name] = float(arr[0]) if arr.size == 1 else arr.tolist()
        return {"parameters": values, "physics": eng.resolved_settings(), "nuclei": nuclei_settings(eng, pt),
                "options": self.spec.model_dump(),
                "exposure_t_yr": {r: t.exposure_t_yr for r, t in self.runs.items()}}

    def describe(self) -> dict:
        """The experiment as a JSON-serialisable dict."""
        return {"name": self.name, "kind": KIND, "title": self.title, "path": str(self.path),
                "options": self.spec.model_dump(),
                "runs": {r: {"exposure_t_yr": t.exposure_t_yr, "observed": float(t.observed.sum())}
                         for r, t in self.runs.items()},
                "ssm_flux_cm2_s": {c: list(v) for c, v in self.ssm_flux_cm2_s.items()},
                "backgrounds": {k: float(v.sum()) for k, v in self.backgrounds.items()},
                "references": self.references}


def _options(raw: dict, path: Path) -> tuple:
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {unknown} for kind {KIND!r}; allowed: {sorted(_KEYS)}")
    runs = parse_runs(raw.get("runs", "sr0+sr1"), f"{path}: runs")
    sm = raw.get("solar_model", "b16-gs98")
    if not isinstance(sm, str) or sm.lower() not in SOLAR_MODEL_NAMES:
        raise ConfigError(f"{path}: solar_model: expected one of b16-gs98, b16-agss09, got {sm!r}")
    comps = raw.get("components", ["8B", "hep"])
    if not (isinstance(comps, list) and comps and all(c in solar.COMPONENTS for c in comps)) \
            or len(set(comps)) != len(comps) or comps[0] != "8B":
        raise ConfigError(f"{path}: components: expected ['8B'] or ['8B', 'hep'], got {comps!r}")
    release = raw.get("release", "") or None
    if release is not None:
        if not isinstance(release, str):
            raise ConfigError(f"{path}: release: expected a folder path string, got {release!r}")
        rel = Path(release).expanduser()
        release = str(rel if rel.is_absolute() else (path.parent / rel).resolve())
    phys = raw.get("physics", {})
    if not isinstance(phys, dict):
        raise ConfigError(f"{path}: physics: expected a table")
    try:
        settings = PhysicsSettings(**phys)
    except ValidationError as exc:
        msgs = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"{path}: physics: {msgs}") from None
    n_t = raw.get("n_t", 400)
    if not isinstance(n_t, int) or n_t < 50:
        raise ConfigError(f"{path}: n_t: expected an integer >= 50, got {n_t!r}")
    lik = raw.get("likelihood", {})
    if not isinstance(lik, dict):
        raise ConfigError(f"{path}: likelihood: expected a table of constraints")
    for k in ("name", "title", "description"):
        if k in raw and not isinstance(raw[k], str):
            raise ConfigError(f"{path}: {k}: expected a string")
    spec = XenonntSpec(name=raw.get("name", KIND), title=raw.get("title", "XENONnT solar 8B CEvNS"),
                       runs=runs, solar_model=SOLAR_MODEL_NAMES[sm.lower()], components=tuple(comps),
                       release=release, references=tuple(raw.get("references", ())),
                       description=raw.get("description", ""), likelihood=dict(lik))
    return spec, settings, n_t


@register_experiment_kind(KIND)
def build_xenonnt_8b(raw: dict, path: Path) -> XenonntExperiment:
    """Build a ``kind = "xenonnt-8b"`` experiment (see the module docstring).

    Parameters
    ----------
    raw : dict
        The parsed experiment file (keys ``runs``, ``solar_model``, ``components``, ``release``,
        ``physics``, ``n_t`` (recoil-energy nodes of the rate engines, integer >= 50, default 400),
        ``likelihood``, ``name``, ``title``, ``description``, ``references``).
    path : Path
        The experiment file (messages; a relative ``release`` is resolved against its folder).

    Returns
    -------
    XenonntExperiment

    Parameters
    ----------
    raw : dict
        The parsed experiment file.
    path : Path
        Its location (relative release folders are resolved against it; named in error messages).

    Raises
    ------
    ConfigError
        Unknown keys or option values, a release folder that is missing or lacks files (the message
        names the file).
    """
    path = Path(path)
    spec, settings, n_t = _options(raw, path)
    try:
        runs = load_runs(spec.runs, spec.release)
    except CevnsError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    engines, fluxes = {}, {}
    for comp in spec.components:
        engines[comp] = recoil_rate_engine(comp, spec.solar_model, settings, n_t=n_t)
        fluxes[comp] = solar.ssm_flux(comp, spec.solar_model)
    files = [DERIVED_FILE] if spec.release is None else []
    return XenonntExperiment(name=spec.name, spec=spec, path=path, runs=runs, engines=engines,
                             ssm_flux_cm2_s=fluxes, files=files, raw=copy.deepcopy(raw))
