"""Tests of analysis files (cevns.analysis): validation, resolution, errors and the `cevns scan` command."""

import json

import pytest

from cevns.analysis import Y_TRANSFORMS, load_analysis, scan_axes, y_transform
from cevns.cli import main
from cevns.errors import ConfigError

HEAD = """schema_version = 1
name = "nsi-ee"
title = "COHERENT CsI 2017: vector NSI (ee)"
references = ["arXiv:1806.07424"]

[fixed]
sin2_theta_w = 0.2312

[[experiments]]
experiment = "coherent-csi-2017"
label = "COHERENT CsI"
"""

SCAN = """
[[scans]]
name = "eps_ee_uV"
parameters = ["eps_ee_uV"]
ranges = [[-1.0, 1.0]]
points = [21]
profile = [ { parameter = "eps_ee_dV", range = [-0.5, 0.5], points = 5 } ]
confidence_levels = [0.9]
"""


def _write(tmp_path, text, name="analysis.toml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_valid_file_is_resolved(tmp_path):
    spec = load_analysis(_write(tmp_path, HEAD + SCAN))
    e = spec.experiments[0]
    assert (e.likelihood, e.data, e.label) == ("single_bin_pulls", "observed", "COHERENT CsI")
    s = spec.scans[0]
    assert s.log == [False] and s.dof == 1 and s.labels == ["eps_ee_uV"]
    assert spec.fixed == {"sin2_theta_w": 0.2312}
    (x,) = scan_axes(s)
    assert x[0] == -1.0 and x[-1] == 1.0 and x.size == 21
    # the resolved mapping reloads to the same analysis (what dask workers receive)
    again = load_analysis(json.loads(json.dumps(spec.to_dict())))
    assert again.to_dict() == spec.to_dict()


def test_spectral_defaults_and_paths_relative_to_the_file(tmp_path):
    sub = tmp_path / "exps"
    sub.mkdir()
    (sub / "toy.toml").write_text("""
schema_version = 1
name = "toy-ge"
title = "toy"
[source]
kind = "reactor"
thermal_power_gw = 3.9
distance_m = 17.1
n_energy = 101
[detector]
material = "Ge"
mass_kg = 1.0
exposure_days = 100.0
observable = "kevee"
quenching = { model = "lindhard", k = 0.16 }
bins = { start = 0.2, stop = 0.6, width = 0.1 }
[statistics]
spectral = "poisson"
""")
    text = """schema_version = 1
name = "toy"
[[experiments]]
experiment = "exps/toy.toml"
systematics = [ { name = "reactor_flux", sigma = 0.04 } ]
"""
    spec = load_analysis(_write(tmp_path, text))
    e = spec.experiments[0]
    assert e.likelihood == "poisson" and e.data == "asimov" and e.label == "toy-ge"
    assert e.experiment == str((sub / "toy.toml").resolve())
    # a mapping resolves relative paths against base_dir
    raw = {"name": "toy", "experiments": [{"experiment": "exps/toy.toml"}]}
    assert load_analysis(raw, base_dir=tmp_path).experiments[0].experiment == e.experiment
    with pytest.raises(ConfigError, match=r"experiments\[0\]\.experiment: unknown experiment"):
        load_analysis(raw, base_dir=sub)
    with pytest.raises(ConfigError, match=r"experiments\[0\]\.data: .*no observed data"):
        load_analysis({"name": "toy", "experiments": [{"experiment": "exps/toy.toml", "data": "observed"}]},
                      base_dir=tmp_path)


BAD = [
    # (replacement text appended / substituted, expected key, expected words)
    (SCAN.replace('["eps_ee_uV"]', '["eps_ee_uX"]'), r"scans\[0\]\.parameters\[0\]", "unknown parameter 'eps_ee_uX'"),
    (SCAN.replace('parameter = "eps_ee_dV"', 'parameter = "eps_ee_qV"'), r"scans\[0\]\.profile\[0\]\.parameter",
     "unknown parameter"),
    (SCAN.replace("[[-1.0, 1.0]]", "[[1.0, 1.0]]"), r"scans\[0\]\.ranges\[0\]", "empty range"),
    (SCAN.replace("[[-1.0, 1.0]]", "[[1.0, -1.0]]"), r"scans\[0\]\.ranges\[0\]", "empty range"),
    (SCAN.replace("points = [21]", "points = [1]"), r"scans\[0\]\.points\[0\]", "at least 2 points"),
    (SCAN.replace("points = 5", "points = 1"), r"scans\[0\]\.profile\[0\]\.points", "at least 2 points"),
    (SCAN.replace("[0.9]", "[0.9, 1.0]"), r"scans\[0\]\.confidence_levels\[1\]", r"must be in \(0, 1\)"),
    (SCAN.replace("[0.9]", "[0.0]"), r"scans\[0\]\.confidence_levels\[0\]", r"must be in \(0, 1\)"),
    (SCAN + "log = [true]\n", r"scans\[0\]\.ranges\[0\]", "positive range"),
    (SCAN.replace('ranges = [[-1.0, 1.0]]', 'ranges = [[-1.0, 1.0], [0, 1]]'), r"scans\[0\]\.ranges",
     "one entry per scanned parameter"),
    (SCAN + "exclusion = true\n", r"scans\[0\]\.exclusion", "2D scan"),
    (SCAN + "fixed = { eps_ee_uV = 0.1 }\n", r"scans\[0\]\.fixed\.eps_ee_uV", "scanned or profiled"),
    (SCAN + "bogus = 3\n", r"scans\[0\]\.bogus", "Extra inputs"),
    ("\n[[scans]]\nname = \"s\"\nparameters = [\"u_e4_sq\"]\nranges = [[0.0, 2.0]]\npoints = [5]\n",
     r"scans\[0\]\.ranges\[0\]", "outside its physical domain"),
    ("\n[[scans]]\nname = \"s\"\nparameters = [\"dm41_sq\", \"u_e4_sq\"]\nranges = [[1, 10], [0.0, 0.9]]\n"
     "points = [5, 5]\ny_transform = \"sin2_2theta\"\n", r"scans\[0\]\.ranges\[1\]", "y_transform"),
]


@pytest.mark.parametrize("scan_text, key, words", BAD)
def test_bad_scans_name_file_and_key(tmp_path, scan_text, key, words):
    path = _write(tmp_path, HEAD + scan_text)
    with pytest.raises(ConfigError, match=rf"{key}: .*{words}") as err:
        load_analysis(path)
    assert str(err.value).startswith(str(path))


@pytest.mark.parametrize("text, key, words", [
    (HEAD.replace('"coherent-csi-2017"', '"no-such-experiment"'), r"experiments\[0\]\.experiment",
     "unknown experiment 'no-such-experiment'"),
    (HEAD + "\n[fixed]\n", None, "malformed TOML"),
    (HEAD.replace('name = "nsi-ee"', 'name = "nsi-ee'), None, "malformed TOML"),
    (HEAD.replace("sin2_theta_w = 0.2312", "sin2_theta_ww = 0.2312"), r"fixed\.sin2_theta_ww", "unknown parameter"),
    (HEAD.replace("sin2_theta_w = 0.2312", "sin2_theta_w = 1.5"), r"fixed\.sin2_theta_w", "physical domain"),
    (HEAD + 'likelihood = "chi2"\n', r"experiments\[0\]\.likelihood", "unknown likelihood 'chi2'; known: single_bin_pulls"),
    (HEAD + 'data_scale = 1.3\n', r"experiments\[0\]\.data_scale", "asimov"),
    (HEAD + 'systematics = [ { name = "x", sigma = 0.1 } ]\n', r"experiments\[0\]\.systematics", "single-bin"),
    (HEAD + 'settings = { form_factor = "gauss" }\n', r"experiments\[0\]", "form_factor"),
    (HEAD + 'asimov_parameters = { eps_ee_uZ = 0.1 }\ndata = "asimov"\n',
     r"experiments\[0\]\.asimov_parameters\.eps_ee_uZ", "unknown parameter"),
    (HEAD.replace("[[experiments]]", "").replace('experiment = "coherent-csi-2017"', "").replace(
        'label = "COHERENT CsI"', ""), "experiments", "Field required"),
    (HEAD.replace("schema_version = 1", "schema_version = 2"), "schema_version", "Input should be 1"),
])
def test_bad_files_name_file_and_key(tmp_path, text, key, words):
    path = _write(tmp_path, text)
    pattern = words if key is None else rf"{key}: .*{words}"
    with pytest.raises(ConfigError, match=pattern) as err:
        load_analysis(path)
    assert str(err.value).startswith(str(path))


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_analysis(tmp_path / "nope.toml")


def test_y_transform():
    assert set(Y_TRANSFORMS) == {"sin2_2theta"}
    assert y_transform("sin2_2theta", 0.5) == pytest.approx(1.0)
    assert y_transform("sin2_2theta", 0.01) == pytest.approx(0.0396)
    assert y_transform(None, 0.3) == pytest.approx(0.3)
    with pytest.raises(ConfigError, match="unknown y_transform"):
        y_transform("nope", 0.1)


# ------------------------------------------------------------------------------- CLI
@pytest.mark.parametrize("text, words", [
    (HEAD + SCAN.replace('["eps_ee_uV"]', '["eps_ee_uX"]'), "scans[0].parameters[0]: unknown parameter"),
    (HEAD + SCAN.replace("[[-1.0, 1.0]]", "[[1.0, 0.0]]"), "scans[0].ranges[0]: empty range"),
    (HEAD.replace('"coherent-csi-2017"', '"nope"') + SCAN, "experiments[0].experiment: unknown experiment"),
    (HEAD + SCAN.replace("[0.9]", "[90]"), "scans[0].confidence_levels[0]: confidence level must be in (0, 1)"),
    ("name = [", "malformed TOML"),
])
def test_cli_reports_one_line_and_exits_2(tmp_path, capsys, text, words):
    path = _write(tmp_path, text)
    with pytest.raises(SystemExit) as exc:
        main(["scan", str(path), "--out", str(tmp_path / "out"), "--no-progress"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith(f"error: {path}")
    assert words in err
    assert not (tmp_path / "out" / "results.json").exists()


def test_cli_conflicting_dask_options(tmp_path, capsys):
    path = _write(tmp_path, HEAD + SCAN)
    with pytest.raises(SystemExit) as exc:
        main(["scan", str(path), "--out", str(tmp_path / "o"), "--dask-local", "1", "--dask-scheduler", "tcp://x:1"])
    assert exc.value.code == 2
    assert "either --dask-scheduler or --dask-local" in capsys.readouterr().err


def test_cli_scan_writes_the_outputs(tmp_path, capsys):
    path = _write(tmp_path, HEAD + SCAN)
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exc:
        main(["scan", str(path), "--out", str(out), "--no-progress"])
    assert exc.value.code == 0
    stdout = capsys.readouterr().out
    assert "eps_ee_uV: best fit" in stdout
    res = json.loads((out / "results.json").read_text())
    assert res["analysis"] == "nsi-ee" and res["title"].startswith("COHERENT")
    (scan,) = res["scans"]
    assert set(scan) >= {"name", "parameter", "best_fit", "chi2_min", "intervals", "threshold"}
    for suffix in (".csv", ".png", ".pdf"):
        assert (out / f"eps_ee_uV{suffix}").stat().st_size > 0
    resolved = json.loads((out / "analysis.resolved.json").read_text())
    assert resolved["analysis"]["scans"][0]["profile"][0]["parameter"] == "eps_ee_dV"
    assert resolved["experiments"][0]["single_bin"]["n_meas"] == 142.0
