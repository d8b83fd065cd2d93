"""Analysis files: the validated schema (pydantic) and its resolution (see ``docs/analysis-format.md``).

An analysis file names experiments (each with a likelihood and data), physics parameters fixed for all
scans, and the scans (1D profiles / 2D regions, extra dimensions profiled on a grid) with their
confidence levels. :func:`load_analysis` validates a file (or the mapping a TOML file parses to) and
fills every default that depends on the experiments (likelihood, data); :func:`run_analysis` builds
the likelihood (:mod:`cevns.stats.likelihood`), runs every scan (:mod:`cevns.stats.scan`) and writes
the outputs. Every problem of a file is a :class:`~cevns.errors.ConfigError` naming the file and key.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
from pathlib import Path
from typing import Any, Literal, Mapping, Optional, Union

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from ..errors import ConfigError, ParameterError

__all__ = [
    "SCHEMA_VERSION",
    "LIKELIHOODS",
    "Y_TRANSFORMS",
    "AnalysisSpec",
    "ExperimentEntry",
    "ScanSpec",
    "ProfileSpec",
    "SystematicEntry",
    "load_analysis",
    "run_analysis",
    "AnalysisResults",
    "scan_axes",
    "profile_axes",
    "y_transform",
]

SCHEMA_VERSION = 1
LIKELIHOODS = ("single_bin_pulls", "single_bin_stat", "poisson", "gaussian")
SINGLE_BIN = ("single_bin_pulls", "single_bin_stat")
#: Optional transforms of the y axis of 2D scans for plots and exclusion curves: name -> (domain, label).
Y_TRANSFORMS = {"sin2_2theta": ((0.0, 0.5), r"$\sin^2 2\theta$")}
_NAME = r"^[a-z0-9][a-z0-9\-_]*$"
_SCAN_NAME = r"^[A-Za-z0-9][A-Za-z0-9\-_.]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SystematicEntry(_Strict):
    """A normalisation nuisance added by the analysis (``theta`` with prior ``(theta / sigma)^2``)."""

    name: str = Field(pattern=r"^[^/]+$")
    sigma: Optional[float] = Field(default=None, ge=0, description="prior width; None = free, 0 = fixed")
    applies_to: list[str] = Field(default=["signal"], min_length=1)
    description: str = ""


class ExperimentEntry(_Strict):
    """One experiment of an analysis and the likelihood of its data."""

    experiment: str
    label: Optional[str] = None
    likelihood: Optional[Literal["single_bin_pulls", "single_bin_stat", "poisson", "gaussian"]] = None
    data: Optional[Literal["observed", "asimov"]] = None
    asimov_parameters: dict[str, float] = {}
    data_scale: float = Field(default=1.0, gt=0)
    settings: dict[str, Union[bool, float, str]] = {}
    overrides: dict[str, Any] = {}
    use_experiment_systematics: bool = True
    systematics: list[SystematicEntry] = []
    variance: Literal["data", "expected"] = "data"


class ProfileSpec(_Strict):
    """An extra dimension of a scan, minimised on a grid."""

    parameter: str
    range: tuple[float, float]
    points: int
    log: bool = False


class ScanSpec(_Strict):
    """A 1D profile or a 2D region."""

    name: str = Field(pattern=_SCAN_NAME)
    parameters: list[str] = Field(min_length=1, max_length=2)
    ranges: list[tuple[float, float]]
    points: list[int]
    log: Optional[list[bool]] = None
    labels: Optional[list[str]] = None
    profile: list[ProfileSpec] = []
    confidence_levels: list[float] = Field(default=[0.9], min_length=1)
    dof: Optional[int] = None
    exclusion: bool = False
    exclusion_method: Literal["global", "raster"] = "global"
    y_transform: Optional[Literal["sin2_2theta"]] = None
    refine: bool = True
    fixed: dict[str, float] = {}

    @property
    def ndim(self) -> int:
        return len(self.parameters)


class AnalysisSpec(_Strict):
    """A validated, resolved analysis (see ``docs/analysis-format.md``).

    Use :func:`load_analysis` to create one: it also fills the experiment-dependent defaults.
    ``source`` is the file it came from (or None) and is used in error messages.
    """

    schema_version: Literal[1] = 1
    name: str = Field(pattern=_NAME)
    title: str = ""
    description: str = ""
    references: list[str] = []
    fixed: dict[str, float] = {}
    experiments: list[ExperimentEntry] = Field(min_length=1)
    scans: list[ScanSpec] = []

    _source: Optional[str] = PrivateAttr(default=None)
    _base_dir: Optional[str] = PrivateAttr(default=None)

    @property
    def source(self) -> str:
        """The analysis file (or ``"<analysis>"`` for a mapping), for messages."""
        return self._source or "<analysis>"

    @property
    def base_dir(self) -> Optional[Path]:
        return None if self._base_dir is None else Path(self._base_dir)

    def to_dict(self) -> dict:
        """The resolved analysis as a JSON-compatible mapping (``load_analysis`` of it is identical)."""
        return self.model_dump(mode="json")

    def scan(self, name: str) -> ScanSpec:
        """The scan called ``name``."""
        for s in self.scans:
            if s.name == name:
                return s
        raise ConfigError(f"{self.source}: no scan named {name!r} (scans: {', '.join(s.name for s in self.scans)})")

    def likelihood_dict(self) -> dict:
        """The part of the analysis that defines the likelihood (experiments and fixed parameters)."""
        d = self.to_dict()
        return {"fixed": d["fixed"], "experiments": d["experiments"]}

    def digest(self, extra: Mapping | None = None) -> str:
        """SHA-256 of the likelihood definition (and ``extra``), as hex."""
        payload = {"likelihood": self.likelihood_dict(), "extra": dict(extra or {})}
        return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------
def scan_axes(scan: ScanSpec) -> list[np.ndarray]:
    """Grid values of the scanned parameters (linear or log spaced), in the order of ``parameters``."""
    return [_axis(r[0], r[1], n, lg) for r, n, lg in zip(scan.ranges, scan.points, scan.log or [False] * scan.ndim)]


def profile_axes(scan: ScanSpec) -> list[np.ndarray]:
    """Grid values of the profiled parameters of a scan."""
    return [_axis(p.range[0], p.range[1], p.points, p.log) for p in scan.profile]


def _axis(lo: float, hi: float, n: int, log: bool) -> np.ndarray:
    return np.geomspace(lo, hi, n) if log else np.linspace(lo, hi, n)


def y_transform(name: str | None, y):
    """Apply a y-axis transform: ``"sin2_2theta"``: ``4 u (1 - u)`` (= sin^2 2theta for u = |U|^2)."""
    y = np.asarray(y, dtype=float)
    if name is None:
        return y
    if name == "sin2_2theta":
        return 4.0 * y * (1.0 - y)
    raise ValueError(f"unknown y_transform {name!r}; known: {', '.join(Y_TRANSFORMS)}")


def _loc(parts) -> str:
    out = ""
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            out += ("." if out else "") + str(p)
    return out or "(top level)"


def _format_pydantic(source: str, err: ValidationError) -> str:
    msgs = []
    for e in err.errors():
        loc = [x for x in e["loc"] if not str(x).startswith(("function-", "literal["))]
        msg = e["msg"].removeprefix("Value error, ")
        got = e.get("input")
        got_s = ""
        if got is not None and not isinstance(got, (dict, list)) and len(repr(got)) < 60:
            got_s = f" (got {got!r})"
        msgs.append(f"{source}: {_loc(loc)}: {msg}{got_s}")
    return "; ".join(msgs)


class _Problems:
    def __init__(self, source: str):
        self.source = source
        self.items: list[str] = []

    def add(self, loc, msg: str):
        self.items.append(f"{self.source}: {_loc(loc)}: {msg}")

    def raise_if_any(self):
        if self.items:
            raise ConfigError("; ".join(self.items))


def _check_parameter(problems: _Problems, loc, name: str, values=None) -> bool:
    from ..physics.parameters import spec_for

    try:
        spec = spec_for(name)
        if values is not None:
            spec.check(np.asarray(values, dtype=float))
    except ParameterError as exc:
        problems.add(loc, str(exc))
        return False
    return True


# ----------------------------------------------------------------------------------------------
# loading and resolution
# ----------------------------------------------------------------------------------------------
def load_analysis(path_or_mapping, base_dir=None) -> AnalysisSpec:
    """Validate and resolve an analysis file.

    Parameters
    ----------
    path_or_mapping : str, Path, mapping or AnalysisSpec
        A TOML file, or the mapping such a file parses to (or a resolved dict from
        :meth:`AnalysisSpec.to_dict`).
    base_dir : str or Path, optional
        Folder relative to which experiment paths are resolved (default: the file's folder, or the
        current directory for a mapping).

    Returns
    -------
    AnalysisSpec
        With ``label``, ``likelihood``, ``data``, ``log``, ``labels`` and ``dof`` filled in and
        experiment paths made absolute (built-in names are kept).

    Raises
    ------
    ConfigError
        Naming the file and the key: malformed TOML, unknown keys or parameters, unknown experiments,
        empty ranges (lo >= hi, fewer than 2 points), confidence levels outside (0, 1), ...
    """
    if isinstance(path_or_mapping, AnalysisSpec):
        return path_or_mapping
    if isinstance(path_or_mapping, Mapping):
        raw = copy.deepcopy(dict(path_or_mapping))
        source = "<analysis>"
        base = Path(base_dir) if base_dir is not None else Path.cwd()
    else:
        path = Path(path_or_mapping)
        from ..experiments import read_toml

        raw = read_toml(path)
        source = str(path)
        base = Path(base_dir) if base_dir is not None else path.resolve().parent
    try:
        spec = AnalysisSpec.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(_format_pydantic(source, err)) from None
    spec._source = source
    spec._base_dir = str(base)
    problems = _Problems(source)
    _check_fixed(problems, spec.fixed, ["fixed"])
    _resolve_experiments(problems, spec, base)
    _resolve_scans(problems, spec)
    problems.raise_if_any()
    return spec


def _check_fixed(problems: _Problems, fixed: Mapping, loc):
    for k, v in fixed.items():
        _check_parameter(problems, loc + [k], k, [v])


def _resolve_experiments(problems: _Problems, spec: AnalysisSpec, base: Path):
    from ..experiments import _builtin_folders, _deep_update, experiment_path, format_validation_error, read_toml
    from ..experiments.schema import ExperimentSpec
    from ..physics.settings import PhysicsSettings

    builtins = _builtin_folders()
    nuisance_sigmas: dict[str, tuple[float, str]] = {}
    for i, e in enumerate(spec.experiments):
        loc = ["experiments", i]
        if e.experiment in builtins:
            path = builtins[e.experiment]
        else:
            cand = Path(e.experiment)
            if not cand.is_absolute():
                cand = base / cand
            try:
                path = experiment_path(cand)
            except Exception:
                problems.add(loc + ["experiment"], f"unknown experiment {e.experiment!r}; built-in experiments: "
                             f"{', '.join(builtins)} (or a path to an experiment .toml relative to the analysis file)")
                continue
            e.experiment = str(path.resolve())
        # settings: physics settings or parameter defaults
        bad = False
        for k, v in e.settings.items():
            if k in PhysicsSettings.model_fields:
                continue
            if not _check_parameter(problems, loc + ["settings", k], k, None if isinstance(v, str) else [v]):
                bad = True
        for k, v in e.asimov_parameters.items():
            _check_parameter(problems, loc + ["asimov_parameters", k], k, [v])
        if bad:
            continue
        try:
            raw = read_toml(path)
            if e.overrides:
                raw = _deep_update(raw, copy.deepcopy(e.overrides))
            if e.settings:
                raw.setdefault("physics", {}).update(e.settings)
            xspec = ExperimentSpec.model_validate(raw)
            settings_d, _ = xspec.split_physics()
            PhysicsSettings(**settings_d)
        except ValidationError as err:
            msg = format_validation_error(path, err).replace("\n", "; ")
            problems.add(loc, f"experiment {e.experiment!r} with the given overrides/settings is invalid: {msg}")
            continue
        except (ConfigError, ParameterError) as exc:
            problems.add(loc, f"experiment {e.experiment!r}: {exc}")
            continue
        if e.label is None:
            e.label = xspec.name
        single = xspec.statistics.single_bin
        if e.likelihood is None:
            e.likelihood = "single_bin_pulls" if single is not None else xspec.statistics.spectral
        has_data = xspec.data is not None and xspec.data.beam_on is not None
        if e.data is None:
            e.data = "observed" if has_data else "asimov"
        if e.data == "observed" and not has_data:
            problems.add(loc + ["data"], f"experiment {xspec.name!r} has no observed data; use data = \"asimov\"")
        if e.data == "observed" and e.data_scale != 1.0:
            problems.add(loc + ["data_scale"], "data_scale only applies to data = \"asimov\"")
        if e.data == "observed" and e.asimov_parameters:
            problems.add(loc + ["asimov_parameters"], "asimov_parameters only apply to data = \"asimov\"")
        bkg_names = [b.name for b in (xspec.data.backgrounds if xspec.data is not None else [])]
        if e.likelihood in SINGLE_BIN:
            if single is None:
                problems.add(loc + ["likelihood"], f"experiment {xspec.name!r} has no [statistics.single_bin] "
                             f"section; use \"poisson\" or \"gaussian\"")
            elif single.background not in bkg_names:
                problems.add(loc + ["likelihood"], f"single-bin background {single.background!r} is not a "
                             f"background of {xspec.name!r} ({bkg_names})")
            if e.systematics:
                problems.add(loc + ["systematics"], "systematics apply to the spectral likelihoods (poisson, "
                             "gaussian); the single-bin pulls come from [statistics.single_bin]")
            continue
        components = {"signal", *bkg_names}
        if xspec.data is not None and xspec.data.subtract is not None:
            components.add("steady_state")
        effective = {}
        if e.use_experiment_systematics:
            for s in xspec.systematics:
                effective[s.name] = (s.sigma, list(s.applies_to), None)
        names = [s.name for s in e.systematics]
        for j, s in enumerate(e.systematics):
            if names.count(s.name) > 1:
                problems.add(loc + ["systematics", j, "name"], f"duplicate systematic {s.name!r}")
            effective[s.name] = (s.sigma, list(s.applies_to), j)
        for name, (sigma, applies, j) in effective.items():
            where = loc + (["systematics", j, "applies_to"] if j is not None else ["use_experiment_systematics"])
            unknown = [c for c in applies if c not in components]
            if unknown:
                problems.add(where, f"systematic {name!r} applies to unknown component(s) {unknown}; "
                             f"components of {xspec.name!r}: {sorted(components)}")
            sig = math.inf if sigma is None else float(sigma)
            if name in nuisance_sigmas and nuisance_sigmas[name][0] != sig:
                problems.add(where if j is None else loc + ["systematics", j, "sigma"],
                             f"shared nuisance {name!r} has sigma {sig} here but {nuisance_sigmas[name][0]} in "
                             f"{nuisance_sigmas[name][1]}")
            nuisance_sigmas.setdefault(name, (sig, _loc(loc)))


def _resolve_scans(problems: _Problems, spec: AnalysisSpec):
    seen = set()
    for i, s in enumerate(spec.scans):
        loc = ["scans", i]
        if s.name in seen:
            problems.add(loc + ["name"], f"duplicate scan name {s.name!r}")
        seen.add(s.name)
        n = s.ndim
        if len(set(s.parameters)) != n:
            problems.add(loc + ["parameters"], f"parameters must be distinct, got {s.parameters}")
        if s.log is None:
            s.log = [False] * n
        if s.labels is None:
            s.labels = list(s.parameters)
        for key in ("ranges", "points", "log", "labels"):
            if len(getattr(s, key)) != n:
                problems.add(loc + [key], f"needs one entry per scanned parameter ({n}), got {len(getattr(s, key))}")
        if s.dof is None:
            s.dof = n
        elif s.dof < 1:
            problems.add(loc + ["dof"], f"dof must be >= 1, got {s.dof}")
        for j, p in enumerate(s.parameters):
            if j >= len(s.ranges) or j >= len(s.points):
                continue
            lo, hi = s.ranges[j]
            lg = s.log[j] if j < len(s.log) else False
            _check_axis(problems, loc, ["parameters", j], ["ranges", j], ["points", j], p, lo, hi, s.points[j], lg)
        prof_names = []
        for j, pr in enumerate(s.profile):
            ploc = loc + ["profile", j]
            _check_axis(problems, ploc, ["parameter"], ["range"], ["points"], pr.parameter, pr.range[0],
                        pr.range[1], pr.points, pr.log)
            if pr.parameter in s.parameters or pr.parameter in prof_names:
                problems.add(ploc + ["parameter"], f"{pr.parameter!r} is already a dimension of this scan")
            prof_names.append(pr.parameter)
        _check_fixed(problems, s.fixed, loc + ["fixed"])
        for k in s.fixed:
            if k in s.parameters or k in prof_names:
                problems.add(loc + ["fixed", k], f"{k!r} is scanned or profiled in this scan")
        for j, cl in enumerate(s.confidence_levels):
            if not (0.0 < cl < 1.0) or math.isnan(cl):
                problems.add(loc + ["confidence_levels", j], f"confidence level must be in (0, 1), got {cl}")
        if (s.exclusion or s.y_transform is not None) and n != 2:
            key = "exclusion" if s.exclusion else "y_transform"
            problems.add(loc + [key], "needs a 2D scan (two parameters)")
        if s.y_transform is not None and n == 2 and len(s.ranges) == 2:
            lo, hi = Y_TRANSFORMS[s.y_transform][0]
            if s.ranges[1][0] < lo or s.ranges[1][1] > hi:
                problems.add(loc + ["ranges", 1], f"y_transform {s.y_transform!r} needs the y range inside "
                             f"[{lo}, {hi}] (where it is monotonic), got {list(s.ranges[1])}")


def _check_axis(problems, loc, kparam, krange, kpoints, name, lo, hi, points, log):
    ok = _check_parameter(problems, loc + kparam, name)
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo >= hi:
        problems.add(loc + krange, f"empty range [{lo}, {hi}] for {name!r}: need lo < hi (finite)")
        return
    if points < 2:
        problems.add(loc + kpoints, f"need at least 2 points for {name!r}, got {points}")
    if log and lo <= 0:
        problems.add(loc + krange, f"log-spaced axis of {name!r} needs a positive range, got [{lo}, {hi}]")
    if ok:
        _check_parameter(problems, loc + krange, name, [lo, hi])


# ----------------------------------------------------------------------------------------------
# running
# ----------------------------------------------------------------------------------------------
def resolved_document(spec: AnalysisSpec, likelihood=None) -> dict:
    """The content of ``analysis.resolved.json``: the resolved analysis plus, per experiment, every
    physics/detector setting in use and the nuisance parameters of the likelihood."""
    doc = {"schema_version": SCHEMA_VERSION, "source": spec.source, "analysis": spec.to_dict()}
    if likelihood is not None:
        doc["experiments"] = likelihood.describe()
        doc["nuisances"] = likelihood.nuisance_table()
    return doc


def run_analysis(spec_or_path, out_dir, executor=None, progress=True, chunk_points=None) -> dict:
    """Run every scan of an analysis and write the outputs of ``docs/analysis-format.md``.

    Parameters
    ----------
    spec_or_path : AnalysisSpec, str, Path or mapping
        The analysis (a path or mapping goes through :func:`load_analysis`).
    out_dir : str or Path
        Output folder (created). An interrupted run resumes from ``out_dir/.partial``.
    executor : object, optional
        :class:`cevns.stats.executors.InProcessExecutor` (default) or
        :class:`cevns.stats.executors.DaskExecutor`.
    progress : bool, optional
        Show a progress bar (rich) for each scan.
    chunk_points : int, optional
        Physics points evaluated per chunk (default :data:`cevns.stats.scan.DEFAULT_CHUNK_POINTS`).

    Returns
    -------
    dict
        The content of ``results.json``, as an :class:`AnalysisResults` (a dict whose ``grids``
        attribute holds the Delta-chi^2 arrays of every scan).
    """
    from ..io import write_json
    from ..stats.likelihood import build_likelihood
    from ..stats.scan import remove_partials, run_scan

    spec = load_analysis(spec_or_path)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    likelihood = build_likelihood(spec)
    write_json(out / "analysis.resolved.json", resolved_document(spec, likelihood))
    results = {"analysis": spec.name, "title": spec.title, "scans": []}
    grids: dict = {}
    for scan in spec.scans:
        results["scans"].append(run_scan(likelihood, spec, scan, out, executor=executor, progress=progress,
                                         chunk_points=chunk_points, grids=grids))
    write_json(out / "results.json", results)
    remove_partials(out)
    return AnalysisResults(json.loads(json.dumps(_json_clean(results))), grids)


class AnalysisResults(dict):
    """What :func:`run_analysis` returns: the content of ``results.json`` (this dict) plus the arrays.

    Attributes
    ----------
    grids : dict
        Per scan name: ``{"x", "dchi2"}`` (1D) or ``{"x", "y", "dchi2"}`` with ``dchi2`` of shape
        (ny, nx) (2D), the Delta-chi^2 on the scan grid (numpy arrays, full precision; the CSV files hold
        the same numbers to 12 digits).
    """

    def __init__(self, content, grids: dict | None = None):
        super().__init__(content)
        self.grids = dict(grids or {})


def _json_clean(obj):
    from ..io import _clean

    return _clean(obj)
