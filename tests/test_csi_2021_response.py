"""CsI 2021 response pieces (cevns.detectors.csi_2021) against their formulas, and event binning."""

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.stats import gamma as gamma_dist

from cevns.detectors.csi_2021 import (
    gamma_pe_bin_probabilities,
    gamma_pe_moments,
    logistic_efficiency_pe,
    scintillation_mevee,
    time_efficiency,
)
from cevns.errors import CevnsError
from cevns.experiments.coherent_csi_2021_model import load_csi_2021
from cevns.experiments.coherent_data import rebin_fine_pdf


@pytest.fixture(scope="module")
def model():
    return load_csi_2021()


@pytest.mark.parametrize("e_ee", [0.5, 2.0, 7.5])
def test_gamma_pe_moments_match_formula(e_ee):
    # the COHERENT parametrisation: a = 0.0749/Eee, b = 9.56 Eee, shape 1 + b, scale 1/(a(1+b))
    a, b = 0.0749 / e_ee, 9.56 * e_ee
    dist = gamma_dist(1.0 + b, scale=1.0 / (a * (1.0 + b)))
    m0 = quad(dist.pdf, 0, np.inf)[0]
    m1 = quad(lambda x: x * dist.pdf(x), 0, np.inf)[0]
    m2 = quad(lambda x: x * x * dist.pdf(x), 0, np.inf)[0]
    mean, var = gamma_pe_moments(e_ee, light_yield_pe_per_kevee=1 / 0.0749)
    assert m0 == pytest.approx(1.0, abs=1e-8)
    assert m1 == pytest.approx(1.0 / a, rel=1e-7) and mean == pytest.approx(m1, rel=1e-7)
    assert var == pytest.approx(m2 - m1**2, rel=1e-6)
    edges = np.linspace(0, 400, 801)
    p = gamma_pe_bin_probabilities([e_ee], edges, 1 / 0.0749)[0]
    assert p.sum() == pytest.approx(1.0, abs=1e-9)
    mid = 0.5 * (edges[1:] + edges[:-1])
    assert (p * mid).sum() == pytest.approx(m1, rel=1e-3)


def test_scintillation_polynomial_and_components(model):
    sc = model.scintillation
    t = np.array([5.0, 20.0, 50.0])
    x = t / 1000.0
    a, b, c, d = sc.nominal
    np.testing.assert_allclose(sc.mevee(t), a * x + b * x**2 + c * x**3 + d * x**4, rtol=1e-12)
    np.testing.assert_allclose(sc.mevee(t, theta0=1.0), scintillation_mevee(t, sc.pc0_up), rtol=1e-12)
    np.testing.assert_allclose(sc.mevee(t, theta1=-1.0), scintillation_mevee(t, sc.pc1_down), rtol=1e-12)
    qf = sc.mevee(t) / x
    assert np.all((qf > 0.05) & (qf < 0.12))  # CsI quenching 7-10 % (arXiv:2110.07730)


def test_efficiencies(model):
    eff = model.efficiency
    pe = np.array([0.0, 5.0, 10.8646, 30.0, 200.0])
    a, b, c, d = eff.nominal
    want = np.clip(a / (1 + np.exp(-b * (pe - c))) + d, 0, None)
    np.testing.assert_allclose(eff(pe), want, rtol=1e-12)
    assert eff(0.0) == 0.0
    np.testing.assert_allclose(eff(pe, theta=1.0), logistic_efficiency_pe(pe, eff.up), rtol=1e-12)
    np.testing.assert_allclose(eff(pe, theta=-1.0), logistic_efficiency_pe(pe, eff.down), rtol=1e-12)
    t = np.array([0.1, 0.52, 2.0, 6.0])
    np.testing.assert_allclose(time_efficiency(t), [1.0, 1.0, np.exp(-0.0494 * 1.48), np.exp(-0.0494 * 5.48)])


def test_binning_reproduces_release_counts(model):
    d = model.inputs.data
    full = load_csi_2021(pe_edges=[0, 100, 250], t_edges_us=[0, 3, 6])
    assert full.counts("coincidence").sum() == 5142
    assert full.counts("anticoincidence").sum() == 4890
    c = model.counts()
    assert c.shape == (len(d.pe_edges) - 1, len(d.t_edges_us) - 1)
    fine = load_csi_2021(pe_edges=np.arange(0, 61, 4.0), t_edges_us=np.linspace(0, 6, 49))
    assert fine.counts().sum() == c.sum()  # same region, any binning


@pytest.mark.parametrize("kw, match", [({"pe_edges": [0, 10, 300]}, "PE bin edges"),
                                       ({"t_edges_us": [-1, 1, 6]}, "t_rec"),
                                       ({"pe_edges": [10, 5, 20]}, "ascending")])
def test_binning_outside_range_is_clean_error(kw, match):
    with pytest.raises(CevnsError, match=match):
        load_csi_2021(**kw)


def test_background_templates_and_rebinning(model):
    c, v = np.arange(0.5, 20), np.linspace(1.0, 2.0, 20)
    np.testing.assert_allclose(rebin_fine_pdf(c, v, [0, 7.5, 20]).sum(), v.sum())
    assert rebin_fine_pdf(c, v, [0, 0.5])[0] == pytest.approx(0.5 * v[0])
    for name, n in (("brn", 18.4), ("nin", 5.6)):
        tpl = model.background_template(name)
        assert tpl.shape == model.counts().shape
        # normalised to the published count in 0-60 PE, 0-6 us before the time efficiency (<= 1)
        assert 0.85 * n < tpl.sum() <= n
    with pytest.raises(CevnsError, match="unknown"):
        model.background_template("cosmics")
