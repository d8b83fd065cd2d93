"""The analysis-file schema (pydantic models) and small helpers on it (see ``docs/analysis-format.md``).

An analysis file names experiments (each with a likelihood kind and data), physics parameters fixed
for all scans, and the scans (1D profiles / 2D regions, extra dimensions profiled on a grid) with
their confidence levels. The likelihood kinds are those registered in
:data:`cevns.stats.likelihood.LIKELIHOOD_KINDS` (a new kind needs no change here).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Any, Literal, Mapping, Optional, Union

import numpy as np
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from ..errors import ConfigError
from ..physics.weak_mixing import M_Z_MEV
from ..stats import terms as _builtin_terms  # noqa: F401  (registers the built-in likelihood kinds)
from ..stats import solar_term as _solar_term  # noqa: F401  (registers the xenonnt_8b likelihood kind)
from ..stats import template_term as _template_term  # noqa: F401  (registers template_poisson)
from ..stats.likelihood import LIKELIHOOD_KINDS, likelihood_kinds
from ..stats.transforms import Y_TRANSFORMS, y_transform

__all__ = ["SCHEMA_VERSION", "LIKELIHOODS", "Y_TRANSFORMS", "AnalysisSpec", "ExperimentEntry", "ScanSpec",
           "ProfileSpec", "SystematicEntry", "ConstraintEntry", "CorrelationEntry", "CorrelationMember", "RunningSpec", "RunningParameter",
           "RUNNING_REFERENCES", "reference_scale_mev", "scan_axes", "profile_axes", "y_transform", "likelihood_kinds"]

SCHEMA_VERSION = 1
#: The likelihood kinds registered when this module was imported (see :func:`likelihood_kinds` for
#: the current registry, which kinds registered later are part of).
LIKELIHOODS = likelihood_kinds()
_NAME = r"^[a-z0-9][a-z0-9\-_]*$"
_SCAN_NAME = r"^[A-Za-z0-9][A-Za-z0-9\-_.]*$"


def _number(v):
    """Physics parameter values: numbers only (TOML ``true`` or ``"0.2"`` are mistakes, not 1.0 / 0.2)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ValueError(f"a number is needed, got {v!r}")
    return v


#: A physics-parameter value in a file.
Number = Annotated[float, BeforeValidator(_number)]


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
    likelihood: Optional[str] = None
    data: Optional[Literal["observed", "asimov"]] = None
    asimov_parameters: dict[str, Number] = {}
    data_scale: float = Field(default=1.0, gt=0)
    settings: dict[str, Union[bool, float, str]] = {}
    overrides: dict[str, Any] = {}
    use_experiment_systematics: bool = True
    systematics: list[SystematicEntry] = []
    variance: Optional[Literal["data", "expected"]] = None
    momentum_transfer_mev: Optional[float] = Field(
        default=None, ge=0, description="scale of the [running] option [MeV]; default (filled in when [running] "
        "is on): the event-weighted mean |q| of the experiment's SM prediction")

    @field_validator("likelihood")
    @classmethod
    def _known_kind(cls, v):
        if v is not None and v not in LIKELIHOOD_KINDS:
            raise ValueError(f"unknown likelihood {v!r}; known: {', '.join(LIKELIHOOD_KINDS)}")
        return v


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
    fixed: dict[str, Number] = {}

    @property
    def ndim(self) -> int:
        """Number of scanned parameters (1 or 2)."""
        return len(self.parameters)


class ConstraintEntry(_Strict):
    """A Gaussian constraint on a physics parameter, ``((value - mean) / sigma)^2`` added to chi^2
    (e.g. an external measurement of ``sin2_theta_w``)."""

    parameter: str
    mean: Number
    sigma: Number = Field(gt=0)
    description: str = ""


class CorrelationMember(_Strict):
    """One experiment's nuisance taking part in a correlation: ``experiment`` is the entry's ``label``
    or experiment name (it must pick exactly one entry), ``nuisance`` the name of one of its systematics."""

    experiment: str
    nuisance: str


class CorrelationEntry(_Strict):
    """A nuisance shared (fully correlated) by several experiments: every member's nuisance becomes ONE
    parameter called ``name`` with prior width ``sigma`` (None = free), e.g. the SNS flux normalisation of
    CsI and Ar or the reactor-flux model of several reactor experiments."""

    name: str = Field(pattern=r"^[^/]+$")
    sigma: Optional[float] = Field(default=None, ge=0, description="prior width; None = free, 0 = fixed")
    members: list[CorrelationMember] = Field(min_length=1)
    description: str = ""


#: Named reference scales of ``[running]``: name -> momentum transfer [MeV].
RUNNING_REFERENCES = {"Q0": 0.0, "MZ": M_Z_MEV}


def _reference(v):
    """``"Q0"``, ``"MZ"`` (any case) or a momentum transfer in [0, M_Z] MeV."""
    if isinstance(v, str):
        key = v.strip().upper()
        if key not in RUNNING_REFERENCES:
            raise ValueError(f"reference must be \"Q0\", \"MZ\" or a momentum transfer in [0, {M_Z_MEV}] MeV")
        return key
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not (0.0 <= v <= M_Z_MEV):
        raise ValueError(f"reference must be \"Q0\", \"MZ\" or a momentum transfer in [0, {M_Z_MEV}] MeV")
    return float(v)


def reference_scale_mev(reference) -> float:
    """Momentum transfer [MeV] of a ``[running]`` reference (``"Q0"`` -> 0, ``"MZ"`` -> M_Z, a number as is).

    Parameters
    ----------
    reference : str or float
        A validated reference (see :class:`RunningParameter`).

    Returns
    -------
    float
        The reference scale [MeV].
    """
    return RUNNING_REFERENCES[reference] if isinstance(reference, str) else float(reference)


class RunningParameter(_Strict):
    """A parameter shared through its Standard-Model running: the fitted value is the one at ``reference``
    (``"Q0"``: |q| -> 0, ``"MZ"``: the Z mass, or a momentum transfer [MeV]) and each experiment sees it run
    to its own momentum transfer (:mod:`cevns.analysis.running`)."""

    reference: Annotated[Union[str, float], BeforeValidator(_reference)]


class RunningSpec(_Strict):
    """The ``[running]`` table: parameters shared through their SM running (only ``sin2_theta_w``)."""

    sin2_theta_w: RunningParameter


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
    fixed: dict[str, Number] = {}
    experiments: list[ExperimentEntry] = Field(min_length=1)
    constraints: list[ConstraintEntry] = []
    correlations: list[CorrelationEntry] = []
    running: Optional[RunningSpec] = None
    scans: list[ScanSpec] = []

    _source: Optional[str] = PrivateAttr(default=None)
    _base_dir: Optional[str] = PrivateAttr(default=None)

    @property
    def source(self) -> str:
        """The analysis file (or ``"<analysis>"`` for a mapping), for messages."""
        return self._source or "<analysis>"

    @property
    def base_dir(self) -> Optional[Path]:
        """Folder that relative paths of the analysis file are resolved against (None if not from a file)."""
        return None if self._base_dir is None else Path(self._base_dir)

    def to_dict(self) -> dict:
        """The resolved analysis as a JSON-compatible mapping (``load_analysis`` of it is identical).

        ``running`` and the entries' ``momentum_transfer_mev`` appear only when set (an analysis without
        ``[running]`` has the same mapping, and digest, as before the option existed).
        """
        d = self.model_dump(mode="json")
        if d.get("running") is None:
            d.pop("running", None)
        for e in d["experiments"]:
            if e.get("momentum_transfer_mev") is None:
                e.pop("momentum_transfer_mev", None)
        return d

    def scan(self, name: str) -> ScanSpec:
        """The scan called ``name``."""
        for s in self.scans:
            if s.name == name:
                return s
        raise ConfigError(f"{self.source}: no scan named {name!r} (scans: {', '.join(s.name for s in self.scans)})")

    def likelihood_dict(self) -> dict:
        """The part of the analysis that defines the likelihood (experiments and fixed parameters)."""
        d = self.to_dict()
        out = {"fixed": d["fixed"], "experiments": d["experiments"]}
        if d["constraints"]:
            out["constraints"] = d["constraints"]
        if d["correlations"]:
            out["correlations"] = d["correlations"]
        if d.get("running") is not None:
            out["running"] = d["running"]
        return out

    def digest(self, extra: Mapping | None = None) -> str:
        """SHA-256 of the likelihood definition (and ``extra``), as hex."""
        payload = {"likelihood": self.likelihood_dict(), "extra": dict(extra or {})}
        return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------
def scan_axes(scan: ScanSpec) -> list[np.ndarray]:
    """Grid values of the scanned parameters (linear or log spaced), in the order of ``parameters``.

    Parameters
    ----------
    scan : ScanSpec
        The scan (``ranges``, ``points``, ``log``).

    Returns
    -------
    list of numpy.ndarray
        One axis per scanned parameter, ``points[i]`` values from ``ranges[i][0]`` to ``ranges[i][1]``.
    """
    return [_axis(r[0], r[1], n, lg) for r, n, lg in zip(scan.ranges, scan.points, scan.log or [False] * scan.ndim)]


def profile_axes(scan: ScanSpec) -> list[np.ndarray]:
    """Grid values of the profiled parameters of a scan."""
    return [_axis(p.range[0], p.range[1], p.points, p.log) for p in scan.profile]


def _axis(lo: float, hi: float, n: int, log: bool) -> np.ndarray:
    return np.geomspace(lo, hi, n) if log else np.linspace(lo, hi, n)


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


