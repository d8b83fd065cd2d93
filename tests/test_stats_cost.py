"""Tests of the iminuit-compatible cost functions."""

import numpy as np
import pytest
from iminuit import Minuit
from iminuit.util import describe

from cevns.stats.cost import Cost, CostSum, FunctionCost, GaussianPrior


def _quadratic(mean, sigma):
    return lambda a, b: ((a - mean[0]) / sigma[0]) ** 2 + ((b - mean[1]) / sigma[1]) ** 2


def test_describe_and_call():
    c = FunctionCost(_quadratic((1.0, -2.0), (0.5, 2.0)), ["a", "b"])
    assert describe(c) == ["a", "b"]
    assert c.parameters == ("a", "b") and c.errordef == Minuit.LEAST_SQUARES
    assert c(2.0, 0.0) == pytest.approx(4.0 + 1.0)
    assert isinstance(c(2.0, 0.0), float)
    np.testing.assert_allclose(c.evaluate(a=np.array([1.0, 1.5]), b=-2.0), [0.0, 1.0])
    with pytest.raises(TypeError):
        c(1.0)
    with pytest.raises(ValueError):
        c(np.array([1.0, 2.0]), 0.0)  # one point only through __call__


def test_minuit_finds_minimum_and_errors():
    c = FunctionCost(_quadratic((1.0, -2.0), (0.5, 2.0)), ["a", "b"])
    m = Minuit(c, a=0.0, b=0.0)
    m.migrad()
    assert m.valid
    assert m.values["a"] == pytest.approx(1.0, abs=1e-5)
    assert m.values["b"] == pytest.approx(-2.0, abs=1e-4)
    # Delta chi2 = 1 with errordef 1: errors equal the sigmas
    assert m.errors["a"] == pytest.approx(0.5, rel=1e-3)
    assert m.errors["b"] == pytest.approx(2.0, rel=1e-3)


def test_covariance_of_correlated_quadratic():
    cov = np.array([[0.04, 0.03], [0.03, 0.09]])
    inv = np.linalg.inv(cov)
    mean = np.array([0.3, -0.7])

    def chi2(x, y):
        dx, dy = np.asarray(x) - mean[0], np.asarray(y) - mean[1]
        return inv[0, 0] * dx**2 + 2 * inv[0, 1] * dx * dy + inv[1, 1] * dy**2

    m = Minuit(FunctionCost(chi2, ["x", "y"]), x=0.0, y=0.0)
    m.migrad()
    m.hesse()
    np.testing.assert_allclose(np.array(m.covariance), cov, rtol=1e-3, atol=1e-7)


def test_sum_shares_parameter_weighted_mean():
    c1 = FunctionCost(lambda m: ((m - 1.0) / 1.0) ** 2, ["m"])
    c2 = FunctionCost(lambda m, k: ((m - 3.0) / 2.0) ** 2 + k**2, ["m", "k"])
    total = c1 + c2
    assert isinstance(total, CostSum)
    assert describe(total) == ["m", "k"]
    assert total(1.0, 0.0) == pytest.approx(1.0)
    mi = Minuit(total, m=0.0, k=1.0)
    mi.migrad()
    w1, w2 = 1.0, 1 / 4.0
    assert mi.values["m"] == pytest.approx((w1 * 1 + w2 * 3) / (w1 + w2), abs=1e-5)
    assert mi.errors["m"] == pytest.approx(1 / np.sqrt(w1 + w2), rel=1e-3)
    # builtin sum and nested sums flatten
    s = sum([c1, c2, GaussianPrior("k", 0.0, 1.0)])
    assert s.parameters == ("m", "k") and len(s.components) == 3


def test_prior_combines_with_function_cost():
    # measurement m = 2 +- 1 combined with a prior m = 0 +- 1 -> 1 +- 1/sqrt(2)
    c = FunctionCost(lambda m: (m - 2.0) ** 2, ["m"]) + GaussianPrior("m", 0.0, 1.0)
    mi = Minuit(c, m=0.5)
    mi.migrad()
    assert mi.values["m"] == pytest.approx(1.0, abs=1e-5)
    assert mi.errors["m"] == pytest.approx(1 / np.sqrt(2), rel=1e-3)
    with pytest.raises(ValueError):
        GaussianPrior("m", 0.0, 0.0)


def test_minos_and_mnprofile():
    # asymmetric chi2: minos gives the Delta chi2 = 1 crossings
    f = FunctionCost(lambda s: np.where(np.asarray(s) > 1, ((s - 1) / 0.2) ** 2, ((s - 1) / 0.1) ** 2), ["s"])
    g = FunctionCost(lambda s, b: ((b - 0.5 * s) / 0.3) ** 2, ["s", "b"])
    m = Minuit(f + g, s=0.9, b=0.0)
    m.migrad()
    m.minos()
    me = m.merrors["s"]
    assert me.lower == pytest.approx(-0.1, rel=1e-3)
    assert me.upper == pytest.approx(0.2, rel=1e-3)
    x, y, ok = m.mnprofile("s", size=11, bound=(0.8, 1.4))
    assert np.all(ok)
    expected = np.where(x > 1, ((x - 1) / 0.2) ** 2, ((x - 1) / 0.1) ** 2)  # b profiled away
    np.testing.assert_allclose(y, expected, atol=1e-4)


def test_limits_are_passed_to_minuit():
    c = FunctionCost(lambda r: (r + 1.0) ** 2, ["r"], limits={"r": (0.0, 5.0)})
    m = Minuit(c, r=1.0)
    assert tuple(m.limits["r"]) == (0.0, 5.0)
    m.migrad()
    assert m.values["r"] == pytest.approx(0.0, abs=1e-3)


def test_errordef_of_likelihood_component_is_normalised_in_sum():
    nll = FunctionCost(lambda m: 0.5 * ((m - 1.0) / 0.5) ** 2, ["m"], errordef=0.5)
    total = nll + GaussianPrior("m", 1.0, 10.0)
    assert total(2.0) == pytest.approx(4.0 + 0.01)


def test_bad_construction():
    with pytest.raises(ValueError):
        FunctionCost(lambda a: a, ["a", "a"])
    with pytest.raises(ValueError):
        FunctionCost(lambda a: a, ["not a name"])
    with pytest.raises(ValueError):
        FunctionCost(lambda a: a, ["a"], limits={"b": (0, 1)})
    with pytest.raises(TypeError):
        Cost(["a"])  # abstract


def test_gaussian_prior_gradient_and_sum_gradient():
    a = GaussianPrior("x", 1.0, 0.5)
    b = GaussianPrior("y", -2.0, 2.0)
    h = 1e-6
    assert a.grad(1.3)[0] == pytest.approx((a(1.3 + h) - a(1.3 - h)) / (2 * h), rel=1e-6)
    s = a + b + GaussianPrior("x", 0.0, 1.0)
    assert s.has_grad
    g = s.grad(0.4, 1.0)
    num = [(s(0.4 + h, 1.0) - s(0.4 - h, 1.0)) / (2 * h), (s(0.4, 1.0 + h) - s(0.4, 1.0 - h)) / (2 * h)]
    np.testing.assert_allclose(g, num, rtol=1e-6)
