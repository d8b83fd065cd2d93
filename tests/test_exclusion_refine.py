"""Raster exclusion curves resolve a narrow allowed band between grid points (no saw-tooth).

Synthetic likelihood modelled on a light vector Z' with destructive interference: the rate is
``r = (1 - y / y0)^2`` (SM = 1), so it returns to the SM at ``y_flip = 2 y0 = C x^2``; with a Gaussian
``chi^2 = S (r - 1)^2`` the allowed band around ``y_flip`` is ``|r - 1| <= sqrt(t / S)``, i.e. about
``sqrt(t/S)/4`` relative (0.0056 dex for S = 1e3), far narrower than the 0.15 dex grid step. The band
top is then in closed form, ``y = y0 (1 + sqrt(1 + sqrt(t / S)))``, and the column minimum is exactly 0.
"""

from types import SimpleNamespace

import numpy as np
import pytest

from cevns.stats.exclusion_bands import bisect_crossing, golden_section_min, refine_raster_exclusion
from cevns.stats.intervals import delta_chi2_threshold, exclusion_curve
from cevns.stats.scan import ScanData, ScanGrid, analyse_scan, evaluate_grid

S = 1.0e3
C = 1.0e-8
X = np.logspace(0.0, 2.0, 41)
Y = np.logspace(-12.0, -3.0, 61)  # 0.15 dex apart


class Valley:
    """``.chi2(params)`` of the toy Z' (``valley=False``: rate falls monotonically, no flip)."""

    def __init__(self, valley=True):
        self.valley = valley
        self.n_calls = 0
        self.n_points = 0

    def chi2(self, params):
        x = np.asarray(params["m"], dtype=float)
        y = np.asarray(params["g"], dtype=float)
        self.n_calls += 1
        self.n_points += y.size
        y0 = 0.5 * C * x ** 2
        r = (1.0 - y / y0) ** 2 if self.valley else 1.0 / (1.0 + y / y0) ** 2
        return S * (r - 1.0) ** 2 + 3.0


def band_top(x, t):
    y0 = 0.5 * C * np.asarray(x) ** 2
    return y0 * (1.0 + np.sqrt(1.0 + np.sqrt(t / S)))


def _scan(lik, refine=True):
    grid = ScanGrid(names=["m", "g"], axes=[X, Y])
    chi2 = evaluate_grid(lik, {"m": X, "g": Y})
    spec = SimpleNamespace(name="zp", dof=1, confidence_levels=[0.9], refine=refine, log=[True, True],
                           exclusion=True, exclusion_method="raster", y_transform=None)
    return analyse_scan(lik, spec, ScanData(grid=grid, chi2=chi2, argmin=np.zeros(chi2.shape, dtype=np.int64)))


def test_band_top_resolved_at_every_column_and_smooth():
    lik = Valley()
    calls0 = lik.n_calls
    result, _ = _scan(lik)
    t = delta_chi2_threshold(0.9, 1)
    curve = np.array(result["exclusion"]["0.9"]["y"], dtype=float)
    np.testing.assert_allclose(curve, band_top(X, t), rtol=1e-3)
    # smooth: log curve is a straight line of slope 2 in log x (no saw-tooth)
    slope = np.diff(np.log10(curve)) / np.diff(np.log10(X))
    assert np.max(np.abs(slope - 2.0)) < 1e-2
    bands = result["exclusion_bands"]["0.9"]
    assert len(bands["x"]) == X.size
    np.testing.assert_allclose(bands["hi"], band_top(bands["x"], t), rtol=1e-3)
    lo_exact = 0.5 * C * np.asarray(bands["x"]) ** 2 * (1.0 + np.sqrt(1.0 - np.sqrt(t / S)))
    np.testing.assert_allclose(bands["lo"], lo_exact, rtol=1e-3)
    assert lik.n_calls - calls0 < 80  # vectorised over columns: a few tens of calls, not per point


def test_grid_alone_gives_a_saw_tooth():
    """The old grid-only curve (what the refinement replaces) misses the band in most columns."""
    lik = Valley()
    chi2 = evaluate_grid(lik, {"m": X, "g": Y})
    t = delta_chi2_threshold(0.9, 1)
    old = exclusion_curve(X, Y, chi2 - chi2.min(axis=0), t, log_y=True)
    off = np.abs(np.log10(old / band_top(X, t))) > 0.5
    assert off.sum() > X.size // 2


def test_no_valley_curve_unchanged():
    lik = Valley(valley=False)
    result, _ = _scan(lik)
    chi2 = evaluate_grid(lik, {"m": X, "g": Y})
    t = delta_chi2_threshold(0.9, 1)
    old = exclusion_curve(X, Y, chi2 - chi2.min(axis=0), t, log_y=True)
    assert result["exclusion"]["0.9"]["y"] == [float(v) for v in old]
    assert result["exclusion_bands"]["0.9"] == {"x": [], "lo": [], "hi": []}


def test_refine_off_keeps_grid_curve():
    result, _ = _scan(Valley(), refine=False)
    assert "exclusion_bands" not in result
    t = delta_chi2_threshold(0.9, 1)
    curve = np.array(result["exclusion"]["0.9"]["y"], dtype=float)
    assert np.any(np.abs(np.log10(curve / band_top(X, t))) > 0.5)


def test_golden_section_and_bisection_vectorised():
    centres = np.array([0.3, -1.2, 2.5])
    u, fu = golden_section_min(lambda v: (v - centres) ** 2, centres - 1, centres + 2, 40)
    np.testing.assert_allclose(u, centres, atol=1e-6)
    assert np.all(fu < 1e-11)
    edge = bisect_crossing(lambda v: v ** 2 - 4.0, np.zeros(2), np.array([3.0, -3.0]), xtol=1e-12)
    np.testing.assert_allclose(edge, [2.0, -2.0], atol=1e-11)


def test_refined_dip_lowers_the_column_minimum():
    """A dip deeper than every grid point becomes the column minimum (raster reference)."""
    y = np.linspace(0.0, 10.0, 11)
    x = np.array([1.0])

    def chi2_at(xs, ys):
        return 10.0 + 5.0 * np.abs(ys - 6.3) - 9.0 * np.exp(-((ys - 6.3) / 0.05) ** 2)

    z = chi2_at(None, y)[:, None] + 0.0 * x
    z[0, 0] = 9.0  # grid minimum at the bottom
    ref = refine_raster_exclusion(chi2_at, x, y, z, 2.706)
    assert ref.column_min[0] == pytest.approx(1.0, abs=1e-4)
    assert len(ref.bands) == 1
    assert ref.curve[0] == pytest.approx(ref.bands[0][2])
    assert 6.3 < ref.curve[0] < 6.4


def test_coarse_grid_band_continued_from_neighbour_columns():
    """On a 0.5 dex grid some columns have no grid dip at all (no grid point between the rate zero and the
    flip); their band is found from the neighbouring columns' bands."""
    x = np.logspace(0.0, 2.0, 21)
    y = np.logspace(-12.0, -3.0, 19)
    lik = Valley()
    chi2 = evaluate_grid(lik, {"m": x, "g": y})
    inner = chi2[1:-1]
    has_dip = ((inner < chi2[:-2]) & (inner <= chi2[2:])).any(axis=0)
    assert not has_dip.all()  # the situation this test is about
    t = delta_chi2_threshold(0.9, 1)
    ref = refine_raster_exclusion(lambda xs, ys: lik.chi2({"m": xs, "g": ys}), x, y, chi2, t, log_y=True)
    np.testing.assert_allclose(ref.curve, band_top(x, t), rtol=1e-3)
