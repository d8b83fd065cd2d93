"""Detector response matrix R[b, t]: probability that a nuclear recoil of true energy T_t is observed,
passes the efficiency and lands in analysis bin b (PHYSICS.md section 6).

Chain: T (keVnr) -> E_ee = QF(T) T (keVee) -> mean observable mu (PE = light yield * E_ee, keVee, or
keVnr) -> smearing -> efficiency in the observed value -> bins. Expected counts in bin b are
N_b = int dT R[b, T] dN/dT (the rate engine integrates on a true-recoil grid).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from .efficiency import Efficiency
from .quenching import Quenching
from .smearing import is_deterministic, sub_bin_probabilities, validate_smearing

__all__ = ["OBSERVABLES", "response_matrix", "DetectorResponse"]

OBSERVABLES = ("pe", "kevee", "kevnr")

#: Default number of equal sub-bins per analysis bin for continuous smearing.
SUB_BINS_PER_BIN = 20
#: For Poisson smearing the default sub-bins are the unit intervals (n-1, n] (exact) as long as the
#: binned range holds at most this many integers; beyond, the range is cut into this many sub-bins.
MAX_UNIT_SUB_BINS = 5000


def _check_edges(bin_edges) -> np.ndarray:
    edges = np.asarray(bin_edges, dtype=float)
    if edges.ndim != 1 or edges.size < 2:
        raise ValueError("bin_edges must be a 1-D array with at least 2 edges")
    if not np.all(np.isfinite(edges)) or np.any(np.diff(edges) <= 0):
        raise ValueError("bin_edges must be finite and strictly ascending")
    return edges


def _sub_edges(edges: np.ndarray, smearing: str, sub_bin_width, efficiency: Efficiency) -> np.ndarray:
    """All bin edges, an even subdivision of each bin, and the efficiency's jumps inside the range."""
    widths = np.diff(edges)
    if sub_bin_width is None:
        span = edges[-1] - edges[0]
        if smearing == "poisson" and span <= MAX_UNIT_SUB_BINS:
            step = 1.0
        elif smearing == "poisson":
            step = span / MAX_UNIT_SUB_BINS
        else:
            step = None
    else:
        step = float(sub_bin_width)
        if not (np.isfinite(step) and step > 0):
            raise ValueError(f"sub_bin_width must be positive, got {sub_bin_width}")
    if step is None:
        # a piecewise-constant efficiency is exact with its jumps as the only sub-bin edges
        counts = np.full(widths.size, 1 if efficiency.piecewise_constant else SUB_BINS_PER_BIN)
    else:
        counts = np.maximum(1, np.rint(widths / step)).astype(int)
    owner = np.repeat(np.arange(widths.size), counts)
    first = np.repeat(np.cumsum(counts) - counts, counts)
    frac = (np.arange(owner.size) - first) / counts[owner]
    exact = [efficiency.discontinuities(edges[0], edges[-1])]
    if smearing == "poisson" and step == 1.0:
        # unit intervals (n-1, n] aligned on the integers: each sub-bin holds exactly one count
        exact.append(np.arange(np.ceil(edges[0]), np.floor(edges[-1]) + 1.0))
    tol = 1e-9 * (edges[-1] - edges[0])
    points = _merge(edges, np.concatenate(exact), tol)
    return _merge(points, edges[owner] + widths[owner] * frac, tol)


def _merge(base: np.ndarray, extra: np.ndarray, tol: float) -> np.ndarray:
    """Sorted union of ``base`` and the points of ``extra`` inside its range that are not within
    ``tol`` of a ``base`` point (so that round-off never creates sliver sub-bins)."""
    extra = np.unique(extra)
    extra = extra[(extra > base[0]) & (extra < base[-1])]
    idx = np.searchsorted(base, extra)
    dist = np.minimum(extra - base[idx - 1], base[idx] - extra)
    return np.union1d(base, extra[dist > tol])


def response_matrix(
    t_kevnr,
    observable_mean,
    bin_edges,
    smearing: str = "none",
    smearing_params: Mapping[str, Any] | None = None,
    efficiency: Efficiency | None = None,
    sub_bin_width: float | None = None,
) -> np.ndarray:
    """Response matrix R[b, t] = P(observed in bin b and accepted | true recoil T_t).

    R[b, t] = sum_{s in b} P_smear(s | mu_t) * eps(x_s), where the sub-bins s split each analysis bin
    (edges of the bins, an even subdivision, and every jump of the efficiency) and x_s is the efficiency
    evaluation point of sub-bin s: for Poisson the mean of the integer counts it holds (exactly the
    count for unit sub-bins, so the result is sum_n Pois(n | mu) eps(n) with no approximation), for
    continuous smearing its center. With no smearing ("none", or a Gaussian with all widths zero)
    R[b, t] = 1[e_b <= mu_t < e_{b+1}] eps(mu_t) exactly.

    Parameters
    ----------
    t_kevnr : array_like, shape (n_t,)
        True recoil energies (keVnr) of the integration grid; only used for the shape check.
    observable_mean : array_like, shape (n_t,)
        Mean observable mu(T_t) (PE, keVee or keVnr), >= 0.
    bin_edges : array_like, shape (n_bins + 1,)
        Strictly ascending analysis-bin edges in the observable. Bins are [e_b, e_{b+1}) for continuous
        values and (e_b, e_{b+1}] for Poisson counts.
    smearing : {"none", "poisson", "gamma", "gaussian"}
        See :mod:`cevns.detectors.smearing`.
    smearing_params : dict, optional
        gamma: fano; gaussian: sigma0, linear, relative.
    efficiency : Efficiency, optional
        Efficiency in the observable (default 1).
    sub_bin_width : float, optional
        Width of the sub-bins used to weight the efficiency (rounded to a whole number per bin).
        Default: 1 (unit counts) for Poisson; for continuous smearing bin width / 20, or no
        subdivision (only the efficiency's jumps) when the efficiency is piecewise constant. Unused
        when the efficiency is 1 (the bin probabilities are then exact CDF differences).

    Returns
    -------
    ndarray, shape (n_bins, n_t)
    """
    t = np.asarray(t_kevnr, dtype=float)
    mu = np.asarray(observable_mean, dtype=float)
    if t.ndim != 1 or mu.shape != t.shape:
        raise ValueError("t_kevnr and observable_mean must be 1-D arrays of the same length")
    if not np.all(np.isfinite(mu)) or np.any(mu < 0):
        raise ValueError("observable_mean must be finite and non-negative")
    edges = _check_edges(bin_edges)
    params = validate_smearing(smearing, smearing_params)
    eff = Efficiency() if efficiency is None else efficiency
    if not isinstance(eff, Efficiency):
        raise ValueError("efficiency must be an Efficiency instance or None")
    n_bins = edges.size - 1

    if is_deterministic(smearing, params):
        return _deterministic(mu, edges, eff)

    if eff.is_unity:
        return sub_bin_probabilities(mu, edges, smearing, **params).T

    sub = _sub_edges(edges, smearing, sub_bin_width, eff)
    lo, hi = sub[:-1], sub[1:]
    if smearing == "poisson":
        n_first, n_last = np.floor(lo) + 1.0, np.floor(hi)
        x_eval = np.where(n_last >= n_first, 0.5 * (n_first + n_last), 0.5 * (lo + hi))
    else:
        x_eval = 0.5 * (lo + hi)
    prob = sub_bin_probabilities(mu, sub, smearing, **params)
    prob *= eff(x_eval)[None, :]
    starts = np.searchsorted(sub, edges[:-1])
    out = np.add.reduceat(prob, starts, axis=1).T
    if smearing == "gamma":  # mu = 0 is a point mass at 0: use eps(0) exactly
        zero = mu == 0
        if np.any(zero):
            out[:, zero] = _deterministic(mu[zero], edges, eff)
    return out


def _deterministic(mu: np.ndarray, edges: np.ndarray, eff: Efficiency) -> np.ndarray:
    n_bins = edges.size - 1
    out = np.zeros((n_bins, mu.size))
    idx = np.searchsorted(edges, mu, side="right") - 1
    cols = np.flatnonzero((idx >= 0) & (idx < n_bins))
    out[idx[cols], cols] = eff(mu[cols])
    return out


@dataclass(frozen=True, eq=False)
class DetectorResponse:
    """Quenching + observable + smearing + efficiency + analysis bins of one detector.

    Parameters
    ----------
    quenching : Quenching
        E_ee(T); ignored (may be None) for observable "kevnr".
    observable : {"pe", "kevee", "kevnr"}
        What is binned. "pe": mu = light_yield_pe_per_kevee * E_ee.
    light_yield_pe_per_kevee : float or None
        Required (> 0) for "pe", must be None otherwise.
    smearing : str
        Smearing model (see :mod:`cevns.detectors.smearing`).
    smearing_params : dict
        Its parameters.
    efficiency : Efficiency or None
        Efficiency in the observable (None = 1).
    bin_edges : array_like
        Analysis-bin edges in the observable, strictly ascending.
    sub_bin_width : float, optional
        See :func:`response_matrix`.
    """

    quenching: Quenching | None
    observable: str
    light_yield_pe_per_kevee: float | None
    smearing: str
    smearing_params: Mapping[str, Any]
    efficiency: Efficiency | None
    bin_edges: np.ndarray
    sub_bin_width: float | None = field(default=None)

    def __post_init__(self):
        if self.observable not in OBSERVABLES:
            raise ValueError(f"observable must be one of {', '.join(OBSERVABLES)}, got {self.observable!r}")
        if self.observable == "pe":
            ly = self.light_yield_pe_per_kevee
            if ly is None or not np.isfinite(float(ly)) or float(ly) <= 0:
                raise ValueError(f"light_yield_pe_per_kevee must be positive for observable 'pe', got {ly}")
            object.__setattr__(self, "light_yield_pe_per_kevee", float(ly))
        elif self.light_yield_pe_per_kevee is not None:
            raise ValueError(
                f"light_yield_pe_per_kevee is only used with observable 'pe', not {self.observable!r}"
            )
        if self.observable != "kevnr" and not isinstance(self.quenching, Quenching):
            raise ValueError(f"quenching must be a Quenching for observable {self.observable!r}")
        if self.efficiency is None:
            object.__setattr__(self, "efficiency", Efficiency())
        elif not isinstance(self.efficiency, Efficiency):
            raise ValueError("efficiency must be an Efficiency instance or None")
        object.__setattr__(self, "smearing_params", validate_smearing(self.smearing, self.smearing_params))
        edges = _check_edges(self.bin_edges).copy()
        edges.setflags(write=False)
        object.__setattr__(self, "bin_edges", edges)
        if self.sub_bin_width is not None and not float(self.sub_bin_width) > 0:
            raise ValueError(f"sub_bin_width must be positive, got {self.sub_bin_width}")

    @property
    def n_bins(self) -> int:
        """Number of observable bins (``len(bin_edges) - 1``)."""
        return self.bin_edges.size - 1

    def observable_mean(self, t_kevnr, z=None) -> np.ndarray:
        """Mean observable mu(T) of a recoil T (keVnr) of a nucleus with atomic number z.

        Parameters
        ----------
        t_kevnr : float or ndarray
            Nuclear recoil energy T [keVnr].
        z : int, optional
            Atomic number of the recoiling nucleus (for Lindhard quenching).
        """
        t = np.asarray(t_kevnr, dtype=float)
        if self.observable == "kevnr":
            if not np.all(np.isfinite(t)) or np.any(t < 0):
                raise ValueError("t_kevnr must be finite and non-negative")
            return t.copy()
        e_ee = self.quenching.electron_equivalent_kevee(t, z)
        if self.observable == "pe":
            return self.light_yield_pe_per_kevee * e_ee
        return e_ee

    def recoil_kevnr(self, x, z=None) -> np.ndarray:
        """Inverse of :meth:`observable_mean`: the true recoil T (keVnr) with mean observable x >= 0.

        Parameters
        ----------
        x : float or ndarray
            Observable (in the detector's observable unit, e.g. keVee or PE).
        z : int, optional
            Atomic number of the recoiling nucleus.
        """
        x = np.asarray(x, dtype=float)
        if self.observable == "kevnr":
            return x.copy()
        e_ee = x / self.light_yield_pe_per_kevee if self.observable == "pe" else x
        return self.quenching.inverse_kevnr(e_ee, z)

    def matrix(self, t_kevnr, z=None) -> np.ndarray:
        """Response matrix R[b, t], shape (n_bins, n_t), on the true-recoil grid ``t_kevnr``.

        Parameters
        ----------
        t_kevnr : ndarray
            True nuclear recoil grid T [keVnr].
        z : int, optional
            Atomic number of the recoiling nucleus.
        """
        t = np.asarray(t_kevnr, dtype=float)
        return response_matrix(
            t,
            self.observable_mean(t, z),
            self.bin_edges,
            self.smearing,
            self.smearing_params,
            self.efficiency,
            self.sub_bin_width,
        )

    @property
    def deterministic(self) -> bool:
        """True if the observed value equals its mean (no smearing)."""
        return is_deterministic(self.smearing, self.smearing_params)

    def breakpoints_kevnr(self, z=None, t_max_kevnr: float = np.inf) -> np.ndarray:
        """Sorted true-recoil energies in (0, t_max] where R[:, T] jumps.

        Without smearing these are the T mapping onto every bin edge and every jump of the efficiency
        (steps, threshold, 1-PE bin edges for the unit-bin-center rule); with smearing R is smooth in T
        and the result is empty.

        Parameters
        ----------
        z : int, optional
            Atomic number of the recoiling nucleus.
        t_max_kevnr : float, optional
            Upper end of the recoil range [keVnr].
        """
        if not self.deterministic:
            return np.empty(0)
        e = self.bin_edges
        x = np.concatenate([e, self.efficiency.discontinuities(e[0], e[-1])])
        x = np.unique(x[x > 0])
        t = self.recoil_kevnr(x, z)
        return np.unique(t[t <= t_max_kevnr])

    def threshold_kevnr(self, z=None) -> float:
        """True recoil energy [keVnr] below which the response is identically zero (0 with smearing).

        Without smearing: T of max(lowest bin edge, efficiency threshold).

        Parameters
        ----------
        z : int, optional
            Atomic number of the recoiling nucleus.
        """
        if not self.deterministic:
            return 0.0
        x_thr = max(float(self.bin_edges[0]), self.efficiency.threshold())
        if x_thr <= 0:
            return 0.0
        if not np.isfinite(x_thr):
            return float("inf")
        return float(self.recoil_kevnr(x_thr, z))
