"""Tests of cevns.physics.cross_sections against closed forms, quadrature and a published number.

Constants are typed here (PDG/CODATA), not imported from the package, so that a wrong constant in the
package is caught.
"""

import numpy as np
import pytest
from scipy.integrate import quad

from cevns.physics import cross_sections as xs
from cevns.physics import form_factors, nuclei
from cevns.physics.couplings import sm_vector_couplings

G_F = 1.1663787e-11  # MeV^-2 (PDG)
ALPHA = 1 / 137.035999084
M_E = 0.51099895  # MeV
HBARC_CM = 197.3269804e-13  # MeV cm
M_CS = 132.905451961 * 931.49410242 - 55 * M_E  # Cs-133 nuclear mass [MeV] (AME atomic mass)
Z_CS, N_CS = 55, 78


def _t_max(e, m):
    return 2 * e * e / (m + 2 * e)


@pytest.mark.parametrize("kinematics", ["seed", "full"])
@pytest.mark.parametrize("energy", [5.0, 29.79, 52.0])
def test_total_cross_section_closed_form_vs_quad(kinematics, energy):
    q = -35.7
    tm = _t_max(energy, M_CS)
    num, _ = quad(lambda t: xs.dsigma_dt_vector(energy, t, M_CS, q, kinematics), 0.0, tm, epsrel=1e-12)
    closed = xs.total_cross_section_unity_ff_cm2(energy, M_CS, q, kinematics)
    assert closed == pytest.approx(num, rel=1e-9, abs=0)


def test_total_cross_section_heavy_nucleus_limit():
    # M >> E: sigma -> G_F^2 Q_W^2 E^2 / (4 pi) (Freedman 1974), corrections O(E/M) ~ 1e-4 at 10 MeV
    s2 = 0.2312
    q_w = N_CS - (1 - 4 * s2) * Z_CS
    e = 10.0
    expected = G_F**2 * q_w**2 * e**2 / (4 * np.pi) * HBARC_CM**2
    for kin in ("seed", "full"):
        got = xs.total_cross_section_unity_ff_cm2(e, M_CS, -q_w / 2, kin)
        assert got == pytest.approx(expected, rel=5e-4, abs=0)
    # and the magnitude is the textbook ~1e-39 cm^2 scale for Cs at 10 MeV
    assert 1e-40 < expected < 1e-38


@pytest.mark.parametrize("s2", [0.2312, 0.23857])
def test_weak_charge_form(s2):
    # (G_F^2 M / 4 pi) Q_W^2 (1 - T/E - M T / 2 E^2), Q_W = N - (1 - 4 s2) Z  (PHYSICS.md section 2)
    e = np.array([10.0, 30.0, 45.0])
    t = np.array([1e-3, 5e-3, 2e-2])
    q_w = N_CS - (1 - 4 * s2) * Z_CS
    kin = 1 - t / e - M_CS * t / (2 * e**2)
    expected = G_F**2 * M_CS / (4 * np.pi) * q_w**2 * kin * HBARC_CM**2
    gp, gn = 0.5 - 2 * s2, -0.5
    got = xs.dsigma_dt_sm(e, t, M_CS, Z_CS, N_CS, gp, gn, kinematics="full")
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    # Q_W = -2 Q_V
    assert Z_CS * gp + N_CS * gn == pytest.approx(-q_w / 2, rel=1e-14, abs=0)


def test_neutron_number_squared_scaling():
    # at sin^2 = 1/4 the proton coupling vanishes: sigma ~ N^2 (same M, E, T)
    e, t = 30.0, 5e-3
    gp, gn = sm_vector_couplings(0.25, "tree")
    assert gp == pytest.approx(0.0, abs=1e-15)
    s1 = xs.dsigma_dt_sm(e, t, M_CS, Z_CS, 40, gp, gn)
    s2 = xs.dsigma_dt_sm(e, t, M_CS, Z_CS, 80, gp, gn)
    assert s2 / s1 == pytest.approx(4.0, rel=1e-13, abs=0)


def test_separate_form_factors():
    e, t = 30.0, 8e-3
    fz, fn = 0.8, 0.7
    got = xs.dsigma_dt_sm(e, t, M_CS, Z_CS, N_CS, 0.04, -0.5, fz, fn)
    ref = xs.dsigma_dt_sm(e, t, M_CS, Z_CS, N_CS, 0.04, -0.5)
    ratio = ((Z_CS * 0.04 * fz - 0.5 * N_CS * fn) / (Z_CS * 0.04 - 0.5 * N_CS)) ** 2
    assert got / ref == pytest.approx(ratio, rel=1e-13, abs=0)


def test_kinematics_seed_vs_full_and_zero_above_t_max():
    e = 30.0
    tm = _t_max(e, M_CS)
    t = np.array([0.2, 0.7, 0.999]) * tm
    seed = xs.kinematic_factor(e, t, M_CS, "seed")
    full = xs.kinematic_factor(e, t, M_CS, "full")
    np.testing.assert_allclose(seed - full, t / e, rtol=1e-12)
    assert np.all(full > 0)
    # full factor vanishes at T_max, both are zero beyond
    assert xs.kinematic_factor(e, tm, M_CS, "full") == pytest.approx(0.0, abs=1e-12)
    assert all(xs.kinematic_factor(e, 1.001 * tm, M_CS, k) == 0.0 for k in ("seed", "full"))
    with pytest.raises(ValueError, match="kinematics"):
        xs.kinematic_factor(e, t, M_CS, "exact")


def test_magnetic_moment_closed_form():
    e = np.array([10.0, 29.79, 50.0])
    t = np.array([1e-3, 4e-3, 1.5e-2])
    mu = 1e-10
    fz = 0.9
    expected = np.pi * ALPHA**2 * mu**2 / M_E**2 * (1 / t - 1 / e) * Z_CS**2 * fz**2 * HBARC_CM**2
    got = xs.dsigma_dt_magnetic(e, t, M_CS, Z_CS, mu, fz)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    # order of magnitude: (pi alpha^2/m_e^2) (hbar c)^2 = 2.49e-25 cm^2 / MeV^2 ... times mu^2 Z^2 / T
    assert np.pi * ALPHA**2 / M_E**2 * HBARC_CM**2 == pytest.approx(2.494e-25, rel=1e-3, abs=0)
    # zero above T_max and at T = 0
    assert xs.dsigma_dt_magnetic(e[0], 1.01 * _t_max(e[0], M_CS), M_CS, Z_CS, mu) == 0.0
    assert xs.dsigma_dt_magnetic(e[0], 0.0, M_CS, Z_CS, mu) == 0.0


def test_tensor_positive_zero_above_t_max_and_integral():
    e = 30.0
    tm = _t_max(e, M_CS)
    t = np.linspace(1e-6, 0.9999, 50) * tm
    qt = 12.0
    vals = xs.dsigma_dt_tensor(e, t, M_CS, qt)
    assert np.all(vals > 0)
    assert np.all(xs.dsigma_dt_tensor(e, np.array([1.0001, 2.0]) * tm, M_CS, qt) == 0.0)
    # int_0^Tmax (4 G_F^2 M / pi)(1 - M T / 4E^2) Q_T^2 dT = (4 G_F^2 M/pi) Q_T^2 (Tm - M Tm^2 / 8E^2)
    num, _ = quad(lambda x: xs.dsigma_dt_tensor(e, x, M_CS, qt), 0, tm, epsrel=1e-12)
    closed = 4 * G_F**2 * M_CS / np.pi * qt**2 * (tm - M_CS * tm**2 / (8 * e**2)) * HBARC_CM**2
    assert num == pytest.approx(closed, rel=1e-9, abs=0)


def test_scalar_positive_zero_above_t_max_and_integral():
    e, g, m_phi, qs = 30.0, 1e-5, 20.0, 14 * 133 + 1.1 * 55
    tm = _t_max(e, M_CS)
    t = np.linspace(1e-6, 0.9999, 50) * tm
    assert np.all(xs.dsigma_dt_scalar(e, t, M_CS, g, m_phi, qs) > 0)
    assert np.all(xs.dsigma_dt_scalar(e, np.array([1.0001, 3.0]) * tm, M_CS, g, m_phi, qs) == 0.0)
    assert xs.dsigma_dt_scalar(e, 0.0, M_CS, g, m_phi, qs) == 0.0
    # int T/(2MT + m^2)^2 dT = [ln u + m^2/u] / (4 M^2), u = 2MT + m^2
    u1, u2 = m_phi**2, 2 * M_CS * tm + m_phi**2
    closed = g**2 * qs**2 * M_CS**2 / (4 * np.pi * e**2) / (4 * M_CS**2) \
        * (np.log(u2 / u1) + m_phi**2 / u2 - m_phi**2 / u1) * HBARC_CM**2
    num, _ = quad(lambda x: xs.dsigma_dt_scalar(e, x, M_CS, g, m_phi, qs), 0, tm, epsrel=1e-12)
    assert num == pytest.approx(closed, rel=1e-9, abs=0)


def test_flux_averaged_csi_cross_section_published():
    """SNS-flux-averaged CEvNS cross section per CsI nucleus, SM prediction (189 +- 6) 1e-40 cm^2.

    COHERENT, Phys. Rev. Lett. 129 (2022) 081801, arXiv:2110.07730. Computed here with tree-level
    couplings at the low-energy sin^2 = 0.23857, Helm form factors (s = 0.9 fm) with R_n = R_p from the
    charge radii, the three pi-DAR flavours in equal numbers; Cs and I averaged. The published
    uncertainty (3%) covers the choices of form factor / neutron radius / radiative corrections.
    """
    m_mu, m_pi = 105.6583755, 139.57039
    e_prompt = (m_pi**2 - m_mu**2) / (2 * m_pi)
    nu_e = lambda x: 192 / m_mu * (x / m_mu) ** 2 * (0.5 - x / m_mu)  # noqa: E731
    nu_mub = lambda x: 64 / m_mu * (x / m_mu) ** 2 * (0.75 - x / m_mu)  # noqa: E731
    gp, gn = 0.5 - 2 * 0.23857, -0.5
    xg, wg = np.polynomial.legendre.leggauss(64)
    per_nucleus = []
    for sym in ("Cs", "I"):
        (iso,) = nuclei.element_isotopes(sym)
        m = iso.mass_mev
        rp = nuclei.proton_rms_radius_fm(iso)

        def sigma(e):
            tm = _t_max(e, m)
            t = 0.5 * tm * (xg + 1)
            f = form_factors.helm(np.sqrt(2 * m * t), rp, s_fm=0.9)
            return 0.5 * tm * np.sum(wg * xs.dsigma_dt_sm(e, t, m, iso.z, iso.n, gp, gn, f, f))

        s_e = quad(lambda x: nu_e(x) * sigma(x), 0, m_mu / 2, epsrel=1e-8)[0]
        s_m = quad(lambda x: nu_mub(x) * sigma(x), 0, m_mu / 2, epsrel=1e-8)[0]
        per_nucleus.append((sigma(e_prompt) + s_e + s_m) / 3)
    avg = np.mean(per_nucleus) / 1e-40
    assert avg == pytest.approx(189.0, abs=6.0)
