"""[running] in analysis files: sin2_theta_w shared through its SM running between experiments at different |q|."""

import json

import numpy as np
import pytest
from scipy.optimize import brentq, minimize_scalar

from cevns.analysis import build_likelihood, load_analysis, run_analysis
from cevns.analysis.fit import template_fit
from cevns.analysis.running import running_shifts, running_summary
from cevns.engine.momentum import mean_momentum_transfer_mev, momentum_distribution_mev
from cevns.errors import ConfigError
from cevns.experiments import load_experiment
from cevns.experiments.momentum import experiment_momentum_transfer_mev
from cevns.papers.results import ScanOutput
from cevns.papers.weak_mixing_figure import weak_mixing_points
from cevns.physics.constants import ALPHA, M_E_MEV
from cevns.physics.weak_mixing import M_Z_MEV, SIN2_THETA_W_Q0, sin2_theta_w_running
from cevns.stats.parameter_shifts import ParameterShift, shifted_point

TREE = {"coupling_scheme": "tree"}


def _counter(label, mass_kg, q=None, **extra):
    """A CONUS+-like Gaussian counting experiment with Asimov data (no systematics)."""
    e = {"experiment": "conus-plus", "label": label, "likelihood": "gaussian", "data": "asimov",
         "overrides": {"detector": {"mass_kg": mass_kg}}, "settings": dict(TREE), "use_experiment_systematics": False}
    if q is not None:
        e["momentum_transfer_mev"] = q
    e.update(extra)
    return e


def _doc(experiments, reference=None, **extra):
    d = {"schema_version": 1, "name": "running-toy", "experiments": experiments}
    if reference is not None:
        d["running"] = {"sin2_theta_w": {"reference": reference}}
    d.update(extra)
    return d


def _electron_only(q_mev):
    """Closed-form LO running below the first hadronic threshold (only the electron active):
    (s^2 - 1/4) / alpha is constant and 1/alpha(q) = 1/alpha - 2/(3 pi) ln(q / m_e)."""
    alpha_q = 1.0 / (1.0 / ALPHA - 2.0 / (3.0 * np.pi) * np.log(q_mev / M_E_MEV))
    return 0.25 + (SIN2_THETA_W_Q0 - 0.25) * alpha_q / ALPHA


def _best_fit(lik, lo=0.2, hi=0.28):
    f = lambda s: float(lik.chi2({"sin2_theta_w": s})[0])
    r = minimize_scalar(f, bounds=(lo, hi), method="bounded", options={"xatol": 1e-11})
    return r.x, r.fun, f


def test_shift_is_the_running_curve_difference():
    doc = _doc([{"experiment": "coherent-csi-2017", "likelihood": "gaussian", "settings": TREE},
                {"experiment": "conus-plus", "likelihood": "gaussian", "settings": TREE}], reference="Q0")
    spec = load_analysis(doc)
    summary = running_summary(spec)
    assert summary["reference"] == "Q0" and summary["reference_q_mev"] == 0.0
    assert summary["sm_value_at_reference"] == pytest.approx(SIN2_THETA_W_Q0, abs=1e-12)
    for name, row in zip(("coherent-csi-2017", "conus-plus"), summary["experiments"]):
        # q from the engine directly; the shift from the closed form of the electron-only interval
        q = mean_momentum_transfer_mev(load_experiment(name, settings=TREE).engine)
        assert row["q_mev"] == pytest.approx(q, rel=1e-12)
        assert row["shift"] == pytest.approx(_electron_only(q) - SIN2_THETA_W_Q0, rel=1e-6)
        assert -1e-4 < row["shift"] < -5e-5
    # the same entries against the Z mass: shifted by the whole running 0 -> M_Z (LO: 0.23076)
    mz = running_summary(load_analysis(_doc(doc["experiments"], reference="MZ")))
    for a, b in zip(summary["experiments"], mz["experiments"]):
        assert b["shift"] - a["shift"] == pytest.approx(SIN2_THETA_W_Q0 - 0.23076, abs=1e-5)
    # and the term's couplings see the shifted value: its signal at s is the unshifted signal at s + shift
    lik, plain = build_likelihood(spec), build_likelihood(_doc(doc["experiments"]))
    s = np.array([0.2, 0.25])
    for t, row, ref in zip(lik.signals({"sin2_theta_w": s}), summary["experiments"], plain.terms):
        np.testing.assert_allclose(t, ref.signal({"sin2_theta_w": s + row["shift"]}, 2), rtol=1e-12)


def test_running_off_is_unchanged_to_1e12():
    # (the Asimov truth is given: without it, [running] takes the SM value s2_run(q_i), not the file's default)
    exps = [_counter("A", 2830.0), _counter("B", 5000.0)]
    truth = {"sin2_theta_w": 0.2312}
    plain = load_analysis(_doc(exps, fixed=truth))
    d = plain.to_dict()
    assert "running" not in d and all("momentum_transfer_mev" not in e for e in d["experiments"])
    assert running_shifts(plain) == {} and all(t.parameter_shifts == () for t in build_likelihood(plain).terms)
    flat = {"sin2_theta_w": np.array([0.2, 0.3])}
    assert shifted_point(flat, ()) is flat
    # running with every experiment at the reference scale: zero shifts, the same chi^2
    same = _doc([_counter("A", 2830.0, q=30.0), _counter("B", 5000.0, q=30.0)], reference=30.0, fixed=truth)
    x = np.linspace(0.15, 0.35, 41)
    a = build_likelihood(plain).chi2({"sin2_theta_w": x})
    b = build_likelihood(same).chi2({"sin2_theta_w": x})
    np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12)


def test_two_experiments_at_very_different_q_hand_calculation():
    # A at q -> 0, B at M_Z: B's couplings see s_ref + (s2(M_Z) - s2(0)) = s_ref - 0.0078. Asimov data from
    # the running with s_ref = 0.23857: the running fit returns s_ref with chi2 = 0; the tree fit of the same
    # data returns the inverse-variance weighted mean of the two truths (hand calculation, linear order).
    s0 = 0.23857
    delta_b = float(sin2_theta_w_running(M_Z_MEV) - sin2_theta_w_running(0.0))
    run = build_likelihood(_doc([_counter("A", 2830.0, q=0.0), _counter("B", 5000.0, q=M_Z_MEV)],
                                reference="Q0", fixed={"sin2_theta_w": s0}))
    assert [t.parameter_shifts[0].delta for t in run.terms] == pytest.approx([0.0, delta_b], abs=1e-15)
    x_run, chi_run, f_run = _best_fit(run)
    assert x_run == pytest.approx(s0, abs=1e-7) and chi_run < 1e-9
    truths = (s0, s0 + delta_b)
    singles = [build_likelihood(_doc([_counter(lab, m, asimov_parameters={"sin2_theta_w": t})]))
               for lab, m, t in (("A", 2830.0, truths[0]), ("B", 5000.0, truths[1]))]
    tree = build_likelihood(_doc([_counter("A", 2830.0, asimov_parameters={"sin2_theta_w": truths[0]}),
                                  _counter("B", 5000.0, asimov_parameters={"sin2_theta_w": truths[1]})]))
    for t_run, t_tree in zip(run.terms, tree.terms):  # the same Asimov data
        np.testing.assert_allclose(t_run.observed, t_tree.observed, rtol=1e-12)
    # the running chi^2 is the sum of the single chi^2 at the shifted arguments, exactly
    for s in (0.22, 0.235, 0.25):
        want = float(singles[0].chi2({"sin2_theta_w": s})[0] + singles[1].chi2({"sin2_theta_w": s + delta_b})[0])
        assert f_run(s) == pytest.approx(want, rel=1e-10)
    # weights 1 / sigma_i^2 from each single fit (Delta chi2 = 1 half-widths)
    w = []
    for lik, t in zip(singles, truths):
        f = lambda s, lik=lik: float(lik.chi2({"sin2_theta_w": s})[0]) - 1.0
        lo, hi = brentq(f, t - 0.05, t), brentq(f, t, t + 0.05)
        w.append(1.0 / (0.5 * (hi - lo)) ** 2)
    w = np.array(w)
    hand = float(np.sum(w * np.array(truths)) / np.sum(w))
    x_tree, _, _ = _best_fit(tree)
    assert abs(truths[0] - truths[1]) > 10 * abs(x_tree - hand)
    assert x_tree - x_run == pytest.approx(delta_b * w[1] / w.sum(), rel=0.03)


def test_real_pair_moves_by_the_weighted_mean_shift():
    # COHERENT CsI 2017 (~55 MeV) and CONUS+ (~12 MeV), observed data: with reference Q0 the best fit moves up
    # by minus a weighted mean of the two shifts (both -5.6e-5 .. -8.4e-5), far below the errors (~0.02+)
    exps = [{"experiment": "coherent-csi-2017", "likelihood": "gaussian", "settings": TREE},
            {"experiment": "conus-plus", "likelihood": "gaussian", "settings": TREE}]
    spec = load_analysis(_doc(exps, reference="Q0"))
    shifts = [r["shift"] for r in running_summary(spec)["experiments"]]
    x_run = _best_fit(build_likelihood(spec), 0.15, 0.3)[0]
    x_tree = _best_fit(build_likelihood(_doc(exps)), 0.15, 0.3)[0]
    assert -max(shifts) - 1e-7 <= x_run - x_tree <= -min(shifts) + 1e-7


def test_per_recoil_running_is_negligible():
    # running at each recoil node instead of at the event-weighted mean q: < 6e-7 in the averaged shift
    for name in ("coherent-csi-2017", "conus-plus"):
        q, w = momentum_distribution_mev(load_experiment(name, settings=TREE).engine)
        mean_q = float(np.sum(q * w) / np.sum(w))
        per_node = float(np.sum(sin2_theta_w_running(q) * w) / np.sum(w))
        at_mean = float(sin2_theta_w_running(mean_q))
        assert abs(per_node - at_mean) < 6e-7
        assert abs(per_node - at_mean) < 0.01 * abs(at_mean - SIN2_THETA_W_Q0)


def test_experiment_q_covers_engine_and_plugin_kinds():
    csi = load_experiment("coherent-csi-2017")
    mean, lo, hi = experiment_momentum_transfer_mev(csi)
    assert mean == pytest.approx(mean_momentum_transfer_mev(csi.engine), rel=1e-12) and lo < mean < hi
    xe = load_experiment("xenonnt-8b")
    assert experiment_momentum_transfer_mev(xe) == pytest.approx(xe.momentum_transfer_mev(), rel=1e-12)


def test_running_is_listed_in_the_outputs(tmp_path):
    scan = {"name": "s2w", "parameters": ["sin2_theta_w"], "ranges": [[0.2, 0.28]], "points": [9]}
    doc = _doc([_counter("A", 2830.0, q=10.0), _counter("B", 5000.0)], reference="MZ", scans=[scan])
    res = run_analysis(doc, tmp_path, progress=False)
    run = res["running"]
    assert run["parameter"] == "sin2_theta_w" and run["reference"] == "MZ" and run["reference_q_mev"] == M_Z_MEV
    a, b = run["experiments"]
    assert a["label"] == "A" and a["q_mev"] == 10.0
    assert a["shift"] == pytest.approx(float(sin2_theta_w_running(10.0) - sin2_theta_w_running(M_Z_MEV)), rel=1e-12)
    assert b["q_mev"] == pytest.approx(experiment_momentum_transfer_mev(
        load_experiment("conus-plus", overrides={"detector": {"mass_kg": 5000.0}}, settings=TREE))[0], rel=1e-12)
    resolved = json.loads((tmp_path / "analysis.resolved.json").read_text())
    assert resolved["running"] == run
    assert resolved["analysis"]["running"] == {"sin2_theta_w": {"reference": "MZ"}}
    # the filled-in q travels with the resolved analysis (dask workers rebuild from it, no recomputation)
    assert [e["momentum_transfer_mev"] for e in resolved["analysis"]["experiments"]] == [10.0, b["q_mev"]]
    again = load_analysis(resolved["analysis"])
    assert running_shifts(again) == running_shifts(load_analysis(doc))


def test_weak_mixing_figure_draws_a_running_fit_at_its_q(tmp_path):
    # a fit of the value at M_Z is drawn at the experiment's q, moved along the running curve
    result = {"best_fit": 0.2307, "intervals": {"0.6827": [[0.21, 0.25]]}}
    fig = {"id": "wm", "panels": [{"curves": [{"scan": "a.s", "experiments": ["conus-plus"]}]}]}
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "analysis.resolved.json").write_text(json.dumps({"analysis": {}}))
    run = tmp_path / "run"
    run.mkdir()
    (run / "analysis.resolved.json").write_text(json.dumps({"running": {"reference_q_mev": M_Z_MEV}}))
    rows = {}
    summaries = {"plain": None, "run": {"reference_q_mev": M_Z_MEV}}  # the results.json "running" block
    for name, folder in (("plain", plain), ("run", run)):
        out = ScanOutput(stem="a", analysis="a", name="s", result=result, grid={}, folder=folder,
                         running=summaries[name])
        rows[name], = weak_mixing_points(fig, {"a.s": out})
    q = rows["plain"]["q_mev"]
    assert rows["plain"]["running_shift"] == 0.0 and rows["plain"]["best_fit"] == 0.2307
    shift = float(sin2_theta_w_running(q) - sin2_theta_w_running(M_Z_MEV))
    assert rows["run"]["running_shift"] == pytest.approx(shift, rel=1e-12) and shift > 0.0077
    for k, v in (("best_fit", 0.2307), ("low", 0.21), ("high", 0.25)):
        assert rows["run"][k] == pytest.approx(v + shift, abs=1e-15)


@pytest.mark.parametrize("change, message", [
    ({"running": {"sin2_theta_w": {"reference": "Q1"}}}, r"running\.sin2_theta_w\.reference: reference must be"),
    ({"running": {"sin2_theta_w": {"reference": -5.0}}}, r"running\.sin2_theta_w\.reference: reference must be"),
    ({"running": {"sin2_theta_w": {"reference": 1e6}}}, r"running\.sin2_theta_w\.reference: reference must be"),
    ({"running": {"sin2_theta_w": {"reference": True}}}, r"running\.sin2_theta_w\.reference: reference must be"),
    ({"running": {"sin2_theta_w": {}}}, r"running\.sin2_theta_w\.reference: Field required"),
    ({"running": {"g_mu": {"reference": "Q0"}, "sin2_theta_w": {"reference": "Q0"}}}, r"running\.g_mu"),
    ({"experiments": [_counter("A", 1.0, q=10.0)]}, r"experiments\[0\]\.momentum_transfer_mev: is only used by"),
    ({"running": {"sin2_theta_w": {"reference": "Q0"}}, "experiments": [_counter("A", 1.0, q=-1.0)]},
     r"experiments\[0\]\.momentum_transfer_mev"),
    ({"running": {"sin2_theta_w": {"reference": "Q0"}}, "experiments": [_counter("A", 1.0, q=1e6)]},
     r"experiments\[0\]\.momentum_transfer_mev: must be in \[0, M_Z"),
    ({"running": {"sin2_theta_w": {"reference": "Q0"}},
      "experiments": [_counter("A", 1.0, settings={"coupling_scheme": "radiative"})]},
     r"experiments\[0\]\.settings: \[running\] sin2_theta_w needs tree-level couplings"),
])
def test_bad_running_options(tmp_path, change, message):
    doc = _doc([_counter("A", 1.0)])
    doc.update(change)
    with pytest.raises(ConfigError, match=message):
        load_analysis(doc)
    # from a file, the message names the file
    path = tmp_path / "bad.toml"
    path.write_text(_toml(doc))
    with pytest.raises(ConfigError, match=r"bad\.toml: "):
        load_analysis(path)


def test_template_fit_refuses_running():
    with pytest.raises(ConfigError, match=r"\[running\] applies to scans"):
        template_fit(_doc([_counter("A", 1.0)], reference="Q0"))


def test_parameter_shift_rejects_non_finite():
    with pytest.raises(ValueError, match="finite"):
        ParameterShift("sin2_theta_w", float("nan"), 0.23)


def _toml(doc) -> str:
    """A tiny TOML writer for the test documents (tables, inline tables, arrays of tables)."""
    def val(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return json.dumps(v)
        if isinstance(v, int):
            return str(v)
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{k} = {val(x)}" for k, x in v.items()) + " }"
        if isinstance(v, list):
            return "[" + ", ".join(val(x) for x in v) + "]"
        return repr(float(v))
    lines = [f"{k} = {val(v)}" for k, v in doc.items() if not isinstance(v, (dict, list)) or k == "fixed"]
    for k, v in doc.items():
        if isinstance(v, dict) and k != "fixed":
            lines.append(f"[{k}]")
            lines.extend(f"{kk} = {val(vv)}" for kk, vv in v.items())
        elif isinstance(v, list):
            for item in v:
                lines.append(f"[[{k}]]")
                lines.extend(f"{kk} = {val(vv)}" for kk, vv in item.items())
    return "\n".join(lines) + "\n"
