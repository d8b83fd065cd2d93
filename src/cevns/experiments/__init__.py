"""Experiments defined in files: built-in ones live in one folder each (``experiment.toml`` + data).

``load_experiment(name_or_path)`` validates the file (:mod:`cevns.experiments.schema`), builds the
source fluxes, target nuclei and detector response, and returns an :class:`Experiment` whose
:class:`~cevns.engine.RateEngine` evaluates expected counts for arrays of physics points.

Loaded experiments are cached per process: loading the same file with the same overrides and
settings again (while neither the file nor its data files changed) returns a cheap copy sharing the
engine, so a file is validated and its kernels are built once.
"""

from __future__ import annotations

import json
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Mapping

from ..errors import ConfigError
from .checks import check_mapping
from .experiment import Experiment, build_experiment, build_validated, engine_isotopes, validate_spec
from .files import (
    BUILTIN_DIR,
    builtin_experiments,
    experiment_path,
    format_validation_error,
    list_experiments,
    merge_overrides,
    plain,
    read_toml,
)
from . import coherent_template_build as _coherent_template  # noqa: F401  (registers the coherent-template kind)
from .kinds import DEFAULT_KIND, EXPERIMENT_KINDS, experiment_kind, kind_builder, register_experiment_kind
from .schema import ExperimentSpec
from .xenonnt_8b import kind as _xenonnt_8b_kind  # noqa: F401,E402  (registers the xenonnt-8b kind)
from . import solar_summary as _solar_summary  # noqa: F401,E402  (registers the solar-summary kind)

__all__ = [
    "BUILTIN_DIR",
    "EXPERIMENT_KINDS",
    "register_experiment_kind",
    "Experiment",
    "ExperimentSpec",
    "build_experiment",
    "builtin_experiments",
    "clear_cache",
    "engine_isotopes",
    "experiment_path",
    "format_validation_error",
    "list_experiments",
    "load_experiment",
    "merge_overrides",
    "read_toml",
    "validate_experiment",
]

#: Number of built experiments kept per process.
CACHE_SIZE = 32
_CACHE: "OrderedDict[tuple, tuple[tuple, Experiment]]" = OrderedDict()
#: Validated specs (spec, physics settings, parameter defaults, merged raw) by the same key.
_SPECS: "OrderedDict[tuple, tuple[tuple, tuple]]" = OrderedDict()
_LOCK = threading.Lock()


def _stamp(paths) -> tuple:
    out = []
    for p in paths:
        try:
            st = os.stat(p)
        except OSError:
            return ()
        out.append((str(p), st.st_mtime_ns, st.st_size))
    return tuple(out)


def _label(path: Path, overrides, settings) -> str:
    given = [w for w, v in (("overrides", overrides), ("settings", settings)) if v]
    return f"{path} (with the given {' and '.join(given)})" if given else str(path)


def _resolve(name_or_path, overrides, settings):
    path = experiment_path(name_or_path)
    overrides = check_mapping(overrides, "overrides")
    settings = check_mapping(settings, "settings")
    raw = merge_overrides(read_toml(path), overrides)
    if settings:
        physics = raw.setdefault("physics", {})
        if not isinstance(physics, dict):
            raise ConfigError(f"{path}: physics: expected a table")
        physics.update(plain(settings, "settings"))
    return path, raw, overrides, settings


def _key(path: Path, overrides, settings) -> tuple:
    frozen = json.dumps([plain(overrides or {}), plain(settings or {}, "settings")], sort_keys=True, default=repr)
    return str(path.resolve()), frozen


def load_experiment(name_or_path: str | Path, overrides: Mapping | None = None,
                    settings: Mapping | None = None) -> Experiment:
    """Load and build an experiment (cached per process, see the module docstring).

    Parameters
    ----------
    name_or_path : str or Path
        A built-in name (``cevns experiments``) or a path to an experiment TOML file / folder.
    overrides : mapping, optional
        Nested replacements of entries of the file (e.g. ``{"detector": {"mass_kg": 20}}``).
    settings : mapping, optional
        Physics settings / parameter defaults merged into ``[physics]``.

    Raises
    ------
    UnknownExperimentError
        ``name_or_path`` is not a string/path, or names no experiment.
    ConfigError
        The file, the overrides, the settings or a data file is invalid (the message names the
        file, the key and, for data files, the line).
    """
    path = experiment_path(name_or_path)
    key = _key(path, check_mapping(overrides, "overrides"), check_mapping(settings, "settings"))
    with _LOCK:
        hit = _CACHE.get(key)
    if hit is not None:
        stamp, exp = hit
        if stamp and stamp == _stamp([path, *exp.files]):
            return exp.copy()
    path, raw, overrides, settings = _resolve(name_or_path, overrides, settings)
    kind = experiment_kind(raw, path)
    if kind != DEFAULT_KIND:  # a plug-in kind (cevns.experiments.kinds) builds and validates itself
        exp = kind_builder(kind)(raw, path)
    else:
        spec, phys, defaults, raw = _validated(name_or_path, overrides, settings, resolved=raw)
        exp = build_validated(spec, phys, defaults, raw, path)
    _remember(_CACHE, key, (_stamp([path, *exp.files]), exp))
    return exp.copy()


def _remember(cache: OrderedDict, key, value) -> None:
    with _LOCK:
        cache[key] = value
        cache.move_to_end(key)
        while len(cache) > CACHE_SIZE:
            cache.popitem(last=False)


def _validated(name_or_path, overrides, settings, resolved: dict | None = None) -> tuple:
    """(spec, physics settings, parameter defaults, merged raw), validated once per file version.

    ``resolved``: the file's content with overrides and settings merged, when the caller has read it.
    """
    path = experiment_path(name_or_path)
    key = _key(path, check_mapping(overrides, "overrides"), check_mapping(settings, "settings"))
    with _LOCK:
        hit = _SPECS.get(key)
    if hit is not None and hit[0] and hit[0] == _stamp([path]):
        return hit[1]
    stamp = _stamp([path])
    if resolved is None:
        path, raw, overrides, settings = _resolve(name_or_path, overrides, settings)
    else:
        raw = resolved
    if raw.get("kind", DEFAULT_KIND) == DEFAULT_KIND:
        raw.pop("kind", None)
    else:
        raise ConfigError(f"{path}: experiment kind {raw.get('kind')!r} has no spectrum schema to validate; "
                          "load it with load_experiment")
    spec, phys, defaults = validate_spec(raw, path, _label(path, overrides, settings))
    _remember(_SPECS, key, (stamp, (spec, phys, defaults, raw)))
    return spec, phys, defaults, raw


def validate_experiment(name_or_path: str | Path, overrides: Mapping | None = None,
                        settings: Mapping | None = None) -> ExperimentSpec:
    """Validate an experiment file with overrides and settings without building it.

    Returns (a copy of) the :class:`~cevns.experiments.schema.ExperimentSpec`; raises like
    :func:`load_experiment` (data files are only read when building). The validated spec is cached
    with the same key as :func:`load_experiment`, which reuses it: a file is validated once per
    process (again only after it changes).

    Parameters
    ----------
    name_or_path : str or pathlib.Path
        Built-in experiment name or path of an ``experiment.toml`` (or its folder).
    overrides : mapping, optional
        Entries of the experiment file to replace (nested mapping).
    settings : mapping, optional
        Physics settings on top of the file's ``[physics]``.

    Returns
    -------
    ExperimentSpec
    """
    spec = _validated(name_or_path, overrides, settings)[0]
    return spec.model_copy(deep=True)


def clear_cache() -> None:
    """Forget every cached experiment of this process."""
    with _LOCK:
        _CACHE.clear()
        _SPECS.clear()


# Private aliases kept until every caller uses the public names (builtin_experiments, merge_overrides).
_builtin_folders = builtin_experiments


def _deep_update(base: dict, upd: Mapping) -> dict:
    """In-place nested update (old private helper; use :func:`merge_overrides`)."""
    merged = merge_overrides(base, upd)
    base.clear()
    base.update(merged)
    return base
