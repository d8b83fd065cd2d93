"""Tests of the analysis likelihood (cevns.stats.likelihood): single-bin, spectral, combined, Asimov, cost."""

import numpy as np
import pytest
from iminuit import Minuit
from scipy import optimize

from cevns.analysis import build_likelihood, load_analysis
from cevns.errors import ConfigError
from cevns.stats import binned

CSI = "coherent-csi-2017"


def _analysis(*experiments, fixed=None, name="test"):
    return {"name": name, "fixed": dict(fixed or {}), "experiments": list(experiments)}


@pytest.fixture(scope="module")
def single_bin():
    return build_likelihood(_analysis({"experiment": CSI, "likelihood": "single_bin_pulls"}))


@pytest.fixture(scope="module")
def stat_only():
    return build_likelihood(_analysis({"experiment": CSI, "likelihood": "single_bin_stat"}))


def test_single_bin_inputs_from_the_experiment(single_bin):
    # PHYSICS.md section 7: N_meas = 547 - 405 = 142 and B_ss = 405 in 6-30 PE, 0-6 us of the release
    term = single_bin.terms[0]
    assert term.n_meas == 142.0
    assert term.b_ss == 405.0
    exp = single_bin.experiments[0]
    assert term.b_on == pytest.approx(exp.backgrounds["prompt_neutrons"].sum())
    assert 3.0 < term.b_on < 9.0  # a few prompt-neutron events (6 in the seed)
    assert (term.sigma_alpha, term.sigma_beta) == (0.28, 0.25)
    assert len(single_bin.experiments) == 1 and single_bin.experiments[0].name == CSI


def test_single_bin_equals_iminuit_over_the_pulls(single_bin):
    """The closed-form profile of the likelihood equals a numerical minimisation of the bracket."""
    t = single_bin.terms[0]
    rng = np.random.default_rng(3)
    points = {"eps_ee_uV": rng.uniform(-0.5, 0.5, 6), "sin2_theta_w": rng.uniform(0.15, 0.35, 6)}
    chi2 = single_bin.chi2(points)
    n_th = single_bin.signals(points)[0]
    fit = single_bin.fit(points)
    var = t.n_meas + 2 * t.b_ss + t.b_on
    def make_bracket(n):
        def bracket(alpha, beta):
            return ((t.n_meas - n * (1 + alpha) - t.b_on * (1 + beta)) ** 2 / var
                    + (alpha / 0.28) ** 2 + (beta / 0.25) ** 2)
        return bracket

    for k in range(6):
        m = Minuit(make_bracket(n_th[k]), alpha=0.0, beta=0.0)
        m.errordef = 1
        m.strategy = 2
        m.migrad()
        assert m.valid
        assert chi2[k] == pytest.approx(m.fval, rel=1e-6, abs=1e-9)
        assert fit.nuisances["e0:alpha"][k] == pytest.approx(m.values["alpha"], rel=1e-4, abs=1e-6)
        assert fit.nuisances["e0:beta"][k] == pytest.approx(m.values["beta"], rel=1e-4, abs=1e-6)


def test_stat_only_by_hand(stat_only):
    t = stat_only.terms[0]
    n_th = float(stat_only.signals({})[0][0])
    expect = (t.n_meas - n_th - t.b_on) ** 2 / (t.n_meas + 2 * t.b_ss + t.b_on)
    assert stat_only.chi2({})[0] == pytest.approx(expect, rel=1e-12)


def test_pulls_lower_chi2_than_stat_only(single_bin, stat_only):
    p = {"eps_ee_uV": np.linspace(-1, 1, 21)}
    assert np.all(single_bin.chi2(p) <= stat_only.chi2(p) + 1e-12)


def test_chi2_shapes_and_fixed_parameters(single_bin):
    x, y = np.meshgrid(np.linspace(-0.5, 0.5, 4), np.linspace(-0.2, 0.2, 3))
    c = single_bin.chi2({"eps_ee_uV": x, "eps_ee_dV": y})
    assert c.shape == (3, 4)
    flat = single_bin.chi2({"eps_ee_uV": x.ravel(), "eps_ee_dV": y.ravel()})
    np.testing.assert_allclose(c.ravel(), flat, rtol=1e-14)
    assert single_bin.chi2({}).shape == (1,)
    # the analysis' [fixed] enter every point; params override them
    lik = build_likelihood(_analysis({"experiment": CSI}, fixed={"sin2_theta_w": 0.25}))
    assert lik.chi2({})[0] == pytest.approx(single_bin.chi2({"sin2_theta_w": 0.25})[0], rel=1e-12)
    assert lik.chi2({"sin2_theta_w": 0.2312})[0] == pytest.approx(single_bin.chi2({})[0], rel=1e-12)


@pytest.mark.parametrize("kind", ["single_bin_pulls", "poisson", "gaussian"])
def test_asimov_best_fit_at_the_generating_point(kind):
    lik = build_likelihood(_analysis({"experiment": CSI, "likelihood": kind, "data": "asimov",
                                      "asimov_parameters": {"eps_ee_uV": 0.1}}))
    x = np.linspace(-0.2, 0.3, 51)  # contains 0.1 (the other degenerate root is near 0.29 + ...)
    c = lik.chi2({"eps_ee_uV": x})
    assert c.min() == pytest.approx(0.0, abs=1e-9)
    assert x[np.argmin(c)] == pytest.approx(0.1, abs=1e-12)
    assert lik.chi2({"eps_ee_uV": 0.1})[0] == pytest.approx(0.0, abs=1e-9)
    assert lik.chi2({"eps_ee_uV": 0.0})[0] > 0.01


def test_data_scale_single_bin_by_hand():
    lik = build_likelihood(_analysis({"experiment": CSI, "data": "asimov", "data_scale": 1.3}))
    t = lik.terms[0]
    n_sm = float(lik.signals({})[0][0])
    assert t.n_meas == pytest.approx(1.3 * n_sm + t.b_on, rel=1e-12)
    d = t.n_meas + 2 * t.b_ss + t.b_on + (0.28 * n_sm) ** 2 + (0.25 * t.b_on) ** 2
    assert lik.chi2({})[0] == pytest.approx((0.3 * n_sm) ** 2 / d, rel=1e-10)


def test_spectral_gaussian_equals_direct_minimisation():
    """Gaussian spectral term with the experiment's two nuisances, checked against scipy."""
    lik = build_likelihood(_analysis({"experiment": CSI, "likelihood": "gaussian"}))
    exp = lik.experiments[0]
    p = {"eps_ee_uV": 0.05}
    sig = lik.signals(p)[0][0]
    n = exp.observed
    ss = exp.sideband
    bon = exp.backgrounds["prompt_neutrons"]
    var = n + 2 * ss

    def f(th):
        mu = sig * (1 + th[0]) + bon * (1 + th[1])
        return np.sum((n - mu) ** 2 / var) + (th[0] / 0.28) ** 2 + (th[1] / 0.25) ** 2

    res = optimize.minimize(f, [0.0, 0.0], method="BFGS", options={"gtol": 1e-10})
    assert lik.chi2(p)[0] == pytest.approx(res.fun, rel=1e-7)


def test_shared_nuisance_combination():
    """Two experiments with one same-named nuisance: one shared parameter (checked by scipy)."""
    common = {"experiment": CSI, "likelihood": "gaussian", "data": "asimov", "use_experiment_systematics": False,
              "variance": "expected"}
    a = dict(common, data_scale=1.25, label="A", systematics=[{"name": "flux", "sigma": 0.1}])
    b = dict(common, data_scale=0.9, label="B", systematics=[{"name": "flux", "sigma": 0.1}])
    shared = build_likelihood(_analysis(a, b))
    sig = shared.signals({})
    t = shared.terms
    bk = [sum(tt.backgrounds.values()) for tt in t]
    var = [sig[i][0] + bk[i] + t[i].sideband for i in range(2)]

    def f(th):
        return sum(np.sum((t[i].observed - sig[i][0] * (1 + th[0]) - bk[i]) ** 2 / var[i]) for i in range(2)) \
            + (th[0] / 0.1) ** 2

    res = optimize.minimize(f, [0.0], method="BFGS", options={"gtol": 1e-10})
    assert shared.chi2({})[0] == pytest.approx(res.fun, rel=1e-7)
    # with distinct names the terms are independent: the chi2 is the sum of the single fits
    b2 = dict(b, systematics=[{"name": "flux_b", "sigma": 0.1}])
    indep = build_likelihood(_analysis(a, b2)).chi2({})[0]
    single = build_likelihood(_analysis(a)).chi2({})[0] + build_likelihood(_analysis(b2)).chi2({})[0]
    assert indep == pytest.approx(single, rel=1e-10)
    assert shared.chi2({})[0] > indep + 1e-3  # opposite pulls cannot both be absorbed by one parameter
    assert set(shared.nuisance_table()) == {"flux"}


def test_shared_nuisance_with_different_sigmas_is_an_error():
    a = {"experiment": CSI, "likelihood": "poisson", "systematics": [{"name": "flux", "sigma": 0.1}]}
    b = {"experiment": CSI, "likelihood": "poisson", "systematics": [{"name": "flux", "sigma": 0.2}]}
    with pytest.raises(ConfigError, match=r"experiments\[1\].*shared nuisance 'flux'"):
        load_analysis(_analysis(a, b))


def test_unknown_component_is_an_error():
    a = {"experiment": CSI, "likelihood": "poisson", "systematics": [{"name": "x", "sigma": 0.1,
                                                                       "applies_to": ["nope"]}]}
    with pytest.raises(ConfigError, match=r"experiments\[0\]\.systematics\[0\]\.applies_to.*'nope'"):
        load_analysis(_analysis(a))


def test_cost_with_minuit_finds_the_single_bin_best_fit(single_bin):
    """migrad on the iminuit cost finds sin^2(theta_W) where N_th = N_meas - B_on (chi2 = 0)."""
    t = single_bin.terms[0]
    eng = single_bin.experiments[0].engine
    root = optimize.brentq(lambda s: eng.total({"sin2_theta_w": s})[0] - (t.n_meas - t.b_on), 0.15, 0.35)
    cost = single_bin.cost(["sin2_theta_w"], limits={"sin2_theta_w": (0.1, 0.4)})
    assert cost.errordef == 1
    m = Minuit(cost, sin2_theta_w=0.2312)
    m.migrad()
    assert m.valid
    assert m.values["sin2_theta_w"] == pytest.approx(root, abs=2e-4)
    assert m.fval == pytest.approx(0.0, abs=1e-6)
    assert m.errors["sin2_theta_w"] > 0
    # fixed parameters of the cost
    c2 = single_bin.cost(["eps_ee_uV"], fixed={"eps_ee_dV": 0.1})
    assert c2(0.2) == pytest.approx(single_bin.chi2({"eps_ee_uV": 0.2, "eps_ee_dV": 0.1})[0], rel=1e-12)


def test_shape_parameters_as_arrays(single_bin):
    """Array-valued sterile mixing goes through the engine's general path, point by point equal."""
    u = np.array([0.0, 0.1, 0.2])
    c = single_bin.chi2({"u_mu4_sq": u, "dm41_sq": 10.0})
    one = [single_bin.chi2({"u_mu4_sq": float(v), "dm41_sq": 10.0})[0] for v in u]
    np.testing.assert_allclose(c, one, rtol=1e-10)


def _reactor_toml(path, material, mass_kg, k_lindhard, bins, distance_m):
    path.write_text(f'''
schema_version = 1
name = "toy-{material.lower()}"
title = "toy reactor experiment ({material})"
n_t = 120
[source]
kind = "reactor"
thermal_power_gw = 3.9
distance_m = {distance_m}
n_energy = 201
[detector]
material = "{material}"
mass_kg = {mass_kg}
exposure_days = 365.0
observable = "kevee"
quenching = {{ model = "lindhard", k = {k_lindhard} }}
bins = {{ start = {bins[0]}, stop = {bins[1]}, width = {bins[2]} }}
[data]
[[data.backgrounds]]
name = "flat"
kind = "flat"
counts_per_kg_day_per_unit = 1.0
apply_efficiency = false
[[systematics]]
name = "reactor_flux"
sigma = 0.04
[[systematics]]
name = "bkg_norm_{material.lower()}"
sigma = 0.1
applies_to = ["flat"]
[statistics]
spectral = "poisson"
''')
    return path


def test_reactor_like_poisson_combination_with_shared_flux(tmp_path):
    """CONUS+CONNIE-like: Ge and Si reactor experiments, Poisson, a shared 4% flux normalisation."""
    ge = _reactor_toml(tmp_path / "ge.toml", "Ge", 4.0, 0.16, (0.2, 0.6, 0.1), 17.1)
    si = _reactor_toml(tmp_path / "si.toml", "Si", 0.1, 0.16, (0.05, 0.25, 0.05), 30.0)
    ana = {"name": "reactor", "experiments": [
        {"experiment": "ge.toml", "data": "asimov", "data_scale": 1.15},
        {"experiment": "si.toml", "data": "asimov", "data_scale": 1.05}]}
    lik = build_likelihood(load_analysis(ana, base_dir=tmp_path))
    assert [t.kind for t in lik.terms] == ["poisson", "poisson"]
    assert set(lik.nuisance_table()) == {"reactor_flux", "bkg_norm_ge", "bkg_norm_si"}
    sig = [s[0] for s in lik.signals({})]
    obs = [t.observed for t in lik.terms]
    bkg = [t.backgrounds["flat"] for t in lik.terms]

    def bc(n, mu):
        return 2 * np.sum(mu - n + n * np.log(n / mu))

    def f(th):
        return (bc(obs[0], sig[0] * (1 + th[0]) + bkg[0] * (1 + th[1]))
                + bc(obs[1], sig[1] * (1 + th[0]) + bkg[1] * (1 + th[2]))
                + (th[0] / 0.04) ** 2 + (th[1] / 0.1) ** 2 + (th[2] / 0.1) ** 2)

    m = Minuit(f, [0.0, 0.0, 0.0])
    m.errordef = 1
    m.strategy = 2
    m.migrad()
    assert m.valid
    assert lik.chi2({})[0] == pytest.approx(m.fval, rel=1e-5)
    # the SM point is disfavoured but the generating point (scaled data) is not reachable by physics
    assert lik.chi2({})[0] > 0.1


def test_gaussian_constraint_adds_its_prior():
    base = {"name": "t", "experiments": [{"experiment": CSI}]}
    plain = build_likelihood(base)
    con = build_likelihood({**base, "constraints": [{"parameter": "sin2_theta_w", "mean": 0.2312, "sigma": 0.002}]})
    x = np.array([0.2312, 0.2352, 0.22])
    np.testing.assert_allclose(con.chi2({"sin2_theta_w": x}) - plain.chi2({"sin2_theta_w": x}),
                               ((x - 0.2312) / 0.002) ** 2, rtol=1e-12, atol=1e-12)
    # not given: the parameter's default is used
    assert con.chi2({})[0] == pytest.approx(plain.chi2({})[0] + ((0.2312 - 0.2312) / 0.002) ** 2 + 0.0, abs=1e-6)
    with pytest.raises(ConfigError, match=r"constraints\[0\]\.parameter: .*fixed in \[fixed\]"):
        load_analysis({**base, "fixed": {"sin2_theta_w": 0.23},
                       "constraints": [{"parameter": "sin2_theta_w", "mean": 0.2312, "sigma": 0.002}]})


def test_one_bin_poisson_fit_of_csi_reproduces_the_single_bin_chi2():
    """COHERENT CsI 2017 rebinned to ONE bin: the Poisson fit with the anti-coincidence counts as the off
    window gives the single-bin chi2 with its N_meas + 2 B_ss (+ B_on) variance, to ~1% where chi2 < 10.
    With the steady-state background treated as exactly known (the old binned likelihood) the chi2
    would be ~1.75 times larger (variance N_meas + B_ss)."""
    ov = {"detector": {"bins": {"start": 6.0, "stop": 30.0, "width": 24.0}}}
    pois = build_likelihood(_analysis({"experiment": CSI, "likelihood": "poisson", "use_experiment_systematics": False,
                                       "overrides": ov}))
    single = build_likelihood(_analysis({"experiment": CSI, "likelihood": "single_bin_stat", "overrides": ov}))
    x = np.linspace(-0.5, 1.0, 31)
    a, b = pois.chi2({"eps_ee_uV": x}), single.chi2({"eps_ee_uV": x})
    near = b < 10
    assert near.sum() >= 8
    np.testing.assert_allclose(a[near], b[near], rtol=0.03, atol=0.01)
    term = pois.terms[0]
    known = binned.BinnedDataset("k", observed=term.observed, statistic="poisson",
                                 backgrounds={**term.backgrounds, "steady_state": term.sideband})
    sig = pois.signals({"eps_ee_uV": x})[0]
    old = binned.combined_chi2([known], {"k": sig}).chi2
    assert np.all(old[near & (b > 1)] / b[near & (b > 1)] > 1.5)
