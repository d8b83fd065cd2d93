"""Tests of cevns.physics.couplings (PHYSICS.md sections 2 and 4)."""

import numpy as np
import pytest

from cevns.physics.couplings import (
    SCALAR_PER_NEUTRON,
    SCALAR_PER_PROTON,
    charge_radius_coefficient_cm2_inv,
    charge_radius_shift,
    nsi_charges,
    sm_vector_couplings,
    zprime_effective_eps,
)

G_F = 1.1663787e-11  # MeV^-2
ALPHA = 1 / 137.035999084
HBARC_CM = 197.3269804e-13  # MeV cm


def test_tree_level():
    gp, gn = sm_vector_couplings(np.array([0.2312, 0.25]), "tree")
    np.testing.assert_allclose(gp, [0.5 - 2 * 0.2312, 0.0], atol=1e-15)
    np.testing.assert_allclose(gn, [-0.5, -0.5])


def test_radiative_values_of_physics_sheet():
    # Barranco et al. 2005 with the parameters of arXiv:1806.01310: 0.0305 and -0.5120 at s^2 = 0.23129
    gp, gn = sm_vector_couplings(0.23129, "radiative")
    assert round(float(gp), 4) == 0.0305
    assert round(float(gn), 4) == -0.5120
    # the proton coupling depends on s^2 through rho * kappa only
    gp2, gn2 = sm_vector_couplings(0.24129, "radiative")
    assert float(gp2 - gp) == pytest.approx(-2 * 1.0082 * 0.9972 * 0.01, rel=1e-10, abs=0)
    assert float(gn2) == float(gn)


def test_unknown_scheme():
    with pytest.raises(ValueError, match="coupling scheme"):
        sm_vector_couplings(0.23, "one-loop")


def test_charge_radius_coefficient_recomputed():
    # sqrt(2) pi alpha / (3 G_F) [MeV^2] times <r^2>[cm^2] / (hbar c [MeV cm])^2
    coeff = np.sqrt(2) * np.pi * ALPHA / (3 * G_F) / HBARC_CM**2
    assert coeff == pytest.approx(2.38e30, rel=5e-3, abs=0)  # the 3-digit value of arXiv:1810.05606
    assert charge_radius_coefficient_cm2_inv() == pytest.approx(coeff, rel=1e-10, abs=0)


def test_charge_radius_shift_same_for_antineutrinos():
    # PHYSICS.md 4 (arXiv:1810.05606, 2020 revision): nu_a and anti-nu_a get the same g_V^p shift
    r2 = np.array([-3e-32, 1e-32, 4e-32])
    coeff = np.sqrt(2) * np.pi * ALPHA / (3 * G_F) / HBARC_CM**2
    np.testing.assert_allclose(charge_radius_shift(r2), -coeff * r2, rtol=1e-10)
    np.testing.assert_allclose(charge_radius_shift(r2, antineutrino=True), -coeff * r2, rtol=1e-10)
    # a positive <r^2> of 1e-32 cm^2 lowers g_V^p by ~0.024
    assert float(charge_radius_shift(1e-32)) == pytest.approx(-0.0238, abs=1e-4)


def test_nsi_charges_quark_content():
    # proton = uud, neutron = udd: a pure-u NSI shifts g^p twice as much as g^n
    dp, dn = nsi_charges(np.array([1.0, 0.0, 0.3]), np.array([0.0, 1.0, -0.2]))
    np.testing.assert_allclose(dp, [2.0, 1.0, 0.4])
    np.testing.assert_allclose(dn, [1.0, 2.0, -0.1])


def test_zprime_effective_eps_limits():
    g, m = 1e-6, 1e4
    heavy = zprime_effective_eps(g, m, 0.0)
    assert heavy == pytest.approx(g / (np.sqrt(2) * G_F * m**2), rel=1e-12, abs=0)
    # q^2 = m^2 halves it; q^2 >> m^2 gives g / (sqrt2 G_F q^2)
    assert zprime_effective_eps(g, m, m**2) == pytest.approx(heavy / 2, rel=1e-12, abs=0)
    q2 = np.array([1e3, 1e4])
    np.testing.assert_allclose(zprime_effective_eps(g, 1e-3, q2), g / (np.sqrt(2) * G_F * q2), rtol=1e-8)


def test_scalar_nucleon_charges():
    # Q_S ~ 14 A + 1.1 Z per unit universal quark coupling (PHYSICS.md section 4)
    z, n = 55, 78
    assert SCALAR_PER_PROTON * z + SCALAR_PER_NEUTRON * n == pytest.approx(14 * (z + n) + 1.1 * z, rel=1e-12, abs=0)
