"""Detector smearing: probability that the observed value falls in each of a set of intervals.

Given the true mean observable mu (PE, keVee, ...) of an event, the observed value X is

* ``"none"``     : X = mu exactly;
* ``"poisson"``  : an integer count N ~ Poisson(mu) (photo-electron statistics);
* ``"gamma"``    : continuous Gamma with E[X] = mu, Var[X] = fano * mu (shape mu/fano, scale fano), the
  continuous analogue of Poisson (fano = 1) used for PE spectra with non-integer charge;
* ``"gaussian"`` : Normal(mu, sigma) with sigma^2 = sigma0^2 + linear * mu + (relative * mu)^2
  (electronic noise, a Fano/statistical term, a constant relative term). COHERENT LAr 2020
  (arXiv:2003.10630, sigma/E = 0.58/sqrt(E/keVee)) is linear = 0.58^2 keVee.

Interval conventions: continuous and deterministic values fall in [e_j, e_{j+1}); a Poisson count N
falls in (e_j, e_{j+1}] (so that the n-PE event belongs to the 1-PE bin (n-1, n], COHERENT's convention;
with integer edges P_j = F(e_{j+1}) - F(e_j) with F the Poisson CDF). All functions are vectorised
(scipy.special), no loops over events.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
from scipy.special import gammainc, gammaln, ndtr, pdtr, xlogy

__all__ = [
    "SMEARING_MODELS",
    "validate_smearing",
    "smearing_sigma",
    "is_deterministic",
    "cumulative_below",
    "sub_bin_probabilities",
]

SMEARING_MODELS = ("none", "poisson", "gamma", "gaussian")

_DEFAULTS: dict[str, dict[str, float]] = {
    "none": {},
    "poisson": {},
    "gamma": {"fano": 1.0},
    "gaussian": {"sigma0": 0.0, "linear": 0.0, "relative": 0.0},
}


def validate_smearing(model: str, params: Mapping[str, Any] | None = None) -> dict[str, float]:
    """Check a smearing model name and its parameters; return the parameters with defaults filled in.

    Parameters: none/poisson: none; gamma: fano > 0 (default 1); gaussian: sigma0, linear, relative >= 0
    (default 0).

    Parameters
    ----------
    model : {"none", "poisson", "gamma", "gaussian"}
        Smearing model.
    params : mapping, optional
        Its parameters (sigma0 in observable units, linear in observable units, fano and relative
        dimensionless).
    """
    if model not in SMEARING_MODELS:
        raise ValueError(f"unknown smearing model {model!r}; valid models: {', '.join(SMEARING_MODELS)}")
    params = dict(params or {})
    allowed = _DEFAULTS[model]
    extra = params.keys() - allowed.keys()
    if extra:
        raise ValueError(
            f"smearing model {model!r} got unknown params {sorted(extra)}; allowed: {sorted(allowed) or 'none'}"
        )
    out = dict(allowed)
    for key, value in params.items():
        value = float(value)
        if not np.isfinite(value) or value < 0:
            raise ValueError(f"smearing parameter {key} must be finite and non-negative, got {value}")
        out[key] = value
    if model == "gamma" and out["fano"] <= 0:
        raise ValueError("smearing parameter fano must be positive")
    return out


def is_deterministic(model: str, params: Mapping[str, Any] | None = None) -> bool:
    """True if the smearing leaves the observable unchanged ("none", or a Gaussian with sigma = 0).

    Parameters
    ----------
    model : str
        Smearing model.
    params : mapping, optional
        Its parameters.
    """
    p = validate_smearing(model, params)
    return model == "none" or (model == "gaussian" and not any(p.values()))


def smearing_sigma(mean, sigma0: float = 0.0, linear: float = 0.0, relative: float = 0.0) -> np.ndarray:
    """Gaussian width sigma(mu) = sqrt(sigma0^2 + linear * mu + (relative * mu)^2), in observable units.

    COHERENT LAr 2020 (arXiv:2003.10630) is ``linear = 0.58^2`` keVee (module docstring).

    Parameters
    ----------
    mean : float or ndarray
        Mean observable mu (observable units).
    sigma0 : float, optional
        Constant width (observable units).
    linear : float, optional
        Coefficient of the Poisson-like term (observable units).
    relative : float, optional
        Relative width (dimensionless).

    Examples
    --------
    >>> float(smearing_sigma(16.0, sigma0=3.0, linear=1.0))
    5.0
    """
    mu = np.asarray(mean, dtype=float)
    return np.sqrt(sigma0**2 + linear * mu + (relative * mu) ** 2)


def _check_mean(mean) -> np.ndarray:
    mu = np.asarray(mean, dtype=float)
    if not np.all(np.isfinite(mu)) or np.any(mu < 0):
        raise ValueError("mean observable must be finite and non-negative")
    return mu


def cumulative_below(mean, x, model: str, **params) -> np.ndarray:
    """F(x | mu) such that P(observed in the interval from a to b) = F(b) - F(a).

    "none": 1[mu < x]; "gamma"/"gaussian": P(X < x); "poisson": P(N <= floor(x)) (counts in (a, b]).
    ``mean`` and ``x`` are broadcast against each other.

    Parameters
    ----------
    mean : float or ndarray
        Mean observable mu.
    x : float or ndarray
        Observable value (same unit as ``mean``).
    model : str
        Smearing model (see :func:`validate_smearing`).
    **params
        The model's parameters.
    """
    p = validate_smearing(model, params)
    mu = _check_mean(mean)
    x = np.asarray(x, dtype=float)
    mu, x = np.broadcast_arrays(mu, x)
    step = (mu < x).astype(float)
    if model == "none":
        return step
    if model == "poisson":
        k = np.floor(x)
        return np.where(k >= 0, pdtr(np.maximum(k, 0.0), mu), 0.0)
    if model == "gamma":
        fano = p["fano"]
        safe_mu = np.where(mu > 0, mu, 1.0)
        cont = gammainc(safe_mu / fano, np.maximum(x, 0.0) / fano)
        return np.where(mu > 0, cont, step)
    sigma = smearing_sigma(mu, p["sigma0"], p["linear"], p["relative"])
    safe_sigma = np.where(sigma > 0, sigma, 1.0)
    return np.where(sigma > 0, ndtr((x - mu) / safe_sigma), step)


def sub_bin_probabilities(mean, edges, model: str, **params) -> np.ndarray:
    """Probability that the observed value lies in each interval of ``edges``.

    Parameters
    ----------
    mean : array_like, shape (n_mean,)
        True mean observable mu of each event (>= 0).
    edges : array_like, shape (n_edges,)
        Strictly ascending interval edges.
    model : {"none", "poisson", "gamma", "gaussian"}
        Smearing model (see module docstring for the interval conventions).
    **params
        gamma: ``fano``; gaussian: ``sigma0``, ``linear``, ``relative``.

    Returns
    -------
    ndarray, shape (n_mean, n_edges - 1)
        P[i, j] = F(edges[j+1] | mu_i) - F(edges[j] | mu_i) (see :func:`cumulative_below`).
    """
    mu = _check_mean(mean)
    if mu.ndim != 1:
        raise ValueError("mean must be a 1-D array")
    edges = np.asarray(edges, dtype=float)
    if edges.ndim != 1 or edges.size < 2:
        raise ValueError("edges must be a 1-D array with at least 2 entries")
    if not np.all(np.isfinite(edges)) or np.any(np.diff(edges) <= 0):
        raise ValueError("edges must be finite and strictly ascending")
    validate_smearing(model, params)
    if model == "poisson":
        fast = _poisson_bin_sums(mu, edges)
        if fast is not None:
            return fast
    cdf = cumulative_below(mu[:, None], edges[None, :], model, **params)
    return np.maximum(np.diff(cdf, axis=1), 0.0)


def _poisson_bin_sums(mu: np.ndarray, edges: np.ndarray) -> np.ndarray | None:
    """P(e_j < N <= e_{j+1} | mu) as sums of the pmf exp(n ln mu - mu - ln n!) over the integers of
    each bin: faster than incomplete-gamma calls and without cancellation in the tails. Returns None
    (use CDF differences) when the edges are sparse compared to the number of integers they span.
    """
    k = np.floor(edges)
    n_first = max(k[0] + 1.0, 0.0)
    n = np.arange(n_first, k[-1] + 1.0)
    if n.size > 4 * edges.size + 1000:
        return None
    out = np.zeros((mu.size, edges.size - 1))
    if n.size == 0:
        return out
    pmf = np.exp(xlogy(n[None, :], mu[:, None]) - mu[:, None] - gammaln(n + 1.0)[None, :])
    lo = np.clip(k[:-1] + 1.0 - n_first, 0, n.size).astype(int)
    hi = np.clip(k[1:] + 1.0 - n_first, 0, n.size).astype(int)
    full = hi > lo
    if np.any(full):
        out[:, full] = _segment_sums(pmf, lo[full], hi[full])
    return out


def _segment_sums(a: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Column sums a[:, lo_i:hi_i] for non-empty, non-overlapping, ascending segments."""
    idx = np.empty(2 * lo.size, dtype=int)
    idx[0::2], idx[1::2] = lo, hi
    last = idx[-1] == a.shape[1]
    if last:
        idx = idx[:-1]
    sums = np.add.reduceat(a, idx, axis=1)
    return sums[:, 0::2]
