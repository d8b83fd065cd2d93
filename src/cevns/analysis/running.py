"""The weak mixing angle shared through its Standard-Model running: ``[running]`` (``docs/analysis-format.md``).

Experiments measure ``sin^2(theta_W)`` at different momentum transfers (SNS on CsI/Ar ~50-60 MeV,
reactors ~10 MeV, solar 8B on xenon ~15-20 MeV). With::

    [running]
    sin2_theta_w = { reference = "Q0" }      # or "MZ", or a momentum transfer [MeV]

the fitted ``sin2_theta_w`` is the MS-bar value at the reference scale ``q_ref`` and experiment entry ``i``
uses, in its (tree-level) couplings,

    s^2_i = s^2_ref + [s^2_run(q_i) - s^2_run(q_ref)]

with ``s^2_run`` the leading-order running of :func:`cevns.physics.weak_mixing.sin2_theta_w_running`
(anchored at 0.23857 for q -> 0) and ``q_i`` the entry's ``momentum_transfer_mev``: by default the
event-weighted mean |q| of its SM prediction (:func:`cevns.experiments.momentum.experiment_momentum_transfer_mev`),
computed once when the analysis is resolved and written into the resolved analysis. Where the point does
not give ``sin2_theta_w`` the reference value is the SM one, ``s^2_run(q_ref)``, so each experiment sees
``s^2_run(q_i)``. Asimov data are generated with the same shifts. Gaussian ``[[constraints]]`` on
``sin2_theta_w`` apply to the reference value.

Size: the shifts are -5.6e-5 (CONUS+, 11.8 MeV) to -8.5e-5 (CsI 2021, 58 MeV) for ``reference = "Q0"``,
far below the >= 0.02 uncertainties of the CEvNS measurements. Running per recoil energy (the q of each
node instead of the mean) changes the event-averaged shift by less than 6e-7 (CsI 2017, CsI 2021,
LAr 2020, CONUS+; tests/test_running.py), so the mean |q| is used.
"""

from __future__ import annotations

import math

from ..errors import CevnsError
from ..experiments.momentum import experiment_momentum_transfer_mev
from ..physics.weak_mixing import M_Z_MEV, sin2_theta_w_running
from ..stats.parameter_shifts import ParameterShift
from .schema import AnalysisSpec, _Problems, reference_scale_mev

__all__ = ["RUNNING_PARAMETER", "check_running", "running_shifts", "running_summary"]

#: The one parameter ``[running]`` knows.
RUNNING_PARAMETER = "sin2_theta_w"


def _coupling_scheme(exp):
    """The experiment's coupling scheme ("tree", "radiative"), None if it does not say."""
    try:
        settings = exp.settings()
    except (AttributeError, TypeError, CevnsError, ValueError):
        return None
    physics = settings.get("physics", settings) if isinstance(settings, dict) else {}
    return physics.get("coupling_scheme") if isinstance(physics, dict) else None


def check_running(problems: _Problems, spec: AnalysisSpec, experiments: dict) -> None:
    """Check ``[running]`` and fill every entry's ``momentum_transfer_mev`` (once, in place).

    Without ``[running]``, an entry's ``momentum_transfer_mev`` is a mistake (it would have no effect).
    With it: every entry must use tree-level couplings (the ``radiative`` scheme already holds the
    low-energy corrections: running on top would count them twice) and have a momentum transfer in
    [0, M_Z]; a missing one is the event-weighted mean |q| of the experiment's SM prediction.

    Parameters
    ----------
    problems : _Problems
        Collector of the analysis file's problems.
    spec : AnalysisSpec
        The analysis (entries resolved).
    experiments : dict
        Entry index -> its built experiment (entries that failed to build are absent).
    """
    if spec.running is None:
        for i, e in enumerate(spec.experiments):
            if e.momentum_transfer_mev is not None:
                problems.add(["experiments", i, "momentum_transfer_mev"], "is only used by [running] (add "
                             "[running] sin2_theta_w = { reference = \"Q0\" }, or remove it)")
        return
    for i, e in enumerate(spec.experiments):
        loc = ["experiments", i]
        exp = experiments.get(i)
        if exp is None:
            continue
        scheme = _coupling_scheme(exp)
        if scheme not in (None, "tree"):
            problems.add(loc + ["settings"], f"[running] sin2_theta_w needs tree-level couplings, but "
                         f"{e.label or e.experiment!r} uses coupling_scheme = {scheme!r} (it already contains the "
                         "low-energy corrections); set settings = { coupling_scheme = \"tree\" }")
        q = e.momentum_transfer_mev
        if q is None:
            try:
                q = experiment_momentum_transfer_mev(exp)[0]
            except CevnsError as exc:
                problems.add(loc, f"[running] needs the experiment's momentum transfer: {exc} (or give "
                             "momentum_transfer_mev)")
                continue
            e.momentum_transfer_mev = q
        if not (math.isfinite(q) and 0.0 <= q <= M_Z_MEV):
            problems.add(loc + ["momentum_transfer_mev"], f"must be in [0, M_Z = {M_Z_MEV}] MeV, got {q}")


def _rows(spec: AnalysisSpec):
    """(reference, q_ref [MeV], s2_run(q_ref), [(entry, q_i, s2_run(q_i))])."""
    ref = spec.running.sin2_theta_w.reference
    q_ref = reference_scale_mev(ref)
    s_ref = float(sin2_theta_w_running(q_ref))
    rows = [(e, float(e.momentum_transfer_mev), float(sin2_theta_w_running(e.momentum_transfer_mev)))
            for e in spec.experiments]
    return ref, q_ref, s_ref, rows


def running_shifts(spec: AnalysisSpec) -> dict[int, tuple]:
    """Per entry index: its :class:`~cevns.stats.parameter_shifts.ParameterShift` of ``sin2_theta_w``.

    ``delta_i = s2_run(q_i) - s2_run(q_ref)``, default (point without ``sin2_theta_w``) ``s2_run(q_ref)``.
    Empty without ``[running]``.

    Parameters
    ----------
    spec : AnalysisSpec
        The resolved analysis (entries' ``momentum_transfer_mev`` filled by :func:`check_running`).

    Returns
    -------
    dict of int to tuple of ParameterShift
        One one-element tuple per entry.
    """
    if spec.running is None:
        return {}
    _, _, s_ref, rows = _rows(spec)
    return {i: (ParameterShift(RUNNING_PARAMETER, s_i - s_ref, s_ref),) for i, (_, _, s_i) in enumerate(rows)}


def running_summary(spec: AnalysisSpec) -> dict | None:
    """``[running]`` as listed in ``results.json`` and ``analysis.resolved.json`` (None without it).

    Parameters
    ----------
    spec : AnalysisSpec
        The resolved analysis.

    Returns
    -------
    dict or None
        ``{"parameter", "reference", "reference_q_mev", "sm_value_at_reference", "running",
        "experiments": [{"label", "q_mev", "sm_value", "shift"}, ...]}``; ``shift`` is what entry's
        couplings add to the fitted (reference-scale) value.
    """
    if spec.running is None:
        return None
    ref, q_ref, s_ref, rows = _rows(spec)
    return {"parameter": RUNNING_PARAMETER, "reference": ref, "reference_q_mev": q_ref,
            "sm_value_at_reference": s_ref,
            "running": "leading-order MS-bar running anchored at sin2_theta_w(0) = 0.23857 "
                       "(cevns.physics.weak_mixing, Erler & Ramsey-Musolf arXiv:hep-ph/0409169)",
            "experiments": [{"label": e.label or e.experiment, "q_mev": q, "sm_value": s, "shift": s - s_ref}
                            for e, q, s in rows]}
