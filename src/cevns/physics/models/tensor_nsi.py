"""Tensor non-standard interactions eps_ab^qT (Papoulias & Kosmas arXiv:1711.09773; PHYSICS.md 4).

Incoherent with the SM: ``dsigma/dT = (4 G_F^2 M/pi)(1 - M T/4E^2) Q_T^2`` summed over b, with
``Q_T = Z (2eps_ab^uT + eps_ab^dT) F_Z + N (eps_ab^uT + 2eps_ab^dT) F_N``.
"""

from __future__ import annotations

from ..couplings import nsi_charges
from ..parameter_spec import LEPTONS, QUARKS, ParameterSpec, lepton_of
from .base import Amplitude, KernelTerm, PhysicsModel, register
from .vector_nsi import lepton_pairs, nsi_name


class TensorNSI(PhysicsModel):
    """Tensor NSI with u and d quarks, all flavour pairs."""

    name = "tensor_nsi"
    description = "tensor non-standard interactions eps_ab^qT"
    reference = "PHYSICS.md 4; arXiv:1711.09773"
    parameters = tuple(ParameterSpec(f"eps_{a}{b}_{q}T", 0.0, "-", f"tensor NSI eps_{a}{b}^{q}T",
                                     "PHYSICS.md 4; arXiv:1711.09773")
                       for a, b in lepton_pairs() for q in QUARKS)

    def terms(self, pt, flavor, settings):
        a = lepton_of(flavor)
        out = []
        for b in LEPTONS:
            nu, nd = nsi_name(a, b, "u", "T"), nsi_name(a, b, "d", "T")
            if pt.nonzero(nu) or pt.nonzero(nd):
                tz, tn = nsi_charges(pt.get(nu), pt.get(nd))
                out.append(KernelTerm("tensor", (Amplitude(tz, tn),)))
        return out


MODEL = register(TensorNSI())
