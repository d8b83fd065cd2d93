"""Full iminuit fits of template likelihood terms (``template_poisson``): MIGRAD, HESSE, MINOS.

The cost is the sum over terms of the chi2 of :mod:`cevns.stats.template_profile` (errordef 1), as a
function of physics parameters of interest (shared by all terms; the templates are recomputed at each
value) and of every nuisance of every term (names prefixed ``<label>:`` when there are several terms;
the on/off means ``k_g`` included). The start is the vectorised Newton profile at the starting physics
point. Events per component carry uncertainties propagated with the HESSE covariance (linear, numerical
gradient). The significance of CEvNS is the likelihood ratio against the no-CEvNS hypothesis (every
``s_cevns = 0`` and its prior dropped, the rest profiled): ``Z = sqrt(chi2_0 - chi2_min)`` (Wilks, one
parameter; Cowan et al., Eur. Phys. J. C 71, 1554 (2011)).
"""

from __future__ import annotations

import copy
from typing import Mapping, Sequence

import numpy as np
from iminuit import Minuit

from ..errors import ConfigError
from ..physics.parameters import spec_for
from .template_profile import THETA_MAX, chi2_at, component_events, profile_templates

__all__ = ["TemplateFit", "fit_templates", "shared_flux_minuit"]


class TemplateFit:
    """A joint iminuit fit of :class:`~cevns.stats.template_term.TemplatePoisson` terms.

    Parameters
    ----------
    terms : sequence of TemplatePoisson
        The likelihood terms fitted jointly (their chi2 add).
    pois : sequence of str
        Physics parameters left free (start from ``start``, else the first term's ``fixed`` holding it, else the
        parameter's default).
    start : mapping, optional
        Start values of the physics parameters.
    limits : mapping name -> (lo, hi), optional
        Limits of the physics parameters (default: the parameter's physical domain).

    Attributes
    ----------
    names : list of str
        Full parameter vector: the POIs, then every term's profiled parameters (``<label>:`` prefixed when
        there are several terms).
    start : dict of str to float
        Start values of the POIs.

    Raises
    ------
    ConfigError
        No term, or a POI without a start value.
    """

    def __init__(self, terms: Sequence, pois: Sequence[str] = (), start: Mapping | None = None,
                 limits: Mapping | None = None):
        if not terms:
            raise ConfigError("nothing to fit: the analysis has no template_poisson experiment")
        self.terms = list(terms)
        self.pois = list(pois)
        start = dict(start or {})
        for p in self.pois:
            if p not in start:
                for t in self.terms:
                    if p in t.fixed:
                        start[p] = float(t.fixed[p])
                        break
            if p not in start:
                default = spec_for(p).default
                if default is None:
                    raise ConfigError(f"parameter of interest {p!r} needs a start value (put it in [fixed])")
                start[p] = float(default)
        self.start = {p: float(start[p]) for p in self.pois}
        self.limits = dict(limits or {})
        self._arrays = [t.arrays(self.start) for t in self.terms]
        multi = len(self.terms) > 1
        self.names: list[str] = list(self.pois)
        self._slices = []
        for t, a in zip(self.terms, self._arrays):
            pre = f"{t.label}:" if multi else ""
            lo = len(self.names)
            self.names += [pre + n for n in a.parameters]
            self._slices.append(slice(lo, len(self.names)))

    def _term_arrays(self, x: np.ndarray) -> list:
        if not self.pois:
            return self._arrays
        phys = {p: float(v) for p, v in zip(self.pois, x[:len(self.pois)])}
        return [t.arrays(phys) for t in self.terms]

    def chi2(self, x) -> float:
        """Total chi2 at the full parameter vector ``x`` (order of :attr:`names`)."""
        x = np.asarray(x, dtype=float)
        return float(sum(chi2_at(a, x[s])[0] for a, s in zip(self._term_arrays(x), self._slices)))

    def _start_vector(self, fixed: Mapping | None = None, arrays=None) -> np.ndarray:
        x = np.zeros(len(self.names))
        x[:len(self.pois)] = [self.start[p] for p in self.pois]
        for a, s in zip(arrays or self._arrays, self._slices):
            res = profile_templates(a, 1, fixed=fixed)
            x[s] = res.values[0]
        return x

    def minuit(self, x0: np.ndarray | None = None) -> Minuit:
        """A configured :class:`iminuit.Minuit` on :meth:`chi2` (errordef 1, strategy 1).

        Limits: scales ``s_``, ``r_onoff`` and ``k_`` >= 0, shape nuisances within +-THETA_MAX, POIs in
        their physical domain or the limits given.

        Parameters
        ----------
        x0 : ndarray, shape (len(names),), optional
            Start vector; default: the POI start values and each term's vectorised Newton profile there.

        Returns
        -------
        iminuit.Minuit
        """
        m = Minuit(self.chi2, self._start_vector() if x0 is None else x0, name=self.names)
        m.errordef = Minuit.LEAST_SQUARES
        m.strategy = 1
        for n in self.names:
            base = n.split(":")[-1]
            if base.startswith("s_") or base.startswith("k_") or base == "r_onoff":
                m.limits[n] = (0.0, None)
            elif n not in self.pois:
                m.limits[n] = (-THETA_MAX, THETA_MAX)
        for p in self.pois:  # the physical domain of each parameter of interest, or the limits given
            spec = spec_for(p)
            m.limits[p] = tuple(self.limits.get(p, (spec.lower, spec.upper)))
        return m

    def run(self, minos: Sequence[str] = ()) -> dict:
        """MIGRAD (repeated up to 3 times until valid), HESSE and MINOS, then events and significance.

        Parameters
        ----------
        minos : sequence of str, optional
            Parameters for MINOS (default: the physics POIs and every ``s_`` scale without a prior);
            MINOS runs only on a valid minimum, a failure gives ``None``.

        Returns
        -------
        dict
            ``parameters``: name -> {value, error, minos [minus, plus] or None}; ``chi2``; ``valid``;
            ``events``: per term label -> component -> {value, error}; ``significance_sigma``;
            ``chi2_null``; ``ndata``; ``minuit`` (the Minuit object).

        Raises
        ------
        ConfigError
            An unknown name in ``minos``, or no ``cevns`` component (significance).
        """
        m = self.minuit()
        m.migrad()
        for _ in range(3):
            if m.valid:
                break
            m.migrad()
        m.hesse()
        if not minos:
            minos = list(self.pois)
            for t, s in zip(self.terms, self._slices):
                for i, c in enumerate(self._arrays[self.terms.index(t)].names):
                    if self._arrays[self.terms.index(t)].sigma[i] is None:
                        minos.append(self.names[s.start + i])
        bad = sorted(set(minos) - set(self.names))
        if bad:
            raise ConfigError(f"MINOS: unknown parameter(s) {bad}; known: {self.names}")
        merr = {}
        if m.valid:
            for k in minos:
                try:
                    m.minos(k)
                    me = m.merrors[k]
                    merr[k] = [float(-me.lower), float(me.upper)]
                except RuntimeError:
                    merr[k] = None
        x = np.array(m.values)
        cov = np.array(m.covariance) if m.covariance is not None else np.zeros((x.size, x.size))
        params = {n: {"value": float(x[i]), "error": float(m.errors[n]), "minos": merr.get(n)}
                  for i, n in enumerate(self.names)}
        return {"parameters": params, "chi2": float(m.fval), "valid": bool(m.valid), "ndata": self.n_bins,
                "events": self.events(x, cov), "minuit": m, **self.significance(float(m.fval), x)}

    @property
    def n_bins(self) -> int:
        """Number of data bins of all terms."""
        return int(sum(a.observed.size for a in self._arrays))

    def events(self, x: np.ndarray, cov: np.ndarray) -> dict:
        """Events per component of each term with linearly propagated uncertainties.

        ``sigma_N^2 = g^T C g`` with ``g = dN/dx`` by forward differences (step ``max(1e-4 |x|, 1e-5)``;
        parameters with zero variance skipped).

        Parameters
        ----------
        x : ndarray, shape (len(names),)
            Parameter vector (order of :attr:`names`).
        cov : ndarray, shape (len(names), len(names))
            Its covariance (e.g. HESSE).

        Returns
        -------
        dict
            ``{term label: {component: {"value", "error"}}}`` [events]; the on/off background as
            ``"steady_state"``.
        """
        def ev(xx):
            arrays = self._term_arrays(xx)
            out = []
            for a, s in zip(arrays, self._slices):
                out.append(component_events(a, xx[s][None, :]))
            return out

        base = ev(x)
        steps = np.maximum(1e-4 * np.abs(x), 1e-5)
        grads = []
        for i in range(x.size):
            if cov[i, i] <= 0:
                grads.append(None)
                continue
            xp = x.copy()
            xp[i] += steps[i]
            grads.append(ev(xp))
        out = {}
        for ti, t in enumerate(self.terms):
            row = {}
            for name, val in base[ti].items():
                g = np.array([0.0 if gr is None else (gr[ti][name][0] - val[0]) / steps[i]
                              for i, gr in enumerate(grads)])
                row[name] = {"value": float(val[0]), "error": float(np.sqrt(max(g @ cov @ g, 0.0)))}
            out[t.label] = row
        return out

    def significance(self, chi2_min: float, x: np.ndarray) -> dict:
        """Likelihood ratio of the no-CEvNS hypothesis (module docstring; Cowan et al. 2011).

        Each term is profiled with ``s_cevns = 0`` and its prior dropped, at the physics parameters of ``x``;
        ``Z = sqrt(max(chi2_0 - chi2_min, 0))``.

        Parameters
        ----------
        chi2_min : float
            chi2 at the best fit.
        x : ndarray, shape (len(names),)
            Best-fit parameter vector (its POIs are kept in the null fit).

        Returns
        -------
        dict
            ``chi2_null`` (chi2_0) and ``significance_sigma`` (Z).

        Raises
        ------
        ConfigError
            A term without a ``cevns`` component.
        """
        total = 0.0
        arrays = self._term_arrays(x)
        for a in arrays:
            if "cevns" not in a.names:
                raise ConfigError("no 'cevns' component to test against")
            null = copy.copy(a)
            null.sigma = [None if n == "cevns" else sg for n, sg in zip(a.names, a.sigma)]
            res = profile_templates(null, 1, fixed={"s_cevns": 0.0})
            total += float(res.chi2[0])
        d = max(total - chi2_min, 0.0)
        return {"chi2_null": total, "significance_sigma": float(np.sqrt(d))}


def fit_templates(terms: Sequence, pois: Sequence[str] = (), start: Mapping | None = None,
                  limits: Mapping | None = None, minos: Sequence[str] = ()) -> dict:
    """Build and run a :class:`TemplateFit` (MIGRAD, HESSE, MINOS).

    Parameters
    ----------
    terms : sequence of TemplatePoisson
        The likelihood terms fitted jointly.
    pois : sequence of str, optional
        Physics parameters left free.
    start : mapping, optional
        Start values of the physics parameters.
    limits : mapping name -> (lo, hi), optional
        Limits of the physics parameters.
    minos : sequence of str, optional
        Parameters for MINOS (default: the POIs and every scale without a prior).

    Returns
    -------
    dict
        See :meth:`TemplateFit.run`.
    """
    return TemplateFit(terms, pois, start, limits).run(minos)


def shared_flux_minuit(first, second, sigma_f: float, start=None) -> Minuit:
    """A MIGRAD-ready cost of two template likelihoods whose CEvNS scales share one flux factor ``f``.

    The independent iminuit form of :mod:`cevns.stats.template_joint` for two terms: the first term's CEvNS
    scale is ``f``, the second's ``u + f - 1``; each term's own CEvNS prior (widths ``sigma_1``, ``sigma_2``) is
    replaced by ``((f - 1) / sigma_f)^2 + ((u - 1) / sigma_u)^2`` with ``sigma_u = sqrt(sigma_2^2 - sigma_f^2)``
    (the widths add in quadrature: profiled over ``f`` alone this is the second term's own prior).

    Parameters
    ----------
    first, second : cevns.stats.binned_templates.TemplateLikelihood
        The two likelihoods at one physics point (e.g. ``TemplatePoisson.minuit_likelihood(point)``), each with
        the CEvNS component first and a parameter ``s_cevns``.
    sigma_f : float
        Relative prior width of the shared flux factor (<= the second term's own CEvNS width).
    start : sequence of float, optional
        Start values (the first's parameters, the second's, then ``f``); default: their defaults and 1.

    Returns
    -------
    iminuit.Minuit
        Parameters ``c_<name>`` (first), ``a_<name>`` (second) and ``f``; ``c_s_cevns`` fixed (it is ``f``);
        shape nuisances limited to +-THETA_MAX, scales and ``f`` to >= 0; errordef 1. Not yet minimised.
    """
    s1, s2 = first.components[0].sigma, second.components[0].sigma
    su = np.sqrt(s2**2 - sigma_f**2)
    n1, n2 = len(first.parameters), len(second.parameters)
    i1, i2 = first.parameters.index("s_cevns"), second.parameters.index("s_cevns")

    def chi2(v):
        p1, p2, f = np.array(v[:n1]), np.array(v[n1:n1 + n2]), v[-1]
        u = p2[i2]
        p1[i1], p2[i2] = f, u + f - 1.0
        return float(first.chi2(p1[None])[0] - ((f - 1) / s1) ** 2 + second.chi2(p2[None])[0]
                     - ((p2[i2] - 1) / s2) ** 2 + ((f - 1) / sigma_f) ** 2 + ((u - 1) / su) ** 2)

    names = [f"c_{p}" for p in first.parameters] + [f"a_{p}" for p in second.parameters] + ["f"]
    if start is None:
        start = list(first.defaults()) + list(second.defaults()) + [1.0]
    m = Minuit(chi2, list(start), name=names)
    m.errordef = Minuit.LEAST_SQUARES
    for name in names:
        p = name[2:]
        if p in first.nuisances or p in second.nuisances:
            m.limits[name] = (-THETA_MAX, THETA_MAX)
        elif name == "f" or p.startswith("s_") or p == "r_onoff":
            m.limits[name] = (0.0, None)
    m.fixed["c_s_cevns"] = True
    return m
