"""Binned spectral chi^2 with linear normalisation nuisances, vectorised over parameter points.

Model (for one dataset, parameter point ``p`` and bin ``b``)::

    mu[p, b] = sum_c T_c[p, b] + sum_k theta_k U_k[p, b],   U_k = sum_{c in applies_to(k)} T_c,

i.e. each nuisance ``theta_k`` is a fractional normalisation shift of the components it acts on
(with one nuisance per component this is ``sum_c (1 + theta_c) T_c``; several nuisances acting on one
component add linearly, ``(1 + theta_1 + theta_2) T``). Each nuisance carries a Gaussian prior
``(theta_k / sigma_k)^2``; ``sigma = None`` or ``inf`` leaves it free, ``sigma = 0`` fixes it at 0.

Statistics (both "chi^2" = -2 ln L up to a constant, errordef 1):

* Gaussian: ``sum_b (n_b - mu_b)^2 / V_b`` with a variance ``V`` that does not depend on theta, so the
  profile over theta is linear least squares and is solved in closed form (normal equations).
* Poisson: Baker & Cousins, Nucl. Instrum. Meth. 221 (1984) 437,
  ``2 sum_b [mu_b - n_b + n_b ln(n_b / mu_b)]``; profiled by damped Newton iterations.
* On/off (Poisson with ``off_counts``): a further background measured in a signal-free off window,
  profiled bin by bin in closed form (:mod:`cevns.stats.onoff`) inside the same Newton iterations.

The profiling cores live in :mod:`cevns.stats.profiling`.

Nuisances with the same name in several :class:`BinnedDataset` objects are one shared (fully
correlated) parameter in :func:`combined_chi2`, e.g. a reactor-flux normalisation common to CONUS and
CONNIE (Canas et al., arXiv:1911.09831).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from .profiling import (STATISTICS, _counts, _mixed_objective, _OnOff, _profile_gaussian_core,
                        _profile_newton_core, _sigmas, _variance, gaussian_chi2, poisson_chi2,
                        profile_linear_gaussian, profile_linear_poisson)

__all__ = [
    "Nuisance",
    "BinnedDataset",
    "CombinedFit",
    "gaussian_chi2",
    "poisson_chi2",
    "profile_linear_gaussian",
    "profile_linear_poisson",
    "combined_chi2",
    "asimov",
    "scaled_data",
    "STATISTICS",
]


# ----------------------------------------------------------------------------------------------
# datasets
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Nuisance:
    """A fractional normalisation nuisance with a Gaussian prior.

    Parameters
    ----------
    name : str
        Identifier; equal names in different datasets of :func:`combined_chi2` are one shared
        (fully correlated) parameter.
    sigma : float or None
        Prior width (fraction, e.g. 0.04 for 4 %); ``None``/``inf`` = free, ``0`` = fixed.
    applies_to : sequence of str
        Components scaled by ``(1 + theta)``: ``"signal"`` and/or background names. In the
        ``nuisances`` argument of :func:`combined_chi2` entries are ``"dataset/component"``.
    """

    name: str
    sigma: float | None
    applies_to: tuple[str, ...] = ("signal",)

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise ValueError("nuisance name must be a non-empty string")
        applies = (self.applies_to,) if isinstance(self.applies_to, str) else tuple(self.applies_to)
        if not applies:
            raise ValueError(f"nuisance '{self.name}' applies to no component")
        object.__setattr__(self, "applies_to", applies)
        sigma = np.inf if self.sigma is None else float(self.sigma)
        if np.isnan(sigma) or sigma < 0:
            raise ValueError(f"nuisance '{self.name}': sigma must be >= 0 or None, got {self.sigma}")
        object.__setattr__(self, "sigma", sigma)


@dataclass
class BinnedDataset:
    """Observed binned counts, backgrounds and nuisances of one experiment.

    Parameters
    ----------
    name : str
        Dataset name (key of the ``signals`` dict of :func:`combined_chi2`).
    observed : array_like
        Observed counts, shape (n_bins,).
    backgrounds : dict of str -> array_like
        Background expectations, shape (n_bins,) or (n_points, n_bins); "signal" is reserved.
    statistic : {"poisson", "gaussian"}
        Baker-Cousins Poisson chi^2 or Gaussian chi^2.
    variance : array_like or {"expected", "observed"} or None
        Gaussian variance per bin (fixed while profiling). ``None``/"expected": the nominal
        expectation (signal + backgrounds) of each point; "observed": the data.
    nuisances : list of Nuisance
        Normalisation nuisances acting on "signal" and/or named backgrounds.
    off_counts : array_like, optional
        Poisson statistic only: counts of a signal-free off window (n_bins,) measuring a further
        background of the on window (``observed``) bin by bin; that background is profiled per bin
        in closed form (:mod:`cevns.stats.onoff`) and is not one of ``backgrounds``.
    off_ratio : float, optional
        Off/on exposure ratio ``tau`` of ``off_counts`` (default 1: equal windows).
    """

    name: str
    observed: np.ndarray
    backgrounds: dict[str, np.ndarray] = field(default_factory=dict)
    statistic: str = "poisson"
    variance: np.ndarray | str | None = None
    nuisances: list[Nuisance] = field(default_factory=list)
    off_counts: np.ndarray | None = None
    off_ratio: float = 1.0

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name or "/" in self.name:
            raise ValueError(f"dataset name must be a non-empty string without '/', got {self.name!r}")
        self.observed = _counts(self.observed, f"{self.name}: observed")
        if self.observed.ndim != 1:
            raise ValueError(f"{self.name}: observed must have shape (n_bins,), got {self.observed.shape}")
        if self.statistic not in STATISTICS:
            raise ValueError(f"{self.name}: unknown statistic '{self.statistic}', use one of {STATISTICS}")
        bkgs = {}
        for key, arr in dict(self.backgrounds).items():
            if key == "signal" or "/" in key:
                raise ValueError(f"{self.name}: invalid background name '{key}'")
            arr = _counts(arr, f"{self.name}: background '{key}'")
            if arr.shape[-1] != self.n_bins or arr.ndim > 2:
                raise ValueError(f"{self.name}: background '{key}' has shape {arr.shape}, expected "
                                 f"({self.n_bins},) or (n_points, {self.n_bins})")
            bkgs[key] = arr
        self.backgrounds = bkgs
        if isinstance(self.variance, str):
            if self.variance not in ("expected", "observed"):
                raise ValueError(f"{self.name}: unknown variance '{self.variance}'")
        elif self.variance is not None:
            var = np.asarray(self.variance, dtype=float)
            if var.shape[-1:] != (self.n_bins,) or np.any(~np.isfinite(var)) or np.any(var < 0):
                raise ValueError(f"{self.name}: variance must be finite, >= 0, with {self.n_bins} bins")
            self.variance = var
        if self.off_counts is not None:
            if self.statistic != "poisson":
                raise ValueError(f"{self.name}: off-window counts need the poisson statistic")
            self.off_counts = _counts(self.off_counts, f"{self.name}: off counts")
            if self.off_counts.shape != (self.n_bins,):
                raise ValueError(f"{self.name}: off counts have shape {self.off_counts.shape}, expected "
                                 f"({self.n_bins},)")
            tau = float(self.off_ratio)
            if not np.isfinite(tau) or tau <= 0:
                raise ValueError(f"{self.name}: off/on exposure ratio must be positive, got {self.off_ratio}")
            self.off_ratio = tau
        names = [nu.name for nu in self.nuisances]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.name}: duplicate nuisance names {names}")
        valid = {"signal", *self.backgrounds}
        for nu in self.nuisances:
            if not isinstance(nu, Nuisance):
                raise ValueError(f"{self.name}: nuisances must be Nuisance objects, got {nu!r}")
            bad = [c for c in nu.applies_to if c not in valid]
            if bad:
                raise ValueError(f"{self.name}: nuisance '{nu.name}' applies to unknown component(s) "
                                 f"{bad}; known: {sorted(valid)}")

    @property
    def n_bins(self) -> int:
        """Number of bins."""
        return self.observed.shape[0]

    def components(self, signal) -> dict[str, np.ndarray]:
        """Expected counts per component (signal first), each of shape (n_points, n_bins)."""
        sig = _counts(signal, f"{self.name}: signal")
        if sig.ndim == 1:
            sig = sig[None, :]
        if sig.ndim != 2 or sig.shape[-1] != self.n_bins:
            raise ValueError(f"{self.name}: signal has shape {sig.shape}, expected (n_points, {self.n_bins})")
        comps = {"signal": sig}
        comps.update(self.backgrounds)
        n_points = np.broadcast_shapes(*[c.shape for c in comps.values()], (1, self.n_bins))[0]
        return {k: np.broadcast_to(np.atleast_2d(v), (n_points, self.n_bins)) for k, v in comps.items()}

    def expected(self, signal, nuisance_values: Mapping[str, object] | None = None) -> np.ndarray:
        """Expected counts ``sum_c T_c + sum_k theta_k U_k`` (n_points, n_bins).

        ``nuisance_values`` maps nuisance names of this dataset to values (scalars or (n_points,)
        arrays); missing nuisances are at 0.

        Parameters
        ----------
        signal : array_like
            Predicted signal counts per bin [events], shape (n_bins,) or (n_points, n_bins).
        nuisance_values : mapping of str to float or array_like, optional
            Fractional normalisation shifts ``theta_k`` (dimensionless) by nuisance name.

        Returns
        -------
        numpy.ndarray
            Expected counts ``mu`` [events], shape (n_points, n_bins).

        Raises
        ------
        ValueError
            If a nuisance name is not one of this dataset's or ``signal`` has the wrong number of bins.
        """
        comps = self.components(signal)
        mu = sum(comps.values())
        known = {nu.name: nu for nu in self.nuisances}
        for key, value in dict(nuisance_values or {}).items():
            if key not in known:
                raise ValueError(f"{self.name}: unknown nuisance '{key}'")
            shift = sum(comps[c] for c in known[key].applies_to)
            mu = mu + np.asarray(value, dtype=float).reshape(-1, 1) * shift
        return mu

    def chi2(self, signal) -> "CombinedFit":
        """Profiled chi^2 of this dataset alone (see :func:`combined_chi2`).

        Parameters
        ----------
        signal : array_like
            Predicted signal counts per bin [events], shape (n_bins,) or (n_points, n_bins).

        Returns
        -------
        CombinedFit
            The chi^2 minimised over this dataset's nuisances, per point, and the fitted nuisances.
        """
        return combined_chi2([self], {self.name: signal})


@dataclass(frozen=True)
class CombinedFit:
    """Result of :func:`combined_chi2`.

    Attributes
    ----------
    chi2 : numpy.ndarray
        Profiled chi^2 (data terms + priors), shape (n_points,).
    nuisances : dict of str -> numpy.ndarray
        Best-fit value of each nuisance, shape (n_points,).
    per_dataset : dict of str -> numpy.ndarray
        Data term of each dataset at the common best fit (priors excluded), shape (n_points,).
    converged : numpy.ndarray
        Boolean (n_points,); always True for the closed-form Gaussian case.
    """

    chi2: np.ndarray
    nuisances: dict[str, np.ndarray]
    per_dataset: dict[str, np.ndarray]
    converged: np.ndarray


def _nuisance_table(datasets, extra):
    """Ordered mapping nuisance name -> (sigma, list of (dataset name, component))."""
    table: dict[str, tuple[float, list[tuple[str, str]]]] = {}
    by_name = {ds.name: ds for ds in datasets}
    for ds in datasets:
        for nu in ds.nuisances:
            if nu.name in table:
                sigma, targets = table[nu.name]
                if not np.isclose(sigma, nu.sigma, rtol=1e-12, atol=0) and not (sigma == nu.sigma):
                    raise ValueError(f"shared nuisance '{nu.name}' has different sigmas ({sigma} and "
                                     f"{nu.sigma}) in different datasets")
            else:
                table[nu.name] = (nu.sigma, [])
            table[nu.name][1].extend((ds.name, c) for c in nu.applies_to)
    for nu in extra or ():
        if not isinstance(nu, Nuisance):
            raise ValueError(f"nuisances must be Nuisance objects, got {nu!r}")
        if nu.name in table:
            raise ValueError(f"nuisance '{nu.name}' is declared both in a dataset and globally")
        targets = []
        for entry in nu.applies_to:
            ds_name, _, comp = entry.partition("/")
            if ds_name not in by_name or not comp:
                raise ValueError(f"global nuisance '{nu.name}': '{entry}' is not 'dataset/component' "
                                 f"with a known dataset ({sorted(by_name)})")
            if comp != "signal" and comp not in by_name[ds_name].backgrounds:
                raise ValueError(f"global nuisance '{nu.name}': dataset '{ds_name}' has no component '{comp}'")
            targets.append((ds_name, comp))
        table[nu.name] = (nu.sigma, targets)
    return table


def combined_chi2(datasets: Sequence[BinnedDataset], signals: Mapping[str, object],
                  nuisances: Sequence[Nuisance] | None = None, n_iter: int = 100,
                  held: Mapping[str, object] | None = None) -> CombinedFit:
    """Joint chi^2 of several binned datasets, profiled over all normalisation nuisances.

    ``chi2(p) = min_theta [ sum_d chi2_d(n_d, mu_d(p, theta)) + sum_k (theta_k / sigma_k)^2 ]`` where
    ``mu_d = sum_c T_{d,c} + sum_k theta_k sum_{c in applies_to(k), d} T_{d,c}``. Nuisances with the
    same name in several datasets are one parameter (a correlated systematic, e.g. the reactor flux
    normalisation shared by CONUS and CONNIE, Canas et al. arXiv:1911.09831). All bins of all
    datasets are stacked: if every dataset is Gaussian the profile is solved in closed form,
    otherwise by the Newton iterations of :func:`profile_linear_poisson` (Gaussian datasets then
    contribute their quadratic terms to the same objective).

    Parameters
    ----------
    datasets : sequence of BinnedDataset
        Datasets with distinct names.
    signals : mapping of str -> array_like
        Signal expectation of each dataset, shape (n_points, n_bins) (or (n_bins,) for one point);
        the number of points must agree between datasets (or be 1).
    nuisances : sequence of Nuisance, optional
        Extra nuisances declared outside the datasets, with ``applies_to`` entries
        ``"dataset/component"`` (e.g. ``"CONUS/signal"``).
    n_iter : int, optional
        Maximum Newton iterations (Poisson case).
    held : mapping of str -> float or array_like, optional
        Nuisances held at given values ``theta_k`` (fractional shifts, scalars or (n_points,) arrays)
        instead of profiled: their shift enters the expectation and their prior is left out (the caller
        adds the prior of the parameter they stand for, e.g. a nuisance shared with a term of another
        likelihood family, :mod:`cevns.stats.cross_family`). They are reported among ``nuisances``.

    Returns
    -------
    CombinedFit
        ``chi2`` (n_points,), ``nuisances`` (name -> (n_points,)), ``per_dataset`` and ``converged``.

    Raises
    ------
    ValueError
        Inconsistent datasets or signals, or a held nuisance that no dataset has.
    """
    datasets = list(datasets)
    if not datasets:
        raise ValueError("combined_chi2 needs at least one dataset")
    names = [ds.name for ds in datasets]
    if len(set(names)) != len(names):
        raise ValueError(f"dataset names must be distinct, got {names}")
    missing = [n for n in names if n not in signals]
    if missing:
        raise ValueError(f"no signal given for dataset(s) {missing}")
    unknown = [k for k in signals if k not in names]
    if unknown:
        raise ValueError(f"signals given for unknown dataset(s) {unknown}")
    comps = {ds.name: ds.components(signals[ds.name]) for ds in datasets}
    held = {k: np.atleast_1d(np.asarray(v, dtype=float)).ravel() for k, v in dict(held or {}).items()}
    try:
        n_points = np.broadcast_shapes(*[(c["signal"].shape[0],) for c in comps.values()],
                                       *[v.shape for v in held.values()])[0]
    except ValueError:
        raise ValueError("signals of different datasets (or held nuisances) have different numbers of points: "
                         f"{ {k: c['signal'].shape[0] for k, c in comps.items()} }") from None
    table = _nuisance_table(datasets, nuisances)
    unknown_held = sorted(set(held) - set(table))
    if unknown_held:
        raise ValueError(f"held nuisance(s) {unknown_held} are not nuisances of the datasets ({list(table)})")
    nuis_names = [k for k in table if k not in held]
    n_nuis = len(nuis_names)

    offsets, start = {}, 0
    for ds in datasets:
        offsets[ds.name] = slice(start, start + ds.n_bins)
        start += ds.n_bins
    n_bins = start

    observed = np.concatenate([ds.observed for ds in datasets])
    base = np.zeros((n_points, n_bins))
    shifts = np.zeros((n_points, n_nuis, n_bins))
    poisson_bins = np.zeros(n_bins, dtype=bool)
    inv_var = np.zeros((n_points, n_bins))
    for ds in datasets:
        sl = offsets[ds.name]
        nominal = sum(comps[ds.name].values())
        base[:, sl] = nominal
        if ds.statistic == "poisson":
            poisson_bins[sl] = True
        else:
            inv_var[:, sl] = _variance(ds.variance, ds.observed, nominal)
    for k, key in enumerate(nuis_names):
        for ds_name, comp in table[key][1]:
            shifts[:, k, offsets[ds_name]] += comps[ds_name][comp]
    for key, value in held.items():   # held nuisances: their shift moves the expectation, no prior
        for ds_name, comp in table[key][1]:
            base[:, offsets[ds_name]] += value[:, None] * comps[ds_name][comp]
    precision, fixed = _sigmas([table[k][0] for k in nuis_names], n_nuis)
    onoff = None
    if any(ds.off_counts is not None for ds in datasets):
        mask, off, tau = np.zeros(n_bins, dtype=bool), np.zeros(n_bins), np.ones(n_bins)
        for ds in datasets:
            if ds.off_counts is not None:
                sl = offsets[ds.name]
                mask[sl], off[sl], tau[sl] = True, ds.off_counts, ds.off_ratio
        onoff = _OnOff(mask, off, tau)

    if not np.any(poisson_bins):
        chi2, theta = _profile_gaussian_core(observed, base, shifts, inv_var, precision, fixed)
        conv = np.ones(n_points, dtype=bool)
    else:
        chi2, theta, conv = _profile_newton_core(observed, base, shifts, poisson_bins, inv_var,
                                                 precision, fixed, n_iter=int(n_iter), onoff=onoff)
        if not np.all(conv):
            warnings.warn(f"combined profile did not converge at {np.sum(~conv)} point(s)",
                          RuntimeWarning, stacklevel=2)
    mu = base + np.einsum("pk,pkb->pb", theta, shifts)
    per_dataset = {}
    for ds in datasets:
        sl = offsets[ds.name]
        sub = None if onoff is None else _OnOff(onoff.mask[sl], onoff.off[sl], onoff.tau[sl])
        per_dataset[ds.name] = _mixed_objective(observed[sl], mu[:, sl], poisson_bins[sl], inv_var[:, sl], sub)
    fitted = {k: theta[:, i] for i, k in enumerate(nuis_names)}
    fitted.update({k: np.broadcast_to(v, (n_points,)).copy() for k, v in held.items()})
    return CombinedFit(chi2=chi2, nuisances=fitted, per_dataset=per_dataset, converged=conv)


# ----------------------------------------------------------------------------------------------
# pseudo data
# ----------------------------------------------------------------------------------------------
def asimov(expected):
    """Asimov data set: the expected counts themselves, unrounded (Cowan et al., arXiv:1007.1727).

    Parameters
    ----------
    expected : array_like
        Expected counts (non-negative, finite).

    Returns
    -------
    numpy.ndarray
        A float copy of ``expected`` to be used as "observed".
    """
    return np.array(_counts(expected, "expected", min_ndim=0), dtype=float, copy=True)


def scaled_data(expected, factor):
    """Pseudo data deviating from the expectation by a common factor, ``factor * expected``.

    Parameters
    ----------
    expected : array_like
        Expected counts (non-negative, finite).
    factor : float
        Positive scale, e.g. 1.3 for a +30 % deviation.

    Returns
    -------
    numpy.ndarray
        ``factor * expected`` (unrounded).
    """
    factor = float(factor)
    if not np.isfinite(factor) or factor <= 0:
        raise ValueError(f"scale factor must be positive and finite, got {factor}")
    return factor * _counts(expected, "expected", min_ndim=0)
