"""Tests of intervals, contours and exclusion curves from Delta chi^2 scans."""

import numpy as np
import pytest

from cevns.stats.intervals import (
    Interval,
    contours_2d,
    delta_chi2_threshold,
    exclusion_curve,
    intervals_1d,
    intervals_1d_detailed,
    profile_1d_from_grid,
    refine_interval_roots,
    region_extent,
)


def test_thresholds_known_values():
    # standard values (PDG review "Statistics", table of Delta chi^2 for coverage)
    assert delta_chi2_threshold(0.90, 1) == pytest.approx(2.705543, abs=1e-6)
    assert delta_chi2_threshold(0.6827, 2) == pytest.approx(2.2957, abs=1e-3)
    assert delta_chi2_threshold(0.90, 2) == pytest.approx(-2 * np.log(0.1), rel=1e-12)  # 2 dof: -2 ln(1-CL)
    assert delta_chi2_threshold(0.6827, 1) == pytest.approx(1.0, abs=1e-3)


@pytest.mark.parametrize("cl", [0.0, 1.0, 1.5, -0.1, np.nan])
def test_threshold_bad_cl(cl):
    with pytest.raises(ValueError, match="confidence level must be in"):
        delta_chi2_threshold(cl, 1)


def test_parabola_interval():
    x = np.linspace(-1, 3, 401)
    h = x[1] - x[0]
    d = ((x - 1) / 0.5) ** 2
    for t in (1.0, 2.71, 4.0):
        (iv,) = intervals_1d(x, d, t)
        exact = [1 - 0.5 * np.sqrt(t), 1 + 0.5 * np.sqrt(t)]
        # linear interpolation of a parabola: error <= h^2 * curvature / 8
        np.testing.assert_allclose(iv, exact, atol=h**2 * 4 / 8 * 1.01 + 1e-12)
    (det,) = intervals_1d_detailed(x, d, 1.0)
    assert not det.lo_open and not det.hi_open


def test_interval_at_scan_edge_is_flagged():
    x = np.linspace(0, 2, 201)
    d = ((x - 0.2) / 0.5) ** 2
    (iv,) = intervals_1d_detailed(x, d, 1.0)
    assert iv.lo == 0.0 and iv.lo_open
    assert iv.hi == pytest.approx(0.7, abs=1e-4) and not iv.hi_open
    assert intervals_1d(x, d, -1.0) == []
    assert intervals_1d(x, np.zeros_like(x), 1.0) == [[0.0, 2.0]]


def test_double_well_two_intervals():
    x = np.linspace(-2, 2, 801)
    d = ((x**2 - 1) / 0.5) ** 2
    t = 2.71
    ivs = intervals_1d(x, d, t)
    assert len(ivs) == 2
    a, b = np.sqrt(1 - 0.5 * np.sqrt(t)), np.sqrt(1 + 0.5 * np.sqrt(t))
    np.testing.assert_allclose(ivs, [[-b, -a], [a, b]], atol=2e-4)


def test_refine_roots_with_brentq():
    f = lambda x: ((x**2 - 1) / 0.5) ** 2  # noqa: E731
    x = np.linspace(-2, 2, 41)  # coarse grid
    t = 2.71
    coarse = intervals_1d_detailed(x, f(x), t)
    fine = refine_interval_roots(f, coarse, t)
    a, b = np.sqrt(1 - 0.5 * np.sqrt(t)), np.sqrt(1 + 0.5 * np.sqrt(t))
    np.testing.assert_allclose(fine, [[-b, -a], [a, b]], atol=1e-10)
    assert np.max(np.abs(np.array([[iv.lo, iv.hi] for iv in coarse]) - fine)) > 1e-4  # grid was coarse
    # an end at the scan boundary is not moved
    g = lambda x: ((x - 0.1) / 0.5) ** 2  # noqa: E731
    xg = np.linspace(0, 2, 21)
    (ref,) = refine_interval_roots(g, intervals_1d(xg, g(xg), 1.0), 1.0, scan_range=(0, 2))
    assert ref[0] == 0.0 and ref[1] == pytest.approx(0.6, abs=1e-10)


def test_infinite_values_are_excluded():
    x = np.arange(6.0)
    d = np.array([np.inf, 0.5, 0.2, 3.0, np.inf, 0.0])
    assert intervals_1d(x, d, 1.0) == [[1.0, pytest.approx(2 + 0.8 / 2.8)], [5.0, 5.0]]
    with pytest.raises(ValueError):
        intervals_1d(x, np.full(6, np.nan), 1.0)
    with pytest.raises(ValueError):
        intervals_1d(x[::-1], d, 1.0)


def _ellipse_grid(n=301):
    mx, my, sx, sy, rho = 1.0, -2.0, 0.5, 0.2, 0.6
    x = np.linspace(mx - 5 * sx, mx + 5 * sx, n)
    y = np.linspace(my - 5 * sy, my + 5 * sy, n + 20)
    xx, yy = np.meshgrid(x, y)  # [iy, ix]
    u, v = (xx - mx) / sx, (yy - my) / sy
    z = (u**2 - 2 * rho * u * v + v**2) / (1 - rho**2)
    return x, y, z, (mx, my, sx, sy)


def test_ellipse_contour_extent_is_analytic():
    x, y, z, (mx, my, sx, sy) = _ellipse_grid()
    t = delta_chi2_threshold(0.9, 2)
    lines = contours_2d(x, y, z, t)
    assert len(lines) == 1 and lines[0].shape[1] == 2
    np.testing.assert_allclose(lines[0][0], lines[0][-1])  # closed
    (x0, x1), (y0, y1) = region_extent(lines)
    # the projection of {chi2 <= t} of a 2D Gaussian onto one axis is mean +- sigma sqrt(t)
    assert [x0, x1] == pytest.approx([mx - sx * np.sqrt(t), mx + sx * np.sqrt(t)], abs=2e-3 * sx)
    assert [y0, y1] == pytest.approx([my - sy * np.sqrt(t), my + sy * np.sqrt(t)], abs=2e-3 * sy)


def test_extent_equals_profile_interval():
    x, y, z, _ = _ellipse_grid()
    t = 4.61
    (x0, x1), (y0, y1) = region_extent(contours_2d(x, y, z, t))
    px = profile_1d_from_grid(z, "x")
    py = profile_1d_from_grid(z, 0)
    assert px.shape == x.shape and py.shape == y.shape
    (ix,) = intervals_1d(x, px - px.min(), t)
    (iy,) = intervals_1d(y, py - py.min(), t)
    assert ix == pytest.approx([x0, x1], abs=2e-3 * 0.5)
    assert iy == pytest.approx([y0, y1], abs=2e-3 * 0.2)


def test_profile_axis_convention():
    z = np.array([[3.0, 1.0, 4.0], [1.0, 5.0, 9.0]])  # [iy, ix]: 2 y values, 3 x values
    np.testing.assert_array_equal(profile_1d_from_grid(z, "x"), [1.0, 1.0, 4.0])
    np.testing.assert_array_equal(profile_1d_from_grid(z, 1), [1.0, 1.0, 4.0])
    np.testing.assert_array_equal(profile_1d_from_grid(z, "y"), [1.0, 1.0])
    with pytest.raises(ValueError):
        profile_1d_from_grid(z, "z")


def test_contours_with_infinite_values_and_bad_shape():
    x, y, z, _ = _ellipse_grid(101)
    z = z.copy()
    z[z > 50] = np.inf
    (x0, x1), _ = region_extent(contours_2d(x, y, z, 4.61))
    assert [x0, x1] == pytest.approx([1 - 0.5 * np.sqrt(4.61), 1 + 0.5 * np.sqrt(4.61)], abs=5e-3)
    with pytest.raises(ValueError, match="shape"):
        contours_2d(x, y, z.T, 1.0)
    with pytest.raises(ValueError):
        region_extent([])


def test_exclusion_curve_known_function():
    # dchi2 = (y / y0(x))^2 excludes y > y0(x) sqrt(t)
    x = np.linspace(0, 3, 7)
    y0 = 0.01 * (1 + x)
    y = np.logspace(-4, -0.5, 400)
    z = (y[:, None] / y0[None, :]) ** 2
    t = 2.71
    lim = exclusion_curve(x, y, z, t, log_y=True)
    h = np.log(y[1] / y[0])
    np.testing.assert_allclose(lim, y0 * np.sqrt(t), rtol=h**2)  # O(h^2) in log-space interpolation
    lim_lin = exclusion_curve(x, y, z, t)
    np.testing.assert_allclose(lim_lin, y0 * np.sqrt(t), rtol=5 * h**2)
    # nothing excluded -> NaN; everything excluded -> lowest y
    z2 = z.copy()
    z2[:, 0] = 0.0
    z2[:, 1] = 100.0
    lim2 = exclusion_curve(x, y, z2, t)
    assert np.isnan(lim2[0]) and lim2[1] == y[0]


def test_exclusion_curve_above_last_allowed_point():
    # a non-monotonic column: allowed again at larger y -> limit above the last allowed point
    y = np.linspace(0, 10, 11)
    col = np.array([0, 0, 5, 5, 0, 0, 1, 3, 5, 7, 9], dtype=float)
    lim = exclusion_curve([0.0], y, col[:, None], 2.0)
    assert lim[0] == pytest.approx(6.5)


def test_interval_type():
    iv = intervals_1d_detailed([0.0, 1.0, 2.0], [5.0, 0.0, 5.0], 1.0)[0]
    assert isinstance(iv, Interval) and iv.lo == pytest.approx(0.8) and iv.hi == pytest.approx(1.2)
