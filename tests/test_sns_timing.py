"""SNS arrival-time model (cevns.sources.sns_timing): normalisation, means, closed-form convolution."""

from pathlib import Path

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.optimize import minimize_scalar

from cevns.errors import CevnsError
from cevns.sources.spallation import fluence_per_flavor_cm2, load_arrival_time_pdf
from cevns.sources.sns_timing import TAU_MU_US, TAU_PI_US, BeamPulse, binned_fluences_cm2, population_of

PULSE = BeamPulse(mean_us=0.70, sigma_us=0.15)


@pytest.mark.parametrize("pop", ["pulse", "prompt", "delayed"])
def test_pdfs_integrate_to_one(pop):
    total, _ = quad(lambda t: float(PULSE.pdf(pop, t)), -5.0, 80.0, points=[0.7, 1.0, 3.0], limit=400)
    assert total == pytest.approx(1.0, abs=1e-7)
    assert PULSE.bin_probabilities(pop, [-5.0, 0.0, 1.0, 6.0, 80.0]).sum() == pytest.approx(1.0, abs=1e-10)


@pytest.mark.parametrize("pop, extra", [("prompt", TAU_PI_US), ("delayed", TAU_PI_US + TAU_MU_US)])
def test_mean_times(pop, extra):
    mean, _ = quad(lambda t: t * float(PULSE.pdf(pop, t)), -5.0, 80.0, points=[0.7, 1.0, 3.0], limit=400)
    assert mean == pytest.approx(0.70 + extra, abs=1e-6)
    assert PULSE.mean_time_us(pop) == pytest.approx(0.70 + extra)


def test_delayed_is_numerical_convolution_of_chain_with_pulse():
    # f_d = G * chain, chain(u) = (exp(-u/tau_mu) - exp(-u/tau_pi)) / (tau_mu - tau_pi), by direct quadrature
    def chain(u):
        return (np.exp(-u / TAU_MU_US) - np.exp(-u / TAU_PI_US)) / (TAU_MU_US - TAU_PI_US)

    for t in [0.3, 0.8, 1.5, 4.0]:
        conv, _ = quad(lambda u: chain(u) * float(PULSE.pdf("pulse", t - u)), 0.0, t + 2.0, limit=400)
        assert float(PULSE.pdf("delayed", t)) == pytest.approx(conv, rel=1e-6)


def test_prompt_is_numerical_convolution_of_exponential_with_pulse():
    for t in [0.4, 0.7, 1.1]:
        conv, _ = quad(lambda u: np.exp(-u / TAU_PI_US) / TAU_PI_US * float(PULSE.pdf("pulse", t - u)),
                       0.0, 2.0, points=[0.05, 0.2], limit=400)
        assert float(PULSE.pdf("prompt", t)) == pytest.approx(conv, rel=1e-6)


def test_efficiency_weighting_and_onset_shift():
    edges = np.array([0.0, 0.5, 1.0, 2.0, 6.0])
    p1 = PULSE.bin_probabilities("delayed", edges, efficiency=lambda t: np.ones_like(t))
    np.testing.assert_allclose(p1, PULSE.bin_probabilities("delayed", edges), rtol=1e-12)
    eff = lambda t: np.exp(-0.1 * t)  # noqa: E731
    direct = [quad(lambda t: float(PULSE.pdf("delayed", t)) * np.exp(-0.1 * t), a, b, limit=200)[0]
              for a, b in zip(edges[:-1], edges[1:])]
    np.testing.assert_allclose(PULSE.bin_probabilities("delayed", edges, efficiency=eff), direct, rtol=1e-5)
    shifted = PULSE.shifted(0.1)
    assert shifted.mean_time_us("prompt") == pytest.approx(PULSE.mean_time_us("prompt") + 0.1)
    np.testing.assert_allclose(shifted.cdf("prompt", edges + 0.1), PULSE.cdf("prompt", edges), rtol=1e-12)


def test_flavor_rows_and_bad_input():
    rows = PULSE.flavor_bin_probabilities(["nu_mu", "nu_e", "nu_mu_bar"], [0.0, 1.0, 6.0])
    np.testing.assert_allclose(rows[1], rows[2])
    assert rows[0, 0] > 0.9 and rows[1, 0] < 0.4
    assert population_of("nu_mu") == "prompt"
    with pytest.raises(CevnsError, match="nu_tau"):
        population_of("nu_tau")
    with pytest.raises(CevnsError, match="ascending"):
        PULSE.bin_probabilities("prompt", [1.0, 0.5])
    with pytest.raises(CevnsError, match="sigma_us"):
        BeamPulse(0.7, sigma_us=-1.0)


def test_binned_fluences_normalisation():
    # COHERENT CsI 2021: 3.198e23 POT, 0.0848 per flavour, 19.3 m -> r N / (4 pi L^2) per flavour
    phi = 0.0848 * 3.198e23 / (4 * np.pi * 1930.0**2)
    assert fluence_per_flavor_cm2(3.198e23, 0.0848, 19.3) == pytest.approx(phi, rel=1e-12)
    out = binned_fluences_cm2(3.198e23, 0.0848, 19.3, PULSE, [-5.0, 1.5, 100.0], flux_scale=1.1)
    for f in ("nu_mu", "nu_e", "nu_mu_bar"):
        assert out[f].sum() == pytest.approx(1.1 * phi, rel=1e-10)
    assert out["nu_mu"][0] > 0.99 * 1.1 * phi
    with pytest.raises(CevnsError, match="distance_m"):
        binned_fluences_cm2(1e23, 0.08, -1.0, PULSE, [0, 1])
    with pytest.raises(CevnsError, match="flux_scale"):
        binned_fluences_cm2(1e23, 0.08, 19.3, PULSE, [0, 1], flux_scale=float("nan"))


def test_model_reproduces_2017_released_arrival_pdfs():
    # COHERENT CsI 2017 release (arXiv:1804.09459): 0.5 us bins, 0-12 us. One free parameter (the pulse
    # mean in that clock) fitted to the delayed PDF; the prompt PDF then follows with the same pulse.
    folder = Path(__file__).resolve().parents[1] / "src/cevns/experiments/coherent_csi_2017/data"
    edges = np.arange(0.0, 12.01, 0.5)
    _, delayed = load_arrival_time_pdf(folder / "arrivalTimePDF_delayedNeutrinos.txt")
    _, prompt = load_arrival_time_pdf(folder / "arrivalTimePDF_promptNeutrinos.txt")

    def shape(mean, pop):
        p = BeamPulse(mean).bin_probabilities(pop, edges)
        return p / p.sum()

    best = minimize_scalar(lambda m: np.sum((shape(m, "delayed") - delayed) ** 2), bounds=(0.3, 1.2),
                           method="bounded").x
    np.testing.assert_allclose(shape(best, "delayed"), delayed, atol=2e-3)
    np.testing.assert_allclose(shape(best, "prompt"), prompt, atol=0.03)
