"""The ``xenonnt_8b`` likelihood kind: XENONnT solar-8B template likelihood as an analysis term.

Wraps :class:`cevns.stats.solar_templates.TemplateProfiler` (extended binned Poisson over the 81 bins of
each science run, runs combined, nuisances profiled by vectorised Gauss-Newton steps) for experiments of
the ``xenonnt-8b`` kind. The physics point enters only through the CEvNS recoil rates of the solar
components (the experiment's rate engines), so every physics parameter works, with the solar flavour mix.

Nuisances and their constraints (relative 1 sigma; the ``[likelihood]`` table of the experiment file
overrides them, ``"free"`` = unconstrained):

* ``flux_8B``: 8B flux / SSM, 0.12 (B16 SSM uncertainty, Vinyoles et al. 2017, arXiv:1611.09867 Table 6);
* ``flux_hep``: hep flux / SSM, 0.30 (same table);
* ``tly``, ``tqy``: light- and charge-yield nuisances, standard normal on [-3, 3] (the release's grid is in
  sigma);
* ``ac_<run>`` (per run; SR0 0.0904, SR1 0.0576), ``er`` (1.0) and ``neutron`` (0.58), the last two shared
  between runs, and ``signal_eff`` (0.25), the uncertainty of the signal expectation common to every run:
  the collaboration's own statistical model of the same SR0+SR1 data and templates, published with the
  XENONnT light-dark-matter data release (github.com/XENONnT/light_wimp_data_release @ 2421e036,
  ``light_wimp_data_release/data/test_statistical_model.yaml``: ``ac_sr0/ac_sr1/er/nr_rate_multiplier``,
  ``signal_efficiency``, whose fit range [0.5, 1.5] is kept; PRL 134, 111802 (2025), arXiv:2409.17868). The constraints of arXiv:2408.02877
  and arXiv:2604.06002 themselves could not be retrieved; SR2's AC constraint is not in that file and
  is ASSUMED equal to SR1's.

A ``[[correlations]]`` entry can make the solar-flux normalisations ``flux_<component>`` (:meth:`correlatable`)
one parameter with nuisances of other experiments: the nuisance is then listed under the correlation's
name with its width (which replaces the constraint above), and when the other members are in another
likelihood family (e.g. the PandaX-4T 8B summary channels, a binned ``poisson`` term) the term is profiled
with it held at given values (:meth:`XenonntTemplateTerm.chi2_held`, :mod:`cevns.stats.cross_family`).

Data: observed counts, or Asimov = ``data_scale x`` the CEvNS signal at the Asimov point (SSM fluxes,
nominal yields) + the nominal backgrounds.
"""

from __future__ import annotations

import copy
import math
from typing import Mapping

import numpy as np

from ..errors import ConfigError
from ..experiments.xenonnt_8b.release import YIELD_GRID
from ..physics.parameters import PhysicsPoint
from .likelihood import Term, register_likelihood
from .solar_templates import RunArrays, TemplateProfiler

__all__ = ["XenonntTemplateTerm", "DEFAULT_SIGMAS", "profiler_of", "likelihood_sigmas"]

#: Default constraints (see the module docstring for their sources / status).
DEFAULT_SIGMAS = {"8B": 0.12, "hep": 0.30, "ac": {"sr0": 0.0904, "sr1": 0.0576, "sr2": 0.0576}, "er": 1.0,
                  "neutron": 0.58, "signal": 0.25}
_OPTION_KEYS = {"flux_8b_sigma": "8B", "hep_sigma": "hep", "ac_sigma": "ac", "er_sigma": "er",
                "neutron_sigma": "neutron", "signal_sigma": "signal"}
#: Physics points profiled together (bounds the memory: ~200 kB per point and run).
CHUNK = 256


def likelihood_sigmas(table: Mapping | None, where: str = "likelihood") -> dict:
    """Constraints from a ``[likelihood]`` table over :data:`DEFAULT_SIGMAS`.

    Parameters
    ----------
    table : mapping or None
        The ``[likelihood]`` table of a ``xenonnt-8b`` experiment file: keys ``flux_8b_sigma``,
        ``hep_sigma``, ``ac_sigma``, ``er_sigma``, ``neutron_sigma``, ``signal_sigma``; values a positive
        relative 1-sigma constraint or ``"free"`` (unconstrained); ``ac_sigma`` may also be a table
        run -> value (the runs not named keep their defaults).
    where : str, optional
        Prefix of error messages.

    Returns
    -------
    dict
        Constraints in the form :class:`~cevns.stats.solar_templates.TemplateProfiler` takes: keys
        ``"8B"``, ``"hep"``, ``"ac"`` (run -> value), ``"er"``, ``"neutron"``, ``"signal"``; ``inf`` = free.

    Raises
    ------
    ConfigError
        An unknown key, or a value that is neither a positive finite number nor ``"free"``.

    Examples
    --------
    >>> likelihood_sigmas({"flux_8b_sigma": "free", "ac_sigma": {"sr0": 0.1}})["ac"]["sr0"]
    0.1
    """
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in DEFAULT_SIGMAS.items()}

    def value(v, key):
        if v == "free":
            return math.inf
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0:
            return float(v)
        raise ConfigError(f"{where}: {key}: expected a positive number or \"free\", got {v!r}")

    for k, v in dict(table or {}).items():
        if k not in _OPTION_KEYS:
            raise ConfigError(f"{where}: unknown key {k!r}; allowed: {', '.join(_OPTION_KEYS)}")
        if k == "ac_sigma" and isinstance(v, dict):
            out["ac"].update({str(r): value(x, f"ac_sigma.{r}") for r, x in v.items()})
        else:
            out[_OPTION_KEYS[k]] = value(v, k)
    return out


def profiler_of(experiment, sigmas: Mapping | None = None) -> TemplateProfiler:
    """The :class:`TemplateProfiler` of a built ``xenonnt-8b`` experiment.

    Parameters
    ----------
    experiment : XenonntExperiment
        A built experiment of kind ``xenonnt-8b`` (its runs' templates and solar components).
    sigmas : mapping, optional
        Constraints as returned by :func:`likelihood_sigmas` (default: those of the experiment's
        ``[likelihood]`` table over :data:`DEFAULT_SIGMAS`).

    Returns
    -------
    TemplateProfiler
        On the release's (tly, tqy) grid, components in the experiment's order.

    Raises
    ------
    ConfigError
        Invalid constraints or templates (see :class:`TemplateProfiler`).
    """
    runs = []
    for name, t in experiment.runs.items():
        g = t.neutron.shape[0]
        runs.append(RunArrays(name, t.exposure_t_yr, np.asarray(t.observed, dtype=float).ravel(), t.ac.ravel(),
                              t.er.ravel(), t.neutron.reshape(g, g, -1), t.mono.reshape(t.mono.shape[0], g, g, -1)))
    s = dict(sigmas) if sigmas is not None else likelihood_sigmas(getattr(experiment.spec, "likelihood", None))
    return TemplateProfiler(runs, experiment.spec.components, YIELD_GRID, s)


@register_likelihood
class XenonntTemplateTerm(Term):
    """The XENONnT 8B template likelihood of one ``xenonnt-8b`` experiment (see the module docstring).

    chi^2(point) = min over the nuisances of the extended binned Poisson chi^2 plus constraints of
    :mod:`cevns.stats.solar_templates` (Baker & Cousins 1984), the physics point entering through the
    recoil rates of the solar components.

    Parameters
    ----------
    experiment : XenonntExperiment
        A built experiment of kind ``xenonnt-8b``.
    label : str
        Name for tables and plots (and error messages).
    dataset : str
        Unique key of the term inside a likelihood; prefixes the nuisance names (``"<dataset>:<name>"``).
    observed : array_like
        Data [events] per analysis bin, the 81 bins of each run concatenated in run order (finite, >= 0).
    data : {"observed", "asimov"}, optional
        What ``observed`` holds (reported by :meth:`describe`).
    sigmas : mapping, optional
        Constraints as returned by :func:`likelihood_sigmas` (default: the experiment's).
    parameters : sequence of str, optional
        Physics parameters exposed as cost parameters (for iminuit).
    fixed : mapping, optional
        Values of the other physics parameters.
    correlated : mapping, optional
        ``{own nuisance: (global name, sigma)}`` from ``[[correlations]]`` (own names from
        :meth:`correlatable`; ``sigma`` None = free): the nuisance is known by the global name and
        constrained by ``sigma``.

    Raises
    ------
    ConfigError
        Data of the wrong size, negative or not finite, invalid constraints, or a correlated nuisance that
        cannot be shared (or with sigma 0).
    """

    kind = "xenonnt_8b"
    signal_shape = "spectrum"
    data_kinds = ("observed", "asimov")

    def __init__(self, experiment, label, dataset, *, observed, data="observed", sigmas=None, parameters=(),
                 fixed=None, correlated=None):
        super().__init__(experiment, label, dataset, parameters=parameters, fixed=fixed)
        self.correlated = {str(k): (str(v[0]), v[1]) for k, v in dict(correlated or {}).items()}
        s = dict(sigmas) if sigmas is not None else likelihood_sigmas(getattr(experiment.spec, "likelihood", None))
        for own, (name, sigma) in self.correlated.items():
            if own not in self.correlatable(experiment):
                raise ConfigError(f"{label}: cannot correlate {own!r}; its shareable nuisances are "
                                  f"{sorted(self.correlatable(experiment))}")
            if sigma is not None and not float(sigma) > 0:
                raise ConfigError(f"{label}: correlation {name!r} has sigma {sigma}; the template likelihood needs "
                                  f"a positive width (or none = free) for {own!r}")
            s[own.removeprefix("flux_")] = math.inf if sigma is None else float(sigma)
        self.profiler = profiler_of(experiment, s)
        sizes = [r.observed.size for r in self.profiler.runs]
        obs = np.asarray(observed, dtype=float).ravel()
        if obs.size != sum(sizes) or np.any(obs < 0) or not np.all(np.isfinite(obs)):
            raise ConfigError(f"{label}: data must be {sum(sizes)} finite non-negative counts (runs concatenated)")
        self.observed = obs
        self.observed_runs = np.split(obs, np.cumsum(sizes)[:-1])
        self.data = data

    @staticmethod
    def _check(experiment):
        if not (hasattr(experiment, "runs") and hasattr(experiment, "recoil_rates")):
            raise ConfigError(f"likelihood 'xenonnt_8b' needs an experiment of kind 'xenonnt-8b', not "
                              f"{getattr(experiment, 'name', experiment)!r}")

    @classmethod
    def from_experiment(cls, experiment, *, label, dataset, asimov=None, fixed=None, **options):
        """Build the term from a ``xenonnt-8b`` experiment and its data.

        Parameters
        ----------
        experiment : XenonntExperiment
            A built experiment of kind ``xenonnt-8b``.
        label : str
            Name for tables and plots.
        dataset : str
            Unique key of the term inside a likelihood.
        asimov : array_like, optional
            CEvNS signal per bin (runs concatenated, e.g. :meth:`asimov_signal` x ``data_scale``); the data
            are then this signal plus the nominal backgrounds. None (default): the observed data.
        fixed : mapping, optional
            Values of physics parameters not scanned.
        **options
            Other options of the analysis entry; unused (the constraints come from the experiment's
            ``[likelihood]`` table).

        Returns
        -------
        XenonntTemplateTerm

        Raises
        ------
        ConfigError
            If the experiment is not of kind ``xenonnt-8b``, or the data are invalid.
        """
        cls._check(experiment)
        if asimov is None:
            obs, data = experiment.observed, "observed"
        else:
            obs, data = np.asarray(asimov, dtype=float) + sum(experiment.backgrounds.values()), "asimov"
        return cls(experiment, label, dataset, observed=obs, data=data, fixed=fixed,
                   correlated=options.get("correlations"))

    @classmethod
    def correlatable(cls, experiment) -> set:
        """Nuisances a ``[[correlations]]`` entry can share: the solar-flux normalisations ``flux_<component>``.

        Parameters
        ----------
        experiment : XenonntExperiment
            A built experiment of kind ``xenonnt-8b``.

        Returns
        -------
        set of str
            E.g. ``{"flux_8B", "flux_hep"}``.
        """
        return {f"flux_{c}" for c in getattr(getattr(experiment, "spec", None), "components", ())}

    def holdable(self) -> dict:
        """The correlated nuisances this term can hold at given values: global name -> sigma (None = free).

        Returns
        -------
        dict of str to float or None
        """
        return {name: (None if sigma is None or math.isinf(sigma) else float(sigma))
                for name, sigma in self.correlated.values()}

    @classmethod
    def asimov_signal(cls, experiment, params: Mapping) -> np.ndarray:
        """CEvNS events per bin (runs concatenated) at SSM fluxes and nominal yields.

        Parameters
        ----------
        experiment : XenonntExperiment
            A built experiment of kind ``xenonnt-8b``.
        params : mapping
            Physics parameters of the Asimov point.

        Returns
        -------
        ndarray (81 x n_runs,)
            Events (:meth:`~cevns.experiments.xenonnt_8b.kind.XenonntExperiment.signal_events`).

        Raises
        ------
        ConfigError
            If the experiment is not of kind ``xenonnt-8b`` or its rates are not finite there.
        """
        cls._check(experiment)
        return experiment.signal_events(dict(params))

    def signal(self, flat: Mapping, n: int) -> np.ndarray:
        """Recoil rates of the components side by side: the "signal" this term profiles.

        Parameters
        ----------
        flat : mapping
            Physics parameters, floats or (n,) arrays.
        n : int
            Number of points.

        Returns
        -------
        ndarray (n, n_components x n_energy)
            CEvNS recoil rates [events / t / yr] at the SSM fluxes, component blocks in the profiler's
            order.
        """
        pt = PhysicsPoint(dict(flat), defaults=self.experiment.engine.defaults)
        rates = self.experiment.recoil_rates(pt)
        return np.broadcast_to(np.concatenate([rates[c] for c in self.profiler.components], axis=1),
                               (n, len(self.profiler.components) * self.profiler.n_energy))

    def chi2_of_signal(self, signal: np.ndarray, details: bool = False):
        """Profiled chi^2 of the signal of :meth:`signal`.

        Points with identical rates are profiled once; the others in chunks of :data:`CHUNK`.

        Parameters
        ----------
        signal : ndarray (n, n_components x n_energy)
            Recoil rates from :meth:`signal`.
        details : bool, optional
            Also return the fitted nuisances.

        Returns
        -------
        chi2 : ndarray (n,)
        nuisances : dict
            ``"<dataset>:<name>"`` -> (n,) values if ``details``, else empty.
        """
        signal = np.asarray(signal, dtype=float)
        m = self.profiler.n_energy
        # points with identical rates (only non-solar parameters vary) are profiled once
        uniq, inverse = np.unique(signal, axis=0, return_inverse=True)
        inverse = np.asarray(inverse).ravel()
        chi2 = np.empty(uniq.shape[0])
        nuis = {k: np.empty(uniq.shape[0]) for k in self.profiler.names}
        for start in range(0, uniq.shape[0], CHUNK):
            part = uniq[start:start + CHUNK]
            rates = {c: part[:, i * m:(i + 1) * m] for i, c in enumerate(self.profiler.components)}
            res = self.profiler.profile(rates, observed=self.observed_runs)
            chi2[start:start + CHUNK] = res.chi2
            for k, v in res.nuisances.items():
                nuis[k][start:start + CHUNK] = v
        fitted = {self._key(k): v[inverse] for k, v in nuis.items()} if details else {}
        return chi2[inverse], fitted

    def _key(self, own: str) -> str:
        """Reported name of a nuisance: the correlation's name, else ``"<dataset>:<own>"``."""
        return self.correlated[own][0] if own in self.correlated else f"{self.dataset}:{own}"

    def chi2_held(self, signal: np.ndarray, held: Mapping, start: Mapping | None = None):
        """Profiled chi^2 with correlated nuisances held at given values and their constraint left out.

        For a nuisance shared with terms of another likelihood family (:mod:`cevns.stats.cross_family`):
        ``chi2(point | f) = min over the other nuisances`` of the cost of the module docstring without the
        constraint of the held nuisance (the caller adds the shared one).

        Parameters
        ----------
        signal : ndarray (n, n_components x n_energy)
            Recoil rates from :meth:`signal`.
        held : mapping global name -> float or ndarray (n,)
            Values of correlated normalisations (flux / SSM; 1 = nominal), by the correlation's name.
        start : mapping, optional
            Starting values by reported name (as returned), e.g. the nuisances of a previous call.

        Returns
        -------
        chi2 : ndarray (n,)
        nuisances : dict
            Reported name -> (n,) values of the profiled nuisances (the held ones left out).

        Raises
        ------
        ConfigError
            A held name that is not one of this term's correlated nuisances.
        """
        by_name = {name: own for own, (name, _) in self.correlated.items()}
        bad = sorted(set(held) - set(by_name))
        if bad:
            raise ConfigError(f"{self.label}: {bad} are not correlated nuisances of this term ({sorted(by_name)})")
        signal = np.asarray(signal, dtype=float)
        fixed = {by_name[k]: np.asarray(v, dtype=float) for k, v in held.items()}
        prof = copy.copy(self.profiler)
        prof.sigmas = {**prof.sigmas, **{own.removeprefix("flux_"): math.inf for own in fixed}}
        keys = {self._key(k): k for k in prof.names}
        first = {keys[k]: v for k, v in dict(start or {}).items() if k in keys and keys[k] not in fixed}
        m = prof.n_energy
        chi2 = np.empty(signal.shape[0])
        nuis = {k: np.empty(signal.shape[0]) for k in prof.names if k not in fixed}
        for lo in range(0, signal.shape[0], CHUNK):
            sl = slice(lo, lo + CHUNK)
            rates = {c: signal[sl, i * m:(i + 1) * m] for i, c in enumerate(prof.components)}
            res = prof.profile(rates, fixed={k: np.broadcast_to(v, signal.shape[:1])[sl] for k, v in fixed.items()},
                               observed=self.observed_runs,
                               start={k: np.broadcast_to(v, signal.shape[:1])[sl] for k, v in first.items()})
            chi2[sl] = res.chi2
            for k in nuis:
                nuis[k][sl] = res.nuisances[k]
        return chi2, {self._key(k): v for k, v in nuis.items()}

    def nuisance_table(self) -> dict:
        """Nuisance name -> {"sigma", "applies_to"}."""
        s = self.profiler.sigmas
        out = {}
        for k in self.profiler.names:
            key = {"signal_eff": "signal"}.get(k, k if k.startswith("ac_") else k.replace("flux_", ""))
            sig = 1.0 if k in ("tly", "tqy") else s[key]
            out[self._key(k)] = {"sigma": None if math.isinf(sig) else sig, "applies_to": [f"{self.label}/{k}"]}
        return out

    def describe(self) -> dict:
        """Label, kind, data kind and summary."""
        return {**super().describe(), "data": self.data, "observed_events": float(self.observed.sum()),
                "runs": [r.name for r in self.profiler.runs],
                "constraints": {k: (None if math.isinf(v) else v) for k, v in self.profiler.sigmas.items()}}
