"""Neutrino charge radius (Cadeddu et al. arXiv:1810.05606, revised 2020; PHYSICS.md 4).

``g_V^p -> g_V^p - (sqrt(2) pi alpha / 3 G_F) <r^2_a>`` (2.38e30 cm^-2 <r^2_a>), the SAME shift for
nu_a and anti-nu_a (:func:`cevns.physics.couplings.charge_radius_shift`). Interferes with the SM.
"""

from __future__ import annotations

from ..couplings import charge_radius_shift
from ..parameter_spec import LEPTONS, ParameterSpec, lepton_of
from .base import Amplitude, KernelTerm, PhysicsModel, register

_REF = "PHYSICS.md 4; arXiv:1810.05606"


class ChargeRadius(PhysicsModel):
    """Flavour-diagonal neutrino charge radii."""

    name = "charge_radius"
    description = "neutrino charge radius <r^2>"
    reference = _REF
    parameters = tuple(ParameterSpec(f"r2_nu_{a}", 0.0, "cm^2",
                                     f"charge radius <r^2> of nu_{a} (the same g_V^p shift for anti-nu_{a})", _REF)
                       for a in LEPTONS)

    def terms(self, pt, flavor, settings):
        name = f"r2_nu_{lepton_of(flavor)}"
        if not pt.nonzero(name):
            return ()
        return (KernelTerm("vector", (Amplitude(charge_radius_shift(pt.get(name)), 0.0),), coherent=True),)


MODEL = register(ChargeRadius())
