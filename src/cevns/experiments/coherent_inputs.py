"""Analysis inputs of COHERENT CsI 2021 and LAr 2020 (``inputs.toml`` beside each data folder).

A small pydantic model, separate from the experiment schema (:mod:`cevns.experiments.schema`), which
does not yet describe (observable x time) data, shape templates or on/off terms. Paths are relative to
the ``inputs.toml`` file.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..errors import ConfigError

__all__ = ["SourceInputs", "CsI2021Inputs", "Ar2020Inputs", "load_inputs", "BUILTIN_INPUTS"]

_HERE = Path(__file__).resolve().parent
BUILTIN_INPUTS = {
    "coherent-csi-2021": _HERE / "coherent_csi_2021" / "inputs.toml",
    "coherent-ar-2020": _HERE / "coherent_ar_2020" / "inputs.toml",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TimingInputs(_Strict):
    pulse_mean_us: float                          # proton-pulse mean in the detector clock
    pulse_sigma_us: float = Field(0.150, gt=0)
    onset_sigma_us: float = Field(gt=0)           # prior width of the beam-timing-onset nuisance


class SourceInputs(_Strict):
    pot: float = Field(gt=0)
    nu_per_flavor_per_pot: float = Field(gt=0)
    distance_m: float = Field(gt=0)
    flux_norm_sigma: float = Field(ge=0)
    timing: TimingInputs


class Normalised(_Strict):
    events: float = Field(ge=0)                   # expected events in the analysis region
    sigma: float = Field(ge=0)                    # relative (CsI) or absolute (LAr) prior width


class CsIBackground(Normalised):
    name: str
    pe_pdf: str
    time_pdf: str


class CsIDetector(_Strict):
    material: str = "CsI"
    mass_kg: float = Field(gt=0)
    light_yield_pe_per_kevee: float = Field(gt=0)
    gamma_beta_per_kevee: float = Field(gt=0)
    scintillation: str
    efficiency: str
    time_efficiency_onset_us: float
    time_efficiency_slope_per_us: float = Field(ge=0)


class CsIData(_Strict):
    coincidence: str
    anticoincidence: str
    expected_counts: dict[str, int]               # events in each list, checked on load
    pe_range: tuple[float, float]
    t_range_us: tuple[float, float]
    pe_edges: list[float]
    t_edges_us: list[float]
    steady_state_sigma: float = Field(ge=0)       # AC -> C window normalisation uncertainty


class Published(_Strict):
    fitted_cevns: tuple[float, float, float]
    sm_cevns: float
    significance_sigma: float
    reference: str


class CsI2021Inputs(_Strict):
    name: str
    references: list[str]
    source: SourceInputs
    detector: CsIDetector
    data: CsIData
    backgrounds: list[CsIBackground]
    published: Published


class ShapeSystematic(_Strict):
    name: str
    component: str
    up: str
    down: Optional[str] = None                    # one-sided: mirrored (down = 2 nominal - up)


class ArComponent(Normalised):
    name: str
    template: str
    free: bool = False                            # no prior on the normalisation


class ArDetector(_Strict):
    material: str = "Ar"
    mass_kg: float = Field(gt=0)
    quenching: tuple[float, float]                # QF = a + b T[keVnr]
    efficiency: str                               # keVee keVnr eff
    resolution_a_sqrt_kevee: float = Field(gt=0)  # sigma/E = a / sqrt(E)


class Ar2020Inputs(_Strict):
    name: str
    references: list[str]
    source: SourceInputs
    detector: ArDetector
    data: str
    energy_edges_kevee: list[float]
    time_edges_us: list[float]
    components: list[ArComponent]
    shape_systematics: list[ShapeSystematic]
    best_fit: dict[str, tuple[float, float]]      # published normalisations (value, uncertainty)

    @model_validator(mode="after")
    def _known_components(self):
        names = {c.name for c in self.components}
        for s in self.shape_systematics:
            if s.component not in names:
                raise ValueError(f"shape systematic {s.name!r} refers to unknown component {s.component!r}")
        return self


def load_inputs(name_or_path, model=None):
    """Load and validate a built-in (``"coherent-csi-2021"``, ``"coherent-ar-2020"``) or given inputs file.

    Parameters
    ----------
    name_or_path : str or pathlib.Path
        Built-in name or path of the inputs TOML file.
    model : type, optional
        ``Ar2020Inputs`` or ``CsI2021Inputs`` (guessed from the file if None).

    Returns
    -------
    (inputs, path)
        The validated model and the resolved file path (relative paths inside are relative to it).
    """
    path = BUILTIN_INPUTS.get(str(name_or_path), Path(name_or_path))
    if not path.exists():
        raise ConfigError(f"inputs file {name_or_path!r} not found (built in: {', '.join(BUILTIN_INPUTS)})")
    try:
        with open(path, "rb") as fh:
            raw = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML ({exc})") from None
    if model is None:
        model = Ar2020Inputs if "components" in raw else CsI2021Inputs
    try:
        return model.model_validate(raw), path
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        raise ConfigError(f"{path.name}: {where}: {first['msg']}") from None
