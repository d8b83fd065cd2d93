"""Validated schema of an experiment file (``experiment.toml``), schema version 1.

An experiment declares, AEDL-style: a source -> target material -> detector response (quenching,
observable, smearing, efficiency, bins) -> data and backgrounds -> named systematics, plus physics
defaults. See ``docs`` in the README ("Adding an experiment") for an annotated example.

Every key is checked: unknown keys, keys that the chosen model would ignore (an extra quenching
parameter, a smearing width of the "none" model, both bin forms), ``true`` where a number is meant
and TOML ``inf``/``nan`` where a finite number is meant are errors naming the key.

Keys (units in the names; * = required)::

    schema_version = 1, name*, title*, description, references, n_t (recoil nodes, 20-10000)
    [source] kind* = "spallation": pot*, nu_per_flavor_per_pot*, distance_m*, n_energy,
                                   [source.timing] window_us*, prompt_pdf*, delayed_pdf*
                   = "reactor":    thermal_power_gw*, distance_m*, fission_fractions {U235, U238, Pu239,
                                   Pu241; sum 1}, spectrum_model, low_energy, high_energy, e_min_mev,
                                   e_max_mev, n_energy
                   = "tabulated":  distance_m, components* = [{flavor*, file*, normalization, columns,
                                   kind = "density" | "line", n_energy}]
    [detector] material*, mass_kg*, exposure_days (* for reactor/tabulated sources and flat
               backgrounds), min_abundance, observable* = "pe" | "kevee" | "kevnr",
               light_yield_pe_per_kevee (* for "pe", only for "pe"), sub_bin_width,
               quenching = {model = "constant": qf* | "polynomial": coeffs*, t_scale_kevnr |
                            "lindhard": k (default 0.157)}   (not for "kevnr"),
               smearing = {model = "none" | "poisson" | "gamma": fano* | "gaussian": sigma0, linear,
                           relative (at least one)},
               efficiency = {model = "unity" | "logistic": a*, k*, x0*, d | "tabulated": file* |
                             "step"; zero_below, steps = [[x_low, x_high, weight]], evaluate_at},
               bins* = {edges} or {start, stop, width}
    [physics] settings of PhysicsSettings and parameter defaults (finite numbers in their domain)
    [data] format = "pe_time_counts" (observable, time [us], counts) | "observable_counts"
           (observable, counts); beam_on, subtract (needs beam_on), time_window_us,
           [[data.backgrounds]] name*, kind* = "pe_density": file*, scale, time_pdf, apply_efficiency
                                         | "flat": counts_per_kg_day_per_unit*, apply_efficiency
    [[systematics]] name*, sigma*, applies_to ("signal" or background names), description
    [statistics] spectral = "poisson" | "gaussian", single_bin = {sigma_signal*, sigma_background*,
                 background (a background name)}
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..errors import ParameterError
from ..physics import nuclei
from ..physics.parameters import spec_for
from ..physics.settings import PhysicsSettings
from ..sources.base import FLAVORS
from ..sources.reactor import HIGH_ENERGY_EXTENSIONS, ISOTOPES, LOW_ENERGY_EXTENSIONS, SPECTRUM_MODELS
from .files import error_text

SCHEMA_VERSION = 1

#: A finite number (int or float; not a boolean, not a string, not inf/nan).
Num = Annotated[float, Field(strict=True, allow_inf_nan=False)]
PosNum = Annotated[float, Field(strict=True, allow_inf_nan=False, gt=0)]
NonNegNum = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0)]
Fraction = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0, le=1)]
Int = Annotated[int, Field(strict=True)]
Bool = Annotated[bool, Field(strict=True)]
Str = Annotated[str, Field(strict=True)]
Window = tuple[Num, Num]

#: Largest number of integration nodes accepted on one axis.
MAX_NODES = 100001
#: Largest n_energy x n_t accepted: the engine keeps 3 such float arrays per flux component and
#: isotope (2e7 -> ~0.5 GB each), so larger grids are refused up front.
MAX_KERNEL_NODES = 20_000_000


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def given(self) -> set[str]:
        """Keys written in the file with a value that matters (not None, not the default)."""
        fields = type(self).model_fields
        return {k for k in self.model_fields_set
                if getattr(self, k) is not None and getattr(self, k) != fields[k].get_default(call_default_factory=True)}


def _only(spec: _Strict, what: str, allowed: set[str], always: set[str] = frozenset()) -> None:
    """Refuse keys that ``what`` would silently ignore."""
    extra = sorted(spec.given() - allowed - set(always))
    if extra:
        keys = ", ".join(repr(k) for k in extra)
        ok = ", ".join(repr(k) for k in sorted(allowed)) or "no parameters"
        raise ValueError(f"{what} does not use {keys} (it takes {ok})")


def _window(v):
    if not v[0] < v[1]:
        raise ValueError("a time window must be [start, stop] with start < stop")
    return v


class Timing(_Strict):
    """Arrival-time PDFs (COHERENT release format) and the analysis time window [us]."""

    window_us: Window
    prompt_pdf: Str
    delayed_pdf: Str

    @field_validator("window_us")
    @classmethod
    def _w(cls, v):
        return _window(v)


class SpallationSource(_Strict):
    """Pion decay-at-rest source: prompt nu_mu line, delayed nu_e and nu_mu_bar Michel spectra."""

    kind: Literal["spallation"]
    pot: PosNum = Field(description="protons on target over the exposure")
    nu_per_flavor_per_pot: PosNum
    distance_m: PosNum
    n_energy: Int = Field(default=1001, ge=11, le=MAX_NODES)
    timing: Optional[Timing] = None


class ReactorSource(_Strict):
    """Nuclear reactor anti-nu_e source (:func:`cevns.sources.reactor.reactor_flux`)."""

    kind: Literal["reactor"]
    thermal_power_gw: PosNum
    distance_m: PosNum
    fission_fractions: Optional[dict[Literal[ISOTOPES], Fraction]] = None
    spectrum_model: Literal[SPECTRUM_MODELS] = "huber-mueller"
    low_energy: Optional[Literal[LOW_ENERGY_EXTENSIONS]] = None
    high_energy: Optional[Literal[HIGH_ENERGY_EXTENSIONS]] = None
    e_min_mev: Optional[NonNegNum] = None
    e_max_mev: PosNum = 10.0
    n_energy: Int = Field(default=801, ge=11, le=MAX_NODES)

    @model_validator(mode="after")
    def _check(self):
        if self.fission_fractions is not None:
            total = sum(self.fission_fractions.values())
            if abs(total - 1.0) > 1e-3:
                raise ValueError(f"fission_fractions must sum to 1 (within 1e-3), got {total:.6g}")
        if self.e_min_mev is not None and self.e_min_mev >= self.e_max_mev:
            raise ValueError(f"e_min_mev ({self.e_min_mev:g}) must be below e_max_mev ({self.e_max_mev:g})")
        return self


class TabulatedComponent(_Strict):
    """One flavour's table (:func:`cevns.sources.tabulated.tabulated_flux`)."""

    flavor: Literal[FLAVORS]
    file: Str
    normalization: PosNum = 1.0
    columns: tuple[Int, Int] = (0, 1)
    kind: Literal["density", "line"] = "density"
    n_energy: Optional[Int] = Field(default=None, ge=2, le=MAX_NODES)

    @model_validator(mode="after")
    def _check(self):
        if self.columns[0] < 0 or self.columns[1] < 0 or self.columns[0] == self.columns[1]:
            raise ValueError(f"columns must be two different column indices >= 0, got {list(self.columns)}")
        if self.kind == "line" and self.n_energy is not None:
            raise ValueError("n_energy does not apply to a line (kind = 'line')")
        return self


class TabulatedSource(_Strict):
    """Fluxes from tables of dPhi/dE [cm^-2 s^-1 MeV^-1] (times normalization), times the live time."""

    kind: Literal["tabulated"]
    distance_m: PosNum = 1.0
    components: list[TabulatedComponent] = Field(min_length=1)


Source = Annotated[Union[SpallationSource, ReactorSource, TabulatedSource], Field(discriminator="kind")]

_QUENCHING = {  # model -> (required, allowed)
    "constant": ({"qf"}, {"qf"}),
    "polynomial": ({"coeffs"}, {"coeffs", "t_scale_kevnr"}),
    "lindhard": (set(), {"k"}),
}


class QuenchingSpec(_Strict):
    """Quenching model and its parameters (:class:`cevns.detectors.quenching.Quenching`)."""

    model: Literal["constant", "polynomial", "lindhard"]
    qf: Optional[Annotated[float, Field(strict=True, allow_inf_nan=False, gt=0, le=1)]] = None
    coeffs: Optional[list[Num]] = Field(default=None, min_length=1)
    t_scale_kevnr: Optional[PosNum] = None
    k: Optional[PosNum] = None

    @model_validator(mode="after")
    def _needs(self):
        required, allowed = _QUENCHING[self.model]
        missing = sorted(required - self.given())
        if missing:
            raise ValueError(f"quenching model {self.model!r} needs {', '.join(repr(m) for m in missing)}")
        _only(self, f"quenching model {self.model!r}", allowed, {"model"})
        return self

    def params(self) -> dict:
        """Parameters of the quenching model that are set, by name (for :class:`cevns.detectors.Quenching`).

        Returns
        -------
        dict
        """
        return {k: getattr(self, k) for k in _QUENCHING[self.model][1] if getattr(self, k) is not None}


_SMEARING_WIDTHS = {"none": set(), "poisson": set(), "gamma": {"fano"}, "gaussian": {"sigma0", "linear", "relative"}}


class SmearingSpec(_Strict):
    """Smearing model and its widths (:mod:`cevns.detectors.smearing`)."""

    model: Literal["none", "poisson", "gamma", "gaussian"] = "none"
    fano: Optional[PosNum] = None
    sigma0: Optional[NonNegNum] = None
    linear: Optional[NonNegNum] = None
    relative: Optional[NonNegNum] = None

    @model_validator(mode="after")
    def _needs(self):
        widths = _SMEARING_WIDTHS[self.model]
        if widths and not (widths & self.given()):
            raise ValueError(f"smearing model {self.model!r} needs its width: give "
                             + " and/or ".join(repr(w) for w in sorted(widths)))
        _only(self, f"smearing model {self.model!r}", widths, {"model"})
        return self

    def params(self) -> dict:
        """Parameters of the smearing model that are set, by name (everything but ``model``).

        Returns
        -------
        dict
        """
        return {k: v for k, v in self.model_dump().items() if k != "model" and v is not None}


_EFFICIENCY = {  # model -> (required, allowed)
    "unity": (set(), set()),
    "logistic": ({"a", "k", "x0"}, {"a", "k", "x0", "d", "zero_below", "steps", "evaluate_at"}),
    "tabulated": ({"file"}, {"file", "zero_below", "steps", "evaluate_at"}),
    "step": (set(), {"zero_below", "steps", "evaluate_at"}),
}


class EfficiencySpec(_Strict):
    """Efficiency in the observable (:class:`cevns.detectors.efficiency.Efficiency`)."""

    model: Literal["unity", "logistic", "tabulated", "step"] = "unity"
    a: Optional[Num] = None
    k: Optional[Num] = None
    x0: Optional[Num] = None
    d: Optional[Num] = None
    file: Optional[Str] = None
    zero_below: Optional[Num] = None
    steps: list[tuple[Num, Num, Fraction]] = []
    evaluate_at: Literal["value", "unit_bin_center"] = "value"

    @model_validator(mode="after")
    def _needs(self):
        required, allowed = _EFFICIENCY[self.model]
        missing = sorted(required - self.given())
        if missing:
            raise ValueError(f"{self.model} efficiency needs {', '.join(repr(m) for m in missing)}")
        if self.model == "step" and self.zero_below is None and not self.steps:
            raise ValueError("step efficiency needs 'zero_below' and/or 'steps'")
        _only(self, f"efficiency model {self.model!r}", allowed, {"model"})
        for lo, hi, _ in self.steps:
            if not lo < hi:
                raise ValueError(f"efficiency step [{lo:g}, {hi:g}, w] needs x_low < x_high")
        return self

    def params(self) -> dict:
        """Parameters of the base curve (logistic: a, k, x0 and d if given)."""
        if self.model != "logistic":
            return {}
        out = {"a": self.a, "k": self.k, "x0": self.x0}
        if self.d is not None:
            out["d"] = self.d
        return out


class BinsSpec(_Strict):
    """Analysis bins: explicit ``edges``, or ``start``, ``stop`` and ``width``."""

    edges: Optional[list[Num]] = None
    start: Optional[Num] = None
    stop: Optional[Num] = None
    width: Optional[PosNum] = None

    @model_validator(mode="after")
    def _either(self):
        regular = {"start", "stop", "width"} & self.given()
        if self.edges is not None and regular:
            raise ValueError("give either 'edges' or 'start', 'stop' and 'width', not both "
                             f"(found 'edges' and {', '.join(repr(r) for r in sorted(regular))})")
        if self.edges is not None:
            if len(self.edges) < 2 or any(b <= a for a, b in zip(self.edges, self.edges[1:])):
                raise ValueError("'edges' must be at least two strictly ascending values")
            return self
        missing = sorted({"start", "stop", "width"} - regular)
        if missing:
            raise ValueError("give either 'edges' or 'start', 'stop' and 'width' "
                             f"(missing {', '.join(repr(m) for m in missing)})")
        if self.stop <= self.start:
            raise ValueError(f"'stop' ({self.stop:g}) must be larger than 'start' ({self.start:g})")
        n = round((self.stop - self.start) / self.width)
        if n < 1 or abs(self.start + n * self.width - self.stop) > 1e-9 * max(1.0, abs(self.stop)):
            raise ValueError("(stop - start) must be a whole number of widths")
        if n > 100000:
            raise ValueError(f"{n} bins is too many (at most 100000)")
        return self


class DetectorSpec(_Strict):
    material: Str = Field(description="chemical formula, e.g. CsI, NaI, Ge, Si, Ar, Xe")
    mass_kg: PosNum
    exposure_days: Optional[PosNum] = None
    min_abundance: Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0, lt=1)] = 0.0
    observable: Literal["pe", "kevee", "kevnr"]
    light_yield_pe_per_kevee: Optional[PosNum] = None
    quenching: QuenchingSpec = QuenchingSpec(model="constant", qf=1.0)
    smearing: SmearingSpec = SmearingSpec()
    efficiency: EfficiencySpec = EfficiencySpec()
    bins: BinsSpec
    sub_bin_width: Optional[PosNum] = Field(
        default=None, description="width of the sub-bins weighting the efficiency under smearing (observable units)")

    @field_validator("material")
    @classmethod
    def _material(cls, v):
        nuclei.parse_formula(v)  # ValueError naming the formula
        return v

    @model_validator(mode="after")
    def _ly(self):
        if self.observable == "pe" and self.light_yield_pe_per_kevee is None:
            raise ValueError("observable 'pe' needs 'light_yield_pe_per_kevee'")
        if self.observable != "pe" and self.light_yield_pe_per_kevee is not None:
            raise ValueError(f"'light_yield_pe_per_kevee' is only used with observable 'pe', not {self.observable!r}")
        if self.sub_bin_width is not None and (self.smearing.model == "none" or self.efficiency.model == "unity"):
            raise ValueError("'sub_bin_width' is only used with smearing and a non-unity efficiency")
        if self.observable == "kevnr" and "quenching" in self.given():
            raise ValueError("observable 'kevnr' does not use 'quenching' (no electron-equivalent energy)")
        try:
            nuclei.target_nuclei(self.material, min_abundance=self.min_abundance)
        except ValueError as exc:
            raise ValueError(f"material/min_abundance: {exc}") from None
        return self


class BackgroundSpec(_Strict):
    """A background component: a PDF in the observable from a file, or flat."""

    name: Str = Field(min_length=1)
    kind: Literal["pe_density", "flat"]
    file: Optional[Str] = None
    scale: NonNegNum = 1.0
    apply_efficiency: Bool = True
    time_pdf: Optional[Str] = None
    counts_per_kg_day_per_unit: Optional[NonNegNum] = None

    @model_validator(mode="after")
    def _needs(self):
        if self.name == "signal":
            raise ValueError("a background cannot be called 'signal' (the name of the CEvNS signal)")
        if self.kind == "pe_density":
            if self.file is None:
                raise ValueError(f"background {self.name!r} of kind 'pe_density' needs 'file'")
            _only(self, f"background {self.name!r} of kind 'pe_density'",
                  {"file", "scale", "apply_efficiency", "time_pdf"}, {"name", "kind"})
        else:
            if self.counts_per_kg_day_per_unit is None:
                raise ValueError(f"background {self.name!r} of kind 'flat' needs 'counts_per_kg_day_per_unit'")
            _only(self, f"background {self.name!r} of kind 'flat'",
                  {"counts_per_kg_day_per_unit", "apply_efficiency"}, {"name", "kind"})
        return self


class DataSpec(_Strict):
    """Observed counts and backgrounds.

    ``format = "pe_time_counts"``: rows (observable, time [us], counts) summed over ``time_window_us``
    into the analysis bins; ``"observable_counts"``: a 2-column histogram (observable, counts). An
    optional ``subtract`` table of the same format (e.g. an anti-coincidence sideband) is removed.
    """

    format: Literal["pe_time_counts", "observable_counts"] = "pe_time_counts"
    beam_on: Optional[Str] = None
    subtract: Optional[Str] = None
    time_window_us: Optional[Window] = None
    backgrounds: list[BackgroundSpec] = []

    @model_validator(mode="after")
    def _check(self):
        if self.time_window_us is not None:
            _window(self.time_window_us)
        if self.subtract is not None and self.beam_on is None:
            raise ValueError("'subtract' needs 'beam_on' (the table it is subtracted from)")
        if self.beam_on is None and not self.backgrounds:
            raise ValueError("[data] needs 'beam_on' and/or [[data.backgrounds]]")
        uses_window = self.format == "pe_time_counts" and self.beam_on is not None
        timed = [b.name for b in self.backgrounds if b.time_pdf is not None]
        if self.time_window_us is not None and not uses_window and not timed:
            what = "no time column in format 'observable_counts'" if self.format == "observable_counts" \
                else "no 'beam_on' table"
            raise ValueError(f"'time_window_us' is not used ({what} and no background 'time_pdf')")
        if timed and self.time_window_us is None:
            raise ValueError(f"background {timed[0]!r} has a 'time_pdf' but [data] has no 'time_window_us'")
        names = [b.name for b in self.backgrounds]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"background name {dup[0]!r} is used twice")
        return self


class SystematicSpec(_Strict):
    name: Str = Field(min_length=1)
    sigma: NonNegNum
    applies_to: list[Str] = Field(default=["signal"], min_length=1)
    description: Str = ""


class SingleBinSpec(_Strict):
    """COHERENT-2017 style single-bin counting with two pulls (PHYSICS.md section 7)."""

    sigma_signal: NonNegNum
    sigma_background: NonNegNum
    background: Str = "prompt_neutrons"


class StatisticsSpec(_Strict):
    single_bin: Optional[SingleBinSpec] = None
    spectral: Literal["poisson", "gaussian"] = "poisson"


def check_physics(physics: dict) -> tuple[dict, dict]:
    """Split and check ``[physics]``: (physics settings, parameter defaults).

    Settings are validated strictly (``true`` is not a number, a number is not a boolean, finite
    values only); parameter defaults must be finite numbers inside their domain.

    Raises
    ------
    ValueError
        Naming the key and what was expected.
    """
    settings, params = {}, {}
    for key, value in physics.items():
        if key in PhysicsSettings.model_fields:
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"{key}: expected a finite number (inf and nan are not allowed here), got {value}")
            settings[key] = value
            continue
        try:
            spec = spec_for(key)
        except ParameterError as exc:
            raise ValueError(f"{exc}; physics settings are {', '.join(PhysicsSettings.model_fields)}") from None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            got = str(value).lower() if isinstance(value, bool) else repr(value)
            raise ValueError(f"parameter {key!r} expects a number, got {got}")
        try:
            spec.check([float(value)])
        except ParameterError as exc:
            raise ValueError(str(exc)) from None
        params[key] = value
    try:
        PhysicsSettings.model_validate(settings, strict=True)
    except ValidationError as err:
        e = err.errors()[0]
        loc = ".".join(str(x) for x in e["loc"])
        raise ValueError(f"{loc}: {error_text(e)}") from None
    return settings, params


class ExperimentSpec(_Strict):
    schema_version: Literal[1] = 1
    name: Str = Field(pattern=r"^[a-z0-9][a-z0-9\-_]*$")
    title: Str
    description: Str = ""
    references: list[Str] = []
    source: Source
    detector: DetectorSpec
    physics: dict[str, Any] = {}
    data: Optional[DataSpec] = None
    systematics: list[SystematicSpec] = []
    statistics: StatisticsSpec = StatisticsSpec()
    n_t: Int = Field(default=400, ge=20, le=10000, description="recoil-energy integration nodes per isotope")

    @field_validator("physics")
    @classmethod
    def _physics(cls, v):
        check_physics(v)
        return v

    @model_validator(mode="after")
    def _cross_checks(self):
        if self.source.kind == "tabulated":
            n_e = max((c.n_energy or 0) for c in self.source.components)
        else:
            n_e = self.source.n_energy
        if n_e * self.n_t > MAX_KERNEL_NODES:
            raise ValueError(f"source n_energy x n_t = {n_e} x {self.n_t} = {n_e * self.n_t:.3g} nodes is too large "
                             f"(kernels of ~{24 * n_e * self.n_t / 1e9:.1f} GB per flux component and isotope); "
                             f"at most {MAX_KERNEL_NODES:.0e}")
        if self.source.kind in ("reactor", "tabulated") and self.detector.exposure_days is None:
            raise ValueError(f"a {self.source.kind} source needs detector.exposure_days")
        bkg = [b for b in (self.data.backgrounds if self.data is not None else [])]
        if any(b.kind == "flat" for b in bkg) and self.detector.exposure_days is None:
            raise ValueError("a flat background needs detector.exposure_days")
        names = {b.name for b in bkg}
        sys_names = [s.name for s in self.systematics]
        dup = sorted({n for n in sys_names if sys_names.count(n) > 1})
        if dup:
            raise ValueError(f"systematic {dup[0]!r} is defined twice")
        for s in self.systematics:
            for target in s.applies_to:
                if target != "signal" and target not in names:
                    raise ValueError(f"systematic {s.name!r} applies to {target!r}, which is neither 'signal' nor a "
                                     f"background ({', '.join(sorted(names)) or 'none defined'})")
        single = self.statistics.single_bin
        if single is not None and single.background not in names:
            raise ValueError(f"statistics.single_bin.background {single.background!r} is not a background "
                             f"({', '.join(sorted(names)) or 'none defined'})")
        return self

    def split_physics(self):
        """Split ``[physics]`` into (PhysicsSettings keyword arguments, parameter defaults)."""
        return check_physics(self.physics)

    def data_files(self) -> list[str]:
        """Every data file the experiment reads (relative to its folder), in a fixed order."""
        out = []
        src = self.source
        if src.kind == "spallation" and src.timing is not None:
            out += [src.timing.prompt_pdf, src.timing.delayed_pdf]
        if src.kind == "tabulated":
            out += [c.file for c in src.components]
        if self.detector.efficiency.file is not None:
            out.append(self.detector.efficiency.file)
        if self.data is not None:
            out += [f for f in (self.data.beam_on, self.data.subtract) if f is not None]
            for b in self.data.backgrounds:
                out += [f for f in (b.file, b.time_pdf) if f is not None]
        return out
