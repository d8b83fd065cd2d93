"""Nuclear-reactor electron-antineutrino source.

Flux at distance L from a reactor of thermal power P (PHYSICS.md section 5)::

    dPhi/dE = P / (sum_i f_i e_i) * sum_i f_i S_i(E) / (4 pi L^2)

with fission fractions f_i, energies released per fission e_i and per-fission spectra S_i(E)
[antineutrinos / fission / MeV] of the four fissioning isotopes U235, U238, Pu239, Pu241.

Spectrum models (``model``):

* ``"huber-mueller"`` (default): the Huber conversion fits for U235, Pu239, Pu241 (P. Huber,
  arXiv:1106.0687) and the Mueller summation fit for U238 (Th. A. Mueller et al.,
  arXiv:1101.2663), each ``S(E) = exp(sum_k a_k E^(k-1))``.
* ``"mueller"``: the Mueller et al. (arXiv:1101.2663) fits for all four isotopes.

The fits are valid from 2 to 8 MeV. Above ``HIGH_JUNCTION_MEV`` = 8 MeV (``high_energy``):

* ``"polynomial"`` (default): the fit extrapolated. Its E^5 term makes it fall much faster than
  summation spectra (U235: a factor ~6e5 from 8 to 10 MeV, against ~50 for BESTIOLE); the part above
  8 MeV is < 0.2 % of the E^2-weighted (CEvNS-like) U235 yield either way, but it sets the shape of the
  highest-recoil tail.
* ``"bestiole"``: the BESTIOLE shape of the same isotope scaled to equal the fit at 8 MeV (zero above
  the last table bin, 12.5 MeV).

:func:`reactor_flux` truncates at ``e_max_mev`` (default 10 MeV).

Below ``JUNCTION_MEV`` = 2 MeV (``low_energy``):

* ``"bestiole"`` (default): shape of the BESTIOLE summation spectrum of the same isotope
  (L. Perisse et al., arXiv:2304.14992, ancillary tables, 25 keV bins), scaled by a constant so that
  it equals the fit at 2 MeV (continuous join). Between 0 and the first bin center (12.5 keV) the
  spectrum rises linearly from zero.
* ``"kopeikin"``: shape of the tabulated low-energy total reactor spectrum ``kopeikin_spectrum.txt``
  (one spectrum for a reactor fuel mix, including neutron-capture beta decays; used here as a
  common shape for every isotope), scaled per isotope to equal the fit at 2 MeV. Its original
  publication is not documented in the repository it came from (see data/reactor/PROVENANCE.md).
* ``"polynomial"``: the fit extrapolated below 2 MeV (only sensible down to ~1.5 MeV; it grows
  without bound towards E = 0 -- use with ``e_min_mev`` >= ~1.5 MeV).
* ``"none"``: zero below 2 MeV.
"""

from __future__ import annotations

import math
from functools import lru_cache
from importlib import resources

import numpy as np

from ..physics.constants import MEV_PER_JOULE
from .base import FluxComponent
from .tables import read_two_columns

__all__ = [
    "ISOTOPES",
    "SPECTRUM_MODELS",
    "LOW_ENERGY_EXTENSIONS",
    "JUNCTION_MEV",
    "HIGH_JUNCTION_MEV",
    "HIGH_ENERGY_EXTENSIONS",
    "HUBER_COEFFS",
    "MUELLER_COEFFS",
    "DEFAULT_FISSION_FRACTIONS",
    "ENERGY_PER_FISSION_MEV",
    "exp_polynomial_spectrum",
    "isotope_spectrum",
    "mixed_spectrum",
    "fission_rate_per_s",
    "reactor_flux",
]

ISOTOPES = ("U235", "U238", "Pu239", "Pu241")
SPECTRUM_MODELS = ("huber-mueller", "mueller")
LOW_ENERGY_EXTENSIONS = ("bestiole", "kopeikin", "polynomial", "none")
HIGH_ENERGY_EXTENSIONS = ("polynomial", "bestiole")
#: Energy [MeV] below which the low-energy extension replaces the 2-8 MeV fits.
JUNCTION_MEV = 2.0
#: Energy [MeV] above which the high-energy extension replaces the 2-8 MeV fits.
HIGH_JUNCTION_MEV = 8.0

#: Huber 2011 (arXiv:1106.0687) coefficients a_1..a_6 of S(E) = exp(sum a_k E^(k-1)).
HUBER_COEFFS = {
    "U235": (4.367, -4.577, 2.100, -0.5294, 0.06186, -0.002777),
    "Pu239": (4.757, -5.392, 2.563, -0.6596, 0.07820, -0.003536),
    "Pu241": (2.990, -2.882, 1.278, -0.3343, 0.03905, -0.001754),
}

#: Mueller et al. 2011 (arXiv:1101.2663) coefficients a_1..a_6 (U238 as in PHYSICS.md).
MUELLER_COEFFS = {
    "U235": (3.217, -3.111, 1.395, -0.3690, 0.04445, -0.002053),
    "U238": (0.4833, 0.1927, -0.1283, -0.006762, 0.002233, -0.0001536),
    "Pu239": (6.413, -7.432, 3.535, -0.8820, 0.1025, -0.004550),
    "Pu241": (3.251, -3.204, 1.428, -0.3675, 0.04254, -0.001896),
}

#: Typical PWR mid-cycle fission fractions (PHYSICS.md section 5).
DEFAULT_FISSION_FRACTIONS = {"U235": 0.58, "Pu239": 0.30, "U238": 0.07, "Pu241": 0.05}

#: Thermal energy released per fission [MeV]: Kopeikin, Mikaelyan, Sinev, Phys. Atom. Nucl. 67 (2004)
#: 1892, arXiv:hep-ph/0410100.
ENERGY_PER_FISSION_MEV = {"U235": 201.92, "Pu239": 209.99, "U238": 205.52, "Pu241": 213.60}

_BESTIOLE_FILES = {
    "U235": "bestiole_u235.txt",
    "U238": "bestiole_u238.txt",
    "Pu239": "bestiole_pu239.txt",
    "Pu241": "bestiole_pu241.txt",
}
_KOPEIKIN_FILE = "kopeikin_spectrum.txt"


def _check_choice(name, value, choices):
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; expected one of {choices}")


def _check_positive(name, value) -> float:
    x = float(value)
    if not math.isfinite(x) or x <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return x


def exp_polynomial_spectrum(energy_mev, coeffs):
    """Exponential-of-polynomial fit ``S(E) = exp(sum_{k=1..n} a_k E^(k-1))`` [1/fission/MeV].

    The form of Huber (arXiv:1106.0687) and Mueller et al. (arXiv:1101.2663),
    E in MeV.

    Parameters
    ----------
    energy_mev : float or ndarray
        Antineutrino energy E [MeV].
    coeffs : sequence of float
        Polynomial coefficients a_1..a_n (a_k in MeV^-(k-1)).
    """
    e = np.asarray(energy_mev, dtype=float)
    exponent = np.polynomial.polynomial.polyval(e, np.asarray(coeffs, dtype=float))
    return np.exp(exponent)


def _fit_coeffs(isotope, model):
    _check_choice("isotope", isotope, ISOTOPES)
    _check_choice("spectrum model", model, SPECTRUM_MODELS)
    if model == "huber-mueller" and isotope in HUBER_COEFFS:
        return HUBER_COEFFS[isotope]
    return MUELLER_COEFFS[isotope]


def _data_path(name):
    return resources.files("cevns.sources") / "data" / "reactor" / name


@lru_cache(maxsize=None)
def _table_shape(name, isotope):
    """BESTIOLE or Kopeikin table (E [MeV], S) with (0, 0) prepended; read-only arrays."""
    file_name = _BESTIOLE_FILES[isotope] if name == "bestiole" else _KOPEIKIN_FILE
    with resources.as_file(_data_path(file_name)) as path:
        e, s = read_two_columns(path, (0, 1), None, "#", x_name="energy")
    e = np.concatenate(([0.0], e))
    s = np.concatenate(([0.0], s))
    e.setflags(write=False)
    s.setflags(write=False)
    return e, s


def _scaled_table(name, isotope, energy_mev, coeffs, join_mev):
    """Tabulated shape at ``energy_mev`` scaled to equal the fit at ``join_mev`` (zero past the table)."""
    table_e, table_s = _table_shape(name, isotope)
    scale = exp_polynomial_spectrum(join_mev, coeffs) / np.interp(join_mev, table_e, table_s)
    return scale * np.interp(energy_mev, table_e, table_s, right=0.0)


def isotope_spectrum(
    isotope, energy_mev, model="huber-mueller", low_energy="bestiole", high_energy="polynomial"
):
    """Antineutrino spectrum per fission of one isotope, S(E) [1/fission/MeV].

    From 2 to 8 MeV: the fit of ``model`` (:func:`exp_polynomial_spectrum`). Below 2 MeV: the
    ``low_energy`` extension, above 8 MeV the ``high_energy`` extension (module docstring), both
    joined continuously.

    Parameters
    ----------
    isotope : {"U235", "U238", "Pu239", "Pu241"}
    energy_mev : array_like
        Antineutrino energies [MeV], finite and >= 0.
    model : {"huber-mueller", "mueller"}
    low_energy : {"bestiole", "kopeikin", "polynomial", "none"}
    high_energy : {"polynomial", "bestiole"}
    """
    coeffs = _fit_coeffs(isotope, model)
    _check_choice("low_energy extension", low_energy, LOW_ENERGY_EXTENSIONS)
    _check_choice("high_energy extension", high_energy, HIGH_ENERGY_EXTENSIONS)
    e = np.asarray(energy_mev, dtype=float)
    if not np.all(np.isfinite(e)) or np.any(e < 0):
        raise ValueError("energy_mev must be finite and non-negative")
    if low_energy == "polynomial":
        out = exp_polynomial_spectrum(e, coeffs)
    else:
        # evaluate the fit only where it is used (E >= 2 MeV); the clip avoids evaluating it at E -> 0
        fit = exp_polynomial_spectrum(np.maximum(e, JUNCTION_MEV), coeffs)
        if low_energy == "none":
            low = np.zeros_like(e)
        else:
            low = _scaled_table(low_energy, isotope, e, coeffs, JUNCTION_MEV)
        out = np.where(e >= JUNCTION_MEV, fit, low)
    if high_energy == "bestiole":
        high = _scaled_table("bestiole", isotope, e, coeffs, HIGH_JUNCTION_MEV)
        out = np.where(e > HIGH_JUNCTION_MEV, high, out)
    return out


def _fractions(fission_fractions):
    f = DEFAULT_FISSION_FRACTIONS if fission_fractions is None else fission_fractions
    unknown = set(f) - set(ISOTOPES)
    if unknown:
        raise ValueError(f"unknown isotope(s) {sorted(unknown)} in fission_fractions; expected {ISOTOPES}")
    out = {iso: float(f.get(iso, 0.0)) for iso in ISOTOPES}
    for iso, x in out.items():
        if not (0.0 <= x <= 1.0):
            raise ValueError(f"fission fraction of {iso} must lie in [0, 1], got {f.get(iso)!r}")
    total = sum(out.values())
    if abs(total - 1.0) > 1e-3:
        raise ValueError(f"fission fractions must sum to 1 (within 1e-3), got {total:.6g}")
    return out


def mixed_spectrum(
    energy_mev,
    fission_fractions=None,
    model="huber-mueller",
    low_energy="bestiole",
    high_energy="polynomial",
):
    """Fission-fraction-weighted spectrum ``sum_i f_i S_i(E)`` [1/fission/MeV].

    ``fission_fractions``: dict isotope -> fraction (missing isotopes 0), summing to 1;
    default :data:`DEFAULT_FISSION_FRACTIONS`. ``model``, ``low_energy``, ``high_energy``: as in
    :func:`isotope_spectrum`.

    Parameters
    ----------
    energy_mev : float or ndarray
        Antineutrino energy E [MeV].
    fission_fractions : dict, optional
        Isotope name -> fission fraction (dimensionless, summing to 1).
    model, low_energy, high_energy : str, optional
        Spectrum model and its extensions below and above the tabulated range.
    """
    f = _fractions(fission_fractions)
    e = np.asarray(energy_mev, dtype=float)
    total = np.zeros(e.shape)
    for iso, frac in f.items():
        if frac > 0:
            total = total + frac * isotope_spectrum(iso, e, model, low_energy, high_energy)
    return total


def fission_rate_per_s(thermal_power_gw, fission_fractions=None, energy_per_fission=None):
    """Fission rate of a reactor [1/s]: ``P_th / sum_i f_i e_i``.

    Parameters
    ----------
    thermal_power_gw : float
        Thermal power [GW].
    fission_fractions : dict or None
        Isotope -> fraction, summing to 1; default :data:`DEFAULT_FISSION_FRACTIONS`.
    energy_per_fission : dict or None
        Isotope -> thermal energy per fission [MeV]; default :data:`ENERGY_PER_FISSION_MEV`
        (Kopeikin et al. 2004, arXiv:hep-ph/0410100).
    """
    power_w = _check_positive("thermal_power_gw", thermal_power_gw) * 1e9
    f = _fractions(fission_fractions)
    e_fis = ENERGY_PER_FISSION_MEV if energy_per_fission is None else energy_per_fission
    mean_mev = 0.0
    for iso, frac in f.items():
        if frac > 0:
            if iso not in e_fis:
                raise ValueError(f"energy_per_fission has no value for {iso}")
            mean_mev += frac * _check_positive(f"energy_per_fission[{iso!r}]", e_fis[iso])
    return power_w * MEV_PER_JOULE / mean_mev


def reactor_flux(
    thermal_power_gw,
    distance_m,
    exposure_s,
    fission_fractions=None,
    model="huber-mueller",
    low_energy="bestiole",
    high_energy="polynomial",
    e_min_mev=None,
    e_max_mev=10.0,
    n_energy=2001,
):
    """Electron-antineutrino fluence of a reactor over an exposure.

    ``dPhi/dE = R_fission * sum_i f_i S_i(E) / (4 pi L^2) * t`` [cm^-2 MeV^-1] on ``n_energy`` uniform
    nodes from ``e_min_mev`` to ``e_max_mev`` (PHYSICS.md section 5), with the fission rate from
    :func:`fission_rate_per_s` and L converted to cm.

    Parameters
    ----------
    thermal_power_gw : float
        Thermal power [GW].
    distance_m : float
        Core-detector distance [m].
    exposure_s : float
        Live time at full power [s].
    fission_fractions : dict or None
        Isotope -> fraction (sum 1); default :data:`DEFAULT_FISSION_FRACTIONS`.
    model, low_energy, high_energy : str
        Spectrum model and low- and high-energy extensions (see :func:`isotope_spectrum`).
    e_min_mev : float or None
        Lowest node [MeV]. ``None``: 0 for the tabulated extensions, 2 MeV for ``"none"``,
        1.8 MeV for ``"polynomial"``.
    e_max_mev : float
        Highest node [MeV] (spectrum truncated above; default 10 MeV).
    n_energy : int
        Number of nodes (>= 3).

    Returns
    -------
    list of FluxComponent
        One component, flavour ``"nu_e_bar"``.
    """
    rate = fission_rate_per_s(thermal_power_gw, fission_fractions)
    distance_cm = _check_positive("distance_m", distance_m) * 100.0
    exposure = _check_positive("exposure_s", exposure_s)
    _check_choice("low_energy extension", low_energy, LOW_ENERGY_EXTENSIONS)
    if e_min_mev is None:
        e_min_mev = {"none": JUNCTION_MEV, "polynomial": 1.8}.get(low_energy, 0.0)
    e_min = float(e_min_mev)
    e_max = float(e_max_mev)
    if not (math.isfinite(e_min) and e_min >= 0):
        raise ValueError(f"e_min_mev must be finite and non-negative, got {e_min_mev!r}")
    if not (math.isfinite(e_max) and e_max > e_min):
        raise ValueError(f"e_max_mev must be finite and above e_min_mev={e_min}, got {e_max_mev!r}")
    if int(n_energy) != n_energy or n_energy < 3:
        raise ValueError(f"n_energy must be an integer >= 3, got {n_energy!r}")
    energies = np.linspace(e_min, e_max, int(n_energy))
    per_fission = mixed_spectrum(energies, fission_fractions, model, low_energy, high_energy)
    values = rate * exposure / (4.0 * math.pi * distance_cm**2) * per_fission
    return [FluxComponent("nu_e_bar", energies, values)]
