import math

import numpy as np
import pytest

from cevns.detectors.efficiency import (
    Efficiency,
    logistic_efficiency,
    step_weights,
    tabulated_efficiency,
    unit_bin_center,
)

# COHERENT CsI 2017 release (arXiv:1804.09459, coherent_parameters.yaml)
A, K, X0 = 0.6655, 0.4942, 10.8507


def f2017(x):
    return A / (1.0 + math.exp(-K * (x - X0)))


def h2017(x):
    return 0.0 if x < 5 else (0.5 if x < 6 else 1.0)


COHERENT_2017 = Efficiency(
    "logistic", {"a": A, "k": K, "x0": X0}, zero_below=5, steps=[(5, 6, 0.5)], evaluate_at="unit_bin_center"
)


def test_logistic_formula_and_limits():
    x = np.array([0.0, 5.0, X0, 20.0, 60.0])
    np.testing.assert_allclose(logistic_efficiency(x, A, K, X0), [f2017(v) for v in x], rtol=1e-13)
    assert logistic_efficiency(X0, A, K, X0) == pytest.approx(A / 2)
    assert logistic_efficiency(1e4, A, K, X0) == pytest.approx(A)
    assert logistic_efficiency(-1e4, A, K, X0) == pytest.approx(0.0, abs=1e-300)


def test_logistic_offset_2021_is_clipped():
    # COHERENT CsI 2021 (arXiv:2110.07730): a/(1+exp(-b(x-c))) + d with d < 0
    a, b, c, d = 1.32045, 0.285979, 10.8646, -0.333322
    eff = Efficiency("logistic", {"a": a, "k": b, "x0": c, "d": d})
    x_zero = c - math.log(a / -d - 1.0) / b  # where the raw curve crosses 0
    assert eff.threshold() == pytest.approx(x_zero)
    assert eff(x_zero - 0.01) == 0.0
    assert eff(0.0) == 0.0
    assert eff(x_zero + 0.5) > 0.0
    assert eff(30.0) == pytest.approx(a / (1 + math.exp(-b * (30 - c))) + d)


def test_step_weights_coherent_heaviside():
    x = np.array([0.0, 4.999, 5.0, 5.5, 5.999, 6.0, 100.0])
    expected = [h2017(v) for v in x]
    np.testing.assert_array_equal(step_weights(x, [(5, 6, 0.5)], zero_below=5), expected)
    np.testing.assert_array_equal(step_weights(x), np.ones_like(x))


def test_tabulated():
    xs, ys = [1.0, 2.0, 4.0], [0.2, 0.6, 0.9]
    x = np.array([0.5, 1.0, 1.5, 3.0, 4.0, 10.0])
    np.testing.assert_allclose(tabulated_efficiency(x, xs, ys), [0.0, 0.2, 0.4, 0.75, 0.9, 0.9])
    # clipped to [0, 1]
    np.testing.assert_allclose(tabulated_efficiency([0.0, 1.0, 2.0], [0.0, 2.0], [-1.0, 3.0]), [0.0, 1.0, 1.0])
    eff = Efficiency("tabulated", {"xs": xs, "ys": ys})
    assert eff.threshold() == 1.0
    np.testing.assert_array_equal(eff.discontinuities(0, 10), [1.0])
    assert Efficiency("tabulated", {"xs": [0.0, 1.0, 2.0], "ys": [0.0, 0.0, 0.5]}).threshold() == 1.0


def test_unit_bin_center_rule():
    # an n-PE event (x in (n-1, n], including x = n) uses the value at n - 0.5
    np.testing.assert_array_equal(unit_bin_center([0.2, 1.0, 5.0, 5.3, 6.0, 6.01]), [0.5, 0.5, 4.5, 5.5, 5.5, 6.5])
    x = [4.0, 5.0, 5.3, 6.0, 6.2, 7.0, 20.0]
    expected = [f2017(math.ceil(v) - 0.5) * h2017(math.ceil(v) - 0.5) for v in x]
    np.testing.assert_allclose(COHERENT_2017(x), expected, rtol=1e-13)
    assert COHERENT_2017(6.0) == pytest.approx(0.5 * f2017(5.5))
    assert COHERENT_2017(5.0) == 0.0
    assert COHERENT_2017.threshold() == 5.0
    np.testing.assert_array_equal(COHERENT_2017.discontinuities(3.5, 8), [4, 5, 6, 7, 8])
    assert COHERENT_2017.piecewise_constant


def test_value_mode_and_step_model():
    eff = Efficiency("step", zero_below=5, steps=[(5, 6, 0.5)])
    assert eff(5.0) == 0.5 and eff(6.0) == 1.0 and eff(4.99) == 0.0
    assert eff.threshold() == 5.0
    np.testing.assert_array_equal(eff.discontinuities(0, 50), [5.0, 6.0])
    assert Efficiency()(np.array([0.0, 3.0])).tolist() == [1.0, 1.0]
    assert Efficiency().threshold() == -np.inf
    assert Efficiency().is_unity


def test_errors():
    with pytest.raises(ValueError, match="unity, logistic, tabulated, step"):
        Efficiency("sigmoid")
    with pytest.raises(ValueError, match="needs params"):
        Efficiency("logistic", {"a": 1.0})
    with pytest.raises(ValueError, match="unknown params"):
        Efficiency("logistic", {"a": 1.0, "k": 1.0, "x0": 1.0, "w": 2})
    with pytest.raises(ValueError, match="zero_below"):
        Efficiency("step")
    with pytest.raises(ValueError, match="use model 'step'"):
        Efficiency("unity", zero_below=3)
    with pytest.raises(ValueError, match="evaluate_at"):
        Efficiency(evaluate_at="center")
    with pytest.raises(ValueError, match="weight"):
        Efficiency("step", steps=[(1, 2, 1.5)])
    with pytest.raises(ValueError, match="ascending"):
        Efficiency("tabulated", {"xs": [2.0, 1.0], "ys": [0.1, 0.2]})
    with pytest.raises(ValueError, match="NaN"):
        COHERENT_2017(np.nan)
