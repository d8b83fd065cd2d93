"""The description of one physics parameter (name, unit, domain, default, reference) and flavour names.

Every physics model of :mod:`cevns.physics.models` declares its parameters as :class:`ParameterSpec`
objects; :mod:`cevns.physics.parameters` collects them into the public table ``PARAMETERS``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import ParameterError

#: Lepton flavours, in the order used by flavour indices.
LEPTONS = ("e", "mu", "tau")
#: Quarks with NSI couplings.
QUARKS = ("u", "d")


def lepton_of(flavor: str) -> str:
    """The lepton flavour ``"e"``, ``"mu"`` or ``"tau"`` of a flux label such as ``"nu_mu_bar"``.

    Parameters
    ----------
    flavor : str
        Flux label (``nu_e``, ``nu_mu_bar``, ...).
    """
    parts = flavor.split("_")
    if len(parts) < 2 or parts[1] not in LEPTONS:
        raise ParameterError(f"unknown neutrino flavour {flavor!r}")
    return parts[1]


def is_antineutrino_label(flavor: str) -> bool:
    """True for antineutrino flux labels (``*_bar``).

    Parameters
    ----------
    flavor : str
        Flux label.
    """
    return flavor.endswith("_bar")


@dataclass(frozen=True)
class ParameterSpec:
    """Description of one physics parameter.

    Attributes
    ----------
    name, default, unit, description, reference :
        ``default`` None means "derived" (e.g. the neutron radius defaults to the proton radius).
    lower, upper, lower_inclusive, upper_inclusive :
        The physical domain.
    """

    name: str
    default: float | None
    unit: str
    description: str
    reference: str
    lower: float = -math.inf
    upper: float = math.inf
    lower_inclusive: bool = True
    upper_inclusive: bool = True

    def _all_ok(self, v: np.ndarray) -> bool:
        """Fast path of :meth:`check`: finite and inside the domain (NaN fails every comparison)."""
        ok = None
        if not (math.isfinite(self.lower) and math.isfinite(self.upper)):
            ok = np.isfinite(v)
        if math.isfinite(self.lower):
            m = v >= self.lower if self.lower_inclusive else v > self.lower
            ok = m if ok is None else ok & m
        if math.isfinite(self.upper):
            m = v <= self.upper if self.upper_inclusive else v < self.upper
            ok = m if ok is None else ok & m
        return bool(ok.all())

    def check(self, values: np.ndarray) -> None:
        """Raise :class:`ParameterError` if any value is NaN/inf or outside the domain.

        Parameters
        ----------
        values : ndarray
            Values of this parameter (in its unit).
        """
        v = np.asarray(values, dtype=float)
        if self._all_ok(v):
            return
        if not np.all(np.isfinite(v)):
            raise ParameterError(f"parameter {self.name!r} must be finite, got {v[~np.isfinite(v)].flat[0]}")
        lo_bad = v < self.lower if self.lower_inclusive else v <= self.lower
        hi_bad = v > self.upper if self.upper_inclusive else v >= self.upper
        bad = lo_bad | hi_bad
        if np.any(bad):
            lo = ("[" if self.lower_inclusive else "(") + f"{self.lower:g}"
            hi = f"{self.upper:g}" + ("]" if self.upper_inclusive else ")")
            raise ParameterError(
                f"parameter {self.name!r} = {v[bad].flat[0]:g} is outside its physical domain {lo}, {hi}")
