"""The solar-summary experiment kind (PandaX-4T 8B counting channels, a SUMMARY likelihood)."""

import numpy as np
import pytest

from cevns.analysis import load_analysis
from cevns.analysis.build import build_likelihood
from cevns.errors import ConfigError
from cevns.experiments import load_experiment


@pytest.fixture(scope="module")
def px():
    return load_experiment("pandax-4t-8b")


def test_sm_signal_is_the_published_best_fit_scaled_to_the_ssm_flux(px):
    # PRL 133, 191001: best-fit 3.5 (paired) and 75 (US2) events at 8.4e6 cm^-2 s^-1; B16-GS98 8B 5.46e6
    assert np.allclose(px.predict().per_bin[0], np.array([3.5, 75.0]) * 5.46 / 8.4, rtol=1e-9)
    assert px.observed.tolist() == [3.0, 332.0]
    assert px.describe()["likelihood_type"] == "SUMMARY"


def test_lower_threshold_channel_sees_more_rate(px):
    r_paired, r_us2 = px.engine.sm_rate_per_t_yr
    assert r_us2 > 4 * r_paired  # 0.33 vs 1.1 keVnr on the steeply falling 8B recoil spectrum


def test_physics_point_changes_the_signal_through_the_rate_ratio(px):
    sm = px.predict().per_bin[0]
    nsi = px.predict({"eps_ee_uV": 0.3}).per_bin[0]
    assert np.all(nsi != sm)
    ratio = nsi / sm
    assert abs(ratio[0] - ratio[1]) < 0.05  # NSI scales Q_W: nearly threshold independent


def test_summary_in_an_analysis_profiles_flux_and_backgrounds():
    spec = {"schema_version": 1, "name": "t", "title": "t", "experiments": [{"experiment": "pandax-4t-8b"}],
            "scans": [{"name": "s", "parameters": ["eps_ee_uV"], "ranges": [[-0.5, 0.5]], "points": [3]}]}
    lik = build_likelihood(load_analysis(spec))
    fit = lik.fit({"eps_ee_uV": 0.0})
    assert set(fit.nuisances) == {"flux_8b", "bkg_paired", "bkg_us2"}
    assert fit.nuisances["bkg_us2"][0] > 0  # the US2 excess pulls the background up


@pytest.mark.parametrize("over, words", [
    ({"solar_model": "x"}, "solar_model"), ({"best_fit_flux_1e6": 0}, "best_fit_flux_1e6"),
    ({"channels": []}, "channels"), ({"channels": [{"name": "a"}]}, "keys"), ({"bogus": 1}, "bogus"),
])
def test_bad_summary_files_are_clean_errors(over, words):
    with pytest.raises(ConfigError, match=words):
        load_experiment("pandax-4t-8b", overrides=over)
