"""Tests of cevns.physics.kinematics against two-body relativistic kinematics."""

import numpy as np
import pytest

from cevns.physics.kinematics import e_min_mev, momentum_transfer_mev, t_max_mev

M_CS = 123772.5  # ~ Cs133 nuclear mass [MeV]


def _scatter(e, m, cos_theta):
    """Recoil energy and three-momentum transfer from the Compton-like formula (massless projectile)."""
    e_out = e / (1.0 + e / m * (1.0 - cos_theta))
    t = e - e_out
    q3_sq = e**2 + e_out**2 - 2.0 * e * e_out * cos_theta  # |p_in - p_out|^2
    minus_t_inv = 2.0 * e * e_out * (1.0 - cos_theta)  # -(p_in - p_out)^2 for massless legs
    return t, q3_sq, minus_t_inv


def test_t_max_is_backscatter():
    e = np.array([1.0, 10.0, 29.79, 52.8, 1000.0])
    for m in (M_CS, 931.494 * 12, 939.0):
        t_back, _, _ = _scatter(e, m, -1.0)
        np.testing.assert_allclose(t_max_mev(e, m), t_back, rtol=1e-9)  # reference has E - E' cancellation


def test_e_min_inverts_t_max():
    e = np.geomspace(1e-3, 1e3, 50)
    for m in (M_CS, 37000.0):
        np.testing.assert_allclose(e_min_mev(t_max_mev(e, m), m), e, rtol=1e-10)
    # small-T limit: E_min ~ sqrt(M T / 2)
    t = 1e-6
    assert e_min_mev(t, M_CS) == pytest.approx(np.sqrt(M_CS * t / 2), rel=1e-4)


def test_momentum_transfer_matches_vectors():
    e, m = 30.0, M_CS
    cos_theta = np.linspace(-1, 1, 21)
    t, q3_sq, minus_t = _scatter(e, m, cos_theta)
    np.testing.assert_allclose(momentum_transfer_mev(t, m, exact=True) ** 2, q3_sq, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(momentum_transfer_mev(t, m) ** 2, minus_t, rtol=1e-9, atol=1e-12)


def test_broadcasting_and_scalars():
    out = t_max_mev(np.array([[10.0], [20.0]]), np.array([1e4, 1e5, 1e6]))
    assert out.shape == (2, 3)
    assert np.ndim(t_max_mev(10.0, M_CS)) == 0
    assert momentum_transfer_mev(0.0, M_CS) == 0.0


@pytest.mark.parametrize(
    "call",
    [
        lambda: t_max_mev(10.0, -1.0),
        lambda: t_max_mev(10.0, 0.0),
        lambda: t_max_mev(np.nan, M_CS),
        lambda: e_min_mev(-1e-3, M_CS),
        lambda: momentum_transfer_mev([0.01, np.inf], M_CS),
        lambda: e_min_mev(0.01, np.nan),
    ],
)
def test_bad_input(call):
    with pytest.raises(ValueError):
        call()
