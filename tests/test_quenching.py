import math

import numpy as np
import pytest

from cevns.detectors.quenching import Quenching, constant_qf, lindhard_qf, polynomial_qf


def lindhard_by_hand(t_kev, z, k):
    eps = 11.5 * z ** (-7.0 / 3.0) * t_kev
    g = 3.0 * eps**0.15 + 0.7 * eps**0.6 + eps
    return k * g / (1.0 + k * g)


@pytest.mark.parametrize("t", [1.0, 10.0])
def test_lindhard_germanium_formula(t):
    assert lindhard_qf(t, 32, 0.157) == pytest.approx(lindhard_by_hand(t, 32, 0.157), rel=1e-12)


def test_lindhard_germanium_rough_values():
    # Ge with k = 0.157: ~0.17 at 1 keVnr and ~0.23 at 10 keVnr (the familiar "~20-25%" Ge QF)
    qf1, qf10 = lindhard_qf([1.0, 10.0], 32, 0.157)
    assert 0.15 < qf1 < 0.20
    assert 0.20 < qf10 < 0.30


def test_lindhard_germanium_literature():
    # Scholz et al., arXiv:1608.03588: best fit k = 0.179 "corresponds to a quenching factor of
    # ... 25.3% for nuclear recoil energies of 8.5 keVnr" (the 0.3 keVnr value includes an adiabatic
    # correction and is not pure Lindhard).
    assert lindhard_qf(8.5, 32, 0.179) == pytest.approx(0.253, abs=6e-4)
    # Bonhomme et al. (CONUS), arXiv:2202.03754: QF between 0.16 and 0.23 in [0.4, 6.3] keVnr,
    # compatible with Lindhard k = 0.162.
    qf = lindhard_qf(np.array([0.4, 6.3]), 32, 0.162)
    assert qf[0] == pytest.approx(0.16, abs=0.006)
    assert qf[1] == pytest.approx(0.23, abs=0.006)


def test_lindhard_default_k_matches_classical_formula_for_ge():
    # Lindhard: k = 0.133 Z^(2/3) A^(-1/2); Ge: Z = 32, A = 72.63
    k_classic = 0.133 * 32 ** (2 / 3) / math.sqrt(72.63)
    assert k_classic == pytest.approx(0.157, abs=1e-3)
    q = Quenching("lindhard", {})
    assert q.qf(5.0, 32) == pytest.approx(lindhard_by_hand(5.0, 32, 0.157))


def test_lindhard_limits():
    t = np.logspace(-9, 0, 10)
    qf = lindhard_qf(t, 32)
    assert lindhard_qf(0.0, 32) == 0.0
    assert qf[0] < 0.01
    assert np.all(np.diff(qf) > 0)  # decreases towards 0 as T -> 0
    # high energy: g ~ eps so QF -> 1
    assert lindhard_qf(1e9, 32) > 0.99


def test_constant_and_polynomial():
    t = np.array([0.0, 5.0, 50.0])
    np.testing.assert_array_equal(constant_qf(t, 0.0878), np.full(3, 0.0878))
    # COHERENT LAr 2020: QF = 0.246 + 0.00078 T[keVnr]
    np.testing.assert_allclose(polynomial_qf(t, [0.246, 0.00078]), 0.246 + 0.00078 * t)
    q = Quenching("polynomial", {"coeffs": [0.246, 0.00078]})
    assert q.electron_equivalent_kevee(100.0) == pytest.approx(100.0 * 0.324)


def test_polynomial_scale_mev():
    # COHERENT CsI 2021: E_ee[MeV] = a T + b T^2 + c T^3 + d T^4 with T in MeVnr
    a, b, c, d = 0.0554628, 4.30681, -111.707, 840.384
    t_kev = np.array([5.0, 20.0, 40.0])
    t_mev = t_kev / 1000
    e_ee_kev = 1000 * (a * t_mev + b * t_mev**2 + c * t_mev**3 + d * t_mev**4)
    q = Quenching("polynomial", {"coeffs": [a, b, c, d], "t_scale_kevnr": 1000.0})
    np.testing.assert_allclose(q.electron_equivalent_kevee(t_kev), e_ee_kev, rtol=1e-12)


@pytest.mark.parametrize(
    "quenching,z",
    [
        (Quenching("constant", {"qf": 0.0878}), None),
        (Quenching("polynomial", {"coeffs": [0.246, 0.00078]}), None),
        (Quenching("lindhard", {"k": 0.157}), 32),
        (Quenching("lindhard", {"k": 0.157}), 14),
    ],
)
def test_inverse_inverts(quenching, z):
    t = np.array([0.0, 1e-3, 0.3, 1.0, 7.7, 42.0, 300.0])
    e_ee = quenching.electron_equivalent_kevee(t, z)
    np.testing.assert_allclose(quenching.inverse_kevnr(e_ee, z), t, rtol=1e-12, atol=1e-15)
    assert quenching.inverse_kevnr(2.0, z).shape == ()
    t_back = quenching.inverse_kevnr(np.array([[0.5, 1.0], [2.0, 4.0]]), z)
    np.testing.assert_allclose(quenching.electron_equivalent_kevee(t_back, z), [[0.5, 1.0], [2.0, 4.0]])


def test_errors():
    with pytest.raises(ValueError, match="constant, polynomial, lindhard"):
        Quenching("birks", {})
    with pytest.raises(ValueError, match="qf"):
        Quenching("constant", {})
    with pytest.raises(ValueError, match="unknown params"):
        Quenching("lindhard", {"kk": 0.1})
    with pytest.raises(ValueError):
        Quenching("constant", {"qf": 1.5})
    with pytest.raises(ValueError, match="atomic number"):
        Quenching("lindhard", {}).qf(1.0)
    with pytest.raises(ValueError, match="non-negative"):
        lindhard_qf(-1.0, 32)
    with pytest.raises(ValueError, match="NaN"):
        constant_qf(np.nan, 0.1)
    with pytest.raises(ValueError, match="outside"):
        Quenching("polynomial", {"coeffs": [0.5, -0.01]}).qf(100.0)
    with pytest.raises(ValueError):
        Quenching("constant", {"qf": 0.1}).inverse_kevnr(-1.0)
