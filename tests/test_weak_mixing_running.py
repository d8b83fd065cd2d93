"""The MS-bar running of sin^2(theta_W) (cevns.physics.weak_mixing) against cited values and analytic limits."""

import numpy as np
import pytest

from cevns.physics import weak_mixing as wm
from cevns.physics.constants import ALPHA, M_E_MEV, M_MU_MEV


def test_low_energy_value_and_flat_below_electron_mass():
    # PDG 2020 / Erler & Ramsey-Musolf 2005: 0.23857 at Q -> 0; no running below m_e (decoupling)
    s = wm.sin2_theta_w_running([0.0, 0.1, 0.5])
    assert np.allclose(s, 0.23857, atol=1e-12)
    assert wm.alpha_msbar(0.3) == pytest.approx(ALPHA)


def test_mz_value_is_predicted_within_the_leading_order_accuracy():
    # independent check: PDG MS-bar s^2(M_Z) = 0.23122 (the curve is anchored at Q = 0 and on alpha(M_Z))
    s_mz = float(wm.sin2_theta_w_running(wm.M_Z_MEV))
    assert abs(s_mz - wm.SIN2_THETA_W_MZ_PDG) < 6e-4
    # the effective light-quark threshold reproduces the MS-bar 1/alpha(M_Z) = 127.95 it was fixed by
    assert 1.0 / float(wm.alpha_msbar(wm.M_Z_MEV)) == pytest.approx(127.95, abs=0.01)


def test_electron_only_interval_is_the_closed_form():
    # between m_e and m_mu only the electron runs: lambda = T Q / (2 Q^2) = 1/4, (s^2 - 1/4)/alpha constant,
    # 1/alpha(mu) = 1/alpha - (2/3pi) ln(mu/m_e)
    mu = 80.0
    ainv = 1 / ALPHA - 2 / (3 * np.pi) * np.log(mu / M_E_MEV)
    expected = 0.25 + (0.23857 - 0.25) * (1 / ALPHA) / ainv
    assert float(wm.sin2_theta_w_running(mu)) == pytest.approx(expected, abs=1e-12)
    assert mu < M_MU_MEV


def test_decreasing_below_mw_and_cevns_scales_near_q0():
    q = np.geomspace(1.0, 0.99 * wm.M_W_MEV, 200)
    s = wm.sin2_theta_w_running(q)
    assert np.all(np.diff(s) <= 0)
    # CEvNS momentum transfers (10-50 MeV): within 1e-4 of the Q -> 0 value
    assert np.all(np.abs(wm.sin2_theta_w_running([10.0, 50.0]) - 0.23857) < 1e-4)


@pytest.mark.parametrize("bad", [-1.0, np.nan, 1e6])
def test_bad_momentum_transfer(bad):
    with pytest.raises(ValueError, match="momentum transfer"):
        wm.sin2_theta_w_running(bad)
