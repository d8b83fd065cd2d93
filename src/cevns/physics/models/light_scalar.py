"""Light scalar mediator phi (Cerdeno et al. arXiv:1604.01025; Farzan et al. arXiv:1802.05171).

No interference with the SM: ``dsigma/dT = (g_nu g_q)^2 Q_S^2 M^2 T / (4 pi E^2 (2MT + m_phi^2)^2)``,
``Q_S = C_p Z F_Z + C_n N F_N`` per unit universal quark coupling
(:data:`cevns.physics.couplings.SCALAR_PER_PROTON`, ``SCALAR_PER_NEUTRON``).
"""

from __future__ import annotations

import math

from ..couplings import SCALAR_PER_NEUTRON, SCALAR_PER_PROTON
from ..cross_sections import scalar_propagator
from ..parameter_spec import ParameterSpec
from .base import Amplitude, KernelTerm, PhysicsModel, Shape, register

_REF = "PHYSICS.md 4; arXiv:1604.01025; arXiv:1802.05171"


class LightScalar(PhysicsModel):
    """Light scalar mediator (mass, coupling product g_nu g_q)."""

    name = "light_scalar"
    description = "light scalar mediator"
    reference = _REF
    parameters = (
        ParameterSpec("scalar_mass", 1000.0, "MeV", "light scalar mediator mass", "PHYSICS.md 4; arXiv:1604.01025",
                      0.0, math.inf, False),
        ParameterSpec("scalar_coupling", 0.0, "-", "g_nu * g_q of the light scalar mediator (universal quarks)",
                      "PHYSICS.md 4; arXiv:1802.05171"),
    )
    shape_parameters = ("scalar_mass",)

    def terms(self, pt, flavor, settings):
        if not pt.nonzero("scalar_coupling"):
            return ()
        g = pt.get("scalar_coupling")
        shape = Shape("scalar_mass", pt.get("scalar_mass"), scalar_propagator)
        return (KernelTerm("scalar", (Amplitude(SCALAR_PER_PROTON * g, SCALAR_PER_NEUTRON * g, shape),)),)


MODEL = register(LightScalar())
