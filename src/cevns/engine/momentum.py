"""The typical momentum transfer of an experiment: the event-weighted mean |q| of its SM prediction.

``<q> = sum_x int dT q_x(T) dN_x/dT / sum_x int dT dN_x/dT`` with ``q = sqrt(2 M_x T)`` (or the exact
form of the engine's settings) and ``dN_x/dT`` the Standard-Model CEvNS rate of isotope ``x`` folded
with the flux and the detector response (acceptance summed over the analysis bins), evaluated on the
engine's own recoil nodes and flux moments (PHYSICS.md sections 1, 2, 6). This is the scale at which a
measurement of ``sin^2(theta_W)`` is quoted in the weak-mixing-angle-vs-Q figure.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from ..errors import ConfigError
from ..physics.couplings import sm_vector_couplings
from ..physics.cross_sections import energy_coefficients

__all__ = ["mean_momentum_transfer_mev", "momentum_transfer_quantiles_mev", "momentum_distribution_mev",
           "momentum_summary_mev"]


def _weights(engine, sin2_theta_w: float, bin_weights=None):
    """(q nodes, event weights) concatenated over isotopes [MeV, arbitrary units]."""
    g_p, g_n = sm_vector_couplings(sin2_theta_w, engine.settings.coupling_scheme)
    qs, ws = [], []
    for k in engine.isotope_kernels:
        iso = k.isotope
        c = np.stack(energy_coefficients("vector", k.t_mev, k.mass_mev, engine.settings.kinematics))
        kin = sum(np.einsum("kt,kt->t", c, comp.moments) for comp in k.components)
        charge = iso.z * float(g_p) * k.f_z + iso.n * float(g_n) * k.f_z
        resp = k.response_weights.sum(axis=1) if bin_weights is None else k.response_weights @ bin_weights
        ws.append(kin * charge**2 * resp)
        qs.append(k.q_mev)
    return np.concatenate(qs), np.concatenate(ws)


def momentum_distribution_mev(engine, bin_weights=None, params: Mapping | None = None) -> tuple:
    """|q| nodes [MeV] and SM event weights of ``engine``, isotopes concatenated.

    The weight of node t of isotope x is ``n_x dsigma_x/dT(T_t) Phi w_t sum_b R_b(T_t) a_b``: the SM
    vector cross section (Z g_V^p + N g_V^n)^2 F^2 times the flux moments at the node, the quadrature
    weight, the detector response of analysis bin b and an extra per-bin acceptance ``a_b``
    (``bin_weights``; 1 by default). Distributions of several engines (flux components) can be
    concatenated before :func:`momentum_summary_mev` when they share units (events per exposure).

    Parameters
    ----------
    engine : RateEngine
    bin_weights : array_like (n_bins,), optional
        Non-negative acceptance of each of the engine's bins (e.g. a detection efficiency per recoil
        bin); default 1.
    params : mapping, optional
        Only ``sin2_theta_w`` is used (default: the engine's default).

    Returns
    -------
    (q, w) : tuple of ndarray
        Momentum transfer [MeV] at the recoil nodes and the event weights (events per unit exposure).

    Raises
    ------
    ConfigError
        If ``bin_weights`` has the wrong length or negative / non-finite entries.
    """
    if bin_weights is not None:
        bin_weights = np.asarray(bin_weights, dtype=float).ravel()
        if bin_weights.size != engine.n_bins or np.any(~np.isfinite(bin_weights)) or np.any(bin_weights < 0):
            raise ConfigError(f"bin_weights must be {engine.n_bins} finite non-negative numbers, "
                             f"got shape {bin_weights.shape}")
    return _weights(engine, _sin2(engine, params), bin_weights)


def momentum_summary_mev(q, w, quantiles=(0.16, 0.84)) -> tuple:
    """Event-weighted mean of |q| and its quantiles from a distribution (:func:`momentum_distribution_mev`).

    ``<q> = sum q_i w_i / sum w_i``; the quantiles interpolate the cumulative weight in sorted q.

    Parameters
    ----------
    q, w : array_like
        Momentum transfer [MeV] and non-negative event weights.
    quantiles : pair of float in [0, 1]

    Returns
    -------
    (mean, low, high) : tuple of float
        [MeV].

    Raises
    ------
    ConfigError
        If q and w differ in length, or the weights are not finite or sum to zero (no events).
    """
    q = np.asarray(q, dtype=float).ravel()
    w = np.asarray(w, dtype=float).ravel()
    if q.shape != w.shape or not np.all(np.isfinite(w)):
        raise ConfigError(f"momentum distribution: q and w must be finite and of equal length, got {q.size}, {w.size}")
    total = float(np.sum(w))
    if not total > 0:
        raise ConfigError("the experiment predicts no CEvNS events: no typical momentum transfer")
    order = np.argsort(q)
    cdf = np.cumsum(w[order])
    lo, hi = np.interp(np.asarray(quantiles, dtype=float) * cdf[-1], cdf, q[order])
    return float(np.sum(q * w) / total), float(lo), float(hi)


def mean_momentum_transfer_mev(engine, params: Mapping | None = None) -> float:
    """Event-weighted mean momentum transfer <|q|> [MeV] of the SM prediction of ``engine``.

    Parameters
    ----------
    engine : RateEngine
        A built rate engine (``Experiment.engine``).
    params : mapping, optional
        Only ``sin2_theta_w`` is used (default: the engine's default); neutron and proton form factors
        are taken equal (the proton one), which changes <q> by far less than its spread.

    Returns
    -------
    float
        <|q|> in MeV.

    Raises
    ------
    ValueError
        If the engine predicts no events (nothing above threshold).
    """
    q, w = _weights(engine, _sin2(engine, params))
    total = float(np.sum(w))
    if not total > 0:
        raise ValueError("the experiment predicts no CEvNS events: no typical momentum transfer")
    return float(np.sum(q * w) / total)


def momentum_transfer_quantiles_mev(engine, quantiles=(0.16, 0.84), params: Mapping | None = None) -> np.ndarray:
    """Quantiles of |q| [MeV] over the SM events of ``engine`` (e.g. the 68% range drawn as x error bars).

    Parameters
    ----------
    engine : RateEngine
    quantiles : sequence of float in [0, 1]
    params : mapping, optional
        As in :func:`mean_momentum_transfer_mev`.

    Returns
    -------
    ndarray
        |q| at each quantile of the event distribution [MeV].
    """
    q, w = _weights(engine, _sin2(engine, params))
    order = np.argsort(q)
    cdf = np.cumsum(w[order])
    if not cdf[-1] > 0:
        raise ValueError("the experiment predicts no CEvNS events: no momentum-transfer distribution")
    return np.interp(np.asarray(quantiles, dtype=float) * cdf[-1], cdf, q[order])


def _sin2(engine, params) -> float:
    p = dict(params or {})
    return float(p.get("sin2_theta_w", engine.defaults.get("sin2_theta_w", 0.23857)))
