"""Short-baseline oscillation probabilities averaged over the source and detector extent.

Phase of a 3+1 oscillation (PHYSICS.md section 4, Papoulias Eq. 9)::

    phi = 1.267 dm41^2[eV^2] L[m] / E[MeV] = k L,   k = OSC_PHASE dm41^2 / E  [rad / m]

Averaging ``sin^2(k L')`` over independent uniform spreads ``L' = L + x_s + x_d``, ``x_s`` in
``[-d_s, d_s]`` (source) and ``x_d`` in ``[-d_d, d_d]`` (detector), uses
``<cos(2 k x)> = sin(2 k d) / (2 k d)`` for each, so::

    <sin^2(k L')> = 1/2 - 1/2 cos(2 k L) sinc(2 k d_s) sinc(2 k d_d)

which tends to 1/2 for ``k d >> 1`` and to ``sin^2(k L)`` for ``d -> 0``.
"""

from __future__ import annotations

import numpy as np

from .constants import OSC_PHASE


def phase_per_m(dm41_sq_ev2, energy_mev):
    """k = 1.267 dm41^2 / E [rad per m of baseline] (zero where E <= 0). Broadcasts.

    PHYSICS.md section 4 (Papoulias & Kosmas, arXiv:1711.09773, Eq. 9).

    Parameters
    ----------
    dm41_sq_ev2 : float or ndarray
        Mass splitting Delta m^2_41 [eV^2].
    energy_mev : float or ndarray
        Neutrino energy E [MeV].

    Examples
    --------
    The oscillation phase 1.267 dm^2 L / E for dm^2 = 1 eV^2, E = 30 MeV, L = 20 m:

    >>> f"{phase_per_m(1.0, 30.0) * 20.0:.4f}"
    '0.8446'
    """
    e = np.asarray(energy_mev, dtype=float)
    with np.errstate(divide="ignore"):
        inv = np.where(e > 0, 1.0 / np.where(e > 0, e, 1.0), 0.0)
    return OSC_PHASE * np.asarray(dm41_sq_ev2, dtype=float) * inv


def _sinc(x):
    return np.sinc(np.asarray(x, dtype=float) / np.pi)  # sin(x)/x


def averaged_sin2(phase_per_m_, baseline_m: float, spread_m: float, detector_spread_m: float = 0.0):
    """<sin^2(k L')> for L' = L + uniform(+-spread_m) + uniform(+-detector_spread_m) (module docstring).

    Parameters
    ----------
    phase_per_m_ : float or ndarray
        k [rad/m], see :func:`phase_per_m`.
    baseline_m : float
        Mean baseline L [m].
    spread_m, detector_spread_m : float
        Half-widths [m] of the two uniform spreads (0: no averaging).
    """
    k = np.asarray(phase_per_m_, dtype=float)
    if spread_m <= 0 and detector_spread_m <= 0:
        return np.sin(k * baseline_m) ** 2
    damp = _sinc(2.0 * k * spread_m) * _sinc(2.0 * k * detector_spread_m)
    return 0.5 - 0.5 * np.cos(2.0 * k * baseline_m) * damp


def survival_disappearance(dm41_sq_ev2: float, energies_mev, baseline_m: float, spread_m: float,
                           detector_spread_m: float = 0.0):
    """D(E) = <sin^2(1.267 dm41^2 L / E)> at the flux energy nodes, so that P(E) = 1 - A D(E).

    Averaged over the source and detector spreads as in the module docstring (PHYSICS.md section 4).

    Parameters
    ----------
    dm41_sq_ev2 : float
        Mass splitting Delta m^2_41 [eV^2].
    energies_mev : ndarray
        Flux energy nodes E [MeV].
    baseline_m : float
        Mean source-detector distance L [m].
    spread_m : float
        Half-width of the production region along L [m] (uniform average).
    detector_spread_m : float, optional
        Half-width of the detector along L [m].

    Returns
    -------
    ndarray
        D(E), dimensionless, in [0, 1].
    """
    return averaged_sin2(phase_per_m(dm41_sq_ev2, energies_mev), baseline_m, spread_m, detector_spread_m)
