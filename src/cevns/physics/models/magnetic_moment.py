"""Neutrino magnetic moment (PHYSICS.md 4; Vogel & Engel 1989; Papoulias Eqs. 7-8).

Incoherent with the SM: ``dsigma/dT = (pi alpha^2 mu_nu^2/m_e^2)(1/T - 1/E) Z^2 F_Z^2``, mu_nu in
Bohr magnetons, per flavour (``mu_nu_<a>``, default the common ``mu_nu``).
"""

from __future__ import annotations

from ..parameter_spec import LEPTONS, ParameterSpec, lepton_of
from .base import Amplitude, KernelTerm, PhysicsModel, register

_REF = "PHYSICS.md 4; Papoulias Eqs. 7-8"


class MagneticMoment(PhysicsModel):
    """Effective neutrino magnetic moments."""

    name = "magnetic_moment"
    description = "effective neutrino magnetic moment"
    reference = _REF
    parameters = (ParameterSpec("mu_nu", 0.0, "mu_B", "effective magnetic moment of all flavours", _REF, 0.0),) \
        + tuple(ParameterSpec(f"mu_nu_{a}", None, "mu_B", f"effective magnetic moment of nu_{a} (default: mu_nu)",
                              _REF, 0.0) for a in LEPTONS)

    def terms(self, pt, flavor, settings):
        name = f"mu_nu_{lepton_of(flavor)}"
        if not pt.nonzero(name):
            return ()
        return (KernelTerm("magnetic", (Amplitude(pt.get(name), 0.0),)),)


MODEL = register(MagneticMoment())
