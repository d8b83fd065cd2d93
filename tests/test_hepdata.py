"""HEPData export of scan output folders (cevns.analysis.hepdata): validation with hepdata_validator,
round trip through the reader (cevns.analysis.hepdata_read), units / CL qualifiers, the CLI and bad input."""

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy import stats

from cevns.analysis import run_analysis
from cevns.analysis.hepdata import (ARCHIVE_NAME, SUBMISSION_FOLDER, cl_key_from_percent, cl_percent, export_hepdata,
                                    validate_hepdata)
from cevns.analysis.hepdata_read import read_hepdata
from cevns.analysis.results_folder import read_scan_grid
from cevns.cli import main
from cevns.errors import CevnsError, ConfigError

CSI = "coherent-csi-2017"
TINY = {
    "name": "tiny-hepdata",
    "title": "HEPData export test",
    "references": ["arXiv:1806.07424", "doi:10.1103/PhysRevD.97.033003", "Canas et al., ICHEP2020 proceeding"],
    "fixed": {"sin2_theta_w": 0.2312},
    "experiments": [{"experiment": CSI, "label": "COHERENT CsI", "likelihood": "single_bin_stat"}],
    "scans": [
        {"name": "eps_ee_uV", "parameters": ["eps_ee_uV"], "ranges": [[-0.6, 1.0]], "points": [41],
         "profile": [{"parameter": "eps_ee_dV", "range": [-0.1, 0.1], "points": 5}],
         "confidence_levels": [0.9, 0.99]},
        {"name": "nsi_ee", "parameters": ["eps_ee_uV", "eps_ee_dV"], "ranges": [[-1.0, 1.0], [-1.0, 1.0]],
         "points": [21, 21], "confidence_levels": [0.9, 0.99]},
        {"name": "scalar", "parameters": ["scalar_mass", "scalar_coupling"], "ranges": [[1.0, 1.0e4], [1e-10, 1e-3]],
         "points": [13, 29], "log": [True, True], "exclusion": True},
        {"name": "sterile_e", "parameters": ["dm41_sq", "u_e4_sq"], "ranges": [[0.1, 1.0e4], [1.0e-3, 0.5]],
         "points": [11, 11], "log": [True, True], "exclusion": True, "exclusion_method": "raster",
         "y_transform": "sin2_2theta"},
    ],
}
#: results.json keys that must come back unchanged from the HEPData tables.
KEYS = ("parameter", "parameters", "best_fit", "best_fits", "chi2_min", "dof", "threshold", "intervals", "open_ends",
        "contours", "exclusion", "exclusion_method", "y_transform", "profiled_at_best_fit")


@pytest.fixture(scope="module")
def scan_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("scan")
    run_analysis(TINY, out, progress=False)
    return out


@pytest.fixture(scope="module")
def exported(scan_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("hepdata")
    summary = export_hepdata(scan_dir, out)
    return out, summary


def _results(folder):
    return json.loads((Path(folder) / "results.json").read_text())


def _assert_same(results, back):
    by_name = {s["name"]: s for s in back["scans"]}
    assert set(by_name) == {s["name"] for s in results["scans"]}
    for s in results["scans"]:
        b = by_name[s["name"]]
        for k in KEYS:
            if k in s:
                assert b[k] == s[k], (s["name"], k)  # exact: 17 significant digits round-trip every double


def _tables(folder):
    docs = list(yaml.safe_load_all((Path(folder) / "submission.yaml").read_text()))
    return docs[0], {d["name"]: (d, yaml.safe_load((Path(folder) / d["data_file"]).read_text())) for d in docs[1:]}


def test_export_writes_a_valid_submission_and_archive(exported):
    out, summary = exported
    sub = out / SUBMISSION_FOLDER
    assert Path(summary["folder"]) == sub and Path(summary["archive"]) == out / ARCHIVE_NAME
    assert validate_hepdata(sub) == [] and validate_hepdata(out / ARCHIVE_NAME) == []
    kinds = sorted(t["kind"] for t in summary["tables"])
    # 1D: best fit, profile, intervals; 2D x3: best fit + grid, contours at each CL with a region, exclusions
    assert kinds.count("best_fit") == 4 and kinds.count("profile") == 1 and kinds.count("intervals") == 1
    assert kinds.count("grid") == 3 and kinds.count("exclusion") == 2 and kinds.count("contour") >= 2
    _, tables = _tables(sub)
    assert set(tables) == {t["name"] for t in summary["tables"]}


def test_validator_rejects_a_broken_submission(exported, tmp_path):
    out, _ = exported
    broken = tmp_path / "broken"
    shutil.copytree(out / SUBMISSION_FOLDER, broken)
    (broken / "nsi_ee_best_fit.yaml").unlink()
    msgs = validate_hepdata(broken)
    assert msgs and any("nsi_ee_best_fit.yaml" in m for m in msgs)


@pytest.mark.parametrize("where", ["out", "folder", "archive"])
def test_round_trip_returns_the_same_results(scan_dir, exported, where):
    out, _ = exported
    path = {"out": out, "folder": out / SUBMISSION_FOLDER, "archive": out / ARCHIVE_NAME}[where]
    back = read_hepdata(path)
    results = _results(scan_dir)
    assert back["analyses"] == [TINY["name"]] and back["other_tables"] == []
    _assert_same(results, back)
    by_name = {s["name"]: s for s in back["scans"]}
    # the grids come back equal to the CSVs written by the scan (%.12g there, full precision here)
    for s in results["scans"]:
        g = read_scan_grid(next(p for p in (scan_dir / f"{s['name']}.npz", scan_dir / f"{s['name']}.csv") if p.exists()))
        b = by_name[s["name"]]
        got = b["profile"] if "parameter" in s else b["grid"]
        for k in g:
            np.testing.assert_allclose(got[k], g[k], rtol=1e-11, atol=1e-11)
    # something non-trivial went through: two CLs of intervals, a contour, excluded couplings, a profiled dimension
    assert set(by_name["eps_ee_uV"]["intervals"]) == {"0.9", "0.99"}
    assert by_name["eps_ee_uV"]["profiled_at_best_fit"].keys() == {"eps_ee_dV"}
    assert any(by_name["nsi_ee"]["contours"].values())
    assert any(v is not None for v in by_name["scalar"]["exclusion"]["0.9"]["y"])


def test_tables_carry_units_cl_and_the_analysis(scan_dir, exported):
    out, _ = exported
    head, tables = _tables(out / SUBMISSION_FOLDER)
    sub = out / SUBMISSION_FOLDER
    resolved = json.loads((scan_dir / "analysis.resolved.json").read_text())
    names = {r["location"] for r in head["additional_resources"]}
    assert f"{TINY['name']}.analysis.resolved.json" in names and "results.json" in names
    assert json.loads((sub / f"{TINY['name']}.analysis.resolved.json").read_text()) == resolved
    assert {"https://arxiv.org/abs/1806.07424", "https://doi.org/10.1103/PhysRevD.97.033003"} <= names
    assert "Canas et al., ICHEP2020 proceeding" in head["comment"]
    meta, data = tables["nsi_ee contour CL90"]
    quals = {q["name"]: q["value"] for q in data["dependent_variables"][0]["qualifiers"]}
    assert quals["CL"] == "90%" and quals["Analysis"] == TINY["name"] and quals["Scan"] == "nsi_ee"
    assert quals["Delta chi2 threshold"] == pytest.approx(stats.chi2.ppf(0.9, 2), rel=1e-12)
    assert CSI in quals["Experiments"] and "single_bin_stat" in quals["Experiments"]
    assert data["independent_variables"][0]["header"]["name"] == "eps_ee_uV"
    assert {r["description"] for r in meta["additional_resources"]} >= {"Image file", "Thumbnail image file"}
    _, data = tables["sterile_e exclusion CL90"]
    assert data["independent_variables"][0]["header"] == {"name": "dm41_sq", "units": "eV^2"}
    quals = {q["name"]: q["value"] for q in data["dependent_variables"][0]["qualifiers"]}
    assert quals["y transform"] == "sin2_2theta" and quals["exclusion method"] == "raster"
    _, data = tables["scalar exclusion CL90"]
    assert data["independent_variables"][0]["header"]["units"] == "MeV"
    _, data = tables["eps_ee_uV intervals"]
    assert data["independent_variables"][0]["header"] == {"name": "CL", "units": "%"}
    quals = {q["name"]: q["value"] for q in data["dependent_variables"][0]["qualifiers"]}
    assert quals["Delta chi2 threshold at 99% CL"] == pytest.approx(stats.chi2.ppf(0.99, 1), rel=1e-12)


def test_reproduce_paper_folder_is_exported(scan_dir, tmp_path):
    # the layout of cevns reproduce: <paper>/results.json with "<stem>.<scan>" names, grids in scans/<stem>/
    paper = tmp_path / "paper"
    shutil.copytree(scan_dir, paper / "scans" / "tiny")
    res = _results(scan_dir)
    res = {"analysis": "paper", "title": "a paper", "scans": [
        {**s, "name": f"tiny.{s['name']}", "analysis": res["analysis"], "scan": s["name"], "title": res["title"]}
        for s in res["scans"]]}
    (paper / "results.json").write_text(json.dumps(res))
    summary = export_hepdata(paper, tmp_path / "out")
    assert summary["analyses"] == [TINY["name"]]
    assert {t["kind"] for t in summary["tables"]} >= {"profile", "grid", "contour", "exclusion"}
    back = read_hepdata(tmp_path / "out")
    _assert_same(res, back)
    assert (tmp_path / "out" / SUBMISSION_FOLDER / f"{TINY['name']}.analysis.resolved.json").is_file()


def _handmade(folder: Path) -> dict:
    """A results folder without grids: several contour lines, a gap in an exclusion curve, an empty CL."""
    res = {"analysis": "hand", "title": "hand-made", "scans": [
        {"name": "one", "parameter": "mu_nu", "best_fit": 1e-11, "chi2_min": 0.5, "dof": 1,
         "threshold": {"0.6827": 1.0, "0.9": 2.7055, "0.9973": 9.0},
         "intervals": {"0.6827": [], "0.9": [[-1.5e-10, -1e-10], [2.5e-11, 3.0000000000000004e-10]],
                       "0.9973": [[-4e-10, 6e-10]]},
         "open_ends": {"0.6827": [], "0.9": [[False, False], [False, True]], "0.9973": [[True, True]]},
         "best_fits": [1e-11, -1.2e-10], "extra_key_from_the_future": {"x": 1}},
        {"name": "two", "parameters": ["rn_Cs133", "sin2_theta_w"], "best_fit": [4.8, 0.23], "chi2_min": 3.25,
         "dof": 2, "threshold": {"0.9": 4.605, "0.95": 5.99},
         "contours": {"0.9": [[[4.0, 0.2], [5.0, 0.21], [4.0, 0.2]], [[6.0, 0.3], [6.5, 0.31]],
                              [[0.1 + 0.2, 1 / 3]]], "0.95": []},
         "exclusion": {"0.9": {"x": [1.0, 2.0, 3.0], "y": [None, 0.125, 1e-300]}},
         "exclusion_method": "global"},
    ]}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.json").write_text(json.dumps(res))
    return res


def test_round_trip_of_edge_cases(tmp_path):
    res = _handmade(tmp_path / "res")
    summary = export_hepdata(tmp_path / "res", tmp_path / "out")
    assert "grid" not in {t["kind"] for t in summary["tables"]}
    back = read_hepdata(tmp_path / "out" / ARCHIVE_NAME)
    _assert_same(res, back)
    _, tables = _tables(tmp_path / "out" / SUBMISSION_FOLDER)
    _, data = tables["two contour CL90"]
    assert data["independent_variables"][0]["header"] == {"name": "rn_Cs133", "units": "fm"}
    assert data["dependent_variables"][1]["header"]["name"] == "contour segment"
    assert "two contour CL95" not in tables  # an empty region has no table; the reader restores the empty list


def test_large_grids_become_resources(scan_dir, tmp_path):
    summary = export_hepdata(scan_dir, tmp_path / "out", max_grid_points=100, images=False)
    assert "grid" not in {t["kind"] for t in summary["tables"]}
    head, _ = _tables(tmp_path / "out" / SUBMISSION_FOLDER)
    attached = {r["location"].rsplit(".", 1)[0] for r in head["additional_resources"]}
    assert {"nsi_ee.grid", "scalar.grid", "sterile_e.grid"} <= attached  # .npz when the scan wrote one, else .csv
    back = read_hepdata(tmp_path / "out")
    _assert_same(_results(scan_dir), back)
    for s in back["scans"]:  # the reader loads the attached grid files
        if "parameters" in s:
            g = read_scan_grid(next(p for p in (scan_dir / f"{s['name']}.npz", scan_dir / f"{s['name']}.csv") if p.exists()))
            for k in g:
                np.testing.assert_array_equal(s["grid"][k], g[k])


def test_cl_percent_is_exact():
    for key in ("0.9", "0.95", "0.99", "0.6827", "0.9973", "0.954499736"):
        assert cl_key_from_percent(cl_percent(key)) == key
    assert cl_percent("0.9") == "90" and cl_percent("0.6827") == "68.27"


def test_reexport_overwrites_and_refuses_foreign_folders(scan_dir, tmp_path):
    export_hepdata(scan_dir, tmp_path / "out", images=False)
    export_hepdata(scan_dir, tmp_path / "out", images=False)
    assert validate_hepdata(tmp_path / "out" / SUBMISSION_FOLDER) == []
    foreign = tmp_path / "foreign"
    (foreign / SUBMISSION_FOLDER).mkdir(parents=True)
    (foreign / SUBMISSION_FOLDER / "precious.txt").write_text("keep me")
    with pytest.raises(ConfigError, match="not a HEPData submission folder"):
        export_hepdata(scan_dir, foreign)
    assert (foreign / SUBMISSION_FOLDER / "precious.txt").read_text() == "keep me"


def test_reader_bad_input(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        read_hepdata(tmp_path / "nothing")
    with pytest.raises(ConfigError, match="no HEPData submission.yaml"):
        read_hepdata(tmp_path)
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(ConfigError, match="archive"):
        read_hepdata(tmp_path / "x.txt")
    (tmp_path / "x.tar.gz").write_text("not gzip")
    with pytest.raises(ConfigError, match="cannot unpack"):
        read_hepdata(tmp_path / "x.tar.gz")


# ------------------------------------------------------------------------------------------------
# command line
# ------------------------------------------------------------------------------------------------
def run(args, capsys):
    with pytest.raises(SystemExit) as exc:
        main(args)
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


def test_cli_export(scan_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(["export-hepdata", str(scan_dir), "--out", "hd"], capsys)  # a relative --out
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hd"]
    assert sorted(p.name for p in (tmp_path / "hd").iterdir()) == [SUBMISSION_FOLDER, ARCHIVE_NAME]
    assert (tmp_path / "hd" / SUBMISSION_FOLDER / "submission.yaml").is_file()
    assert "validated" in out and (tmp_path / "hd" / ARCHIVE_NAME).is_file()
    _assert_same(_results(scan_dir), read_hepdata(tmp_path / "hd"))


def _bad_folders(tmp_path: Path, scan_dir: Path) -> dict:
    cases = {}
    cases["not a folder"] = (tmp_path / "file.txt", tmp_path / "o1")
    cases["not a folder"][0].write_text("x")
    cases["missing"] = (tmp_path / "missing", tmp_path / "o2")
    (tmp_path / "empty").mkdir()
    cases["no results.json"] = (tmp_path / "empty", tmp_path / "o3")
    for name, text in {"malformed": '{"scans": [', "not an object": "[1, 2]", "no scans": '{"scans": []}',
                       "bad scan": '{"scans": [{"name": "a", "chi2_min": 0, "threshold": {"0.9": 2.7}}]}',
                       "bad cl": '{"scans": [{"name": "a", "parameter": "mu_nu", "best_fit": 0, "chi2_min": 0, '
                                 '"threshold": {"90": 2.7}, "intervals": {}}]}',
                       "bad contour": '{"scans": [{"name": "a", "parameters": ["x", "y"], "best_fit": [0, 0], '
                                      '"chi2_min": 0, "threshold": {"0.9": 4.6}, "contours": {"0.9": [[1, 2]]}}]}',
                       "bad best_fits": '{"scans": [{"name": "a", "parameter": "mu_nu", "best_fit": 0, "chi2_min": 0, '
                                        '"threshold": {"0.9": 2.7}, "intervals": {}, "best_fits": [[0, 1]]}]}',
                       "bad open_ends": '{"scans": [{"name": "a", "parameter": "mu_nu", "best_fit": 0, "chi2_min": 0, '
                                        '"threshold": {"0.9": 2.7}, "intervals": {}, "open_ends": {"0.9": [1]}}]}',
                       "bad dof": '{"scans": [{"name": "a", "parameter": "mu_nu", "best_fit": 0, "chi2_min": 0, '
                                  '"threshold": {"0.9": 2.7}, "intervals": {}, "dof": "one"}]}',
                       }.items():
        d = tmp_path / name.replace(" ", "_")
        d.mkdir()
        (d / "results.json").write_text(text)
        cases[name] = (d, tmp_path / f"o-{d.name}")
    d = tmp_path / "bad_csv"
    shutil.copytree(scan_dir, d)
    (d / "nsi_ee.csv").write_text("x,y,delta_chi2\n1,2\n")
    (d / "nsi_ee.npz").unlink(missing_ok=True)  # the .npz grid is read first when present
    cases["bad csv"] = (d, tmp_path / "o-csv")
    (tmp_path / "outfile").write_text("x")
    cases["--out is a file"] = (scan_dir, tmp_path / "outfile")
    return cases


def test_cli_bad_input_is_one_line_exit_2(scan_dir, tmp_path, capsys):
    for name, (src, out) in _bad_folders(tmp_path, scan_dir).items():
        code, _, err = run(["export-hepdata", str(src), "--out", str(out)], capsys)
        assert code == 2, name
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, (name, err)


def test_errors_are_cevns_errors(tmp_path):
    with pytest.raises(CevnsError):
        export_hepdata(tmp_path / "missing", tmp_path / "out")


def test_missing_hepdata_lib_is_a_clear_error(scan_dir, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "hepdata_lib", None)  # import hepdata_lib -> ModuleNotFoundError
    with pytest.raises(CevnsError, match=r"pip install 'cevns\[hepdata\]'"):
        export_hepdata(scan_dir, tmp_path / "out")


def test_npz_grids_are_preferred_and_checked(scan_dir, tmp_path):
    # the .npz layout of docs/analysis-format.md (x, y, delta_chi2 of shape (ny, nx), chi2_min, names)
    d = tmp_path / "res"
    shutil.copytree(scan_dir, d)
    g = read_scan_grid(d / "nsi_ee.csv")
    np.savez(d / "nsi_ee.npz", x=g["x"], y=g["y"], delta_chi2=g["delta_chi2"] + 1.0, chi2_min=0.0,
             names=np.array(["eps_ee_uV", "eps_ee_dV"]))
    export_hepdata(d, tmp_path / "out", images=False)
    back = {s["name"]: s for s in read_hepdata(tmp_path / "out")["scans"]}
    np.testing.assert_array_equal(back["nsi_ee"]["grid"]["delta_chi2"], g["delta_chi2"] + 1.0)
    np.savez(d / "nsi_ee.npz", x=g["x"], y=g["y"], delta_chi2=g["delta_chi2"][:-1])
    with pytest.raises(ConfigError, match="shape"):
        export_hepdata(d, tmp_path / "out2")


def test_reproduce_root_hints_at_the_results_folders(scan_dir, tmp_path):
    shutil.copytree(scan_dir, tmp_path / "root" / "paper")
    with pytest.raises(ConfigError, match="results folders inside it: paper"):
        export_hepdata(tmp_path / "root", tmp_path / "out")
