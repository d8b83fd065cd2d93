"""A corpus of bad analysis files: each mistake gives a CevnsError naming it, and nothing is written.

Every case is one mistake a user can make in an analysis file (or in the arguments of run_analysis).
The analysis is run with ``run_analysis`` into a fresh folder, which must not exist afterwards.
"""

import copy

import pytest

from cevns.analysis import load_analysis, run_analysis
from cevns.errors import CevnsError

CSI = "coherent-csi-2017"
SCAN = {"name": "s", "parameters": ["eps_ee_uV"], "ranges": [[-0.5, 0.5]], "points": [11]}
SCAN2 = {"name": "r", "parameters": ["eps_ee_uV", "eps_ee_dV"], "ranges": [[-0.5, 0.5], [-0.5, 0.5]], "points": [5, 5]}
BASE = {"name": "bad", "title": "corpus", "experiments": [{"experiment": CSI}], "scans": [SCAN]}


def _with(**top):
    d = copy.deepcopy(BASE)
    d.update(copy.deepcopy(top))
    return d


def _exp(**kw):
    return _with(experiments=[{"experiment": CSI, **kw}])


def _scan(**kw):
    return _with(scans=[{**SCAN, **kw}])


def _scan2(**kw):
    return _with(scans=[{**SCAN2, **kw}])


def _drop(key):
    d = copy.deepcopy(BASE)
    d.pop(key)
    return d


CASES = [
    # --- top level
    ("missing-name", _drop("name"), r"name: Field required"),
    ("name-uppercase", _with(name="Bad"), r"name: String should match pattern"),
    ("name-space", _with(name="a b"), r"name: String should match pattern"),
    ("name-number", _with(name=3), r"name: Input should be a valid string"),
    ("unknown-top-key", _with(scan=[SCAN]), r"scan: Extra inputs are not permitted"),
    ("schema-version-2", _with(schema_version=2), r"schema_version: Input should be 1"),
    ("references-string", _with(references="arXiv:1"), r"references: Input should be a valid list"),
    ("title-number", _with(title=3), r"title: Input should be a valid string"),
    ("no-experiments-key", _drop("experiments"), r"experiments: Field required"),
    ("experiments-empty", _with(experiments=[]), r"experiments: List should have at least 1 item"),
    ("experiment-as-string", _with(experiments=[CSI]), r"experiments\[0\]: Input should be a valid dictionary"),
    ("no-scans", _drop("scans"), r"has no \[\[scans\]\]"),
    ("scans-empty", _with(scans=[]), r"has no \[\[scans\]\]"),
    ("scans-not-tables", _with(scans=["s"]), r"scans\[0\]: Input should be a valid dictionary"),
    # --- [fixed]
    ("fixed-unknown", _with(fixed={"sin2_theta_ww": 0.23}), r"fixed\.sin2_theta_ww: .*unknown parameter"),
    ("fixed-out-of-domain", _with(fixed={"sin2_theta_w": -1.0}), r"fixed\.sin2_theta_w: .*domain"),
    ("fixed-bool", _with(fixed={"sin2_theta_w": True}), r"fixed\.sin2_theta_w: .*a number is needed"),
    ("fixed-string", _with(fixed={"sin2_theta_w": "0.23"}), r"fixed\.sin2_theta_w: .*a number is needed"),
    ("fixed-nan", _with(fixed={"eps_ee_dV": float("nan")}), r"fixed\.eps_ee_dV: .*finite"),
    ("fixed-inf", _with(fixed={"eps_ee_dV": float("inf")}), r"fixed\.eps_ee_dV: .*finite"),
    ("fixed-alias-twice", _with(fixed={"eps_emu_uV": 0.1, "eps_mue_uV": 0.1}), r"same parameter"),
    ("fixed-and-scanned", _with(fixed={"eps_ee_uV": 0.1}), r"scanned here but fixed in \[fixed\]"),
    ("fixed-and-scanned-alias", _with(fixed={"eps_emu_uV": 0.1}, scans=[{**SCAN, "parameters": ["eps_mue_uV"]}]),
     r"scanned here but fixed in \[fixed\]"),
    # --- experiments
    ("experiment-unknown", _exp(experiment="no-such-experiment"), r"unknown experiment 'no-such-experiment'"),
    ("experiment-missing-file", _exp(experiment="./nope/experiment.toml"), r"unknown experiment"),
    ("experiment-empty", _exp(experiment=""), r"experiments\[0\]\.experiment: empty experiment name"),
    ("experiment-key-missing", _with(experiments=[{"label": "x"}]), r"experiments\[0\]\.experiment: Field required"),
    ("experiment-unknown-key", _exp(likelyhood="poisson"), r"likelyhood: Extra inputs are not permitted"),
    ("likelihood-unknown", _exp(likelihood="chi2"), r"unknown likelihood 'chi2'"),
    ("likelihood-number", _exp(likelihood=3), r"likelihood: Input should be a valid string"),
    ("data-unknown", _exp(data="simulated"), r"data: Input should be 'observed' or 'asimov'"),
    ("data-scale-with-observed", _exp(data_scale=1.3), r"data_scale: data_scale only applies"),
    ("data-scale-zero", _exp(data="asimov", data_scale=0.0), r"data_scale: Input should be greater than 0"),
    ("data-scale-negative", _exp(data="asimov", data_scale=-1.0), r"data_scale: Input should be greater than 0"),
    ("asimov-params-with-observed", _exp(asimov_parameters={"eps_ee_uV": 0.1}), r"asimov_parameters only apply"),
    ("asimov-param-unknown", _exp(data="asimov", asimov_parameters={"eps_ee_uZ": 0.1}),
     r"asimov_parameters\.eps_ee_uZ: .*unknown parameter"),
    ("asimov-param-out-of-domain", _exp(data="asimov", asimov_parameters={"sin2_theta_w": 2.0}),
     r"asimov_parameters\.sin2_theta_w: .*domain"),
    ("setting-unknown", _exp(settings={"form_factr": "helm"}), r"settings\.form_factr: .*unknown parameter"),
    ("setting-bad-value", _exp(settings={"form_factor": "gauss"}), r"experiments\[0\]: .*form_factor"),
    ("override-unknown-key", _exp(overrides={"detector": {"mass_kgg": 2.0}}), r"experiments\[0\]: .*mass_kgg"),
    ("override-negative-mass", _exp(overrides={"detector": {"mass_kg": -2.0}}), r"experiments\[0\]: .*mass_kg"),
    ("override-wrong-type", _exp(overrides={"detector": {"mass_kg": "heavy"}}), r"experiments\[0\]: .*mass_kg"),
    ("single-bin-with-systematics", _exp(systematics=[{"name": "x", "sigma": 0.1}]),
     r"experiments\[0\]\.systematics: .*takes no systematics"),
    ("systematic-unknown-component", _exp(likelihood="gaussian", systematics=[{"name": "x", "sigma": 0.1,
                                                                                "applies_to": ["neutrons"]}]),
     r"applies to unknown component\(s\) \['neutrons'\]"),
    ("systematic-poisson-steady-state", _exp(likelihood="poisson", systematics=[{"name": "x", "sigma": 0.1,
                                                                                  "applies_to": ["steady_state"]}]),
     r"applies to unknown component\(s\) \['steady_state'\]"),
    ("systematic-duplicate", _exp(likelihood="gaussian", systematics=[{"name": "x", "sigma": 0.1},
                                                                      {"name": "x", "sigma": 0.1}]),
     r"duplicate systematic 'x'"),
    ("systematic-negative-sigma", _exp(likelihood="gaussian", systematics=[{"name": "x", "sigma": -0.1}]),
     r"sigma: Input should be greater than or equal to 0"),
    ("systematic-applies-empty", _exp(likelihood="gaussian", systematics=[{"name": "x", "sigma": 0.1,
                                                                          "applies_to": []}]),
     r"applies_to: List should have at least 1 item"),
    ("systematic-name-slash", _exp(likelihood="gaussian", systematics=[{"name": "a/b", "sigma": 0.1}]),
     r"name: String should match pattern"),
    ("shared-nuisance-different-sigmas",
     _with(experiments=[{"experiment": CSI, "likelihood": "gaussian", "systematics": [{"name": "f", "sigma": 0.1}]},
                        {"experiment": CSI, "likelihood": "poisson", "data": "asimov",
                         "systematics": [{"name": "f", "sigma": 0.2}]}]),
     r"shared nuisance 'f' has sigma 0.2 here but 0.1"),
    ("variance-with-poisson", _exp(likelihood="poisson", variance="data"), r"variance applies to the gaussian"),
    ("variance-with-single-bin", _exp(variance="expected"), r"variance applies to the gaussian"),
    ("variance-unknown", _exp(likelihood="gaussian", variance="both"), r"variance: Input should be 'data' or"),
    ("same-experiment-twice", _with(experiments=[{"experiment": CSI}, {"experiment": CSI}]),
     r"experiments\[1\]\.experiment: the same data set .* counted twice"),
    ("same-data-other-likelihood", _with(experiments=[{"experiment": CSI}, {"experiment": CSI, "likelihood": "gaussian",
                                                                            "label": "again"}]),
     r"counted twice"),
    ("sensitivity-with-observed", _exp(likelihood="single_bin_sensitivity", data="observed"),
     r"likelihood 'single_bin_sensitivity' uses data asimov"),
    # --- scans
    ("scan-unknown-key", _scan(range=[[0, 1]]), r"scans\[0\]\.range: Extra inputs are not permitted"),
    ("scan-name-space", _scan(name="a b"), r"scans\[0\]\.name: String should match pattern"),
    ("scan-duplicate-name", _with(scans=[SCAN, SCAN]), r"scans\[1\]\.name: duplicate scan name 's'"),
    ("scan-no-parameters", _scan(parameters=[]), r"parameters: List should have at least 1 item"),
    ("scan-three-parameters", _scan(parameters=["eps_ee_uV", "eps_ee_dV", "rn"]),
     r"parameters: List should have at most 2 items"),
    ("scan-unknown-parameter", _scan(parameters=["eps_ee_uX"]), r"parameters\[0\]: .*unknown parameter"),
    ("scan-same-parameter-twice", _scan2(parameters=["eps_ee_uV", "eps_ee_uV"]), r"already a dimension"),
    ("scan-alias-on-two-axes", _scan2(parameters=["eps_emu_uV", "eps_mue_uV"]),
     r"'eps_mue_uV' \(an alias of 'eps_emu_uV'\) is already a dimension"),
    ("scan-fixed-is-scanned", _scan(fixed={"eps_ee_uV": 0.1}), r"fixed\.eps_ee_uV: .*scanned or profiled"),
    ("scan-fixed-unknown", _scan(fixed={"eps_ee_uX": 0.1}), r"fixed\.eps_ee_uX: .*unknown parameter"),
    ("profile-is-scanned", _scan(profile=[{"parameter": "eps_ee_uV", "range": [0, 1], "points": 3}]),
     r"profile\[0\]\.parameter: .*already a dimension"),
    ("profile-alias-of-scanned", _scan(parameters=["eps_emu_uV"],
                                       profile=[{"parameter": "eps_mue_uV", "range": [0, 1], "points": 3}]),
     r"an alias of 'eps_emu_uV'"),
    ("profile-twice", _scan(profile=[{"parameter": "eps_ee_dV", "range": [0, 1], "points": 3}] * 2),
     r"profile\[1\]\.parameter: .*already a dimension"),
    ("profile-one-point", _scan(profile=[{"parameter": "eps_ee_dV", "range": [0, 1], "points": 1}]),
     r"profile\[0\]\.points: need at least 2 points"),
    ("profile-reversed", _scan(profile=[{"parameter": "eps_ee_dV", "range": [1, 0], "points": 3}]),
     r"profile\[0\]\.range: empty range"),
    ("profile-log-negative", _scan(profile=[{"parameter": "eps_ee_dV", "range": [-1, 1], "points": 3, "log": True}]),
     r"log-spaced axis"),
    ("ranges-count", _scan(ranges=[[-1, 1], [0, 1]]), r"ranges: needs one entry per scanned parameter"),
    ("points-count", _scan(points=[11, 11]), r"points: needs one entry per scanned parameter"),
    ("range-reversed", _scan(ranges=[[0.5, -0.5]]), r"ranges\[0\]: empty range"),
    ("range-empty", _scan(ranges=[[0.5, 0.5]]), r"ranges\[0\]: empty range"),
    ("range-inf", _scan(ranges=[[-0.5, float("inf")]]), r"ranges\[0\]: empty range .*finite"),
    ("range-nan", _scan(ranges=[[float("nan"), 0.5]]), r"ranges\[0\]: empty range .*finite"),
    ("range-three-numbers", _scan(ranges=[[0, 1, 2]]), r"ranges\[0\]: Tuple should have at most 2 items"),
    ("range-outside-domain", _scan(parameters=["sin2_theta_w"], ranges=[[0.1, 2.0]]), r"ranges\[0\]: .*domain"),
    ("points-one", _scan(points=[1]), r"points\[0\]: need at least 2 points"),
    ("points-zero", _scan(points=[0]), r"points\[0\]: need at least 2 points"),
    ("points-negative", _scan(points=[-5]), r"points\[0\]: need at least 2 points"),
    ("points-fractional", _scan(points=[10.5]), r"points\[0\]: Input should be a valid integer"),
    ("points-string", _scan(points=["many"]), r"points\[0\]: Input should be a valid integer"),
    ("log-nonpositive", _scan(log=[True]), r"log-spaced axis of 'eps_ee_uV' needs a positive range"),
    ("log-count", _scan(log=[True, False]), r"log: needs one entry per scanned parameter"),
    ("labels-count", _scan(labels=["a", "b"]), r"labels: needs one entry per scanned parameter"),
    ("cl-one", _scan(confidence_levels=[1.0]), r"confidence level must be in \(0, 1\)"),
    ("cl-zero", _scan(confidence_levels=[0.0]), r"confidence level must be in \(0, 1\)"),
    ("cl-percent", _scan(confidence_levels=[90]), r"confidence level must be in \(0, 1\), got 90"),
    ("cl-empty", _scan(confidence_levels=[]), r"confidence_levels: List should have at least 1 item"),
    ("cl-repeated", _scan(confidence_levels=[0.9, 0.9]), r"repeated confidence level"),
    ("dof-zero", _scan(dof=0), r"dof: dof must be >= 1"),
    ("exclusion-1d", _scan(exclusion=True), r"exclusion: needs a 2D scan"),
    ("y-transform-1d", _scan(y_transform="sin2_2theta"), r"y_transform: needs a 2D scan"),
    ("y-transform-unknown", _scan2(y_transform="log10"), r"y_transform: Input should be 'sin2_2theta'"),
    ("y-transform-range", _with(scans=[{"name": "st", "parameters": ["dm41_sq", "u_e4_sq"],
                                        "ranges": [[0.1, 10], [0.0, 0.9]], "points": [3, 3],
                                        "y_transform": "sin2_2theta"}]), r"ranges\[1\]: y_transform"),
    ("exclusion-method-unknown", _scan2(exclusion=True, exclusion_method="local"),
     r"exclusion_method: Input should be 'global' or 'raster'"),
    ("refine-string", _scan(refine="maybe"), r"refine: Input should be a valid boolean"),
]

RUN_CASES = [
    ("memory-budget", _scan2(points=[100000, 100000]), {"max_memory_bytes": 10**8}, r"would need about .* GB"),
    ("memory-budget-negative", BASE, {"max_memory_bytes": -1}, r"max_memory_bytes must be a positive"),
    ("chunk-points-zero", BASE, {"chunk_points": 0}, r"chunk_points must be a positive integer"),
]


def test_corpus_is_large_and_distinct():
    ids = [c[0] for c in CASES + RUN_CASES]
    assert len(ids) >= 60 and len(set(ids)) == len(ids)


@pytest.mark.parametrize("case, analysis, pattern", CASES, ids=[c[0] for c in CASES])
def test_bad_analysis_is_refused_before_anything_is_written(tmp_path, case, analysis, pattern):
    out = tmp_path / "out"
    with pytest.raises(CevnsError, match=pattern) as err:
        run_analysis(analysis, out, progress=False)
    assert "Traceback" not in str(err.value) and str(err.value).startswith("<analysis>: ")
    assert not out.exists()


@pytest.mark.parametrize("case, analysis, kwargs, pattern", RUN_CASES, ids=[c[0] for c in RUN_CASES])
def test_bad_run_arguments_are_refused_before_anything_is_written(tmp_path, case, analysis, kwargs, pattern):
    out = tmp_path / "out"
    with pytest.raises(CevnsError, match=pattern):
        run_analysis(analysis, out, progress=False, **kwargs)
    assert not out.exists()


@pytest.mark.parametrize("text, pattern", [
    ('name = "bad"\n[[experiments]\n', r"malformed TOML"),
    ('name = "bad"\nname = "again"\n', r"malformed TOML"),
    ('name = "bad"\n[[experiments]]\nexperiment = "coherent-csi-2017"\n[[scans]]\nname = "s"\n'
     'parameters = ["eps_ee_uV"]\nranges = [[-1.0, inf]]\npoints = [5]\n', r"ranges\[0\]: empty range"),
    ("\x00", r"malformed TOML"),
], ids=["unclosed-table", "duplicate-key", "toml-inf", "binary"])
def test_bad_toml_files(tmp_path, text, pattern):
    path = tmp_path / "analysis.toml"
    path.write_text(text)
    out = tmp_path / "out"
    with pytest.raises(CevnsError, match=pattern) as err:
        run_analysis(path, out, progress=False)
    assert str(path) in str(err.value)
    assert not out.exists()


@pytest.mark.parametrize("arg, pattern", [
    (None, r"TOML file path or a mapping, got NoneType"),
    ([1, 2], r"TOML file path or a mapping, got list"),
    (3.5, r"TOML file path or a mapping, got float"),
    ("/no/such/analysis.toml", r"cannot read"),
], ids=["none", "list", "float", "missing-file"])
def test_bad_python_arguments(arg, pattern):
    with pytest.raises(CevnsError, match=pattern):
        load_analysis(arg)


def test_folder_instead_of_file(tmp_path):
    with pytest.raises(CevnsError, match="is a folder"):
        load_analysis(tmp_path)


def test_output_path_is_a_file(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(CevnsError, match="is a file, not a folder"):
        run_analysis(BASE, f / "out", progress=False)
    assert f.read_text() == "x"
