"""Likelihoods as sums of cost objects: one :class:`Term` per data set, vectorised over physics points.

A :class:`Term` is a :class:`cevns.stats.cost.Cost` (errordef 1, a chi^2 = -2 ln L + const) of the
physics parameters of one already-built experiment: it predicts its signal with the experiment's
engine (``RateEngine.total`` for single-bin terms, ``RateEngine.predict`` for spectra) and compares it
with its data, profiling its own nuisances in closed form or by vectorised Newton steps. Terms add:
``term_a + term_b`` is a :class:`Likelihood` whose parameters are the union of the names (one shared
parameter per name); binned terms in a sum are profiled *jointly* over their normalisation
nuisances, nuisances of the same name being one shared parameter (a correlated systematic, e.g. the
reactor-flux normalisation of CONUS and CONNIE, Canas et al. arXiv:1911.09831). Template terms that
share nuisances are profiled jointly too; every other term alone. One nuisance may be shared across these
families (e.g. the solar 8B flux of the XENONnT template term and of a binned PandaX-4T term): it is
then profiled outside them, each family being profiled with it held fixed (:mod:`cevns.stats.cross_family`).
A sum is usable directly by ``iminuit.Minuit`` and is what fits, profiles and scans evaluate.

Kinds of terms are registered by name (:func:`register_likelihood`); the analysis schema takes its
list of likelihood kinds from :data:`LIKELIHOOD_KINDS`. A new kind is one new class (see
:mod:`cevns.stats.terms` for the built-in ones).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Mapping, Sequence

import numpy as np

from ..errors import ConfigError
from ..physics.parameters import PhysicsPoint, canonical_name, spec_for
from . import binned
from .cost import Cost, CostSum
from .cross_family import binned_family, held_family, profile_shared, shared_across_families
from .parameter_shifts import shifted_point

__all__ = ["Term", "Likelihood", "LikelihoodFit", "LIKELIHOOD_KINDS", "register_likelihood", "term_class",
           "likelihood_kinds", "DEFAULT_CHUNK"]

#: Points evaluated at once inside :meth:`Likelihood.chi2` (bounds the memory of spectral terms).
DEFAULT_CHUNK = 1 << 17

#: Registered likelihood kinds: name -> :class:`Term` subclass.
LIKELIHOOD_KINDS: dict[str, type] = {}


def register_likelihood(cls):
    """Class decorator registering a :class:`Term` subclass under its ``kind``."""
    if not (isinstance(cls, type) and issubclass(cls, Term)):
        raise TypeError(f"only Term subclasses can be registered, got {cls!r}")
    kind = getattr(cls, "kind", None)
    if not isinstance(kind, str) or not kind:
        raise TypeError(f"{cls.__name__} needs a class attribute kind = '<name>'")
    LIKELIHOOD_KINDS[kind] = cls
    return cls


def likelihood_kinds() -> tuple[str, ...]:
    """Names of the registered likelihood kinds."""
    return tuple(LIKELIHOOD_KINDS)


def term_class(kind: str) -> type:
    """The :class:`Term` subclass registered as ``kind`` (ConfigError if unknown)."""
    try:
        return LIKELIHOOD_KINDS[kind]
    except KeyError:
        raise ConfigError(f"unknown likelihood kind {kind!r}; known: {', '.join(LIKELIHOOD_KINDS)}") from None


def _flatten(full: Mapping) -> tuple[dict, tuple, int]:
    """Broadcast parameter values together; scalars stay floats, arrays become (n,)."""
    arrays = {k: np.asarray(v, dtype=float) for k, v in full.items()}
    shape = np.broadcast_shapes(*[a.shape for a in arrays.values()]) if arrays else ()
    shape = shape if len(shape) else (1,)
    n = int(np.prod(shape))
    flat = {k: (float(a) if a.ndim == 0 else np.broadcast_to(a, shape).reshape(-1)) for k, a in arrays.items()}
    return flat, shape, n


def _check_parameters(names) -> list[str]:
    names = [str(p) for p in names]
    for p in names:
        spec_for(p)
    return names


class Term(Cost):
    """A likelihood term: the chi^2 of one data set as a function of physics parameters.

    Subclasses set ``kind`` (registry name) and implement :meth:`from_experiment` and
    :meth:`chi2_of_signal`; binned terms set ``joint = True`` and implement :meth:`binned_dataset`
    instead, so that a :class:`Likelihood` profiles their nuisances together.

    Parameters
    ----------
    experiment : Experiment
        The built experiment whose engine predicts the signal.
    label : str
        Name for tables and plots.
    dataset : str
        Unique key of the term inside a likelihood (nuisance names of single-bin pulls use it).
    parameters : sequence of str, optional
        Physics parameters exposed as cost parameters (for iminuit); the others come from ``fixed``.
    fixed : mapping, optional
        Values of the other physics parameters (engine defaults for the rest).
    limits : mapping of str to (float, float), optional
        Bounds of some of ``parameters`` for the minimiser (see :class:`cevns.stats.cost.Cost`).
    """

    kind: ClassVar[str] = ""
    #: "total" (one number per point) or "spectrum" (counts per bin).
    signal_shape: ClassVar[str] = "total"
    #: Binned terms profiled jointly with the other binned terms of a sum.
    joint: ClassVar[bool] = False
    #: The experiment file needs a [statistics.single_bin] section.
    needs_single_bin: ClassVar[bool] = False
    #: Accepts normalisation systematics (experiment [[systematics]] and the analysis' ones).
    uses_systematics: ClassVar[bool] = False
    #: Accepts the Gaussian ``variance`` option.
    uses_variance: ClassVar[bool] = False
    #: Data kinds it accepts ("observed", "asimov").
    data_kinds: ClassVar[tuple] = ("observed", "asimov")
    #: Shifts of physics parameters this term sees (:mod:`cevns.stats.parameter_shifts`; set per instance).
    parameter_shifts: tuple = ()

    def __init__(self, experiment, label: str, dataset: str, parameters: Sequence[str] = (),
                 fixed: Mapping | None = None, limits: Mapping | None = None):
        super().__init__(_check_parameters(parameters), limits)
        self.experiment = experiment
        self.label = str(label)
        self.dataset = str(dataset)
        self.fixed = {k: v for k, v in dict(fixed or {}).items()}

    # ---------------------------------------------------------------- construction
    @classmethod
    def from_experiment(cls, experiment, *, label: str, dataset: str, asimov=None, fixed=None, **options):
        """Build the term from an experiment and its data (``asimov``: the Asimov signal per bin, or
        None for the observed data). Options of the analysis entry arrive as keywords.

        Parameters
        ----------
        experiment : Experiment
            The built experiment.
        label : str
            Name for tables and plots.
        dataset : str
            Unique key of the term inside a likelihood.
        asimov : array_like, optional
            Asimov signal per bin [events]; None uses the observed data.
        fixed : mapping, optional
            Values of physics parameters that are not free.
        **options
            Further options of the analysis entry (kind-specific).

        Returns
        -------
        Term
        """
        raise NotImplementedError

    @classmethod
    def asimov_signal(cls, experiment, params: Mapping) -> np.ndarray:
        """The expected signal per bin at one physics point (the Asimov data before ``data_scale``).

        Kinds whose experiments are not engine-based (plug-in experiment kinds) override this.

        Parameters
        ----------
        experiment : Experiment
            The built experiment whose engine predicts the signal.
        params : mapping of str to float
            The physics point (engine defaults for missing parameters).

        Returns
        -------
        numpy.ndarray
            Expected signal events per bin, shape (n_bins,).
        """
        pt = PhysicsPoint(dict(params), defaults=experiment.engine.defaults)
        return experiment.engine.predict(pt).per_bin[0]

    # ---------------------------------------------------------------- evaluation
    def signal(self, flat: Mapping, n: int) -> np.ndarray:
        """Predicted signal at ``n`` points: (n,) totals or (n, n_bins) spectra.

        Parameters
        ----------
        flat : mapping of str to float or numpy.ndarray
            Physics parameter values, scalars or flat (n,) arrays.
        n : int
            Number of points.

        Returns
        -------
        numpy.ndarray
            Predicted events, shape (n,) (``signal_shape = "total"``) or (n, n_bins).
        """
        eng = self.experiment.engine
        pt = PhysicsPoint(flat, defaults=eng.defaults)
        if self.signal_shape == "total":
            return np.broadcast_to(eng.total(pt), (n,))
        return np.broadcast_to(eng.predict(pt).per_bin, (n, eng.n_bins))

    def chi2_of_signal(self, signal: np.ndarray, details: bool = False) -> tuple[np.ndarray, dict]:
        """chi^2 (n,) for the signal of :meth:`signal` and, if ``details``, fitted nuisances by name."""
        if self.joint:
            res = binned.combined_chi2([self.binned_dataset(signal)], {self.dataset: signal})
            return res.chi2, res.nuisances
        raise NotImplementedError

    def binned_dataset(self, signal: np.ndarray) -> binned.BinnedDataset:
        """Binned terms: the data set for :func:`cevns.stats.binned.combined_chi2`.

        Parameters
        ----------
        signal : numpy.ndarray
            Predicted signal events per bin, shape (n, n_bins).

        Returns
        -------
        BinnedDataset
            Observed counts, backgrounds and nuisances of this term.
        """
        raise NotImplementedError

    def holdable(self) -> dict:
        """Nuisances shared through ``[[correlations]]`` that this (non-binned, non-template) term can hold
        at given values (:meth:`chi2_held`): global name -> prior width (None = free). Default: none.

        Returns
        -------
        dict of str to float or None
        """
        return {}

    def chi2_held(self, signal: np.ndarray, held: Mapping, start: Mapping | None = None):
        """chi^2 (n,) profiled with the nuisances ``held`` (global name -> values) fixed, their priors left
        out, and the fitted nuisances by name (terms with a :meth:`holdable` nuisance implement it).

        Parameters
        ----------
        signal : numpy.ndarray
            The term's :meth:`signal` at n points.
        held : mapping of str to float or numpy.ndarray
            Values of the held nuisances (normalisations, nominal 1).
        start : mapping, optional
            Starting values of the other nuisances by reported name.

        Returns
        -------
        tuple of (numpy.ndarray, dict)
        """
        raise ConfigError(f"{self.label} ({self.kind}) cannot hold a nuisance fixed")

    def _value(self, args):
        return Likelihood([self]).evaluate(*args) if self.npar else Likelihood([self]).chi2({})

    def __add__(self, other):
        if not isinstance(other, Cost):
            return NotImplemented
        return Likelihood([self, other])

    # ---------------------------------------------------------------- description
    def nuisance_table(self) -> dict:
        """Nuisance name -> {"sigma", "applies_to": ["<label>/<component>", ...]}."""
        return {}

    def describe(self) -> dict:
        """Label, kind, data summary (JSON-compatible)."""
        return {"label": self.label, "dataset": self.dataset, "likelihood": self.kind}


@dataclass
class LikelihoodFit:
    """Profiled chi^2 and best-fit nuisances at each point.

    Attributes
    ----------
    chi2 : ndarray (n_points,)
    per_experiment : dict dataset -> ndarray (n_points,)
        Data term of each term (single-bin: including its pull priors).
    nuisances : dict name -> ndarray (n_points,)
        Profiled nuisances (shared names once), single-bin pulls as ``"<dataset>:alpha"``/``":beta"``.
    """

    chi2: np.ndarray
    per_experiment: dict
    nuisances: dict


class Likelihood(CostSum):
    """A sum of likelihood terms (and other costs, e.g. Gaussian priors), a chi^2 of physics parameters.

    ``chi2(params)`` takes a mapping ``name -> float or array`` (broadcast together, any shape) merged
    over ``fixed``; ``evaluate``/``__call__`` take the values of :attr:`parameters` (iminuit). Binned
    terms are profiled jointly (shared nuisances by name), the others add.

    Parameters
    ----------
    components : sequence of Cost
        Terms (and further costs of physics parameters).
    fixed : mapping, optional
        Physics parameters fixed for every term (on top of each term's own ``fixed``).
    parameters : sequence of str, optional
        Further free parameters (cost parameters for iminuit) besides the components' ones.
    limits : mapping of str to (float, float) or None, optional
        Bounds of parameters for the minimiser.

    Raises
    ------
    ConfigError
        If there are no terms, two terms share a dataset key, limits name an unknown parameter, or nuisances
        are shared across likelihood families in an unsupported way
        (:func:`cevns.stats.cross_family.shared_across_families`).
    """

    def __init__(self, components: Sequence[Cost], fixed: Mapping | None = None, parameters: Sequence[str] = (),
                 limits: Mapping | None = None):
        comps: list[Cost] = []
        for c in components:
            comps.extend(c.components if isinstance(c, CostSum) else [c])
        if not comps:
            raise ConfigError("a likelihood needs at least one term")
        super().__init__(*comps)
        extra = [p for p in _check_parameters(parameters) if p not in self._parameters]
        merged = dict(self._parameters)
        merged.update({p: None for p in extra})
        for key, lim in dict(limits or {}).items():
            if key not in merged:
                raise ConfigError(f"limits given for {key!r}, which is not a parameter ({list(merged)})")
            merged[key] = None if lim is None else (float(lim[0]), float(lim[1]))
        self._parameters = merged
        self.fixed = {}
        for c in comps:
            for k, v in getattr(c, "fixed", {}).items():
                self.fixed.setdefault(k, v)
        self.fixed.update(dict(fixed or {}))
        self.chunk_points = DEFAULT_CHUNK
        datasets = [t.dataset for t in self.terms]
        if len(set(datasets)) != len(datasets):
            raise ConfigError(f"likelihood terms need distinct dataset names, got {datasets}")
        self._cross = shared_across_families(self.terms)

    # ------------------------------------------------------------------ parts
    @property
    def terms(self) -> list[Term]:
        """The data terms, in order."""
        return [c for c in self.components if isinstance(c, Term)]

    @property
    def experiments(self) -> list:
        """The experiments of the terms, in order."""
        return [t.experiment for t in self.terms]

    @property
    def labels(self) -> list[str]:
        """Labels of the terms, in order."""
        return [t.label for t in self.terms]

    def __add__(self, other):
        if not isinstance(other, Cost):
            return NotImplemented
        return Likelihood([self, other], fixed=self.fixed)

    # ------------------------------------------------------------------ evaluation
    def point(self, params: Mapping | None = None) -> dict:
        """The full parameter mapping: ``fixed`` updated by ``params``."""
        out = dict(self.fixed)
        out.update(dict(params or {}))
        return out

    def signals(self, params: Mapping | None = None) -> list[np.ndarray]:
        """Predicted signal of each term: single-bin (n,) totals, spectral (n, n_bins).

        Parameters
        ----------
        params : mapping of str to float or array_like, optional
            Physics parameter values (broadcast together), merged over :attr:`fixed`.

        Returns
        -------
        list of numpy.ndarray
            One array [events] per term.
        """
        flat, _, n = _flatten(self.point(params))
        return [t.signal(shifted_point(flat, t.parameter_shifts), n) for t in self.terms]

    def fit(self, params: Mapping | None = None) -> LikelihoodFit:
        """Profiled chi^2, per-term chi^2 and best-fit nuisances (arrays flattened to (n,)).

        Parameters
        ----------
        params : mapping of str to float or array_like, optional
            Physics parameter values (broadcast together), merged over :attr:`fixed`.

        Returns
        -------
        LikelihoodFit
        """
        flat, _, n = _flatten(self.point(params))
        return self._fit(flat, n, details=True)

    def chi2(self, params: Mapping | None = None) -> np.ndarray:
        """Profiled chi^2 at each point, with the broadcast shape of the parameter values (>= 1-D).

        Parameters
        ----------
        params : mapping of str to float or array_like, optional
            Physics parameter values (broadcast together), merged over :attr:`fixed`.

        Returns
        -------
        numpy.ndarray
            chi^2 = -2 ln L (up to a constant), dimensionless, nuisances profiled.
        """
        flat, shape, n = _flatten(self.point(params))
        if n <= self.chunk_points:
            return self._fit(flat, n, details=False).chi2.reshape(shape)
        out = np.empty(n)
        for start in range(0, n, self.chunk_points):
            stop = min(n, start + self.chunk_points)
            sub = {k: (v if np.ndim(v) == 0 else v[start:stop]) for k, v in flat.items()}
            out[start:stop] = self._fit(sub, stop - start, details=False).chi2
        return out.reshape(shape)

    def _value(self, args):
        return self.chi2(dict(zip(self._parameters, args)))

    @staticmethod
    def _value_of(flat: Mapping, name: str):
        """Value of a parameter among the points (by name or alias), else its default."""
        if name in flat:
            return flat[name]
        key = canonical_name(name)
        for k, v in flat.items():
            if canonical_name(k) == key:
                return v
        default = spec_for(name).default
        if default is None:
            raise ConfigError(f"no value for parameter {name!r} (it has no default)")
        return float(default)

    def _fit(self, flat: dict, n: int, details: bool) -> LikelihoodFit:
        chi2 = np.zeros(n)
        per, nuis = {}, {}
        joint_terms, joint_signals = [], {}
        shared_terms, shared_signals = [], {}
        cross = getattr(self, "_cross", None)
        held_terms = []
        for c in self.components:
            if not isinstance(c, Term):
                args = tuple(np.broadcast_to(self._value_of(flat, p), (n,)) for p in c.parameters)
                chi2 = chi2 + np.broadcast_to(c._value(args) / c.errordef, (n,))
                continue
            s = c.signal(shifted_point(flat, c.parameter_shifts), n)
            if c.joint:
                joint_terms.append(c)
                joint_signals[c.dataset] = s
                continue
            if getattr(c, "shared", None):   # template terms sharing nuisances: one joint profile
                shared_terms.append(c)
                shared_signals[c.dataset] = s
                continue
            if cross is not None and any(c is t for t in cross.terms):
                held_terms.append((c, s))
                continue
            value, fitted = c.chi2_of_signal(s, details=details)
            chi2 = chi2 + value
            per[c.dataset] = value
            nuis.update(fitted)
        if cross is not None:
            families = [held_family(t, s, cross.name) for t, s in held_terms]
            if cross.binned:
                families.append(binned_family(joint_terms, joint_signals, cross.name))
                joint_terms = []
            value, f, parts, fitted = profile_shared(families, n, cross.sigma, details)
            chi2 = chi2 + value
            per.update(parts)
            nuis.update(fitted)
            nuis[cross.name] = f - 1.0
        if joint_terms:
            datasets = [t.binned_dataset(joint_signals[t.dataset]) for t in joint_terms]
            res = binned.combined_chi2(datasets, joint_signals)
            chi2 = chi2 + res.chi2
            per.update(res.per_dataset)
            nuis.update(res.nuisances)
        if shared_terms:
            value, parts, fitted = type(shared_terms[0]).joint_chi2(shared_terms, shared_signals, details)
            chi2 = chi2 + value
            per.update(parts)
            nuis.update(fitted)
        return LikelihoodFit(chi2=np.asarray(chi2, dtype=float), per_experiment=per, nuisances=nuis)

    # ------------------------------------------------------------------ iminuit
    def cost(self, parameters: Sequence[str], fixed: Mapping | None = None,
             limits: Mapping | None = None) -> "Likelihood":
        """This likelihood with the named physics parameters free (an iminuit-usable cost, errordef 1).

        Parameters
        ----------
        parameters : sequence of str
            Physics parameters left free (valid parameter names).
        fixed : mapping, optional
            Values of further parameters (on top of ``fixed``).
        limits : mapping name -> (lo, hi), optional

        Returns
        -------
        Likelihood
            ``iminuit.Minuit(cost, name=start, ...)`` minimises the profiled chi^2.
        """
        names = _check_parameters(parameters)
        _check_parameters(dict(fixed or {}))
        out = Likelihood(list(self.terms), fixed={**self.fixed, **dict(fixed or {})}, parameters=names,
                         limits=limits)
        out.chunk_points = self.chunk_points
        # keep only the requested names, in the requested order
        out._parameters = {p: out._parameters.get(p) for p in names}
        return out

    # ------------------------------------------------------------------ description
    def nuisance_table(self) -> dict:
        """Nuisance name -> {"sigma", "applies_to": ["<label>/<component>", ...]}."""
        out: dict = {}
        for t in self.terms:
            for name, row in t.nuisance_table().items():
                if name in out:
                    out[name]["applies_to"].extend(row["applies_to"])
                else:
                    out[name] = {"sigma": row["sigma"], "applies_to": list(row["applies_to"])}
        return out

    def describe(self) -> list[dict]:
        """Per term: label, likelihood, data summary and every setting in use."""
        rows = []
        for t in self.terms:
            exp = t.experiment
            row = {"label": t.label, "dataset": t.dataset, "experiment": exp.name, "path": str(exp.path),
                   "likelihood": t.kind}
            row.update({k: v for k, v in t.describe().items() if k not in row})
            row["settings"] = exp.settings(self.fixed)
            rows.append(row)
        return rows
