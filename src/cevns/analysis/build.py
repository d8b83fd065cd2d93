"""Build the likelihood of an analysis: one registered term per experiment entry, summed.

Each entry of ``[[experiments]]`` becomes an instance of the :class:`~cevns.stats.likelihood.Term`
class registered under its ``likelihood`` kind, built from the (cached) experiment with its data:
``observed``, or ``asimov`` (Cowan et al. arXiv:1007.1727) = ``data_scale x`` the signal at the
analysis' ``[fixed]`` point updated by ``asimov_parameters``. The terms are summed into a
:class:`~cevns.stats.likelihood.Likelihood` (binned terms profiled jointly over shared nuisances).

:func:`scan_inputs` is the picklable builder a dask worker calls (through
:mod:`cevns.stats.executors`) to rebuild the likelihood and grid of one scan from the resolved
analysis.
"""

from __future__ import annotations

import hashlib
import json
from functools import partial

from ..errors import CevnsError, ConfigError
from ..stats import binned
from ..stats.cost import GaussianPrior
from ..stats.executors import ChunkJob
from ..stats.likelihood import Likelihood, term_class
from ..stats.parameter_shifts import shifted_point
from ..stats.scan import ScanGrid
from .correlations import correlation_renames
from .resolve import get_experiment, load_analysis
from .running import running_shifts
from .schema import AnalysisSpec, profile_axes, scan_axes

__all__ = ["build_likelihood", "make_grid", "scan_inputs", "chunk_job", "analysis_key"]


def _nuisances(entry, exp, renames=None) -> list:
    """The entry's nuisances; members of ``[[correlations]]`` renamed to the global name and sigma."""
    nuis = {}
    if entry.use_experiment_systematics:
        for s in getattr(getattr(exp, "spec", None), "systematics", ()):
            nuis[s.name] = binned.Nuisance(s.name, s.sigma, tuple(s.applies_to))
    for s in entry.systematics:
        nuis[s.name] = binned.Nuisance(s.name, s.sigma, tuple(s.applies_to))
    for own, (name, sigma) in dict(renames or {}).items():
        if own in nuis:
            nuis[own] = binned.Nuisance(name, sigma, nuis[own].applies_to)
    return list(nuis.values())


def _with_running(term, shifts) -> None:
    """``[running]``: the term sees ``sin2_theta_w`` run to its momentum transfer (:mod:`.running`)."""
    if shifts:
        term.parameter_shifts = tuple(shifts)


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
        With ``spec`` attached (the resolved analysis).
    """
    spec = load_analysis(spec, base_dir=base_dir)
    terms = []
    renames = correlation_renames(spec)
    shifts = running_shifts(spec)
    for i, e in enumerate(spec.experiments):
        where = f"{spec.source}: experiments[{i}]"
        try:
            exp = get_experiment(e.experiment, e.overrides or None, e.settings or None)
            cls = term_class(e.likelihood)
            asimov = None
            if e.data == "asimov":
                truth = shifted_point({**spec.fixed, **e.asimov_parameters}, shifts.get(i, ()))
                asimov = e.data_scale * cls.asimov_signal(exp, truth)
            terms.append(cls.from_experiment(exp, label=e.label or exp.name, dataset=f"e{i}", asimov=asimov,
                                             fixed=spec.fixed, nuisances=_nuisances(e, exp, renames.get(i)), variance=e.variance,
                                             correlations=renames.get(i)))
            _with_running(terms[-1], shifts.get(i, ()))
        except CevnsError as exc:
            raise ConfigError(f"{where}: {exc}") from None
        except ValueError as exc:
            raise ConfigError(f"{where}: {exc}") from None
    priors = [GaussianPrior(c.parameter, c.mean, c.sigma) for c in spec.constraints]
    try:
        lik = Likelihood(terms + priors, fixed=spec.fixed)
    except ValueError as exc:
        raise ConfigError(f"{spec.source}: {exc}") from None
    lik.spec = spec
    return lik


def make_grid(scan) -> ScanGrid:
    """The :class:`~cevns.stats.scan.ScanGrid` of a :class:`~cevns.analysis.schema.ScanSpec`."""
    return ScanGrid(names=list(scan.parameters), axes=scan_axes(scan),
                    profile_names=[p.parameter for p in scan.profile], profile_axes=profile_axes(scan),
                    fixed=dict(scan.fixed))


def analysis_key(analysis: dict) -> str:
    """SHA-256 of a resolved analysis dict."""
    return hashlib.sha256(json.dumps(analysis, sort_keys=True, default=str).encode()).hexdigest()


def scan_inputs(analysis: dict, scan_name: str):
    """``(likelihood, grid)`` of one scan, rebuilt from the resolved analysis dict (for remote workers).

    Parameters
    ----------
    analysis : dict
        The resolved analysis (``AnalysisSpec.to_dict()``, JSON-compatible).
    scan_name : str
        Name of the scan.

    Returns
    -------
    (Likelihood, ScanGrid)
    """
    spec = load_analysis(analysis)
    return build_likelihood(spec), make_grid(spec.scan(scan_name))


def chunk_job(spec: AnalysisSpec, scan, likelihood=None, grid=None) -> ChunkJob:
    """The :class:`~cevns.stats.executors.ChunkJob` of a scan: a picklable builder plus, in process, the
    already-built likelihood and grid.

    Parameters
    ----------
    spec : AnalysisSpec
        The resolved analysis.
    scan : ScanSpec
        The scan.
    likelihood : Likelihood, optional
        Already built likelihood (used in process).
    grid : ScanGrid, optional
        Already built grid (used in process).

    Returns
    -------
    ChunkJob
        Keyed by the SHA-256 of the resolved analysis and the scan name.
    """
    d = json.loads(json.dumps(spec.to_dict()))
    return ChunkJob(key=f"{analysis_key(d)}:{scan.name}", build=partial(scan_inputs, d, scan.name),
                    likelihood=likelihood, grid=grid)
