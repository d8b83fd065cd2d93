"""Vector non-standard interactions eps_ab^qV (q = u, d), Canas et al. Eq. 2 (PHYSICS.md 4).

For incoming nu_a (and anti-nu_a, which sees the same vector charges)::

    Q_a^2 = [Z (g_V^p + 2eps_aa^uV + eps_aa^dV) F_Z + N (g_V^n + eps_aa^uV + 2eps_aa^dV) F_N]^2
          + sum_{b != a} |Z (2eps_ab^uV + eps_ab^dV) F_Z + N (eps_ab^uV + 2eps_ab^dV) F_N|^2

The diagonal part interferes with the SM amplitude; the flavour-changing parts add incoherently.
"""

from __future__ import annotations

from ..couplings import nsi_charges
from ..parameter_spec import LEPTONS, QUARKS, ParameterSpec, lepton_of
from .base import Amplitude, KernelTerm, PhysicsModel, register


def lepton_pairs():
    """(a, b) with a <= b in the order e, mu, tau (eps_ba = eps_ab: real symmetric couplings)."""
    return [(a, b) for i, a in enumerate(LEPTONS) for b in LEPTONS[i:]]


def nsi_name(a: str, b: str, q: str, kind: str) -> str:
    """Canonical parameter name ``eps_<ab>_<q><V|T>`` with a before b in e, mu, tau order.

    Parameters
    ----------
    a, b : {"e", "mu", "tau"}
        Lepton flavours of the coupling (any order).
    q : {"u", "d"}
        Quark.
    kind : {"V", "T"}
        Vector or tensor.
    """
    if LEPTONS.index(a) > LEPTONS.index(b):
        a, b = b, a
    return f"eps_{a}{b}_{q}{kind}"


class VectorNSI(PhysicsModel):
    """Vector NSI with u and d quarks, all flavour pairs."""

    name = "vector_nsi"
    description = "vector non-standard interactions eps_ab^qV"
    reference = "PHYSICS.md 4; Canas et al. Eq. 2"
    parameters = tuple(ParameterSpec(f"eps_{a}{b}_{q}V", 0.0, "-", f"vector NSI eps_{a}{b}^{q}V",
                                     "PHYSICS.md 4; Canas et al. Eq. 2")
                       for a, b in lepton_pairs() for q in QUARKS)

    def terms(self, pt, flavor, settings):
        a = lepton_of(flavor)
        out = []
        for b in LEPTONS:
            nu, nd = nsi_name(a, b, "u", "V"), nsi_name(a, b, "d", "V")
            if not (pt.nonzero(nu) or pt.nonzero(nd)):
                continue
            dz, dn = nsi_charges(pt.get(nu), pt.get(nd))
            out.append(KernelTerm("vector", (Amplitude(dz, dn),), coherent=(b == a)))
        return out


MODEL = register(VectorNSI())
