import math
import time

import numpy as np
import pytest
from scipy import integrate, stats

from cevns.detectors.efficiency import Efficiency
from cevns.detectors.quenching import Quenching
from cevns.detectors.response import DetectorResponse, response_matrix

QF, LY = 0.0878, 13.348  # COHERENT CsI 2017 release
A, K, X0 = 0.6655, 0.4942, 10.8507
COHERENT_2017 = Efficiency(
    "logistic", {"a": A, "k": K, "x0": X0}, zero_below=5, steps=[(5, 6, 0.5)], evaluate_at="unit_bin_center"
)


def eff_2017_by_hand(n_pe):
    """COHERENT 2017 acceptance of an n-PE event: f(x) H(x) at the 1-PE bin center x = n - 0.5."""
    x = n_pe - 0.5
    h = 0.0 if x < 5 else (0.5 if x < 6 else 1.0)
    return A / (1.0 + math.exp(-K * (x - X0))) * h


def csi(smearing="none", efficiency=None, edges=np.arange(6.0, 31.0, 2.0), params=None):
    return DetectorResponse(Quenching("constant", {"qf": QF}), "pe", LY, smearing, params or {}, efficiency, edges)


def test_no_smearing_is_bin_indicator_in_recoil_energy():
    edges = np.arange(6.0, 31.0, 2.0)
    det = csi()
    t = np.linspace(0.01, 40.0, 3001)
    r = det.matrix(t)
    t_edges = edges / (LY * QF)  # analytic bin limits in keVnr
    for b in range(edges.size - 1):
        inside = (t >= t_edges[b]) & (t < t_edges[b + 1])
        np.testing.assert_array_equal(r[b], inside.astype(float))


def test_no_smearing_integrates_to_bin_widths_in_t():
    # Lindhard Ge, keVee bins: midpoint rule between breakpoints is exact for an indicator
    edges = np.array([0.2, 0.3, 0.5, 1.0, 2.0])
    det = DetectorResponse(Quenching("lindhard", {"k": 0.157}), "kevee", None, "none", {}, None, edges)
    z = 32
    bp = det.breakpoints_kevnr(z, 100.0)
    grid = np.union1d(bp, np.linspace(0.0, 20.0, 4001))
    mid, dt = 0.5 * (grid[1:] + grid[:-1]), np.diff(grid)
    widths = det.matrix(mid, z) @ dt
    q = Quenching("lindhard", {"k": 0.157})
    t_edges = q.inverse_kevnr(edges, z)
    np.testing.assert_allclose(widths, np.diff(t_edges), rtol=1e-12)
    assert det.threshold_kevnr(z) == pytest.approx(t_edges[0], rel=1e-12)
    # breakpoints map exactly onto the bin edges
    np.testing.assert_allclose(det.observable_mean(bp, z), edges, rtol=1e-13)


def test_poisson_total_probability():
    det = csi("poisson", edges=np.array([-1.0, 0.0, 5.0, 50.0, 1000.0]))
    t = np.linspace(0.0, 60.0, 200)
    r = det.matrix(t)
    np.testing.assert_allclose(r.sum(axis=0), 1.0, atol=1e-12)
    # counts of zero are in (-1, 0]: from 0 upwards the total is 1 - P(N = 0)
    np.testing.assert_allclose(r[1:].sum(axis=0), 1.0 - np.exp(-LY * QF * t), atol=1e-12)


def test_poisson_with_coherent_2017_efficiency():
    edges = np.arange(0.0, 51.0, 2.0)
    det = csi("poisson", COHERENT_2017, edges)
    t = np.array([0.5, 3.0, 8.0, 15.0, 30.0])
    mu = LY * QF * t
    r = det.matrix(t)
    n = np.arange(1, 51)
    weights = np.array([eff_2017_by_hand(k) for k in n])
    pmf = stats.poisson.pmf(n[:, None], mu[None, :]) * weights[:, None]
    expected = pmf.reshape(25, 2, -1).sum(axis=1)  # bins (0,2], (2,4], ...
    np.testing.assert_allclose(r, expected, rtol=1e-10, atol=1e-16)
    # an event of exactly 6 PE gets 0.5 f(5.5); one of 5 PE is rejected
    assert eff_2017_by_hand(6) == pytest.approx(0.5 * A / (1 + math.exp(-K * (5.5 - X0))))
    det0 = csi("none", COHERENT_2017, edges)
    r0 = det0.matrix(np.array([5.0, 6.0, 6.3]) / (LY * QF))
    np.testing.assert_allclose(r0.sum(axis=0), [0.0, eff_2017_by_hand(6), eff_2017_by_hand(7)], rtol=1e-12)


@pytest.mark.parametrize(
    "model,params,pdf",
    [
        ("gamma", {"fano": 1.0}, lambda x, m: stats.gamma.pdf(x, a=m, scale=1.0)),
        ("gaussian", {"sigma0": 1.0, "linear": 0.5}, lambda x, m: stats.norm.pdf(x, m, math.sqrt(1 + 0.5 * m))),
    ],
)
def test_continuous_smearing_with_smooth_efficiency_against_quad(model, params, pdf):
    eff = Efficiency("logistic", {"a": A, "k": K, "x0": X0})
    edges = np.array([4.0, 10.0, 20.0, 40.0])
    mu = np.array([3.0, 12.0, 25.0])
    r = response_matrix(mu, mu, edges, model, params, eff, sub_bin_width=0.05)
    for j, m in enumerate(mu):
        for b in range(edges.size - 1):
            ref = integrate.quad(lambda x: pdf(x, m) * eff(x), edges[b], edges[b + 1], epsabs=1e-12)[0]
            assert r[b, j] == pytest.approx(ref, rel=2e-4, abs=1e-9)


def test_continuous_smearing_with_piecewise_efficiency_is_exact():
    edges = np.arange(0.0, 31.0, 3.0)
    mu = np.array([2.0, 6.5, 14.0])
    r = response_matrix(mu, mu, edges, "gamma", {}, COHERENT_2017)
    # the 1-PE bin (n-1, n] has weight eff(n - 0.5) and probability G(n) - G(n - 1)
    n = np.arange(1, 31)
    g = stats.gamma.cdf(n[:, None], a=mu) - stats.gamma.cdf(n[:, None] - 1, a=mu)
    w = np.array([eff_2017_by_hand(k) for k in n])
    expected = (g * w[:, None]).reshape(10, 3, -1).sum(axis=1)
    np.testing.assert_allclose(r, expected, rtol=1e-10, atol=1e-15)


def test_deterministic_continuous_efficiency_exact():
    eff = Efficiency("logistic", {"a": A, "k": K, "x0": X0})
    det = csi("none", eff)
    t = np.array([7.1, 9.9, 20.0]) / (LY * QF)
    np.testing.assert_allclose(det.matrix(t).sum(axis=0), eff(LY * QF * t), rtol=1e-14)


def test_breakpoints_and_threshold():
    det = csi("none", COHERENT_2017, np.arange(0.0, 31.0, 2.0))
    bp = det.breakpoints_kevnr(None, 1e3)
    np.testing.assert_allclose(bp * LY * QF, np.arange(1.0, 31.0), rtol=1e-13)  # unit-bin edges
    assert det.breakpoints_kevnr(None, 10.0).max() <= 10.0
    assert det.threshold_kevnr() == pytest.approx(5.0 / (LY * QF))
    assert np.all(det.matrix(np.linspace(0, det.threshold_kevnr(), 50)) == 0.0)
    assert csi(edges=np.arange(6.0, 31.0, 2.0)).threshold_kevnr() == pytest.approx(6.0 / (LY * QF))
    smeared = csi("poisson", COHERENT_2017)
    assert smeared.breakpoints_kevnr(None, 100.0).size == 0
    assert smeared.threshold_kevnr() == 0.0


def test_kevnr_observable():
    det = DetectorResponse(None, "kevnr", None, "gaussian", {"sigma0": 0.5}, None, np.array([1.0, 2.0, 5.0]))
    t = np.array([1.5, 3.0])
    expect = np.diff(stats.norm.cdf(det.bin_edges[:, None], t, 0.5), axis=0)
    np.testing.assert_allclose(det.matrix(t), expect, atol=1e-14)


def test_validation():
    q = Quenching("constant", {"qf": QF})
    with pytest.raises(ValueError, match="bin_edges"):
        DetectorResponse(q, "pe", LY, "none", {}, None, np.array([3.0, 2.0]))
    with pytest.raises(ValueError, match="bin_edges"):
        DetectorResponse(q, "pe", LY, "none", {}, None, np.array([3.0]))
    with pytest.raises(ValueError, match="light_yield_pe_per_kevee"):
        DetectorResponse(q, "pe", None, "none", {}, None, np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="light_yield_pe_per_kevee"):
        DetectorResponse(q, "pe", -3.0, "none", {}, None, np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="light_yield_pe_per_kevee"):
        DetectorResponse(q, "kevee", 13.0, "none", {}, None, np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="observable"):
        DetectorResponse(q, "photons", None, "none", {}, None, np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="quenching"):
        DetectorResponse(None, "kevee", None, "none", {}, None, np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="smearing"):
        DetectorResponse(q, "kevee", None, "landau", {}, None, np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="same length"):
        response_matrix(np.ones(3), np.ones(4), [0.0, 1.0])


def test_speed():
    t = np.linspace(0.0, 60.0, 2000)
    mu = LY * QF * t
    edges = np.arange(0.0, 101.0)  # 100 sub-bins
    for model in ("poisson", "gaussian", "gamma"):
        params = {"sigma0": 1.0} if model == "gaussian" else {}
        best = min(_timed(response_matrix, t, mu, edges, model, params, COHERENT_2017) for _ in range(3))
        assert best < 0.1, (model, best)


def _timed(f, *args):
    start = time.perf_counter()
    f(*args)
    return time.perf_counter() - start
