"""Solar 8B / hep source: spectra, SSM fluxes, three-flavour adiabatic MSW flavour composition."""

import numpy as np
import pytest

from cevns.errors import CevnsError
from cevns.sources import solar


@pytest.mark.parametrize("shape", ["best", "plus3sigma", "minus3sigma"])
def test_b8_spectrum_normalised(shape):
    e, v = solar.b8_spectrum(shape)
    assert np.trapezoid(v, e) == pytest.approx(1.0, abs=1e-12)
    assert np.all(v >= 0) and e[0] == 0.0


def test_b8_mean_energy_matches_bahcall_1996():
    # Bahcall et al., PRC 54, 411 (1996): <E> = 6.735 +- 0.036 MeV
    assert solar.mean_energy_mev("8B") == pytest.approx(6.735, abs=0.005)


def test_hep_spectrum_shape():
    e, v = solar.hep_spectrum()
    assert np.trapezoid(v, e) == pytest.approx(1.0, abs=1e-12)
    assert e[-1] == pytest.approx(18.77) and v[-1] == 0.0 and v[0] == 0.0
    # Bahcall, Neutrino Astrophysics (1989), Table 6.5: <E_hep> = 9.628 MeV
    assert solar.mean_energy_mev("hep") == pytest.approx(9.628, rel=5e-3)


def _limits(osc):
    s12, s13 = osc.sin2_theta12, osc.sin2_theta13
    low = (1 - s13) ** 2 * (1 - 2 * s12 * (1 - s12)) + s13**2  # cos^4 th13 (1 - sin^2 2th12 / 2) + sin^4 th13
    high = s12 * (1 - s13) ** 2 + s13**2
    return low, high


def test_pee_low_energy_limit_is_vacuum_average():
    low, _ = _limits(solar.NUFIT_5_0)
    assert solar.survival_probability([1e-4])[0] == pytest.approx(low, abs=1e-5)


def test_pee_high_energy_limit_is_sin2_theta12():
    # fully adiabatic conversion: tiny dm21 (beta12 -> inf), huge dm31 (no theta13 matter effect)
    osc = solar.OscillationParameters(dm21_sq_ev2=1e-9, dm31_sq_ev2=10.0)
    _, high = _limits(osc)
    assert solar.survival_probability([10.0], osc=osc)[0] == pytest.approx(high, abs=1e-5)
    # physical parameters: close to the limit at the top of the 8B spectrum
    _, high = _limits(solar.NUFIT_5_0)
    assert solar.survival_probability([15.0])[0] == pytest.approx(high, abs=0.01)


def test_pee_against_sno_measurement():
    # SNO combined analysis, PRC 88, 025501 (2013): P_ee(10 MeV) = 0.317 +- 0.016 (day/night averaged)
    assert solar.survival_probability([10.0])[0] == pytest.approx(0.317, abs=0.03)


def test_flavour_probabilities_sum_to_one_and_pee_falls():
    e = np.linspace(0.5, 16.0, 40)
    p = solar.flavor_probabilities(e, "8B")
    assert p.shape == (3, e.size)
    np.testing.assert_allclose(p.sum(axis=0), 1.0, atol=1e-12)
    assert np.all(np.diff(p[0]) < 0)


@pytest.mark.parametrize("model", ["B16-GS98", "B16-AGSS09met"])
def test_solar_flux_totals(model):
    comps = solar.solar_flux(("8B", "hep"), model=model, exposure_s=2.0)
    assert [c.flavor for c in comps] == ["nu_e", "nu_mu", "nu_tau"] * 2
    tot8 = sum(c.total_fluence_cm2() for c in comps[:3])
    toth = sum(c.total_fluence_cm2() for c in comps[3:])
    assert tot8 == pytest.approx(2.0 * solar.SOLAR_MODELS[model]["8B"][0], rel=1e-9)
    assert toth == pytest.approx(2.0 * solar.SOLAR_MODELS[model]["hep"][0], rel=1e-9)
    scaled = solar.solar_flux(("8B",), model=model, flux_scale={"8B": 0.5})
    assert sum(c.total_fluence_cm2() for c in scaled) == pytest.approx(0.25 * tot8, rel=1e-9)


def test_vinyoles_fluxes():
    assert solar.ssm_flux("8B", "B16-GS98") == (5.46e6, 0.12)
    assert solar.ssm_flux("8B", "B16-AGSS09met") == (4.50e6, 0.12)
    assert solar.ssm_flux("hep", "B16-GS98") == (7.98e3, 0.30)


@pytest.mark.parametrize("call", [
    lambda: solar.ssm_flux("8B", "SSM-XYZ"),
    lambda: solar.solar_flux(("7Be",)),
    lambda: solar.b8_spectrum("wide"),
    lambda: solar.solar_flux(("8B",), exposure_s=-1.0),
    lambda: solar.solar_flux(("8B",), flux_scale={"8B": float("nan")}),
    lambda: solar.OscillationParameters(sin2_theta12=1.5),
])
def test_bad_input_is_a_clean_error(call):
    with pytest.raises(CevnsError):
        call()
