"""A reduced-grid reproduction of both seed papers: the shape of every result and the output folder.

The per-scan standard figures of ``run_analysis`` are switched off here (they are tested with the
scan engine); the composed paper figures, tables and index are produced as in a full run.
"""

import json
import re
from pathlib import Path

import numpy as np
import pytest

from cevns.papers import reproduce as rp
from cevns.errors import ConfigError


@pytest.fixture(scope="module")
def outdir(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    import cevns.plotting.scans

    mp.setattr(cevns.plotting.scans, "save_scan_figure", lambda *a, **k: None)
    out = tmp_path_factory.mktemp("reproduce")
    try:
        summary = rp.reproduce(out, quick=True)
    finally:
        mp.undo()
    assert set(summary["papers"]) == set(rp.PAPERS)
    return out


def _grid(outdir, paper, stem, scan):
    return rp.load_scan_grid(outdir / paper / "scans" / stem / f"{scan}.csv")


def _scan(outdir, paper, stem, scan):
    res = json.loads((outdir / paper / "results.json").read_text())
    (s,) = [s for s in res["scans"] if s["name"] == f"{stem}.{scan}"]
    return s


def test_weak_mixing_interval_contains_sm(outdir):
    s = _scan(outdir, "papoulias-kosmas", "fig2_weak_mixing", "sin2_theta_w")
    ((lo, hi),) = s["intervals"]["0.9"]
    assert lo < 0.2312 < hi
    assert 0.08 < lo < 0.2 and 0.26 < hi < 0.4  # CsI 2017: a broad interval, not the whole scan
    assert lo < s["best_fit"] < hi


def _allowed(g, threshold):
    return g["dchi2"] <= threshold


@pytest.mark.parametrize("scan", ["nsi_ee", "nsi_mumu"])
def test_nsi_regions_are_bands_with_sm_and_stat_tighter(outdir, scan):
    pk = "papoulias-kosmas"
    t = _scan(outdir, pk, "fig4_nsi_2d_pulls", scan)["threshold"]["0.9"]
    assert t == pytest.approx(4.605, abs=1e-3)  # 90% CL, 2 dof
    gp, gs = _grid(outdir, pk, "fig4_nsi_2d_pulls", scan), _grid(outdir, pk, "fig4_nsi_2d_stat", scan)
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


def test_magnetic_moment_bounds_are_upper_limits(outdir):
    for scan in ("mu_nu_e", "mu_nu_mu", "mu_nu_universal"):
        s = _scan(outdir, "papoulias-kosmas", "fig5_magnetic_moment", scan)
        ((lo, hi),) = s["intervals"]["0.9"]
        assert lo == 0.0 and s["best_fit"] == pytest.approx(0.0, abs=1e-12)
        assert 1e-9 < hi < 1e-8
        g = _grid(outdir, "papoulias-kosmas", "fig5_magnetic_moment", scan)
        assert np.all(np.diff(g["dchi2"]) >= -1e-9)  # grows monotonically with mu
    # the universal moment acts on every flavour: the tightest
    ups = {sc: _scan(outdir, "papoulias-kosmas", "fig5_magnetic_moment", sc)["intervals"]["0.9"][0][1]
           for sc in ("mu_nu_e", "mu_nu_mu", "mu_nu_universal")}
    assert ups["mu_nu_universal"] < ups["mu_nu_mu"] < ups["mu_nu_e"]


def _region_points(outdir, stem, scan, t=2.2957):
    g = _grid(outdir, "canas", stem, scan)
    return g, _allowed(g, t)


def test_nai_connie_combination_is_tighter(outdir):
    gn, an = _region_points(outdir, "fig2_right_nai", "rn_eps_nai")
    gc, ac = _region_points(outdir, "fig2_right_connie", "rn_eps_connie")
    gb, ab = _region_points(outdir, "fig2_right_nai_connie", "rn_eps_nai_connie")
    assert ab.any()
    assert ab.sum() < an.sum() and ab.sum() < ac.sum()
    assert np.all(an[ab]) and np.all(ac[ab])  # inside both
    # CONNIE alone does not constrain the iodine neutron radius (reactor: F ~ 1); the combination does
    assert ac.any(axis=0).all()
    assert not ab.any(axis=0).all()


def test_deviation_scenario_moves_the_allowed_neutron_radius(outdir):
    centres = {}
    for stem in ("fig2_right_nai_connie", "fig2_right_nai_connie_minus30", "fig2_right_nai_connie_plus30"):
        scan = "rn_eps_" + stem.removeprefix("fig2_right_")
        g, a = _region_points(outdir, stem, scan)
        x, y = np.meshgrid(g["x"], g["y"])
        branch = a & (np.abs(y) < 0.1)  # the branch around eps_ee_dV ~ 0
        assert branch.any()
        centres[stem] = x[branch].mean()
    step = float(np.diff(g["x"])[0])
    # fewer CONNIE events -> eps_ee_dV > 0 -> fewer nu_e events in NaI -> smaller R_n (and vice versa)
    assert centres["fig2_right_nai_connie_minus30"] < centres["fig2_right_nai_connie"] - step / 2
    assert centres["fig2_right_nai_connie_plus30"] > centres["fig2_right_nai_connie"] + step / 2


def test_reactor_combination_is_tighter_than_each(outdir):
    t = 4.605
    _, a1 = _region_points(outdir, "fig1_conus", "nsi_ee_conus", t)
    _, a2 = _region_points(outdir, "fig1_connie", "nsi_ee_connie", t)
    _, ab = _region_points(outdir, "fig1_combined", "nsi_ee_combined", t)
    assert 0 < ab.sum() < min(a1.sum(), a2.sum())


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
        assert len(pngs) >= {"papoulias-kosmas": 6, "canas": 2}[key]
        rows = (folder / "bounds.csv").read_text().splitlines()
        assert rows[0].startswith("figure,") and len(rows) > len(res["scans"]) // 2
        assert (folder / "bounds.md").read_text().startswith("# ")


def test_index_links_every_figure_and_table(outdir):
    html = (outdir / "index.html").read_text()
    targets = set(re.findall(r"(?:href|src)='([^']+)'", html))
    files = [p for p in outdir.rglob("*") if p.is_file() and p.suffix in (".png", ".pdf", ".csv", ".md")]
    assert files
    for p in files:
        assert p.relative_to(outdir).as_posix() in targets, p
    for t in targets:
        if not t.startswith("#"):
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
    with pytest.raises(ConfigError):
        rp.scaled_analysis(raw, 0.0)


def test_every_analysis_file_loads():
    from cevns.analysis import load_analysis

    for key in rp.PAPERS:
        files = rp.analysis_files(key)
        assert files
        for f in files:
            spec = load_analysis(f)
            assert spec.references and spec.scans


def test_unknown_paper_is_a_one_line_error(tmp_path, capsys):
    from cevns.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["reproduce", "no-such-paper", "--out", str(tmp_path / "x")])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "no-such-paper" in err and "\n" not in err
    with pytest.raises(ConfigError):
        rp.reproduce(tmp_path / "y", papers="nope")
