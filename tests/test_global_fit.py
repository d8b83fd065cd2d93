"""`cevns reproduce global --quick`: the global fit of COHERENT CsI 2021 + LAr 2020 + CONUS+ + XENONnT 8B
(+ PandaX-4T 8B summary for sin2), with COHERENT CsI 2017 as a per-experiment comparison
(cevns/papers/global_fit)."""

import csv
import json
import sys

import numpy as np
import pytest

from cevns.analysis.hepdata_read import read_hepdata
from cevns.experiments import load_experiment
from cevns.papers.composers import COMPOSERS, compose_figure
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


def _first_scan(rows, stem):
    """The scan name of the first bounds row of an analysis file."""
    return next(r["scan"] for r in rows if r["scan"].startswith(f"{stem}.")).split(".", 1)[1]


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
    # every combination holds the full COHERENT data and never CsI 2017 (a subset of the CsI 2021 events)
    combined = [r for r in rows if r["scan"].split(".")[0].endswith("_combined")]
    assert {r["scan"].split(".")[0] for r in combined} == {"bsm_combined", "sin2w_combined", "sterile_combined"}
    assert all("COHERENT CsI 2021" in r["data"] and "COHERENT LAr 2020" in r["data"] and "2017" not in r["data"]
               for r in combined)
    for stem in ("bsm_combined", "sin2w_combined", "sterile_combined"):  # one SNS flux for CsI 2021 and LAr 2020
        res = json.loads((summary["scans"][f"{stem}.{_first_scan(rows, stem)}"].folder / "results.json").read_text())
        expected = {"sns_flux", "solar_8b_flux"} if stem == "sin2w_combined" else {"sns_flux"}  # + one 8B flux
        assert {c["name"] for c in res["correlations"]} == expected
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


SINGLE = ("sin2w_csi2021", "sin2w_ar2020", "sin2w_conus_plus", "sin2w_xenonnt", "sin2w_pandax")  # as combined


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


def _allowed(out, cl=None):
    """Boolean (ny, nx) grid of the points inside the allowed region of a 2D scan."""
    return np.asarray(out.grid["dchi2"]) <= out.threshold(cl)


def _area(out):
    """Area of the allowed region (grid cells inside it times the cell area)."""
    x, y = np.asarray(out.grid["x"]), np.asarray(out.grid["y"])
    return _allowed(out).sum() * (x[1] - x[0]) * (y[1] - y[0])


def _runs(mask):
    """Number of separate runs of True along a 1D boolean array."""
    m = np.asarray(mask, dtype=int)
    return int(np.sum(np.diff(np.concatenate([[0], m])) == 1))


def _q_zero_eps(z, n, eps_per_proton, eps_per_neutron):
    """The NSI value at which the nu_e vector charge Z (g_V^p + a eps) + N (g_V^n + b eps) vanishes (F = 1;
    radiative SM couplings g_V^p = 0.0305, g_V^n = -0.5120, PHYSICS.md 2 and 4)."""
    return -(z * 0.0305 - n * 0.5120) / (z * eps_per_proton + n * eps_per_neutron)


def _column(out, x0):
    """(y values, allowed mask) of a 2D scan along the grid column nearest x = x0."""
    x, y = np.asarray(out.grid["x"]), np.asarray(out.grid["y"])
    return y, _allowed(out)[:, int(np.argmin(np.abs(x - x0)))]


def _row(out, y0):
    """(x values, allowed mask) of a 2D scan along the grid row nearest y = y0."""
    x, y = np.asarray(out.grid["x"]), np.asarray(out.grid["y"])
    return x, _allowed(out)[int(np.argmin(np.abs(y - y0)))]


def _at(values, mask, v):
    """The mask at the grid value nearest v."""
    return bool(mask[int(np.argmin(np.abs(values - v)))])


def test_nsi_combination_shrinks_and_splits_the_single_regions(run):
    scans = run[1]["scans"]
    singles = ("bsm_csi2021", "bsm_ar2020", "bsm_conus_plus", "bsm_xenonnt")
    for plane in ("nsi_ee", "nsi_ee_mumu"):
        areas = {k: _area(scans[f"{k}.{plane}"]) for k in singles}
        assert 0 < _area(scans[f"bsm_combined.{plane}"]) < min(areas.values()), (plane, areas)
    # along eps_ee_uV = 0: CsI 2021 alone allows one eps_ee_dV band that joins the SM-like nu_e charge to the
    # sign-flipped one through Q_e = 0 (nu_e not scattering: 2/3 of the SNS flux is mu flavour); the
    # combination (the reactor and solar data see mostly nu_e) excludes Q_e ~ 0 and leaves two bands, the
    # SM-like and the sign flip (all targets have similar N/Z: the flip is not removed)
    d0 = _q_zero_eps(54, 76.0, 1.0, 2.0)  # CsI: Q_e = 0 at eps_ee_dV ~ 0.18 (eps_ee_uV = 0)
    y, csi = _column(scans["bsm_csi2021.nsi_ee"], 0.0)
    assert _runs(csi) == 1 and all(_at(y, csi, v) for v in (0.0, d0, 2 * d0))
    y, both = _column(scans["bsm_combined.nsi_ee"], 0.0)
    assert _runs(both) == 2 and _at(y, both, 0.0) and not _at(y, both, d0) and _at(y, both, 2 * d0)
    # (eps_ee_uV, eps_mumu_uV) along eps_mumu_uV = 0: CsI 2021 alone, one eps_ee run across Q_e = 0;
    # combined: Q_e ~ 0 excluded, two runs (and the same above, at the flipped nu_mu charge: four islands)
    u0 = _q_zero_eps(54, 76.0, 2.0, 1.0)  # eps_ee_uV ~ 0.20
    for y0 in (0.0, 2 * _q_zero_eps(54, 76.0, 2.0, 1.0)):
        x, csi = _row(scans["bsm_csi2021.nsi_ee_mumu"], y0)
        assert _runs(csi) == 1 and _at(x, csi, u0), y0
        x, both = _row(scans["bsm_combined.nsi_ee_mumu"], y0)
        assert _runs(both) == 2 and not _at(x, both, u0) and _at(x, both, 0.0) and _at(x, both, 2 * u0), y0


def test_intervals_are_closed_inside_the_scanned_ranges(run):
    # the ranges contain each data set's 90% CL bounds: an interval reaching the grid edge would be reported as
    # open; mu_nu starts at its physical boundary 0
    scans = run[1]["scans"]
    keys = [k for k in scans if k.split(".")[1] in ("mu_nu_e", "mu_nu_mu", "r2_nu_e", "r2_nu_mu")]
    assert len(keys) == 18
    for k in keys:
        r = scans[k].result
        for (lo, hi), (lo_open, hi_open) in zip(r["intervals"]["0.9"], r["open_ends"]["0.9"]):
            assert not hi_open, k
            assert not lo_open or (k.split(".")[1].startswith("mu_nu") and lo == 0.0), k


def test_rn_sin2w_of_csi2021_runs_along_the_correlation(run):
    # a larger neutron radius lowers the rate (F_N(q) falls), a larger sin2 raises it (tree level:
    # |Q_V| = (N - (1 - 4 s^2) Z) / 2 grows with s^2): the allowed band rises with R_n
    out = run[1]["scans"]["sin2w_csi2021.rn_sin2w"]
    ok = _allowed(out, 0.9)  # (n_sin2, n_rn)
    x, y = np.asarray(out.grid["x"]), np.asarray(out.grid["y"])
    cols = [i for i in range(len(x)) if ok[:, i].any()]
    centre = np.array([y[ok[:, i]].mean() for i in cols])
    assert len(cols) >= 5 and np.corrcoef(x[cols], centre)[0, 1] > 0.9
    # the SM value lies inside at the 1D best-fit radius of the same data (rn_csi2021 at sin2 = 0.23857)
    best_rn = run[1]["scans"]["rn_csi2021.rn"].result["best_fit"]
    best_rn = best_rn[0] if isinstance(best_rn, (list, tuple)) else best_rn
    assert ok[int(np.argmin(np.abs(y - SIN2_THETA_W_Q0))), int(np.argmin(np.abs(x - best_rn)))]


def test_mediator_figure_draws_every_data_set(run):
    # kind "exclusion_fill": the combined scan filled, the single data sets as further exclusion curves
    (spec,) = [f for f in load_paper("global").figures if f["id"] == "fig7_light_mediators"]
    fig = compose_figure(spec, run[1]["scans"])
    for ax in fig.axes:
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        assert "combined: all couplings above excluded" in labels
        assert {"CsI 2021", "LAr 2020", "CONUS+", "XENONnT 8B"} <= set(labels)
