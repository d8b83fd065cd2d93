"""A built experiment (:class:`Experiment`): its public contract and how it is built from a file."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping

import numpy as np
from pydantic import ValidationError

from ..errors import ConfigError, ParameterError
from ..physics.parameters import PARAMETERS
from ..physics.settings import PhysicsSettings
from . import build
from .checks import check_chunk_size, check_edges, check_mapping, check_params
from .files import format_validation_error, merge_overrides
from .schema import ExperimentSpec

__all__ = ["Experiment", "build_experiment", "build_validated", "engine_isotopes", "validate_spec"]


def engine_isotopes(engine) -> list[dict]:
    """Per-isotope summary of a rate engine: isotope, number of nuclei, proton rms radius [fm].

    Read from the engine's public :attr:`cevns.engine.RateEngine.isotope_kernels`.
    """
    return [{"isotope": k.isotope, "n_nuclei": float(k.n_nuclei), "proton_rms_fm": float(k.proton_rms_fm)}
            for k in engine.isotope_kernels]


def nuclei_settings(engine, pt) -> dict:
    """Per-isotope radii [fm], abundance and number of nuclei of a rate engine at physics point ``pt``."""
    out = {}
    for d in engine_isotopes(engine):
        iso = d["isotope"]
        rn = pt.get(f"rn_{iso.name}")
        rn_val = d["proton_rms_fm"] if rn is None else float(np.ravel(rn)[0])
        out[iso.name] = {"proton_rms_fm": d["proton_rms_fm"], "neutron_rms_fm": rn_val,
                         "abundance": float(iso.abundance), "nuclei": d["n_nuclei"]}
    return out


def _array_summary(v) -> float | None:
    return None if v is None else float(np.sum(v))


@dataclass
class Experiment:
    """A built experiment: engine + data + systematics + the resolved configuration.

    Attributes
    ----------
    name, spec, path : the experiment's name, validated :class:`ExperimentSpec` and TOML path.
    engine : :class:`cevns.engine.RateEngine` (shared between copies of a cached experiment).
    observed : ndarray or None
        Observed counts per bin (after subtracting ``sideband``), if the file has data.
    backgrounds : dict name -> ndarray
        Expected background counts per bin.
    sideband : ndarray or None
        A subtracted sideband (e.g. COHERENT's anti-coincidence steady-state estimate).
    raw : dict
        The parsed file with overrides and settings merged in.
    files : list of Path
        The data files read (their modification times key the cache of :func:`load_experiment`).
    """

    name: str
    spec: ExperimentSpec
    path: Path
    engine: "object"
    observed: np.ndarray | None = None
    backgrounds: dict = field(default_factory=dict)
    sideband: np.ndarray | None = None
    raw: dict = field(default_factory=dict)
    files: list = field(default_factory=list)

    @property
    def title(self) -> str:
        """Human-readable title of the experiment file."""
        return self.spec.title

    @property
    def references(self) -> list[str]:
        """References (arXiv ids, data releases) of the experiment file."""
        return list(self.spec.references)

    @property
    def bin_edges(self) -> np.ndarray:
        """Edges of the analysis bins, in the units of the observable (PE, keVee or keVnr)."""
        return self.engine.bin_edges

    @property
    def systematics(self):
        """Normalisation systematics of the experiment file (``[[systematics]]`` entries)."""
        return list(self.spec.systematics)

    def copy(self) -> "Experiment":
        """A cheap copy: own arrays, raw and spec; the (read-only in use) engine is shared."""
        return replace(
            self,
            spec=self.spec.model_copy(deep=True),
            observed=None if self.observed is None else self.observed.copy(),
            backgrounds={k: v.copy() for k, v in self.backgrounds.items()},
            sideband=None if self.sideband is None else self.sideband.copy(),
            raw=copy.deepcopy(self.raw),
            files=list(self.files),
        )

    def _point(self, params):
        return self.engine.point(check_params(params))

    def _not_finite(self, pt) -> ParameterError:
        shown = []
        for name, v in pt.resolved().items():
            arr = np.atleast_1d(np.asarray(v, dtype=float))
            shown.append(f"{name}={arr[0]:g}" if arr.size == 1 else f"{name} in [{arr.min():g}, {arr.max():g}]")
        return ParameterError(f"{self.name}: the prediction is not finite (overflow) for parameters "
                              f"{', '.join(shown)}; use smaller couplings")

    def predict(self, params: Mapping | None = None, chunk_size: int = 1024):
        """Expected CEvNS counts (see :meth:`cevns.engine.RateEngine.predict`).

        Parameters
        ----------
        params : mapping, optional
            Physics parameter values by name, numbers or 1-D arrays of equal length (defaults for the rest).
        chunk_size : int, optional
            Number of physics points evaluated together.

        Returns
        -------
        Prediction
            Expected events per flavour and bin.

        Raises
        ------
        ParameterError
            For parameters that are not a mapping of names to finite numbers / 1-D arrays, unknown
            names, values outside their domain, arrays of different lengths, or a non-finite result.
        """
        pt = self._point(params)
        chunk_size = check_chunk_size(chunk_size)
        with np.errstate(over="ignore", invalid="ignore"):  # checked just below
            pred = self.engine.predict(pt, chunk_size=chunk_size)
        if not np.all(np.isfinite(pred.counts)):
            raise self._not_finite(pt)
        return pred

    def total(self, params: Mapping | None = None, chunk_size: int = 1024) -> np.ndarray:
        """Expected counts summed over bins and flavours, shape (n_points,).

        Parameters
        ----------
        params : mapping, optional
            Physics parameter values by name, numbers or 1-D arrays of equal length (defaults for the rest).
        chunk_size : int, optional
            Number of physics points evaluated together.

        Returns
        -------
        numpy.ndarray
            Expected events.

        Raises
        ------
        ParameterError
            As for :meth:`predict`.
        """
        pt = self._point(params)
        chunk_size = check_chunk_size(chunk_size)
        with np.errstate(over="ignore", invalid="ignore"):  # checked just below
            out = self.engine.total(pt, chunk_size=chunk_size)
        if not np.all(np.isfinite(out)):
            raise self._not_finite(pt)
        return out

    def total_background(self) -> np.ndarray:
        """Sum of the background components expected on top of the signal, per bin (zeros if none).

        A subtracted sideband (e.g. the COHERENT anti-coincidence steady-state estimate) is not
        included: it is already removed from :attr:`observed` and kept in :attr:`sideband`.
        """
        tot = np.zeros(self.engine.n_bins)
        for v in self.backgrounds.values():
            tot = tot + v
        return tot

    def settings(self, params: Mapping | None = None) -> dict:
        """Every physics and detector setting in use, resolved (for output files).

        Parameters
        ----------
        params : mapping, optional
            Physics parameter values (defaults for the rest).

        Returns
        -------
        dict
            ``parameters``, ``physics``, ``nuclei`` (radii [fm], abundances, numbers of nuclei), ``detector``,
            ``source`` and ``n_t``.
        """
        eng = self.engine
        pt = self._point(params)
        values = {}
        for name in PARAMETERS:
            v = pt.get(name)
            if v is None:
                continue
            arr = np.atleast_1d(v)
            values[name] = float(arr[0]) if arr.size == 1 else arr.tolist()
        radii = {}
        for d in engine_isotopes(eng):
            iso = d["isotope"]
            rn = pt.get(f"rn_{iso.name}")
            if rn is None:
                rn_val = d["proton_rms_fm"]
            else:
                rn_val = float(np.atleast_1d(rn)[0]) if np.size(rn) == 1 else np.asarray(rn).tolist()
            radii[iso.name] = {"proton_rms_fm": d["proton_rms_fm"], "neutron_rms_fm": rn_val,
                               "abundance": iso.abundance, "nuclei": d["n_nuclei"]}
        return {"parameters": values, "physics": eng.resolved_settings(), "nuclei": radii,
                "detector": self.spec.detector.model_dump(), "source": self.spec.source.model_dump(), "n_t": eng.n_t}

    def describe(self) -> dict:
        """The experiment as a plain, JSON-serialisable dict (its public contract).

        Keys: name, title, path, targets (isotope, Z, A, abundance, n_nuclei, proton_rms_fm),
        source (kind, baseline_m, components with flavour, line/spectrum, energy range [MeV] and
        fluence [cm^-2]), exposure (mass_kg, exposure_days, kg_days, pot), response (observable,
        quenching, light yield, smearing, efficiency, threshold), bins (edges, n_bins), data
        (observed and sideband totals), backgrounds (name -> total counts), statistics,
        systematics, physics (settings and parameter defaults), references.
        """
        eng, spec, det = self.engine, self.spec, self.spec.detector
        targets = []
        for d in engine_isotopes(eng):
            iso = d["isotope"]
            targets.append({"isotope": iso.name, "z": int(iso.z), "a": int(iso.a), "abundance": float(iso.abundance),
                            "n_nuclei": d["n_nuclei"], "proton_rms_fm": d["proton_rms_fm"]})
        comps = [{"flavor": c.flavor, "line": bool(c.is_line), "e_min_mev": float(c.energies_mev[0]),
                  "e_max_mev": float(c.e_max_mev), "fluence_cm2": c.total_fluence_cm2()} for c in eng.fluxes]
        src = spec.source
        exposure = {"mass_kg": det.mass_kg, "exposure_days": det.exposure_days,
                    "kg_days": None if det.exposure_days is None else det.mass_kg * det.exposure_days,
                    "pot": getattr(src, "pot", None)}
        thresholds = {t["isotope"]: float(eng.response.threshold_kevnr(d["isotope"].z))
                      for t, d in zip(targets, engine_isotopes(eng))}
        response = {
            "observable": det.observable,
            "light_yield_pe_per_kevee": det.light_yield_pe_per_kevee,
            "quenching": None if det.observable == "kevnr" else {"model": det.quenching.model,
                                                                   **det.quenching.params()},
            "smearing": {"model": det.smearing.model, **det.smearing.params()},
            "efficiency": det.efficiency.model_dump(mode="json", exclude_defaults=True) | {"model": det.efficiency.model},
            "threshold_kevnr": thresholds,
        }
        edges = [float(e) for e in self.bin_edges]
        settings, defaults = spec.split_physics()
        return {
            "name": self.name,
            "title": self.title,
            "path": str(self.path),
            "targets": targets,
            "source": {"kind": src.kind, "baseline_m": float(eng.baseline_m), "components": comps},
            "exposure": exposure,
            "response": response,
            "bins": {"edges": edges, "n_bins": len(edges) - 1},
            "data": {"observed_total": _array_summary(self.observed), "sideband_total": _array_summary(self.sideband),
                     "format": None if spec.data is None else spec.data.format},
            "backgrounds": {k: float(np.sum(v)) for k, v in self.backgrounds.items()},
            "statistics": spec.statistics.model_dump(mode="json"),
            "systematics": [s.model_dump(mode="json") for s in spec.systematics],
            "physics": {"settings": eng.resolved_settings(), "parameter_defaults": dict(defaults)},
            "references": self.references,
        }

    def with_bins(self, edges) -> "Experiment":
        """The same experiment with other observed bins (data and backgrounds rebuilt).

        Parameters
        ----------
        edges : array_like
            New bin edges, in the units of the observable.

        Returns
        -------
        Experiment
        """
        raw = copy.deepcopy(self.raw)
        raw["detector"]["bins"] = {"edges": check_edges(edges)}
        return build_experiment(raw, self.path)

    def with_overrides(self, overrides: Mapping) -> "Experiment":
        """A copy with entries of the experiment file replaced (nested mapping).

        Parameters
        ----------
        overrides : mapping
            Entries to replace, nested like the experiment file.

        Returns
        -------
        Experiment

        Raises
        ------
        ConfigError
            If ``overrides`` is not a mapping with string keys or the result does not validate.
        """
        check_mapping(overrides, "overrides")
        return build_experiment(merge_overrides(self.raw, overrides), self.path, f"{self.path} (with overrides)")


def validate_spec(raw: dict, path: Path, label: str | None = None) -> tuple[ExperimentSpec, PhysicsSettings, dict]:
    """Validate a parsed experiment mapping: (spec, physics settings, parameter defaults).

    ``label`` names the source in messages (default: ``path``; e.g. "file (with overrides)").

    Parameters
    ----------
    raw : dict
        The parsed experiment file.
    path : pathlib.Path
        The experiment file.
    label : str, optional
        Source name in messages.

    Raises
    ------
    ConfigError
        One line per problem, ``file: key: what was expected (got value)``.
    """
    label = str(path) if label is None else label
    if not isinstance(raw, dict):
        raise ConfigError(f"{label}: expected a table of experiment keys, got {type(raw).__name__}")
    try:
        spec = ExperimentSpec.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(format_validation_error(label, err)) from None
    settings_d, param_defaults = spec.split_physics()
    try:
        settings = PhysicsSettings.model_validate(settings_d, strict=True)
    except ValidationError as err:
        raise ConfigError(format_validation_error(label, err).replace(f"{label}: ", f"{label}: physics.")) from None
    return spec, settings, param_defaults


def build_experiment(raw: dict, path: Path, label: str | None = None) -> Experiment:
    """Validate a parsed experiment mapping and build its engine, data and backgrounds.

    Parameters
    ----------
    raw : dict
        The parsed experiment file.
    path : pathlib.Path
        The experiment file (relative data files are resolved against its folder).
    label : str, optional
        Source name in messages (default: ``path``).

    Returns
    -------
    Experiment

    Raises
    ------
    ConfigError
        If the file does not validate or a data file cannot be read.
    """
    spec, settings, param_defaults = validate_spec(raw, path, label)
    return build_validated(spec, settings, param_defaults, raw, path)


def build_validated(spec: ExperimentSpec, settings: PhysicsSettings, param_defaults: dict, raw: dict,
                    path: Path) -> Experiment:
    """Build an experiment from the results of :func:`validate_spec` (no second validation).

    Parameters
    ----------
    spec : ExperimentSpec
        The validated experiment.
    settings : PhysicsSettings
        Its physics settings.
    param_defaults : dict
        Default physics parameter values.
    raw : dict
        The parsed experiment file (kept for :meth:`Experiment.with_overrides`).
    path : pathlib.Path
        The experiment file.

    Returns
    -------
    Experiment

    Raises
    ------
    ConfigError
        If a data file cannot be read or is invalid.
    """
    try:
        parts = build.build_parts(spec, path, settings, param_defaults)
    except (ValueError, OSError) as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return Experiment(name=spec.name, spec=spec, path=path, engine=parts.engine, observed=parts.observed,
                      backgrounds=parts.backgrounds, sideband=parts.sideband, raw=raw, files=parts.files)
