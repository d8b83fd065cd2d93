"""Likelihood terms as cost objects (cevns.stats.likelihood / terms / onoff): limits, sums, registry."""

import json
from types import SimpleNamespace

import numpy as np
import pytest
from iminuit import Minuit
from scipy import optimize

from cevns.analysis import build_likelihood, load_analysis, run_analysis
from cevns.errors import ConfigError
from cevns.stats import pulls
from cevns.stats.binned import Nuisance
from cevns.stats.cost import GaussianPrior
from cevns.stats.likelihood import LIKELIHOOD_KINDS, Likelihood, Term, register_likelihood
from cevns.stats.onoff import onoff_chi2, onoff_derivatives, profile_off_background
from cevns.stats.scan import ScanError
from cevns.stats.terms import BinnedGaussian, BinnedPoisson, SingleBinSensitivity, SingleBinStat

CSI = "coherent-csi-2017"


class _Engine:
    """A one-bin engine: signal = n0 * (1 + x) (x = sin2_theta_w - 0.2312 scaled), enough for the terms."""

    def __init__(self, n0, n_bins=1):
        self.n0 = np.asarray(n0, dtype=float).reshape(n_bins)
        self.n_bins = n_bins
        self.defaults = {}

    def _scale(self, pt):
        return 1.0 + 10.0 * (np.atleast_1d(np.asarray(pt.get("sin2_theta_w"), dtype=float)) - 0.2312)

    def total(self, pt):
        return self._scale(pt) * self.n0.sum()

    def predict(self, pt):
        return SimpleNamespace(per_bin=self._scale(pt)[:, None] * self.n0[None, :])


def _experiment(n0, n_bins=1):
    return SimpleNamespace(name="toy", path="toy", engine=_Engine(n0, n_bins), settings=lambda fixed: {})


# ------------------------------------------------------------------------------------------ on/off
def test_profiled_off_background_is_the_numerical_minimum():
    rng = np.random.default_rng(1)
    for _ in range(40):
        a, n, m, tau = rng.uniform(0, 50), rng.integers(0, 80), rng.integers(0, 80), rng.uniform(0.3, 3)

        def full(b):
            mu = a + b
            return 2 * (mu - n + (n * np.log(n / mu) if n else 0)) + 2 * (tau * b - m + (m * np.log(m / (tau * b)) if m else 0))

        b_hat = float(profile_off_background(a, n, m, tau))
        num = optimize.minimize_scalar(full, bounds=(1e-12, 500), method="bounded", options={"xatol": 1e-10})
        assert b_hat >= 0
        assert full(max(b_hat, 1e-300)) <= num.fun + 1e-7
        assert float(onoff_chi2(a, n, m, tau)) == pytest.approx(min(full(max(b_hat, 1e-300)), num.fun), abs=1e-7)


def test_onoff_derivatives_match_finite_differences():
    a = np.array([0.5, 3.0, 20.0, 7.0, 2.0])
    n = np.array([4.0, 0.0, 25.0, 9.0, 10.0])
    m = np.array([2.0, 5.0, 30.0, 0.0, 0.0])
    d1, d2 = onoff_derivatives(a, n, m, 1.0)
    h = 1e-5
    f = lambda x: onoff_chi2(x, n, m, 1.0)  # noqa: E731
    np.testing.assert_allclose(d1, (f(a + h) - f(a - h)) / (2 * h), rtol=1e-6, atol=1e-8)
    h2 = 1e-3  # larger step for the second difference (rounding ~ eps f / h^2)
    np.testing.assert_allclose(d2, (f(a + h2) - 2 * f(a) + f(a - h2)) / h2**2, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("scale", [1e4, 1e6])
def test_one_bin_poisson_with_off_window_reproduces_the_single_bin_chi2(scale):
    """One bin, large counts: the on/off Poisson fit -> (N_meas - N_th)^2 / (N_meas + 2 B_ss) (no B_on).

    With the steady-state background treated as known (the old binned likelihood) it would be
    (N_meas - N_th)^2 / (N_meas + B_ss), 1.5 times larger here.
    """
    n_meas, b_ss = scale, scale
    exp = _experiment([n_meas])
    exp.observed, exp.sideband, exp.backgrounds = np.array([n_meas]), np.array([b_ss]), {}
    term = BinnedPoisson.from_experiment(exp, label="toy", dataset="d0", fixed={"sin2_theta_w": 0.2312})
    shift = np.linspace(-3, 3, 13) * np.sqrt(n_meas + 2 * b_ss)
    s2w = 0.2312 + shift / n_meas / 10.0  # signal = n_meas + shift
    lik = Likelihood([term])
    got = lik.chi2({"sin2_theta_w": s2w})
    want = pulls.chi2_single_bin_stat_only(n_meas + shift, n_meas, 0.0, b_ss)
    # Poisson vs Gaussian: relative difference O(z / sqrt(N)) at z standard deviations
    np.testing.assert_allclose(got, want, rtol=1.0 / np.sqrt(scale), atol=1e-9)


def test_binned_gaussian_one_bin_equals_single_bin_stat():
    exp = _experiment([140.0])
    exp.observed, exp.sideband, exp.backgrounds = np.array([142.0]), np.array([405.0]), {"prompt": np.array([6.0])}
    g = BinnedGaussian.from_experiment(exp, label="g", dataset="g", fixed={"sin2_theta_w": 0.2312})
    s = SingleBinStat(exp, "s", "s", n_meas=142.0, b_on=6.0, b_ss=405.0, fixed={"sin2_theta_w": 0.2312})
    x = np.linspace(0.20, 0.26, 7)
    # the Gaussian variance is data + sideband = N_meas + 2 B_ss: the single-bin sigma_stat^2 without its B_on
    n_th = 140.0 * (1 + 10 * (x - 0.2312))
    want = (142.0 - 6.0 - n_th) ** 2 / (142.0 + 2 * 405.0)
    np.testing.assert_allclose(Likelihood([g]).chi2({"sin2_theta_w": x}), want, rtol=1e-12)
    np.testing.assert_allclose(Likelihood([s]).chi2({"sin2_theta_w": x}), want * 952.0 / 958.0, rtol=1e-12)


# ------------------------------------------------------------------------------------------ sums
def test_sum_shares_parameters_by_name_and_works_in_minuit():
    exp = _experiment([100.0])
    t1 = SingleBinSensitivity(exp, "a", "a", n_sm=120.0, parameters=["sin2_theta_w"])
    t2 = SingleBinSensitivity(exp, "b", "b", n_sm=80.0, parameters=["sin2_theta_w"])
    total = t1 + t2
    assert isinstance(total, Likelihood) and total.parameters == ("sin2_theta_w",) and total.errordef == 1
    x = 0.2312 + 0.01
    n = 100 * (1 + 10 * 0.01)
    assert total(x) == pytest.approx((n - 120) ** 2 / 120 + (n - 80) ** 2 / 80, rel=1e-12)
    prior = GaussianPrior("sin2_theta_w", 0.2312, 0.002)
    with_prior = total + prior
    assert with_prior(x) == pytest.approx(total(x) + 25.0, rel=1e-12)
    m = Minuit(with_prior, sin2_theta_w=0.23)
    m.migrad()
    # analytic minimum of the three quadratics in s = sin2_theta_w
    def f(s):
        n = 100 * (1 + 10 * (s - 0.2312))
        return (n - 120) ** 2 / 120 + (n - 80) ** 2 / 80 + ((s - 0.2312) / 0.002) ** 2

    ref = optimize.minimize_scalar(f, bounds=(0.2, 0.26), method="bounded", options={"xatol": 1e-12})
    assert m.values["sin2_theta_w"] == pytest.approx(ref.x, abs=1e-6)
    assert m.fval == pytest.approx(ref.fun, rel=1e-6)


def test_binned_terms_in_a_sum_share_nuisances():
    """Two one-bin Poisson terms with one shared free normalisation: the fit absorbs a common scale."""
    exps = []
    for n0 in (100.0, 50.0):
        e = _experiment([n0])
        e.observed, e.sideband, e.backgrounds = np.array([1.3 * n0]), None, {}
        exps.append(e)
    nu = [Nuisance("flux", None, ("signal",))]
    a = BinnedPoisson.from_experiment(exps[0], label="a", dataset="a", nuisances=nu, fixed={"sin2_theta_w": 0.2312})
    b = BinnedPoisson.from_experiment(exps[1], label="b", dataset="b", nuisances=nu, fixed={"sin2_theta_w": 0.2312})
    fit = (a + b).fit({})
    assert fit.chi2[0] == pytest.approx(0.0, abs=1e-9)
    assert fit.nuisances["flux"][0] == pytest.approx(0.3, rel=1e-7)
    # independent nuisances would be two parameters; separately each fits too, but the sum has one
    assert list(fit.nuisances) == ["flux"]


def test_sensitivity_statistic_by_hand():
    lik = build_likelihood({"name": "t", "experiments": [{"experiment": CSI, "likelihood": "single_bin_sensitivity"}]})
    n_sm = float(lik.signals({})[0][0])
    assert lik.describe()[0]["single_bin"]["n_sm"] == pytest.approx(n_sm, rel=1e-12)
    assert lik.chi2({})[0] == pytest.approx(0.0, abs=1e-12)
    x = 0.3
    n = float(lik.signals({"eps_ee_uV": x})[0][0])
    assert lik.chi2({"eps_ee_uV": x})[0] == pytest.approx((n - n_sm) ** 2 / n_sm, rel=1e-12)
    with pytest.raises(ConfigError, match="uses data asimov"):
        load_analysis({"name": "t", "experiments": [{"experiment": CSI, "likelihood": "single_bin_sensitivity",
                                                     "data": "observed"}]})


# ------------------------------------------------------------------------------------------ registry
def test_a_toy_likelihood_kind_is_one_new_class(tmp_path):
    """Register a new kind (a Gaussian measurement of the total count) and run a scan through it."""

    @register_likelihood
    class ToyCount(Term):
        kind = "toy_count"
        signal_shape = "total"

        def __init__(self, experiment, label, dataset, *, measured, sigma, fixed=None):
            super().__init__(experiment, label, dataset, fixed=fixed)
            self.measured, self.sigma = measured, sigma

        @classmethod
        def from_experiment(cls, experiment, *, label, dataset, asimov=None, fixed=None, **options):
            return cls(experiment, label, dataset, measured=150.0, sigma=20.0, fixed=fixed)

        def chi2_of_signal(self, signal, details=False):
            return ((signal - self.measured) / self.sigma) ** 2, {}

    try:
        spec = load_analysis({"name": "toy", "experiments": [{"experiment": CSI, "likelihood": "toy_count"}],
                              "scans": [{"name": "uV", "parameters": ["eps_ee_uV"], "ranges": [[-0.2, 0.6]],
                                         "points": [41], "refine": False}]})
        res = run_analysis(spec, tmp_path, progress=False)
        lik = build_likelihood(spec)
        x = np.linspace(-0.2, 0.6, 41)
        n = lik.signals({"eps_ee_uV": x})[0]
        want = ((n - 150.0) / 20.0) ** 2
        csv = np.genfromtxt(tmp_path / "uV.csv", delimiter=",", names=True)
        np.testing.assert_allclose(csv["delta_chi2"], want - want.min(), rtol=1e-9, atol=1e-9)
        assert res["scans"][0]["chi2_min"] == pytest.approx(want.min(), rel=1e-12)
        assert json.loads((tmp_path / "analysis.resolved.json").read_text())["experiments"][0]["likelihood"] == "toy_count"
    finally:
        LIKELIHOOD_KINDS.pop("toy_count", None)


def test_non_finite_chi2_is_an_error_and_not_written(tmp_path):
    @register_likelihood
    class Broken(Term):
        kind = "toy_broken"

        @classmethod
        def from_experiment(cls, experiment, *, label, dataset, asimov=None, fixed=None, **options):
            return cls(experiment, label, dataset, fixed=fixed)

        def chi2_of_signal(self, signal, details=False):
            return np.where(signal > 160.0, np.nan, (signal - 150.0) ** 2), {}

    try:
        spec = load_analysis({"name": "broken", "experiments": [{"experiment": CSI, "likelihood": "toy_broken"}],
                              "scans": [{"name": "uV", "parameters": ["eps_ee_uV"], "ranges": [[-0.5, 0.5]],
                                         "points": [21]}]})
        with pytest.raises(ScanError, match=r"scan 'uV': chi\^2 is not finite at \d+ of 21 grid point"):
            run_analysis(spec, tmp_path, progress=False)
        assert not (tmp_path / "uV.csv").exists() and not (tmp_path / "results.json").exists()
    finally:
        LIKELIHOOD_KINDS.pop("toy_broken", None)
