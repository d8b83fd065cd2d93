"""Physics models as a registry (cevns.physics.models): declared parameters, a toy model plugged in from
outside the package and run through predictions and a grid scan, and the oscillation averaging."""

import numpy as np
import pytest
from scipy.integrate import dblquad

import toy_model
from cevns.errors import ParameterError
from cevns.experiments import load_experiment
from cevns.physics import models
from cevns.physics.oscillation import averaged_sin2
from cevns.physics.parameters import PARAMETERS, PhysicsPoint, shape_parameters, spec_for
from cevns.analysis import build_likelihood
from cevns.stats.scan import evaluate_grid

BUILTIN = ["standard_model", "vector_nsi", "tensor_nsi", "magnetic_moment", "charge_radius", "sterile",
           "light_vector", "light_scalar"]


def test_builtin_models_declare_every_parameter_once():
    names = [m.name for m in models.registered_models()]
    assert names[: len(BUILTIN)] == BUILTIN
    declared = [p.name for m in models.registered_models() for p in m.parameters]
    assert len(declared) == len(set(declared)) == len(PARAMETERS)
    for m in models.registered_models():
        assert m.description and m.reference
        for p in m.parameters:
            assert p.unit and p.reference and models.model_of(p.name) == m.name
    assert {"rn", "dm41_sq", "zprime_mass", "scalar_mass"} <= shape_parameters()
    assert "sin2_theta_w" not in shape_parameters() and "eps_ee_uV" not in shape_parameters()


def test_duplicate_registration_is_refused():
    with pytest.raises(ParameterError, match="already"):
        models.register(models.registered_models()[1].__class__())

    class Clash(models.PhysicsModel):
        name = "clash"
        parameters = (PARAMETERS["sin2_theta_w"],)

    with pytest.raises(ParameterError, match="sin2_theta_w.*standard_model"):
        models.register(Clash())
    assert "clash" not in [m.name for m in models.registered_models()]


@pytest.fixture
def toy():
    model = toy_model.register_toy()
    yield model
    toy_model.unregister_toy()


def test_toy_model_parameters_are_validated(toy):
    assert spec_for("toy_g").unit == "-"
    with pytest.raises(ParameterError, match="toy_scale_mev"):
        PhysicsPoint({"toy_scale_mev": -1.0})


def test_toy_model_prediction_limits(toy, csi2017):
    eng = csi2017.engine
    g = np.array([0.05, -0.1, 0.0])
    # Lambda -> infinity: the universal constant vector NSI eps^uV = eps^dV = g / 3 for every flavour
    nsi = {f"eps_{a}{a}_{q}V": g / 3 for a in ("e", "mu", "tau") for q in ("u", "d")}
    want = eng.predict(nsi).counts
    got = eng.predict({"toy_g": g, "toy_scale_mev": 1e9}).counts
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12 * want.max())
    # Lambda -> 0: no effect
    sm = eng.predict({}).counts
    np.testing.assert_allclose(eng.predict({"toy_g": g, "toy_scale_mev": 1e-6}).counts, np.repeat(sm, 3, 0),
                               rtol=1e-12)
    # a finite scale sits in between and suppresses the high-recoil bins more than the low ones
    mid = eng.predict({"toy_g": 0.2, "toy_scale_mev": 60.0}).per_bin[0]
    full = eng.predict({"toy_g": 0.2, "toy_scale_mev": 1e9}).per_bin[0]
    base = sm[0].sum(axis=0)
    frac = (mid - base) / (full - base)
    assert np.all((frac > 0) & (frac < 1)) and frac[-1] < frac[0]
    assert eng.needs_general_path(eng.point({"toy_g": 0.2, "toy_scale_mev": [50.0, 60.0]}))


def test_toy_model_grid_scan(toy):
    lik = build_likelihood({"name": "toy", "experiments": [{"experiment": "coherent-csi-2017"}]})
    g = np.linspace(-0.3, 0.3, 7)
    scale = np.array([30.0, 100.0, 1e9])
    chi2 = evaluate_grid(lik, {"toy_g": g, "toy_scale_mev": scale})
    assert chi2.shape == (3, 7) and np.all(np.isfinite(chi2))
    for iy, s in enumerate(scale):
        np.testing.assert_allclose(chi2[iy], lik.chi2({"toy_g": g, "toy_scale_mev": s}), rtol=1e-12)
    # the large-scale row is the universal vector NSI row
    nsi = {f"eps_{a}{a}_{q}V": g / 3 for a in ("e", "mu", "tau") for q in ("u", "d")}
    np.testing.assert_allclose(chi2[2], lik.chi2(nsi), rtol=1e-9)


# ---------------------------------------------------------------- oscillation averaging (issue 8 item 3b)
def test_averaged_sin2_two_spreads_vs_numerical_average():
    base, ds, dd = 19.3, 0.25, 0.17
    for k in (0.05, 0.8, 3.0, 25.0):
        num = dblquad(lambda x, y: np.sin(k * (base + x + y)) ** 2, -ds, ds, -dd, dd, epsabs=1e-12)[0] / (4 * ds * dd)
        assert averaged_sin2(k, base, ds, dd) == pytest.approx(num, abs=1e-9)


def _ratio_curve(exp, dm):
    eng = exp.engine
    return eng.total({"u_mu4_sq": 0.1, "dm41_sq": dm}) / eng.total({})[0]


def _halving_change(exp, above):
    """Largest change of the curve (relative to the averaged dip) when the log-dm41^2 step is halved."""
    coarse = np.logspace(-1, 4, 61)  # the step of the Fig. 6 analyses
    fine = np.logspace(-1, 4, 121)
    rc, rf = _ratio_curve(exp, coarse), _ratio_curve(exp, fine)
    mid = fine[1::2]
    interp = np.interp(np.log(mid), np.log(coarse), rc)
    dip = 1 - rf[-1]
    return np.max(np.abs(interp - rf[1::2])[mid > above]) / dip


def test_sterile_curve_converges_under_step_halving_by_default(csi2017):
    # default: SNS production region half-width 0.25 m, CsI crystal half-length 0.17 m (physics/settings.py,
    # experiment.toml). Above ~150 eV^2 the prompt-line fringes are averaged: halving the step changes the
    # curve by < 1% of the dip; without averaging the 29.8 MeV line aliases (changes > 30%).
    eng = csi2017.engine
    assert (eng.baseline_spread_m, eng.detector_spread_m) == (0.25, 0.17)
    assert _halving_change(csi2017, 150.0) < 0.01
    point = load_experiment("coherent-csi-2017", settings={"baseline_spread_m": 0.0, "detector_spread_m": 0.0})
    assert _halving_change(point, 150.0) > 0.3
    # and the averaged curve tends to the 1/2 limit, 1 - A/2 for nu_mu and anti-nu_mu
    by = eng.predict({}).by_flavor()
    share = (by["nu_mu"][0] + by["nu_mu_bar"][0]) / eng.total({})[0]
    a = 4 * 0.1 * 0.9
    np.testing.assert_allclose(_ratio_curve(csi2017, np.array([300.0, 1e3, 1e4])), 1 - share * a / 2, rtol=2e-3)


def test_reactor_default_spread():
    assert load_experiment("conus").engine.baseline_spread_m == 1.5


# ---------------------------------------------------------------- shape groups (issue 9 "Engine speed")
def test_zero_mediator_coupling_is_not_a_shape(csi2017):
    eng = csi2017.engine
    # a Z' / scalar with zero coupling never makes its mass a shape parameter
    assert not eng.needs_general_path(eng.point({"zprime_coupling": 0.0, "zprime_mass": [1.0, 5.0, 50.0]}))
    assert not eng.needs_general_path(eng.point({"scalar_coupling": 0.0, "scalar_mass": [1.0, 5.0]}))
    sm = eng.total({})[0]
    got = eng.total({"zprime_coupling": [0.0, 0.0, 1e-5], "zprime_mass": [1.0, 5.0, 50.0]})
    assert got[0] == got[1] == pytest.approx(sm, rel=1e-13)
    assert abs(got[2] / sm - 1) > 1e-3


def test_shape_values_are_reused_across_chunks(csi2017):
    # the same grid evaluated in two chunk orders, and a second time from the cache: identical numbers
    eng = load_experiment("coherent-csi-2017").engine
    dm = np.logspace(-1, 3, 25)
    u = np.linspace(0.0, 0.3, 9)
    x, y = np.meshgrid(dm, u)  # dm41_sq fastest: every chunk holds every dm41_sq value
    pts = {"dm41_sq": x.ravel(), "u_mu4_sq": y.ravel()}
    whole = eng.total(pts)
    chunks = np.concatenate([eng.total({k: v[s:s + 40] for k, v in pts.items()}) for s in range(0, x.size, 40)])
    np.testing.assert_allclose(chunks, whole, rtol=1e-13)
    transposed = eng.total({"dm41_sq": x.T.ravel(), "u_mu4_sq": y.T.ravel()})
    np.testing.assert_allclose(transposed.reshape(x.T.shape).T.ravel(), whole, rtol=1e-13)
