"""Differential CEvNS cross sections dsigma/dT [cm^2 / MeV] for one nucleus.

Energies E (neutrino) and T (recoil) in MeV, nuclear mass M in MeV. All functions broadcast.
Formulas: PHYSICS.md sections 2 and 4 (Papoulias & Kosmas Eq. 1, Canas et al. Eq. 2, Vogel & Engel
1989 for the magnetic moment, arXiv:1711.09773 for tensor NSI, arXiv:1604.01025 for a light scalar).

Every cross section here is written ONCE, as a polynomial in 1/E times a squared charge::

    dsigma/dT = (c0(T) + c1(T)/E + c2(T)/E^2) |Q|^2     for T <= T_max(E),

with the coefficients of :func:`energy_coefficients` (one *kind* per interaction). The ``dsigma_dt_*``
functions evaluate that form at (E, T); the rate engine integrates the same coefficients against flux
moments ``int dE Phi(E) E^-k`` (:mod:`cevns.engine`), so the two cannot disagree.
"""

from __future__ import annotations

import numpy as np

from .constants import ALPHA, G_F_MEV2, HBARC2_MEV2_CM2, M_E_MEV
from .kinematics import t_max_mev

KINEMATICS = ("seed", "full")
#: Interaction kinds with their own kinematic factor.
KINDS = ("vector", "tensor", "magnetic", "scalar")


def energy_coefficients(kind: str, t_mev, mass_mev: float, kinematics: str = "full"):
    """Coefficients (c0, c1, c2) of ``dsigma/dT = (c0 + c1/E + c2/E^2) |Q|^2`` [MeV^-3, natural units].

    Multiply by (hbar c)^2 for cm^2/MeV. Valid for T <= T_max(E) (zero above). Charges ``Q`` per kind:

    * ``vector``: ``Q = Z g^p F_Z + N g^n F_N``; ``(G_F^2 M/pi) (1 - T/E - M T/(2E^2))`` ("full") or
      without the T/E term ("seed"), PHYSICS.md 2;
    * ``tensor``: ``Q_T = Z (2eps^uT + eps^dT) F_Z + N (eps^uT + 2eps^dT) F_N``;
      ``(4 G_F^2 M/pi) (1 - M T/(4E^2))`` (arXiv:1711.09773);
    * ``magnetic``: ``Q = mu_nu[mu_B] Z F_Z``; ``(pi alpha^2/m_e^2) (1/T - 1/E)`` (Vogel & Engel 1989);
    * ``scalar``: ``Q = g_nu g_q Q_S / (2MT + m_phi^2)`` (see :func:`scalar_propagator`);
      ``M^2 T / (4 pi E^2)`` (arXiv:1604.01025, 1802.05171).

    Parameters
    ----------
    kind : one of :data:`KINDS`
    t_mev : float or ndarray
        Recoil energy T [MeV].
    mass_mev : float
        Nuclear mass M [MeV].
    kinematics : {"full", "seed"}
        Only used by ``vector``.

    Returns
    -------
    c0, c1, c2 : ndarray (broadcast with ``t_mev``)
    """
    t = np.asarray(t_mev, dtype=float)
    zero = np.zeros_like(t)
    m = float(mass_mev)
    if kind == "vector":
        pref = G_F_MEV2**2 * m / np.pi
        return tuple(pref * c for c in _vector_shape(t, m, kinematics))
    if kind == "tensor":
        pref = 4.0 * G_F_MEV2**2 * m / np.pi
        return pref + zero, zero, -0.25 * pref * m * t
    if kind == "magnetic":
        pref = np.pi * ALPHA**2 / M_E_MEV**2
        with np.errstate(divide="ignore"):
            c0 = np.where(t > 0, pref / np.where(t > 0, t, 1.0), 0.0)
        return c0, np.where(t > 0, -pref, 0.0), zero
    if kind == "scalar":
        return zero, zero, m**2 * t / (4.0 * np.pi)
    raise ValueError(f"unknown interaction kind {kind!r}; expected one of {KINDS}")


def _vector_shape(t, m, kinematics):
    """Dimensionless (1, -T [full] or 0, -M T/2) of the vector kinematic factor 1 - T/E - M T/(2E^2)."""
    if kinematics not in KINEMATICS:
        raise ValueError(f"unknown kinematics {kinematics!r}; expected one of {KINEMATICS}")
    zero = np.zeros_like(t)
    return 1.0 + zero, (-t if kinematics == "full" else zero), -0.5 * m * t


def _evaluate(kind, energy_mev, t_mev, mass_mev, kinematics="full"):
    """(c0 + c1/E + c2/E^2) where 0 < E and T <= T_max(E), else 0 [MeV^-3]."""
    e = np.asarray(energy_mev, dtype=float)
    t = np.asarray(t_mev, dtype=float)
    if kind == "vector_shape":
        c0, c1, c2 = _vector_shape(t, float(mass_mev), kinematics)
    else:
        c0, c1, c2 = energy_coefficients(kind, t, mass_mev, kinematics)
    ok = (e > 0) & (t <= t_max_mev(np.clip(e, 0.0, None), mass_mev))
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = np.where(e > 0, 1.0 / np.where(e > 0, e, 1.0), 0.0)
        val = c0 + c1 * inv + c2 * inv**2
    return np.where(ok, val, 0.0)


def kinematic_factor(energy_mev, t_mev, mass_mev, kinematics: str = "full"):
    """Spin-0 kinematic factor of the vector cross section, zero where T > T_max(E).

    ``full``: 1 - T/E - M T/(2 E^2) (PHYSICS.md section 2); ``seed``: 1 - M T/(2 E^2), as kept by
    both seed papers. The two differ by T/E < 1e-3 for CsI at SNS energies.

    Parameters
    ----------
    energy_mev : float or ndarray
        Neutrino energy E [MeV].
    t_mev : float or ndarray
        Nuclear recoil energy T [MeV].
    mass_mev : float
        Nuclear mass M [MeV].
    kinematics : {"full", "seed"}
        Which kinematic factor.
    """
    return np.clip(_evaluate("vector_shape", energy_mev, t_mev, mass_mev, kinematics), 0.0, None)


def dsigma_dt_vector(energy_mev, t_mev, mass_mev, charge, kinematics: str = "full"):
    """Coherent vector cross section ``(G_F^2 M / pi) K(E,T) Q^2`` [cm^2/MeV].

    Parameters
    ----------
    energy_mev : float or ndarray
        Neutrino energy E [MeV].
    t_mev : float or ndarray
        Nuclear recoil energy T [MeV].
    mass_mev : float
        Nuclear mass M [MeV].
    charge : float or ndarray
        The (form-factor weighted) vector charge Q = Z g^p F_Z + N g^n F_N (Q^2 may also include
        flavour-changing terms; pass sqrt of the sum). Q_W = -2 Q for F = 1.
    kinematics : {"full", "seed"}
        Kinematic factor, see :func:`kinematic_factor`.

    Examples
    --------
    At T = 0 the cross section is ``G_F^2 M Q^2 / pi`` times (hbar c)^2; for Cs133 with Q = -N/2 = -39
    that is 3.18e-36 cm^2/MeV. Above T_max(E) it vanishes:

    >>> f"{dsigma_dt_vector(30.0, 0.0, 123800.0, -39.0):.4g}"
    '3.175e-36'
    >>> float(dsigma_dt_vector(30.0, 1.0, 123800.0, -39.0))
    0.0
    """
    pref = G_F_MEV2**2 * mass_mev / np.pi
    return pref * kinematic_factor(energy_mev, t_mev, mass_mev, kinematics) * np.asarray(charge) ** 2 \
        * HBARC2_MEV2_CM2


def dsigma_dt_sm(energy_mev, t_mev, mass_mev, z, n, g_p, g_n, f_z=1.0, f_n=1.0, kinematics: str = "full"):
    """Standard-Model CEvNS cross section with separate proton and neutron form factors [cm^2/MeV].

    ``dsigma/dT = (G_F^2 M/pi) K(E,T) (g_V^p Z F_Z + g_V^n N F_N)^2``.

    Parameters
    ----------
    energy_mev : float or ndarray
        Neutrino energy E [MeV].
    t_mev : float or ndarray
        Nuclear recoil energy T [MeV].
    mass_mev : float
        Nuclear mass M [MeV].
    z, n : int
        Proton and neutron numbers.
    g_p, g_n : float or ndarray
        Vector couplings of the neutrino to protons and neutrons (dimensionless).
    f_z, f_n : float or ndarray, optional
        Proton and neutron form factors at q(T) (dimensionless; 1 = point nucleus).
    kinematics : {"full", "seed"}
        Kinematic factor, see :func:`kinematic_factor`.
    """
    q = z * np.asarray(g_p) * f_z + n * np.asarray(g_n) * f_n
    return dsigma_dt_vector(energy_mev, t_mev, mass_mev, q, kinematics)


def total_cross_section_unity_ff_cm2(energy_mev, mass_mev, charge, kinematics: str = "seed"):
    """Closed-form integral of :func:`dsigma_dt_vector` over 0 <= T <= T_max for F = 1 [cm^2].

    ``sigma = (G_F^2 M/pi) Q^2 [T_max - T_max^2/(2E) [full only] - M T_max^2 / (4 E^2)]``.

    Parameters
    ----------
    energy_mev : float or ndarray
        Neutrino energy E [MeV] (> 0).
    mass_mev : float
        Nuclear mass M [MeV].
    charge : float or ndarray
        Vector charge Q (dimensionless), as in :func:`dsigma_dt_vector`.
    kinematics : {"seed", "full"}
        Kinematic factor, see :func:`kinematic_factor`.

    Examples
    --------
    The closed form agrees with a numerical integral of :func:`dsigma_dt_vector`:

    >>> from scipy.integrate import quad
    >>> from cevns.physics.kinematics import t_max_mev
    >>> numeric, _ = quad(lambda t: dsigma_dt_vector(30.0, t, 123800.0, 1.0, kinematics="seed"),
    ...                   0.0, t_max_mev(30.0, 123800.0))
    >>> f"{numeric / total_cross_section_unity_ff_cm2(30.0, 123800.0, 1.0, kinematics='seed'):.6f}"
    '1.000000'
    """
    e = np.asarray(energy_mev, dtype=float)
    tm = t_max_mev(e, mass_mev)
    bracket = tm - mass_mev * tm**2 / (4.0 * e**2)
    if kinematics == "full":
        bracket = bracket - tm**2 / (2.0 * e)
    return G_F_MEV2**2 * mass_mev / np.pi * np.asarray(charge) ** 2 * bracket * HBARC2_MEV2_CM2


def dsigma_dt_magnetic(energy_mev, t_mev, mass_mev, z, mu_nu_bohr, f_z=1.0):
    """Neutrino magnetic-moment cross section, incoherent with the SM [cm^2/MeV].

    ``dsigma/dT = (pi alpha^2 mu_nu^2 / m_e^2) (1/T - 1/E) Z^2 F_Z^2`` with mu_nu in Bohr magnetons
    (Vogel & Engel 1989; PHYSICS.md section 4). Zero above T_max(E) and at T = 0.

    Parameters
    ----------
    energy_mev : float or ndarray
        Neutrino energy E [MeV].
    t_mev : float or ndarray
        Nuclear recoil energy T [MeV].
    mass_mev : float
        Nuclear mass M [MeV].
    z : int
        Proton number.
    mu_nu_bohr : float or ndarray
        Effective neutrino magnetic moment [Bohr magnetons].
    f_z : float or ndarray, optional
        Proton (charge) form factor at q(T) (dimensionless).
    """
    q = np.asarray(mu_nu_bohr) * z * f_z
    return _evaluate("magnetic", energy_mev, t_mev, mass_mev) * q**2 * HBARC2_MEV2_CM2


def dsigma_dt_tensor(energy_mev, t_mev, mass_mev, tensor_charge):
    """Tensor-NSI cross section, incoherent with the SM [cm^2/MeV].

    ``dsigma/dT = (4 G_F^2 M / pi) (1 - M T/(4 E^2)) Q_T^2`` with
    ``Q_T = Z (2 eps^uT + eps^dT) F_Z + N (eps^uT + 2 eps^dT) F_N`` (arXiv:1711.09773; PHYSICS.md
    section 4, marked *verify* there).

    Parameters
    ----------
    energy_mev : float or ndarray
        Neutrino energy E [MeV].
    t_mev : float or ndarray
        Nuclear recoil energy T [MeV].
    mass_mev : float
        Nuclear mass M [MeV].
    tensor_charge : float or ndarray
        Tensor charge Q_T (dimensionless, form-factor weighted).
    """
    return _evaluate("tensor", energy_mev, t_mev, mass_mev) * np.asarray(tensor_charge) ** 2 * HBARC2_MEV2_CM2


def scalar_propagator(mass_mev, q2_mev2):
    """Propagator factor ``1 / (q^2 + m_phi^2)`` [MeV^-2] of a light scalar mediator (q^2 = 2 M T).

    arXiv:1604.01025; PHYSICS.md section 4.

    Parameters
    ----------
    mass_mev : float or ndarray
        Mediator mass m_phi [MeV].
    q2_mev2 : float or ndarray
        Squared momentum transfer q^2 [MeV^2].
    """
    return 1.0 / (np.asarray(q2_mev2, dtype=float) + np.asarray(mass_mev, dtype=float) ** 2)


def dsigma_dt_scalar(energy_mev, t_mev, mass_mev, coupling, scalar_mass_mev, scalar_charge):
    """Light scalar mediator cross section, no interference with the SM [cm^2/MeV].

    ``dsigma/dT = (g_nu g_q)^2 Q_S^2 M^2 T / (4 pi E^2 (2 M T + m_phi^2)^2)`` where the charge
    ``Q_S = C_p Z F_Z + C_n N F_N`` is per unit quark coupling (arXiv:1604.01025, 1802.05171).

    Parameters
    ----------
    energy_mev : float or ndarray
        Neutrino energy E [MeV].
    t_mev : float or ndarray
        Nuclear recoil energy T [MeV].
    mass_mev : float
        Nuclear mass M [MeV].
    coupling : float or ndarray
        Product g_nu g_q of the neutrino and quark couplings (dimensionless).
    scalar_mass_mev : float or ndarray
        Mediator mass m_phi [MeV].
    scalar_charge : float or ndarray
        Nuclear scalar charge Q_S per unit quark coupling (dimensionless).
    """
    t = np.asarray(t_mev, dtype=float)
    q = np.asarray(coupling) * np.asarray(scalar_charge) * scalar_propagator(scalar_mass_mev, 2.0 * mass_mev * t)
    return _evaluate("scalar", energy_mev, t, mass_mev) * q**2 * HBARC2_MEV2_CM2
