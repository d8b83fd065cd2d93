"""`cevns predict` for every built-in experiment, including the template kinds (COHERENT CsI 2021 / LAr 2020)
and XENONnT 8B: finite JSON, totals that add up along every axis, BSM parameters that move CEvNS but not the
backgrounds, the published predictions, and clean errors for what these kinds cannot do."""

import json
import math

import numpy as np
import pytest

from cevns.cli import run
from cevns.experiments import builtin_experiments, load_experiment

TEMPLATES = ["coherent-csi-2021", "coherent-ar-2020"]
PLUGINS = TEMPLATES + ["xenonnt-8b"]


def _reject_constant(name):
    raise ValueError(f"non-finite number {name} in the JSON output")


def _numbers(obj):
    if isinstance(obj, bool) or obj is None or isinstance(obj, str):
        return
    if isinstance(obj, (int, float)):
        yield float(obj)
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _numbers(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _numbers(v)


_CACHE: dict = {}


def predict_json(capsys, name, *sets):
    """``cevns predict NAME --json [--set ...]`` -> parsed document (exit code 0 asserted)."""
    key = (name,) + sets
    if key not in _CACHE:
        args = ["predict", name, "--json"] + [a for s in sets for a in ("--set", s)]
        code = run(args)
        out = capsys.readouterr()
        assert code == 0, out.err
        _CACHE[key] = json.loads(out.out, parse_constant=_reject_constant)
    return _CACHE[key]


@pytest.mark.parametrize("name", sorted(builtin_experiments()))
def test_every_builtin_experiment_predicts_finite_json(capsys, name):
    doc = predict_json(capsys, name)
    assert doc["experiment"] == name
    assert all(math.isfinite(x) for x in _numbers(doc))
    assert doc["total"] >= 0 and doc["bins"]
    assert sum(b["events"] for b in doc["bins"]) == pytest.approx(doc["total"], rel=1e-9)


@pytest.mark.parametrize("name", TEMPLATES)
def test_template_total_adds_up_and_equals_experiment_total(capsys, name):
    doc = predict_json(capsys, name)
    exp = load_experiment(name)
    total = doc["total"]
    assert total == pytest.approx(float(exp.total({})[0]), rel=1e-12)
    # the nominal likelihood template (a separate code path: flavours summed before the time rows)
    nominal, _ = exp.cevns_templates({}, 1)
    assert total == pytest.approx(float(nominal.sum()), rel=1e-10)
    assert sum(doc["by_flavor"].values()) == pytest.approx(total, rel=1e-12)
    assert float(np.sum(doc["grid"]["cevns"])) == pytest.approx(total, rel=1e-12)
    for tab in doc["tables"]:  # every projection (PE / energy, F90, time) sums to the same totals
        assert sum(r["cevns"] for r in tab["rows"]) == pytest.approx(total, rel=1e-10)
        assert sum(r["observed"] for r in tab["rows"]) == pytest.approx(doc["observed"], rel=1e-12)
        for bg, events in doc["backgrounds"].items():
            assert sum(r[bg] for r in tab["rows"]) == pytest.approx(events, rel=1e-10)
    assert doc["observed"] == pytest.approx(float(exp.observed.sum()))
    # the released background normalisations are shown as they are (nominal, not fitted)
    for b in exp.background_inputs:
        assert doc["backgrounds"][b["name"]] == pytest.approx(float(np.sum(b["nominal"])), rel=1e-12)
    assert 0 < doc["uncertainty"]["relative"] < 0.5


def test_csi_2021_bins_and_published_prediction(capsys):
    doc = predict_json(capsys, "coherent-csi-2021")
    assert [b["low"] for b in doc["bins"]] == load_experiment("coherent-csi-2021").axes[0]["edges"][:-1]
    assert set(doc["backgrounds"]) == {"brn", "nin", "steady_state"}
    assert doc["backgrounds"]["steady_state"] == pytest.approx(1295.0)  # anti-coincidence events (released)
    sm = predict_json(capsys, "coherent-csi-2021", "sin2_theta_w=0.23857")["total"]
    assert abs(sm - 341.0) < 42.0  # published SM 341 +- 11 (th) +- 42 (exp), arXiv:2110.07730


def test_ar_2020_published_prediction(capsys):
    doc = predict_json(capsys, "coherent-ar-2020", "sin2_theta_w=0.23857")
    assert [t["axis"] for t in doc["tables"]] == ["energy", "f90", "t"]
    assert abs(doc["total"] - 128.0) < 17.0  # published 128 +- 17, arXiv:2003.10630


@pytest.mark.parametrize("name", TEMPLATES)
def test_nsi_ee_changes_only_nu_e_and_not_the_backgrounds(capsys, name):
    sm = predict_json(capsys, name)
    bsm = predict_json(capsys, name, "eps_ee_uV=0.3")
    assert abs(bsm["total"] - sm["total"]) > 0.05 * sm["total"]
    assert bsm["backgrounds"] == sm["backgrounds"] and bsm["observed"] == sm["observed"]
    # eps_ee acts on electron neutrinos only
    assert abs(bsm["by_flavor"]["nu_e"] - sm["by_flavor"]["nu_e"]) > 0.05 * sm["by_flavor"]["nu_e"]
    for f in ("nu_mu", "nu_mu_bar"):
        assert bsm["by_flavor"][f] == pytest.approx(sm["by_flavor"][f], rel=1e-12)
    assert bsm["settings"]["parameters"]["eps_ee_uV"] == 0.3


def test_xenonnt_8b_components_runs_and_published_expectation(capsys):
    doc = predict_json(capsys, "xenonnt-8b")
    exp = load_experiment("xenonnt-8b")
    total = doc["total"]
    assert total == pytest.approx(float(exp.signal_events({}).sum()), rel=1e-12)
    assert sum(doc["by_component"].values()) == pytest.approx(total, rel=1e-12)
    rows = doc["tables"][0]["rows"]
    assert [r["label"] for r in rows] == list(exp.runs)
    assert sum(r["cevns"] for r in rows) == pytest.approx(total, rel=1e-12)
    assert sum(r["observed"] for r in rows) == doc["observed"] == 37
    for k, v in exp.backgrounds.items():
        assert doc["backgrounds"][k] == pytest.approx(float(v.sum()), rel=1e-12)
    assert doc["by_component"]["hep"] < 0.05 * doc["by_component"]["8B"]
    assert abs(total - 10.7) < 4.2  # published 10.7 +3.7 -4.2 in SR0+SR1, arXiv:2408.02877
    bsm = predict_json(capsys, "xenonnt-8b", "eps_ee_uV=0.3")
    assert bsm["total"] != pytest.approx(total, rel=1e-3) and bsm["backgrounds"] == doc["backgrounds"]


@pytest.mark.parametrize("name", PLUGINS)
def test_text_output(capsys, name):
    assert run(["predict", name]) == 0
    out = capsys.readouterr().out
    assert "expected CEvNS events in" in out and "backgrounds (nominal, not fitted)" in out
    assert "nan" not in out.lower()


def _one_error_line(capsys, args, needle):
    code = run(args)
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], err
    assert "internal error" not in err and "Traceback" not in err


@pytest.mark.parametrize("name", PLUGINS)
@pytest.mark.parametrize("item, needle", [("eps_nosuch=0.1", "unknown parameter"), ("=1", "name before"),
                                          ("eps_ee_uV=abc", "needs a number"), ("sin2_theta_w=2", "sin2_theta_w")])
def test_bad_set_names_one_error_line(capsys, name, item, needle):
    _one_error_line(capsys, ["predict", name, "--set", item], needle)


def test_counting_channels_are_named(capsys):
    doc = predict_json(capsys, "pandax-4t-8b")
    assert [b["label"] for b in doc["bins"]] == ["paired", "us2"]
    assert doc["observed"] == 335 and doc["observed_what"] == "observed events"  # raw counts, not subtracted


@pytest.mark.parametrize("name", PLUGINS + ["pandax-4t-8b"])
def test_plot_spectrum_explains_why_not(capsys, tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    _one_error_line(capsys, ["plot-spectrum", name, "--out", "f.png"], f"cevns predict {name}")
    assert not (tmp_path / "f.png").exists()


def test_no_time_cut_on_templates(capsys):
    _one_error_line(capsys, ["predict", "coherent-csi-2021", "--no-time-cut"], "per time bin")
