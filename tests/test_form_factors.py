"""Tests of cevns.physics.form_factors against numerical Fourier transforms and moments."""

import numpy as np
import pytest
from scipy.integrate import quad

from cevns.physics.constants import HBARC_MEV_FM
from cevns.physics.form_factors import (
    FORM_FACTORS,
    form_factor,
    helm,
    helm_rms_from_radius,
    klein_nystrand,
    papoulias_helm_rms_fm,
    symmetrized_fermi,
)

SHAPED = {"helm": helm, "klein_nystrand": klein_nystrand, "symmetrized_fermi": symmetrized_fermi}
Q_FM = np.array([0.05, 0.2, 0.45, 0.8, 1.3])  # fm^-1


def _j0(x):
    return np.sinc(x / np.pi)


def _ft(density, q_fm, r_max, norm=None):
    """3D Fourier transform of a spherical density, normalised to 1 at q = 0."""
    if norm is None:
        norm = quad(lambda r: 4 * np.pi * r * r * density(r), 0, r_max, limit=400)[0]
    val = quad(lambda r: 4 * np.pi * r * r * density(r) * _j0(q_fm * r), 0, r_max, limit=400)[0]
    return val / norm


@pytest.mark.parametrize("name", sorted(FORM_FACTORS))
def test_unity_at_zero(name):
    f = form_factor(name, np.array([0.0, 0.0]), np.array([4.8, 3.4]))
    assert np.all(f == 1.0)
    assert form_factor(name, 0.0, 5.5) == 1.0


@pytest.mark.parametrize("name", sorted(SHAPED))
@pytest.mark.parametrize("rms", [3.1, 4.8, 5.5])
def test_small_q_gives_rms_radius(name, rms):
    # F = 1 - q^2 <r^2>/6 + O(q^4): the argument really is the rms radius of the shape
    q_fm = 1e-3 / rms
    f = SHAPED[name](q_fm * HBARC_MEV_FM, rms)
    r2_est = 6 * (1 - f) / q_fm**2
    assert r2_est == pytest.approx(rms**2, rel=1e-5)


def test_symmetrized_fermi_vs_numerical_transform():
    a, rms = 0.52, 4.8
    c = np.sqrt(5 / 3 * (rms**2 - 7 / 5 * np.pi**2 * a**2))
    rho = lambda r: np.sinh(c / a) / (np.cosh(r / a) + np.cosh(c / a))  # noqa: E731
    r_max = c + 40 * a
    # density moment: <r^2> of the symmetrized Fermi density is the requested rms^2
    norm = quad(lambda r: 4 * np.pi * r * r * rho(r), 0, r_max)[0]
    r2 = quad(lambda r: 4 * np.pi * r**4 * rho(r), 0, r_max)[0] / norm
    assert r2 == pytest.approx(rms**2, rel=1e-9)
    for q in Q_FM:
        expected = _ft(rho, q, r_max, norm)
        assert symmetrized_fermi(q * HBARC_MEV_FM, rms, a_fm=a) == pytest.approx(expected, abs=1e-9)


def test_helm_vs_numerical_transform():
    s, rms = 0.9, 4.8
    r0 = np.sqrt(5 / 3 * (rms**2 - 3 * s**2))
    gauss = lambda r: np.exp(-r * r / (2 * s * s)) / (2 * np.pi * s * s) ** 1.5  # noqa: E731
    for q in Q_FM:
        sphere = _ft(lambda r: 1.0, q, r0)
        g = _ft(gauss, q, 12 * s, norm=1.0)  # normalised Gaussian
        assert helm(q * HBARC_MEV_FM, rms, s_fm=s) == pytest.approx(sphere * g, abs=1e-9)


def test_klein_nystrand_vs_numerical_transform():
    a, rms = 0.7, 4.8
    r_a = np.sqrt(5 / 3 * (rms**2 - 6 * a**2))
    # Yukawa density exp(-r/a)/(4 pi a^2 r): 4 pi r^2 rho = r exp(-r/a) / a^2 (normalised to 1)
    for q in Q_FM:
        yuk = quad(lambda r: r * np.exp(-r / a) / a**2 * _j0(q * r), 0, 60 * a, limit=400)[0]
        sphere = _ft(lambda r: 1.0, q, r_a)
        assert klein_nystrand(q * HBARC_MEV_FM, rms, a_fm=a) == pytest.approx(sphere * yuk, abs=1e-9)


def test_helm_papoulias_convention():
    # R = 1.2 A^(1/3), s = 0.5, R0^2 = R^2 - 5 s^2 (Papoulias & Kosmas)
    a_cs = 133
    big_r = 1.2 * a_cs ** (1 / 3)
    r0 = np.sqrt(big_r**2 - 5 * 0.25)
    rms = papoulias_helm_rms_fm(a_cs)
    assert rms == pytest.approx(np.sqrt(0.6) * big_r, rel=1e-12)
    assert helm_rms_from_radius(big_r, 0.5) == pytest.approx(rms)
    q = 0.3
    x = q * r0
    expected = 3 * (np.sin(x) - x * np.cos(x)) / x**3 * np.exp(-(q * 0.5) ** 2 / 2)
    assert helm(q * HBARC_MEV_FM, rms, s_fm=0.5) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("name", sorted(SHAPED))
def test_monotonic_to_first_zero_and_radius_ordering(name):
    f = SHAPED[name]
    q_mev = np.linspace(0, 400, 4001)
    vals = f(q_mev, 4.8)
    first_neg = np.argmax(vals < 0)
    assert first_neg > 0, "no zero found below 400 MeV"
    assert np.all(np.diff(vals[: first_neg + 1]) < 0)
    # larger radius -> smaller F at fixed q (below the first zero)
    qs = q_mev[1:first_neg:50]
    assert np.all(f(qs, 5.5) < f(qs, 4.8))


def test_helm_first_zero_location():
    rms, s = 4.8, 0.9
    r0 = np.sqrt(5 / 3 * (rms**2 - 3 * s**2))
    q_zero = 4.493409457909064 / r0 * HBARC_MEV_FM  # first root of tan x = x
    assert abs(helm(q_zero, rms, s)) < 1e-12
    assert abs(klein_nystrand(4.493409457909064 / np.sqrt(5 / 3 * (rms**2 - 6 * 0.49)) * HBARC_MEV_FM, rms)) < 1e-12


def test_broadcasting_and_continuity():
    q = np.array([0.0, 1.0, 10.0, 50.0])[:, None]
    r = np.array([3.4, 4.8, 5.5])
    for name in FORM_FACTORS:
        assert form_factor(name, q, r).shape == (4, 3)
    # series / direct branches of 3 j1(x)/x (x = 0.3) and of the coth term (pi q a = 0.1) join
    # continuously: compare just below and just above each switch point
    rms, eps = 4.8, 1e-9
    r0 = np.sqrt(5 / 3 * (rms**2 - 3 * 0.81))
    c = np.sqrt(5 / 3 * (rms**2 - 7 / 5 * np.pi**2 * 0.52**2))
    for f, q_switch_fm in ((helm, 0.3 / r0), (symmetrized_fermi, 0.3 / c), (symmetrized_fermi, 0.1 / (np.pi * 0.52))):
        lo, hi = f(np.array([1 - eps, 1 + eps]) * q_switch_fm * HBARC_MEV_FM, rms)
        slope = (f(1.01 * q_switch_fm * HBARC_MEV_FM, rms) - f(0.99 * q_switch_fm * HBARC_MEV_FM, rms)) / 0.02
        assert hi - lo == pytest.approx(2 * eps * slope, abs=1e-13)


@pytest.mark.parametrize(
    "call",
    [
        lambda: helm(10.0, -1.0),
        lambda: helm(10.0, 0.0),
        lambda: helm(10.0, np.nan),
        lambda: helm(10.0, 1.5, s_fm=0.9),  # rms^2 < 3 s^2
        lambda: klein_nystrand(10.0, 1.5),  # rms^2 < 6 a^2
        lambda: symmetrized_fermi(10.0, 0.5),  # rms^2 < 7/5 pi^2 a^2
        lambda: symmetrized_fermi(10.0, 4.0, a_fm=0.0),
        lambda: helm(np.nan, 4.8),
        lambda: helm(-5.0, 4.8),
        lambda: helm_rms_from_radius(1.0, 0.5),  # R^2 < 5 s^2
        lambda: form_factor("helm", 10.0, 4.8, a_fm=0.7),
    ],
)
def test_bad_input(call):
    with pytest.raises(ValueError):
        call()


def test_unknown_name_lists_valid():
    with pytest.raises(ValueError, match="klein_nystrand"):
        form_factor("woods_saxon", 10.0, 4.8)
