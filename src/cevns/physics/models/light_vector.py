"""Light vector mediator Z' coupling universally to quarks and to left-handed neutrinos (PHYSICS.md 4).

It acts as a momentum-dependent vector NSI ``eps^uV = eps^dV = g_nu g_q / (sqrt(2) G_F (q^2 + m_Z'^2))``
(:func:`cevns.physics.couplings.zprime_effective_eps`), so the per-nucleon shift is
``delta g^p = delta g^n = 3 eps(q^2)``, interfering with the SM for every flavour.
"""

from __future__ import annotations

import math

from ..couplings import zprime_effective_eps
from ..parameter_spec import ParameterSpec
from .base import Amplitude, KernelTerm, PhysicsModel, Shape, register


def unit_coupling_eps(mass_mev: float, q2_mev2):
    """eps(q^2) per unit g_nu g_q (the T-dependent shape of the Z' amplitude).

    Parameters
    ----------
    mass_mev : float
        Z' mass [MeV].
    q2_mev2 : float or ndarray
        Squared momentum transfer q^2 = 2 M T [MeV^2].

    Returns
    -------
    ndarray
        eps per unit coupling (dimensionless, in units of G_F).
    """
    return zprime_effective_eps(1.0, mass_mev, q2_mev2)


class LightVector(PhysicsModel):
    """Light vector mediator (mass, coupling product g_nu g_q)."""

    name = "light_vector"
    description = "light vector mediator Z'"
    reference = "PHYSICS.md 4"
    parameters = (
        ParameterSpec("zprime_mass", 1000.0, "MeV", "light vector mediator mass", "PHYSICS.md 4", 0.0, math.inf,
                      False),
        ParameterSpec("zprime_coupling", 0.0, "-", "g_nu * g_q of the light vector mediator (universal quarks)",
                      "PHYSICS.md 4"),
    )
    shape_parameters = ("zprime_mass",)

    def terms(self, pt, flavor, settings):
        if not pt.nonzero("zprime_coupling"):
            return ()
        c = 3.0 * pt.get("zprime_coupling")  # 2 eps^u + eps^d = eps^u + 2 eps^d = 3 eps
        shape = Shape("zprime_mass", pt.get("zprime_mass"), unit_coupling_eps)
        return (KernelTerm("vector", (Amplitude(c, c, shape),), coherent=True),)


MODEL = register(LightVector())
