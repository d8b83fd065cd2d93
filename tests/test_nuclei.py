"""Tests of cevns.physics.nuclei (isotopes, target nuclei per kg, charge radii)."""

import math

import pytest

from cevns.physics.constants import N_AVOGADRO, PROTON_RMS_RADIUS_FM
from cevns.physics.nuclei import (
    Isotope,
    TargetNucleus,
    charge_radius_fm,
    element_isotopes,
    has_measured_charge_radius,
    molar_mass_g_per_mol,
    parse_formula,
    proton_rms_radius_fm,
    target_nuclei,
)


def _iso(symbol, a):
    return next(i for i in element_isotopes(symbol) if i.a == a)


def test_csi_nuclei_count():
    # COHERENT 2017: 14.57 kg CsI; M(CsI) = 132.905 + 126.904 = 259.81 g/mol
    nuclei = target_nuclei("CsI")
    assert [t.isotope.name for t in nuclei] == ["Cs133", "I127"]
    n_cs = nuclei[0].nuclei_per_kg * 14.57
    assert n_cs == pytest.approx(N_AVOGADRO * 14570 / 259.81, rel=1e-4)
    assert n_cs == pytest.approx(3.377e25, rel=1e-3)
    assert isinstance(nuclei[0], TargetNucleus)


@pytest.mark.parametrize("symbol,count", [("Cs", 1), ("I", 1), ("Na", 1), ("Ge", 5), ("Xe", 9), ("Ar", 3), ("Si", 3)])
def test_isotope_lists(symbol, count):
    isos = element_isotopes(symbol)
    assert len(isos) == count
    assert sum(i.abundance for i in isos) == pytest.approx(1.0, abs=1e-12)
    for i in isos:
        assert i.n == i.a - i.z and i.element == symbol


def test_abundances_published():
    # IUPAC natural abundances: Ar40 99.6035 %, Ge74 36.52 %, Xe132 26.909 %
    assert _iso("Ar", 40).abundance == pytest.approx(0.996, abs=1e-3)
    assert _iso("Ge", 74).abundance == pytest.approx(0.3652, abs=1e-3)
    assert _iso("Xe", 132).abundance == pytest.approx(0.26909, abs=1e-3)


def test_min_abundance_renormalises():
    ar = element_isotopes("Ar", min_abundance=0.01)
    assert [i.name for i in ar] == ["Ar40"] and ar[0].abundance == 1.0
    # total atoms per kg are conserved by the cut
    full = sum(t.nuclei_per_kg for t in target_nuclei("Xe"))
    cut = sum(t.nuclei_per_kg for t in target_nuclei("Xe", min_abundance=0.05))
    assert cut == pytest.approx(full, rel=1e-12)


def test_nuclear_masses():
    # C12: atomic mass 12 u exactly by definition -> M = 12 u - 6 m_e (CODATA)
    assert _iso("C", 12).mass_mev == pytest.approx(12 * 931.49410242 - 6 * 0.51099895, rel=1e-9)
    # deuteron mass, CODATA 2018: 1875.61294257 MeV
    assert _iso("H", 2).mass_mev == pytest.approx(1875.61294257, abs=2e-5)
    # Cs133 from binding energy B/A = 8.40998 MeV (AME2016): Z m_p + N m_n - B
    b = 133 * 8.40998
    assert _iso("Cs", 133).mass_mev == pytest.approx(55 * 938.27208816 + 78 * 939.56542052 - b, abs=0.05)


def test_parse_formula():
    assert parse_formula("CsI") == {"Cs": 1, "I": 1}
    assert parse_formula("NaI") == {"Na": 1, "I": 1}
    assert parse_formula("Ge") == {"Ge": 1}
    assert parse_formula("CaWO4") == {"Ca": 1, "W": 1, "O": 4}
    assert parse_formula("C3F8") == {"C": 3, "F": 8}
    assert molar_mass_g_per_mol("C3F8") == pytest.approx(3 * 12.011 + 8 * 18.998403, rel=1e-4)
    assert molar_mass_g_per_mol("Ar") == pytest.approx(39.948, rel=1e-4)


def test_target_nuclei_multi_atom():
    nuclei = target_nuclei("CaWO4")
    o_total = sum(t.nuclei_per_kg for t in nuclei if t.isotope.element == "O")
    assert o_total == pytest.approx(4 * N_AVOGADRO * 1000 / molar_mass_g_per_mol("CaWO4"), rel=1e-12)


@pytest.mark.parametrize("bad", ["Xx", "cs", "D", "", 42])
def test_bad_symbol(bad):
    with pytest.raises(ValueError, match=repr(bad) if isinstance(bad, str) and bad else None):
        element_isotopes(bad)


@pytest.mark.parametrize("bad", ["Xx2", "Cs(I", "", "Ge[76]", "H2O0.5"])
def test_bad_formula(bad):
    with pytest.raises(ValueError, match="formula"):
        parse_formula(bad)


def test_element_without_natural_isotope():
    with pytest.raises(ValueError, match="Tc"):
        element_isotopes("Tc")


def test_isotope_validation():
    with pytest.raises(ValueError):
        Isotope("Cs", 133, 55, 77, 1.0, 1.0)
    with pytest.raises(ValueError):
        Isotope("Cs", 133, 55, 78, -1.0, 1.0)


def test_charge_radii():
    # Angeli & Marinova 2013 values quoted in PHYSICS.md
    for (sym, a), r in {("Cs", 133): 4.8041, ("I", 127): 4.7500, ("Na", 23): 2.9936, ("Ar", 40): 3.4274,
                        ("Si", 28): 3.1224, ("Ge", 70): 4.0414, ("Ge", 76): 4.0811}.items():
        iso = _iso(sym, a)
        assert has_measured_charge_radius(iso)
        assert charge_radius_fm(iso) == r
    # every natural isotope of the usual targets is tabulated
    for sym in ("Cs", "I", "Na", "Ge", "Xe", "Ar", "Si", "Ca", "W", "O", "F", "C"):
        assert all(has_measured_charge_radius(i) for i in element_isotopes(sym))


def test_charge_radius_fallback_and_proton_radius():
    mo = _iso("Mo", 98)
    assert not has_measured_charge_radius(mo)
    assert charge_radius_fm(mo) == pytest.approx(math.sqrt(0.6) * 1.2 * 98 ** (1 / 3))
    # fallback within a few per cent of the measured value where one exists
    cs = _iso("Cs", 133)
    assert math.sqrt(0.6) * 1.2 * 133 ** (1 / 3) == pytest.approx(charge_radius_fm(cs), rel=0.03)
    rp = proton_rms_radius_fm(cs)
    assert rp**2 + PROTON_RMS_RADIUS_FM**2 == pytest.approx(4.8041**2)
    assert rp < 4.8041
    with pytest.raises(ValueError):
        charge_radius_fm("Cs133")
