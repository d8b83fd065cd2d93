"""Event-weighted momentum transfer of an experiment (cevns.engine.momentum) against direct quadrature."""

import numpy as np
import pytest
from scipy.integrate import quad

from cevns.engine.momentum import mean_momentum_transfer_mev, momentum_transfer_quantiles_mev
from cevns.experiments import load_experiment
from cevns.physics import kinematics

E_LINE = 29.79  # MeV, the pi+ decay-at-rest nu_mu line


@pytest.fixture(scope="module")
def line_experiment(tmp_path_factory):
    d = tmp_path_factory.mktemp("line")
    (d / "line.txt").write_text(f"{E_LINE} 1.0\n")
    (d / "experiment.toml").write_text("""schema_version = 1
name = "toy-line-q"
title = "a line on argon, unit form factor, no threshold"
[source]
kind = "tabulated"
components = [{ flavor = "nu_mu", file = "line.txt", kind = "line", normalization = 1e10 }]
[detector]
material = "Ar"
mass_kg = 1.0
exposure_days = 1.0
observable = "kevnr"
bins = { edges = [1e-6, 200.0] }
[physics]
form_factor = "unity"
kinematics = "seed"
""")
    return load_experiment(d / "experiment.toml")


def test_line_source_mean_q_is_the_direct_integral(line_experiment):
    # <q> = sum_x n_x Q_x^2 int sqrt(2 M_x T) (1 - M_x T / 2E^2) dT / (same without q), T < T_max(E)
    # (F = 1, seed kinematics, tree couplings); ~ 8/15 q_max for a single isotope
    eng = line_experiment.engine
    s2 = eng.defaults.get("sin2_theta_w", 0.2312)
    num = den = 0.0
    for t in eng.targets:
        iso = t.isotope
        m = iso.mass_mev
        qw2 = (iso.z * (0.5 - 2 * s2) - 0.5 * iso.n) ** 2
        tmax = float(kinematics.t_max_mev(E_LINE, m))
        w = lambda x, m=m: 1 - m * x / (2 * E_LINE**2)
        num += t.n_nuclei * qw2 * quad(lambda x: np.sqrt(2 * m * x) * w(x), 0, tmax, epsrel=1e-10)[0]
        den += t.n_nuclei * qw2 * quad(w, 0, tmax, epsrel=1e-10)[0]
    expected = num / den
    assert mean_momentum_transfer_mev(eng) == pytest.approx(expected, rel=2e-4)
    q_max = np.sqrt(2 * eng.targets[0].isotope.mass_mev * float(kinematics.t_max_mev(E_LINE, eng.targets[0].isotope.mass_mev)))
    assert expected == pytest.approx(8 / 15 * q_max, rel=0.01)


def test_real_experiments_typical_q():
    csi = load_experiment("coherent-csi-2017").engine
    conus = load_experiment("conus-plus").engine
    q_csi, q_conus = mean_momentum_transfer_mev(csi), mean_momentum_transfer_mev(conus)
    lo, hi = momentum_transfer_quantiles_mev(csi)
    assert lo < q_csi < hi
    # spallation (E ~ 30-50 MeV) on CsI vs reactor (E ~ 2-8 MeV) on Ge: tens of MeV vs ~10 MeV
    assert 30 < q_csi < 80 and 5 < q_conus < 20
