"""Likelihoods of analyses: experiments -> vectorised chi^2 over physics-parameter points.

For every experiment of an analysis (:mod:`cevns.analysis`) one term is built:

* ``single_bin_pulls``: the COHERENT 2017 counting chi^2 (PHYSICS.md section 7; Papoulias & Kosmas
  arXiv:1711.09773 Eq. 6; COHERENT arXiv:1708.01294)

      chi2 = min_{alpha,beta} [ (N_meas - N_th (1 + alpha) - B_on (1 + beta))^2 / sigma_stat^2
                                + (alpha / sigma_alpha)^2 + (beta / sigma_beta)^2 ],
      sigma_stat^2 = N_meas + 2 B_ss + B_on,

  with ``N_meas`` the background-subtracted data summed over bins, ``B_on`` the background named in the
  experiment's ``[statistics.single_bin]``, ``B_ss`` the subtracted sideband; minimised in closed form
  (:func:`cevns.stats.pulls.chi2_single_bin_pulls`). ``N_th`` comes from ``RateEngine.total`` (kernels
  summed over bins first: the fast path).
* ``single_bin_stat``: the same without pulls (:func:`cevns.stats.pulls.chi2_single_bin_stat_only`).
* ``poisson`` / ``gaussian``: binned spectral chi^2 (Baker-Cousins or Gaussian) with fractional
  normalisation nuisances (the experiment's ``[[systematics]]`` plus the analysis' ones), profiled by
  :func:`cevns.stats.binned.combined_chi2` (closed form if every spectral term is Gaussian, vectorised
  Newton otherwise). A subtracted sideband (COHERENT anti-coincidence) is added back to the data and
  enters as a known background ``steady_state``, so the Poisson statistic sees raw counts; the Gaussian
  variance is ``data + sideband`` per bin (``variance = "data"``, i.e. observed + 2 x sideband for the
  subtracted data; bins where it vanishes use the expectation) or ``expectation + sideband``
  (``variance = "expected"``).

Nuisances of all spectral terms with the same name are one shared (fully correlated) parameter, e.g. a
reactor-flux normalisation common to CONUS and CONNIE (Canas et al. arXiv:1911.09831). The terms add:
``chi2 = sum_single-bin chi2_i + min_theta [sum_spectral chi2_d + priors]``.

Data: ``observed`` or ``asimov`` (Cowan et al. arXiv:1007.1727): ``data_scale x signal(asimov point)
+ backgrounds (+ sideband)``, with the Asimov point = the analysis' ``[fixed]`` updated by the entry's
``asimov_parameters``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from ..errors import ConfigError, ParameterError
from ..physics.parameters import PhysicsPoint
from . import binned, pulls
from .cost import FunctionCost

__all__ = ["Likelihood", "LikelihoodFit", "build_likelihood", "DEFAULT_CHUNK"]

#: Points evaluated at once inside :meth:`Likelihood.chi2` (bounds the memory of spectral terms).
DEFAULT_CHUNK = 1 << 17


@dataclass
class _Term:
    """One experiment of the likelihood."""

    index: int
    label: str
    dataset: str
    kind: str  # single_bin_pulls | single_bin_stat | poisson | gaussian
    experiment: object
    entry: object
    # single bin
    n_meas: float = 0.0
    b_on: float = 0.0
    b_ss: float = 0.0
    sigma_alpha: float = 0.0
    sigma_beta: float = 0.0
    background_name: str = ""
    # spectral
    observed: np.ndarray | None = None  # raw counts (sideband added back)
    backgrounds: dict = field(default_factory=dict)
    nuisances: list = field(default_factory=list)
    data_variance: np.ndarray | None = None
    sideband: np.ndarray | None = None

    @property
    def single_bin(self) -> bool:
        return self.kind in ("single_bin_pulls", "single_bin_stat")


@dataclass
class LikelihoodFit:
    """Profiled chi^2 and best-fit nuisances at each point.

    Attributes
    ----------
    chi2 : ndarray (n_points,)
    per_experiment : dict label-index -> ndarray (n_points,)
        Data term of each experiment (single-bin: including its pull priors).
    nuisances : dict name -> ndarray (n_points,)
        Spectral nuisances (shared names once) and single-bin pulls ``"<dataset>:alpha"``/``":beta"``.
    """

    chi2: np.ndarray
    per_experiment: dict
    nuisances: dict


class Likelihood:
    """chi^2 of an analysis as a function of physics parameters (nuisances profiled).

    Build it with :func:`build_likelihood`. ``chi2(params)`` takes a mapping ``name -> float or array``
    (arrays broadcast together; any shape) merged over the analysis' ``[fixed]`` parameters.

    Attributes
    ----------
    spec : AnalysisSpec
    experiments : list of Experiment
        The built experiments, in the order of the analysis file.
    fixed : dict
        Physics parameters fixed by the analysis.
    """

    def __init__(self, spec, experiments: Sequence, terms: Sequence[_Term]):
        self.spec = spec
        self.experiments = list(experiments)
        self.terms = list(terms)
        self.fixed = dict(spec.fixed)
        self.chunk_points = DEFAULT_CHUNK
        self._spectral = [t for t in self.terms if not t.single_bin]

    # ------------------------------------------------------------------ evaluation
    def point(self, params: Mapping | None = None) -> dict:
        """The full parameter mapping: ``[fixed]`` updated by ``params``."""
        out = dict(self.fixed)
        out.update(dict(params or {}))
        return out

    def _flatten(self, params: Mapping | None):
        full = self.point(params)
        arrays = {k: np.asarray(v, dtype=float) for k, v in full.items()}
        shape = np.broadcast_shapes(*[a.shape for a in arrays.values()]) if arrays else ()
        shape = shape if len(shape) else (1,)
        n = int(np.prod(shape))
        flat = {}
        for k, a in arrays.items():
            flat[k] = float(a) if a.ndim == 0 else np.broadcast_to(a, shape).reshape(-1)
        return flat, shape, n

    def signals(self, params: Mapping | None = None) -> list[np.ndarray]:
        """Predicted CEvNS signal of each term: single-bin (n,) totals, spectral (n, n_bins)."""
        flat, _, n = self._flatten(params)
        return self._signals(flat, n)

    def _signals(self, flat: dict, n: int) -> list[np.ndarray]:
        out = []
        for t in self.terms:
            eng = t.experiment.engine
            pt = PhysicsPoint(flat, defaults=eng.defaults)
            if t.single_bin:
                s = np.broadcast_to(eng.total(pt), (n,))
            else:
                s = np.broadcast_to(eng.predict(pt).per_bin, (n, eng.n_bins))
            out.append(s)
        return out

    def fit(self, params: Mapping | None = None) -> LikelihoodFit:
        """Profiled chi^2, per-experiment terms and best-fit nuisances (arrays flattened to (n,))."""
        flat, _, n = self._flatten(params)
        return self._fit(flat, n, details=True)

    def chi2(self, params: Mapping | None = None) -> np.ndarray:
        """Profiled chi^2 at each point, with the broadcast shape of the parameter values (>= 1-D)."""
        flat, shape, n = self._flatten(params)
        if n <= self.chunk_points:
            return self._fit(flat, n, details=False).chi2.reshape(shape)
        out = np.empty(n)
        for start in range(0, n, self.chunk_points):
            stop = min(n, start + self.chunk_points)
            sub = {k: (v if np.ndim(v) == 0 else v[start:stop]) for k, v in flat.items()}
            out[start:stop] = self._fit(sub, stop - start, details=False).chi2
        return out.reshape(shape)

    __call__ = chi2

    def _fit(self, flat: dict, n: int, details: bool) -> LikelihoodFit:
        sigs = self._signals(flat, n)
        chi2 = np.zeros(n)
        per, nuis = {}, {}
        spectral = {}
        for t, s in zip(self.terms, sigs):
            if t.kind == "single_bin_pulls":
                if details:
                    c, a, b = pulls.chi2_single_bin_pulls(s, t.n_meas, t.b_on, t.b_ss, t.sigma_alpha,
                                                          t.sigma_beta, return_pulls=True)
                    nuis[f"{t.dataset}:alpha"] = a
                    nuis[f"{t.dataset}:beta"] = b
                else:
                    c = pulls.chi2_single_bin_pulls(s, t.n_meas, t.b_on, t.b_ss, t.sigma_alpha, t.sigma_beta)
                chi2 = chi2 + c
                per[t.dataset] = c
            elif t.kind == "single_bin_stat":
                c = pulls.chi2_single_bin_stat_only(s, t.n_meas, t.b_on, t.b_ss)
                chi2 = chi2 + c
                per[t.dataset] = c
            else:
                spectral[t.dataset] = s
        if spectral:
            datasets = [self._dataset(t, spectral[t.dataset]) for t in self._spectral]
            res = binned.combined_chi2(datasets, spectral)
            chi2 = chi2 + res.chi2
            per.update(res.per_dataset)
            nuis.update(res.nuisances)
        return LikelihoodFit(chi2=np.asarray(chi2, dtype=float), per_experiment=per, nuisances=nuis)

    def _dataset(self, t: _Term, signal: np.ndarray) -> binned.BinnedDataset:
        variance = None
        if t.kind == "gaussian":
            nominal = signal + sum(t.backgrounds.values()) if t.backgrounds else signal
            ss = 0.0 if t.sideband is None else t.sideband
            if t.entry.variance == "expected":
                variance = nominal + ss
            else:
                variance = np.where(t.data_variance > 0, t.data_variance, nominal + ss)
        return binned.BinnedDataset(name=t.dataset, observed=t.observed, backgrounds=t.backgrounds,
                                    statistic="gaussian" if t.kind == "gaussian" else "poisson",
                                    variance=variance, nuisances=t.nuisances)

    # ------------------------------------------------------------------ iminuit
    def cost(self, parameters: Sequence[str], fixed: Mapping | None = None,
             limits: Mapping | None = None) -> FunctionCost:
        """An iminuit-usable cost (errordef 1) of the named parameters, the others fixed.

        Parameters
        ----------
        parameters : sequence of str
            Physics parameters left free (valid parameter names).
        fixed : mapping, optional
            Values of further parameters (on top of the analysis' ``[fixed]``).
        limits : mapping name -> (lo, hi), optional

        Returns
        -------
        cevns.stats.cost.FunctionCost
            ``iminuit.Minuit(cost, name=start, ...)`` minimises the profiled chi^2.
        """
        from ..physics.parameters import spec_for

        names = [str(p) for p in parameters]
        for p in names:
            spec_for(p)
        extra = dict(fixed or {})
        for p in extra:
            spec_for(p)

        def f(**kw):
            return self.chi2({**extra, **kw})

        return FunctionCost(f, names, limits=limits, errordef=1.0)

    # ------------------------------------------------------------------ description
    @property
    def labels(self) -> list[str]:
        return [t.label for t in self.terms]

    def nuisance_table(self) -> dict:
        """Nuisance name -> {"sigma", "applies_to": ["<label>/<component>", ...]} (spectral terms)."""
        out: dict = {}
        for t in self._spectral:
            for nu in t.nuisances:
                row = out.setdefault(nu.name, {"sigma": None if np.isinf(nu.sigma) else nu.sigma, "applies_to": []})
                row["applies_to"].extend(f"{t.label}/{c}" for c in nu.applies_to)
        for t in self.terms:
            if t.kind == "single_bin_pulls":
                out[f"{t.dataset}:alpha"] = {"sigma": t.sigma_alpha, "applies_to": [f"{t.label}/signal"]}
                out[f"{t.dataset}:beta"] = {"sigma": t.sigma_beta, "applies_to": [f"{t.label}/{t.background_name}"]}
        return out

    def describe(self) -> list[dict]:
        """Per experiment: label, likelihood, data summary and every setting in use."""
        rows = []
        for t in self.terms:
            exp = t.experiment
            row = {"label": t.label, "dataset": t.dataset, "experiment": exp.name, "path": str(exp.path),
                   "likelihood": t.kind, "data": t.entry.data, "settings": exp.settings(self.fixed)}
            if t.single_bin:
                row["single_bin"] = {"n_meas": t.n_meas, "b_on": t.b_on, "b_ss": t.b_ss,
                                     "sigma_alpha": t.sigma_alpha, "sigma_beta": t.sigma_beta}
            else:
                row["observed"] = t.observed.tolist()
                row["backgrounds"] = {k: np.asarray(v).tolist() for k, v in t.backgrounds.items()}
            rows.append(row)
        return rows


# ----------------------------------------------------------------------------------------------
# construction
# ----------------------------------------------------------------------------------------------
def build_likelihood(spec, base_dir=None) -> Likelihood:
    """Build the likelihood of an analysis.

    Parameters
    ----------
    spec : AnalysisSpec, path or mapping
        The analysis (see :func:`cevns.analysis.load_analysis`).
    base_dir : str or Path, optional
        For a path / mapping: folder against which experiment paths are resolved.

    Returns
    -------
    Likelihood
    """
    from ..analysis import load_analysis
    from ..experiments import load_experiment

    spec = load_analysis(spec, base_dir=base_dir)
    experiments, terms = [], []
    for i, e in enumerate(spec.experiments):
        where = f"{spec.source}: experiments[{i}]"
        try:
            exp = load_experiment(e.experiment, overrides=e.overrides or None, settings=e.settings or None)
        except (ConfigError, ParameterError) as exc:
            raise ConfigError(f"{where}: {exc}") from None
        experiments.append(exp)
        try:
            terms.append(_build_term(i, e, exp, spec))
        except (ValueError, ParameterError) as exc:
            raise ConfigError(f"{where}: {exc}") from None
    return Likelihood(spec, experiments, terms)


def _build_term(i: int, e, exp, spec) -> _Term:
    dataset = f"e{i}"
    t = _Term(index=i, label=e.label or exp.name, dataset=dataset, kind=e.likelihood, experiment=exp, entry=e)
    asimov_signal = None
    if e.data == "asimov":
        pt = PhysicsPoint({**spec.fixed, **e.asimov_parameters}, defaults=exp.engine.defaults)
        asimov_signal = e.data_scale * exp.engine.predict(pt).per_bin[0]
    elif exp.observed is None:
        raise ValueError(f"experiment {exp.name!r} has no observed data; use data = \"asimov\"")
    if t.single_bin:
        sb = exp.spec.statistics.single_bin
        if sb is None:
            raise ValueError(f"experiment {exp.name!r} has no [statistics.single_bin]")
        if sb.background not in exp.backgrounds:
            raise ValueError(f"single-bin background {sb.background!r} not among {sorted(exp.backgrounds)}")
        t.b_on = float(np.sum(exp.backgrounds[sb.background]))
        t.b_ss = 0.0 if exp.sideband is None else float(np.sum(exp.sideband))
        t.n_meas = float(np.sum(exp.observed)) if asimov_signal is None else float(asimov_signal.sum() + t.b_on)
        t.sigma_alpha = float(sb.sigma_signal)
        t.sigma_beta = float(sb.sigma_background)
        t.background_name = sb.background
        if t.n_meas + 2 * t.b_ss + t.b_on <= 0:
            raise ValueError("single-bin sigma_stat^2 = N_meas + 2 B_ss + B_on is not positive")
        return t
    bkgs = {k: np.asarray(v, dtype=float) for k, v in exp.backgrounds.items()}
    if exp.sideband is not None:
        bkgs["steady_state"] = np.asarray(exp.sideband, dtype=float)
        t.sideband = bkgs["steady_state"]
    bkg_total = sum(bkgs.values()) if bkgs else 0.0
    if asimov_signal is None:
        raw = np.asarray(exp.observed, dtype=float) + (0.0 if exp.sideband is None else exp.sideband)
    else:
        raw = asimov_signal + bkg_total
    if np.any(raw < 0):
        raise ValueError(f"experiment {exp.name!r}: negative raw counts {raw.min()} in the data")
    t.observed = raw
    t.backgrounds = bkgs
    t.data_variance = raw + (0.0 if exp.sideband is None else exp.sideband)
    nuis = {}
    if e.use_experiment_systematics:
        for s in exp.spec.systematics:
            nuis[s.name] = binned.Nuisance(s.name, s.sigma, tuple(s.applies_to))
    for s in e.systematics:
        nuis[s.name] = binned.Nuisance(s.name, s.sigma, tuple(s.applies_to))
    t.nuisances = list(nuis.values())
    # validate components now (raises ValueError with the component names)
    binned.BinnedDataset(name=dataset, observed=raw, backgrounds=bkgs,
                         statistic="gaussian" if t.kind == "gaussian" else "poisson",
                         variance=np.ones_like(raw) if t.kind == "gaussian" else None, nuisances=t.nuisances)
    return t
