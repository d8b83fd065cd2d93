"""Built-in experiment files: validation, released data, derived numbers."""

import numpy as np
import pytest

from cevns.errors import ConfigError
from cevns.experiments import list_experiments, load_experiment
from cevns.physics.constants import N_AVOGADRO


def test_every_builtin_experiment_builds_and_has_references():
    rows = list_experiments()
    assert rows
    for r in rows:
        assert r["references"], r["name"]
        exp = load_experiment(r["name"])
        tot = exp.predict({}).total[0]
        assert np.isfinite(tot) and tot > 0, r["name"]


def test_coherent_2017_released_counts(csi2017):
    # coincidence minus anti-coincidence beam-on, 6-30 PE, 0-6 us: 547 - 405 = 142 (arXiv:1708.01294)
    assert csi2017.observed.sum() == 142
    assert csi2017.sideband.sum() == 405
    # prompt-neutron background ~6 events (PHYSICS.md section 7: B_on = 6)
    assert 4.0 < csi2017.backgrounds["prompt_neutrons"].sum() < 8.0


def test_coherent_2017_targets(csi2017):
    n = {t.isotope.name: t.n_nuclei for t in csi2017.engine.targets}
    expected = N_AVOGADRO * 14570.0 / (132.90545 + 126.90447)  # CsI molar mass from the element masses
    assert n["Cs133"] == pytest.approx(expected, rel=1e-4)
    assert n["I127"] == pytest.approx(expected, rel=1e-4)


def test_coherent_2017_fluence(csi2017):
    # r N_POT / (4 pi L^2) per flavour; prompt nu_mu kept by the 0-6 us window
    phi = 0.08 * 1.76e23 / (4 * np.pi * 1930.0**2)
    line = [c for c in csi2017.engine.fluxes if c.is_line][0]
    assert 0.97 * phi < line.total_fluence_cm2() <= phi


def test_overrides_and_settings_are_validated():
    with pytest.raises(ConfigError, match="detector.mass_kg"):
        load_experiment("coherent-csi-2017", overrides={"detector": {"mass_kg": 0}})
    with pytest.raises(ConfigError, match="kinematics"):
        load_experiment("coherent-csi-2017", settings={"kinematics": "relativistic"})
    with pytest.raises(ConfigError, match="unknown parameter"):
        load_experiment("coherent-csi-2017", settings={"not_a_parameter": 1.0})


def test_mass_scaling_is_linear():
    a = load_experiment("coherent-csi-2017").predict({}).total[0]
    b = load_experiment("coherent-csi-2017", overrides={"detector": {"mass_kg": 29.14}}).predict({}).total[0]
    assert b == pytest.approx(2 * a, rel=1e-12)


def test_timing_window_reduces_delayed_only(csi2017):
    full = load_experiment("coherent-csi-2017", overrides={"source": {"timing": {"window_us": [0.0, 12.0]}}})
    a, b = csi2017.predict({}).by_flavor(), full.predict({}).by_flavor()
    assert a["nu_mu"][0] == pytest.approx(b["nu_mu"][0], rel=1e-3)  # prompt: all inside 0-6 us
    assert 0.88 < a["nu_e"][0] / b["nu_e"][0] < 0.95  # muon lifetime 2.2 us: ~8% after 6 us
