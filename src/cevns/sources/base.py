"""The flux representation shared by every source and consumed by the rate engine."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Flavour labels used throughout the package (incoming neutrino of the CEvNS process).
FLAVORS = ("nu_e", "nu_mu", "nu_tau", "nu_e_bar", "nu_mu_bar", "nu_tau_bar")


def flavor_index(flavor: str) -> int:
    """Return 0, 1, 2 for the lepton flavour (e, mu, tau) of a flavour label.

    Parameters
    ----------
    flavor : str
        Flux label such as ``"nu_e"`` or ``"nu_mu_bar"``.
    """
    return {"e": 0, "mu": 1, "tau": 2}[flavor.split("_")[1]]


def is_antineutrino(flavor: str) -> bool:
    """True for antineutrino labels (``*_bar``).

    Parameters
    ----------
    flavor : str
        Flux label such as ``"nu_e"`` or ``"nu_mu_bar"``.
    """
    return flavor.endswith("_bar")


@dataclass(frozen=True)
class FluxComponent:
    """One flavour's neutrino fluence at the detector, integrated over the exposure.

    Parameters
    ----------
    flavor : str
        One of :data:`FLAVORS`.
    energies_mev : ndarray, shape (n,)
        Ascending energy nodes [MeV]. For a monochromatic line, shape (1,).
    values : ndarray, shape (n,)
        Continuous spectrum: fluence density dPhi/dE at the nodes [cm^-2 MeV^-1], to be integrated
        with the trapezoidal rule on the nodes (so the node spacing controls convergence).
        Line: the total fluence of the line [cm^-2].
    is_line : bool
        Whether this component is a monochromatic line.
    """

    flavor: str
    energies_mev: np.ndarray
    values: np.ndarray
    is_line: bool = False

    def __post_init__(self):
        if self.flavor not in FLAVORS:
            raise ValueError(f"unknown flavour {self.flavor!r}; expected one of {FLAVORS}")
        e = np.asarray(self.energies_mev, dtype=float)
        v = np.asarray(self.values, dtype=float)
        if e.shape != v.shape or e.ndim != 1:
            raise ValueError("energies_mev and values must be 1-D arrays of the same length")
        if self.is_line and e.size != 1:
            raise ValueError("a line has exactly one energy node")
        if not np.all(np.isfinite(e)) or not np.all(np.isfinite(v)):
            raise ValueError("flux nodes and values must be finite")
        if e.size > 1 and np.any(np.diff(e) <= 0):
            raise ValueError("energies_mev must be strictly ascending")
        object.__setattr__(self, "energies_mev", e)
        object.__setattr__(self, "values", v)

    def total_fluence_cm2(self) -> float:
        """Energy-integrated fluence [cm^-2] (trapezoidal rule on the nodes, or the line value)."""
        if self.is_line:
            return float(self.values[0])
        return float(np.trapezoid(self.values, self.energies_mev))

    @property
    def e_max_mev(self) -> float:
        """Largest energy with non-zero flux [MeV]."""
        nz = np.nonzero(self.values)[0]
        return float(self.energies_mev[nz[-1]]) if nz.size else 0.0

    def scaled(self, factor: float) -> "FluxComponent":
        """A copy with the fluence multiplied by ``factor``."""
        return FluxComponent(self.flavor, self.energies_mev, self.values * factor, self.is_line)
