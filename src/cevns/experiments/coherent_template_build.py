"""Builder of the ``coherent-template`` experiment kind (COHERENT CsI 2021 / LAr 2020 as template likelihoods).

Reads and checks an ``experiment.toml`` with ``kind = "coherent-template"`` (keys: module docstring of
:mod:`cevns.experiments.coherent_template`), loads the data-set model and registers the kind.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import ConfigError
from ..physics.settings import PhysicsSettings
from .coherent_ar_2020_model import load_ar_2020
from .coherent_csi_2021_model import load_csi_2021
from .coherent_template import KIND, CoherentTemplateExperiment
from .kinds import register_experiment_kind

__all__ = ["build_coherent_template"]

_MODELS = ("csi-2021", "ar-2020")
_KEYS = {"kind", "name", "title", "model", "inputs", "description", "binning", "fit", "references", "physics"}


def build_coherent_template(raw: dict, path: Path) -> CoherentTemplateExperiment:
    """Builder of the ``coherent-template`` kind (module docstring).

    Parameters
    ----------
    raw : dict
        The parsed ``experiment.toml`` (keys ``kind``, ``name``, ``title``, ``model``, ``inputs``,
        ``description``, ``binning``, ``fit``, ``references``, ``physics``).
    path : pathlib.Path
        The ``experiment.toml`` file (``inputs`` is resolved relative to its folder).

    Returns
    -------
    CoherentTemplateExperiment
        With the data read and checked.

    Raises
    ------
    ConfigError
        Unknown key, unknown model, missing inputs file, bad ``[binning]``, ``[fit]`` or ``[physics]``, or
        any error of the data-set loader (prefixed with ``path``).
    """
    path = Path(path)
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {unknown}; allowed: {sorted(_KEYS)}")
    model_name = raw.get("model")
    if model_name not in _MODELS:
        raise ConfigError(f"{path}: model: expected one of {_MODELS}, got {model_name!r}")
    inputs = raw.get("inputs", "inputs.toml")
    if not isinstance(inputs, str):
        raise ConfigError(f"{path}: inputs: expected a file name, got {inputs!r}")
    ipath = (path.parent / inputs).resolve()
    if not ipath.exists():
        raise ConfigError(f"{path}: inputs: file {inputs!r} not found")
    binning = raw.get("binning", {}) or {}
    fit = raw.get("fit", {}) or {}
    if not isinstance(binning, dict) or not isinstance(fit, dict):
        raise ConfigError(f"{path}: [binning] and [fit] must be tables")
    bad = sorted(set(fit) - {"free", "systematics"})
    if bad:
        raise ConfigError(f"{path}: fit: unknown key(s) {bad}; allowed: free, systematics")
    free = fit.get("free", [])
    systematics = fit.get("systematics")
    for key, val in (("free", free), ("systematics", systematics)):
        if val is not None and (not isinstance(val, list) or not all(isinstance(x, str) for x in val)):
            raise ConfigError(f"{path}: fit.{key}: expected a list of names, got {val!r}")
    physics = raw.get("physics", {}) or {}
    if not isinstance(physics, dict):
        raise ConfigError(f"{path}: [physics] must be a table")
    bad = sorted(set(physics) - set(PhysicsSettings.model_fields))
    if bad:
        raise ConfigError(f"{path}: physics: {bad} not supported by the {KIND} kind (physics settings only: "
                          f"{sorted(PhysicsSettings.model_fields)}); give parameter values in the analysis [fixed]")
    try:
        settings = PhysicsSettings(**physics)
    except ValueError as exc:
        raise ConfigError(f"{path}: physics: {exc}") from None
    if model_name == "csi-2021":
        bad = sorted(set(binning) - {"pe_edges", "t_edges_us"})
        if bad:
            raise ConfigError(f"{path}: binning: unknown key(s) {bad}; allowed: pe_edges, t_edges_us")
        try:
            model = load_csi_2021(ipath, binning.get("pe_edges"), binning.get("t_edges_us"), settings=settings)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None
        files = [ipath] + [ipath.parent / f for f in (model.inputs.data.coincidence, model.inputs.data.anticoincidence)]
    else:
        if binning:
            raise ConfigError(f"{path}: binning: the LAr 2020 grid is fixed by the released 3D PDFs "
                              "(12 energy x 8 F90 x 10 time bins)")
        try:
            model = load_ar_2020(ipath, settings=settings)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None
        files = [ipath, ipath.parent / model.inputs.data]
    name = raw.get("name") or path.parent.name.replace("_", "-")
    exp = CoherentTemplateExperiment(str(name), path, model, free, systematics, files)
    _ = exp.observed_grid  # read and check the data now (clean errors at load time)
    return exp


register_experiment_kind(KIND)(build_coherent_template)
