"""Tests of the binned chi^2 with linear normalisation nuisances."""

import warnings

import numpy as np
import pytest
from iminuit import Minuit
from scipy import stats

from cevns.stats.binned import (
    BinnedDataset,
    Nuisance,
    asimov,
    combined_chi2,
    gaussian_chi2,
    poisson_chi2,
    profile_linear_gaussian,
    profile_linear_poisson,
    scaled_data,
)


def _minuit(fcn, n_par, fixed=()):
    names = tuple(f"t{i}" for i in range(n_par))
    m = Minuit(fcn, np.zeros(n_par), name=names)
    m.errordef = Minuit.LEAST_SQUARES
    m.strategy = 2
    m.tol = 1e-7
    for i in fixed:
        m.fixed[i] = True
    m.migrad()
    assert m.valid
    return m


def _random_problem(rng, n_points=6, n_comp=3, n_bins=7, low=2.0, high=60.0):
    tpl = rng.uniform(low, high, (n_points, n_comp, n_bins))
    truth = tpl[0].sum(axis=0) * rng.uniform(0.8, 1.25, n_bins)
    observed = rng.poisson(truth).astype(float)
    return observed, tpl


# ------------------------------------------------------------------------------------------------
def test_gaussian_chi2_by_hand():
    assert gaussian_chi2([10, 20], [12, 17], [4, 9]) == pytest.approx(4 / 4 + 9 / 9)
    out = gaussian_chi2(np.array([1.0, 2.0]), np.array([[1.0, 2.0], [2.0, 2.0]]), 1.0)
    np.testing.assert_allclose(out, [0.0, 1.0])
    with pytest.raises(ValueError):
        gaussian_chi2([1.0], [1.0], [0.0])


def test_poisson_chi2_is_likelihood_ratio():
    rng = np.random.default_rng(3)
    n = rng.poisson(5.0, 30).astype(float)
    n[:4] = 0.0
    mu = rng.uniform(0.5, 12.0, 30)
    ref = 2 * np.sum(stats.poisson.logpmf(n, n) - stats.poisson.logpmf(n, mu))
    assert poisson_chi2(n, mu) == pytest.approx(ref, rel=1e-12)
    # n = 0 term equals 2 mu; zero expectation with counts is infinite
    assert poisson_chi2([0.0, 0.0], [1.5, 0.0]) == pytest.approx(3.0)
    assert poisson_chi2([1.0], [0.0]) == np.inf
    with pytest.raises(ValueError):
        poisson_chi2([1.0], [-1.0])


def test_profile_gaussian_matches_iminuit():
    rng = np.random.default_rng(11)
    observed, tpl = _random_problem(rng)
    sigmas = [0.1, None, 0.0]
    var = observed + 1.0
    chi2, theta = profile_linear_gaussian(observed, tpl, sigmas, var)
    assert chi2.shape == (6,) and theta.shape == (6, 3)
    for p in range(tpl.shape[0]):
        def fcn(t):
            mu = np.sum((1 + t[:, None]) * tpl[p], axis=0)
            return np.sum((observed - mu) ** 2 / var) + (t[0] / 0.1) ** 2

        m = _minuit(fcn, 3, fixed=(2,))
        assert chi2[p] == pytest.approx(m.fval, rel=1e-6)
        np.testing.assert_allclose(theta[p], m.values, atol=1e-5)
        assert theta[p, 2] == 0.0


def test_profile_gaussian_matches_lstsq_on_augmented_system():
    # independent route: ordinary least squares with the priors as extra pseudo-measurements
    rng = np.random.default_rng(5)
    observed, tpl = _random_problem(rng, n_points=4, n_comp=2, n_bins=9)
    var = rng.uniform(5, 50, 9)
    sig = np.array([0.05, 0.3])
    chi2, theta = profile_linear_gaussian(observed, tpl, sig, var)
    for p in range(4):
        a = np.vstack([(tpl[p] / np.sqrt(var)).T, np.diag(1 / sig)])
        b = np.concatenate([(observed - tpl[p].sum(0)) / np.sqrt(var), np.zeros(2)])
        sol, res, *_ = np.linalg.lstsq(a, b, rcond=None)
        np.testing.assert_allclose(theta[p], sol, rtol=1e-9)
        assert chi2[p] == pytest.approx(res[0], rel=1e-9)


def test_profile_poisson_matches_iminuit():
    rng = np.random.default_rng(2024)
    observed, tpl = _random_problem(rng, n_points=8, n_bins=6, low=0.5, high=20.0)
    observed[1] = 0.0  # an empty bin
    sigmas = [0.2, None, 0.05]
    chi2, theta = profile_linear_poisson(observed, tpl, sigmas)
    for p in range(tpl.shape[0]):
        def fcn(t):
            mu = np.sum((1 + t[:, None]) * tpl[p], axis=0)
            if np.any(mu <= 0):
                return 1e30
            return poisson_chi2(observed, mu) + (t[0] / 0.2) ** 2 + (t[2] / 0.05) ** 2

        m = _minuit(fcn, 3)
        assert chi2[p] == pytest.approx(m.fval, rel=1e-6, abs=1e-6)
        np.testing.assert_allclose(theta[p], m.values, atol=2e-4)
        assert chi2[p] <= m.fval + 1e-8


def test_poisson_free_normalisation_is_analytic_mle():
    # one free component: the Poisson MLE of the scale is sum(n)/sum(T)
    rng = np.random.default_rng(1)
    tpl = rng.uniform(1, 30, (5, 1, 12))
    observed = rng.poisson(20, 12).astype(float)
    chi2, theta = profile_linear_poisson(observed, tpl, [None])
    np.testing.assert_allclose(1 + theta[:, 0], observed.sum() / tpl[:, 0].sum(axis=1), rtol=1e-9)
    mu_hat = (1 + theta[:, :1]) * tpl[:, 0]
    np.testing.assert_allclose(chi2, poisson_chi2(observed, mu_hat), rtol=1e-10)


def test_poisson_boundary_of_empty_bins():
    # a free background only present where nothing is observed is pushed to zero: chi2 -> 0
    tpl = np.array([[[5.0, 0.0], [0.0, 3.0]]])
    observed = np.array([5.0, 0.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        chi2, theta = profile_linear_poisson(observed, tpl, [0.0, None])
    assert chi2[0] == pytest.approx(0.0, abs=1e-7)
    assert theta[0, 1] == pytest.approx(-1.0, abs=1e-6)


def test_asimov_gives_zero_at_truth():
    rng = np.random.default_rng(8)
    tpl = rng.uniform(1, 40, (3, 3, 10))
    data = asimov(tpl[1].sum(axis=0))
    chi2_p, theta_p = profile_linear_poisson(data, tpl, [0.1, 0.2, None])
    chi2_g, theta_g = profile_linear_gaussian(data, tpl, [0.1, 0.2, None], "expected")
    assert chi2_p[1] == pytest.approx(0.0, abs=1e-9)
    assert chi2_g[1] == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(theta_p[1], 0.0, atol=1e-5)
    assert np.all(chi2_p[[0, 2]] > 1.0)


def test_sigma_to_zero_equals_no_nuisance():
    rng = np.random.default_rng(4)
    observed, tpl = _random_problem(rng, n_points=5, n_comp=2)
    plain_p = poisson_chi2(observed, tpl.sum(axis=1))
    plain_g = gaussian_chi2(observed, tpl.sum(axis=1), observed + 1)
    np.testing.assert_allclose(profile_linear_poisson(observed, tpl, [0, 0])[0], plain_p, rtol=1e-14)
    np.testing.assert_allclose(profile_linear_gaussian(observed, tpl, [0, 0], observed + 1)[0], plain_g, rtol=1e-14)
    chi2_small = profile_linear_poisson(observed, tpl, [1e-6, 1e-6])[0]
    np.testing.assert_allclose(chi2_small, plain_p, rtol=1e-5)
    assert np.all(chi2_small <= plain_p)


# ------------------------------------------------------------------------------------------------
def test_combined_single_dataset_equals_profile_functions():
    rng = np.random.default_rng(6)
    observed, tpl = _random_problem(rng, n_points=4, n_comp=3)
    nuis = [Nuisance("a", 0.1, ["signal"]), Nuisance("b", None, ["bkg1"]), Nuisance("c", 0.3, ["bkg2"])]
    for stat in ("poisson", "gaussian"):
        ds = BinnedDataset("d", observed, {"bkg1": tpl[:, 1], "bkg2": tpl[:, 2]}, statistic=stat,
                           variance="observed" if stat == "gaussian" else None, nuisances=nuis)
        fit = combined_chi2([ds], {"d": tpl[:, 0]})
        if stat == "poisson":
            ref_chi2, ref_theta = profile_linear_poisson(observed, tpl, [0.1, None, 0.3])
        else:
            ref_chi2, ref_theta = profile_linear_gaussian(observed, tpl, [0.1, None, 0.3], "observed")
        np.testing.assert_allclose(fit.chi2, ref_chi2, rtol=1e-9)
        np.testing.assert_allclose(np.column_stack([fit.nuisances[k] for k in "abc"]), ref_theta, atol=1e-7)
        assert np.all(fit.converged)


def _two_single_bin(shared, sigma=0.1):
    # two one-bin gaussian experiments with a flux normalisation (shared or not) on the signal
    s_a, s_b, v_a, v_b = 100.0, 40.0, 120.0, 50.0
    n_a, n_b = 130.0, 38.0
    ds_a = BinnedDataset("A", [n_a], statistic="gaussian", variance=[v_a],
                         nuisances=[Nuisance("flux" if shared else "flux_A", sigma)])
    ds_b = BinnedDataset("B", [n_b], statistic="gaussian", variance=[v_b],
                         nuisances=[Nuisance("flux" if shared else "flux_B", sigma)])
    fit = combined_chi2([ds_a, ds_b], {"A": [[s_a]], "B": [[s_b]]})
    return fit, (s_a, s_b, v_a, v_b, n_a, n_b)


def test_shared_nuisance_analytic_single_bins():
    fit, (s_a, s_b, v_a, v_b, n_a, n_b) = _two_single_bin(shared=True)
    # d/dt [ (r_a - s_a t)^2/v_a + (r_b - s_b t)^2/v_b + t^2/sigma^2 ] = 0
    r_a, r_b = n_a - s_a, n_b - s_b
    t = (s_a * r_a / v_a + s_b * r_b / v_b) / (s_a**2 / v_a + s_b**2 / v_b + 1 / 0.1**2)
    expected = (r_a - s_a * t) ** 2 / v_a + (r_b - s_b * t) ** 2 / v_b + (t / 0.1) ** 2
    assert fit.nuisances["flux"][0] == pytest.approx(t, rel=1e-12)
    assert fit.chi2[0] == pytest.approx(expected, rel=1e-12)
    assert fit.per_dataset["A"][0] + fit.per_dataset["B"][0] + (t / 0.1) ** 2 == pytest.approx(expected)
    # independent nuisances: each one-bin chi2 is r^2 / (v + s^2 sigma^2)
    indep, _ = _two_single_bin(shared=False)
    ref = r_a**2 / (v_a + s_a**2 * 0.01) + r_b**2 / (v_b + s_b**2 * 0.01)
    assert indep.chi2[0] == pytest.approx(ref, rel=1e-12)
    assert set(indep.nuisances) == {"flux_A", "flux_B"}
    assert fit.chi2[0] > indep.chi2[0]


def test_shared_nuisance_tightens_degenerate_scan():
    # A parameter g moves the two signals in opposite directions (as a Z/N-dependent coupling can);
    # a flux normalisation per experiment absorbs each shift, a shared one cannot absorb both.
    g = np.linspace(-0.5, 0.5, 101)
    bins = np.linspace(1, 2, 5)
    sig_a0, sig_b0 = 200 * bins, 150 / bins
    sig_a = sig_a0[None, :] * (1 + g[:, None])
    sig_b = sig_b0[None, :] * (1 - 0.8 * g[:, None])
    bkg_a, bkg_b = np.full(5, 30.0), np.full(5, 20.0)

    def scan(shared, statistic):
        name_a, name_b = ("flux", "flux") if shared else ("flux_A", "flux_B")
        ds_a = BinnedDataset("CONUS", asimov(sig_a0 + bkg_a), {"bkg": bkg_a}, statistic=statistic,
                             nuisances=[Nuisance(name_a, 0.2, ["signal"]), Nuisance("bA", 0.05, ["bkg"])])
        ds_b = BinnedDataset("CONNIE", asimov(sig_b0 + bkg_b), {"bkg": bkg_b}, statistic=statistic,
                             nuisances=[Nuisance(name_b, 0.2, ["signal"]), Nuisance("bB", 0.05, ["bkg"])])
        return combined_chi2([ds_a, ds_b], {"CONUS": sig_a, "CONNIE": sig_b}).chi2

    for statistic in ("poisson", "gaussian"):
        shared, indep = scan(True, statistic), scan(False, statistic)
        assert shared[50] == pytest.approx(0.0, abs=1e-9) and indep[50] == pytest.approx(0.0, abs=1e-9)
        assert np.all(shared >= indep - 1e-9)
        assert shared[0] > 2 * indep[0]


def test_global_nuisance_declaration_equals_shared_name():
    rng = np.random.default_rng(9)
    sig_a = rng.uniform(5, 50, (4, 6))
    sig_b = rng.uniform(5, 50, (4, 3))
    obs_a, obs_b = rng.poisson(30, 6).astype(float), rng.poisson(30, 3).astype(float)
    shared = combined_chi2([BinnedDataset("A", obs_a, nuisances=[Nuisance("f", 0.1)]),
                            BinnedDataset("B", obs_b, nuisances=[Nuisance("f", 0.1)])],
                           {"A": sig_a, "B": sig_b})
    glob = combined_chi2([BinnedDataset("A", obs_a), BinnedDataset("B", obs_b)], {"A": sig_a, "B": sig_b},
                         nuisances=[Nuisance("f", 0.1, ["A/signal", "B/signal"])])
    np.testing.assert_allclose(glob.chi2, shared.chi2, rtol=1e-12)
    np.testing.assert_allclose(glob.nuisances["f"], shared.nuisances["f"], rtol=1e-10)


def test_mixed_poisson_gaussian_matches_iminuit():
    rng = np.random.default_rng(12)
    sig_a, bkg_a = rng.uniform(2, 20, (3, 5)), rng.uniform(1, 5, 5)
    sig_b = rng.uniform(50, 100, (3, 4))
    obs_a = rng.poisson(sig_a[0] + bkg_a).astype(float)
    obs_b = np.round(sig_b[0] * 1.1)
    var_b = obs_b + 4.0
    ds_a = BinnedDataset("A", obs_a, {"bkg": bkg_a}, statistic="poisson",
                         nuisances=[Nuisance("flux", 0.1), Nuisance("bkgnorm", 0.3, ["bkg"])])
    ds_b = BinnedDataset("B", obs_b, statistic="gaussian", variance=var_b, nuisances=[Nuisance("flux", 0.1)])
    fit = combined_chi2([ds_a, ds_b], {"A": sig_a, "B": sig_b})
    for p in range(3):
        def fcn(t):
            mu_a = (1 + t[0]) * sig_a[p] + (1 + t[1]) * bkg_a
            if np.any(mu_a <= 0):
                return 1e30
            mu_b = (1 + t[0]) * sig_b[p]
            return (poisson_chi2(obs_a, mu_a) + np.sum((obs_b - mu_b) ** 2 / var_b)
                    + (t[0] / 0.1) ** 2 + (t[1] / 0.3) ** 2)

        m = _minuit(fcn, 2)
        assert fit.chi2[p] == pytest.approx(m.fval, rel=1e-6)
        assert fit.nuisances["flux"][p] == pytest.approx(m.values[0], abs=1e-4)
        assert fit.nuisances["bkgnorm"][p] == pytest.approx(m.values[1], abs=1e-4)


def test_expected_with_nuisances_and_scaled_data():
    ds = BinnedDataset("A", [10.0, 10.0], {"b": [1.0, 2.0]}, nuisances=[Nuisance("n", 0.1, ["signal", "b"])])
    mu = ds.expected([[4.0, 6.0]], {"n": 0.5})
    np.testing.assert_allclose(mu, [[1.5 * 5.0, 1.5 * 8.0]])
    np.testing.assert_allclose(scaled_data([10.0, 20.0], 1.3), [13.0, 26.0])
    fit = ds.chi2(np.array([[4.0, 6.0], [9.0, 8.0]]))
    assert fit.chi2.shape == (2,)
    with pytest.raises(ValueError):
        scaled_data([1.0], -1.0)
    with pytest.raises(ValueError):
        asimov([1.0, np.nan])


def test_bad_datasets_raise():
    with pytest.raises(ValueError, match="unknown component"):
        BinnedDataset("A", [1.0], nuisances=[Nuisance("n", 0.1, ["bkg"])])
    with pytest.raises(ValueError, match="statistic"):
        BinnedDataset("A", [1.0], statistic="binomial")
    with pytest.raises(ValueError):
        BinnedDataset("A", [1.0, -2.0])
    with pytest.raises(ValueError):
        Nuisance("n", -0.1)
    a = BinnedDataset("A", [1.0], nuisances=[Nuisance("f", 0.1)])
    b = BinnedDataset("B", [1.0], nuisances=[Nuisance("f", 0.2)])
    with pytest.raises(ValueError, match="different sigmas"):
        combined_chi2([a, b], {"A": [[1.0]], "B": [[1.0]]})
    with pytest.raises(ValueError, match="shape"):
        combined_chi2([a], {"A": [[1.0, 2.0]]})
    with pytest.raises(ValueError, match="no signal"):
        combined_chi2([a], {})
    with pytest.raises(ValueError):
        profile_linear_gaussian([1.0], np.ones((1, 1, 1)), [0.1], "nonsense")
