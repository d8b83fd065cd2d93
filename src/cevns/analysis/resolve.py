"""Load, validate and resolve an analysis file; build (and cache) its experiments.

:func:`load_analysis` validates a file (or the mapping a TOML file parses to) completely -- schema,
parameter names and ranges, experiments with their overrides, likelihood/data/systematics
compatibility, scan grids -- and fills every default that depends on the experiments. Every
problem is a :class:`~cevns.errors.ConfigError` naming the file and the key; nothing is written.

Experiments are built through :func:`get_experiment`, a per-process cache keyed by the resolved
experiment file (path, size, modification time), the overrides and the settings: a run reads and
validates each ``experiment.toml`` once per process (once per dask worker).
"""

from __future__ import annotations

import copy
import json
import math
import threading
from pathlib import Path
from typing import Mapping

import numpy as np
from pydantic import ValidationError

from ..errors import CevnsError, ConfigError, ParameterError
from ..experiments import experiment_path, load_experiment, read_toml
from ..physics.parameters import canonical_name, spec_for
from ..physics.settings import PhysicsSettings
from ..stats.likelihood import LIKELIHOOD_KINDS, term_class
from .correlations import check_correlations
from .running import check_running
from .schema import Y_TRANSFORMS, AnalysisSpec, _format_pydantic, _loc, _Problems

__all__ = ["load_analysis", "get_experiment", "clear_experiment_cache"]

_EXPERIMENTS: dict = {}
_EXPERIMENTS_LOCK = threading.Lock()


def _experiment_key(path: Path, overrides, settings) -> str:
    st = path.stat()
    return json.dumps([str(path.resolve()), st.st_size, st.st_mtime_ns, overrides or {}, settings or {}],
                      sort_keys=True, default=str)


def get_experiment(name_or_path, overrides: Mapping | None = None, settings: Mapping | None = None):
    """The built experiment (``cevns.experiments.load_experiment``), once per process per key.

    The key is the resolved ``experiment.toml`` (path, size, mtime), ``overrides`` and ``settings``.
    The returned object is shared: treat it as read-only.

    Parameters
    ----------
    name_or_path : str or pathlib.Path
        Built-in experiment name or path of an ``experiment.toml`` (or its folder).
    overrides : mapping, optional
        Overrides of the experiment file's entries.
    settings : mapping, optional
        Physics/detector settings.

    Returns
    -------
    Experiment
    """
    path = experiment_path(name_or_path)
    key = _experiment_key(path, overrides, settings)
    with _EXPERIMENTS_LOCK:
        hit = _EXPERIMENTS.get(key)
    if hit is not None:
        return hit
    exp = load_experiment(path, overrides=copy.deepcopy(dict(overrides)) if overrides else None,
                          settings=dict(settings) if settings else None)
    with _EXPERIMENTS_LOCK:
        _EXPERIMENTS[key] = exp
    return exp


def clear_experiment_cache() -> None:
    """Forget the experiments built so far in this process."""
    with _EXPERIMENTS_LOCK:
        _EXPERIMENTS.clear()


def _check_parameter(problems: _Problems, loc, name: str, values=None) -> bool:
    try:
        spec = spec_for(name)
        if values is not None:
            spec.check(np.asarray(values, dtype=float))
    except ParameterError as exc:
        problems.add(loc, str(exc))
        return False
    return True


def _canonical(name: str) -> str:
    try:
        return canonical_name(name)
    except ParameterError:
        return name


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
        With ``label``, ``likelihood``, ``data``, ``variance``, ``log``, ``labels`` and ``dof`` filled in
        and experiment paths made absolute (built-in names are kept).

    Raises
    ------
    ConfigError
        Naming the file and the key: malformed TOML, unknown keys or parameters, unknown experiments,
        empty ranges (lo >= hi, fewer than 2 points), confidence levels outside (0, 1), a parameter
        on two axes (also through an alias), scanned and fixed, the same data set listed twice, ...
    """
    if isinstance(path_or_mapping, AnalysisSpec):
        return path_or_mapping
    if isinstance(path_or_mapping, Mapping):
        raw = copy.deepcopy(dict(path_or_mapping))
        source = "<analysis>"
        base = Path(base_dir) if base_dir is not None else Path.cwd()
    elif isinstance(path_or_mapping, (str, Path)):
        path = Path(path_or_mapping)
        if path.is_dir():
            raise ConfigError(f"{path}: is a folder, not an analysis file")
        raw = read_toml(path)
        source = str(path)
        base = Path(base_dir) if base_dir is not None else path.resolve().parent
    else:
        raise ConfigError(f"an analysis is a TOML file path or a mapping, got {type(path_or_mapping).__name__}")
    try:
        spec = AnalysisSpec.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(_format_pydantic(source, err)) from None
    spec._source = source
    spec._base_dir = str(base)
    problems = _Problems(source)
    _check_fixed(problems, spec.fixed, ["fixed"])
    _check_constraints(problems, spec)
    effective = _resolve_experiments(problems, spec, base)
    if spec.correlations:
        check_correlations(problems, spec, effective)
    check_running(problems, spec, _built(spec, effective) if spec.running is not None else {})
    _resolve_scans(problems, spec)
    problems.raise_if_any()
    return spec


def _built(spec: AnalysisSpec, resolved) -> dict:
    """Entry index -> its (cached) experiment, for the entries that resolved."""
    return {i: get_experiment(spec.experiments[i].experiment, spec.experiments[i].overrides or None,
                              spec.experiments[i].settings or None) for i in resolved}


def _check_fixed(problems: _Problems, fixed: Mapping, loc):
    seen: dict[str, str] = {}
    for k, v in fixed.items():
        if isinstance(v, bool):
            problems.add(loc + [k], f"a number is needed, got {v!r}")
            continue
        if _check_parameter(problems, loc + [k], k, [v]):
            c = _canonical(k)
            if c in seen:
                problems.add(loc + [k], f"{k!r} and {seen[c]!r} are the same parameter")
            seen[c] = k


def _check_constraints(problems: _Problems, spec: AnalysisSpec):
    seen: dict[str, int] = {}
    for j, c in enumerate(spec.constraints):
        loc = ["constraints", j]
        if not _check_parameter(problems, loc + ["parameter"], c.parameter, [c.mean]):
            continue
        if not (math.isfinite(c.mean) and math.isfinite(c.sigma)):
            problems.add(loc, f"mean and sigma must be finite, got {c.mean}, {c.sigma}")
        key = _canonical(c.parameter)
        if key in seen:
            problems.add(loc + ["parameter"], f"{c.parameter!r} is already constrained by constraints[{seen[key]}]")
        seen[key] = j
        if key in {_canonical(k) for k in spec.fixed}:
            problems.add(loc + ["parameter"], f"{c.parameter!r} is fixed in [fixed]: a constraint on it has no effect")


def _experiment_file(problems, loc, e, base: Path):
    name = e.experiment
    if not name.strip():
        problems.add(loc + ["experiment"], "empty experiment name")
        return None
    if "/" not in name and "\\" not in name and not name.endswith(".toml"):
        try:
            return experiment_path(name)
        except CevnsError:
            pass
    cand = Path(name)
    if not cand.is_absolute():
        cand = base / cand
    try:
        path = experiment_path(cand)
    except CevnsError:
        problems.add(loc + ["experiment"], f"unknown experiment {name!r}; built-in experiments are listed by "
                     "`cevns experiments` (or give a path to an experiment .toml relative to the analysis file)")
        return None
    e.experiment = str(path.resolve())
    return path


def _resolve_experiments(problems: _Problems, spec: AnalysisSpec, base: Path) -> dict:
    """Fill the entries' defaults; returns entry index -> its systematic names (None: no systematics)."""
    nuisance_sigmas: dict[str, tuple[float, str]] = {}
    effective: dict = {}
    datasets: dict[str, str] = {}
    for i, e in enumerate(spec.experiments):
        loc = ["experiments", i]
        path = _experiment_file(problems, loc, e, base)
        if path is None:
            continue
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
            exp = get_experiment(path, e.overrides or None, e.settings or None)
        except CevnsError as exc:
            problems.add(loc, f"experiment {e.experiment!r} with the given overrides/settings is invalid: {exc}")
            continue
        except (ValueError, TypeError, KeyError, OSError) as exc:
            problems.add(loc, f"experiment {e.experiment!r} with the given overrides/settings is invalid: {exc}")
            continue
        xspec = getattr(exp, "spec", None)
        if xspec is None:  # a plug-in experiment kind (cevns.experiments.kinds) checks its own input
            _resolve_plugin(problems, loc, e, exp, path, datasets)
            shareable = getattr(LIKELIHOOD_KINDS.get(e.likelihood), "correlatable", None)
            effective[i] = shareable(exp) if shareable is not None else None
            continue
        if e.label is None:
            e.label = xspec.name
        single = xspec.statistics.single_bin
        if e.likelihood is None:
            e.likelihood = "single_bin_pulls" if single is not None else xspec.statistics.spectral
        cls = term_class(e.likelihood)
        has_data = exp.observed is not None
        if e.data is None:
            e.data = "observed" if has_data and "observed" in cls.data_kinds else "asimov"
        if e.data not in cls.data_kinds:
            problems.add(loc + ["data"], f"likelihood {e.likelihood!r} uses data {' or '.join(cls.data_kinds)}, "
                         f"got {e.data!r}")
        if e.data == "observed" and not has_data:
            problems.add(loc + ["data"], f"experiment {xspec.name!r} has no observed data; use data = \"asimov\"")
        if e.data == "observed" and e.data_scale != 1.0:
            problems.add(loc + ["data_scale"], "data_scale only applies to data = \"asimov\"")
        if e.data == "observed" and e.asimov_parameters:
            problems.add(loc + ["asimov_parameters"], "asimov_parameters only apply to data = \"asimov\"")
        if e.variance is not None and not cls.uses_variance:
            problems.add(loc + ["variance"], f"variance applies to the gaussian likelihood only, not "
                         f"{e.likelihood!r}")
        if cls.uses_variance and e.variance is None:
            e.variance = "data"
        key = json.dumps([str(path.resolve()), e.data, e.asimov_parameters, e.data_scale, e.overrides, e.settings],
                         sort_keys=True, default=str)
        if key in datasets:
            problems.add(loc + ["experiment"], f"the same data set ({xspec.name!r}, data = {e.data!r}, same "
                         f"overrides) is already used by {datasets[key]}: it would be counted twice")
        datasets.setdefault(key, _loc(loc))
        bkg_names = list(exp.backgrounds)
        if cls.needs_single_bin:
            if single is None:
                problems.add(loc + ["likelihood"], f"experiment {xspec.name!r} has no [statistics.single_bin] "
                             f"section; use \"poisson\" or \"gaussian\"")
            elif single.background not in bkg_names:
                problems.add(loc + ["likelihood"], f"single-bin background {single.background!r} is not a "
                             f"background of {xspec.name!r} ({bkg_names})")
        if not cls.uses_systematics:
            if e.systematics:
                problems.add(loc + ["systematics"], f"the {e.likelihood!r} likelihood takes no systematics "
                             "(single-bin pulls come from [statistics.single_bin]); use \"poisson\" or \"gaussian\"")
            shareable = getattr(cls, "correlatable", None)  # kinds with own nuisances that can be shared
            effective[i] = shareable(exp) if shareable is not None else None
            continue
        components = {"signal", *bkg_names}
        if exp.sideband is not None and e.likelihood == "gaussian":
            components.add("steady_state")
        renamed = {m.nuisance for c in spec.correlations for m in c.members}
        effective[i] = _check_systematics(problems, loc, e, xspec, components, nuisance_sigmas, renamed)
    return effective


def _resolve_plugin(problems, loc, e, exp, path, datasets):
    """Defaults and checks of an entry whose experiment is a plug-in kind (no spectrum schema)."""
    if e.label is None:
        e.label = exp.name
    if e.likelihood is None:
        e.likelihood = getattr(exp, "default_likelihood", None)
        if e.likelihood is None:
            problems.add(loc + ["likelihood"], f"experiment {exp.name!r} needs an explicit likelihood")
            return
    cls = term_class(e.likelihood)
    has_data = getattr(exp, "observed", None) is not None
    if e.data is None:
        e.data = "observed" if has_data and "observed" in cls.data_kinds else "asimov"
    if e.data not in cls.data_kinds:
        problems.add(loc + ["data"], f"likelihood {e.likelihood!r} uses data {' or '.join(cls.data_kinds)}, "
                     f"got {e.data!r}")
    if e.data == "observed" and not has_data:
        problems.add(loc + ["data"], f"experiment {exp.name!r} has no observed data; use data = \"asimov\"")
    if e.data == "observed" and (e.data_scale != 1.0 or e.asimov_parameters):
        problems.add(loc + ["data"], "data_scale and asimov_parameters only apply to data = \"asimov\"")
    if e.systematics:
        problems.add(loc + ["systematics"], f"experiment {exp.name!r} ({e.likelihood}) takes its nuisances from "
                     "the experiment file, not from [[systematics]]")
    key = json.dumps([str(path.resolve()), e.data, e.asimov_parameters, e.data_scale, e.overrides, e.settings],
                     sort_keys=True, default=str)
    if key in datasets:
        problems.add(loc + ["experiment"], f"the same data set ({exp.name!r}, data = {e.data!r}) is already used "
                     f"by {datasets[key]}: it would be counted twice")
    datasets.setdefault(key, _loc(loc))


def _check_systematics(problems, loc, e, xspec, components, nuisance_sigmas, renamed=frozenset()) -> set:
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
                         f"components of {xspec.name!r} with this likelihood: {sorted(components)}")
        sig = math.inf if sigma is None else float(sigma)
        if not math.isfinite(sig) and sigma is not None:
            problems.add(where, f"systematic {name!r}: sigma must be finite (omit it for a free nuisance)")
        if name in renamed:  # a [[correlations]] member: its sigma is the correlation's
            continue
        if name in nuisance_sigmas and nuisance_sigmas[name][0] != sig:
            problems.add(where if j is None else loc + ["systematics", j, "sigma"],
                         f"shared nuisance {name!r} has sigma {sig} here but {nuisance_sigmas[name][0]} in "
                         f"{nuisance_sigmas[name][1]}")
        nuisance_sigmas.setdefault(name, (sig, _loc(loc)))
    return set(effective)


def _resolve_scans(problems: _Problems, spec: AnalysisSpec):
    seen = set()
    top_fixed = {_canonical(k): k for k in spec.fixed}
    for i, s in enumerate(spec.scans):
        loc = ["scans", i]
        if s.name in seen:
            problems.add(loc + ["name"], f"duplicate scan name {s.name!r}")
        seen.add(s.name)
        n = s.ndim
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
        dims: dict[str, list] = {}
        for j, p in enumerate(s.parameters):
            if j >= len(s.ranges) or j >= len(s.points):
                continue
            lo, hi = s.ranges[j]
            lg = s.log[j] if j < len(s.log) else False
            _check_axis(problems, loc, ["parameters", j], ["ranges", j], ["points", j], p, lo, hi, s.points[j], lg)
            dims.setdefault(_canonical(p), []).append((loc + ["parameters", j], p))
        for j, pr in enumerate(s.profile):
            ploc = loc + ["profile", j]
            _check_axis(problems, ploc, ["parameter"], ["range"], ["points"], pr.parameter, pr.range[0],
                        pr.range[1], pr.points, pr.log)
            dims.setdefault(_canonical(pr.parameter), []).append((ploc + ["parameter"], pr.parameter))
        for c, uses in dims.items():
            for where, p in uses[1:]:
                same = p if p == uses[0][1] else f"{p!r} (an alias of {uses[0][1]!r})"
                problems.add(where, f"{same} is already a dimension of this scan ({_loc(uses[0][0])})")
            if c in top_fixed:
                problems.add(uses[0][0], f"{uses[0][1]!r} is scanned here but fixed in [fixed] "
                             f"({top_fixed[c]!r}); remove it from one of them")
        _check_fixed(problems, s.fixed, loc + ["fixed"])
        for k in s.fixed:
            if _canonical(k) in dims:
                problems.add(loc + ["fixed", k], f"{k!r} is scanned or profiled in this scan")
        for j, cl in enumerate(s.confidence_levels):
            if not (0.0 < cl < 1.0) or math.isnan(cl):
                problems.add(loc + ["confidence_levels", j], f"confidence level must be in (0, 1), got {cl}")
        if len(set(s.confidence_levels)) != len(s.confidence_levels):
            problems.add(loc + ["confidence_levels"], f"repeated confidence level in {s.confidence_levels}")
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
