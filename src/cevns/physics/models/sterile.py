"""3+1 sterile neutrino mixing (Papoulias Eq. 9; PHYSICS.md 4).

Flavour a survives with ``P_aa = 1 - A_a <sin^2(1.267 dm41^2 L/E)>``, averaged over the source and
detector extent (:mod:`cevns.physics.oscillation`), where

* ``sterile_treatment = "survival"`` (the seed): ``A_a = sin^2(2 theta_a4) = 4 |U_a4|^2 (1 - |U_a4|^2)``;
* ``"nc_appearance"``: only active -> sterile appearance removes NC events,
  ``A_a = 4 |U_a4|^2 |U_s4|^2`` with ``|U_s4|^2 = 1 - sum_b |U_b4|^2``.
"""

from __future__ import annotations

import numpy as np

from ..oscillation import survival_disappearance
from ..parameter_spec import LEPTONS, ParameterSpec, lepton_of
from .base import FluxModifier, PhysicsModel, register

_REF = "PHYSICS.md 4; Papoulias Eq. 9"


def oscillation_amplitude(pt, lepton: str, treatment: str):
    """A_a of ``P_aa = 1 - A_a <sin^2>`` (module docstring), array over points or float.

    Parameters
    ----------
    pt : PhysicsPoint
        The physics points (mixing parameters ``U_a4``).
    lepton : {"e", "mu", "tau"}
        Lepton flavour a.
    treatment : str
        The ``sterile_treatment`` setting (``"survival"`` for the seed).
    """
    ua = np.asarray(pt.get(f"u_{lepton}4_sq"), dtype=float)
    if treatment == "survival":
        return 4.0 * ua * (1.0 - ua)
    us = 1.0 - sum(np.asarray(pt.get(f"u_{b}4_sq"), dtype=float) for b in LEPTONS)
    return 4.0 * ua * us


class Sterile(PhysicsModel):
    """3+1 sterile mixing |U_a4|^2 and splitting dm41^2."""

    name = "sterile"
    description = "3+1 sterile neutrino oscillation"
    reference = _REF
    parameters = tuple(ParameterSpec(f"u_{a}4_sq", 0.0, "-", f"|U_{a}4|^2, 3+1 sterile mixing", _REF, 0.0, 1.0)
                       for a in LEPTONS) \
        + (ParameterSpec("dm41_sq", 1.0, "eV^2", "sterile mass splitting Delta m^2_41", _REF, 0.0),)
    shape_parameters = ("dm41_sq",)

    def flux_modifiers(self, pt, flavor, settings):
        if not any(pt.nonzero(f"u_{b}4_sq") for b in LEPTONS):
            return ()
        amp = oscillation_amplitude(pt, lepton_of(flavor), settings.sterile_treatment)
        if not np.any(np.asarray(amp) != 0):
            return ()
        return (FluxModifier("dm41_sq", amp, pt.get("dm41_sq"), survival_disappearance),)


MODEL = register(Sterile())
