"""Per-isotope kernels of the rate engine: recoil grid, response weights, flux moment operators.

Everything here is computed once per experiment (:class:`cevns.engine.RateEngine`) and exposed read-only
through :attr:`RateEngine.isotope_kernels` (:class:`IsotopeKernel`).

Flux moments: every cross section is ``(c0 + c1/E + c2/E^2) |Q|^2`` (:mod:`cevns.physics.cross_sections`),
so the neutrino-energy integral reduces to three moments of the flux above E_min(T)::

    M_k(T) = int_{E_min(T)} dE dPhi/dE P(E) E^-k,

computed by linear operators ``W_k[i, t]`` on the flux energy nodes (trapezoidal rule, with the partial
interval at E_min(T) integrated exactly for the piecewise-linear interpolant).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

import numpy as np

from ..physics.nuclei import Isotope
from ..sources.base import FluxComponent


@lru_cache(maxsize=256)
def _leggauss(n: int):
    return np.polynomial.legendre.leggauss(n)


def gauss_legendre_grid(edges: Sequence[float], n_total: int, n_min: int = 6):
    """Composite Gauss-Legendre nodes and weights on consecutive segments ``edges``.

    Nodes are shared out in proportion to the segment lengths (at least ``n_min`` per segment).

    Parameters
    ----------
    edges : sequence of float
        Ascending segment boundaries (any unit, e.g. MeV).
    n_total : int
        Total number of nodes wanted.
    n_min : int, optional
        Minimum nodes per segment.

    Returns
    -------
    nodes, weights : ndarray
        In the unit of ``edges``.
    """
    edges = np.asarray(edges, dtype=float)
    total = edges[-1] - edges[0]
    xs, ws = [], []
    for a, b in zip(edges[:-1], edges[1:]):
        if b <= a:
            continue
        n = max(n_min, int(np.ceil(n_total * (b - a) / total)))
        x, w = _leggauss(n)
        xs.append(0.5 * (b - a) * x + 0.5 * (a + b))
        ws.append(0.5 * (b - a) * w)
    return np.concatenate(xs), np.concatenate(ws)


def tail_integration_weights(energies: np.ndarray, e_lower: np.ndarray) -> np.ndarray:
    """Weights W[i, t] with ``sum_i W[i, t] g(E_i) = int_{e_lower[t]}^{E_last} g`` for piecewise-linear g.

    The interval containing ``e_lower[t]`` is integrated exactly for the linear interpolant;
    ``e_lower`` below the first node integrates over the whole range, above the last gives zero.

    Parameters
    ----------
    energies : ndarray, shape (n,)
        Ascending nodes E_i [MeV].
    e_lower : ndarray, shape (n_t,)
        Lower integration limits [MeV] (e.g. E_min(T)).

    Returns
    -------
    ndarray, shape (n, n_t)
        Weights [MeV].
    """
    e = np.asarray(energies, dtype=float)
    n = e.size
    h = np.diff(e)
    lo = np.clip(np.asarray(e_lower, dtype=float), e[0], e[-1])
    j = np.clip(np.searchsorted(e, lo, side="right") - 1, 0, n - 2)  # interval index
    u = (lo - e[j]) / h[j]
    i = np.arange(n)[:, None]
    hl = np.concatenate([[0.0], h])  # h_{i-1}
    hr = np.concatenate([h, [0.0]])  # h_i
    full = 0.5 * (hl + hr)[:, None]
    w = np.where(i > j + 1, full, 0.0)
    w = w + np.where(i == j + 1, 0.5 * hr[:, None], 0.0)
    w = w + np.where(i == j, 0.5 * h[j] * (1 - u) ** 2, 0.0)
    w = w + np.where(i == j + 1, 0.5 * h[j] * (1 - u) * (1 + u), 0.0)
    w[:, np.asarray(e_lower) >= e[-1]] = 0.0
    return w


@dataclass(frozen=True, eq=False)
class ComponentMoments:
    """A flux component prepared for one isotope's recoil nodes.

    Attributes
    ----------
    flux : FluxComponent
    energies_mev : ndarray (n_e,)
    operators : ndarray (3, n_e, n_t)
        ``W_k[i, t]`` with ``M_k(T_t) = sum_i P(E_i) W_k[i, t]`` (fluence and E^-k included).
    moments : ndarray (3, n_t)
        ``M_k(T)`` for P = 1 [cm^-2 MeV^-k].
    """

    flux: FluxComponent
    energies_mev: np.ndarray
    operators: np.ndarray
    moments: np.ndarray

    @classmethod
    def build(cls, comp: FluxComponent, e_min_mev: np.ndarray) -> "ComponentMoments":
        """Moment operators of ``comp`` above the thresholds ``e_min_mev`` [MeV] (one per recoil node)."""
        e = comp.energies_mev
        if comp.is_line:
            w = (e[0] >= e_min_mev).astype(float)[None, :] * comp.values[0]
        else:
            w = tail_integration_weights(e, e_min_mev) * comp.values[:, None]
        inv = np.where(e > 0, 1.0 / np.where(e > 0, e, 1.0), 0.0)
        ops = np.stack([w, w * inv[:, None], w * inv[:, None] ** 2])
        return cls(comp, e, ops, ops.sum(axis=1))


@dataclass(frozen=True, eq=False)
class IsotopeKernel:
    """The precomputed, physics-point independent part of one target isotope (public, read-only).

    Attributes
    ----------
    isotope : Isotope
    n_nuclei : float
        Number of nuclei of this isotope in the detector.
    mass_mev : float
        Nuclear mass M [MeV].
    t_mev : ndarray (n_t,)
        Recoil-energy nodes T [MeV] (composite Gauss-Legendre between break points).
    q_mev : ndarray (n_t,)
        Momentum transfer |q| at the nodes [MeV].
    response_weights : ndarray (n_t, n_bins)
        ``n_nuclei (hbar c)^2 w_t R_b(T_t)``: quadrature weight [MeV] times detector response, so that
        counts = ``sum_t dsigma/dT [MeV^-3] * response_weights[t, b]`` per unit fluence.
    proton_rms_fm : float
        Proton rms radius used for F_Z (and for F_N when no neutron radius is given).
    f_z : ndarray (n_t,)
        Proton form factor at the nodes.
    components : tuple of ComponentMoments
        One per flux component of the engine, in the same order.
    """

    isotope: Isotope
    n_nuclei: float
    mass_mev: float
    t_mev: np.ndarray
    q_mev: np.ndarray
    response_weights: np.ndarray
    proton_rms_fm: float
    f_z: np.ndarray
    components: tuple

    @property
    def name(self) -> str:
        """Isotope name, e.g. ``"Cs133"``."""
        return self.isotope.name

    @property
    def q2_mev2(self) -> np.ndarray:
        """Squared momentum transfer at the nodes [MeV^2]."""
        return self.q_mev**2

    def response_total(self) -> np.ndarray:
        """Response weights summed over bins, shape (n_t, 1)."""
        return self.response_weights.sum(axis=1, keepdims=True)
