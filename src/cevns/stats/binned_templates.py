"""Binned Poisson likelihood of template components with normalisation and shape nuisances.

Expected counts in bin b (flattened; any number of observable dimensions)::

    mu_b = sum_c  s_c h_cb(theta)  +  r w_b k_g(b)             (k: on/off background, optional)

with ``h_c(theta)`` the component templates in events interpolated over the shape nuisances
(:mod:`cevns.stats.templates`), ``s_c`` a scale factor of each component (a Gaussian prior
``N(1, sigma_c)`` or free), theta unit-Gaussian nuisances. The optional on/off term describes a
background measured in an off sample with counts m_g ~ Poisson(k_g) and entering the on sample as
``r w_b k_g`` in the bins b of group g (r ~ N(1, sigma_r); by default one bin per group, w = 1). Each
k_g is profiled: with one bin per group the stationary point of
``2[(a + r k) - n ln(a + r k)] + 2[k - m ln k]`` in k is the positive root of
``r (r + 1) k^2 + [(r + 1) a - r (n + m)] k - m a = 0``; pooled groups use vectorised Newton steps.

Statistic (errordef 1)::

    chi2 = 2 sum_b [mu_b - n_b + n_b ln(n_b / mu_b)] + 2 sum_g [k_g - m_g + m_g ln(m_g / k_g)] + sum_c ((s_c - 1)/sigma_c)^2
           + sum_s theta_s^2 + ((r - 1)/sigma_r)^2

Fits use iminuit (MIGRAD, HESSE, optionally MINOS).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
from iminuit import Minuit
from scipy.special import xlogy

from ..errors import ConfigError
from .templates import interpolate, mirror

__all__ = ["TemplateComponent", "OnOffBackground", "TemplateLikelihood"]


@dataclass
class TemplateComponent:
    """One component: nominal template in events and its shape variations.

    Parameters
    ----------
    name : str
    nominal : array_like
        Expected events per bin (any shape; flattened).
    sigma : float or None
        Relative prior width of the scale factor; None = free.
    systematics : dict
        nuisance name -> (up, down) templates; ``down=None`` mirrors ``up``.
    shape_only : bool
        Rescale every variation to the nominal total (the nuisances then move only the shape; use it
        when the normalisation is free or has its own prior).
    """

    name: str
    nominal: np.ndarray
    sigma: float | None = None
    systematics: Mapping[str, tuple] = field(default_factory=dict)
    shape_only: bool = False


@dataclass
class OnOffBackground:
    """A background measured in an off sample (see module docstring).

    Parameters
    ----------
    off_counts : array_like, shape (n_groups,)
        Off-sample counts m_g ~ Poisson(k_g).
    ratio_sigma : float
        Prior width of the on/off ratio r.
    groups : array_like of int, shape (n_bins,), optional
        Group g(b) of every on-sample bin; default: one group per bin (n_groups = n_bins).
    weights : array_like, shape (n_bins,), optional
        Fraction w_b of its group's background in each on bin (sum 1 within a group); default 1.
        The on-sample expectation is ``r k_g(b) w_b``. Example: a steady-state background, uniform in
        time, pooled over the time bins of each energy bin (w_b = time-bin acceptance fractions).
    """

    off_counts: np.ndarray
    ratio_sigma: float
    groups: np.ndarray | None = None
    weights: np.ndarray | None = None


def _poisson_dev(n: np.ndarray, mu: np.ndarray) -> np.ndarray:
    mu = np.maximum(mu, 1e-300)
    return 2.0 * np.sum(mu - n + xlogy(n, n / mu), axis=-1)


class TemplateLikelihood:
    """Binned Poisson likelihood of :class:`TemplateComponent` s (see module docstring).

    Parameters are the component scale factors ``s_<name>``, the shape nuisances (their names), and
    ``r_onoff`` if an on/off background is given. ``method`` is the histosys interpolation.

    Parameters
    ----------
    observed : array_like
        Observed counts per bin [events] (flattened to 1D; finite, non-negative).
    components : sequence of TemplateComponent
        The signal and background components, each with a nominal template of the same number of bins.
    onoff : OnOffBackground, optional
        A background measured in an off sample (counts ``m_g``), profiled per group.
    method : {"linear", "exponential"}, optional
        Interpolation of the shape variations (:func:`cevns.stats.templates.interpolate`).

    Raises
    ------
    ConfigError
        On negative or non-finite counts, duplicate component names or templates of the wrong size.
    """

    def __init__(self, observed, components: Sequence[TemplateComponent], onoff: OnOffBackground | None = None,
                 method: str = "linear"):
        self.observed = np.asarray(observed, dtype=float).ravel()
        if np.any(self.observed < 0) or not np.all(np.isfinite(self.observed)):
            raise ConfigError("observed counts must be finite and non-negative")
        nb = self.observed.size
        self.method = method
        self.components = list(components)
        names = [c.name for c in self.components]
        if len(set(names)) != len(names):
            raise ConfigError(f"duplicate component names in {names}")
        self._nom, self._up, self._dn, self._sys_of = [], [], [], []
        self.nuisances: list[str] = []
        for c in self.components:
            h0 = np.asarray(c.nominal, dtype=float).ravel()
            if h0.size != nb:
                raise ConfigError(f"component {c.name!r}: template has {h0.size} bins, data {nb}")
            ups, dns, idx = [], [], []
            for s, (up, dn) in c.systematics.items():
                u = np.asarray(up, dtype=float).ravel()
                d = mirror(h0, u) if dn is None else np.asarray(dn, dtype=float).ravel()
                if u.size != nb or d.size != nb:
                    raise ConfigError(f"shape systematic {s!r} of {c.name!r}: template size differs from data")
                if c.shape_only:
                    u = u * (h0.sum() / u.sum()) if u.sum() > 0 else u
                    d = d * (h0.sum() / d.sum()) if d.sum() > 0 else d
                if s not in self.nuisances:
                    self.nuisances.append(s)
                ups.append(u)
                dns.append(d)
                idx.append(self.nuisances.index(s))
            self._nom.append(h0)
            self._up.append(np.array(ups).reshape(len(ups), nb))
            self._dn.append(np.array(dns).reshape(len(dns), nb))
            self._sys_of.append(np.array(idx, dtype=int))
        self.onoff = onoff
        if onoff is not None:
            off = np.asarray(onoff.off_counts, dtype=float).ravel()
            if np.any(off < 0) or not np.all(np.isfinite(off)):
                raise ConfigError("on/off background: off counts must be finite and non-negative")
            if not (float(onoff.ratio_sigma) > 0):
                raise ConfigError("on/off background: ratio_sigma must be positive")
            groups = np.arange(nb) if onoff.groups is None else np.asarray(onoff.groups, dtype=int).ravel()
            weights = np.ones(nb) if onoff.weights is None else np.asarray(onoff.weights, dtype=float).ravel()
            if groups.size != nb or weights.size != nb or groups.min() < 0 or groups.max() >= off.size:
                raise ConfigError(f"on/off background: groups/weights must have {nb} entries indexing "
                                  f"{off.size} off-sample groups")
            if np.any(weights <= 0):
                raise ConfigError("on/off background: weights must be positive")
            self._off = off
            self._per_bin = onoff.groups is None and onoff.weights is None and off.size == nb
            self._member = np.zeros((nb, off.size))
            self._member[np.arange(nb), groups] = weights  # (n_bins, n_groups) with the weights
        self.parameters = [f"s_{c.name}" for c in self.components] + self.nuisances
        if onoff is not None:
            self.parameters.append("r_onoff")

    @classmethod
    def from_inputs(cls, inputs: Mapping, method: str = "linear") -> "TemplateLikelihood":
        """Build from plain arrays: ``{"observed", "components": [dict(name, nominal, sigma=None,
        systematics={}, shape_only=False)], "onoff": dict(off_counts, ratio_sigma, groups, weights) or None}``
        (as returned by the COHERENT models' ``fit_inputs``).

        Parameters
        ----------
        inputs : mapping
            ``observed``, ``components`` (list of keyword dicts of :class:`TemplateComponent`) and
            ``onoff`` (keyword dict of :class:`OnOffBackground`, or None).
        method : {"linear", "exponential"}, optional
            Interpolation of the shape variations.

        Returns
        -------
        TemplateLikelihood

        Raises
        ------
        ConfigError
            If a key is missing or a component/on-off entry has unknown fields.
        """
        try:
            comps = [TemplateComponent(**c) for c in inputs["components"]]
            onoff = None if inputs.get("onoff") is None else OnOffBackground(**inputs["onoff"])
            observed = inputs["observed"]
        except (KeyError, TypeError) as exc:
            raise ConfigError(f"template likelihood inputs: {exc}") from None
        return cls(observed, comps, onoff=onoff, method=method)

    # ------------------------------------------------------------------ model
    def _split(self, p: np.ndarray):
        nc = len(self.components)
        scales = p[:, :nc]
        theta = p[:, nc:nc + len(self.nuisances)]
        r = p[:, -1] if self.onoff is not None else None
        return scales, theta, r

    def component_templates(self, params) -> dict[str, np.ndarray]:
        """Expected events per bin of each component (scale factors applied), shape (n_points, n_bins).

        Parameters
        ----------
        params : array_like or mapping
            Parameter values in the order of :attr:`parameters`, shape (n_params,) or (n_points, n_params),
            or a mapping name -> value.

        Returns
        -------
        dict of str to numpy.ndarray
            ``s_c h_c(theta)`` [events] for each component name, shape (n_points, n_bins).
        """
        p = self._vector(params)
        scales, theta, _ = self._split(p)
        out = {}
        for i, c in enumerate(self.components):
            if self._sys_of[i].size:
                h = interpolate(self._nom[i], self._up[i], self._dn[i], theta[:, self._sys_of[i]], self.method)
            else:
                h = np.broadcast_to(self._nom[i], (p.shape[0], self._nom[i].size))
            out[c.name] = scales[:, i:i + 1] * h
        return out

    def _vector(self, params) -> np.ndarray:
        if isinstance(params, Mapping):
            unknown = set(params) - set(self.parameters)
            if unknown:
                raise ConfigError(f"unknown likelihood parameter(s) {sorted(unknown)}; known: {self.parameters}")
            n = max([np.size(v) for v in params.values()] + [1])
            p = np.tile(self.defaults(), (n, 1))
            for k, v in params.items():
                p[:, self.parameters.index(k)] = v
            return p
        return np.atleast_2d(np.asarray(params, dtype=float))

    def defaults(self) -> np.ndarray:
        """Nominal parameter values (scales 1, nuisances 0, ratio 1)."""
        return np.array([1.0] * len(self.components) + [0.0] * len(self.nuisances)
                        + ([1.0] if self.onoff is not None else []))

    def onoff_profile(self, a: np.ndarray, r: np.ndarray) -> np.ndarray:
        """Profiled off-sample means k_g, shape (n_points, n_groups), for on-sample signal ``a``.

        One bin per group: the closed-form root of the module docstring. Pooled groups: the root of
        ``r sum_b w_b (1 - n_b / (a_b + r k w_b)) + 1 - m / k = 0`` (increasing in k) by safeguarded
        Newton steps, vectorised over points and groups.
        """
        m = self._off[None, :]
        r2 = r[:, None]
        if self._per_bin:
            n = self.observed[None, :]
            qa = r2 * (r2 + 1.0)
            qb = (r2 + 1.0) * a - r2 * (n + m)
            disc = np.sqrt(qb**2 + 4.0 * qa * m * a)
            k = np.where(qb > 0, 2.0 * m * a / np.maximum(qb + disc, 1e-300), (disc - qb) / (2.0 * qa))
            return np.maximum(k, 0.0)
        G = self._member                      # (n_bins, n_groups), weights w_b
        wsum = G.sum(axis=0)[None, :]
        n = self.observed[None, :]
        a_g = a @ (G > 0)                     # signal summed per group
        n_g = n @ (G > 0)
        k = np.maximum((n_g + m - a_g) / (1.0 + r2 * wsum), 0.5 * m + 1e-3)
        for _ in range(50):
            kb = k @ G.T                      # r k_g(b) w_b / r, shape (P, n_bins)
            mu = np.maximum(a + r2 * kb, 1e-300)
            f = r2 * wsum - (r2 * (n / mu)) @ G + 1.0 - m / k
            df = (n * (r2 / mu) ** 2) @ (G**2) + m / k**2
            step = f / df
            new = np.where(k - step > 0, k - step, 0.1 * k)
            if np.all(np.abs(new - k) <= 1e-10 * (1.0 + k)):
                k = new
                break
            k = new
        return k

    def chi2(self, params) -> np.ndarray:
        """-2 ln L (up to a constant) at parameter points, shape (n_points,).

        The statistic of the module docstring (Baker-Cousins Poisson deviance plus the Gaussian constraints;
        Baker & Cousins, Nucl. Instrum. Meth. 221 (1984) 437), with the on/off background profiled.

        Parameters
        ----------
        params : array_like or mapping
            Parameter values in the order of :attr:`parameters`, shape (n_params,) or (n_points, n_params),
            or a mapping name -> value.

        Returns
        -------
        numpy.ndarray
            chi^2 (dimensionless), shape (n_points,).
        """
        p = self._vector(params)
        scales, theta, r = self._split(p)
        comps = self.component_templates(p)
        a = sum(comps.values())
        total = np.sum(theta**2, axis=1)
        for i, c in enumerate(self.components):
            if c.sigma is not None:
                total = total + ((scales[:, i] - 1.0) / c.sigma) ** 2
        if self.onoff is not None:
            k = self.onoff_profile(a, r)
            total = total + _poisson_dev(self.observed, a + r[:, None] * (k @ self._member.T))
            total = total + _poisson_dev(self._off, k)
            total = total + ((r - 1.0) / self.onoff.ratio_sigma) ** 2
        else:
            total = total + _poisson_dev(self.observed, a)
        return total

    # ------------------------------------------------------------------ fitting
    def fit(self, fixed: Mapping[str, float] | None = None, minos: Sequence[str] = ()) -> dict:
        """Minimise with iminuit; ``fixed`` pins parameters. Returns values, errors, chi2, events.

        Parameters
        ----------
        fixed : mapping of str to float, optional
            Parameters held fixed at the given values.
        minos : sequence of str, optional
            Parameters that get asymmetric MINOS errors (HESSE errors otherwise).

        Returns
        -------
        dict
            ``values``, ``errors`` (``(minus, plus)`` per parameter), ``chi2``, ``valid`` and the fitted events.

        Raises
        ------
        ConfigError
            If ``fixed`` names an unknown parameter.
        """
        fixed = dict(fixed or {})
        unknown = set(fixed) - set(self.parameters)
        if unknown:
            raise ConfigError(f"cannot fix unknown parameter(s) {sorted(unknown)}; known: {self.parameters}")
        start = self.defaults()
        for k, v in fixed.items():
            start[self.parameters.index(k)] = v
        m = Minuit(lambda x: float(self.chi2(x[None, :])[0]), start, name=self.parameters)
        m.errordef = Minuit.LEAST_SQUARES
        m.strategy = 1
        for name in self.parameters:
            if name.startswith("s_") or name == "r_onoff":
                m.limits[name] = (0.0, None)
        for k in fixed:
            m.fixed[k] = True
        m.migrad()
        for _ in range(3):  # kinks of piecewise interpolation at 0 can stop MIGRAD early: restart
            if m.valid:
                break
            m.migrad()
        m.hesse()
        errors = {k: (float(m.errors[k]), float(m.errors[k])) for k in self.parameters}
        for k in minos:
            if k in fixed or not m.valid:
                continue
            m.minos(k)
            me = m.merrors[k]
            errors[k] = (float(-me.lower), float(me.upper))
        values = {k: float(m.values[k]) for k in self.parameters}
        comps = self.component_templates(values)
        events = {c: float(v.sum()) for c, v in comps.items()}
        return {"values": values, "errors": errors, "chi2": float(m.fval), "valid": bool(m.valid),
                "events": events, "minuit": m}

    def significance(self, component: str, best: dict | None = None) -> float:
        """sqrt(chi2(s_component = 0) - chi2(best)), the likelihood-ratio significance [sigma].

        Asymptotic, ``Z = sqrt(q0)`` with one profiled parameter of interest (Wilks' theorem; Cowan,
        Cranmer, Gross & Vitells, Eur. Phys. J. C 71 (2011) 1554).

        Parameters
        ----------
        component : str
            Component whose scale factor ``s_<component>`` is set to 0 for the null hypothesis.
        best : dict, optional
            A previous :meth:`fit` result (fitted again if not given).

        Returns
        -------
        float
            Significance in standard deviations.

        Raises
        ------
        ConfigError
            If there is no such component.
        """
        key = f"s_{component}"
        if key not in self.parameters:
            raise ConfigError(f"unknown component {component!r}")
        best = best or self.fit()
        null = self.fit(fixed={key: 0.0})
        return float(np.sqrt(max(null["chi2"] - best["chi2"], 0.0)))
