"""First fits of COHERENT LAr 2020 and CsI 2021 with the template likelihood; own predictions vs releases."""

import numpy as np
import pytest
from scipy.optimize import minimize_scalar

from cevns.errors import CevnsError
from cevns.experiments.coherent_ar_2020_model import load_ar_2020
from cevns.experiments.coherent_csi_2021_model import load_csi_2021
from cevns.experiments.coherent_inputs import load_inputs
from cevns.stats.binned_templates import TemplateLikelihood


@pytest.fixture(scope="module")
def ar():
    return load_ar_2020()


@pytest.fixture(scope="module")
def csi():
    return load_csi_2021()


def test_argon_fit_reproduces_published_normalisations(ar):
    like = TemplateLikelihood.from_inputs(ar.fit_inputs())
    fit = like.fit()
    assert fit["valid"]
    pulls = {name: (fit["events"][name] - v) / e for name, (v, e) in ar.inputs.best_fit.items()}
    for name in ("cevns", "delayed_brn", "steady_state"):
        assert abs(pulls[name]) < 1.0, pulls
    # prompt BRN: 511 vs 553 +- 34 with the (one-sided, mirrored) BRN timing-width template pulled to
    # +1 sigma; without that template the fit gives 559 (see the report of this work)
    assert abs(pulls["prompt_brn"]) < 1.5, pulls
    sig = like.significance("cevns", fit)
    assert 3.0 < sig < 4.5  # published 3.5 sigma (arXiv:2003.10630)


def test_argon_own_prediction_matches_released_cevns_shape(ar):
    own3d = ar.cevns_prediction()[0]
    released = ar.template("cevns")
    assert own3d.shape == released.shape
    own, rel = own3d.sum(axis=(1, 2)), released.sum(axis=(1, 2))
    # energy, bin by bin, as fractions of the total (toolkit physics vs the collaboration's PDF); measured
    # largest difference 0.0135 (first bin 0.628 vs 0.615), i.e. the toolkit's spectrum is ~2 % softer
    np.testing.assert_allclose(own / own.sum(), rel / rel.sum(), atol=0.015)
    assert abs(own.sum() - 128.0) < 17.0  # release prediction 128 +- 17 (0-5 us)
    # all times: the energy spectrum of the rate engine alone has the same shape
    e_all = ar.cevns_energy_prediction()[0]
    np.testing.assert_allclose(e_all / e_all.sum(), rel / rel.sum(), atol=0.01)


def test_argon_released_time_shape_is_the_pi_mu_chain(ar):
    # fit the pulse onset of the toolkit's time model to the released CEvNS time projection: the onset
    # must be within the published 440 +- 200 ns and the whole 10-bin shape must then agree
    rel = ar.template("cevns").sum(axis=(0, 1))
    rel = rel / rel.sum()
    t0 = ar.inputs.source.timing.pulse_mean_us

    def shape(shift):
        t = ar.cevns_energy_time_prediction(onset_shift_us=shift)[0].sum(axis=0)
        return t / t.sum()

    best = minimize_scalar(lambda d: np.sum((shape(d) - rel) ** 2), bounds=(-0.3, 0.3), method="bounded").x
    assert abs(best) < 0.2
    np.testing.assert_allclose(shape(best), rel, atol=0.003)


def test_argon_fit_with_own_cevns_prediction(ar):
    like = TemplateLikelihood.from_inputs(ar.fit_inputs(own_cevns=True))
    fit = like.fit()
    assert fit["valid"] and "theta_onset" in like.parameters
    assert abs(fit["events"]["cevns"] - 159.0) < 43.0  # published best fit 159 +- 43


def test_argon_bad_inputs(ar, tmp_path):
    with pytest.raises(CevnsError, match="unknown component"):
        ar.fit_inputs(free=("muons",))
    with pytest.raises(CevnsError, match="unknown shape systematic"):
        ar.fit_inputs(drop_systematics=("cevns_quenching",))
    text = ar.path.read_text().replace('component = "prompt_brn"\nup = "data/brnpdf+1sigEnergy.txt"',
                                       'component = "brn"\nup = "data/brnpdf+1sigEnergy.txt"')
    bad = tmp_path / "inputs.toml"
    bad.write_text(text)
    with pytest.raises(CevnsError, match="unknown component 'brn'"):
        load_inputs(bad)


def test_csi_steady_state_is_uniform_in_time(csi):
    # the AC sample (steady state only) against uniform x time efficiency, 0.5 us bins, 0-60 / 60-250 PE
    m = load_csi_2021(pe_edges=[0, 60, 250], t_edges_us=np.arange(0, 6.01, 0.5))
    ac = m.counts("anticoincidence")
    w = m.steady_state_time_fractions()
    for row in ac:
        chi2 = np.sum((row - row.sum() * w) ** 2 / (row.sum() * w))
        assert chi2 < 25.0  # 11 dof


def test_csi_prediction_and_fit(csi):
    sm = csi.cevns_template()[0].sum()
    assert abs(sm - 341.0) < 42.0  # published SM 341 +- 11 (th) +- 42 (exp)
    like = TemplateLikelihood.from_inputs(csi.fit_inputs(), method="exponential")
    fit = like.fit()
    assert fit["valid"]
    assert abs(fit["events"]["cevns"] - 306.0) < 2 * 20.0  # published 306 +- 20
    assert like.significance("cevns", fit) > 8.0  # published 11.6 sigma (see report: AC statistics)
