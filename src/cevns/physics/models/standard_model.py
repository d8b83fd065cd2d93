"""The Standard Model: coherent vector scattering with the weak mixing angle and nuclear radii.

``dsigma/dT = (G_F^2 M/pi) (1 - T/E - M T/2E^2) (g_V^p Z F_Z + g_V^n N F_N)^2`` (PHYSICS.md 2). The
neutron rms radius ``rn`` (``rn_<Isotope>``) enters through F_N (computed by the engine's nuclear kernels,
PHYSICS.md 3) and changes the spectral shape.
"""

from __future__ import annotations

import math

from ..couplings import sm_vector_couplings
from ..parameter_spec import ParameterSpec
from .base import Amplitude, KernelTerm, PhysicsModel, register


class StandardModel(PhysicsModel):
    """SM vector couplings (tree or radiative, ``PhysicsSettings.coupling_scheme``)."""

    always_active = True
    name = "standard_model"
    description = "Standard-Model coherent vector scattering"
    reference = "PHYSICS.md 2-3; Papoulias & Kosmas Eq. 1; Canas et al. 1911.09831"
    parameters = (
        ParameterSpec("sin2_theta_w", 0.2312, "-", "weak mixing angle sin^2(theta_W)", "PHYSICS.md 2",
                      0.0, 1.0, False, False),
        ParameterSpec("rn", None, "fm", "neutron rms radius of every target isotope (default: the proton rms "
                      "radius)", "PHYSICS.md 3; Canas et al. 1911.09831", 0.0, math.inf, False),
    )
    shape_parameters = ("rn",)

    def terms(self, pt, flavor, settings):
        g_p, g_n = sm_vector_couplings(pt.get("sin2_theta_w"), settings.coupling_scheme)
        return (KernelTerm("vector", (Amplitude(g_p, g_n),), coherent=True),)


MODEL = register(StandardModel())
