"""A reduced-grid reproduction of both seed papers: the shape of every result and the output folder.

The per-scan standard figures of ``run_analysis`` are switched off here (they are tested with the
scan engine); the composed paper figures, tables and index are produced as in a full run. The arrays
come from the in-memory results (``run_paper(...)["scans"]``), never from re-reading the CSV files.
"""

import json
import re
import sys

import numpy as np
import pytest

import cevns.analysis  # noqa: F401  (loads the scan runner before the fixture switches its figures off)
import cevns.plotting.scans  # noqa: F401
from cevns.errors import ConfigError
from cevns.papers import reproduce as rp

PK = "papoulias-kosmas"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    # switch off the per-scan standard figures wherever the scan runner has imported them from
    for name, mod in list(sys.modules.items()):
        if name.startswith("cevns.") and callable(getattr(mod, "save_scan_figure", None)):
            mp.setattr(mod, "save_scan_figure", lambda *a, **k: None)
    out = tmp_path_factory.mktemp("reproduce")
    try:
        summary = rp.reproduce(out, quick=True)
    finally:
        mp.undo()
    assert set(summary["papers"]) == set(rp.PAPERS)
    return out, summary


@pytest.fixture(scope="module")
def outdir(run):
    return run[0]


def _out(run, paper, stem, scan):
    return run[1]["papers"][paper]["scans"][f"{stem}.{scan}"]


def _grid(run, paper, stem, scan):
    return _out(run, paper, stem, scan).grid


def _scan(outdir, paper, stem, scan):
    res = json.loads((outdir / paper / "results.json").read_text())
    (s,) = [s for s in res["scans"] if s["name"] == f"{stem}.{scan}"]
    return s


def test_weak_mixing_interval_contains_sm(outdir):
    s = _scan(outdir, PK, "fig2_weak_mixing", "sin2_theta_w")
    ((lo, hi),) = s["intervals"]["0.9"]
    assert lo < 0.2312 < hi
    assert 0.08 < lo < 0.2 and 0.26 < hi < 0.4  # CsI 2017: a broad interval, not the whole scan
    assert lo < s["best_fit"] < hi


def _allowed(g, threshold):
    return g["dchi2"] <= threshold


@pytest.mark.parametrize("scan", ["nsi_ee", "nsi_mumu"])
def test_nsi_regions_are_bands_with_sm_and_stat_tighter(run, outdir, scan):
    t = _scan(outdir, PK, "fig4_nsi_2d_pulls", scan)["threshold"]["0.9"]
    assert t == pytest.approx(4.605, abs=1e-3)  # 90% CL, 2 dof
    gp, gs = _grid(run, PK, "fig4_nsi_2d_pulls", scan), _grid(run, PK, "fig4_nsi_2d_stat", scan)
    ap, as_ = _allowed(gp, t), _allowed(gs, t)
    for g, a in ((gp, ap), (gs, as_)):
        ix0 = int(np.argmin(np.abs(g["x"])))
        iy0 = int(np.argmin(np.abs(g["y"])))
        assert a[iy0, ix0], "the SM point is allowed"
        # a band: it crosses the whole scanned square (allowed points on the left and right edges)
        assert a[:, 0].any() and a[:, -1].any()
        assert 0.02 < a.mean() < 0.9  # neither empty nor everything
        # it runs along the direction Z(2u + d) + N(u + 2d) = const: u and d anti-correlated
        iy, ix = np.nonzero(a)
        assert np.corrcoef(g["x"][ix], g["y"][iy])[0, 1] < -0.5
    # statistics only is tighter: fewer allowed points, all inside the region with pulls
    assert as_.sum() < ap.sum()
    assert np.all(ap[as_])


def test_magnetic_moment_bounds_are_upper_limits(run, outdir):
    for scan in ("mu_nu_e", "mu_nu_mu", "mu_nu_universal"):
        s = _scan(outdir, PK, "fig5_magnetic_moment", scan)
        ((lo, hi),) = s["intervals"]["0.9"]
        assert lo == 0.0 and s["best_fit"] == pytest.approx(0.0, abs=1e-12)
        assert 1e-9 < hi < 1e-8
        g = _grid(run, PK, "fig5_magnetic_moment", scan)
        assert np.all(np.diff(g["dchi2"]) >= -1e-9)  # grows monotonically with mu
    # the universal moment acts on every flavour: the tightest
    ups = {sc: _scan(outdir, PK, "fig5_magnetic_moment", sc)["intervals"]["0.9"][0][1]
           for sc in ("mu_nu_e", "mu_nu_mu", "mu_nu_universal")}
    assert ups["mu_nu_universal"] < ups["mu_nu_mu"] < ups["mu_nu_e"]


def _region_points(run, stem, scan, t=2.2957):
    g = _grid(run, "canas", stem, scan)
    return g, _allowed(g, t)


def test_nai_connie_combination_is_tighter(run):
    gn, an = _region_points(run, "fig2_right_nai", "rn_eps_nai")
    gc, ac = _region_points(run, "fig2_right_connie", "rn_eps_connie")
    gb, ab = _region_points(run, "fig2_right_nai_connie", "rn_eps_nai_connie")
    assert ab.any()
    assert ab.sum() < an.sum() and ab.sum() < ac.sum()
    assert np.all(an[ab]) and np.all(ac[ab])  # inside both
    # CONNIE alone does not constrain the iodine neutron radius (reactor: F ~ 1); the combination does
    assert ac.any(axis=0).all()
    assert not ab.any(axis=0).all()


def test_deviation_scenario_moves_the_allowed_neutron_radius(run):
    centres = {}
    for stem in ("fig2_right_nai_connie", "fig2_right_nai_connie_minus30", "fig2_right_nai_connie_plus30"):
        scan = "rn_eps_" + stem.removeprefix("fig2_right_")
        g, a = _region_points(run, stem, scan)
        x, y = np.meshgrid(g["x"], g["y"])
        branch = a & (np.abs(y) < 0.1)  # the branch around eps_ee_dV ~ 0
        assert branch.any()
        centres[stem] = x[branch].mean()
    step = float(np.diff(g["x"])[0])
    # fewer CONNIE events -> eps_ee_dV > 0 -> fewer nu_e events in NaI -> smaller R_n (and vice versa)
    assert centres["fig2_right_nai_connie_minus30"] < centres["fig2_right_nai_connie"] - step / 2
    assert centres["fig2_right_nai_connie_plus30"] > centres["fig2_right_nai_connie"] + step / 2


def test_reactor_combination_is_tighter_than_each(run):
    t = 4.605
    _, a1 = _region_points(run, "fig1_conus", "nsi_ee_conus", t)
    _, a2 = _region_points(run, "fig1_connie", "nsi_ee_connie", t)
    _, ab = _region_points(run, "fig1_combined", "nsi_ee_combined", t)
    assert 0 < ab.sum() < min(a1.sum(), a2.sum())


def test_in_memory_grids_match_the_written_csv(run):
    """The composers' arrays are the scan's: equal to the CSV that run_analysis writes (12 digits)."""
    out = _out(run, PK, "fig4_nsi_2d_pulls", "nsi_ee")
    arr = np.loadtxt(out.folder / "nsi_ee.csv", delimiter=",", skiprows=1)
    g = out.grid
    assert arr.shape[0] == g["x"].size * g["y"].size
    np.testing.assert_allclose(arr[:, 2], g["dchi2"].reshape(-1), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(arr[: g["x"].size, 0], g["x"], rtol=1e-10)


def test_sterile_raster_exclusion_uses_one_dof_threshold(run, outdir):
    """Issue 8 item 3a: a raster exclusion (minimum per dm41_sq column) is a 1-parameter test."""
    from scipy.stats import chi2

    for stem in ("fig6_sterile_pulls", "fig6_sterile_stat"):
        for scan in ("sterile_e", "sterile_mu"):
            s = _scan(outdir, PK, stem, scan)
            assert s["exclusion_method"] == "raster" and s["dof"] == 1
            assert s["threshold"]["0.9"] == pytest.approx(chi2.ppf(0.9, 1), rel=1e-9)
    # the raster curve is where dchi2 relative to each column's minimum crosses the threshold
    out = _out(run, PK, "fig6_sterile_stat", "sterile_mu")
    g = out.grid
    z = g["dchi2"] - g["dchi2"].min(axis=0, keepdims=True)
    t = out.threshold()
    ys = out.result["exclusion"]["0.9"]["y"]
    for ix, yv in enumerate(ys):
        if yv is None:
            assert not np.any(z[:, ix] > t)
        else:
            assert np.any(z[:, ix] > t)


def test_sterile_sensitivity_curves_when_available(run, outdir):
    """Issue 8 item 3c: the single_bin_sensitivity curves, drawn beside the data-driven ones."""
    scans = run[1]["papers"][PK]["scans"]
    if "fig6_sterile_sensitivity.sterile_mu" not in scans:
        skipped = run[1]["papers"][PK]["skipped"]
        assert [s["analysis_file"] for s in skipped] == ["fig6_sterile_sensitivity.toml"]
        pytest.skip("likelihood kind single_bin_sensitivity is not registered in this build")
    s = scans["fig6_sterile_sensitivity.sterile_mu"].result
    ys = np.array([np.nan if v is None else v for v in s["exclusion"]["0.9"]["y"]], dtype=float)
    # data = SM expectation: the best fit has chi2 ~ 0 (no mixing) and maximal nu_mu disappearance at
    # large dm41_sq removes ~1/6 of the events, many sigma for sigma = sqrt(N_SM) ~ 8%: excluded
    assert s["chi2_min"] == pytest.approx(0.0, abs=1e-6)
    assert np.isfinite(ys[-1]) and ys[-1] < 1.0


def test_each_paper_folder_has_figures_results_and_tables(outdir):
    for key in rp.PAPERS:
        folder = outdir / key
        res = json.loads((folder / "results.json").read_text())
        assert res["analysis"] == key and res["scans"]
        names = [s["name"] for s in res["scans"]]
        assert len(names) == len(set(names))
        for s in res["scans"]:
            assert ("intervals" in s) or ("contours" in s)
            assert "chi2_min" in s and "best_fit" in s
        pngs = sorted(p.stem for p in folder.glob("*.png"))
        assert pngs == sorted(p.stem for p in folder.glob("*.pdf"))
        assert pngs == sorted([f["id"] for f in rp.load_paper(key).figures] + res.get("extra_figures", []))
        rows = (folder / "bounds.csv").read_text().splitlines()
        assert rows[0].startswith("figure,") and len(rows) > len(res["scans"]) // 2
        assert (folder / "bounds.md").read_text().startswith("# ")


def test_index_links_every_figure_and_table(outdir):
    html = (outdir / "index.html").read_text()
    targets = set(re.findall(r"(?:href|src)='([^']+)'", html))
    files = [p for p in outdir.rglob("*") if p.is_file() and p.suffix in (".png", ".pdf", ".csv", ".md")
             and not any(part.startswith(".") for part in p.relative_to(outdir).parts)]
    assert files
    for p in files:
        assert p.relative_to(outdir).as_posix() in targets, p
    for t in targets:
        if not t.startswith(("#", "data:")):  # in-page anchors, the inline (empty) favicon
            assert (outdir / t).exists(), t
    # the composed figures are shown inline
    for key in rp.PAPERS:
        for p in (outdir / key).glob("*.png"):
            assert f"<img src='{key}/{p.name}'" in html


def test_scaled_analysis_shrinks_grids_keeping_minima():
    raw = {"scans": [{"parameters": ["a"], "points": [401]},
                     {"parameters": ["a", "b"], "points": [101, 281], "profile": [{"points": 41}]},
                     {"parameters": ["a"], "points": [21]}]}
    out = rp.scaled_analysis(raw, 0.3)
    assert out["scans"][0]["points"] == [121]  # odd kept odd
    assert out["scans"][1]["points"] == [31, 85]
    assert out["scans"][1]["profile"][0]["points"] == 13
    assert out["scans"][2]["points"] == [21]  # below the minimum: unchanged
    assert raw["scans"][0]["points"] == [401]  # the input is not modified
    assert rp.scaled_analysis(raw, 1.0) == raw
    for bad in (0.0, -1, float("nan"), "x", None):
        with pytest.raises(ConfigError):
            rp.scaled_analysis(raw, bad)


def test_every_analysis_file_loads_or_is_optional():
    from cevns.analysis import load_analysis

    for key in rp.PAPERS:
        paper = rp.load_paper(key)
        files = rp.analysis_files(key)
        assert files and all(f.name != "figures.toml" for f in files)
        for f in files:
            try:
                spec = load_analysis(f)
            except ConfigError:
                assert f.stem in paper.optional_analyses, f
                continue
            assert spec.references and spec.scans


def test_figures_toml_and_analysis_files_agree():
    """Every scan a figure draws exists in an analysis file, and every scan is drawn by some figure."""
    import tomllib

    for key in rp.PAPERS:
        paper = rp.load_paper(key)
        declared = set()
        for f in rp.analysis_files(key):
            with open(f, "rb") as fh:
                declared |= {f"{f.stem}.{s['name']}" for s in tomllib.load(fh)["scans"]}
        drawn = set()
        for fig in paper.figures:
            assert fig["kind"] in rp.COMPOSERS
            for panel in fig.get("panels", []):
                drawn |= {c["scan"] for c in panel.get("curves", [])}
                if "scan" in panel:
                    drawn.add(panel["scan"])
        assert drawn <= declared, drawn - declared
        assert declared <= drawn, declared - drawn


def test_unknown_paper_is_a_one_line_error(tmp_path, capsys):
    from cevns.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["reproduce", "no-such-paper", "--out", str(tmp_path / "x")])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "no-such-paper" in err and "\n" not in err
    with pytest.raises(ConfigError):
        rp.reproduce(tmp_path / "y", papers="nope")
    with pytest.raises(ConfigError):
        rp.reproduce(tmp_path / "z", papers="canas", grid_scale=-1.0)
    assert not (tmp_path / "y").exists() and not (tmp_path / "z").exists()


# ----------------------------------------------------------------------------------------------
# bounds tables against the scan results
# ----------------------------------------------------------------------------------------------
def _rows(run, paper):
    return run[1]["papers"][paper]["rows"]


def test_interval_rows_bracket_the_allowed_grid_points(run):
    """low/high of every 1D row are the outer ends of the allowed set of the scan grid (to one step)."""
    n = 0
    for paper in rp.PAPERS:
        scans = run[1]["papers"][paper]["scans"]
        for row in _rows(run, paper):
            if row["kind"] != "allowed interval" or not row["low"]:
                continue
            out = scans[row["scan"]]
            g = out.grid
            allowed = g["x"][g["dchi2"] <= out.result["threshold"][row["cl"]]]
            step = float(np.max(np.diff(g["x"])))
            lo, hi = float(row["low"]), float(row["high"])
            assert lo < hi, row
            assert abs(lo - allowed.min()) <= step and abs(hi - allowed.max()) <= step, row
            n += 1
    assert n >= 10


def test_exclusion_rows_give_the_strongest_exclusion(run):
    """low of an exclusion row is the smallest excluded y over the curve, at the x where it occurs."""
    n = 0
    for row in _rows(run, PK):
        if row["kind"] != "exclusion" or not row["low"]:
            continue
        res = run[1]["papers"][PK]["scans"][row["scan"]].result
        exc = res["exclusion"][row["cl"]]
        ys = np.array([np.nan if v is None else v for v in exc["y"]], dtype=float)
        assert np.nanmax(ys) > np.nanmin(ys) * 1.01  # a curve that is not flat: argmax would differ
        i = int(np.nanargmin(ys))
        assert float(row["low"]) == pytest.approx(ys[i], rel=1e-3)
        assert f"= {float(exc['x'][i]):.4g} (strongest)" in row["bound"]
        n += 1
    assert n >= 2


def test_region_rows_bracket_the_allowed_grid_points(run):
    n = 0
    for paper in rp.PAPERS:
        scans = run[1]["papers"][paper]["scans"]
        for row in _rows(run, paper):
            if row["kind"] != "allowed region (extent)" or not row["low"]:
                continue
            out = scans[row["scan"]]
            g = out.grid
            iy, _ = np.nonzero(g["dchi2"] <= out.result["threshold"][row["cl"]])
            ys = g["y"][iy]
            step = float(np.max(np.diff(g["y"])))
            lo, hi = float(row["low"]), float(row["high"])
            assert lo < hi and abs(lo - ys.min()) <= step and abs(hi - ys.max()) <= step, row
            n += 1
    assert n >= 10


def test_bounds_md_shows_every_best_fit(run, outdir):
    md = (outdir / PK / "bounds.md").read_text()
    for row in _rows(run, PK):
        res = run[1]["papers"][PK]["scans"][row["scan"]].result
        fits = res.get("best_fits") or [res["best_fit"]]
        assert row["best_fit"].count(" or ") == len(fits) - 1
        assert f"| {row['scan']} |" in md


# ----------------------------------------------------------------------------------------------
# citations, resume, regression
# ----------------------------------------------------------------------------------------------
def test_seed_paper_is_cited_correctly_in_the_outputs(outdir):
    res = json.loads((outdir / PK / "results.json").read_text())
    html = (outdir / "index.html").read_text()
    for text in (res["reference"], html):
        assert "arXiv:1711.09773" in text and "Phys. Rev. D 97, 033003 (2018)" in text
        assert "1806.07424" not in text  # Aristizabal Sierra et al., not the seed paper


def test_rerun_reuses_finished_analyses_and_quick_is_kept_apart(outdir):
    lines = []
    before = json.loads((outdir / "canas" / "results.json").read_text())
    rp.reproduce(outdir, papers="canas", quick=True, log=lines.append)
    analysed = [ln for ln in lines if "scan(s)" in ln]
    assert len(analysed) == len(rp.analysis_files("canas"))
    assert all("reused" in ln for ln in analysed), analysed
    assert json.loads((outdir / "canas" / "results.json").read_text())["scans"] == before["scans"]
    # quick outputs live in their own folder; a full run would use "scans"
    assert (outdir / "canas" / rp.scans_folder_name(rp.QUICK_SCALE)).is_dir()
    assert not (outdir / "canas" / "scans").exists()
    assert rp.scans_folder_name(1.0) == "scans" != rp.scans_folder_name(rp.QUICK_SCALE)
    # an analysis without its completion marker (as after an interrupt) is recomputed, the others not
    sub = outdir / "canas" / rp.scans_folder_name(rp.QUICK_SCALE) / "fig1_conus"
    for marker in sub.glob(".done-*.json"):
        marker.unlink()
    lines.clear()
    rp.reproduce(outdir, papers="canas", quick=True, log=lines.append)
    fresh = [ln for ln in lines if "scan(s)" in ln and "reused" not in ln]
    assert len(fresh) == 1 and "fig1_conus" in fresh[0]
    assert json.loads((outdir / "canas" / "results.json").read_text())["scans"] == before["scans"]
    leftovers = [p for p in outdir.rglob("*") if p.is_file() and ".partial" not in p.parts
                 and p.name.startswith(".") and not p.name.startswith(".done-")]
    assert not leftovers  # no temporary files of the atomic writes


def test_numbers_match_the_stored_reference(outdir):
    """Every number of ``reproduce --quick`` against tests/data/reproduce_quick_reference.json (1e-9)."""
    import os
    from pathlib import Path

    from reproduce_reference import REFERENCE_NAME, compare, digest

    path = Path(__file__).parent / "data" / REFERENCE_NAME
    new = {p: digest(json.loads((outdir / p / "results.json").read_text())) for p in rp.PAPERS}
    if os.environ.get("CEVNS_UPDATE_REFERENCE") == "1":
        path.write_text(json.dumps(new, indent=1, sort_keys=True) + "\n")
    ref = json.loads(path.read_text())
    diffs = []
    for paper, scans in ref.items():  # scans added later (new analysis files) are not a difference
        for name, d in scans.items():
            diffs += compare(d, new[paper].get(name), f"{paper}:{name}")
    assert not diffs, f"{len(diffs)} differences:\n" + "\n".join(diffs)
