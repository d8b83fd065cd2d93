"""A nuisance shared by terms of different likelihood families (cevns.stats.cross_family).

Checks: toys of one-bin terms against a direct minimisation over every parameter and against the closed
form of correlated Gaussian counts; the real XENONnT 8B + PandaX-4T 8B pair sharing the 8B flux against
iminuit over all nuisances; bad correlations refused when the analysis is loaded.
"""

import copy

import numpy as np
import pytest
from iminuit import Minuit
from scipy.optimize import minimize

from cevns.analysis import build_likelihood, load_analysis
from cevns.errors import ConfigError
from cevns.stats import binned
from cevns.stats.cross_family import minimise_scalar
from cevns.stats.likelihood import Likelihood, Term

X = "sin2_theta_w"


def _bc(mu, n):
    """Baker-Cousins Poisson chi^2, written out here independently of the package."""
    mu, n = np.asarray(mu, float), np.asarray(n, float)
    return float(np.sum(2 * (mu - n + np.where(n > 0, n * np.log(np.where(n > 0, n, 1.0) / mu), 0.0))))


class OneBinBinned(Term):
    """Toy binned term (family "binned"): one bin, signal ``s0 x / 0.25``, normalisation ``norm`` on the
    signal and optionally a background normalisation ``bkg`` (20 %)."""

    kind = "toy_binned"
    joint = True

    def __init__(self, dataset, observed, s0, background, sigma, statistic="poisson", variance=None, bkg_sigma=None):
        super().__init__(None, dataset, dataset)
        self.observed, self.s0, self.background, self.statistic = float(observed), s0, float(background), statistic
        self.variance = variance
        self.nuisances = [binned.Nuisance("norm", sigma, ("signal",))]
        if bkg_sigma is not None:
            self.nuisances.append(binned.Nuisance("bkg", bkg_sigma, ("b",)))

    def signal(self, flat, n):
        return np.broadcast_to(self.s0 * np.asarray(flat[X], float) / 0.25, (n,)).reshape(n, 1)

    def binned_dataset(self, signal):
        var = None if self.variance is None else [self.variance]
        return binned.BinnedDataset(self.dataset, [self.observed], {"b": [self.background]}, self.statistic,
                                    variance=var, nuisances=self.nuisances)

    def nuisance_table(self):
        return {nu.name: {"sigma": None if np.isinf(nu.sigma) else nu.sigma, "applies_to": [nu.applies_to[0]]}
                for nu in self.nuisances}


class OneBinAlone(Term):
    """Toy term profiled alone (its own family): Gaussian counts ``d`` with variance ``v``, expectation
    ``f s0 (1 - x) + b``, its normalisation ``f`` shareable as ``norm``."""

    kind = "toy_alone"

    def __init__(self, dataset, observed, s0, background, variance, sigma):
        super().__init__(None, dataset, dataset)
        self.d, self.s0, self.b, self.v, self.sigma = observed, s0, background, variance, sigma

    def signal(self, flat, n):
        return np.broadcast_to(self.s0 * (1 - np.asarray(flat[X], float)), (n,)).copy()

    def chi2_of_signal(self, signal, details=False):
        r = self.d - signal - self.b
        return r**2 / (self.v + self.sigma**2 * signal**2), {}

    def holdable(self):
        return {"norm": self.sigma}

    def chi2_held(self, signal, held, start=None):
        return (self.d - held["norm"] * signal - self.b) ** 2 / self.v, {}


def _poisson_pair(sigma=0.1):
    a = OneBinBinned("a", observed=14, s0=10.0, background=3.0, sigma=sigma, bkg_sigma=0.2)
    b = OneBinAlone("b", observed=30.0, s0=50.0, background=4.0, variance=36.0, sigma=sigma)
    return a, b


@pytest.mark.parametrize("x", [0.15, 0.25, 0.4])
def test_toy_across_families_equals_a_direct_minimisation(x):
    a, b = _poisson_pair()
    lik = Likelihood([a, b])
    got = lik.fit({X: x})
    s1, s2 = 10.0 * x / 0.25, 50.0 * (1 - x)

    def full(p):
        f, t = p
        return (_bc(f * s1 + (1 + t) * 3.0, 14) + (t / 0.2) ** 2 + (30.0 - f * s2 - 4.0) ** 2 / 36.0
                + ((f - 1) / 0.1) ** 2)

    ref = minimize(full, [1.0, 0.0], method="Nelder-Mead", options={"xatol": 1e-9, "fatol": 1e-11, "maxiter": 4000})
    assert got.chi2[0] == pytest.approx(ref.fun, abs=0.01)
    assert got.chi2[0] >= ref.fun - 1e-6          # a minimum over f cannot undercut the joint minimum
    assert 1 + got.nuisances["norm"][0] == pytest.approx(ref.x[0], abs=2e-3)
    assert got.nuisances["bkg"][0] == pytest.approx(ref.x[1], abs=5e-3)
    assert set(got.per_experiment) == {"a", "b"}


OPPOSITE, SAME = (15.0, 28.0), (15.0, 42.0)   # A up and B down / both up (at x = 0.25: s = 10, 30; b = 2)


def _gauss_pair(sigma, data=OPPOSITE):
    """Gaussian counts, variance = data (A binned, B profiled alone), one normalisation shared."""
    a = OneBinBinned("a", observed=data[0], s0=10.0, background=2.0, sigma=sigma, statistic="gaussian",
                     variance=data[0])
    b = OneBinAlone("b", observed=data[1], s0=40.0, background=2.0, variance=data[1], sigma=sigma)
    return a, b


def _closed(x, sigma, correlated, data=OPPOSITE, own=0.1):
    """chi2 = r^T (V + sigma^2 s s^T)^-1 r (one shared normalisation) or sum r_i^2 / (v_i + own^2 s_i^2)."""
    s = np.array([10.0 * x / 0.25, 40.0 * (1 - x)])
    r = np.array(data) - s - 2.0
    v = np.array(data)
    if correlated:
        return float(r @ np.linalg.solve(np.diag(v) + sigma**2 * np.outer(s, s), r))
    return float(np.sum(r**2 / (v + own**2 * s**2)))


@pytest.mark.parametrize("data", [OPPOSITE, SAME])
@pytest.mark.parametrize("sigma", [0.03, 0.1, 0.3])
def test_shared_width_moves_the_result_as_the_closed_form_says(sigma, data):
    x = np.array([0.2, 0.25, 0.3])
    got = Likelihood(list(_gauss_pair(sigma, data))).chi2({X: x})
    want = np.array([_closed(xi, sigma, True, data) for xi in x])
    np.testing.assert_allclose(got, want, atol=2e-3)
    separate = np.array([_closed(xi, sigma, False, data) for xi in x])   # two own 10 % normalisations
    # hand calculation at x = 0.25 (r = d - s - b): OPPOSITE r = (3, -4): one common normalisation cannot
    # move both ways, the combined chi2 exceeds the separate one for any width. SAME r = (3, 10): a
    # common shift absorbs both pulls once its width reaches the own ones (chi2 below the separate one),
    # a much narrower one absorbs less (above it).
    if data == OPPOSITE or sigma < 0.1:
        assert np.all(got > separate + 0.005)
    else:
        assert np.all(got < separate - 0.05)


def test_shared_width_ordering():
    # wider shared prior -> lower chi2 at every point (closed form decreasing in sigma)
    x = np.linspace(0.15, 0.35, 5)
    for data in (OPPOSITE, SAME):
        chi = [Likelihood(list(_gauss_pair(s, data))).chi2({X: x}) for s in (0.03, 0.1, 0.3)]
        assert np.all(chi[0] > chi[1]) and np.all(chi[1] > chi[2])


def test_two_shared_nuisances_across_families_are_refused():
    a, b = _poisson_pair()
    c = OneBinAlone("c", observed=30.0, s0=50.0, background=4.0, variance=36.0, sigma=0.1)
    c.holdable = lambda: {"other": 0.1}
    a.nuisances.append(binned.Nuisance("other", 0.1, ("signal",)))
    with pytest.raises(ConfigError, match="only one"):
        Likelihood([a, b, c])


def test_minimise_scalar_against_scipy():
    rng = np.random.default_rng(3)
    n = 200
    c, a = rng.uniform(0.2, 2.5, n), rng.uniform(1.0, 300.0, n)

    def g(x, idx):
        return a[idx] * (x - c[idx]) ** 2 + 0.2 * a[idx] * (x - c[idx]) ** 4 + np.exp(x)

    x, v, conv = minimise_scalar(g, np.ones(n), 0.05, 0.0, 5.0)
    ref = np.array([minimize(lambda t: g(t, np.array([i])), [c[i]], method="Nelder-Mead",
                             options={"xatol": 1e-10, "fatol": 1e-12}).fun for i in range(n)])
    assert conv.all()
    assert np.all(v >= ref - 1e-9) and np.all(v - ref < 1e-3)


def test_minimise_scalar_minimum_on_a_bound():
    x, v, conv = minimise_scalar(lambda t, idx: (t + 1.0) ** 2, np.ones(3), 0.1, 0.0, 4.0)
    assert conv.all()
    np.testing.assert_allclose(x, 0.0, atol=1e-4)
    np.testing.assert_allclose(v, 1.0, atol=1e-3)


# ------------------------------------------------------------------------------------------ real pair
SOLAR = {"name": "solar_8b_flux", "sigma": 0.12, "description": "8B flux, common to XENONnT and PandaX-4T",
         "members": [{"experiment": "XENONnT 8B", "nuisance": "flux_8B"},
                     {"experiment": "PandaX-4T 8B", "nuisance": "flux_8b"}]}


def _solar(correlations=(SOLAR,)):
    return {"schema_version": 1, "name": "solar-pair", "fixed": {},
            "experiments": [{"experiment": "xenonnt-8b", "label": "XENONnT 8B", "likelihood": "xenonnt_8b",
                             "data": "observed", "settings": {"coupling_scheme": "tree"}},
                            {"experiment": "pandax-4t-8b", "label": "PandaX-4T 8B", "likelihood": "poisson",
                             "data": "observed", "settings": {"coupling_scheme": "tree"}}],
            "correlations": copy.deepcopy(list(correlations))}


@pytest.fixture(scope="module")
def solar_pair():
    return build_likelihood(_solar())


def _iminuit_all(lik, x):
    """min over every nuisance of both terms and the shared flux f, written out with public pieces."""
    xe, px = lik.terms
    prof = xe.profiler
    flat = {**lik.fixed, X: x}
    sx, m = xe.signal(flat, 1), prof.n_energy
    rates = {c: sx[:, i * m:(i + 1) * m] for i, c in enumerate(prof.components)}
    sp = px.signal(flat, 1)
    ds = px.binned_dataset(sp)
    xn = [k for k in prof.names if k != "flux_8B"]
    pn = [nu.name for nu in px.nuisances if nu.name != "solar_8b_flux"]
    psig = {nu.name: nu.sigma for nu in px.nuisances}
    width = {"flux_hep": prof.sigmas["hep"], "er": prof.sigmas["er"], "neutron": prof.sigmas["neutron"],
             "signal_eff": prof.sigmas["signal"], **{k: prof.sigmas[k] for k in xn if k.startswith("ac_")}}

    def cost(*p):
        vals = dict(zip(xn, p[1:1 + len(xn)]), flux_8B=p[0])
        th = dict(zip(pn, p[1 + len(xn):]), solar_8b_flux=p[0] - 1)
        c = sum(_bc(mu[0], o) for mu, o in zip(prof.expected(rates, vals), xe.observed_runs))
        c += vals["tly"] ** 2 + vals["tqy"] ** 2 + sum(((vals[k] - 1) / w) ** 2 for k, w in width.items())
        c += _bc(ds.expected(sp, th)[0], ds.observed) + sum((th[k] / psig[k]) ** 2 for k in pn)
        return c + ((p[0] - 1) / 0.12) ** 2

    names = ["f", *xn, *pn]
    best = np.inf
    fit = lik.fit({X: x})
    starts = [[1 + fit.nuisances["solar_8b_flux"][0]] + [fit.nuisances[f"e0:{k}"][0] for k in xn]
              + [fit.nuisances[k][0] for k in pn],
              [1.0] + [0.0 if k in ("tly", "tqy") else 1.0 for k in xn] + [0.0] * len(pn)]
    for p0 in starts:
        mm = Minuit(cost, *p0, name=names)
        mm.errordef = 1
        for k in names:
            mm.limits[k] = (-3, 3) if k in ("tly", "tqy") else (0.5, 1.5) if k == "signal_eff" else \
                (-1, None) if k in pn else (0, None)
        mm.migrad()
        mm.migrad()
        best = min(best, mm.fval)
    return float(fit.chi2[0]), best


@pytest.mark.parametrize("x", [0.1, 0.238, 0.45])
def test_real_pair_shared_8b_flux_against_iminuit(solar_pair, x):
    got, ref = _iminuit_all(solar_pair, x)
    assert got == pytest.approx(ref, abs=0.01)


def test_real_pair_lists_the_shared_flux(solar_pair):
    table = solar_pair.nuisance_table()
    assert sorted(table["solar_8b_flux"]["applies_to"]) == ["PandaX-4T 8B/signal", "XENONnT 8B/flux_8B"]
    assert table["solar_8b_flux"]["sigma"] == 0.12
    fit = solar_pair.fit({X: np.array([0.2, 0.3])})
    assert "e0:flux_8B" not in fit.nuisances and "solar_8b_flux" in fit.nuisances
    # one flux for both: the XENONnT template term alone at the same flux gives its part of the chi2
    xe = solar_pair.terms[0]
    part, _ = xe.chi2_held(xe.signal({**solar_pair.fixed, X: np.array([0.2, 0.3])}, 2),
                           {"solar_8b_flux": 1 + fit.nuisances["solar_8b_flux"]})
    np.testing.assert_allclose(part, fit.per_experiment["e0"], atol=1e-4)


@pytest.mark.parametrize("change, message", [
    (lambda d: d["correlations"][0]["members"][0].update(nuisance="flux_7Be"), "has no systematic 'flux_7Be'"),
    (lambda d: d["correlations"][0]["members"][0].update(nuisance="tly"), "has no systematic 'tly'"),
    (lambda d: d["correlations"][0]["members"][1].update(experiment="LZ 8B"), "matches no experiment"),
    (lambda d: d["correlations"].append({"name": "hep", "sigma": 0.3, "members": [
        {"experiment": "XENONnT 8B", "nuisance": "flux_hep"}, {"experiment": "PandaX-4T 8B", "nuisance": "bkg_us2"}]}),
     "only one such correlation"),
    (lambda d: d["correlations"][0].update(sigma=0.0), "positive width"),
])
def test_bad_cross_family_correlations_are_refused(change, message):
    doc = _solar()
    change(doc)
    with pytest.raises(ConfigError, match=message):
        build_likelihood(load_analysis(doc))


def test_template_member_with_another_family_is_refused():
    doc = _solar()
    doc["experiments"].append({"experiment": "coherent-csi-2021", "label": "CsI 2021",
                               "likelihood": "template_poisson", "data": "observed"})
    doc["correlations"] = [{"name": "mixed", "sigma": 0.1, "members": [
        {"experiment": "CsI 2021", "nuisance": "flux_norm"}, {"experiment": "XENONnT 8B", "nuisance": "flux_8B"}]}]
    with pytest.raises(ConfigError, match="only with other template terms"):
        load_analysis(doc)


def test_fixed_shared_normalisation_is_held_at_one():
    # sigma = 0: f = 1, chi2 = sum of the two terms at nominal normalisation
    a, b = _gauss_pair(0.0)
    got = Likelihood([a, b]).fit({X: 0.25})
    r = np.array(OPPOSITE) - np.array([10.0, 30.0]) - 2.0
    assert got.chi2[0] == pytest.approx(float(np.sum(r**2 / np.array(OPPOSITE))), abs=1e-9)
    assert got.nuisances["norm"][0] == 0.0


def test_real_pair_free_flux_combines_the_separate_measurements():
    # 8B flux free: the shared best fit is the minimum of the sum of the two held profiles, between the
    # separate best fits, with a Delta chi2 = 1 interval narrower than each
    lik = build_likelihood(_solar([{**SOLAR, "sigma": None}]))
    xe, px = lik.terms
    f = np.linspace(0.0, 3.5, 351)
    sx = np.repeat(xe.signal(dict(lik.fixed), 1), f.size, 0)
    sp = np.repeat(px.signal(dict(lik.fixed), 1), f.size, 0)
    cx, _ = xe.chi2_held(sx, {"solar_8b_flux": f})
    cp = binned.combined_chi2([px.binned_dataset(sp)], {px.dataset: sp}, held={"solar_8b_flux": f - 1}).chi2

    def best_and_width(c):
        ok = f[c - c.min() <= 1.0]
        return f[np.argmin(c)], ok.max() - ok.min()

    (bx, wx), (bp, wp), (bc, wc) = best_and_width(cx), best_and_width(cp), best_and_width(cx + cp)
    fit = lik.fit({})
    shared = 1 + fit.nuisances["solar_8b_flux"][0]
    assert shared == pytest.approx(bc, abs=0.011)                   # the grid's step is 0.01
    assert fit.chi2[0] == pytest.approx((cx + cp).min(), abs=0.01)
    assert min(bx, bp) - 0.01 <= shared <= max(bx, bp) + 0.01
    assert wc < min(wx, wp)
