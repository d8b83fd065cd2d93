"""Tests of the COHERENT 2017 single-bin pull chi^2 (closed form vs numerical minimisation)."""

import numpy as np
import pytest
from iminuit import Minuit
from scipy import optimize

from cevns.stats.pulls import chi2_single_bin_pulls, chi2_single_bin_stat_only, sigma_stat_squared

# COHERENT CsI 2017 inputs (PHYSICS.md section 7; arXiv:1708.01294)
N_MEAS, B_ON, B_SS, S_A, S_B = 142.0, 6.0, 405.0, 0.28, 0.25


def _bracket(n_th, n_meas, b_on, b_ss, s_a, s_b):
    var = n_meas + 2 * b_ss + b_on

    def f(alpha, beta):
        return ((n_meas - n_th * (1 + alpha) - b_on * (1 + beta)) ** 2 / var
                + (alpha / s_a) ** 2 + (beta / s_b) ** 2)

    return f


def _random_cases(n=20, seed=7):
    rng = np.random.default_rng(seed)
    return [(rng.uniform(0, 400), rng.uniform(20, 300), rng.uniform(0, 30), rng.uniform(0, 600),
             rng.uniform(0.02, 0.5), rng.uniform(0.02, 0.5)) for _ in range(n)]


@pytest.mark.parametrize("case", _random_cases())
def test_closed_form_matches_iminuit(case):
    f = _bracket(*case)
    m = Minuit(f, alpha=0.0, beta=0.0)
    m.errordef = Minuit.LEAST_SQUARES
    m.strategy = 2
    m.tol = 1e-8
    m.migrad()
    assert m.valid
    chi2, alpha, beta = chi2_single_bin_pulls(*case, return_pulls=True)
    assert chi2 == pytest.approx(m.fval, rel=1e-6, abs=1e-9)
    assert alpha == pytest.approx(m.values["alpha"], rel=1e-4, abs=1e-6)
    assert beta == pytest.approx(m.values["beta"], rel=1e-4, abs=1e-6)


def test_closed_form_matches_scipy_minimize():
    for case in _random_cases(10, seed=11):
        f = _bracket(*case)
        res = optimize.minimize(lambda p: f(*p), x0=[0.0, 0.0], method="BFGS", options={"gtol": 1e-10})
        chi2, alpha, beta = chi2_single_bin_pulls(*case, return_pulls=True)
        assert chi2 == pytest.approx(res.fun, rel=1e-6, abs=1e-9)
        assert [alpha, beta] == pytest.approx(res.x, rel=1e-4, abs=1e-6)
        # the returned pulls really give the returned chi2
        assert f(alpha, beta) == pytest.approx(chi2, rel=1e-12)


def test_vectorised_shape_and_values():
    n_th = np.linspace(0, 400, 24).reshape(4, 6)
    chi2 = chi2_single_bin_pulls(n_th, N_MEAS, B_ON, B_SS, S_A, S_B)
    assert chi2.shape == (4, 6)
    scalar = [chi2_single_bin_pulls(v, N_MEAS, B_ON, B_SS, S_A, S_B) for v in n_th.ravel()]
    np.testing.assert_allclose(chi2.ravel(), scalar, rtol=1e-14)
    # minimum (chi2 = 0) where the prediction matches the data
    assert chi2_single_bin_pulls(N_MEAS - B_ON, N_MEAS, B_ON, B_SS, S_A, S_B) == pytest.approx(0.0, abs=1e-15)


def test_tends_to_stat_only_when_sigmas_vanish():
    n_th = np.linspace(50, 300, 11)
    stat = chi2_single_bin_stat_only(n_th, N_MEAS, B_ON, B_SS)
    np.testing.assert_allclose(chi2_single_bin_pulls(n_th, N_MEAS, B_ON, B_SS, 0.0, 0.0), stat, rtol=1e-14)
    prev = None
    for s in (1e-1, 1e-2, 1e-3, 1e-4):
        diff = np.max(np.abs(chi2_single_bin_pulls(n_th, N_MEAS, B_ON, B_SS, s, s) - stat) / stat)
        if prev is not None:
            assert diff < prev
        prev = diff
    assert prev < 1e-6
    # pulls only relax the chi2
    assert np.all(chi2_single_bin_pulls(n_th, N_MEAS, B_ON, B_SS, S_A, S_B) <= stat)


def test_stat_only_by_hand_and_sigma_stat():
    # sigma_stat^2 = 142 + 2*405 + 6 = 958
    assert sigma_stat_squared(N_MEAS, B_ON, B_SS) == 958.0
    assert chi2_single_bin_stat_only(173.0, N_MEAS, B_ON, B_SS) == pytest.approx(37.0**2 / 958.0)


@pytest.mark.parametrize("bad", [dict(n_th=np.nan), dict(n_th=-1.0), dict(b_ss=-1.0), dict(sigma_alpha=-0.1),
                                 dict(n_meas=np.inf)])
def test_bad_input_raises(bad):
    args = dict(n_th=100.0, n_meas=N_MEAS, b_on=B_ON, b_ss=B_SS, sigma_alpha=S_A, sigma_beta=S_B)
    args.update(bad)
    with pytest.raises(ValueError):
        chi2_single_bin_pulls(**args)
