"""[[correlations]] in analysis files: a shared nuisance against the closed-form combined chi^2."""

import json

import numpy as np
import pytest

from cevns.analysis import build_likelihood, load_analysis, run_analysis
from cevns.errors import ConfigError


def _spec(correlated: bool, sigma=0.1, scans=()):
    def entry(label, scale, mass, nuis):
        return {"experiment": "conus-plus", "label": label, "likelihood": "gaussian", "data": "asimov",
                "data_scale": scale, "overrides": {"detector": {"mass_kg": mass}},
                "use_experiment_systematics": False, "systematics": [{"name": nuis, "sigma": sigma}]}
    doc = {"schema_version": 1, "name": "two-counters",
           "experiments": [entry("A", 1.3, 2.83, "flux_a"), entry("B", 0.8, 5.0, "flux_b")],
           "scans": list(scans)}
    if correlated:
        doc["correlations"] = [{"name": "reactor_flux", "sigma": sigma, "description": "common flux model",
                                "members": [{"experiment": "A", "nuisance": "flux_a"},
                                            {"experiment": "B", "nuisance": "flux_b"}]}]
    return doc


def _closed_form(lik, x, sigma, correlated):
    """chi^2 = r^T (V + sigma^2 s s^T)^-1 r (correlated) or sum r_i^2 / (v_i + sigma^2 s_i^2)."""
    s = np.array([float(np.sum(sig)) for sig in lik.signals({"sin2_theta_w": x})])
    d, b, v = [], [], []
    for t, si in zip(lik.terms, s):
        d.append(float(np.sum(t.observed)))
        b.append(float(sum(np.sum(bk) for bk in t.backgrounds.values())))
        v.append(float(np.sum(t.binned_dataset(np.array([[si]])).variance)))
    r = np.array(d) - s - np.array(b)
    if correlated:
        cov = np.diag(v) + sigma**2 * np.outer(s, s)
        return float(r @ np.linalg.solve(cov, r))
    return float(np.sum(r**2 / (np.array(v) + sigma**2 * s**2)))


@pytest.mark.parametrize("correlated", [True, False])
def test_shared_normalisation_is_the_closed_form(correlated):
    lik = build_likelihood(_spec(correlated))
    names = set(lik.nuisance_table())
    assert names == ({"reactor_flux"} if correlated else {"flux_a", "flux_b"})
    for x in (0.18, 0.23857, 0.3):
        got = float(lik.chi2({"sin2_theta_w": x})[0])
        assert got == pytest.approx(_closed_form(lik, x, 0.1, correlated), rel=1e-9, abs=1e-9)


def test_shared_nuisance_changes_the_combined_result():
    # A fluctuates up by 30 %, B down by 20 %: independent normalisations absorb part of each pull,
    # one shared normalisation cannot move both ways, so the combined chi^2 of the SM is larger
    corr, unc = build_likelihood(_spec(True)), build_likelihood(_spec(False))
    c = float(corr.chi2({"sin2_theta_w": 0.23857})[0])
    u = float(unc.chi2({"sin2_theta_w": 0.23857})[0])
    assert c > u + 0.05
    assert c == pytest.approx(_closed_form(corr, 0.23857, 0.1, True), rel=1e-9)


def test_correlations_are_listed_in_the_outputs(tmp_path):
    scan = {"name": "s2w", "parameters": ["sin2_theta_w"], "ranges": [[0.1, 0.4]], "points": [7]}
    res = run_analysis(_spec(True, scans=[scan]), tmp_path, progress=False)
    assert res["correlations"] == [{"name": "reactor_flux", "sigma": 0.1, "description": "common flux model",
                                    "members": ["A/flux_a", "B/flux_b"]}]
    resolved = json.loads((tmp_path / "analysis.resolved.json").read_text())
    assert resolved["analysis"]["correlations"][0]["name"] == "reactor_flux"
    assert sorted(resolved["nuisances"]["reactor_flux"]["applies_to"]) == ["A/signal", "B/signal"]


@pytest.mark.parametrize("member, message", [
    ({"experiment": "C", "nuisance": "flux_a"}, "matches no experiment"),
    ({"experiment": "A", "nuisance": "nope"}, "has no systematic 'nope'"),
])
def test_bad_correlation_members(member, message):
    doc = _spec(True)
    doc["correlations"][0]["members"][1] = member
    with pytest.raises(ConfigError, match=message):
        load_analysis(doc)


def test_correlation_name_clash_is_refused():
    doc = _spec(True)
    doc["correlations"][0]["members"] = [{"experiment": "A", "nuisance": "flux_a"}]
    doc["correlations"][0]["name"] = "flux_b"
    with pytest.raises(ConfigError, match="also an .uncorrelated. systematic"):
        load_analysis(doc)


def _interval(lik, x, level=1.0):
    d = lik.chi2({"sin2_theta_w": x})
    d = d - d.min()
    allowed = x[d <= level]
    assert allowed.size and d[0] > level and d[-1] > level  # one closed interval inside the grid
    return allowed.min(), allowed.max()


def _agreeing(correlated: bool, which=(0, 1)):
    doc = _spec(correlated)
    for e in doc["experiments"]:
        e["data_scale"] = 1.0  # both data sets at the SM expectation: they agree
    doc["experiments"] = [doc["experiments"][i] for i in which]
    if len(which) == 1:
        doc.pop("correlations", None)
    return doc


def test_combined_interval_inside_the_intersection_when_the_data_agree():
    x = np.linspace(0.12, 0.36, 481)
    a = _interval(build_likelihood(_agreeing(False, (0,))), x)
    b = _interval(build_likelihood(_agreeing(False, (1,))), x)
    for correlated in (False, True):
        lo, hi = _interval(build_likelihood(_agreeing(correlated)), x)
        assert max(a[0], b[0]) <= lo and hi <= min(a[1], b[1])
        assert hi - lo < min(a[1] - a[0], b[1] - b[0]) or correlated


def test_shared_nuisance_changes_the_combined_interval():
    # the common 10% normalisation cannot be averaged down: the correlated interval is wider
    x = np.linspace(0.12, 0.36, 481)
    lo_u, hi_u = _interval(build_likelihood(_agreeing(False)), x)
    lo_c, hi_c = _interval(build_likelihood(_agreeing(True)), x)
    assert (hi_c - lo_c) > 1.02 * (hi_u - lo_u)


def test_correlating_a_single_bin_term_is_refused():
    doc = _spec(True)
    doc["experiments"].append({"experiment": "coherent-csi-2017", "label": "CsI", "likelihood": "single_bin_pulls"})
    doc["correlations"][0]["members"].append({"experiment": "CsI", "nuisance": "signal_norm"})
    with pytest.raises(ConfigError, match=r"correlations\[0\].members\[2\].*without systematics"):
        load_analysis(doc)
