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
