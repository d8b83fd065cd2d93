"""Experiments defined in files: built-in ones live in one folder each (``experiment.toml`` + data).

``load_experiment(name_or_path)`` validates the file (:mod:`cevns.experiments.schema`), builds the
source fluxes, target nuclei and detector response, and returns an :class:`Experiment` whose
:class:`~cevns.rates.RateEngine` evaluates expected counts for arrays of physics points.
"""

from __future__ import annotations

import copy
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import numpy as np
from pydantic import ValidationError

from ..errors import ConfigError, ParameterError, UnknownExperimentError

BUILTIN_DIR = Path(__file__).resolve().parent


def _builtin_folders() -> dict[str, Path]:
    out = {}
    for p in sorted(BUILTIN_DIR.iterdir()):
        f = p / "experiment.toml"
        if p.is_dir() and f.exists():
            out[p.name.replace("_", "-")] = f
    return out


def list_experiments() -> list[dict]:
    """Built-in experiments: ``[{"name", "title", "references", "path"}]``."""
    rows = []
    for name, path in _builtin_folders().items():
        with open(path, "rb") as fh:
            raw = tomllib.load(fh)
        rows.append({"name": raw.get("name", name), "title": raw.get("title", ""),
                     "references": raw.get("references", []), "path": str(path)})
    return rows


def experiment_path(name_or_path: str | Path) -> Path:
    """Resolve a built-in experiment name or a path to an ``experiment.toml``."""
    folders = _builtin_folders()
    key = str(name_or_path)
    if key in folders:
        return folders[key]
    p = Path(name_or_path)
    if p.is_dir() and (p / "experiment.toml").exists():
        return p / "experiment.toml"
    if p.suffix == ".toml" and p.exists():
        return p
    raise UnknownExperimentError(
        f"unknown experiment {key!r}; built-in experiments: {', '.join(folders)} (or give a path to a .toml file)")


def format_validation_error(path: Path, err: ValidationError) -> str:
    """One line per problem: ``file: key.path: message (got value)``."""
    lines = []
    for e in err.errors():
        loc = ".".join(str(x) for x in e["loc"] if not str(x).startswith("function-after")) or "(top level)"
        msg = e["msg"].removeprefix("Value error, ")
        got = e.get("input")
        got_s = f" (got {got!r})" if got is not None and not isinstance(got, dict) and len(repr(got)) < 80 else ""
        lines.append(f"{path}: {loc}: {msg}{got_s}")
    return "\n".join(lines)


def read_toml(path: Path) -> dict:
    """Parse a TOML file, raising :class:`ConfigError` with the file name on any problem."""
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: malformed TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None


def _deep_update(base: dict, upd: Mapping) -> dict:
    for k, v in upd.items():
        if isinstance(v, Mapping) and isinstance(base.get(k), dict):
            _deep_update(base[k], v)
        else:
            base[k] = v
    return base


@dataclass
class Experiment:
    """A built experiment: engine + data + systematics + the resolved configuration."""

    name: str
    spec: "object"
    path: Path
    engine: "object"
    observed: np.ndarray | None = None
    backgrounds: dict = field(default_factory=dict)
    sideband: np.ndarray | None = None
    raw: dict = field(default_factory=dict)

    @property
    def title(self) -> str:
        return self.spec.title

    @property
    def references(self) -> list[str]:
        return list(self.spec.references)

    @property
    def bin_edges(self) -> np.ndarray:
        return self.engine.bin_edges

    @property
    def systematics(self):
        return list(self.spec.systematics)

    def predict(self, params: Mapping | None = None, **kw):
        """Expected CEvNS counts (see :meth:`cevns.rates.RateEngine.predict`)."""
        return self.engine.predict(params, **kw)

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
        """Every physics and detector setting in use, resolved (for output files)."""
        eng = self.engine
        pt = eng.point(params)
        phys = eng.resolved_settings()
        from ..physics.parameters import PARAMETERS

        values = {}
        for name in PARAMETERS:
            v = pt.get(name)
            if v is None:
                continue
            arr = np.atleast_1d(v)
            values[name] = float(arr[0]) if arr.size == 1 else arr.tolist()
        radii = {}
        for k in eng.isotope_kernels:
            iso = k.isotope
            rn = pt.get(f"rn_{iso.name}")
            rn_val = k.proton_rms_fm if rn is None else (float(np.atleast_1d(rn)[0]) if np.size(rn) == 1 else np.asarray(rn).tolist())
            radii[iso.name] = {"proton_rms_fm": k.proton_rms_fm, "neutron_rms_fm": rn_val, "abundance": iso.abundance,
                               "nuclei": k.n_nuclei}
        det = self.spec.detector.model_dump()
        return {"parameters": values, "physics": phys, "nuclei": radii, "detector": det,
                "source": self.spec.source.model_dump(), "n_t": eng.n_t}

    def with_bins(self, edges) -> "Experiment":
        """The same experiment with other observed bins (data and backgrounds rebuilt)."""
        raw = copy.deepcopy(self.raw)
        raw["detector"]["bins"] = {"edges": [float(e) for e in edges]}
        return build_experiment(raw, self.path)

    def with_overrides(self, overrides: Mapping) -> "Experiment":
        """A copy with entries of the experiment file replaced (nested mapping)."""
        raw = _deep_update(copy.deepcopy(self.raw), overrides)
        return build_experiment(raw, self.path)


def load_experiment(name_or_path: str | Path, overrides: Mapping | None = None,
                    settings: Mapping | None = None) -> Experiment:
    """Load and build an experiment.

    Parameters
    ----------
    name_or_path : str or Path
        A built-in name (``cevns experiments``) or a path to an experiment TOML file / folder.
    overrides : mapping, optional
        Nested replacements of entries of the file (e.g. ``{"detector": {"mass_kg": 20}}``).
    settings : mapping, optional
        Physics settings / parameter defaults merged into ``[physics]``.
    """
    path = experiment_path(name_or_path)
    raw = read_toml(path)
    if overrides:
        raw = _deep_update(raw, overrides)
    if settings:
        raw.setdefault("physics", {}).update(settings)
    return build_experiment(raw, path)


def build_experiment(raw: dict, path: Path) -> Experiment:
    """Validate a parsed experiment mapping and build its engine, data and backgrounds."""
    from ..physics.settings import PhysicsSettings
    from .schema import ExperimentSpec

    try:
        spec = ExperimentSpec.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(format_validation_error(path, err)) from None
    try:
        settings_d, param_defaults = spec.split_physics()
    except ParameterError as exc:
        raise ConfigError(f"{path}: physics: {exc}") from None
    try:
        settings = PhysicsSettings(**settings_d)
    except ValidationError as err:
        raise ConfigError(format_validation_error(path, err).replace(f"{path}: ", f"{path}: physics.")) from None
    from . import build

    try:
        return build.build(spec, raw, path, settings, param_defaults)
    except (ValueError, OSError) as exc:
        raise ConfigError(f"{path}: {exc}") from None
