"""`cevns reproduce global --quick`: the global fit of COHERENT CsI 2017 + CONUS+ + XENONnT 8B + PandaX-4T 8B
(summary) (cevns/papers/global_fit)."""

import csv
import json
import sys

import numpy as np
import pytest

from cevns.analysis.hepdata_read import read_hepdata
from cevns.experiments import load_experiment
from cevns.papers.composers import COMPOSERS
from cevns.papers.registry import load_paper
from cevns.papers.run import run_paper
from cevns.papers.weak_mixing_figure import weak_mixing_points
from cevns.physics.weak_mixing import SIN2_THETA_W_Q0


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    for name, mod in list(sys.modules.items()):  # the per-scan standard figures are not needed here
        if name.startswith("cevns.") and callable(getattr(mod, "save_scan_figure", None)):
            mp.setattr(mod, "save_scan_figure", lambda *a, **k: None)
    out = tmp_path_factory.mktemp("global")
    try:
        summary = run_paper("global", out, grid_scale=0.3)
    finally:
        mp.undo()
    return out / "global", summary


def _interval(summary, key, cl="0.6827"):
    r = summary["scans"][key].result
    (pair,) = r["intervals"][cl]
    return r["best_fit"], pair


def test_every_figure_table_and_hepdata_is_written(run):
    folder, summary = run
    paper = load_paper("global")
    for fig in paper.figures:
        assert fig["kind"] in COMPOSERS
        assert (folder / f"{fig['id']}.png").stat().st_size > 0 and (folder / f"{fig['id']}.pdf").is_file()
    with open(folder / "bounds.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["scan"] for r in rows} == set(summary["scans"])
    rn = [r for r in rows if r["scan"] == "bsm_csi2017.rn"]
    assert rn and "arXiv:1710.02730" in rn[0]["published"] and rn[0]["data"].startswith("COHERENT CsI 2017")
    assert all("CONUS+" in r["data"] and "XENONnT 8B" in r["data"] and "PandaX" not in r["data"]
               for r in rows if r["scan"].startswith("bsm_combined."))
    assert all("PandaX-4T 8B (summary)" in r["data"] for r in rows if r["scan"] == "sin2w_combined.sin2_theta_w")
    # no solar data in the sterile fits (the engine's per-flavour survival is not the solar case)
    sterile = [r for r in rows if r["scan"].startswith("sterile_combined.")]
    assert sterile and not any("XENONnT" in r["data"] or "PandaX" in r["data"] for r in sterile)
    xe = [r for r in rows if r["scan"] == "sin2w_xenonnt.sin2_theta_w"]
    assert xe and "arXiv:2408.02877" in xe[0]["published"]
    # HEPData: every scan exported, and a contour read back equals the results.json one
    hd = read_hepdata(folder / "hepdata")
    assert {(s["analysis"], s["name"]) for s in hd["scans"]} == {
        (o.analysis, o.key) for o in summary["scans"].values()}
    (nsi,) = [s for s in hd["scans"] if s["name"] == "bsm_combined.nsi_ee"]
    ref = summary["scans"]["bsm_combined.nsi_ee"].result["contours"]["0.9"]
    assert len(nsi["contours"]["0.9"]) == len(ref)
    assert np.allclose(np.asarray(nsi["contours"]["0.9"][0]), np.asarray(ref[0]), rtol=0, atol=1e-12)


SINGLE = ("sin2w_csi2017", "sin2w_conus_plus", "sin2w_xenonnt", "sin2w_pandax")


def test_weak_mixing_per_experiment_and_combined(run):
    _, summary = run
    res = {k: _interval(summary, f"{k}.sin2_theta_w") for k in SINGLE + ("sin2w_combined",)}
    widths = {k: hi - lo for k, (_, (lo, hi)) in res.items()}
    assert widths["sin2w_combined"] < min(widths[k] for k in SINGLE)
    # the combined best fit lies between the single ones; the combined interval inside their hull
    b = {k: v[0] for k, v in res.items()}
    assert min(b[k] for k in SINGLE) < b["sin2w_combined"] < max(b[k] for k in SINGLE)
    lo_c, hi_c = res["sin2w_combined"][1]
    assert lo_c > min(res[k][1][0] for k in SINGLE)
    assert hi_c < max(res[k][1][1] for k in SINGLE)
    # the solar data alone: the SM inside their 68% intervals
    for k in ("sin2w_xenonnt", "sin2w_pandax"):
        assert res[k][1][0] < SIN2_THETA_W_Q0 < res[k][1][1]
    # the SM (low-Q MS-bar value) is inside the combined 90% CL interval
    (lo90, hi90), = summary["scans"]["sin2w_combined.sin2_theta_w"].result["intervals"]["0.9"]
    assert lo90 < SIN2_THETA_W_Q0 < hi90


def test_weak_mixing_points_sit_at_each_experiments_momentum_transfer(run):
    _, summary = run
    (fig,) = [f for f in load_paper("global").figures if f["kind"] == "weak_mixing_running"]
    pts = {p["scan"].split(".")[0]: p for p in weak_mixing_points(fig, summary["scans"])}
    csi, conus, comb = pts["sin2w_csi2017"], pts["sin2w_conus_plus"], pts["sin2w_combined"]
    xe, px = pts["sin2w_xenonnt"], pts["sin2w_pandax"]
    assert 30 < csi["q_mev"] < 80 and 5 < conus["q_mev"] < 20  # spallation on CsI vs reactor on Ge
    assert 15 < xe["q_mev"] < 25 and 8 < px["q_mev"] < 20  # solar 8B on Xe, 0.5-5 keVnr / > 0.33 keVnr
    assert (xe["q_mev"], xe["q_low_mev"], xe["q_high_mev"]) == pytest.approx(
        load_experiment("xenonnt-8b").momentum_transfer_mev(), rel=1e-12)
    assert conus["q_mev"] < comb["q_mev"] < csi["q_mev"]
    for p in pts.values():
        assert p["low"] <= p["best_fit"] <= p["high"] and p["q_low_mev"] <= p["q_mev"] <= p["q_high_mev"]
    with open(run[0] / f"{fig['id']}.csv") as fh:  # the figure's data next to it
        rows = {r["scan"]: r for r in csv.DictReader(fh)}
    assert float(rows["sin2w_csi2017.sin2_theta_w"]["q_mev"]) == pytest.approx(csi["q_mev"], rel=1e-12)


def test_neutron_radius_of_csi_against_the_published_fit(run):
    # Cadeddu et al. PRL 120 (2018) 072501 (arXiv:1710.02730), CsI 2017 spectrum: R_n = 5.5 +0.9 -1.1 fm;
    # our likelihood (Gaussian, 28% normalisation) is not theirs: compare at the level of the 1-sigma ranges
    best, (lo, hi) = _interval(run[1], "bsm_csi2017.rn")
    assert lo < 5.5 < hi
    assert abs(best - 5.5) < 1.0


def test_solar_data_constrain_both_flavours(run):
    # XENONnT alone: nu_e and nu_mu + nu_tau reach xenon, so the (eps_ee_uV, eps_mumu_uV) region is closed
    # (no eps_ee column allowed along the whole eps_mumu axis, unlike the reactor band)
    out = run[1]["scans"]["bsm_xenonnt.nsi_ee_mumu"]
    allowed = np.asarray(out.grid["dchi2"]) <= out.result["threshold"]["0.9"]
    assert allowed.any() and not allowed.all(axis=0).any() and not allowed.all(axis=1).any()
    assert not (allowed[0].any() or allowed[-1].any() or allowed[:, 0].any() or allowed[:, -1].any())


def test_combination_breaks_the_ee_mumu_degeneracy(run):
    # CONUS+ alone: a band along eps_mumu (reactor anti-nu_e only); combined: bounded in eps_mumu_uV
    _, summary = run
    grid = summary["scans"]["bsm_conus_plus.nsi_ee_mumu"].grid
    thr = summary["scans"]["bsm_conus_plus.nsi_ee_mumu"].result["threshold"]["0.9"]
    allowed = np.asarray(grid["dchi2"]) <= thr  # (ny = eps_mumu_uV, nx = eps_ee_uV)
    assert allowed.all(axis=0).any()  # some eps_ee column allowed for every eps_mumu
    comb = summary["scans"]["bsm_combined.nsi_ee_mumu"]
    allowed_c = np.asarray(comb.grid["dchi2"]) <= comb.result["threshold"]["0.9"]
    assert not allowed_c.all(axis=0).any()
    assert allowed_c.sum() < allowed.sum()


def test_combined_weak_mixing_fit_runs_the_angle_to_each_experiments_q(run):
    # [running] in sin2w_combined.toml: the fitted value is sin2_theta_w(0); each experiment's couplings use
    # it run to its mean |q|, shifts of -5.6e-5 .. -8.5e-5, far below the ~0.02 uncertainty of the combination
    _, summary = run
    out = summary["scans"]["sin2w_combined.sin2_theta_w"]
    resolved = json.loads((out.folder / "analysis.resolved.json").read_text())
    running = resolved["running"]
    assert running["reference"] == "Q0" and running["sm_value_at_reference"] == pytest.approx(SIN2_THETA_W_Q0)
    assert [e["label"] for e in running["experiments"]] == [e["label"] for e in resolved["analysis"]["experiments"]]
    for e in running["experiments"]:
        assert 5 < e["q_mev"] < 80 and -1e-4 < e["shift"] < -5e-5
    best, (lo, hi) = _interval(summary, "sin2w_combined.sin2_theta_w")
    assert hi - lo > 100 * max(abs(e["shift"]) for e in running["experiments"])
