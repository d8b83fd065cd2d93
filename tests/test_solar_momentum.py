"""Typical momentum transfer of the solar-8B xenon experiments (plug-in kinds, not one rate engine)."""

import numpy as np
import pytest

from cevns.engine.momentum import momentum_distribution_mev, momentum_summary_mev
from cevns.errors import ConfigError
from cevns.experiments import load_experiment
from cevns.experiments.xenonnt_8b.model import recoil_rate_engine
from cevns.experiments.xenonnt_8b.release import MONO_ENERGIES_KEV
from cevns.physics import nuclei

AMU_MEV = 931.494


def _mean_xe_mass_mev():
    # abundance-weighted mass of natural xenon (periodictable via cevns.physics.nuclei)
    ts = nuclei.target_nuclei("Xe")
    n = np.array([t.nuclei_per_kg for t in ts])
    m = np.array([t.isotope.mass_mev for t in ts])
    return float(np.sum(n * m) / np.sum(n))


def test_mean_xenon_mass_is_the_standard_atomic_weight():
    assert _mean_xe_mass_mev() / AMU_MEV == pytest.approx(131.29, abs=0.05)


def test_xenonnt_q_against_the_binned_detected_spectrum():
    # independent estimate: the likelihood's own inputs -- binned recoil rates (46 bins of 0.1 keV, all
    # isotopes) times the release's efficiency templates summed over analysis bins and runs -- with
    # q = sqrt(2 <M> T) at the bin centres
    exp = load_experiment("xenonnt-8b")
    w = sum(r[0] for r in exp.recoil_rates().values()) * exp.detection_weights()
    assert w.sum() == pytest.approx(exp.signal_events().sum(), rel=1e-10)
    q_bins = np.sqrt(2 * _mean_xe_mass_mev() * MONO_ENERGIES_KEV * 1e-3)
    expected = float(np.sum(w * q_bins) / np.sum(w))
    mean, low, high = exp.momentum_transfer_mev()
    assert mean == pytest.approx(expected, rel=5e-3)
    assert 15 < mean < 25 and low < mean < high
    # the detected spectrum lies in 0.5-5 keVnr
    assert np.sqrt(2 * _mean_xe_mass_mev() * 0.5e-3) < low and high < np.sqrt(2 * _mean_xe_mass_mev() * 5e-3)


def test_pandax_summary_q_against_fine_bins_above_each_threshold():
    exp = load_experiment("pandax-4t-8b")
    m = _mean_xe_mass_mev()
    num = den = 0.0
    for ch, scale in zip(exp.spec.channels, exp.engine.scale):
        edges = np.geomspace(ch.threshold_kevnr, 60.0, 400)
        centres = np.sqrt(edges[1:] * edges[:-1])
        rate = sum(recoil_rate_engine(c, exp.spec.solar_model, edges_kev=edges).predict().per_bin[0]
                   for c in ("8B", "hep"))
        num += scale * np.sum(rate * np.sqrt(2 * m * centres * 1e-3))
        den += scale * np.sum(rate)
    mean, low, high = exp.momentum_transfer_mev()
    assert mean == pytest.approx(num / den, rel=1e-2)
    assert low < mean < high


def test_bad_momentum_inputs_are_clean_errors():
    eng = load_experiment("xenonnt-8b").engine
    with pytest.raises(ConfigError, match="bin_weights"):
        momentum_distribution_mev(eng, np.ones(3))
    with pytest.raises(ConfigError, match="no CEvNS events"):
        momentum_summary_mev([1.0, 2.0], [0.0, 0.0])
