"""The public contract of experiments: describe(), the per-process cache, public helpers, the schema
accepting everything the Python classes support, and unchanged predictions of the built-ins."""

import hashlib
import json
import os
import tomllib
from pathlib import Path

import numpy as np
import pytest
from scipy.special import expit

from cevns.errors import ConfigError
from cevns.experiments import (
    builtin_experiments,
    experiment_path,
    list_experiments,
    load_experiment,
    merge_overrides,
    validate_experiment,
)
from cevns.experiments.schema import ExperimentSpec
from cevns.physics.constants import N_AVOGADRO
from cevns.sources.tables import read_table

DATA = Path(__file__).parent / "data"
BUILTINS = [r["name"] for r in list_experiments()]
#: Built-ins of the default ("spectrum") kind: the describe() contract below is that kind's.
SPECTRUM_BUILTINS = [r["name"] for r in list_experiments()
                     if tomllib.loads(Path(r["path"]).read_text()).get("kind", "spectrum") == "spectrum"]
#: Experiments whose predictions were recorded before the refactors (tests/data/builtin_predictions.md).
RECORDED = sorted(json.loads((DATA / "builtin_predictions.json").read_text()))

#: The point set of tests/data/builtin_predictions.json (see its .md).
POINTS = {
    "sm": {},
    "nsi": {"eps_ee_uV": np.array([-0.3, 0.1, 0.4]), "eps_mumu_dV": np.array([0.2, -0.1, 0.05])},
    "rn": {"rn": np.array([4.5, 5.0, 5.5])},
    "mu": {"mu_nu": 1e-9},
    "tensor": {"eps_ee_uT": 0.2},
    "zp": {"zprime_coupling": 1e-9, "zprime_mass": 30.0},
    "sc": {"scalar_coupling": 1e-9, "scalar_mass": 30.0},
    "sw": {"sin2_theta_w": np.array([0.2, 0.24])},
}


def _copy_builtin(tmp_path, name="coherent-csi-2017"):
    src = experiment_path(name).parent
    dst = tmp_path / src.name
    dst.mkdir()
    for p in src.rglob("*"):
        if p.is_file():
            (dst / p.relative_to(src)).parent.mkdir(parents=True, exist_ok=True)
            (dst / p.relative_to(src)).write_bytes(p.read_bytes())
    return dst / "experiment.toml"


# ------------------------------------------------------------------ regression
@pytest.mark.parametrize("name", RECORDED)
def test_builtin_predictions_unchanged(name):
    ref = json.loads((DATA / "builtin_predictions.json").read_text())[name]
    exp = load_experiment(name)
    for key, p in POINTS.items():
        np.testing.assert_allclose(exp.predict(p).counts, np.array(ref[key]), rtol=1e-12, atol=0, err_msg=key)
        np.testing.assert_allclose(exp.total(p), np.array(ref[key + "_total"]), rtol=1e-12, atol=0, err_msg=key)
    for attr in ("observed", "sideband"):
        got = getattr(exp, attr)
        assert (got is None) == (ref[attr] is None)
        if got is not None:
            np.testing.assert_array_equal(got, ref[attr])
    assert set(exp.backgrounds) == set(ref["backgrounds"])
    for k, v in exp.backgrounds.items():
        np.testing.assert_allclose(v, ref["backgrounds"][k], rtol=1e-12, atol=0)


# ------------------------------------------------------------------ describe()
@pytest.mark.parametrize("name", SPECTRUM_BUILTINS)
def test_describe_is_plain_and_consistent(name):
    exp = load_experiment(name)
    d = exp.describe()
    assert json.loads(json.dumps(d)) == d  # plain, JSON-serialisable
    if getattr(exp, "spec", None) is None:
        pytest.skip("plug-in experiment kind: its describe() is tested with the kind")
    for key in ("name", "title", "targets", "source", "exposure", "response", "bins", "data", "backgrounds",
                "statistics", "systematics", "physics", "references"):
        assert key in d, key
    assert d["name"] == exp.name and d["references"] == exp.references
    assert d["bins"]["edges"] == exp.bin_edges.tolist() and d["bins"]["n_bins"] == exp.bin_edges.size - 1
    n = {t.isotope.name: t.n_nuclei for t in exp.engine.targets}
    assert {t["isotope"]: t["n_nuclei"] for t in d["targets"]} == n
    assert sum(t["abundance"] for t in d["targets"] if t["isotope"].startswith(d["targets"][0]["isotope"][:2])) \
        == pytest.approx(1.0, abs=1e-3)
    assert [c["flavor"] for c in d["source"]["components"]] == [c.flavor for c in exp.engine.fluxes]
    assert d["source"]["baseline_m"] == exp.spec.source.distance_m
    assert d["exposure"]["mass_kg"] == exp.spec.detector.mass_kg
    assert d["response"]["observable"] == exp.spec.detector.observable


def test_describe_numbers_from_first_principles():
    d = load_experiment("coherent-csi-2017").describe()
    # CsI: one Cs and one I per formula unit, N_A * 14570 g / M(CsI) each
    n = N_AVOGADRO * 14570.0 / (132.90545 + 126.90447)
    assert [t["isotope"] for t in d["targets"]] == ["Cs133", "I127"]
    for t in d["targets"]:
        assert t["n_nuclei"] == pytest.approx(n, rel=1e-4)
    line = d["source"]["components"][0]
    assert line["line"] and line["e_min_mev"] == pytest.approx(29.79, abs=0.01)
    # prompt fluence r N_POT / (4 pi L^2) (all inside 0-6 us up to ~3%)
    assert 0.97 < line["fluence_cm2"] / (0.08 * 1.76e23 / (4 * np.pi * 1930.0**2)) <= 1.0
    assert d["data"]["observed_total"] == 142 and d["data"]["sideband_total"] == 405
    assert d["exposure"]["kg_days"] == pytest.approx(14.57 * 308.1)


# ------------------------------------------------------------------ cache
def test_cache_returns_independent_copies_sharing_the_engine():
    a = load_experiment("coherent-csi-2017")
    b = load_experiment("coherent-csi-2017")
    assert a is not b and a.engine is b.engine
    a.observed[:] = -1
    a.backgrounds["prompt_neutrons"][:] = 0
    c = load_experiment("coherent-csi-2017")
    assert c.observed.sum() == 142 and c.backgrounds["prompt_neutrons"].sum() > 0
    d = load_experiment("coherent-csi-2017", overrides={"detector": {"mass_kg": 20.0}})
    assert d.engine is not a.engine


def test_cache_notices_changed_files(tmp_path):
    path = _copy_builtin(tmp_path)
    a = load_experiment(path)
    assert load_experiment(path).engine is a.engine
    text = path.read_text().replace("mass_kg = 14.57", "mass_kg = 29.14")
    path.write_text(text)
    os.utime(path, ns=(a_ns := path.stat().st_mtime_ns + 10**9, a_ns))
    b = load_experiment(path)
    assert b.engine is not a.engine
    assert b.total({})[0] == pytest.approx(2 * a.total({})[0], rel=1e-12)
    data = path.parent / "data" / "data_coincidence_beamOn.txt"
    data.write_text(data.read_text().replace("\n", "\n", 1))
    os.utime(data, ns=(a_ns + 2 * 10**9, a_ns + 2 * 10**9))
    assert load_experiment(path).engine is not b.engine


# ------------------------------------------------------------------ public helpers
def test_builtin_experiments_and_merge_overrides():
    b = builtin_experiments()
    assert set(b) == set(BUILTINS) and all(p.name == "experiment.toml" for p in b.values())
    base = {"detector": {"bins": {"start": 1.0, "stop": 3.0, "width": 1.0}, "mass_kg": 1.0,
                         "efficiency": {"model": "logistic", "a": 1.0, "k": 1.0, "x0": 1.0}}}
    out = merge_overrides(base, {"detector": {"bins": {"edges": [1.0, 3.0]}, "efficiency": {"model": "unity"},
                                              "mass_kg": np.float64(2.0)}})
    assert out["detector"] == {"bins": {"edges": [1.0, 3.0]}, "mass_kg": 2.0, "efficiency": {"model": "unity"}}
    assert base["detector"]["mass_kg"] == 1.0  # not modified
    assert merge_overrides(base, {"detector": {"mass_kg": None}})["detector"].keys() == {"bins", "efficiency"}
    with pytest.raises(ConfigError, match="keys must be strings"):
        merge_overrides(base, {"detector": {1: 2}})


def test_validate_experiment_without_building():
    spec = validate_experiment("conus", overrides={"detector": {"mass_kg": 10.0}})
    assert spec.detector.mass_kg == 10.0
    with pytest.raises(ConfigError, match="mass_kg"):
        validate_experiment("conus", overrides={"detector": {"mass_kg": -1.0}})


def test_a_file_is_validated_once_per_process(tmp_path, monkeypatch):
    path = _copy_builtin(tmp_path, "conus")
    calls = []
    original = ExperimentSpec.model_validate

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(ExperimentSpec, "model_validate", counting)
    validate_experiment(path)
    load_experiment(path)
    load_experiment(path)
    validate_experiment(path)
    assert len(calls) == 1
    load_experiment(path, overrides={"detector": {"mass_kg": 2.0}})
    assert len(calls) == 2


def test_private_aliases_still_work():
    from cevns.experiments import _builtin_folders, _deep_update

    assert _builtin_folders() == builtin_experiments()
    d = {"a": {"b": 1, "c": 2}}
    assert _deep_update(d, {"a": {"b": 3}}) is d and d == {"a": {"b": 3, "c": 2}}


# ------------------------------------------------------------------ schema covers the Python classes
def test_efficiency_offset_d():
    a, k, x0, d = 1.32045, 0.285979, 10.8646, -0.333322  # COHERENT CsI 2021 (arXiv:2110.07730)
    eff = {"model": "logistic", "a": a, "k": k, "x0": x0, "d": d, "evaluate_at": "value"}
    exp = load_experiment("coherent-csi-2017", overrides={"detector": {"efficiency": eff}})
    x = np.linspace(0.0, 60.0, 121)
    np.testing.assert_allclose(exp.engine.response.efficiency(x), np.clip(a * expit(k * (x - x0)) + d, 0, 1),
                               rtol=1e-14, atol=0)
    no_d = load_experiment("coherent-csi-2017", overrides={"detector": {"efficiency": {**eff, "d": 0.0}}})
    assert exp.total({})[0] < no_d.total({})[0]


def test_quenching_t_scale_kevnr():
    # QF = c0 + c1 (T / 1000 keVnr) is the same curve as c0 + (c1 / 1000) T[keVnr]
    c0, c1 = 0.0554, 4.2
    mev = {"model": "polynomial", "coeffs": [c0, c1], "t_scale_kevnr": 1000.0}
    kev = {"model": "polynomial", "coeffs": [c0, c1 / 1000.0]}
    a = load_experiment("coherent-csi-2017", overrides={"detector": {"quenching": mev}})
    b = load_experiment("coherent-csi-2017", overrides={"detector": {"quenching": kev}})
    assert a.total({})[0] == pytest.approx(b.total({})[0], rel=1e-9)
    c = load_experiment("coherent-csi-2017")
    assert abs(a.total({})[0] / c.total({})[0] - 1) > 1e-3  # it is a different quenching


def test_two_column_observed_histogram(tmp_path, csi2017):
    path = _copy_builtin(tmp_path)
    data = path.parent / "data"
    # independent: sum the released (PE, time, counts) rows over 0 <= t < 6 us per PE value
    rows = []
    for name in ("data_coincidence_beamOn.txt", "data_anticoincidence_beamOn.txt"):
        arr = np.genfromtxt(data / name, delimiter=",", skip_header=0, invalid_raise=False)
        arr = arr[~np.isnan(arr).any(axis=1)]
        pe = np.unique(arr[:, 0])
        counts = [arr[(arr[:, 0] == v) & (arr[:, 1] < 6.0), 2].sum() for v in pe]
        out = data / name.replace(".txt", "_hist.txt")
        out.write_text("# PE, counts in 0-6 us\n" + "".join(f"{p}, {c}\n" for p, c in zip(pe, counts)))
        rows.append(out.name)
    text = path.read_text()
    text = text.replace('format = "pe_time_counts"', 'format = "observable_counts"')
    text = text.replace('beam_on = "data/data_coincidence_beamOn.txt"', f'beam_on = "data/{rows[0]}"')
    text = text.replace('subtract = "data/data_anticoincidence_beamOn.txt"', f'subtract = "data/{rows[1]}"')
    path.write_text(text)
    # the window stays for the prompt-neutron time PDF
    exp = load_experiment(path)
    np.testing.assert_array_equal(exp.observed, csi2017.observed)
    np.testing.assert_array_equal(exp.sideband, csi2017.sideband)


def test_sub_bin_width_converges():
    # Gaussian smearing and a smooth (logistic) efficiency: the efficiency is weighted on sub-bins of
    # the given width; the midpoint rule converges as width^2 (error ratio 4 when halving the width)
    det = {"smearing": {"model": "gaussian", "sigma0": 1.0},
           "efficiency": {"evaluate_at": "value", "zero_below": None, "steps": None}}

    def total(width):
        over = {"detector": det if width is None else dict(det, sub_bin_width=width)}
        return load_experiment("coherent-csi-2017", overrides=over).total({})[0]

    ref = total(0.05)
    err = {w: abs(total(w) / ref - 1) for w in (2.0, 1.0, 0.5)}
    assert err[2.0] > err[1.0] > err[0.5] > 0
    assert 3.0 < err[2.0] / err[1.0] < 5.0 and 3.0 < err[1.0] / err[0.5] < 5.0
    assert total(0.1) == total(None)  # the default is bin width / 20 = 0.1 PE here


def test_reactor_and_tabulated_options_are_accepted(tmp_path):
    a = load_experiment("conus", overrides={"source": {"high_energy": "bestiole", "e_min_mev": 0.5}})
    b = load_experiment("conus")
    assert a.engine.fluxes[0].energies_mev[0] == 0.5
    assert a.total({})[0] != b.total({})[0]
    table = tmp_path / "line.txt"
    table.write_text("30.0 2.0\n")
    exp_file = tmp_path / "exp.toml"
    exp_file.write_text(f"""
name = "toy-line"
title = "a line"
[source]
kind = "tabulated"
components = [{{ flavor = "nu_mu", file = "line.txt", kind = "line", normalization = 1e10 }}]
[detector]
material = "Ar"
mass_kg = 1.0
exposure_days = 1.0
observable = "kevnr"
bins = {{ edges = [1.0, 200.0] }}
""")
    exp = load_experiment(exp_file)
    (comp,) = exp.engine.fluxes
    assert comp.is_line and comp.total_fluence_cm2() == pytest.approx(2.0e10 * 86400.0)
    assert exp.total({})[0] > 0


# ------------------------------------------------------------------ shipped data
PACKAGE = Path(__file__).resolve().parents[1] / "src" / "cevns"
SHIPPED_TABLES = sorted(
    [p for p in (PACKAGE / "experiments").glob("*/data/*") if p.suffix in (".txt", ".dat")]
    + [p for p in (PACKAGE / "sources" / "data").rglob("*") if p.suffix in (".txt", ".dat")]
)


@pytest.mark.parametrize("path", SHIPPED_TABLES, ids=[p.name for p in SHIPPED_TABLES])
def test_every_shipped_table_passes_the_reader(path):
    table = read_table(path, header="optional")
    assert table.size > 0 and np.all(np.isfinite(table))


def test_shipped_data_match_their_checksums():
    folder = experiment_path("coherent-csi-2017").parent / "data"
    text = (folder / "PROVENANCE.md").read_text().split("## sha256", 1)[1]
    rows = [line.split("|")[1:3] for line in text.splitlines() if line.startswith("| ") and "---" not in line]
    sums = {name.strip(): digest.strip() for name, digest in rows if name.strip() != "file"}
    assert len(sums) >= 10
    for name, digest in sums.items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest, name
