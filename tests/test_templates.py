"""Histosys interpolation (cevns.stats.templates) and the template likelihood (cevns.stats.binned_templates)."""

import numpy as np
import pytest
from scipy.optimize import minimize_scalar

from cevns.errors import CevnsError
from cevns.stats.binned_templates import OnOffBackground, TemplateComponent, TemplateLikelihood
from cevns.stats.templates import interpolate, mirror

H0 = np.array([10.0, 20.0, 5.0, 0.0])
UP = np.array([[12.0, 18.0, 6.0, 1.0], [10.0, 25.0, 4.0, 0.0]])
DN = np.array([[9.0, 21.0, 3.0, 0.0], [10.0, 16.0, 5.5, 0.0]])


@pytest.mark.parametrize("method", ["linear", "exponential"])
def test_interpolation_hits_the_variations(method):
    np.testing.assert_allclose(interpolate(H0, UP, DN, [0.0, 0.0], method), H0)
    np.testing.assert_allclose(interpolate(H0, UP, DN, [1.0, 0.0], method), UP[0])
    np.testing.assert_allclose(interpolate(H0, UP, DN, [0.0, -1.0], method), DN[1])


def test_closed_forms_and_vectorisation():
    th = np.array([[0.5, -0.3], [-2.0, 1.5], [0.0, 0.2]])
    lin = interpolate(H0, UP, DN, th, "linear")
    for i, (a, b) in enumerate(th):
        want = H0 + (a * (UP[0] - H0) if a >= 0 else a * (H0 - DN[0])) + (b * (UP[1] - H0) if b >= 0 else b * (H0 - DN[1]))
        np.testing.assert_allclose(lin[i], np.clip(want, 0, None))
    ex = interpolate(H0, UP, DN, th, "exponential")
    # bin 1: both variations positive -> product of powers
    a, b = th[0]
    want = 20.0 * (18.0 / 20.0) ** a * (16.0 / 20.0) ** (-b)
    assert ex[0, 1] == pytest.approx(want)
    assert np.all(ex >= 0)
    np.testing.assert_allclose(mirror(H0, UP[0]), np.clip(2 * H0 - UP[0], 0, None))


def test_bad_template_input():
    with pytest.raises(CevnsError, match="method"):
        interpolate(H0, UP, DN, [0, 0], "cubic")
    with pytest.raises(CevnsError, match="nuisance values"):
        interpolate(H0, UP, DN, [0, 0, 0])
    with pytest.raises(CevnsError, match="do not match"):
        interpolate(H0, UP[:, :3], DN, [0, 0])


def test_onoff_profile_is_the_minimum():
    rng = np.random.default_rng(3)
    n, m = rng.poisson(30, 6).astype(float), rng.poisson(25, 6).astype(float)
    m[0] = 0.0
    sig = np.full(6, 4.0)
    L = TemplateLikelihood(n, [TemplateComponent("sig", sig)], onoff=OnOffBackground(m, 0.05))
    for r in (0.9, 1.0, 1.2):
        k = L.onoff_profile(sig[None, :], np.array([r]))[0]
        for b in range(6):
            f = lambda x: 2 * ((sig[b] + r * x) - n[b] * np.log(sig[b] + r * x)) + 2 * (x - (m[b] * np.log(x) if m[b] else 0))  # noqa: E731
            best = minimize_scalar(f, bounds=(1e-9, 200), method="bounded", options={"xatol": 1e-10}).x
            assert k[b] == pytest.approx(best, abs=1e-5)


def test_fit_recovers_asimov_truth_and_errors():
    sig = np.array([5.0, 20.0, 40.0, 20.0, 5.0])
    bkg = np.full(5, 30.0)
    up = bkg * np.linspace(0.8, 1.2, 5)
    truth = 1.3 * sig + bkg
    L = TemplateLikelihood(truth, [TemplateComponent("sig", sig), TemplateComponent("bkg", bkg, 0.1, {"tilt": (up, None)})])
    f = L.fit(minos=["s_sig"])
    assert f["valid"]
    assert f["values"]["s_sig"] == pytest.approx(1.3, abs=1e-3)
    assert f["values"]["tilt"] == pytest.approx(0.0, abs=1e-3)
    assert f["events"]["sig"] == pytest.approx(1.3 * sig.sum(), rel=1e-3)
    # Delta chi2 = 1 at the MINOS edges
    lo, hi = f["errors"]["s_sig"]
    for s in (1.3 - lo, 1.3 + hi):
        assert L.fit(fixed={"s_sig": s})["chi2"] - f["chi2"] == pytest.approx(1.0, abs=6e-3)
    assert L.significance("sig", f) > 3
    with pytest.raises(CevnsError, match="unknown"):
        L.fit(fixed={"s_nope": 1.0})
    with pytest.raises(CevnsError, match="unknown component"):
        L.significance("nope")


def test_pooled_onoff_profile_is_the_minimum():
    rng = np.random.default_rng(5)
    n_groups, per = 3, 4
    w = np.tile([0.4, 0.3, 0.2, 0.1], n_groups)
    groups = np.repeat(np.arange(n_groups), per)
    m = np.array([80.0, 0.0, 25.0])
    n = rng.poisson(20, n_groups * per).astype(float)
    sig = rng.uniform(0.5, 5.0, n_groups * per)
    L = TemplateLikelihood(n, [TemplateComponent("sig", sig)], onoff=OnOffBackground(m, 0.05, groups, w))
    r = 1.1
    k = L.onoff_profile(sig[None, :], np.array([r]))[0]
    for g in range(n_groups):
        sel = groups == g

        def f(x):
            mu = sig[sel] + r * x * w[sel]
            return 2 * np.sum(mu - n[sel] * np.log(mu)) + 2 * (x - (m[g] * np.log(x) if m[g] else 0.0))

        best = minimize_scalar(f, bounds=(1e-9, 500), method="bounded", options={"xatol": 1e-10}).x
        assert k[g] == pytest.approx(best, abs=1e-4)
    with pytest.raises(CevnsError, match="groups/weights"):
        TemplateLikelihood(n, [TemplateComponent("sig", sig)], onoff=OnOffBackground(m, 0.05, groups[:-1], w[:-1]))
