"""Tests of the reactor antineutrino source (cevns.sources.reactor)."""

import math
from pathlib import Path

import numpy as np
import pytest
import scipy.constants as sc

import cevns.sources as sources_pkg
from cevns.sources.reactor import (
    DEFAULT_FISSION_FRACTIONS,
    ENERGY_PER_FISSION_MEV,
    HUBER_COEFFS,
    ISOTOPES,
    MUELLER_COEFFS,
    exp_polynomial_spectrum,
    fission_rate_per_s,
    isotope_spectrum,
    mixed_spectrum,
    reactor_flux,
)

DATA = Path(sources_pkg.__file__).parent / "data" / "reactor"


def _per_fission(isotope, e_lo, e_hi, n=16001, **kw):
    e = np.linspace(e_lo, e_hi, n)
    return float(np.trapezoid(isotope_spectrum(isotope, e, **kw), e))


def test_exp_polynomial_form():
    # exp(a1 + a2 E + a3 E^2) evaluated by hand
    assert exp_polynomial_spectrum(2.0, (1.0, -0.5, 0.25)) == pytest.approx(math.exp(1.0 - 1.0 + 1.0))
    e = np.array([[0.0, 1.0], [3.0, 4.0]])
    assert exp_polynomial_spectrum(e, (0.5,)).shape == (2, 2)


@pytest.mark.parametrize("isotope", ["U235", "Pu239", "Pu241"])
def test_huber_coefficients_reproduce_huber_tables(isotope):
    """Independent check of the coefficients: Huber's own 250 keV tables (arXiv:1106.0687)."""
    table = np.loadtxt(DATA / f"{isotope}-anti-neutrino-flux-250keV.dat")
    e, s, rel_err = table[:, 0], table[:, 1], table[:, 13]  # column 14: +1 sigma total (relative)
    fit = exp_polynomial_spectrum(e, HUBER_COEFFS[isotope])
    ratio = fit / s
    precise = e <= 6.0
    assert np.mean(np.abs(ratio[precise] - 1)) < 0.025  # the fit follows the table within ~2%
    assert np.all(np.abs(ratio - 1) < np.maximum(0.03, 2 * rel_err))  # every point within 2 sigma
    assert np.trapezoid(fit, e) == pytest.approx(np.trapezoid(s, e), rel=0.01)
    # the model uses these coefficients from 2 MeV on
    assert np.allclose(isotope_spectrum(isotope, e), fit, rtol=1e-12)


@pytest.mark.parametrize("isotope", ISOTOPES)
def test_mueller_coefficients_reproduce_mueller_tables(isotope):
    """Mueller et al. (arXiv:1101.2663) fits against the tabulated Mueller spectra, 2-8 MeV."""
    table = np.loadtxt(DATA / f"mueller_{isotope.lower()}.txt", delimiter=",", comments="#")
    sel = (table[:, 0] >= 2.0) & (table[:, 0] <= 8.0)
    e, s = table[sel, 0], table[sel, 1]
    fit = isotope_spectrum(isotope, e, model="mueller")
    assert np.trapezoid(fit, e) == pytest.approx(np.trapezoid(s, e), rel=0.02)
    mid = (e >= 2.25) & (e <= 5.0)
    assert np.all(np.abs(fit[mid] / s[mid] - 1) < 0.06)


def test_huber_mueller_uses_mueller_for_u238_only():
    e = np.linspace(2, 8, 7)
    assert np.allclose(isotope_spectrum("U238", e), exp_polynomial_spectrum(e, MUELLER_COEFFS["U238"]))
    assert not np.allclose(isotope_spectrum("U235", e), isotope_spectrum("U235", e, model="mueller"))


# Antineutrinos per fission above the IBD threshold (1.8 MeV): Bemporad, Gratta, Vogel,
# Rev. Mod. Phys. 74 (2002) 297, arXiv:hep-ph/0107277, Table I (pre-2011 ILL/Vogel spectra). The 2011
# Huber-Mueller re-evaluation is a few percent higher (the "reactor antineutrino anomaly",
# Mention et al. arXiv:1101.2755), more for U238: tolerances allow for that.
@pytest.mark.parametrize(
    "isotope, published, tol",
    [("U235", 1.92, 0.05), ("Pu239", 1.45, 0.05), ("Pu241", 1.83, 0.05), ("U238", 2.38, 0.10)],
)
def test_antineutrinos_per_fission_above_ibd_threshold(isotope, published, tol):
    n = _per_fission(isotope, 1.8, 10.0)
    assert n == pytest.approx(published, rel=tol)
    assert n >= published  # HM is above the old evaluation


# IBD yield per fission sigma_f = int S(E) sigma_IBD(E) dE, with the zeroth-order IBD cross section
# sigma = 0.0952e-42 cm^2 E_e p_e / MeV^2, E_e = E - 1.293 MeV (Vogel & Beacom, arXiv:hep-ph/9903554).
# Huber-Mueller values (1e-43 cm^2/fission) as compiled by Giunti et al. (arXiv:1704.02276): U235 6.69,
# U238 10.10, Pu239 4.40, Pu241 6.03. The zeroth-order cross section neglects ~1% corrections.
@pytest.mark.parametrize(
    "isotope, sigma_f", [("U235", 6.69), ("U238", 10.10), ("Pu239", 4.40), ("Pu241", 6.03)]
)
def test_ibd_yield_per_fission(isotope, sigma_f):
    e = np.linspace(1.806, 10.0, 8001)
    e_e = e - 1.293
    p_e = np.sqrt(np.clip(e_e**2 - 0.511**2, 0, None))
    sigma = 0.0952e-42 * e_e * p_e
    yield_43 = np.trapezoid(isotope_spectrum(isotope, e) * sigma, e) / 1e-43
    assert yield_43 == pytest.approx(sigma_f, rel=0.04)


@pytest.mark.parametrize("low_energy", ["bestiole", "kopeikin"])
@pytest.mark.parametrize("model", ["huber-mueller", "mueller"])
@pytest.mark.parametrize("isotope", ISOTOPES)
def test_continuity_at_junction(isotope, model, low_energy):
    below = isotope_spectrum(isotope, 2.0 - 1e-9, model=model, low_energy=low_energy)
    above = isotope_spectrum(isotope, 2.0, model=model, low_energy=low_energy)
    assert below == pytest.approx(above, rel=1e-6)


@pytest.mark.parametrize("model", ["huber-mueller", "mueller"])
@pytest.mark.parametrize("isotope", ISOTOPES)
def test_continuity_at_high_energy_junction(isotope, model):
    kw = {"model": model, "high_energy": "bestiole"}
    below = isotope_spectrum(isotope, 8.0, **kw)
    above = isotope_spectrum(isotope, 8.0 + 1e-9, **kw)
    assert above == pytest.approx(below, rel=1e-6)
    # the default (polynomial) and the BESTIOLE tail agree at the junction, not far above it
    assert isotope_spectrum(isotope, 8.0, model=model) == pytest.approx(below, rel=1e-12)
    e = [2.5, 5.0, 7.5]
    assert np.allclose(isotope_spectrum(isotope, e, **kw), isotope_spectrum(isotope, e, model=model))


def test_bestiole_high_energy_tail_follows_table():
    table = np.loadtxt(DATA / "bestiole_u235.txt", delimiter=",", comments="#")
    i, j = 339, 419  # bin centers 8.4875 and 10.4875 MeV
    s = isotope_spectrum("U235", table[[i, j], 0], high_energy="bestiole")
    assert s[0] / s[1] == pytest.approx(table[i, 1] / table[j, 1], rel=1e-12)
    assert isotope_spectrum("U235", 13.0, high_energy="bestiole") == 0.0


def test_low_energy_extension_follows_table_shape():
    # BESTIOLE U235 below 2 MeV is the table scaled by one constant: ratios of two points agree
    table = np.loadtxt(DATA / "bestiole_u235.txt", delimiter=",", comments="#")
    i, j = 20, 60  # bin centers 0.5125 and 1.5125 MeV
    e = table[[i, j], 0]
    s = isotope_spectrum("U235", e, low_energy="bestiole")
    assert s[0] / s[1] == pytest.approx(table[i, 1] / table[j, 1], rel=1e-12)
    assert isotope_spectrum("U235", 0.0) == 0.0
    assert isotope_spectrum("U235", 1.0, low_energy="none") == 0.0
    assert isotope_spectrum("U235", 1.9, low_energy="polynomial") == pytest.approx(
        exp_polynomial_spectrum(1.9, HUBER_COEFFS["U235"])
    )


@pytest.mark.parametrize("isotope", ISOTOPES)
def test_total_antineutrinos_per_fission(isotope):
    # ~6 per fission (PHYSICS.md section 5; ~6 beta decays per fission chain), loose bounds
    assert 5.5 < _per_fission(isotope, 0.0, 10.0) < 7.5


@pytest.mark.parametrize("low_energy", ["bestiole", "kopeikin"])
def test_total_antineutrinos_per_fission_of_fuel_mix(low_energy):
    # The Kopeikin table is the shape of a whole-core (fuel-mix) spectrum: test it on the default mix.
    e = np.linspace(0.0, 10.0, 16001)
    total = np.trapezoid(mixed_spectrum(e, low_energy=low_energy), e)
    assert 5.5 < total < 7.5


def test_high_energy_tail_negligible_above_cutoff():
    for iso in ISOTOPES:
        assert _per_fission(iso, 10.0, 14.0) < 1e-4 * _per_fission(iso, 2.0, 10.0)


def test_fission_rate_per_gw():
    rate = fission_rate_per_s(1.0)
    mean_mev = sum(DEFAULT_FISSION_FRACTIONS[i] * ENERGY_PER_FISSION_MEV[i] for i in ISOTOPES)
    # 1e9 J/s / (205.2 MeV * 1.602e-13 J/MeV)
    assert rate == pytest.approx(1e9 / (mean_mev * 1e6 * sc.electron_volt), rel=1e-9)
    assert 3.0e19 < rate < 3.1e19
    assert fission_rate_per_s(3.9) == pytest.approx(3.9 * rate)
    pure = fission_rate_per_s(1.0, {"U235": 1.0})
    assert pure == pytest.approx(1e9 / (201.92e6 * sc.electron_volt), rel=1e-9)


def test_reactor_flux_normalisation_and_geometry():
    power, dist, t = 3.9, 17.1, 86400.0
    (comp,) = reactor_flux(power, dist, t)
    assert comp.flavor == "nu_e_bar" and not comp.is_line
    # antineutrinos per second per GW_th: ~2e20 (PHYSICS.md section 5)
    per_s_per_gw = comp.total_fluence_cm2() * 4 * math.pi * (dist * 100) ** 2 / t / power
    assert 1.8e20 < per_s_per_gw < 2.2e20
    # inverse-square law and linearity in power and exposure
    (far,) = reactor_flux(2 * power, 2 * dist, 3 * t)
    assert far.total_fluence_cm2() == pytest.approx(comp.total_fluence_cm2() * 2 * 3 / 4, rel=1e-12)
    # the flux density equals rate * mixed spectrum / (4 pi L^2) * t
    rate = fission_rate_per_s(power)
    expected = rate * t / (4 * math.pi * (dist * 100) ** 2) * mixed_spectrum(comp.energies_mev)
    assert np.allclose(comp.values, expected, rtol=1e-12)
    assert comp.energies_mev[0] == 0.0 and comp.energies_mev[-1] == 10.0


def test_reactor_flux_converges_with_n_energy():
    coarse = reactor_flux(1.0, 20.0, 1.0, n_energy=2001)[0].total_fluence_cm2()
    fine = reactor_flux(1.0, 20.0, 1.0, n_energy=4001)[0].total_fluence_cm2()
    assert abs(fine / coarse - 1) < 1e-3
    # above the junction only (smooth fit): much faster convergence
    c2 = reactor_flux(1.0, 20.0, 1.0, low_energy="none", n_energy=601)[0].total_fluence_cm2()
    f2 = reactor_flux(1.0, 20.0, 1.0, low_energy="none", n_energy=1201)[0].total_fluence_cm2()
    assert abs(f2 / c2 - 1) < 1e-4


def test_low_energy_none_starts_at_junction():
    (comp,) = reactor_flux(1.0, 20.0, 1.0, low_energy="none")
    assert comp.energies_mev[0] == 2.0
    full = reactor_flux(1.0, 20.0, 1.0)[0]
    frac_above_2 = comp.total_fluence_cm2() / full.total_fluence_cm2()
    assert 0.2 < frac_above_2 < 0.35  # ~1.6-2.2 of ~6-7 antineutrinos per fission lie above 2 MeV


@pytest.mark.parametrize(
    "call, word",
    [
        (lambda: isotope_spectrum("U236", 3.0), "isotope"),
        (lambda: isotope_spectrum("U235", 3.0, model="vogel"), "model"),
        (lambda: isotope_spectrum("U235", 3.0, low_energy="magic"), "low_energy"),
        (lambda: isotope_spectrum("U235", 3.0, high_energy="kopeikin"), "high_energy"),
        (lambda: isotope_spectrum("U235", -1.0), "energy_mev"),
        (lambda: isotope_spectrum("U235", float("nan")), "energy_mev"),
        (lambda: fission_rate_per_s(-1.0), "thermal_power_gw"),
        (lambda: fission_rate_per_s(1.0, {"U235": 0.5, "Pu239": 0.4}), "sum to 1"),
        (lambda: fission_rate_per_s(1.0, {"U235": 1.2, "Pu239": -0.2}), "U235"),
        (lambda: fission_rate_per_s(1.0, {"Th232": 1.0}), "Th232"),
        (lambda: reactor_flux(1.0, 0.0, 1.0), "distance_m"),
        (lambda: reactor_flux(1.0, 10.0, -5.0), "exposure_s"),
        (lambda: reactor_flux(1.0, 10.0, 1.0, e_max_mev=-1.0), "e_max_mev"),
        (lambda: reactor_flux(1.0, 10.0, 1.0, n_energy=2), "n_energy"),
    ],
)
def test_bad_input_raises(call, word):
    with pytest.raises(ValueError, match=word):
        call()


def test_fractions_within_tolerance_accepted():
    f = {"U235": 0.5805, "Pu239": 0.30, "U238": 0.07, "Pu241": 0.05}  # sums to 1.0005
    assert fission_rate_per_s(1.0, f) > 0
