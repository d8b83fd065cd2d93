"""Neutral-current vector couplings and the shifts that BSM physics adds to them.

All functions are vectorised; couplings are dimensionless.
References: PHYSICS.md section 2 (SM, radiative corrections after Barranco et al. 2005,
hep-ph/0508299, parameters of arXiv:1806.01310) and section 4 (charge radius, arXiv:1810.05606;
light vector mediator).
"""

from __future__ import annotations

import numpy as np

from .constants import ALPHA, G_F_MEV2, HBARC_MEV_CM

#: Radiative-correction parameters (Barranco, Miranda, Rashba 2005; values of arXiv:1806.01310).
RADIATIVE = {
    "rho": 1.0082,
    "kappa": 0.9972,
    "lambda_uL": -0.0031,
    "lambda_dL": -0.0025,
    "lambda_dR": 7.5e-5,
    "lambda_uR": 7.5e-5 / 2.0,
}

COUPLING_SCHEMES = ("tree", "radiative")


def sm_vector_couplings(sin2_theta_w, scheme: str = "tree"):
    """Proton and neutron neutral-current vector couplings (g_V^p, g_V^n).

    Tree level: ``g_V^p = 1/2 - 2 s^2``, ``g_V^n = -1/2``.
    Radiative (``scheme="radiative"``)::

        g_V^p = rho (1/2 - 2 kappa s^2) + 2 l_uL + 2 l_uR + l_dL + l_dR
        g_V^n = -rho/2 + l_uL + l_uR + 2 l_dL + 2 l_dR

    with the parameters of :data:`RADIATIVE` (PHYSICS.md section 2; gives 0.0305, -0.5120 at
    s^2 = 0.23129).

    Parameters
    ----------
    sin2_theta_w : float or ndarray
        Weak mixing angle sin^2(theta_W).
    scheme : {"tree", "radiative"}

    Returns
    -------
    g_p, g_n : ndarray

    Examples
    --------
    Tree level at the seeds' sin^2(theta_W) = 0.2312, and the radiative values of PHYSICS.md section 2:

    >>> g_p, g_n = sm_vector_couplings(0.2312)
    >>> f"{g_p:.4f} {g_n:.1f}"
    '0.0376 -0.5'
    >>> g_p, g_n = sm_vector_couplings(0.23129, scheme="radiative")
    >>> f"{g_p:.4f} {g_n:.4f}"
    '0.0305 -0.5120'
    """
    s2 = np.asarray(sin2_theta_w, dtype=float)
    if scheme == "tree":
        return 0.5 - 2.0 * s2, np.full_like(s2, -0.5)
    if scheme == "radiative":
        r = RADIATIVE
        g_p = r["rho"] * (0.5 - 2.0 * r["kappa"] * s2) + 2 * r["lambda_uL"] + 2 * r["lambda_uR"] \
            + r["lambda_dL"] + r["lambda_dR"]
        g_n = -r["rho"] / 2.0 + r["lambda_uL"] + r["lambda_uR"] + 2 * r["lambda_dL"] + 2 * r["lambda_dR"]
        return g_p, np.full_like(s2, g_n)
    raise ValueError(f"unknown coupling scheme {scheme!r}; expected one of {COUPLING_SCHEMES}")


def charge_radius_coefficient_cm2_inv() -> float:
    """sqrt(2) pi alpha / (3 G_F) expressed per cm^2 of <r^2> (about 2.38e30 cm^-2).

    The shift of the proton coupling is ``g_V^p -> g_V^p - coefficient * <r^2_nu>``
    (Cadeddu et al., arXiv:1810.05606; PHYSICS.md section 4).
    """
    coeff_mev2 = np.sqrt(2.0) * np.pi * ALPHA / (3.0 * G_F_MEV2)  # multiplies <r^2> in MeV^-2
    return float(coeff_mev2 / HBARC_MEV_CM**2)


def charge_radius_shift(r2_cm2, antineutrino: bool = False):
    """Shift added to g_V^p by a neutrino charge radius <r^2_a> [cm^2].

    ``delta g_V^p = -(sqrt(2) pi alpha / (3 G_F)) <r^2_a> = -2.38e30 cm^-2 * <r^2_a>``
    (Cadeddu et al., arXiv:1810.05606, revised 2020; PHYSICS.md section 4).

    The shift is the SAME for nu_a and anti-nu_a when the parameter is the neutrino's <r^2_a>: one
    effective operator describes both, exactly as g_V^p itself is the same for nu and anti-nu in
    CEvNS. ``antineutrino`` is accepted for backward compatibility and does not change the result.

    Parameters
    ----------
    r2_cm2 : float or ndarray
        Neutrino charge radius <r^2_a> [cm^2] (positive or negative).
    antineutrino : bool, optional
        Accepted for backward compatibility; does not change the result.

    Examples
    --------
    <r^2> = 1e-32 cm^2 shifts g_V^p by -2.38e30 cm^-2 * 1e-32 cm^2:

    >>> f"{charge_radius_shift(1e-32):.4g}"
    '-0.0238'
    """
    del antineutrino  # same shift for neutrinos and antineutrinos (see docstring)
    return -charge_radius_coefficient_cm2_inv() * np.asarray(r2_cm2, dtype=float)


def zprime_effective_eps(coupling, mass_mev, q2_mev2):
    """Effective vector NSI of a light vector mediator, the same for u and d quarks.

    ``eps^uV = eps^dV = g_nu g_q / (sqrt(2) G_F (q^2 + m_Z'^2))`` with ``q^2 = 2 M T``
    (PHYSICS.md section 4). For m_Z'^2 >> q^2 it is a constant NSI.

    Parameters
    ----------
    coupling : float or ndarray
        Product g_nu * g_q (dimensionless).
    mass_mev : float or ndarray
        Mediator mass [MeV].
    q2_mev2 : float or ndarray
        Squared momentum transfer [MeV^2].
    """
    return np.asarray(coupling) / (np.sqrt(2.0) * G_F_MEV2 * (np.asarray(q2_mev2) + np.asarray(mass_mev) ** 2))


def nsi_charges(eps_u, eps_d):
    """Per-nucleon shifts of the vector couplings from quark-level NSI.

    A proton is uud and a neutron udd, so ``delta g^p = 2 eps^u + eps^d`` and
    ``delta g^n = eps^u + 2 eps^d`` (Canas et al. Eq. 2).

    Parameters
    ----------
    eps_u, eps_d : float or ndarray
        Flavour-diagonal vector NSI couplings to u and d quarks (dimensionless, in units of G_F).

    Examples
    --------
    >>> d_gp, d_gn = nsi_charges(0.1, 0.0)
    >>> round(float(d_gp), 12), round(float(d_gn), 12)
    (0.2, 0.1)
    """
    eps_u = np.asarray(eps_u, dtype=float)
    eps_d = np.asarray(eps_d, dtype=float)
    return 2.0 * eps_u + eps_d, eps_u + 2.0 * eps_d


#: Scalar couplings per nucleon for a universal quark coupling g_q:
#: Q_S = g_q (C_P Z + C_N N), sum_q (m_N/m_q) f_Tq ~ 15.1 (p), 14 (n) so that Q_S ~ g_q (14 A + 1.1 Z)
#: (Cerdeno et al. arXiv:1604.01025; Farzan et al. arXiv:1802.05171).
SCALAR_PER_PROTON = 15.1
SCALAR_PER_NEUTRON = 14.0
