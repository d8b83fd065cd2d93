"""COHERENT CsI 2021 and LAr 2020 as built-in template experiments, the template_poisson likelihood,
its vectorised profiling against iminuit, and ``cevns fit``."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cevns.analysis import load_analysis
from cevns.analysis.build import build_likelihood
from cevns.cli.main import run
from cevns.errors import CevnsError, ConfigError
from cevns.experiments import list_experiments, load_experiment
from cevns.papers.registry import PAPERS_DIR
from cevns.papers.run import run_paper
from cevns.stats.template_minuit import fit_templates
from cevns.stats.template_profile import TemplateArrays, chi2_at, profile_templates
from cevns.stats.template_term import TemplatePoisson
from cevns.stats.templates import interpolate

NSI = {"eps_ee_uV": np.array([0.0, 0.15, -0.25, 0.4]), "eps_ee_dV": np.array([0.0, 0.05, 0.2, -0.35])}


@pytest.fixture(scope="module")
def csi():
    return load_experiment("coherent-csi-2021")


@pytest.fixture(scope="module")
def ar():
    return load_experiment("coherent-ar-2020")


def test_builtins_listed_and_described(csi, ar):
    names = [r["name"] for r in list_experiments()]
    assert "coherent-csi-2021" in names and "coherent-ar-2020" in names
    for exp, shape in ((csi, [9, 11]), (ar, [12, 8, 10])):
        d = exp.describe()
        assert json.loads(json.dumps(d)) == d
        assert d["bins"] == shape and d["observed_events"] == exp.observed.sum()
    # the released lists hold 5142 C and 4890 AC events (checked on load); the grid keeps a subset
    assert 0 < csi.observed.sum() < 5142


def test_newton_profile_closed_form():
    # one free component: the Poisson profile is s = sum n / sum h; with a Gaussian prior nothing moves at n = h
    rng = np.random.default_rng(1)
    h = rng.uniform(5, 50, 20)
    n = rng.poisson(1.3 * h).astype(float)
    t = TemplateArrays(n, ["a"], [h], [None], [], [])
    res = profile_templates(t, 1)
    assert res.values[0, 0] == pytest.approx(n.sum() / h.sum(), rel=1e-8)
    t2 = TemplateArrays(h, ["a"], [h], [0.1], [], [])
    assert profile_templates(t2, 1).chi2[0] == pytest.approx(0.0, abs=1e-10)


@pytest.mark.parametrize("fixture", ["csi", "ar"])
def test_asimov_at_the_sm_gives_zero_chi2(fixture, request):
    exp = request.getfixturevalue(fixture)
    asimov = TemplatePoisson.asimov_signal(exp, {})
    term = TemplatePoisson.from_experiment(exp, label="x", dataset="e0", asimov=asimov)
    res = term.profile(term.templates({}, 1), 1)
    assert res.chi2[0] == pytest.approx(0.0, abs=1e-6)
    assert res.values[0, 0] == pytest.approx(1.0, abs=1e-4)  # s_cevns


@pytest.mark.parametrize("fixture", ["csi", "ar"])
def test_vectorised_profile_agrees_with_iminuit(fixture, request):
    exp = request.getfixturevalue(fixture)
    term = TemplatePoisson.from_experiment(exp, label="x", dataset="e0")
    chi2, _ = term.chi2_of_signal(term.signal(NSI, 4))
    ref = np.array([term.minuit_chi2({k: v[i] for k, v in NSI.items()}) for i in range(4)])
    # profiled Delta-chi2 agree to 0.01 (and the absolute values: iminuit stops at EDM ~ 1e-3)
    np.testing.assert_allclose(chi2 - chi2[0], ref - ref[0], atol=0.01)
    np.testing.assert_allclose(chi2, ref, atol=0.01)
    assert np.all(chi2 <= ref + 1e-3)  # Newton reaches the minimum


def test_profile_is_a_minimum(csi):
    term = TemplatePoisson.from_experiment(csi, label="x", dataset="e0")
    t = term.arrays({"eps_ee_uV": 0.2})
    res = profile_templates(t, 1)
    best = res.values[0]
    rng = np.random.default_rng(3)
    for _ in range(20):
        trial = best + rng.normal(0, 1e-2, best.size) * (1 + np.abs(best))
        trial[:3] = np.maximum(trial[:3], 0)
        assert chi2_at(t, trial)[0] >= res.chi2[0] - 1e-9


def test_bsm_changes_the_cevns_template(csi, ar):
    for exp in (csi, ar):
        sm, _ = exp.cevns_templates({}, 1)
        bsm, var = exp.cevns_templates({"eps_ee_uV": np.array([0.3])}, 1)
        assert not np.allclose(sm, bsm)
        assert set(var) == {s for s in exp.systematics if s in var}


def test_fit_free_cevns_and_significance():
    csi = load_experiment("coherent-csi-2021", overrides={"fit": {"free": ["cevns"]}})
    term = TemplatePoisson.from_experiment(csi, label="CsI", dataset="e0")
    res = fit_templates([term])
    assert res["valid"]
    ev = res["events"]["CsI"]
    assert set(ev) == {"cevns", "brn", "nin", "steady_state"}
    # the fitted CEvNS count times its scale error is the count's error (linear propagation)
    s = res["parameters"]["s_cevns"]
    assert ev["cevns"]["error"] == pytest.approx(ev["cevns"]["value"] * s["error"] / s["value"], rel=0.05)
    assert s["minos"] is not None
    # significance = sqrt(chi2(no CEvNS) - chi2_min), from an independent null fit
    null = term.minuit_likelihood({}).fit(fixed={"s_cevns": 0.0})["chi2"]
    assert res["significance_sigma"] == pytest.approx(np.sqrt(null - res["chi2"]), abs=0.02)


@pytest.mark.parametrize("override, match", [
    ({"binning": {"pe_edges": [0, 10, 300]}}, "data range"),
    ({"fit": {"free": ["neutrinos"]}}, "unknown component"),
    ({"fit": {"systematics": ["theta_qf7"]}}, "no template"),
    ({"binning": {"bins": 3}}, "unknown key"),
    ({"model": "nai-2025"}, "model"),
])
def test_bad_input_is_a_clean_error(override, match):
    with pytest.raises(ConfigError, match=match):
        load_experiment("coherent-csi-2021", overrides=override)


def test_bad_input_ar_and_likelihood():
    with pytest.raises(ConfigError, match="fixed"):
        load_experiment("coherent-ar-2020", overrides={"binning": {"pe_edges": [0, 10]}})
    with pytest.raises(ConfigError, match="template"):
        TemplatePoisson.from_experiment(load_experiment("coherent-csi-2017"), label="x", dataset="e0")
    with pytest.raises(CevnsError):
        load_analysis({"name": "x", "experiments": [{"experiment": "coherent-csi-2021",
                                                     "systematics": [{"name": "a", "sigma": 0.1}]}]})


def test_analysis_files_load():
    for folder in ("coherent_csi_2021", "coherent_ar_2020"):
        for f in sorted((PAPERS_DIR / folder).glob("*.toml")):
            if f.name == "figures.toml":
                continue
            like = build_likelihood(load_analysis(f))
            assert all(isinstance(t, TemplatePoisson) for t in like.terms)


def test_cli_fit_json_and_errors(capsys, tmp_path):
    assert run(["fit", str(PAPERS_DIR / "coherent_ar_2020" / "fit.toml"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["valid"] and out["significance_sigma"] > 2
    assert set(out["events"]["COHERENT LAr 2020"]) == {"cevns", "prompt_brn", "delayed_brn", "steady_state"}
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "bad"\n[[experiments]]\nexperiment = "coherent-csi-2021"\n'
                   'overrides = { fit = { free = ["muons"] } }\n')
    assert run(["fit", str(bad)]) == 2
    assert "unknown component" in capsys.readouterr().err


def test_sm_flux_averaged_cross_section_matches_published(csi, ar):
    # COHERENT arXiv:2110.07730: SM flux-averaged CsI cross section 189 +- 6 x 1e-40 cm^2 (data/PROVENANCE.md);
    # LAr arXiv:2003.10630: SM 1.8 x 1e-39 cm^2 (quoted to two digits)
    assert csi.sm_flux_averaged_cross_section_cm2() / 1e-40 == pytest.approx(189.0, abs=6.0)
    assert ar.sm_flux_averaged_cross_section_cm2() / 1e-39 == pytest.approx(1.8, abs=0.05)


def test_exp_quadratic_interpolation_hits_the_variations_and_is_smooth():
    h0 = np.array([10.0, 5.0, 2.0])
    up, dn = np.array([[12.0, 4.0, 2.5]]), np.array([[9.0, 5.5, 1.0]])
    for th, want in ((1.0, up[0]), (-1.0, dn[0]), (0.0, h0)):
        np.testing.assert_allclose(interpolate(h0, up, dn, [th], "exp-quadratic"), want, rtol=1e-12)
    eps = 1e-6  # C1 at 0 and at +-1: one-sided derivatives agree
    for x in (0.0, 1.0, -1.0):
        f = [interpolate(h0, up, dn, [x + d], "exp-quadratic") for d in (-eps, 0.0, eps)]
        np.testing.assert_allclose((f[1] - f[0]) / eps, (f[2] - f[1]) / eps, rtol=1e-4)


@pytest.mark.slow
def test_reproduce_coherent_csi_2021_headline(tmp_path):
    out = run_paper("coherent-csi-2021", tmp_path, grid_scale=0.3)
    head = json.loads((tmp_path / "coherent-csi-2021" / "results.json").read_text())["headline"]
    assert set(head) >= {"sm_predicted_events", "fitted_cevns_events", "significance_sigma",
                         "flux_averaged_cross_section_1e-40cm2"}
    v, lo, hi = head["fitted_cevns_events"]
    assert lo > 0 and hi > 0 and head["significance_sigma"] > 5
    assert (tmp_path / "coherent-csi-2021" / "fit_projections.png").is_file()
    assert any(f["stem"] == "cevns_profile" for f in out["figures"])
