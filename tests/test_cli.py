"""The command line: predict / experiments / plot-spectrum, and one-line errors for bad input."""

import json
import shutil
from pathlib import Path

import pytest

from cevns.cli import main
from cevns.experiments import experiment_path


def run(args, capsys):
    with pytest.raises(SystemExit) as exc:
        main(args)
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


def test_experiments_lists_builtin(capsys):
    code, out, _ = run(["experiments"], capsys)
    assert code == 0
    assert "coherent-csi-2017" in out and "arXiv:1708.01294" in out


def test_predict_json_keys_and_settings(capsys):
    code, out, _ = run(["predict", "coherent-csi-2017", "--set", "sin2_theta_w=0.2312", "--json"], capsys)
    assert code == 0
    d = json.loads(out)
    assert d["experiment"] == "coherent-csi-2017"
    assert set(d["by_flavor"]) == {"nu_e", "nu_mu", "nu_mu_bar"}
    assert abs(sum(d["by_flavor"].values()) - d["total"]) < 1e-9 * d["total"]
    assert abs(sum(b["events"] for b in d["bins"]) - d["total"]) < 1e-9 * d["total"]
    assert d["bins"][0]["low"] == 6.0 and d["bins"][-1]["high"] == 30.0
    s = d["settings"]
    assert s["parameters"]["sin2_theta_w"] == 0.2312
    assert s["physics"]["form_factor"] == "helm" and s["physics"]["form_factor_shape_fm"] == 0.5
    assert s["physics"]["coupling_scheme"] == "tree" and s["physics"]["kinematics"] == "seed"
    assert set(s["nuclei"]) == {"Cs133", "I127"}
    # the seed's SM prediction lies within the published 173 +- 48 (arXiv:1708.01294)
    assert 173 - 48 < d["total"] < 173 + 48


def test_predict_table(capsys):
    code, out, _ = run(["predict", "coherent-csi-2017"], capsys)
    assert code == 0 and "expected CEvNS events" in out and "radii" in out


def test_set_changes_prediction(capsys):
    _, a, _ = run(["predict", "coherent-csi-2017", "--json"], capsys)
    _, b, _ = run(["predict", "coherent-csi-2017", "--json", "--set", "sin2_theta_w=0.25"], capsys)
    # larger sin2 -> smaller |g_V^p| contribution cancels less of N g_n: Q_V = Z(1/2-2s2) - N/2 -> more negative
    assert json.loads(b)["total"] != json.loads(a)["total"]


def test_setting_through_set(capsys):
    code, out, _ = run(["predict", "coherent-csi-2017", "--json", "--set", "form_factor=klein_nystrand"], capsys)
    assert code == 0 and json.loads(out)["settings"]["physics"]["form_factor"] == "klein_nystrand"


@pytest.mark.parametrize("args, needle", [
    (["predict", "no-such-experiment"], "unknown experiment"),
    (["predict", "coherent-csi-2017", "--set", "sin2_thetaw=0.2"], "unknown parameter"),
    (["predict", "coherent-csi-2017", "--set", "sin2_theta_w=abc"], "needs a number"),
    (["predict", "coherent-csi-2017", "--set", "dm41_sq=-1"], "outside its physical domain"),
    (["predict", "coherent-csi-2017", "--set", "u_e4_sq=nan"], "must be finite"),
    (["predict", "coherent-csi-2017", "--set", "form_factor=gaussian"], "form_factor"),
])
def test_bad_input_one_line_exit_2(args, needle, capsys):
    code, out, err = run(args, capsys)
    assert code == 2
    assert needle in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def _copy_experiment(tmp_path: Path) -> Path:
    src = experiment_path("coherent-csi-2017").parent
    dst = tmp_path / "exp"
    shutil.copytree(src, dst)
    return dst / "experiment.toml"


def test_negative_mass_is_clear_error(tmp_path, capsys):
    f = _copy_experiment(tmp_path)
    f.write_text(f.read_text().replace("mass_kg = 14.57", "mass_kg = -14.57"))
    code, _, err = run(["predict", str(f)], capsys)
    assert code == 2
    assert "detector.mass_kg" in err and str(f) in err and "greater than 0" in err
    assert "Traceback" not in err


def test_malformed_toml_is_clear_error(tmp_path, capsys):
    f = _copy_experiment(tmp_path)
    f.write_text(f.read_text().replace('kind = "spallation"', 'kind = "spallation'))
    code, _, err = run(["predict", str(f)], capsys)
    assert code == 2 and "malformed TOML" in err and str(f) in err
    assert len(err.strip().splitlines()) == 1


def test_unknown_key_is_clear_error(tmp_path, capsys):
    f = _copy_experiment(tmp_path)
    f.write_text(f.read_text().replace("mass_kg = 14.57", "mass_kg = 14.57\nmas_kg = 1"))
    code, _, err = run(["predict", str(f)], capsys)
    assert code == 2 and "detector.mas_kg" in err


def test_missing_data_file_is_clear_error(tmp_path, capsys):
    f = _copy_experiment(tmp_path)
    (f.parent / "data" / "promptPDF.txt").unlink()
    code, _, err = run(["predict", str(f)], capsys)
    assert code == 2 and "promptPDF.txt" in err


def test_plot_spectrum_writes_png(tmp_path, capsys):
    out = tmp_path / "fig1.png"
    code, _, _ = run(["plot-spectrum", "coherent-csi-2017", "--out", str(out), "--low", "0", "--high", "50"], capsys)
    assert code == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files left


# --------------------------------------------------------------------------- usage, version, parameters
@pytest.mark.parametrize("args, needle", [
    ([], "missing command"),
    (["--bogus"], "no such option"),
    (["nosuch"], "no such command"),
    (["predict"], "missing argument"),
    (["predict", "coherent-csi-2017", "--bogus"], "no such option"),
    (["plot-spectrum", "coherent-csi-2017", "--out", "x.png", "--low", "abc"], "--low"),
])
def test_usage_mistakes_print_usage_and_one_error_line(args, needle, capsys):
    code, out, err = run(args, capsys)
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 2 and lines[0].startswith("Usage: cevns") and lines[1].startswith("error: ")
    assert needle in lines[1]
    assert "Traceback" not in err


def test_version_matches_package_and_pyproject(capsys):
    import tomllib

    import cevns

    code, out, _ = run(["--version"], capsys)
    assert code == 0 and out.strip() == f"cevns {cevns.__version__}"
    root = Path(__file__).resolve().parents[1]
    assert tomllib.loads((root / "pyproject.toml").read_text())["project"]["version"] == cevns.__version__


def test_parameters_json_lists_every_setting_and_its_allowed_values(capsys):
    from cevns.physics.parameters import PARAMETERS
    from cevns.physics.settings import PhysicsSettings

    code, out, _ = run(["parameters", "--json"], capsys)
    assert code == 0
    d = json.loads(out)
    assert {r["name"] for r in d["settings"]} == set(PhysicsSettings.model_fields)
    assert set(PARAMETERS) <= {r["name"] for r in d["parameters"]}
    rows = {r["name"]: r for r in d["settings"]}
    assert rows["form_factor"]["allowed"] == ["helm", "klein_nystrand", "symmetrized_fermi", "unity"]
    assert rows["exact_momentum_transfer"]["allowed"] == [True, False]
    assert ">= 0" in rows["baseline_spread_m"]["values"]
    # every allowed value is accepted by --set, and the CLI says where the physics is documented
    for r in d["settings"]:
        for v in r["allowed"] or []:
            assert PhysicsSettings.model_validate({r["name"]: v})
    assert d["documentation"] == "docs/physics.md"
    assert all(r["description"] for r in d["settings"])


def test_parameters_table_is_not_wrapped_and_points_to_docs(capsys):
    from cevns.physics.parameters import PARAMETERS

    code, out, _ = run(["parameters"], capsys)
    assert code == 0
    lines = out.splitlines()
    # output is captured (not a terminal): every description sits whole on one line
    for p in PARAMETERS.values():
        assert any(p.description in line for line in lines), p.name
    assert "docs/physics.md" in out


def test_predict_table_shows_units_in_brackets(capsys):
    code, out, _ = run(["predict", "coherent-csi-2017"], capsys)
    assert code == 0
    assert "per bin [pe]" in out and "radii [fm]" in out


# --------------------------------------------------------------------------- predict: results are valid numbers
@pytest.mark.parametrize("sets, needle", [
    (["mu_nu=1e300"], "not finite"),
    (["eps_ee_uV=1e300"], "not finite"),
    (["zprime_mass=1e-300", "zprime_coupling=1e300"], "not finite"),
    (["rn=1e-300"], "cannot evaluate"),
])
def test_predict_non_finite_is_an_error_naming_the_parameters(sets, needle, capsys):
    args = ["predict", "coherent-csi-2017", "--json"] + [a for s in sets for a in ("--set", s)]
    code, out, err = run(args, capsys)
    assert code == 2 and out == ""
    assert needle in err and all(s.split("=")[0] + "=" in err for s in sets)
    assert len(err.strip().splitlines()) == 1  # no numpy RuntimeWarning lines


@pytest.mark.parametrize("old, new, reason", [
    ("zero_below = 5.0, steps", "zero_below = 40.0, steps", "threshold 40 pe is above all bins"),
    ("bins = { start = 6.0, stop = 30.0, width = 2.0 }", "bins = { start = 100.0, stop = 130.0, width = 2.0 }",
     "above the kinematic endpoint"),
    ("window_us = [0.0, 6.0]", "window_us = [20.0, 30.0]", "outside the arrival-time PDFs"),
])
def test_predict_zero_events_warns_why(tmp_path, capsys, old, new, reason):
    f = _copy_experiment(tmp_path)
    text = f.read_text()
    assert old in text
    f.write_text(text.replace(old, new))
    code, out, err = run(["predict", str(f), "--json"], capsys)
    assert code == 0
    assert json.loads(out)["total"] == 0.0
    assert err.startswith("warning: 0 expected events") and reason in err


def test_no_time_cut_keeps_all_arrival_times(capsys):
    _, a, _ = run(["predict", "coherent-csi-2017", "--json"], capsys)
    code, b, _ = run(["predict", "coherent-csi-2017", "--json", "--no-time-cut"], capsys)
    a, b = json.loads(a), json.loads(b)
    assert code == 0
    # the prompt nu_mu all arrive within 0-6 us; the delayed flavours gain the 6-12 us tail
    assert b["by_flavor"]["nu_mu"] == pytest.approx(a["by_flavor"]["nu_mu"], rel=1e-12)
    assert b["by_flavor"]["nu_e"] > a["by_flavor"]["nu_e"] and b["observed"] > a["observed"]


def test_no_time_cut_on_reactor_experiment_is_an_error(capsys):
    code, _, err = run(["predict", "conus", "--no-time-cut"], capsys)
    assert code == 2 and "no time window" in err


def _readme_settings_rows():
    root = Path(__file__).resolve().parents[1]
    text = (root / "README.md").read_text()
    block = text[text.index("| settings | command | events |"):]
    rows = []
    for line in block.splitlines()[2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows.append((cells[1].strip("`"), float(cells[2])))
    return rows


def test_readme_settings_table_has_every_row():
    rows = _readme_settings_rows()
    assert len(rows) == 9 and all(cmd.startswith("cevns predict ") for cmd, _ in rows)


@pytest.mark.parametrize("command, events", _readme_settings_rows())
def test_readme_settings_row_reproduces_with_the_cli(command, events, capsys):
    import shlex

    code, out, err = run(shlex.split(command)[1:] + ["--json"], capsys)
    assert code == 0, err
    assert round(json.loads(out)["total"], 2) == events


# --------------------------------------------------------------------------- --max-memory
@pytest.mark.parametrize("text, nbytes", [("4GB", 4 * 10**9), ("4gb", 4 * 10**9), ("512MiB", 512 * 2**20),
                                          ("2GiB", 2 * 2**30), ("1.5e9", 1_500_000_000), ("100 MB", 10**8),
                                          ("1k", 1000), ("3TB", 3 * 10**12)])
def test_parse_memory(text, nbytes):
    from cevns.cli.common import parse_memory

    assert parse_memory(text) == nbytes


@pytest.mark.parametrize("text", ["", "GB", "4XB", "-1GB", "0", "0.1", "nan", "inf", "1e999", "4 G B", "four"])
def test_parse_memory_rejects(text):
    from cevns.cli.common import parse_memory
    from cevns.errors import CommandLineError

    with pytest.raises(CommandLineError, match="--max-memory"):
        parse_memory(text)


def test_max_memory_is_passed_to_run_analysis_when_it_accepts_it(tmp_path, monkeypatch, capsys):
    import cevns.cli.scan as scan_mod

    seen = {}

    def fake_run_analysis(spec, out_dir, executor=None, progress=True, chunk_points=None, max_memory_bytes=None):
        seen["max_memory_bytes"] = max_memory_bytes
        return {"scans": []}

    monkeypatch.setattr(scan_mod, "run_analysis", fake_run_analysis)
    a = tmp_path / "a.toml"
    a.write_text('schema_version = 1\nname = "a"\ntitle = "a"\n[[experiments]]\nexperiment = "coherent-csi-2017"\n'
                 '[[scans]]\nname = "s"\nparameters = ["sin2_theta_w"]\nranges = [[0.1, 0.4]]\npoints = [5]\n')
    code, _, err = run(["scan", str(a), "--out", str(tmp_path / "o"), "--max-memory", "2GiB", "--no-progress"], capsys)
    assert code == 0, err
    assert seen["max_memory_bytes"] == 2 * 2**30


def test_memory_kwargs_warns_when_not_supported(capsys):
    from cevns.cli.scan import memory_kwargs

    def old(spec, out_dir, executor=None):
        return None

    assert memory_kwargs(old, "4GB") == {}
    assert "--max-memory" in capsys.readouterr().err
    assert memory_kwargs(old, None) == {}


def test_readme_empirical_radius_note(capsys):
    """The README's note: Klein-Nystrand a = 0.7 fm with the file's empirical radius gives 144.84."""
    root = Path(__file__).resolve().parents[1]
    assert "e.g. 144.84 for\nKlein-Nystrand a = 0.7 fm" in (root / "README.md").read_text()
    code, out, _ = run(["predict", "coherent-csi-2017", "--json", "--set", "form_factor=klein_nystrand",
                        "--set", "form_factor_shape_fm=0.7"], capsys)
    assert code == 0 and round(json.loads(out)["total"], 2) == 144.84


def test_shape_none_takes_the_model_default(capsys):
    base = ["predict", "coherent-csi-2017", "--json", "--set", "form_factor=klein_nystrand", "--set",
            "proton_radius=charge", "--set"]
    _, a, _ = run(base + ["form_factor_shape_fm=none"], capsys)
    _, b, _ = run(base + ["form_factor_shape_fm=0.7"], capsys)
    a, b = json.loads(a), json.loads(b)
    assert a["settings"]["physics"]["form_factor_shape_fm"] == 0.7
    assert a["total"] == b["total"]
