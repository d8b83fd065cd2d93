import numpy as np
import pytest
from scipy import stats

from cevns.detectors.smearing import cumulative_below, is_deterministic, sub_bin_probabilities

MEANS = np.array([0.0, 0.3, 2.0, 7.5, 40.0])


def test_poisson_matches_pmf_on_unit_bins():
    edges = np.arange(-1.0, 120.0)  # bin (n-1, n] holds the count n
    p = sub_bin_probabilities(MEANS, edges, "poisson")
    n = edges[1:]
    np.testing.assert_allclose(p, stats.poisson.pmf(n[None, :], MEANS[:, None]), rtol=1e-10, atol=1e-300)
    # non-integer edges: (2.5, 3.5] holds only n = 3, (3.5, 7.2] holds 4..7
    p = sub_bin_probabilities(MEANS, [2.5, 3.5, 7.2], "poisson")
    np.testing.assert_allclose(p[:, 0], stats.poisson.pmf(3, MEANS), atol=1e-15)
    expect = stats.poisson.cdf(7, MEANS) - stats.poisson.cdf(3, MEANS)
    np.testing.assert_allclose(p[:, 1], expect, atol=1e-15)


def test_poisson_fast_path_equals_incomplete_gamma():
    mu = np.linspace(0.0, 300.0, 57)
    dense = np.arange(10.0, 400.0, 3.0) + 0.5
    fast = sub_bin_probabilities(mu, dense, "poisson")
    ref = np.diff(cumulative_below(mu[:, None], dense[None, :], "poisson"), axis=1)
    np.testing.assert_allclose(fast, ref, atol=1e-13)
    # bins with no integer inside, and a range that begins at negative values
    odd = np.array([-5.5, -2.0, 0.2, 0.7, 1.0, 1.3, 2.9])
    ref = np.diff(cumulative_below(mu[:, None], odd, "poisson"), axis=1)
    np.testing.assert_allclose(sub_bin_probabilities(mu, odd, "poisson"), ref, atol=1e-14)
    sparse = np.array([0.0, 5.0, 1e5])  # falls back to pdtr
    np.testing.assert_allclose(
        sub_bin_probabilities(mu, sparse, "poisson")[:, 0], stats.poisson.cdf(5, mu) - stats.poisson.cdf(0, mu)
    )


@pytest.mark.parametrize(
    "model,params,var",
    [
        ("poisson", {}, lambda m: m),
        ("gamma", {}, lambda m: m),
        ("gamma", {"fano": 0.3}, lambda m: 0.3 * m),
        (
            "gaussian",
            {"sigma0": 0.7, "linear": 0.58**2, "relative": 0.05},
            lambda m: 0.49 + 0.3364 * m + (0.05 * m) ** 2,
        ),
    ],
)
def test_normalisation_mean_variance(model, params, var):
    mu = np.array([1.0, 3.0, 12.0, 30.0])  # (shape >= 1 keeps the midpoint sums accurate)
    if model == "poisson":
        edges = np.arange(-1.0, 200.0)
        value = edges[1:]  # the count held by (n-1, n]
    else:
        edges = np.arange(-40.0, 200.0, 0.01)
        value = 0.5 * (edges[1:] + edges[:-1])
    p = sub_bin_probabilities(mu, edges, model, **params)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-9)
    mean = p @ value
    np.testing.assert_allclose(mean, mu, rtol=1e-5, atol=1e-5)
    variance = p @ value**2 - mean**2
    np.testing.assert_allclose(variance, var(mu), rtol=1e-3, atol=1e-4)


def test_gamma_against_scipy():
    mu = np.array([0.2, 4.0, 25.0])
    edges = np.array([0.0, 1.0, 3.0, 10.0, 30.0])
    p = sub_bin_probabilities(mu, edges, "gamma", fano=2.0)
    cdf = stats.gamma.cdf(edges[None, :], a=mu[:, None] / 2.0, scale=2.0)
    np.testing.assert_allclose(p, np.diff(cdf, axis=1), rtol=1e-10, atol=1e-15)


def test_gaussian_zero_width_approaches_none():
    mu = np.array([0.3, 2.5, 7.9999])
    edges = np.arange(0.0, 11.0)
    exact = sub_bin_probabilities(mu, edges, "none")
    np.testing.assert_allclose(sub_bin_probabilities(mu, edges, "gaussian", sigma0=1e-6), exact, atol=1e-12)
    np.testing.assert_array_equal(sub_bin_probabilities(mu, edges, "gaussian"), exact)
    assert is_deterministic("gaussian", {}) and not is_deterministic("gaussian", {"linear": 0.1})


def test_none_uses_half_open_bins():
    p = sub_bin_probabilities(np.array([1.0, 2.0, 3.0, 0.5]), [1.0, 2.0, 3.0], "none")
    np.testing.assert_array_equal(p, [[1, 0], [0, 1], [0, 0], [0, 0]])


def test_zero_mean_is_point_mass():
    edges = [-1.0, 0.0, 1.0]
    for model in ("none", "gamma"):
        np.testing.assert_array_equal(sub_bin_probabilities(np.array([0.0]), edges, model), [[0.0, 1.0]])
    # Poisson: zero counts belong to (-1, 0]
    np.testing.assert_array_equal(sub_bin_probabilities(np.array([0.0]), edges, "poisson"), [[1.0, 0.0]])


def test_errors():
    with pytest.raises(ValueError, match="none, poisson, gamma, gaussian"):
        sub_bin_probabilities(MEANS, [0, 1], "lognormal")
    with pytest.raises(ValueError, match="unknown params"):
        sub_bin_probabilities(MEANS, [0, 1], "poisson", fano=1.0)
    with pytest.raises(ValueError, match="fano"):
        sub_bin_probabilities(MEANS, [0, 1], "gamma", fano=0.0)
    with pytest.raises(ValueError, match="non-negative"):
        sub_bin_probabilities(np.array([-1.0]), [0, 1], "gamma")
    with pytest.raises(ValueError, match="ascending"):
        sub_bin_probabilities(MEANS, [1, 0], "gamma")
    with pytest.raises(ValueError, match="at least 2"):
        sub_bin_probabilities(MEANS, [1], "gamma")
