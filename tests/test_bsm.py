"""Every physics parameter of the two seed papers in one physics point (GitHub issue 3).

Each BSM parameter of :mod:`cevns.physics.parameters` is checked in the rate engine against an
independent statement: an exact SM limit, a cancellation, an equivalent SM shift, a closed form, or a
direct quadrature of the cross sections of :mod:`cevns.physics.cross_sections`.
"""

import numpy as np
import pytest
from scipy.integrate import quad

from cevns.experiments import load_experiment
from cevns.physics import cross_sections as xs
from cevns.physics.couplings import zprime_effective_eps
from cevns.physics.parameters import PARAMETERS

G_F = 1.1663787e-11  # MeV^-2
ALPHA = 1 / 137.035999084
M_E = 0.51099895  # MeV
HBARC_CM = 197.3269804e-13  # MeV cm
N_A = 6.02214076e23
M_CS = 132.905451961 * 931.49410242 - 55 * M_E  # Cs-133 nuclear mass [MeV]
Z_CS, N_CS = 55, 78
S2 = 0.2312  # the experiment's default sin^2(theta_W)
PE_PER_KEVNR = 13.348 * 0.0878  # COHERENT 2017 light yield x quenching factor


def _flavor_counts(exp, params):
    return exp.engine.predict(params).by_flavor()


@pytest.fixture(scope="module")
def cs():
    """COHERENT 2017 with a pure Cs-133 target (a single isotope)."""
    return load_experiment("coherent-csi-2017", overrides={"detector": {"material": "Cs"}})


@pytest.fixture(scope="module")
def cs_flat():
    """Cs-133, F = 1 and acceptance 1 in 6-30 PE: the response is 1 on [T1, T2] in recoil energy."""
    eff = {"model": "unity", "a": None, "k": None, "x0": None, "zero_below": None, "steps": [],
           "evaluate_at": "value"}
    return load_experiment("coherent-csi-2017", overrides={"detector": {"material": "Cs", "efficiency": eff}},
                           settings={"form_factor": "unity", "baseline_spread_m": 0.0, "detector_spread_m": 0.0})


# ---------------------------------------------------------------- SM limits
ZERO_BSM = {
    **{n: 0.0 for n in PARAMETERS if n.startswith("eps_")},
    "mu_nu": 0.0, "mu_nu_e": 0.0, "mu_nu_mu": 0.0, "mu_nu_tau": 0.0,
    "r2_nu_e": 0.0, "r2_nu_mu": 0.0, "r2_nu_tau": 0.0,
    "u_e4_sq": 0.0, "u_mu4_sq": 0.0, "u_tau4_sq": 0.0, "dm41_sq": 3.7,
    "zprime_coupling": 0.0, "zprime_mass": 17.0, "scalar_coupling": 0.0, "scalar_mass": 9.0,
}


def test_every_bsm_parameter_at_zero_is_the_sm(csi2017):
    eng = csi2017.engine
    sm = eng.predict({}).counts
    np.testing.assert_array_equal(eng.predict(ZERO_BSM).counts, sm)
    # the same through the general path (forced by a coupling array whose first entry is zero)
    general = eng.predict(dict(ZERO_BSM, zprime_coupling=[0.0, 1e-6], scalar_coupling=[0.0, 0.0],
                               u_e4_sq=[0.0, 0.1])).counts
    np.testing.assert_allclose(general[0], sm[0], rtol=1e-12, atol=1e-14 * sm.max())


def test_sterile_without_splitting_has_no_effect(csi2017):
    eng = csi2017.engine
    sm = eng.total({})
    np.testing.assert_allclose(eng.total({"u_e4_sq": 0.3, "u_mu4_sq": 0.2, "dm41_sq": 0.0}), sm, rtol=1e-14)
    # dm41^2 -> 0: the effect vanishes like dm^4
    tiny = eng.total({"u_e4_sq": 0.3, "u_mu4_sq": 0.2, "dm41_sq": 1e-6})
    assert abs(tiny[0] / sm[0] - 1) < 1e-9


# ---------------------------------------------------------------- NSI
def test_nsi_cancelling_the_weak_charge_removes_the_flavor(cs):
    # Z (g_p + 2 eps) + N (g_n + eps) = 0 with eps = eps_ee^uV and F_Z = F_N (default rn)
    gp, gn = 0.5 - 2 * S2, -0.5
    eps = -(Z_CS * gp + N_CS * gn) / (2 * Z_CS + N_CS)
    sm = _flavor_counts(cs, {})
    nsi = _flavor_counts(cs, {"eps_ee_uV": eps})
    assert nsi["nu_e"][0] < 1e-12 * sm["nu_e"][0]
    for fl in ("nu_mu", "nu_mu_bar"):
        assert nsi[fl][0] == pytest.approx(sm[fl][0], rel=1e-13, abs=0)
    # the same with d quarks: Z (g_p + eps) + N (g_n + 2 eps) = 0 removes nu_mu and nu_mu_bar
    eps_d = -(Z_CS * gp + N_CS * gn) / (Z_CS + 2 * N_CS)
    nsi = _flavor_counts(cs, {"eps_mumu_dV": eps_d})
    assert nsi["nu_mu"][0] < 1e-12 * sm["nu_mu"][0] and nsi["nu_mu_bar"][0] < 1e-12 * sm["nu_mu_bar"][0]
    assert nsi["nu_e"][0] == pytest.approx(sm["nu_e"][0], rel=1e-13, abs=0)


def test_sm_is_flavor_blind_nsi_is_not(cs):
    eng = cs.engine
    sm = eng.predict({}).counts[0]
    # SM: a change of sin^2 scales every flavour and bin by the same factor (F_Z = F_N)
    s2b = 0.245
    factor = ((Z_CS * (0.5 - 2 * s2b) - 0.5 * N_CS) / (Z_CS * (0.5 - 2 * S2) - 0.5 * N_CS)) ** 2
    shifted = eng.predict({"sin2_theta_w": s2b}).counts[0]
    mask = sm > 0
    np.testing.assert_allclose(shifted[mask] / sm[mask], factor, rtol=1e-12)
    # NSI in the e sector changes nu_e only
    nsi = eng.predict({"eps_ee_uV": 0.05, "eps_ee_dV": -0.02}).counts[0]
    i_e = eng.flavors.index("nu_e")
    for i, fl in enumerate(eng.flavors):
        if i == i_e:
            assert np.all(np.abs(nsi[i][mask[i]] / sm[i][mask[i]] - 1) > 1e-3)
        else:
            np.testing.assert_allclose(nsi[i], sm[i], rtol=1e-13)


def test_flavor_changing_nsi_adds_incoherently(cs):
    # Q_e^2 gains |Z (2 eps^u + eps^d) + N (eps^u + 2 eps^d)|^2 F^2: with eps_emu^dV = x the nu_e
    # rate is multiplied by 1 + ((Z + 2N) x / Q_SM)^2 and so is nu_mu's
    x = 0.02
    q_sm = Z_CS * (0.5 - 2 * S2) - 0.5 * N_CS
    factor = 1 + ((Z_CS + 2 * N_CS) * x / q_sm) ** 2
    sm = _flavor_counts(cs, {})
    fc = _flavor_counts(cs, {"eps_mue_dV": x})
    for fl in ("nu_e", "nu_mu", "nu_mu_bar"):
        assert fc[fl][0] / sm[fl][0] == pytest.approx(factor, rel=1e-12, abs=0)


def test_heavy_zprime_equals_vector_nsi(csi2017):
    # m_Z' = 1e6 MeV >> sqrt(2 M T) ~ 100 MeV: residual q^2/m^2 ~ 1e-8
    eps, m = 0.05, 1e6
    g = eps * np.sqrt(2) * G_F * m**2
    zp = _flavor_counts(csi2017, {"zprime_coupling": g, "zprime_mass": m})
    nsi = _flavor_counts(csi2017, {f"eps_{a}{a}_{q}V": eps for a in ("e", "mu", "tau") for q in ("u", "d")})
    sm = _flavor_counts(csi2017, {})
    for fl in sm:
        assert zp[fl][0] == pytest.approx(nsi[fl][0], rel=1e-6, abs=0)
        assert abs(zp[fl][0] / sm[fl][0] - 1) > 0.05  # a large effect, not the SM


# ---------------------------------------------------------------- light mediators, tensor, magnetic moment
def _line_check(cs_flat, params, dsigma):
    """Counts of the prompt nu_mu line beyond the SM vs n_Cs * fluence * int_{T1}^{T2} dsigma dT."""
    eng = cs_flat.engine
    (line,) = [c for c in eng.fluxes if c.is_line]
    e_line = line.energies_mev[0]
    n_cs = 14.57e3 / 132.90545196 * N_A
    t1 = 6.0 / PE_PER_KEVNR * 1e-3
    t2 = min(30.0 / PE_PER_KEVNR * 1e-3, 2 * e_line**2 / (M_CS + 2 * e_line))
    integral, _ = quad(lambda t: dsigma(e_line, t), t1, t2, epsrel=1e-11, limit=200)
    expected = n_cs * line.values[0] * integral
    got = eng.predict(params).by_flavor()["nu_mu"][0]
    return got, expected, (e_line, t1, t2, n_cs * line.values[0])


@pytest.mark.parametrize("kinematics", ["seed", "full"])
def test_sm_line_vs_cross_section(cs_flat, kinematics):
    exp = cs_flat if kinematics == "seed" else cs_flat.with_overrides({"physics": {"kinematics": kinematics}})
    assert exp.engine.settings.kinematics == kinematics
    q = Z_CS * (0.5 - 2 * S2) - 0.5 * N_CS
    got, expected, _ = _line_check(exp, {}, lambda e, t: xs.dsigma_dt_vector(e, t, M_CS, q, kinematics))
    assert got == pytest.approx(expected, rel=1e-9, abs=0)


def test_magnetic_moment_closed_form(cs_flat):
    mu = 3e-9
    sm = cs_flat.engine.predict({}).by_flavor()["nu_mu"][0]
    got, _, (e, t1, t2, n_phi) = _line_check(cs_flat, {"mu_nu_mu": mu}, lambda e, t: 0.0)
    # int_{T1}^{T2} (pi alpha^2 mu^2 / m_e^2) Z^2 (1/T - 1/E) dT
    closed = np.pi * ALPHA**2 * mu**2 / M_E**2 * Z_CS**2 * (np.log(t2 / t1) - (t2 - t1) / e) * HBARC_CM**2
    assert got - sm == pytest.approx(n_phi * closed, rel=1e-7, abs=0)
    # the common moment mu_nu applies to every flavour; mu_nu_e alone leaves nu_mu untouched
    both = cs_flat.engine.predict({"mu_nu": mu}).by_flavor()
    assert both["nu_mu"][0] == pytest.approx(got, rel=1e-13, abs=0)
    assert cs_flat.engine.predict({"mu_nu_e": mu}).by_flavor()["nu_mu"][0] == pytest.approx(sm, rel=1e-13, abs=0)


def test_tensor_nsi_vs_cross_section(cs_flat):
    x = 0.03
    qt = Z_CS * 2 * x + N_CS * x  # eps_mumu^uT = x
    sm = cs_flat.engine.predict({}).by_flavor()["nu_mu"][0]
    got, expected, _ = _line_check(cs_flat, {"eps_mumu_uT": x}, lambda e, t: xs.dsigma_dt_tensor(e, t, M_CS, qt))
    assert got - sm == pytest.approx(expected, rel=1e-7, abs=0)


def test_light_scalar_vs_cross_section(cs_flat):
    g, m = 3e-6, 15.0
    qs = 15.1 * Z_CS + 14.0 * N_CS
    sm = cs_flat.engine.predict({}).by_flavor()["nu_mu"][0]
    got, expected, _ = _line_check(cs_flat, {"scalar_coupling": g, "scalar_mass": m},
                                   lambda e, t: xs.dsigma_dt_scalar(e, t, M_CS, g, m, qs))
    assert got - sm == pytest.approx(expected, rel=1e-7, abs=0)


def test_light_zprime_vs_cross_section(cs_flat):
    g, m = 2e-9, 12.0
    gp, gn = 0.5 - 2 * S2, -0.5

    def dsigma(e, t):
        eps = zprime_effective_eps(g, m, 2 * M_CS * t)
        q = Z_CS * (gp + 3 * eps) + N_CS * (gn + 3 * eps)
        return xs.dsigma_dt_vector(e, t, M_CS, q, kinematics="seed")

    got, expected, _ = _line_check(cs_flat, {"zprime_coupling": g, "zprime_mass": m}, dsigma)
    assert got == pytest.approx(expected, rel=1e-7, abs=0)
    # the momentum dependence matters here: a constant eps(q = 0) gives a different rate
    eps0 = g / (np.sqrt(2) * G_F * m**2)
    const = cs_flat.engine.predict({"eps_mumu_uV": eps0, "eps_mumu_dV": eps0}).by_flavor()["nu_mu"][0]
    assert abs(const / got - 1) > 0.01


# ---------------------------------------------------------------- charge radius
def test_charge_radius_equals_sin2_shift(csi2017):
    eng = csi2017.engine
    coeff = np.sqrt(2) * np.pi * ALPHA / (3 * G_F) / HBARC_CM**2  # ~2.38e30 cm^-2
    r2 = 1e-32
    ds2 = coeff * r2 / 2  # g_p = 1/2 - 2 s^2: delta g_p = -coeff r2 <=> delta s^2 = +coeff r2 / 2
    with_e = _flavor_counts(csi2017, {"r2_nu_e": r2})
    assert with_e["nu_e"][0] == pytest.approx(eng.predict({"sin2_theta_w": S2 + ds2}).by_flavor()["nu_e"][0],
                                              rel=1e-12, abs=0)
    with_mu = _flavor_counts(csi2017, {"r2_nu_mu": r2})
    plus = _flavor_counts(csi2017, {"sin2_theta_w": S2 + ds2})
    minus = _flavor_counts(csi2017, {"sin2_theta_w": S2 - ds2})
    assert with_mu["nu_mu"][0] == pytest.approx(plus["nu_mu"][0], rel=1e-12, abs=0)
    # antineutrinos: the SAME shift (PHYSICS.md 4; arXiv:1810.05606, 2020 revision)
    assert with_mu["nu_mu_bar"][0] == pytest.approx(plus["nu_mu_bar"][0], rel=1e-12, abs=0)
    assert abs(plus["nu_mu_bar"][0] / minus["nu_mu_bar"][0] - 1) > 1e-3


def test_charge_radius_changes_nu_and_antinu_by_the_same_factor(cs):
    # issue 8 item 1: with only r2_nu_mu set, nu_mu and anti-nu_mu at the same energy change by the same
    # factor. Compare the prompt nu_mu line at 29.79 MeV with the anti-nu_mu spectrum restricted to one energy
    # (a delayed flux with one non-zero node is the same as a line through the engine's moments).
    sm = _flavor_counts(cs, {})
    r2 = 2e-32
    got = _flavor_counts(cs, {"r2_nu_mu": r2})
    ratio_nu = got["nu_mu"][0] / sm["nu_mu"][0]
    ratio_nubar = got["nu_mu_bar"][0] / sm["nu_mu_bar"][0]
    # the ratio is (Q_V(g_p + dg) / Q_V(g_p))^2 at every E and T for F_Z = F_N (rn = rp): energy-independent
    assert ratio_nu == pytest.approx(ratio_nubar, rel=1e-10, abs=0)
    assert abs(ratio_nu - 1) > 0.01


# ---------------------------------------------------------------- sterile neutrino
@pytest.mark.parametrize("treatment", ["survival", "nc_appearance"])
def test_sterile_averaged_oscillation(treatment):
    exp = load_experiment("coherent-csi-2017", settings={"baseline_spread_m": 1.0, "sterile_treatment": treatment})
    ue, um = 0.1, 0.05
    sm = _flavor_counts(exp, {})
    got = _flavor_counts(exp, {"u_e4_sq": ue, "u_mu4_sq": um, "dm41_sq": 1e5})
    if treatment == "survival":  # P_aa = 1 - sin^2(2 theta_a4) / 2, sin^2(2 theta) = 4 u (1 - u)
        pe, pm = 1 - 2 * ue * (1 - ue), 1 - 2 * um * (1 - um)
    else:  # only active -> sterile appearance: 1 - 4 u_a |U_s4|^2 / 2, |U_s4|^2 = 1 - sum u
        us = 1 - ue - um
        pe, pm = 1 - 2 * ue * us, 1 - 2 * um * us
    assert got["nu_e"][0] / sm["nu_e"][0] == pytest.approx(pe, abs=1e-4)
    assert got["nu_mu"][0] / sm["nu_mu"][0] == pytest.approx(pm, abs=1e-4)
    assert got["nu_mu_bar"][0] / sm["nu_mu_bar"][0] == pytest.approx(pm, abs=1e-4)
    # a single mixing element: both treatments give 1 - 2 u (1 - u)
    only_e = _flavor_counts(exp, {"u_e4_sq": ue, "dm41_sq": 1e5})
    assert only_e["nu_e"][0] / sm["nu_e"][0] == pytest.approx(1 - 2 * ue * (1 - ue), abs=1e-4)
    assert only_e["nu_mu"][0] == pytest.approx(sm["nu_mu"][0], rel=1e-13, abs=0)


def test_sterile_prompt_line_phase(cs_flat):
    # the prompt line has one energy: P = 1 - 4u(1-u) sin^2(1.267 dm L / E) exactly (no spread)
    ue = 0.2
    eng = cs_flat.engine
    (line,) = [c for c in eng.fluxes if c.is_line]
    dm = 1.3
    phase_per_ev2_m_over_mev = 1e-12 / (4 * HBARC_CM * 1e-2)  # dm^2 L / 4E in natural units = 1.26693...
    p = 1 - 4 * ue * (1 - ue) * np.sin(phase_per_ev2_m_over_mev * dm * 19.3 / line.energies_mev[0]) ** 2
    ratio = eng.predict({"u_mu4_sq": ue, "dm41_sq": dm}).by_flavor()["nu_mu"][0] \
        / eng.predict({}).by_flavor()["nu_mu"][0]
    assert ratio == pytest.approx(p, rel=1e-5, abs=0)
    assert p < 0.9


# ---------------------------------------------------------------- neutron radius
def test_neutron_radius_equal_to_proton_radius_is_single_form_factor(csi2017):
    eng = csi2017.engine
    # the experiment's proton radius convention: R = 1.2 A^(1/3) fm, Helm <r^2> = 3/5 R^2 (s cancels)
    rp = {k.name: np.sqrt(0.6) * 1.2 * k.isotope.a ** (1 / 3) for k in eng.isotope_kernels}
    for k in eng.isotope_kernels:
        assert k.proton_rms_fm == pytest.approx(rp[k.name], rel=1e-12, abs=0)
    sm = eng.predict({}).counts
    # a radius 1e-9 fm away from R_p forces a separate F_N evaluation (general path via the array)
    params = {f"rn_{k}": [v + 1e-9, v + 1.0] for k, v in rp.items()}
    got = eng.predict(params).counts
    np.testing.assert_allclose(got[0], sm[0], rtol=1e-7, atol=1e-12 * sm.max())
    assert got[1].sum() < 0.97 * sm.sum()


def test_larger_neutron_radius_lowers_the_rate(csi2017):
    rn = np.linspace(4.0, 6.5, 6)
    tot = csi2017.engine.total({"rn": rn})
    assert np.all(np.diff(tot) < 0)
    # and the suppression grows with recoil energy (bin by bin, higher bins lose more)
    c = csi2017.engine.predict({"rn": [4.5, 6.0]}).per_bin
    ratio = c[1] / c[0]
    assert np.all(ratio < 1) and ratio[-1] < ratio[0]


# ---------------------------------------------------------------- everything at once
def _all_parameters(n=None):
    vals = {}
    for name, spec in PARAMETERS.items():
        if name.startswith("eps_"):
            vals[name] = 0.01 if name.endswith("V") else 0.005
        elif name.startswith("mu_nu"):
            vals[name] = 2e-10
        elif name.startswith("r2_nu"):
            vals[name] = -5e-33
        elif name.startswith("u_"):
            vals[name] = 0.05
    vals.update({"sin2_theta_w": 0.2387, "rn": 5.3, "rn_Cs133": 5.5, "rn_I127": 5.4, "dm41_sq": 2.0,
                 "zprime_mass": 40.0, "zprime_coupling": 1e-7, "scalar_mass": 25.0, "scalar_coupling": 1e-6})
    assert set(PARAMETERS) <= set(vals)
    return vals


def test_every_parameter_in_one_point(csi2017):
    params = _all_parameters()
    pred = csi2017.engine.predict(params)
    assert pred.counts.shape == (1, 3, csi2017.engine.n_bins)
    assert np.all(np.isfinite(pred.counts)) and np.all(pred.counts >= 0) and pred.total[0] > 0
    assert abs(pred.total[0] / csi2017.engine.total({})[0] - 1) > 1e-3


def test_arrays_equal_single_points(csi2017):
    eng = csi2017.engine
    n = 1000
    base = _all_parameters()
    rng = np.random.default_rng(7)
    arrays = dict(base)
    arrays.update({
        "eps_ee_uV": rng.uniform(-0.3, 0.3, n),
        "eps_emu_dV": rng.uniform(-0.1, 0.1, n),
        "rn_Cs133": rng.uniform(4.5, 6.0, n),
        "u_e4_sq": rng.uniform(0.0, 0.2, n),
        "dm41_sq": 10 ** rng.uniform(-1, 2, n),
        "zprime_coupling": rng.uniform(0, 1e-7, n),
        "mu_nu_e": rng.uniform(0, 1e-9, n),
    })
    many = eng.predict(arrays, chunk_size=300).counts
    assert many.shape == (n, 3, eng.n_bins)
    for i in (0, 517, n - 1):
        single = {k: (v[i] if isinstance(v, np.ndarray) else v) for k, v in arrays.items()}
        np.testing.assert_allclose(many[i], eng.predict(single).counts[0], rtol=1e-12,
                                   atol=1e-14 * many[i].max())
    # fast path (couplings only)
    fast = {"eps_ee_uV": arrays["eps_ee_uV"], "mu_nu_e": arrays["mu_nu_e"], "r2_nu_mu": -5e-33}
    many = eng.total(fast)
    for i in (3, 600, n - 2):
        assert many[i] == pytest.approx(eng.total({k: (v[i] if isinstance(v, np.ndarray) else v)
                                                  for k, v in fast.items()})[0], rel=1e-12, abs=0)
