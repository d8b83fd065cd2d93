"""Joint profiling of template terms sharing a normalisation (cevns.stats.template_joint)."""

import numpy as np
import pytest
from scipy.optimize import minimize

from cevns.errors import ConfigError
from cevns.stats.template_joint import SharedNorm, profile_joint
from cevns.stats.template_profile import TemplateArrays, profile_templates


def _one_bin(n, s, b, sigma):
    """One bin: signal s with scale prior sigma, background b fixed by a tight prior."""
    return TemplateArrays(np.array([float(n)]), ["sig", "bkg"], [np.array([s]), np.array([b])], [sigma, 1e-3], [], [])


def _poisson(n, mu):
    return 2.0 * (mu - n + (n * np.log(n / mu) if n > 0 else 0.0))


def test_two_one_bin_terms_match_scipy():
    # term 1: prior 10 % = the shared width (its scale IS f); term 2: 15 %, remainder sqrt(.15^2-.1^2)
    t1, t2 = _one_bin(130, 100.0, 20.0, 0.10), _one_bin(70, 80.0, 10.0, 0.15)
    res = profile_joint([t1, t2], 1, [SharedNorm("flux", 0.10, [(0, "sig"), (1, "sig")])])
    su = np.sqrt(0.15**2 - 0.10**2)

    def chi2(x):
        f, u, b1, b2 = x
        return (_poisson(130, f * 100 + b1 * 20) + _poisson(70, (u + f - 1) * 80 + b2 * 10) + ((f - 1) / 0.1) ** 2
                + ((u - 1) / su) ** 2 + ((b1 - 1) / 1e-3) ** 2 + ((b2 - 1) / 1e-3) ** 2)

    ref = minimize(chi2, [1.0, 1.0, 1.0, 1.0], method="Nelder-Mead", options={"xatol": 1e-10, "fatol": 1e-12,
                                                                             "maxiter": 20000})
    assert res.converged
    assert res.chi2[0] == pytest.approx(ref.fun, abs=1e-6)
    assert res.shared["flux"][0] == pytest.approx(ref.x[0], abs=1e-4)
    assert res.values[1][0, 0] == pytest.approx(ref.x[1] + ref.x[0] - 1, abs=1e-4)
    # sharing couples the terms: the joint minimum lies above the sum of the separate ones
    sep = profile_templates(t1, 1).chi2[0] + profile_templates(t2, 1).chi2[0]
    assert res.chi2[0] > sep + 1e-3


def test_single_member_reproduces_separate_fit():
    # Gaussian widths add in quadrature: profiling f and the remainder gives the term's own prior back
    t = _one_bin(70, 80.0, 10.0, 0.15)
    mu = np.array([[0.5], [1.0], [2.0]]) * 80.0
    t = TemplateArrays(t.observed, t.names, [mu, t.nominal[1]], t.sigma, [], [])
    res = profile_joint([t], 3, [SharedNorm("flux", 0.10, [(0, "sig")])])
    assert res.chi2 == pytest.approx(profile_templates(t, 3).chi2, abs=1e-6)


def test_member_prior_narrower_than_shared_is_an_error():
    with pytest.raises(ConfigError, match="at least as wide"):
        profile_joint([_one_bin(10, 5.0, 5.0, 0.05)], 1, [SharedNorm("flux", 0.10, [(0, "sig")])])
    with pytest.raises(ConfigError, match="no component"):
        profile_joint([_one_bin(10, 5.0, 5.0, 0.05)], 1, [SharedNorm("flux", 0.01, [(0, "cevns")])])
