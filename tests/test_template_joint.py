"""Joint profiling of template terms sharing a normalisation (cevns.stats.template_joint)."""

import json

import numpy as np
import pytest
from scipy.optimize import minimize

from cevns.analysis import build_likelihood, load_analysis, run_analysis
from cevns.errors import ConfigError
from cevns.stats.template_joint import SharedNorm, profile_joint
from cevns.stats.template_minuit import shared_flux_minuit
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
    # the terms pull the common flux in opposite directions (130 > 120, 70 < 90 expected): sharing costs chi2
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


def test_pulls_in_the_same_direction_pay_the_flux_prior_once():
    # both terms see ~20 % more signal: one shared pull of the flux is cheaper than two independent pulls
    t1, t2 = _one_bin(140, 100.0, 20.0, 0.10), _one_bin(110, 80.0, 10.0, 0.15)
    joint = profile_joint([t1, t2], 1, [SharedNorm("flux", 0.10, [(0, "sig"), (1, "sig")])]).chi2[0]
    assert joint < profile_templates(t1, 1).chi2[0] + profile_templates(t2, 1).chi2[0] - 0.1


# ---------------------------------------------------------------- COHERENT CsI 2021 + LAr 2020
def _coherent(correlated=True, scans=()):
    doc = {"schema_version": 1, "name": "csi-ar-flux",
           "experiments": [{"experiment": "coherent-csi-2021", "label": "CsI", "likelihood": "template_poisson",
                            "data": "observed"},
                           {"experiment": "coherent-ar-2020", "label": "Ar", "likelihood": "template_poisson",
                            "data": "observed"}],
           "scans": list(scans)}
    if correlated:
        doc["correlations"] = [{"name": "sns_flux", "sigma": 0.10, "description": "SNS neutrino flux",
                                "members": [{"experiment": "CsI", "nuisance": "flux_norm"},
                                            {"experiment": "Ar", "nuisance": "flux_norm"}]}]
    return doc


def _minuit_joint(csi, ar, x, sigma_f=0.10):
    """Independent reference: MIGRAD on the summed TemplateLikelihood chi2 of both data sets, the CsI
    CEvNS scale = f, the Ar one = u + f - 1, each term's own CEvNS prior replaced by those of f and u."""
    m = shared_flux_minuit(csi.minuit_likelihood({"sin2_theta_w": x}), ar.minuit_likelihood({"sin2_theta_w": x}),
                           sigma_f)
    m.simplex()
    m.migrad()
    m.migrad()
    assert m.valid
    return m.fval


def test_coherent_joint_profile_matches_iminuit():
    lik = build_likelihood(_coherent())
    csi, ar = lik.terms
    x = np.array([0.1, 0.25, 0.4])
    fit = lik.fit({"sin2_theta_w": x})
    for i, xi in enumerate(x):
        assert fit.chi2[i] == pytest.approx(_minuit_joint(csi, ar, xi), abs=0.01)
    assert np.allclose(fit.nuisances["e0:s_cevns"], fit.nuisances["sns_flux"])


def test_coherent_without_correlation_is_unchanged():
    x = np.array([0.15, 0.3])
    sep = build_likelihood(_coherent(False))
    ref = sum(build_likelihood({**_coherent(False), "experiments": [e]}).chi2({"sin2_theta_w": x})
              for e in _coherent(False)["experiments"])
    assert sep.chi2({"sin2_theta_w": x}) == pytest.approx(ref, abs=1e-9)


def test_coherent_shared_flux_is_listed_in_the_outputs(tmp_path):
    scan = {"name": "s2w", "parameters": ["sin2_theta_w"], "ranges": [[0.15, 0.35]], "points": [5]}
    res = run_analysis(_coherent(scans=[scan]), tmp_path, progress=False)
    assert res["correlations"] == [{"name": "sns_flux", "sigma": 0.1, "description": "SNS neutrino flux",
                                    "members": ["CsI/flux_norm", "Ar/flux_norm"]}]
    resolved = json.loads((tmp_path / "analysis.resolved.json").read_text())
    assert sorted(resolved["nuisances"]["sns_flux"]["applies_to"]) == ["Ar/cevns", "CsI/cevns"]


def test_coherent_bad_flux_member():
    doc = _coherent()
    doc["correlations"][0]["members"][1]["nuisance"] = "theta_qf0"
    with pytest.raises(ConfigError, match="has no systematic 'theta_qf0'"):
        load_analysis(doc)
    doc = _coherent()
    doc["experiments"].append({"experiment": "conus-plus", "label": "C", "likelihood": "gaussian", "data": "asimov"})
    doc["correlations"][0]["members"].append({"experiment": "C", "nuisance": "reactor_flux"})
    with pytest.raises(ConfigError, match="mixes template_poisson members"):
        load_analysis(doc)
