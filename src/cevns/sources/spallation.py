"""Stopped-pion (pion decay at rest) neutrino source, e.g. the SNS used by COHERENT.

pi+ -> mu+ nu_mu gives a prompt nu_mu line; mu+ -> e+ nu_e anti-nu_mu (muon lifetime 2.197 us) gives the
delayed nu_e and anti-nu_mu with Michel spectra (PHYSICS.md section 5; e.g. COHERENT, arXiv:1708.01294
and its data release arXiv:1804.09459). Each flavour carries r neutrinos per proton on target (POT).
"""

from __future__ import annotations

import math

import numpy as np

from ..physics.constants import M_MU_MEV, M_PI_MEV
from .base import FluxComponent
from .tables import read_two_columns

__all__ = [
    "prompt_energy_mev",
    "michel_nu_e_pdf",
    "michel_nu_mu_bar_pdf",
    "fluence_per_flavor_cm2",
    "time_window_fraction",
    "load_arrival_time_pdf",
    "spallation_flux",
]


#: Upper end of the Michel spectra in units of m_mu (1/2), with a rounding margin so that the node
#: at exactly m_mu/2 is kept.
_X_MAX = 0.5 * (1.0 + 1e-12)


def _check_positive(name: str, value) -> float:
    x = float(value)
    if not math.isfinite(x) or x <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return x


def _check_fraction(name: str, value) -> float:
    x = float(value)
    if not (0.0 <= x <= 1.0):  # also rejects NaN
        raise ValueError(f"{name} must lie in [0, 1], got {value!r}")
    return x


def prompt_energy_mev() -> float:
    """Energy of the prompt nu_mu from pi+ -> mu+ nu_mu at rest [MeV].

    Two-body decay: ``E = (m_pi^2 - m_mu^2) / (2 m_pi)`` = 29.79 MeV (PHYSICS.md section 5).

    Examples
    --------
    >>> f"{prompt_energy_mev():.2f}"
    '29.79'
    """
    return (M_PI_MEV**2 - M_MU_MEV**2) / (2.0 * M_PI_MEV)


def michel_nu_e_pdf(energy_mev):
    """Normalised nu_e energy spectrum from mu+ decay at rest [1/MeV].

    ``f(E) = (192 / m_mu) (E/m_mu)^2 (1/2 - E/m_mu)`` for ``0 <= E <= m_mu/2``, zero elsewhere
    (Michel spectrum without radiative corrections; PHYSICS.md section 5). Integrates to 1; mean
    energy 3 m_mu / 10.

    Parameters
    ----------
    energy_mev : float or ndarray
        Neutrino energy E [MeV].

    Examples
    --------
    Normalised to 1 with mean energy 3 m_mu / 10:

    >>> import numpy as np
    >>> from cevns.physics.constants import M_MU_MEV
    >>> e = np.linspace(0.0, M_MU_MEV / 2, 20001)
    >>> f"{np.trapezoid(michel_nu_e_pdf(e), e):.4f}", f"{np.trapezoid(e * michel_nu_e_pdf(e), e) / M_MU_MEV:.4f}"
    ('1.0000', '0.3000')
    """
    x = np.asarray(energy_mev, dtype=float) / M_MU_MEV
    inside = (x >= 0) & (x <= _X_MAX)
    return np.where(inside, (192.0 / M_MU_MEV) * x**2 * (0.5 - x), 0.0)


def michel_nu_mu_bar_pdf(energy_mev):
    """Normalised anti-nu_mu energy spectrum from mu+ decay at rest [1/MeV].

    ``f(E) = (64 / m_mu) (E/m_mu)^2 (3/4 - E/m_mu)`` for ``0 <= E <= m_mu/2``, zero elsewhere
    (PHYSICS.md section 5). Integrates to 1; mean energy 7 m_mu / 20.

    Parameters
    ----------
    energy_mev : float or ndarray
        Neutrino energy E [MeV].
    """
    x = np.asarray(energy_mev, dtype=float) / M_MU_MEV
    inside = (x >= 0) & (x <= _X_MAX)
    return np.where(inside, (64.0 / M_MU_MEV) * x**2 * (0.75 - x), 0.0)


def fluence_per_flavor_cm2(pot, nu_per_flavor_per_pot, distance_m):
    """Isotropic fluence of one flavour at the detector [cm^-2].

    ``Phi = r N_POT / (4 pi L^2)`` with L converted from m to cm (PHYSICS.md section 5).

    Parameters
    ----------
    pot : float
        Protons on target over the exposure.
    nu_per_flavor_per_pot : float
        Neutrinos of each flavour per proton, r (0.08 for COHERENT 2017).
    distance_m : float
        Source-detector distance L [m].

    Examples
    --------
    COHERENT CsI 2017: 1.76e23 POT, r = 0.08, L = 19.3 m:

    >>> f"{fluence_per_flavor_cm2(1.76e23, 0.08, 19.3):.4g}"
    '3.008e+14'
    """
    n = _check_positive("pot", pot)
    r = _check_positive("nu_per_flavor_per_pot", nu_per_flavor_per_pot)
    distance_cm = _check_positive("distance_m", distance_m) * 100.0
    return r * n / (4.0 * math.pi * distance_cm**2)


def time_window_fraction(bin_centers_us, probabilities, window_us):
    """Fraction of a binned arrival-time distribution inside a time window.

    The bins have equal width w inferred from the (uniformly spaced) centers, bin i covering
    ``[c_i - w/2, c_i + w/2]``; probability is uniform within a bin, so a bin partly inside the
    window contributes linearly in its overlap. The probabilities are normalised to unit sum first.
    Used with the COHERENT arrival-time PDFs (release of arXiv:1804.09459).

    Parameters
    ----------
    bin_centers_us : array_like, shape (n,), n >= 2
        Ascending, uniformly spaced bin centers [us].
    probabilities : array_like, shape (n,)
        Non-negative bin contents (any normalisation, positive sum).
    window_us : tuple (t0, t1)
        Window edges [us], t0 <= t1.

    Returns
    -------
    float
        Fraction in [0, 1].
    """
    c = np.asarray(bin_centers_us, dtype=float)
    p = np.asarray(probabilities, dtype=float)
    if c.ndim != 1 or c.size < 2 or p.shape != c.shape:
        raise ValueError("bin_centers_us and probabilities must be 1-D of the same length >= 2")
    if not (np.all(np.isfinite(c)) and np.all(np.isfinite(p))):
        raise ValueError("bin_centers_us and probabilities must be finite")
    if np.any(p < 0) or p.sum() <= 0:
        raise ValueError("probabilities must be non-negative with a positive sum")
    steps = np.diff(c)
    width = float(steps.mean())
    if width <= 0 or np.any(np.abs(steps - width) > 1e-6 * abs(width) + 1e-12):
        raise ValueError("bin_centers_us must be ascending and uniformly spaced")
    t0, t1 = (float(t) for t in window_us)
    if not (math.isfinite(t0) and math.isfinite(t1)) or t1 < t0:
        raise ValueError(f"window_us must be (t0, t1) with finite t0 <= t1, got {window_us!r}")
    lo = c - 0.5 * width
    hi = c + 0.5 * width
    overlap = np.clip(np.minimum(hi, t1) - np.maximum(lo, t0), 0.0, None) / width
    return float(np.sum(p * overlap) / p.sum())


def load_arrival_time_pdf(path):
    """Read a COHERENT arrival-time PDF, "t_center[us], prob" per line (release arXiv:1804.09459).

    Parameters
    ----------
    path : str or Path
        The release text file.

    Returns
    -------
    centers_us, prob : ndarray
        Bin centers [us] and probabilities (as stored; not renormalised).
    """
    return read_two_columns(path, (0, 1), None, "#", x_name="time")


def spallation_flux(
    pot,
    nu_per_flavor_per_pot,
    distance_m,
    n_energy=2001,
    prompt_fraction=1.0,
    delayed_fraction=1.0,
):
    """Fluences of a pion-decay-at-rest source: prompt nu_mu line, delayed nu_e and anti-nu_mu.

    Each flavour has fluence ``Phi = r N_POT / (4 pi L^2)`` (:func:`fluence_per_flavor_cm2`);
    the nu_mu line at :func:`prompt_energy_mev` carries ``prompt_fraction * Phi``, the delayed spectra
    are ``delayed_fraction * Phi * f(E)`` with the Michel PDFs on ``n_energy`` uniform nodes from 0 to
    m_mu/2. The fractions are the parts of each population kept by a timing cut
    (see :func:`time_window_fraction`).

    Parameters
    ----------
    pot : float
        Protons on target N_POT.
    nu_per_flavor_per_pot : float
        Neutrinos of each flavour per proton, r (dimensionless).
    distance_m : float
        Source-detector distance L [m].
    n_energy : int, optional
        Number of energy nodes of the delayed spectra.
    prompt_fraction, delayed_fraction : float, optional
        Fractions (dimensionless, in [0, 1]) of each population kept by a timing cut.

    Returns
    -------
    list of FluxComponent
        ``[nu_mu line, nu_e spectrum, nu_mu_bar spectrum]``.

    Examples
    --------
    >>> [(c.flavor, c.is_line) for c in spallation_flux(1.76e23, 0.08, 19.3)]
    [('nu_mu', True), ('nu_e', False), ('nu_mu_bar', False)]
    """
    phi = fluence_per_flavor_cm2(pot, nu_per_flavor_per_pot, distance_m)
    fp = _check_fraction("prompt_fraction", prompt_fraction)
    fd = _check_fraction("delayed_fraction", delayed_fraction)
    if int(n_energy) != n_energy or n_energy < 3:
        raise ValueError(f"n_energy must be an integer >= 3, got {n_energy!r}")
    energies = np.linspace(0.0, 0.5 * M_MU_MEV, int(n_energy))
    return [
        FluxComponent("nu_mu", np.array([prompt_energy_mev()]), np.array([fp * phi]), is_line=True),
        FluxComponent("nu_e", energies, fd * phi * michel_nu_e_pdf(energies)),
        FluxComponent("nu_mu_bar", energies, fd * phi * michel_nu_mu_bar_pdf(energies)),
    ]
