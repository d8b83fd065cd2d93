"""Tests of the pion-decay-at-rest source (cevns.sources.spallation)."""

import math
from pathlib import Path

import numpy as np
import pytest
from scipy.integrate import quad

from cevns.sources.spallation import (
    fluence_per_flavor_cm2,
    load_arrival_time_pdf,
    michel_nu_e_pdf,
    michel_nu_mu_bar_pdf,
    prompt_energy_mev,
    spallation_flux,
    time_window_fraction,
)

M_MU = 105.6583755  # PDG muon mass [MeV]
M_PI = 139.57039  # PDG charged-pion mass [MeV]
TAU_MU_US = 2.1969811  # PDG muon lifetime [us]

_RELEASE = "arrivalTimePDF_{}.txt"
_SEARCH_DIRS = [
    Path("/work/shared/data/coherent-csi-2017"),
    Path(__file__).resolve().parents[1] / "src" / "cevns",
]


def _release_file(kind):
    """The COHERENT 2017 arrival-time PDF (release arXiv:1804.09459), wherever a copy lives."""
    name = _RELEASE.format(kind)
    for d in _SEARCH_DIRS:
        if (d / name).is_file():
            return d / name
        if d.is_dir():
            hits = sorted(d.rglob(name))
            if hits:
                return hits[0]
    pytest.skip(f"{name} not available")


def test_prompt_line_energy_from_two_body_kinematics():
    # massless nu: E_nu = p; energy conservation in pi -> mu nu at rest: sqrt(p^2 + m_mu^2) + p = m_pi
    p = prompt_energy_mev()
    assert math.hypot(p, M_MU) + p == pytest.approx(M_PI, rel=1e-12)
    assert prompt_energy_mev() == pytest.approx(29.79, abs=0.005)


@pytest.mark.parametrize(
    "pdf, mean_over_mmu",
    [
        # <E>/m_mu = 192 int_0^1/2 x^3 (1/2 - x) dx = 192 (1/128 - 1/160) = 192/640 = 3/10
        (michel_nu_e_pdf, 3.0 / 10.0),
        # <E>/m_mu = 64 int_0^1/2 x^3 (3/4 - x) dx = 64 (3/256 - 1/160) = 64 * 7/1280 = 7/20
        (michel_nu_mu_bar_pdf, 7.0 / 20.0),
    ],
)
def test_michel_spectra_normalised_with_analytic_mean(pdf, mean_over_mmu):
    norm, _ = quad(pdf, 0.0, M_MU / 2, epsabs=1e-13)
    mean, _ = quad(lambda e: e * pdf(e), 0.0, M_MU / 2, epsabs=1e-12)
    assert norm == pytest.approx(1.0, rel=1e-10)
    assert mean == pytest.approx(mean_over_mmu * M_MU, rel=1e-10)


def test_michel_spectra_vanish_outside_kinematic_range_and_broadcast():
    e = np.array([[-1.0, 0.0], [M_MU / 2 + 1e-6, 80.0]])
    for pdf in (michel_nu_e_pdf, michel_nu_mu_bar_pdf):
        out = pdf(e)
        assert out.shape == e.shape
        assert np.all(out == 0.0)
    # nu_e spectrum vanishes at the endpoint, anti-nu_mu does not: 64/m * 1/4 * 1/4
    assert michel_nu_e_pdf(M_MU / 2) == pytest.approx(0.0, abs=1e-15)
    assert michel_nu_mu_bar_pdf(M_MU / 2) == pytest.approx(4.0 / M_MU, rel=1e-10)


def test_fluence_coherent_2017():
    # r N_POT / (4 pi L^2) = 0.08 * 1.76e23 / (4 pi (1930 cm)^2) = 1.408e22 / 4.6808e7 = 3.008e14 cm^-2
    phi = fluence_per_flavor_cm2(1.76e23, 0.08, 19.3)
    assert phi == pytest.approx(3.008e14, rel=1e-3)
    # inverse-square law
    assert fluence_per_flavor_cm2(1.76e23, 0.08, 38.6) == pytest.approx(phi / 4, rel=1e-12)


def test_spallation_flux_components_and_totals():
    comps = spallation_flux(1.76e23, 0.08, 19.3, prompt_fraction=0.9, delayed_fraction=0.5)
    phi = 0.08 * 1.76e23 / (4 * math.pi * 1930.0**2)
    by_flavor = {c.flavor: c for c in comps}
    assert set(by_flavor) == {"nu_mu", "nu_e", "nu_mu_bar"}
    line = by_flavor["nu_mu"]
    assert line.is_line and line.energies_mev[0] == pytest.approx(29.79, abs=0.005)
    assert line.total_fluence_cm2() == pytest.approx(0.9 * phi, rel=1e-12)
    for flav in ("nu_e", "nu_mu_bar"):
        c = by_flavor[flav]
        assert not c.is_line
        assert c.energies_mev[0] == 0.0 and c.energies_mev[-1] == pytest.approx(M_MU / 2)
        assert c.total_fluence_cm2() == pytest.approx(0.5 * phi, rel=1e-5)
    assert by_flavor["nu_mu_bar"].e_max_mev == pytest.approx(M_MU / 2)


def test_trapezoid_total_converges_when_halving_step():
    for flav_index in (1, 2):
        coarse = spallation_flux(1e23, 0.08, 20.0, n_energy=1001)[flav_index].total_fluence_cm2()
        fine = spallation_flux(1e23, 0.08, 20.0, n_energy=2001)[flav_index].total_fluence_cm2()
        assert abs(fine / coarse - 1) < 1e-4


def test_time_window_fraction_partial_bins_on_uniform_pdf():
    centers = np.arange(0.25, 12.0, 0.5)  # 24 bins of 0.5 us on [0, 12]
    prob = np.full(centers.size, 3.0)  # unnormalised on purpose
    assert time_window_fraction(centers, prob, (0.0, 12.0)) == pytest.approx(1.0)
    assert time_window_fraction(centers, prob, (0.0, 6.0)) == pytest.approx(0.5)
    # window edges inside bins: [0.1, 2.6] covers 2.5 us of 12 us
    assert time_window_fraction(centers, prob, (0.1, 2.6)) == pytest.approx(2.5 / 12.0)
    assert time_window_fraction(centers, prob, (-5.0, 50.0)) == pytest.approx(1.0)
    assert time_window_fraction(centers, prob, (13.0, 20.0)) == 0.0


def test_time_window_fraction_of_binned_exponential():
    tau = TAU_MU_US
    edges = np.arange(0.0, 40.0 + 1e-9, 0.5)
    centers = 0.5 * (edges[1:] + edges[:-1])
    prob = np.exp(-edges[:-1] / tau) - np.exp(-edges[1:] / tau)
    # window edges on bin edges: exact
    assert time_window_fraction(centers, prob, (0.0, 6.0)) == pytest.approx(
        (1 - math.exp(-6 / tau)) / (1 - math.exp(-40 / tau)), rel=1e-12
    )
    # edge at 5.9 us inside a bin: linear interpolation error is second order in the bin width
    exact = 1 - math.exp(-5.9 / tau)
    assert time_window_fraction(centers, prob, (0.0, 5.9)) == pytest.approx(exact, abs=2e-3)


def test_released_delayed_pdf_window_fractions():
    centers, prob = load_arrival_time_pdf(_release_file("delayedNeutrinos"))
    assert centers.size == 24 and np.allclose(np.diff(centers), 0.5)
    assert time_window_fraction(centers, prob, (0.0, 12.0)) == pytest.approx(1.0, abs=1e-12)
    f6 = time_window_fraction(centers, prob, (0.0, 6.0))
    assert 0.9 < f6 < 1.0
    # Independent estimate: prompt arrival-time distribution (proton pulse, from the release)
    # followed by a muon decay with lifetime tau: P(t < 6) = sum_i p_i (1 - exp(-(6 - t_i)/tau)).
    pc, pp = load_arrival_time_pdf(_release_file("promptNeutrinos"))
    pp = pp / pp.sum()
    estimate = float(np.sum(pp * (1 - np.exp(-np.clip(6.0 - pc, 0, None) / TAU_MU_US))))
    assert f6 == pytest.approx(estimate, abs=0.02)


def test_prompt_pdf_is_almost_entirely_in_first_microseconds():
    centers, prob = load_arrival_time_pdf(_release_file("promptNeutrinos"))
    assert time_window_fraction(centers, prob, (0.0, 1.5)) == pytest.approx(1.0, abs=1e-9)


def test_load_arrival_time_pdf_rejects_garbage(tmp_path):
    bad = tmp_path / "pdf.txt"
    bad.write_text("0.25, 0.5\n0.75, abc\n")
    with pytest.raises(ValueError, match="line 2"):
        load_arrival_time_pdf(bad)


@pytest.mark.parametrize(
    "kwargs, word",
    [
        ({"pot": -1.0}, "pot"),
        ({"pot": float("nan")}, "pot"),
        ({"nu_per_flavor_per_pot": 0.0}, "nu_per_flavor_per_pot"),
        ({"distance_m": -19.3}, "distance_m"),
        ({"prompt_fraction": 1.5}, "prompt_fraction"),
        ({"delayed_fraction": -0.1}, "delayed_fraction"),
        ({"delayed_fraction": float("nan")}, "delayed_fraction"),
        ({"n_energy": 2}, "n_energy"),
    ],
)
def test_bad_input_raises(kwargs, word):
    args = {"pot": 1.76e23, "nu_per_flavor_per_pot": 0.08, "distance_m": 19.3}
    args.update(kwargs)
    with pytest.raises(ValueError, match=word):
        spallation_flux(**args)


def test_time_window_bad_input():
    c = np.array([0.25, 0.75, 1.5])
    with pytest.raises(ValueError, match="uniformly spaced"):
        time_window_fraction(c, [1, 1, 1], (0, 1))
    with pytest.raises(ValueError, match="non-negative"):
        time_window_fraction([0.25, 0.75], [1, -1], (0, 1))
    with pytest.raises(ValueError, match="window_us"):
        time_window_fraction([0.25, 0.75], [1, 1], (2, 1))
