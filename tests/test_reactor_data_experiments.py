"""Built-in reactor DATA experiments: CONUS+ (Leibstadt, arXiv:2501.05206) and the final CONUS limit
(Brokdorf, arXiv:2401.07684), both summary likelihoods.

Checks against independent numbers: the published CONUS+ SM prediction (347 +- 59 events), the reactor
flux from 2e20 antineutrinos/s/GW_th (PHYSICS.md section 5), the published CONUS+ signal strength and
significance (395 +- 106 events, 3.7 sigma) and the published CONUS limit (0.34 events/(kg d), 90% CL)
recovered by fits of the summary likelihoods.
"""

import hashlib
import math
from pathlib import Path

import numpy as np
import pytest

from cevns.analysis import load_analysis, run_analysis
from cevns.experiments import experiment_path, list_experiments, load_experiment
from cevns.physics.constants import SECONDS_PER_DAY
from cevns.stats import binned, intervals
from cevns.analysis.build import build_likelihood

NAMES = ("conus-plus", "conus-brokdorf")


@pytest.fixture(scope="module")
def exps():
    return {n: load_experiment(n) for n in NAMES}


def _total(exp) -> float:
    return float(np.sum(exp.predict().per_bin))


def test_builtin_summary_experiments_are_labelled_and_documented():
    names = {r["name"]: r for r in list_experiments()}
    for n in NAMES:
        assert n in names and names[n]["references"], n
        folder = experiment_path(n).parent
        assert "SUMMARY" in names[n]["title"]
        exp = load_experiment(n)
        assert "SUMMARY LIKELIHOOD" in exp.spec.description
        assert "SUMMARY LIKELIHOOD" in (folder / "REFERENCES.md").read_text()
        prov = (folder / "data" / "PROVENANCE.md").read_text()
        assert "arXiv:" in prov
        for f in sorted((folder / "data").glob("*.csv")):
            digest = hashlib.sha256(f.read_bytes()).hexdigest()
            assert f"| {f.name} | {digest} |" in prov, f"{n}: sha256 of {f.name} not in PROVENANCE.md"
        # every input of [source] and [detector] carries a comment (source or reason)
        section, prev = None, ""
        for line in experiment_path(n).read_text().splitlines():
            s = line.strip()
            if s.startswith("["):
                section = s
            elif section in ("[source]", "[detector]") and "=" in s and not s.startswith("#"):
                key = s.split("=")[0].strip()
                if key not in ("kind", "n_energy", "e_max_mev", "observable"):
                    assert "#" in s or prev.startswith("#"), f"{n}: {s!r} has no source comment"
            prev = s


def test_conus_plus_published_inputs(exps):
    exp = exps["conus-plus"]
    det, src = exp.spec.detector, exp.spec.source
    assert (src.thermal_power_gw, src.distance_m) == (3.6, 20.7)
    assert det.mass_kg == 2.83
    assert det.mass_kg * det.exposure_days == pytest.approx(327.0, rel=1e-4)  # kg d reactor on
    assert det.quenching.model == "lindhard" and det.quenching.k == 0.162
    # exposure-weighted thresholds 160/170/180 eVee: acceptance 0, 1/3, 2/3, 1
    eff = exp.engine.response.efficiency
    assert np.allclose(eff(np.array([0.159, 0.165, 0.175, 0.185])), [0.0, 1 / 3, 2 / 3, 1.0], atol=1e-9)


def test_conus_plus_sm_prediction_within_published_band(exps):
    # published SM prediction 347 +- 59 events (arXiv:2501.05206)
    n = _total(exps["conus-plus"])
    assert 347 - 59 < n < 347 + 59, n


@pytest.mark.parametrize("name, power_gw, dist_m", [("conus-plus", 3.6, 20.7), ("conus-brokdorf", 3.9, 17.1)])
def test_flux_vs_two_e20_per_gw(exps, name, power_gw, dist_m):
    exp = exps[name]
    (comp,) = exp.engine.fluxes
    live_s = exp.spec.detector.exposure_days * SECONDS_PER_DAY
    flux = np.trapezoid(comp.values, comp.energies_mev) / live_s  # cm^-2 s^-1
    rough = power_gw * 2e20 / (4 * math.pi * (dist_m * 100) ** 2)  # ~2e20 anti-nu / s / GW_th
    assert flux == pytest.approx(rough, rel=0.10)
    if name == "conus-plus":
        # CONUS+ quotes 1.5e13 cm^-2 s^-1 (arXiv:2412.13707), with the full low-energy part
        assert 0.75 * 1.5e13 < flux < 1.5e13
    else:
        # CONUS quotes "up to 2.3e13" cm^-2 s^-1 (arXiv:2401.07684)
        assert 0.8 * 2.3e13 < flux < 2.3e13


def _write_analysis(tmp_path: Path, name: str, experiment: str, extra: str = "") -> Path:
    p = tmp_path / f"{name}.toml"
    p.write_text(f"""schema_version = 1
name = "{name}"
[fixed]
sin2_theta_w = 0.23129
[[experiments]]
experiment = "{experiment}"
likelihood = "gaussian"
data = "observed"
{extra}
""")
    return p


def test_conus_plus_signal_strength_and_significance(tmp_path, exps):
    n_sm = _total(exps["conus-plus"])
    # a free signal normalisation instead of the prediction nuisances: mu = 1 + theta
    extra = """use_experiment_systematics = false
[[experiments.systematics]]
name = "mu_minus_one"
applies_to = ["signal"]
"""
    lik = build_likelihood(_write_analysis(tmp_path, "cp-mu", "conus-plus", extra))
    fit = lik.fit({})
    mu = 1.0 + float(fit.nuisances["mu_minus_one"][0])
    assert mu * n_sm == pytest.approx(395.0, rel=1e-6)  # best fit = the published 395 events
    assert float(fit.chi2[0]) == pytest.approx(0.0, abs=1e-9)

    # the encoded data: 395 observed with variance 106^2 (public stats function on the built data)
    (row,) = lik.describe()
    raw = np.asarray(row["observed"])
    side = np.asarray(row["backgrounds"]["steady_state"])
    var = raw + side
    assert float(raw[0] - side[0]) == pytest.approx(395.0)
    assert float(np.sqrt(var[0])) == pytest.approx(106.0)
    # Delta chi2 = 1 interval of mu: 395 +- 106 events
    mus = np.linspace(0.0, 3.0, 3001)
    chi2 = binned.gaussian_chi2(raw, mus[:, None] * n_sm + side, var)
    (iv,) = intervals.intervals_1d(mus, chi2 - chi2.min(), 1.0)
    assert iv[0] * n_sm == pytest.approx(395 - 106, abs=0.5)
    assert iv[1] * n_sm == pytest.approx(395 + 106, abs=0.5)
    # no-signal hypothesis: 3.7 sigma, the published significance
    assert math.sqrt(float(np.ravel(binned.gaussian_chi2(raw, side, var))[0])) == pytest.approx(3.7, abs=0.05)

    # with the experiment's prediction nuisances (17% in quadrature) the SM chi2 is
    # (395 - N)^2 / (106^2 + (0.17 N)^2)
    lik_sm = build_likelihood(_write_analysis(tmp_path, "cp-sm", "conus-plus"))
    expect = (395 - n_sm) ** 2 / (106**2 + (0.08**2 + 0.15**2) * n_sm**2)
    assert float(lik_sm.chi2({})[0]) == pytest.approx(expect, rel=1e-6)


def test_conus_brokdorf_limit_reproduced(tmp_path, exps):
    rate_sm = _total(exps["conus-brokdorf"])  # events / (kg d), per unit exposure
    assert exps["conus-brokdorf"].spec.detector.mass_kg * exps["conus-brokdorf"].spec.detector.exposure_days == 1.0
    lik = build_likelihood(_write_analysis(tmp_path, "cb", "conus-brokdorf", "use_experiment_systematics = false"))
    (row,) = lik.describe()
    raw = np.asarray(row["observed"])
    side = np.asarray(row["backgrounds"]["steady_state"])
    var = raw + side
    mus = np.linspace(0.0, 2.0, 20001)
    chi2 = binned.gaussian_chi2(raw, mus[:, None] * rate_sm + side, var)
    thr = float(intervals.delta_chi2_threshold(0.9, 1))
    (iv,) = intervals.intervals_1d(mus, chi2 - chi2.min(), thr)
    assert iv[0] == 0.0
    # the 90% CL upper limit on the rate: 0.34 events / (kg d) (arXiv:2401.07684)
    assert iv[1] * rate_sm == pytest.approx(0.34, rel=1e-3)
    # the likelihood itself (SM point) agrees with the closed form R^2 / sigma^2
    sigma = 0.34 / math.sqrt(thr)
    assert float(lik.chi2({})[0]) == pytest.approx((rate_sm / sigma) ** 2, rel=1e-6)


@pytest.mark.parametrize("name", ["conus_plus", "conus_brokdorf"])
def test_example_analyses_run(tmp_path, name):
    path = Path(experiment_path(name.replace("_", "-"))).parent / "example_analysis.toml"
    spec = load_analysis(path)
    spec.scans[0].points = [31]
    res = run_analysis(spec, tmp_path / name, progress=False)
    (scan,) = res["scans"]
    assert scan["parameter"] == "sin2_theta_w"
    if name == "conus_plus":
        # more events than predicted -> sin2_theta_w above 0.23129; the SM value inside 90% CL
        assert scan["best_fit"] > 0.23129
        (iv,) = scan["intervals"]["0.9"]
        assert iv[0] < 0.23129 < iv[1]


@pytest.mark.parametrize("name, nuisance", [("conus-plus", "conus_plus_quenching"),
                                            ("conus-brokdorf", "conus_brokdorf_quenching")])
def test_quenching_nuisance_matches_propagated_k_uncertainty(exps, name, nuisance):
    # k = 0.162 +- 0.004 (arXiv:2202.03754) propagated through the response: half the spread of the
    # predictions at k -+ 0.004 relative to the nominal one equals the nuisance's sigma (to 0.005)
    base = _total(exps[name])
    lo, hi = (_total(load_experiment(name, overrides={"detector": {"quenching": {"model": "lindhard", "k": k}}}))
              for k in (0.158, 0.166))
    assert lo < base < hi
    (syst,) = [s for s in exps[name].systematics if s.name == nuisance]
    assert 0.5 * (hi - lo) / base == pytest.approx(syst.sigma, abs=0.005)
