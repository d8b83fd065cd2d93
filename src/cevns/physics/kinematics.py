"""Elastic neutrino-nucleus kinematics (``shared/PHYSICS.md`` section 1).

Massless neutrino of energy E on a nucleus of mass M at rest; T is the nuclear recoil kinetic
energy. All energies and masses in MeV; functions broadcast their array arguments.
"""

from __future__ import annotations

import numpy as np

__all__ = ["t_max_mev", "e_min_mev", "momentum_transfer_mev"]


def _array(x, name: str, *, positive: bool = False) -> np.ndarray:
    arr = np.asarray(x, dtype=float)
    if np.any(np.isnan(arr)) or np.any(np.isinf(arr)):
        raise ValueError(f"{name} must be finite, got {x!r}")
    if positive and np.any(arr <= 0):
        raise ValueError(f"{name} must be > 0, got {x!r}")
    if not positive and np.any(arr < 0):
        raise ValueError(f"{name} must be >= 0, got {x!r}")
    return arr


def _out(arr: np.ndarray):
    return arr[()] if arr.ndim == 0 else arr


def t_max_mev(energy_mev, mass_mev):
    """Maximum recoil kinetic energy [MeV] for neutrino energy E [MeV] and nuclear mass M [MeV].

    ``T_max = 2 E^2 / (M + 2 E)`` (backward scattering; ``shared/PHYSICS.md`` section 1).

    Parameters
    ----------
    energy_mev : float or ndarray
        Neutrino energy E [MeV], >= 0.
    mass_mev : float or ndarray
        Nuclear mass M [MeV], > 0.

    Examples
    --------
    A 30 MeV neutrino on Cs133 (M = 123.8 GeV) gives at most ~14.5 keV of recoil:

    >>> f"{t_max_mev(30.0, 123800.0) * 1e3:.4g} keV"
    '14.53 keV'
    """
    e = _array(energy_mev, "energy_mev")
    m = _array(mass_mev, "mass_mev", positive=True)
    return _out(2.0 * e**2 / (m + 2.0 * e))


def e_min_mev(t_mev, mass_mev):
    """Minimum neutrino energy [MeV] that can give recoil energy T [MeV] to a nucleus of mass M.

    ``E_min = (T + sqrt(T^2 + 2 M T)) / 2``, the inverse of :func:`t_max_mev`.

    Parameters
    ----------
    t_mev : float or ndarray
        Nuclear recoil kinetic energy T [MeV], >= 0.
    mass_mev : float or ndarray
        Nuclear mass M [MeV], > 0.

    Examples
    --------
    The inverse of :func:`t_max_mev`:

    >>> round(float(e_min_mev(t_max_mev(30.0, 123800.0), 123800.0)), 9)
    30.0
    """
    t = _array(t_mev, "t_mev")
    m = _array(mass_mev, "mass_mev", positive=True)
    return _out(0.5 * (t + np.sqrt(t**2 + 2.0 * m * t)))


def momentum_transfer_mev(t_mev, mass_mev, exact: bool = False):
    """Momentum transfer |q| [MeV] for recoil energy T [MeV] on a nucleus of mass M [MeV].

    ``|q| = sqrt(2 M T)`` (= sqrt(-t), the invariant four-momentum transfer), or with
    ``exact=True`` the three-momentum transferred in the lab frame, ``sqrt(2 M T + T^2)``
    (``shared/PHYSICS.md`` section 1).

    Parameters
    ----------
    t_mev : float or ndarray
        Nuclear recoil kinetic energy T [MeV], >= 0.
    mass_mev : float or ndarray
        Nuclear mass M [MeV], > 0.
    exact : bool, optional
        Return the lab-frame three-momentum instead of sqrt(2 M T).

    Examples
    --------
    A 10 keV recoil of Cs133: ``sqrt(2 * 123800 * 0.01)`` = 49.8 MeV (0.25 fm^-1):

    >>> f"{momentum_transfer_mev(0.01, 123800.0):.4g}"
    '49.76'
    """
    t = _array(t_mev, "t_mev")
    m = _array(mass_mev, "mass_mev", positive=True)
    q2 = 2.0 * m * t + (t**2 if exact else 0.0)
    return _out(np.sqrt(q2))
