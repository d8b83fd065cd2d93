"""Correlated systematics of an analysis: ``[[correlations]]`` (see ``docs/analysis-format.md``).

A correlation maps nuisances of several experiment entries -- each named by the entry's label (or
experiment name) and the systematic's own name -- onto ONE global nuisance parameter with one prior
width. In the likelihood the members are renamed to the global name, so the binned terms are profiled
jointly over it (:func:`cevns.stats.binned.combined_chi2`: one ``theta`` scaling every member's
components). For two Gaussian counting experiments with signals ``s_i``, data ``d_i``, variances
``v_i`` and a common normalisation of width ``sigma`` the profiled chi^2 is then the closed form
``r^T (V + sigma^2 s s^T)^{-1} r`` with ``r = d - s - b``, ``V = diag(v)`` (tests/test_correlations.py).

Members may belong to different likelihood families (binned terms, template terms, terms profiled alone
such as the XENONnT 8B template term): the nuisance is then profiled outside the families
(:mod:`cevns.stats.cross_family`); template_poisson members share only with template_poisson members, and
at most one correlation may join several families (:func:`check_correlations`).
"""

from __future__ import annotations

import math

from ..stats.likelihood import LIKELIHOOD_KINDS, Term
from .schema import AnalysisSpec, _Problems

__all__ = ["member_entry", "member_family", "correlation_renames", "check_correlations", "correlations_summary"]


def member_entry(spec: AnalysisSpec, experiment: str) -> list[int]:
    """Indices of the entries whose label, or else experiment name, is ``experiment``.

    Parameters
    ----------
    spec : AnalysisSpec
        The analysis.
    experiment : str
        A member's experiment label (or name).
    """
    by_label = [i for i, e in enumerate(spec.experiments) if e.label == experiment]
    if by_label:
        return by_label
    return [i for i, e in enumerate(spec.experiments) if e.experiment == experiment]


def correlation_renames(spec: AnalysisSpec) -> dict[int, dict[str, tuple[str, float | None]]]:
    """Per entry index: ``{own nuisance name: (global name, sigma)}`` from ``[[correlations]]``.

    Members that do not pick exactly one entry are left out (:func:`check_correlations` reports them).

    Parameters
    ----------
    spec : AnalysisSpec
        The analysis with its ``[[correlations]]``.
    """
    out: dict[int, dict] = {}
    for c in spec.correlations:
        for m in c.members:
            idx = member_entry(spec, m.experiment)
            if len(idx) == 1:
                out.setdefault(idx[0], {})[m.nuisance] = (c.name, c.sigma)
    return out


def check_correlations(problems: _Problems, spec: AnalysisSpec, effective: dict[int, set] | None) -> None:
    """Add a problem for every member that names no / several entries, a nuisance the entry does not
    have (``effective``: entry index -> its systematic names, None for kinds without systematics), a
    nuisance in two correlations, or a global name that is also an unrelated nuisance of some entry.

    Parameters
    ----------
    problems : _Problems
        Collector of the analysis file's problems.
    spec : AnalysisSpec
        The analysis with its ``[[correlations]]``.
    effective : dict or None
        Entry index -> the names of its systematics (None for kinds without systematics).
    """
    seen: dict[tuple, str] = {}
    renamed: dict[int, set] = {}
    for k, c in enumerate(spec.correlations):
        for j, m in enumerate(c.members):
            loc = ["correlations", k, "members", j]
            idx = member_entry(spec, m.experiment)
            if len(idx) != 1:
                labels = [e.label or e.experiment for e in spec.experiments]
                what = "no" if not idx else f"{len(idx)} (give each a distinct label)"
                problems.add(loc + ["experiment"], f"{m.experiment!r} matches {what} experiment entries "
                             f"(labels: {labels})")
                continue
            i = idx[0]
            own = (effective or {}).get(i)
            if own is None:
                problems.add(loc, f"entry {m.experiment!r} has a likelihood without systematics; use "
                             "\"poisson\" or \"gaussian\" to correlate its nuisances")
                continue
            if not own:
                problems.add(loc, f"entry {m.experiment!r} ({spec.experiments[i].likelihood}) has no nuisance that "
                             "can be shared")
                continue
            if m.nuisance not in own:
                problems.add(loc + ["nuisance"], f"{m.experiment!r} has no systematic {m.nuisance!r} "
                             f"(it has: {sorted(own)})")
                continue
            if (i, m.nuisance) in seen:
                problems.add(loc, f"{m.experiment!r}/{m.nuisance} is already a member of {seen[(i, m.nuisance)]}")
            seen[(i, m.nuisance)] = f"correlation {c.name!r}"
            renamed.setdefault(i, set()).add(m.nuisance)
    _check_families(problems, spec)
    names = {c.name for c in spec.correlations}
    for i, own in (effective or {}).items():
        for n in (own or set()) - renamed.get(i, set()):
            if n in names:
                problems.add(["correlations"], f"the correlation name {n!r} is also an (uncorrelated) systematic "
                             f"of experiment entry {i}: choose another name")
    if len(names) != len(spec.correlations):
        problems.add(["correlations"], "two correlations have the same name")


def member_family(spec: AnalysisSpec, index: int) -> str:
    """The likelihood family of an experiment entry (how :class:`~cevns.stats.likelihood.Likelihood`
    profiles it): ``"binned"`` (``poisson``/``gaussian``, profiled jointly), ``"template"``
    (``template_poisson``, jointly when they share nuisances) or ``"term <label>"`` (profiled alone).

    Parameters
    ----------
    spec : AnalysisSpec
        The analysis.
    index : int
        Index of the entry in ``spec.experiments``.

    Returns
    -------
    str
    """
    e = spec.experiments[index]
    cls = LIKELIHOOD_KINDS.get(e.likelihood)
    if cls is not None and cls.joint:
        return "binned"
    if e.likelihood == "template_poisson":
        return "template"
    return f"term {e.label or e.experiment}"


def _check_families(problems: _Problems, spec: AnalysisSpec) -> None:
    """Correlations across likelihood families: allowed between binned terms and terms that can hold a
    nuisance fixed (:mod:`cevns.stats.cross_family`), at most one such correlation, never with template terms."""
    across = []
    for k, c in enumerate(spec.correlations):
        families = {}
        for m in c.members:
            idx = member_entry(spec, m.experiment)
            if len(idx) == 1:
                families.setdefault(member_family(spec, idx[0]), idx[0])
        if len(families) < 2:
            continue
        if "template" in families:
            problems.add(["correlations", k], f"correlation {c.name!r} mixes template_poisson members with "
                         "other likelihoods; a template term shares nuisances only with other template terms")
            continue
        for fam, i in families.items():
            cls = LIKELIHOOD_KINDS.get(spec.experiments[i].likelihood)
            if fam != "binned" and (cls is None or cls.chi2_held is Term.chi2_held):
                problems.add(["correlations", k], f"correlation {c.name!r}: the {spec.experiments[i].likelihood!r} "
                             f"term of {spec.experiments[i].label!r} cannot share a nuisance with terms of other "
                             "likelihood families")
        across.append(c.name)
    if len(across) > 1:
        problems.add(["correlations"], f"correlations {across} each join several likelihood families; only one "
                     "such correlation is supported (its nuisance is profiled outside the families)")


def correlations_summary(spec: AnalysisSpec) -> list[dict]:
    """The correlations as listed in ``results.json``: name, sigma, description and members as
    ``"<label>/<nuisance>"``.

    Parameters
    ----------
    spec : AnalysisSpec
        The analysis with its ``[[correlations]]``.
    """
    out = []
    for c in spec.correlations:
        members = []
        for m in c.members:
            idx = member_entry(spec, m.experiment)
            label = spec.experiments[idx[0]].label if len(idx) == 1 else m.experiment
            members.append(f"{label}/{m.nuisance}")
        out.append({"name": c.name, "sigma": None if c.sigma is None or math.isinf(c.sigma) else c.sigma,
                    "description": c.description, "members": members})
    return out
