"""Tables of the CEvNS prediction of the template experiment kinds at one physics point, with the
background expectations beside it (what ``cevns predict`` prints for them).

Two builders, each using only public methods of its kind:

* :func:`template_prediction_tables` -- ``coherent-template`` (COHERENT CsI 2021, LAr 2020): CEvNS per
  flavour on the analysis grid (PE x t, or energy x F90 x t), projected on each axis, the released
  background templates at their nominal normalisation, the observed counts;
* :func:`xenonnt_prediction_tables` -- ``xenonnt-8b``: CEvNS per solar component (8B, hep) per science
  run and analysis bin at nominal yields, the release's nominal backgrounds, the observed counts.

Every number is an expectation of the toolkit's model or a value of the release (the ``source`` texts say
which); the returned dicts hold plain floats and lists (JSON-compatible).
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from ..physics.parameters import PARAMETERS, PhysicsPoint
from .experiment import nuclei_settings

__all__ = ["resolved_parameters", "template_prediction_tables", "xenonnt_prediction_tables"]


def resolved_parameters(engine, params: Mapping | None = None) -> dict:
    """Every physics parameter of one point that has a value (given, engine default or registry default).

    Parameters
    ----------
    engine : RateEngine
        The engine whose defaults complete the point.
    params : mapping of str to float, optional
        Given parameter values.

    Returns
    -------
    dict
        Name -> value (a float, or a list for array values).
    """
    pt = PhysicsPoint(dict(params or {}), defaults=engine.defaults)
    out = {}
    for name in PARAMETERS:
        v = pt.get(name)
        if v is None:
            continue
        arr = np.atleast_1d(np.asarray(v, dtype=float))
        out[name] = float(arr[0]) if arr.size == 1 else arr.tolist()
    return out


def _projection(axis: dict, k: int, cevns: np.ndarray, backgrounds: dict, observed: np.ndarray) -> dict:
    """One table: the grids summed over every axis but ``k``, one row per bin of axis ``k``."""
    other = tuple(i for i in range(cevns.ndim) if i != k)
    edges = axis["edges"]
    cols = {"cevns": cevns.sum(axis=other)}
    cols.update({name: g.sum(axis=other) for name, g in backgrounds.items()})
    cols["observed"] = observed.sum(axis=other)
    rows = []
    for i in range(len(edges) - 1):
        row = {"low": float(edges[i]), "high": float(edges[i + 1])}
        row.update({name: float(v[i]) for name, v in cols.items()})
        rows.append(row)
    unit = f" [{axis['unit']}]" if axis["unit"] else ""
    return {"title": f"per {axis['name']} bin{unit}", "axis": axis["name"], "unit": axis["unit"],
            "columns": list(cols), "rows": rows}


def _window(axes: list) -> str:
    """``0-60 PE x 0-6 us`` from the axis edges."""
    parts = []
    for ax in axes:
        e = ax["edges"]
        parts.append(f"{e[0]:g}-{e[-1]:g}" + (f" {ax['unit']}" if ax["unit"] else f" {ax['name'].upper()}"))
    return " x ".join(parts)


def template_prediction_tables(exp, params: Mapping | None = None) -> dict:
    """CEvNS prediction and background expectations of a ``coherent-template`` experiment at one point.

    CEvNS: :meth:`~cevns.experiments.coherent_template.CoherentTemplateExperiment.cevns_flavor_grid`
    (the nominal template, split by flavour); its relative uncertainty is
    :meth:`~cevns.experiments.coherent_template.CoherentTemplateExperiment.prediction_uncertainty`
    (CsI: SNS flux 10 % and the count changes of the QF and efficiency nuisances at +-1 sigma, in
    quadrature; LAr: the released prediction's 17 / 128). Backgrounds:
    :meth:`~cevns.experiments.coherent_template.CoherentTemplateExperiment.background_expectations`.

    Parameters
    ----------
    exp : CoherentTemplateExperiment
        The experiment.
    params : mapping of str to float, optional
        Physics parameters of one point (engine defaults for the rest).

    Returns
    -------
    dict
        ``total``, ``window``, ``by_flavor``, ``uncertainty``, ``backgrounds`` (name -> events, source),
        ``observed``, ``tables`` (one projection per grid axis: rows with ``low``, ``high`` and one column
        per component), ``grid`` (axes, shape and every component on the full grid), ``parameters``.
    """
    params = dict(params or {})
    flavors, grid = exp.cevns_flavor_grid(params)
    by_flavor = grid[0]
    cevns = by_flavor.sum(axis=0)
    total = float(cevns.sum())
    bgs = exp.background_expectations()
    bg_grids = {name: g for name, (g, _) in bgs.items()}
    observed = np.asarray(exp.observed_grid, dtype=float)
    axes = exp.axes
    rel = float(exp.prediction_uncertainty(params))
    includes = ("SNS neutrino flux (10 %), quenching principal components and energy efficiency at +-1 sigma, "
                "in quadrature" if exp.is_csi else
                "the released prediction's relative uncertainty (17 / 128), applied to this prediction")
    return {
        "kind": "coherent-template",
        "total": total,
        "window": _window(axes),
        "by_flavor": {f: float(by_flavor[i].sum()) for i, f in enumerate(flavors)},
        "uncertainty": {"relative": rel, "events": rel * total, "includes": includes},
        "backgrounds": {name: {"events": float(g.sum()), "source": src} for name, (g, src) in bgs.items()},
        "observed": {"events": float(observed.sum()), "what": ("observed beam-on coincidence events" if exp.is_csi
                                                              else "observed events (released data)")},
        "tables": [_projection(ax, k, cevns, bg_grids, observed) for k, ax in enumerate(axes)],
        "grid": {"axes": axes, "shape": list(cevns.shape), "cevns": cevns.tolist(),
                 "backgrounds": {name: g.tolist() for name, g in bg_grids.items()}, "observed": observed.tolist()},
        "parameters": resolved_parameters(exp.engine, params),
        "nuclei": nuclei_settings(exp.engine, PhysicsPoint(params, defaults=exp.engine.defaults)),
    }


def xenonnt_prediction_tables(exp, params: Mapping | None = None) -> dict:
    """CEvNS prediction and background expectations of a ``xenonnt-8b`` experiment at one point.

    CEvNS per solar component, run and analysis bin at the SSM fluxes and nominal yields
    (:meth:`~cevns.experiments.xenonnt_8b.kind.XenonntExperiment.signal_events_by_component`). Its
    relative uncertainty adds in quadrature the SSM flux uncertainties of the components and half the
    count change between the release's light-yield (tly) and charge-yield (tqy) templates at +1 and -1 sigma.
    Backgrounds: the release's nominal AC, ER and neutron templates (tly = tqy = 0) times the exposures.

    Parameters
    ----------
    exp : XenonntExperiment
        The experiment.
    params : mapping of str to float, optional
        Physics parameters of one point (Standard Model by default).

    Returns
    -------
    dict
        ``total``, ``window``, ``by_component``, ``uncertainty``, ``backgrounds``, ``observed``, ``tables``
        (one row per science run), ``grid`` (per run and analysis bin), ``parameters``.
    """
    params = dict(params or {})
    comps = exp.signal_events_by_component(params)
    cevns = sum(comps.values())
    total = float(cevns.sum())
    flux_var = sum((float(v.sum()) * exp.ssm_flux_cm2_s[c][1]) ** 2 for c, v in comps.items())
    yield_var = 0.0
    for key in ("tly", "tqy"):
        up = exp.signal_events(params, **{key: 1.0}).sum()
        dn = exp.signal_events(params, **{key: -1.0}).sum()
        yield_var += (0.5 * float(up - dn)) ** 2
    rel = float(np.sqrt(flux_var + yield_var) / total) if total > 0 else 0.0
    bgs = exp.backgrounds
    observed = np.asarray(exp.observed, dtype=float)
    runs = list(exp.runs)
    sizes = [int(np.size(t.observed)) for t in exp.runs.values()]
    cuts = np.cumsum(sizes)[:-1]

    def per_run(a):
        return np.split(np.asarray(a, dtype=float), cuts)

    columns = {f"cevns_{c}": per_run(v) for c, v in comps.items()}
    columns["cevns"] = per_run(cevns)
    columns.update({name: per_run(v) for name, v in bgs.items()})
    columns["observed"] = per_run(observed)
    rows = []
    for i, r in enumerate(runs):
        row = {"label": r, "exposure_t_yr": float(exp.runs[r].exposure_t_yr)}
        row.update({name: float(v[i].sum()) for name, v in columns.items()})
        rows.append(row)
    src = "the release's nominal template (tly = tqy = 0) x exposure"
    return {
        "kind": "xenonnt-8b",
        "total": total,
        "window": (f"science runs {'+'.join(r.upper() for r in runs)} ("
                   + ", ".join(map(str, sizes)) + " analysis bins)"),
        "by_component": {c: float(v.sum()) for c, v in comps.items()},
        "uncertainty": {"relative": rel, "events": rel * total,
                        "includes": "SSM flux (" + exp.spec.solar_model + ") and the release's light/charge-yield "
                                    "templates at +-1 sigma, in quadrature"},
        "backgrounds": {name: {"events": float(v.sum()), "source": src} for name, v in bgs.items()},
        "observed": {"events": float(observed.sum()), "what": "observed events in the analysis bins"},
        "tables": [{"title": "per science run", "axis": "run", "unit": "",
                    "columns": ["exposure_t_yr"] + list(columns), "rows": rows}],
        "grid": {"axes": [{"name": "run", "unit": "", "labels": runs},
                          {"name": "bin", "unit": "analysis bin (release order)", "sizes": sizes}],
                 "cevns": {c: [x.tolist() for x in per_run(v)] for c, v in comps.items()},
                 "backgrounds": {name: [x.tolist() for x in per_run(v)] for name, v in bgs.items()},
                 "observed": [x.tolist() for x in per_run(observed)]},
        "parameters": resolved_parameters(exp.engine, params),
        "nuclei": nuclei_settings(exp.engine, PhysicsPoint(params, defaults=exp.engine.defaults)),
    }
