"""Experiment-level physics choices that are not scanned (validated with pydantic)."""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

#: Default half-width [m] of the neutrino production region along the line of sight, per source kind.
#: * spallation (SNS): pions are produced and stop, and muons decay, in the liquid-mercury target where the
#:   1 GeV protons shower, a region taken as 0.5 m deep (the SNS Hg target scale; COHERENT quotes single
#:   baselines, e.g. 19.3 m for CsI, so the extent is an assumption of this toolkit): half-width 0.25 m.
#: * reactor: a PWR core is ~3.6 m across (Brokdorf, Angra 2); a uniform spread with the core's rms
#:   (about 0.9 m for fissions spread over a 1.8 m radius disc, R/2) has half-width 0.9 * sqrt(3) = 1.5 m.
#: Other sources (tabulated files): 0, i.e. no averaging unless the experiment sets ``baseline_spread_m``.
DEFAULT_BASELINE_SPREAD_M = {"spallation": 0.25, "reactor": 1.5}


def default_baseline_spread_m(source_kind: str | None) -> float:
    """Default half-width [m] of the production region of a source kind (:data:`DEFAULT_BASELINE_SPREAD_M`).

    Parameters
    ----------
    source_kind : str or None
        Source kind (``"reactor"``, ``"spallation"``, ...); None or unknown kinds give 0.
    """
    return float(DEFAULT_BASELINE_SPREAD_M.get(source_kind or "", 0.0))


#: Default shape parameter [fm] of each form-factor model (Helm s, Klein-Nystrand a_k, Fermi a).
DEFAULT_SHAPE_FM = {"helm": 0.9, "klein_nystrand": 0.7, "symmetrized_fermi": 0.52, "unity": 0.0}


class PhysicsSettings(BaseModel):
    """Choices of the physics model (PHYSICS.md sections 2-4).

    Attributes
    ----------
    coupling_scheme : "tree" or "radiative" SM vector couplings.
    kinematics : "full" (1 - T/E - MT/2E^2) or "seed" (1 - MT/2E^2, as both seed papers).
    form_factor : nuclear form factor model, the same shape for protons and neutrons.
    form_factor_shape_fm : Helm surface thickness s / Klein-Nystrand a_k / Fermi diffuseness a [fm]
        (default per model: 0.9, 0.7, 0.52).
    proton_radius : "charge": proton rms radius from the measured charge radius,
        R_p^2 = R_ch^2 - r_p^2; "empirical": the seed convention R = 1.2 A^(1/3) fm of the model.
    sterile_treatment : "survival" (seed: P_aa applied to the flux) or "nc_appearance"
        (only the active -> sterile appearance removes neutral-current events).
    baseline_spread_m : half-width [m] of the uniform spread of the neutrino production point along the
        line of sight, over which oscillations are averaged (PHYSICS.md 4); None (default): the source's
        default, :func:`default_baseline_spread_m`.
    detector_spread_m : half-width [m] of the uniform spread of the interaction point along the line of
        sight (half the detector depth); the two spreads are averaged independently
        (:mod:`cevns.physics.oscillation`).
    exact_momentum_transfer : use q^2 = 2MT + T^2 instead of 2MT.
    """

    model_config = ConfigDict(extra="forbid")

    coupling_scheme: Literal["tree", "radiative"] = "tree"
    kinematics: Literal["full", "seed"] = "full"
    form_factor: Literal["helm", "klein_nystrand", "symmetrized_fermi", "unity"] = "helm"
    form_factor_shape_fm: Optional[float] = Field(default=None, ge=0.0)
    proton_radius: Literal["charge", "empirical"] = "charge"
    sterile_treatment: Literal["survival", "nc_appearance"] = "survival"
    baseline_spread_m: Optional[float] = Field(default=None, ge=0.0)
    detector_spread_m: float = Field(default=0.0, ge=0.0)
    exact_momentum_transfer: bool = False

    @property
    def shape_fm(self) -> float:
        """The resolved form-factor shape parameter [fm]."""
        if self.form_factor_shape_fm is not None:
            return self.form_factor_shape_fm
        return DEFAULT_SHAPE_FM[self.form_factor]

    def resolved(self) -> dict:
        """All settings with defaults filled in (for result files)."""
        d = self.model_dump()
        d["form_factor_shape_fm"] = self.shape_fm
        return d


SETTING_NAMES = tuple(PhysicsSettings.model_fields)
