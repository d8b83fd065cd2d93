"""Differential CEvNS cross sections dsigma/dT [cm^2 / MeV] for one nucleus.

Energies E (neutrino) and T (recoil) in MeV, nuclear mass M in MeV. All functions broadcast.
Formulas: PHYSICS.md sections 2 and 4 (Papoulias & Kosmas Eq. 1, Canas et al. Eq. 2, Vogel & Engel
1989 for the magnetic moment, arXiv:1711.09773 for tensor NSI, arXiv:1604.01025 for a light scalar).
"""

from __future__ import annotations

import numpy as np

from .constants import ALPHA, G_F_MEV2, HBARC2_MEV2_CM2, M_E_MEV

KINEMATICS = ("seed", "full")


def kinematic_factor(energy_mev, t_mev, mass_mev, kinematics: str = "full"):
    """Spin-0 kinematic factor of the vector cross section, zero where T > T_max(E).

    ``full``: 1 - T/E - M T/(2 E^2) (PHYSICS.md section 2); ``seed``: 1 - M T/(2 E^2), as kept by
    both seed papers. The two differ by T/E < 1e-3 for CsI at SNS energies.
    """
    e = np.asarray(energy_mev, dtype=float)
    t = np.asarray(t_mev, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        k = 1.0 - mass_mev * t / (2.0 * e**2)
        if kinematics == "full":
            k = k - t / e
        elif kinematics != "seed":
            raise ValueError(f"unknown kinematics {kinematics!r}; expected one of {KINEMATICS}")
    t_max = 2.0 * e**2 / (mass_mev + 2.0 * e)
    return np.where((t <= t_max) & (e > 0), np.clip(k, 0.0, None), 0.0)


def dsigma_dt_vector(energy_mev, t_mev, mass_mev, charge, kinematics: str = "full"):
    """Coherent vector cross section ``(G_F^2 M / pi) K(E,T) Q^2`` [cm^2/MeV].

    Parameters
    ----------
    charge : float or ndarray
        The (form-factor weighted) vector charge Q = Z g^p F_Z + N g^n F_N (Q^2 may also include
        flavour-changing terms; pass sqrt of the sum). Q_W = -2 Q for F = 1.
    """
    pref = G_F_MEV2**2 * mass_mev / np.pi
    return pref * kinematic_factor(energy_mev, t_mev, mass_mev, kinematics) * np.asarray(charge) ** 2 \
        * HBARC2_MEV2_CM2


def dsigma_dt_sm(energy_mev, t_mev, mass_mev, z, n, g_p, g_n, f_z=1.0, f_n=1.0, kinematics: str = "full"):
    """Standard-Model CEvNS cross section with separate proton and neutron form factors [cm^2/MeV].

    ``dsigma/dT = (G_F^2 M/pi) K(E,T) (g_V^p Z F_Z + g_V^n N F_N)^2``.
    """
    q = z * np.asarray(g_p) * f_z + n * np.asarray(g_n) * f_n
    return dsigma_dt_vector(energy_mev, t_mev, mass_mev, q, kinematics)


def total_cross_section_unity_ff_cm2(energy_mev, mass_mev, charge, kinematics: str = "seed"):
    """Closed-form integral of :func:`dsigma_dt_vector` over 0 <= T <= T_max for F = 1 [cm^2].

    ``sigma = (G_F^2 M/pi) Q^2 [T_max - T_max^2/(2E) [full only] - M T_max^2 / (4 E^2)]``.
    """
    e = np.asarray(energy_mev, dtype=float)
    tm = 2.0 * e**2 / (mass_mev + 2.0 * e)
    bracket = tm - mass_mev * tm**2 / (4.0 * e**2)
    if kinematics == "full":
        bracket = bracket - tm**2 / (2.0 * e)
    return G_F_MEV2**2 * mass_mev / np.pi * np.asarray(charge) ** 2 * bracket * HBARC2_MEV2_CM2


def dsigma_dt_magnetic(energy_mev, t_mev, mass_mev, z, mu_nu_bohr, f_z=1.0):
    """Neutrino magnetic-moment cross section, incoherent with the SM [cm^2/MeV].

    ``dsigma/dT = (pi alpha^2 mu_nu^2 / m_e^2) (1/T - 1/E) Z^2 F_Z^2`` with mu_nu in Bohr magnetons
    (Vogel & Engel 1989; PHYSICS.md section 4). Zero above T_max(E).
    """
    e = np.asarray(energy_mev, dtype=float)
    t = np.asarray(t_mev, dtype=float)
    t_max = 2.0 * e**2 / (mass_mev + 2.0 * e)
    with np.errstate(divide="ignore", invalid="ignore"):
        kin = np.where((t <= t_max) & (t > 0), 1.0 / t - 1.0 / e, 0.0)
    return np.pi * ALPHA**2 * np.asarray(mu_nu_bohr) ** 2 / M_E_MEV**2 * kin * (z * f_z) ** 2 * HBARC2_MEV2_CM2


def dsigma_dt_tensor(energy_mev, t_mev, mass_mev, tensor_charge):
    """Tensor-NSI cross section, incoherent with the SM [cm^2/MeV].

    ``dsigma/dT = (4 G_F^2 M / pi) (1 - M T/(4 E^2)) Q_T^2`` with
    ``Q_T = Z (2 eps^uT + eps^dT) F_Z + N (eps^uT + 2 eps^dT) F_N`` (arXiv:1711.09773; PHYSICS.md
    section 4, marked *verify* there).
    """
    e = np.asarray(energy_mev, dtype=float)
    t = np.asarray(t_mev, dtype=float)
    t_max = 2.0 * e**2 / (mass_mev + 2.0 * e)
    with np.errstate(divide="ignore", invalid="ignore"):
        kin = np.where(t <= t_max, 1.0 - mass_mev * t / (4.0 * e**2), 0.0)
    return 4.0 * G_F_MEV2**2 * mass_mev / np.pi * kin * np.asarray(tensor_charge) ** 2 * HBARC2_MEV2_CM2


def dsigma_dt_scalar(energy_mev, t_mev, mass_mev, coupling, scalar_mass_mev, scalar_charge):
    """Light scalar mediator cross section, no interference with the SM [cm^2/MeV].

    ``dsigma/dT = (g_nu g_q)^2 Q_S^2 M^2 T / (4 pi E^2 (2 M T + m_phi^2)^2)`` where the charge
    ``Q_S = C_p Z F_Z + C_n N F_N`` is per unit quark coupling (arXiv:1604.01025, 1802.05171).
    """
    e = np.asarray(energy_mev, dtype=float)
    t = np.asarray(t_mev, dtype=float)
    t_max = 2.0 * e**2 / (mass_mev + 2.0 * e)
    val = np.asarray(coupling) ** 2 * np.asarray(scalar_charge) ** 2 * mass_mev**2 * t \
        / (4.0 * np.pi * e**2 * (2.0 * mass_mev * t + np.asarray(scalar_mass_mev) ** 2) ** 2)
    return np.where(t <= t_max, val, 0.0) * HBARC2_MEV2_CM2
