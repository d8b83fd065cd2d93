"""Built-in CONUS, CONNIE (reactor) and COHERENT NaI (future SNS) experiment files.

Each number is checked against an independent calculation: the fluence from the reactor power,
energy per fission and distance; the number of target nuclei from the standard atomic weights; the
expected counts from a direct integration of the CEvNS cross section written out here.
"""

from pathlib import Path

import numpy as np
import pytest
from scipy import optimize

from cevns.experiments import experiment_path, list_experiments, load_experiment
from cevns.physics.constants import G_F_MEV2, HBARC2_MEV2_CM2, MEV_PER_JOULE, N_AVOGADRO, SECONDS_PER_DAY
from cevns.sources import reactor

NEW = ("conus", "connie", "coherent-nai")
S2W = 0.2312
# the experiment files run CEvNS without smearing and without form factor for the direct integrations
PLAIN = {"form_factor": "unity"}


@pytest.fixture(scope="module")
def exps():
    return {n: load_experiment(n) for n in NEW}


def test_files_are_builtin_with_references_and_a_references_md():
    names = {r["name"]: r for r in list_experiments()}
    for n in NEW:
        assert n in names and names[n]["references"], n
        path = experiment_path(n)
        assert path.parent.name == n.replace("-", "_")
        refs = (path.parent / "REFERENCES.md").read_text()
        assert "arXiv" in refs
        # every input of [source] and [detector] carries a comment (its source or the reason), on its
        # line or on the line above
        text = path.read_text().splitlines()
        section, prev = None, ""
        for line in text:
            s = line.strip()
            if s.startswith("["):
                section = s
            elif section in ("[source]", "[detector]") and "=" in s and not s.startswith("#"):
                key = s.split("=")[0].strip()
                if key not in ("kind", "n_energy", "e_max_mev", "observable"):
                    assert "#" in s or prev.startswith("#"), f"{n}: {s!r} has no source comment"
            prev = s


@pytest.mark.parametrize("name, power_gw, dist_m", [("conus", 3.9, 17.1), ("connie", 3.8, 30.0)])
def test_reactor_fluence_from_power_and_distance(exps, name, power_gw, dist_m):
    exp = exps[name]
    (comp,) = exp.engine.fluxes
    assert comp.flavor == "nu_e_bar"
    f = {"U235": 0.58, "Pu239": 0.30, "U238": 0.07, "Pu241": 0.05}
    e_fis = {"U235": 201.92, "Pu239": 209.99, "U238": 205.52, "Pu241": 213.60}  # MeV, Kopeikin 2004
    fissions_per_s = power_gw * 1e9 * MEV_PER_JOULE / sum(f[i] * e_fis[i] for i in f)
    assert fissions_per_s / power_gw == pytest.approx(3.05e19, rel=0.02)  # ~3e19 fissions/s per GW_th
    e = np.linspace(0.0, 10.0, 400001)  # dense grid, independent of the experiment's 801 nodes
    nu_per_fission = np.trapezoid(reactor.mixed_spectrum(e, f), e)
    t = exp.spec.detector.exposure_days * SECONDS_PER_DAY
    expected = fissions_per_s * nu_per_fission * t / (4 * np.pi * (dist_m * 100.0) ** 2)
    assert comp.total_fluence_cm2() == pytest.approx(expected, rel=2e-3)
    assert 5.5 < nu_per_fission < 7.5  # ~6-7 antineutrinos per fission (PHYSICS.md section 5)
    assert exp.spec.detector.exposure_days == pytest.approx(365.25)


@pytest.mark.parametrize("name, molar, per_formula", [
    ("conus", 72.630, {"Ge": 1}), ("connie", 28.085, {"Si": 1}), ("coherent-nai", 22.98977 + 126.90447, {"Na": 1, "I": 1}),
])
def test_target_nuclei_from_atomic_weights(exps, name, molar, per_formula):
    exp = exps[name]
    mass_g = exp.spec.detector.mass_kg * 1e3
    by_element = {}
    for t in exp.engine.targets:
        el = t.isotope.name.rstrip("0123456789")
        by_element[el] = by_element.get(el, 0.0) + t.n_nuclei
    for el, k in per_formula.items():
        assert by_element[el] == pytest.approx(k * mass_g * N_AVOGADRO / molar, rel=2e-3)


def _lindhard_t_of_ee(e_kevee, z, a, k):
    """Recoil energy (keVnr) whose Lindhard electron-equivalent energy is e_kevee (written out)."""
    def ee(t):
        eps = 11.5 * z ** (-7 / 3) * t
        g = 3 * eps**0.15 + 0.7 * eps**0.6 + eps
        return k * g / (1 + k * g) * t - e_kevee
    return optimize.brentq(ee, 1e-6, 100.0, xtol=1e-12)


def _sm_counts_direct(exp, t_thr_kevnr_of_iso, e_flux, phi, t_top_kevnr_of_iso=None):
    """sum_iso n_iso int dE phi(E) int_{T_thr}^{min(T_max, T_top)} dT G_F^2 M / pi Q_V^2 (1 - M T / 2E^2), F = 1."""
    total = 0.0
    gp, gn = 0.5 - 2 * S2W, -0.5
    for tgt in exp.engine.targets:
        iso = tgt.isotope
        m = iso.mass_mev
        qv = iso.z * gp + (iso.a - iso.z) * gn
        t0 = 1e-3 * t_thr_kevnr_of_iso(iso)
        t_top = np.inf if t_top_kevnr_of_iso is None else 1e-3 * t_top_kevnr_of_iso(iso)

        def inner(e):
            tmax = min(2 * e**2 / (m + 2 * e), t_top)
            if tmax <= t0:
                return 0.0
            # closed form of int (1 - M T / 2E^2) dT
            return (tmax - t0) - m * (tmax**2 - t0**2) / (4 * e**2)

        vals = np.array([inner(e) for e in e_flux])
        total += tgt.n_nuclei * G_F_MEV2**2 * m / np.pi * qv**2 * HBARC2_MEV2_CM2 * np.trapezoid(phi * vals, e_flux)
    return total


@pytest.mark.parametrize("name", ["conus", "connie"])
def test_reactor_counts_match_direct_integration(name):
    det_over = {"detector": {"smearing": {"sigma0": 0.0, "linear": 0.0}}}
    exp = load_experiment(name, overrides=det_over, settings=PLAIN)
    thr = exp.spec.detector.efficiency.zero_below
    k = exp.spec.detector.quenching.k
    (comp,) = exp.engine.fluxes
    top = exp.bin_edges[-1]
    # a dense energy grid with the fluence interpolated (the engine integrates on its own nodes)
    e_fine = np.linspace(comp.energies_mev[0], comp.energies_mev[-1], 20001)
    phi = np.interp(e_fine, comp.energies_mev, comp.values)
    direct = _sm_counts_direct(exp, lambda iso: _lindhard_t_of_ee(thr, iso.z, iso.a, k), e_fine, phi,
                               lambda iso: _lindhard_t_of_ee(top, iso.z, iso.a, k))
    engine = exp.predict({}).total[0]
    assert engine == pytest.approx(direct, rel=5e-3)


def test_reactor_orders_of_magnitude(exps):
    # CONUS: hundreds to a few thousand events per year above 210 eVee for 3.7 kg (arXiv:2401.07684
    # quotes an SM prediction of order 0.2 /kg/d); CONNIE (1 kg Si, 50 eVee): thousands
    assert 300 < exps["conus"].predict({}).total[0] < 3000
    assert 1000 < exps["connie"].predict({}).total[0] < 10000
    # resolution smearing moves events from below threshold up (steeply falling spectrum)
    sharp = load_experiment("conus", overrides={"detector": {"smearing": {"sigma0": 0.0, "linear": 0.0}}})
    assert sharp.predict({}).total[0] < exps["conus"].predict({}).total[0]


def test_reactor_sees_only_electron_antineutrino_nsi(exps):
    exp = exps["conus"]
    sm = exp.predict({}).total[0]
    assert exp.predict({"eps_mumu_uV": 0.3}).total[0] == pytest.approx(sm, rel=1e-12)
    assert exp.predict({"eps_ee_uV": 0.05}).total[0] != pytest.approx(sm, rel=1e-3)
    # second root: Q_V(eps) = -Q_V(SM) (F ~ 1): Ge-averaged Z(gp + 2u) + N(gn + u) = -(Z gp + N gn)
    z, n = 32.0, 72.63 - 32.0
    u2 = -2 * (z * (0.5 - 2 * S2W) - 0.5 * n) / (2 * z + n)
    assert exp.predict({"eps_ee_uV": u2}).total[0] == pytest.approx(sm, rel=0.02)


def test_nai_prompt_line_matches_closed_form():
    exp = load_experiment("coherent-nai", settings=PLAIN)
    src = exp.spec.source
    e_line = (139.57039**2 - 105.6583755**2) / (2 * 139.57039)
    fluence = src.nu_per_flavor_per_pot * src.pot / (4 * np.pi * (src.distance_m * 100.0) ** 2)
    thr = exp.spec.detector.efficiency.zero_below
    total = 0.0
    gp, gn = 0.5 - 2 * S2W, -0.5
    for tgt in exp.engine.targets:
        m = tgt.isotope.mass_mev
        qv = tgt.isotope.z * gp + (tgt.isotope.a - tgt.isotope.z) * gn
        t0 = 1e-3 * thr
        tmax = min(2 * e_line**2 / (m + 2 * e_line), 1e-3 * exp.bin_edges[-1])
        if tmax > t0:
            total += tgt.n_nuclei * G_F_MEV2**2 * m / np.pi * qv**2 * HBARC2_MEV2_CM2 * fluence * (
                (tmax - t0) - m * (tmax**2 - t0**2) / (4 * e_line**2))
    got = exp.predict({}).by_flavor()["nu_mu"][0]
    assert got == pytest.approx(total, rel=2e-3)
    assert 3000 < load_experiment("coherent-nai").predict({}).total[0] < 30000


def test_nai_neutron_radius_of_iodine_only_changes_iodine(exps):
    exp = exps["coherent-nai"]
    base = exp.predict({}).per_bin[0]
    bigger = exp.predict({"rn_I127": 5.5}).per_bin[0]
    assert np.all(bigger <= base + 1e-9)
    # the highest bins (> 48 keVnr) hold only sodium recoils: unchanged
    assert bigger[-4:] == pytest.approx(base[-4:], rel=1e-12)
    assert bigger[:7].sum() < 0.97 * base[:7].sum()
