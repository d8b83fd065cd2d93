"""The global likelihood's profiled chi^2 against a per-point iminuit minimisation over its nuisances.

The binned Gaussian terms are COHERENT CsI 2017 and CONUS+ (the per-experiment files of the global fit; the
combined file uses CsI 2021 instead of CsI 2017, a template term profiled by its own Newton steps and checked
against MIGRAD in its own tests), with the XENONnT 8B template term of the combined file."""

from pathlib import Path

import numpy as np
import pytest
from iminuit import Minuit

from cevns.analysis import build_likelihood, load_analysis
from cevns.experiments import read_toml

FOLDER = Path(__file__).resolve().parents[1] / "src" / "cevns" / "papers" / "global_fit"
FILE = FOLDER / "bsm_combined.toml"


def _migrad(lik, point):
    """Explicit Gaussian chi^2 (data + priors) minimised over every nuisance by MIGRAD."""
    signals = lik.signals(point)
    datasets = [t.binned_dataset(s) for t, s in zip(lik.terms, signals)]
    table = lik.nuisance_table()
    names = list(table)
    sig = np.array([table[k]["sigma"] for k in names], dtype=float)

    def chi2(*theta):
        values = dict(zip(names, theta))
        total = float(np.sum((np.asarray(theta) / sig) ** 2))
        for ds, s in zip(datasets, signals):
            mu = ds.expected(s, {nu.name: values[nu.name] for nu in ds.nuisances})[0]
            var = np.asarray(ds.variance, dtype=float).reshape(-1, ds.n_bins)[0]
            total += float(np.sum((ds.observed - mu) ** 2 / var))
        return total

    m = Minuit(chi2, *np.zeros(len(names)), name=names)
    m.errordef = Minuit.LEAST_SQUARES
    m.migrad()
    assert m.valid
    return m.fval


def _likelihood(keep):
    raw = read_toml(FILE)
    raw["scans"] = []
    raw.pop("correlations", None)  # the SNS flux of the template terms left out here
    experiments = read_toml(FOLDER / "bsm_csi2017.toml")["experiments"] + raw["experiments"]
    raw["experiments"] = [e for e in experiments if keep(e) and e.get("likelihood") != "template_poisson"]
    return build_likelihood(load_analysis(raw, base_dir=FILE.parent))


@pytest.fixture(scope="module")
def lik():
    # the binned Gaussian terms (the XENONnT template term profiles its own nuisances: test below)
    return _likelihood(lambda e: e.get("likelihood") == "gaussian")


@pytest.fixture(scope="module")
def lik_all():
    return _likelihood(lambda e: True)


@pytest.fixture(scope="module")
def lik_solar():
    return _likelihood(lambda e: e.get("likelihood") == "xenonnt_8b")


@pytest.mark.parametrize("point", [
    {}, {"eps_ee_uV": 0.3, "eps_ee_dV": -0.1}, {"eps_ee_uV": -0.2, "eps_mumu_uV": 0.4},
    {"mu_nu_e": 3e-10}, {"zprime_mass": 30.0, "zprime_coupling": 2e-9},
])
def test_profiled_chi2_matches_migrad(lik, point):
    assert set(lik.nuisance_table()) == {"signal_norm", "prompt_neutron_norm", "conus_plus_quenching",
                                         "conus_plus_signal_norm"}
    got = float(lik.chi2(point)[0])
    assert got == pytest.approx(_migrad(lik, point), abs=0.01)


@pytest.mark.parametrize("point", [{}, {"eps_ee_uV": 0.3, "eps_mumu_uV": -0.2}, {"mu_nu_mu": 1e-9}])
def test_solar_term_adds_to_the_binned_ones(lik, lik_all, lik_solar, point):
    # no nuisance is shared between the XENONnT template term and the binned terms: the combined profiled
    # chi^2 is the sum of the separately profiled ones
    assert {e.experiment for e in lik_solar.spec.experiments} == {"xenonnt-8b"}
    total = float(lik_all.chi2(point)[0])
    assert total == pytest.approx(float(lik.chi2(point)[0]) + float(lik_solar.chi2(point)[0]), abs=1e-6)
