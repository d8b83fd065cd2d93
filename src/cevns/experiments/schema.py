"""Validated schema of an experiment file (``experiment.toml``), schema version 1.

An experiment declares, AEDL-style: a source -> target material -> detector response (quenching,
observable, smearing, efficiency, bins) -> data and backgrounds -> named systematics, plus physics
defaults. See ``docs`` in the README ("Adding an experiment") for an annotated example.
"""

from __future__ import annotations

from typing import Annotated, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, field_validator, model_validator

from ..physics.settings import PhysicsSettings

SCHEMA_VERSION = 1


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Timing(_Strict):
    """Arrival-time PDFs (COHERENT release format) and the analysis time window [us]."""

    window_us: tuple[float, float]
    prompt_pdf: str
    delayed_pdf: str

    @field_validator("window_us")
    @classmethod
    def _window(cls, v):
        if not v[0] < v[1]:
            raise ValueError("window_us must be [start, stop] with start < stop")
        return v


class SpallationSource(_Strict):
    """Pion decay-at-rest source: prompt nu_mu line, delayed nu_e and nu_mu_bar Michel spectra."""

    kind: Literal["spallation"]
    pot: PositiveFloat = Field(description="protons on target over the exposure")
    nu_per_flavor_per_pot: PositiveFloat
    distance_m: PositiveFloat
    n_energy: int = Field(default=1001, ge=11)
    timing: Optional[Timing] = None


class ReactorSource(_Strict):
    """Nuclear reactor anti-nu_e source."""

    kind: Literal["reactor"]
    thermal_power_gw: PositiveFloat
    distance_m: PositiveFloat
    fission_fractions: Optional[dict[str, float]] = None
    spectrum_model: str = "huber-mueller"
    low_energy: Optional[str] = None
    e_max_mev: PositiveFloat = 10.0
    n_energy: int = Field(default=801, ge=11)


class TabulatedComponent(_Strict):
    flavor: str
    file: str
    normalization: PositiveFloat = 1.0
    columns: tuple[int, int] = (0, 1)


class TabulatedSource(_Strict):
    """Fluxes from tables of dPhi/dE [cm^-2 s^-1 MeV^-1] (times normalization), times the live time."""

    kind: Literal["tabulated"]
    distance_m: PositiveFloat = 1.0
    components: list[TabulatedComponent] = Field(min_length=1)


Source = Annotated[Union[SpallationSource, ReactorSource, TabulatedSource], Field(discriminator="kind")]


class QuenchingSpec(_Strict):
    model: Literal["constant", "polynomial", "lindhard"]
    qf: Optional[PositiveFloat] = None
    coeffs: Optional[list[float]] = None
    k: Optional[PositiveFloat] = None

    @model_validator(mode="after")
    def _needs(self):
        need = {"constant": "qf", "polynomial": "coeffs", "lindhard": "k"}[self.model]
        if getattr(self, need) is None:
            raise ValueError(f"quenching model {self.model!r} needs '{need}'")
        return self

    def params(self) -> dict:
        need = {"constant": "qf", "polynomial": "coeffs", "lindhard": "k"}[self.model]
        return {need: getattr(self, need)}


class SmearingSpec(_Strict):
    model: Literal["none", "poisson", "gamma", "gaussian"] = "none"
    fano: Optional[PositiveFloat] = None
    sigma0: Optional[float] = Field(default=None, ge=0)
    linear: Optional[float] = Field(default=None, ge=0)
    relative: Optional[float] = Field(default=None, ge=0)

    def params(self) -> dict:
        return {k: v for k, v in self.model_dump().items() if k != "model" and v is not None}


class EfficiencySpec(_Strict):
    model: Literal["unity", "logistic", "tabulated", "step"] = "unity"
    a: Optional[float] = None
    k: Optional[float] = None
    x0: Optional[float] = None
    file: Optional[str] = None
    zero_below: Optional[float] = None
    steps: list[tuple[float, float, float]] = []
    evaluate_at: Literal["value", "unit_bin_center"] = "value"

    @model_validator(mode="after")
    def _needs(self):
        if self.model == "logistic" and None in (self.a, self.k, self.x0):
            raise ValueError("logistic efficiency needs 'a', 'k' and 'x0'")
        if self.model == "tabulated" and self.file is None:
            raise ValueError("tabulated efficiency needs 'file'")
        return self


class BinsSpec(_Strict):
    edges: Optional[list[float]] = None
    start: Optional[float] = None
    stop: Optional[float] = None
    width: Optional[PositiveFloat] = None

    @model_validator(mode="after")
    def _either(self):
        if self.edges is None and None in (self.start, self.stop, self.width):
            raise ValueError("give either 'edges' or 'start', 'stop' and 'width'")
        if self.edges is not None:
            if len(self.edges) < 2 or any(b <= a for a, b in zip(self.edges, self.edges[1:])):
                raise ValueError("'edges' must be at least two strictly ascending values")
        elif self.stop <= self.start:
            raise ValueError("'stop' must be larger than 'start'")
        return self


class DetectorSpec(_Strict):
    material: str = Field(description="chemical formula, e.g. CsI, NaI, Ge, Si, Ar, Xe")
    mass_kg: PositiveFloat
    exposure_days: Optional[PositiveFloat] = None
    min_abundance: float = Field(default=0.0, ge=0.0, lt=1.0)
    observable: Literal["pe", "kevee", "kevnr"]
    light_yield_pe_per_kevee: Optional[PositiveFloat] = None
    quenching: QuenchingSpec = QuenchingSpec(model="constant", qf=1.0)
    smearing: SmearingSpec = SmearingSpec()
    efficiency: EfficiencySpec = EfficiencySpec()
    bins: BinsSpec

    @model_validator(mode="after")
    def _ly(self):
        if self.observable == "pe" and self.light_yield_pe_per_kevee is None:
            raise ValueError("observable 'pe' needs 'light_yield_pe_per_kevee'")
        return self


class BackgroundSpec(_Strict):
    """A background component: a PDF in the observable from a file, or flat."""

    name: str
    kind: Literal["pe_density", "flat"]
    file: Optional[str] = None
    scale: float = Field(default=1.0, ge=0)
    apply_efficiency: bool = True
    time_pdf: Optional[str] = None
    counts_per_kg_day_per_unit: Optional[float] = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _needs(self):
        if self.kind == "pe_density" and self.file is None:
            raise ValueError(f"background {self.name!r} of kind 'pe_density' needs 'file'")
        if self.kind == "flat" and self.counts_per_kg_day_per_unit is None:
            raise ValueError(f"background {self.name!r} of kind 'flat' needs 'counts_per_kg_day_per_unit'")
        return self


class DataSpec(_Strict):
    """Observed counts: a (observable, time, counts) table with optional subtraction of a sideband."""

    format: Literal["pe_time_counts"] = "pe_time_counts"
    beam_on: Optional[str] = None
    subtract: Optional[str] = None
    time_window_us: Optional[tuple[float, float]] = None
    backgrounds: list[BackgroundSpec] = []


class SystematicSpec(_Strict):
    name: str
    sigma: float = Field(ge=0)
    applies_to: list[str] = ["signal"]
    description: str = ""


class SingleBinSpec(_Strict):
    """COHERENT-2017 style single-bin counting with two pulls (PHYSICS.md section 7)."""

    sigma_signal: float = Field(ge=0)
    sigma_background: float = Field(ge=0)
    background: str = "prompt_neutrons"


class StatisticsSpec(_Strict):
    single_bin: Optional[SingleBinSpec] = None
    spectral: Literal["poisson", "gaussian"] = "poisson"


class ExperimentSpec(_Strict):
    schema_version: Literal[1] = 1
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9\-_]*$")
    title: str
    description: str = ""
    references: list[str] = []
    source: Source
    detector: DetectorSpec
    physics: dict[str, Union[float, str, bool]] = {}
    data: Optional[DataSpec] = None
    systematics: list[SystematicSpec] = []
    statistics: StatisticsSpec = StatisticsSpec()
    n_t: int = Field(default=400, ge=20, description="recoil-energy integration nodes per isotope")

    @model_validator(mode="after")
    def _exposure(self):
        if self.source.kind in ("reactor", "tabulated") and self.detector.exposure_days is None:
            raise ValueError(f"a {self.source.kind} source needs detector.exposure_days")
        return self

    def split_physics(self):
        """Split ``[physics]`` into (PhysicsSettings, parameter defaults)."""
        from ..physics.parameters import spec_for

        settings, params = {}, {}
        for k, v in self.physics.items():
            if k in PhysicsSettings.model_fields:
                settings[k] = v
            else:
                spec_for(k)
                params[k] = v
        return settings, params
