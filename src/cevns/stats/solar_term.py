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

Data: observed counts, or Asimov = ``data_scale x`` the CEvNS signal at the Asimov point (SSM fluxes,
nominal yields) + the nominal backgrounds.
"""

from __future__ import annotations

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

    Keys ``flux_8b_sigma``, ``hep_sigma``, ``ac_sigma``, ``er_sigma``, ``neutron_sigma``, ``signal_sigma``;
    values a positive number or ``"free"``; ``ac_sigma`` may also be a table run -> value. ``where`` prefixes
    error messages.
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
    """The :class:`TemplateProfiler` of a built ``xenonnt-8b`` experiment; ``sigmas`` (default: the
    experiment's ``[likelihood]`` table, :func:`likelihood_sigmas`) are the constraints."""
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

    Parameters
    ----------
    experiment : XenonntExperiment
    label : str
        Name of the term in outputs.
    dataset : str
        Prefix of its nuisance names (``"<dataset>:<name>"``).
    observed : array_like
        Counts per bin, runs concatenated.
    data : {"observed", "asimov"}
    sigmas : mapping, optional
        Constraints (:func:`likelihood_sigmas`).
    parameters : sequence of str
        Physics parameters of the scan.
    fixed : mapping, optional
        Fixed physics parameters.
    """

    kind = "xenonnt_8b"
    signal_shape = "spectrum"
    data_kinds = ("observed", "asimov")

    def __init__(self, experiment, label, dataset, *, observed, data="observed", sigmas=None, parameters=(),
                 fixed=None):
        super().__init__(experiment, label, dataset, parameters=parameters, fixed=fixed)
        self.profiler = profiler_of(experiment, sigmas)
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
        """Build from a ``xenonnt-8b`` experiment with ``label``, ``dataset`` and ``fixed`` as in the class;
        ``asimov``: the CEvNS signal per bin (runs concatenated), None for the observed counts."""
        cls._check(experiment)
        if asimov is None:
            obs, data = experiment.observed, "observed"
        else:
            obs, data = np.asarray(asimov, dtype=float) + sum(experiment.backgrounds.values()), "asimov"
        return cls(experiment, label, dataset, observed=obs, data=data, fixed=fixed)

    @classmethod
    def asimov_signal(cls, experiment, params: Mapping) -> np.ndarray:
        """CEvNS events per bin of ``experiment`` (runs concatenated) at the point ``params``, SSM fluxes and
        nominal yields."""
        cls._check(experiment)
        return experiment.signal_events(dict(params))

    def signal(self, flat: Mapping, n: int) -> np.ndarray:
        """Recoil rates of the components side by side, (n, n_components x 46), at the ``flat`` physics points."""
        pt = PhysicsPoint(dict(flat), defaults=self.experiment.engine.defaults)
        rates = self.experiment.recoil_rates(pt)
        return np.broadcast_to(np.concatenate([rates[c] for c in self.profiler.components], axis=1),
                               (n, len(self.profiler.components) * self.profiler.n_energy))

    def chi2_of_signal(self, signal: np.ndarray, details: bool = False):
        """Profiled chi^2 (n,) of the recoil-rate ``signal`` rows and, if ``details``, the nuisances
        (``"<dataset>:<name>"``)."""
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
        fitted = {f"{self.dataset}:{k}": v[inverse] for k, v in nuis.items()} if details else {}
        return chi2[inverse], fitted

    def nuisance_table(self) -> dict:
        """Nuisance name -> {"sigma", "applies_to"}."""
        s = self.profiler.sigmas
        out = {}
        for k in self.profiler.names:
            key = {"signal_eff": "signal"}.get(k, k if k.startswith("ac_") else k.replace("flux_", ""))
            sig = 1.0 if k in ("tly", "tqy") else s[key]
            out[f"{self.dataset}:{k}"] = {"sigma": None if math.isinf(sig) else sig,
                                          "applies_to": [f"{self.label}/{k}"]}
        return out

    def describe(self) -> dict:
        """Label, kind, data kind and summary."""
        return {**super().describe(), "data": self.data, "observed_events": float(self.observed.sum()),
                "runs": [r.name for r in self.profiler.runs],
                "constraints": {k: (None if math.isinf(v) else v) for k, v in self.profiler.sigmas.items()}}
