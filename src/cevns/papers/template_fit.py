"""Reproduction of a data-set paper by a template fit (COHERENT CsI 2021, LAr 2020).

A paper whose ``figures.toml`` names ``[paper] fit = "<analysis file>"`` gets, besides its scans, the
figures of kinds :data:`FIT_FIGURE_KINDS` it declares (``[[figures]]`` with ``id``, ``kind``, ``title``,
``caption``):

* ``fit_projections``: data against the best fit projected on each observable (PE and time for
  CsI; energy, F90 and time for LAr), components stacked, residuals ``(data - fit) / sqrt(fit)`` below;
* ``fit_cevns_profile``: Delta-chi2 of the number of CEvNS events, every other nuisance profiled
  (vectorised Newton profile at fixed ``s_cevns``), with the published value;
* the ``headline`` block of ``results.json``: ``sm_predicted_events``, ``fitted_cevns_events``
  ``[value, minus, plus]`` (events at the best-fit nuisances, relative MINOS errors of ``s_cevns``),
  ``significance_sigma`` (likelihood ratio against no CEvNS) and
  ``flux_averaged_cross_section_1e-40cm2`` ``[value, minus, plus]`` = the SM flux-averaged cross section of
  the toolkit (:meth:`~cevns.experiments.coherent_template.CoherentTemplateExperiment.sm_flux_averaged_cross_section_cm2`)
  times fitted / predicted events, as COHERENT derive it (arXiv:2110.07730); its uncertainty adds the
  relative uncertainty of the predicted count (flux, QF, efficiency:
  :meth:`~cevns.experiments.coherent_template.CoherentTemplateExperiment.prediction_uncertainty`) in
  quadrature to the fit's.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..analysis.fit import fit_analysis
from ..errors import ConfigError
from ..experiments.coherent_data import read_3d_table
from ..io import save_figure
from ..plotting.figures import new_figure
from ..stats.template_profile import expected_counts, profile_templates

__all__ = ["run_template_fit", "axes_of", "FIT_FIGURE_KINDS"]

#: Figure kinds of figures.toml drawn by the template fit (not by the scan composers).
FIT_FIGURE_KINDS = ("fit_projections", "fit_cevns_profile")

_COLORS = {"cevns": "C3", "brn": "C1", "prompt_brn": "C1", "nin": "C2", "delayed_brn": "C2", "steady_state": "0.7"}


def axes_of(exp) -> list[tuple[str, np.ndarray]]:
    """``(label, edges)`` of each observable axis of a template experiment (in the order of its grid).

    Parameters
    ----------
    exp : CoherentTemplateExperiment
        A ``coherent-template`` experiment.

    Returns
    -------
    list of (str, ndarray)
        CsI: PE and reconstructed time [us]; LAr: energy [keVee], F90 (dimensionless; edges midway between
        the released bin centres, the outer ones mirrored) and time [us].
    """
    m = exp.model
    if exp.is_csi:
        return [("PE", m.pe_edges), ("t_rec [us]", m.t_edges_us)]
    _, f90, _, _ = read_3d_table(m._file(m.inputs.data))
    mid = 0.5 * (f90[1:] + f90[:-1])
    f_edges = np.concatenate([[2 * f90[0] - mid[0]], mid, [2 * f90[-1] - mid[-1]]])
    return [("E [keVee]", np.asarray(m.inputs.energy_edges_kevee, float)), ("F90", f_edges),
            ("t [us]", np.asarray(m.inputs.time_edges_us, float))]


def _projections(path: Path, exp, counts: dict, observed: np.ndarray, title: str) -> None:
    axes = axes_of(exp)
    shape = exp.shape
    fig = new_figure(figsize=(4.2 * len(axes), 5.2))
    order = ["steady_state"] + [k for k in counts if k not in ("steady_state", "cevns")] + ["cevns"]
    order = [k for k in order if k in counts]
    for i, (label, edges) in enumerate(axes):
        other = tuple(j for j in range(len(shape)) if j != i)
        ax = fig.add_axes([0.06 + i / len(axes) * 0.95, 0.34, 0.9 / len(axes) - 0.06, 0.56])
        rax = fig.add_axes([0.06 + i / len(axes) * 0.95, 0.1, 0.9 / len(axes) - 0.06, 0.2], sharex=ax)
        base = np.zeros(len(edges) - 1)
        for k in order:
            v = counts[k].reshape(shape).sum(axis=other)
            ax.stairs(base + v, edges, baseline=base, fill=True, color=_COLORS.get(k, None), alpha=0.8, label=k)
            base = base + v
        obs = observed.reshape(shape).sum(axis=other)
        mids = 0.5 * (edges[1:] + edges[:-1])
        ax.errorbar(mids, obs, yerr=np.sqrt(obs), fmt="k.", label="data")
        ax.set_ylabel("events per bin")
        ax.tick_params(labelbottom=False)
        res = np.divide(obs - base, np.sqrt(base), out=np.zeros_like(base), where=base > 0)
        rax.axhline(0.0, color="k", lw=0.8)
        rax.plot(mids, res, "k.")
        rax.set_xlabel(label)
        rax.set_ylabel("(data-fit)/sqrt(fit)")
        if i == 0:
            ax.legend(fontsize=8)
    fig.suptitle(title)
    for suffix, kw in ((".png", {"dpi": 150}), (".pdf", {})):
        save_figure(fig, path.with_suffix(suffix), **kw)


def _profile(path: Path, term, tf, best_x, n_sm: float, published, title: str) -> dict:
    arrays = tf._arrays[0]
    sl = tf._slices[0]
    s_best = best_x[sl][0]
    s = np.linspace(0.0, max(2.2 * s_best, 0.5), 221)
    res = profile_templates(arrays, s.size, start=best_x[sl], fixed={"s_cevns": s})
    dchi2 = res.chi2 - res.chi2.min()
    events = s * n_sm
    fig = new_figure(figsize=(6.0, 4.4))
    ax = fig.add_subplot(111)
    ax.plot(events, dchi2, "C0-", label="this toolkit (all nuisances profiled)")
    if published:
        v, lo, hi = published
        ax.axvline(v, color="k", ls="--", lw=0.8, label=f"published {v:g} -{lo:g} +{hi:g}")
        ax.axvspan(v - lo, v + hi, color="0.85")
    ax.axhline(1.0, color="0.5", lw=0.6)
    ax.set_ylim(0, min(30.0, float(dchi2.max())))
    ax.set_xlabel("CEvNS events")
    ax.set_ylabel(r"$\Delta\chi^2$")
    ax.set_title(title)
    ax.legend(fontsize=8)
    for suffix, kw in ((".png", {"dpi": 150}), (".pdf", {})):
        save_figure(fig, path.with_suffix(suffix), **kw)
    return {"cevns_events": events.tolist(), "dchi2": dchi2.tolist()}


def run_template_fit(info, folder: Path) -> dict:
    """Fit the paper's ``fit`` analysis file and write its fit figures in ``folder`` (module docstring).

    The flux-averaged cross section is ``<sigma> = <sigma>_SM N_fit / N_SM`` with relative uncertainties
    ``hypot(MINOS_s / s, rel_pred)`` (COHERENT, arXiv:2110.07730).

    Parameters
    ----------
    info : Paper
        The paper (:class:`cevns.papers.registry.Paper`); uses ``folder``, ``fit``, ``fit_published``
        and the ``[[figures]]`` of kinds :data:`FIT_FIGURE_KINDS`.
    folder : pathlib.Path
        Output folder of the figures (PNG and PDF), created if needed.

    Returns
    -------
    dict
        ``headline`` (``sm_predicted_events``, ``fitted_cevns_events`` [value, minus, plus],
        ``significance_sigma`` and, if published, the flux-averaged cross section [1e-40 cm^2]),
        ``published``, ``fit`` (:func:`cevns.analysis.fit.fit_analysis` result), ``profile``
        (``cevns_events`` and ``dchi2`` lists, or None) and ``figures`` (stem, title, caption, files).

    Raises
    ------
    ConfigError
        No such analysis file, or an analysis with more than one template experiment.
    """
    path = info.folder / info.fit
    if not path.is_file():
        raise ConfigError(f"{info.folder / 'figures.toml'}: [paper] fit: no analysis file {info.fit!r}")
    res, tf, _ = fit_analysis(path, keep=True)
    if len(tf.terms) != 1:
        raise ConfigError(f"{path}: a paper fit uses one template experiment")
    term = tf.terms[0]
    x = np.array([row["value"] for row in res["parameters"].values()])
    arrays = tf._arrays[0]
    n_sm = float(np.sum(arrays.nominal[0]))
    sc = res["parameters"]["s_cevns"]
    lo, hi = sc["minos"] if sc.get("minos") else (sc["error"], sc["error"])
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    counts = expected_counts(arrays, x[tf._slices[0]])
    published = info.fit_published.get("fitted_cevns_events")
    figures, prof = [], None
    for spec in info.figures:
        if spec["kind"] not in FIT_FIGURE_KINDS:
            continue
        stem = folder / spec["id"]
        if spec["kind"] == "fit_projections":
            _projections(stem, term.experiment, counts, arrays.observed, spec["title"])
        else:
            prof = _profile(stem, term, tf, x, n_sm, published, spec["title"])
        figures.append({"stem": spec["id"], "title": spec["title"], "caption": spec["caption"],
                        "files": [str(stem.with_suffix(".png")), str(stem.with_suffix(".pdf"))]})
    n_fit = res["events"][term.label]["cevns"]["value"]        # events at the best-fit nuisances
    rel_lo, rel_hi = lo / sc["value"], hi / sc["value"]        # MINOS, relative
    headline = {"sm_predicted_events": n_sm,
                "fitted_cevns_events": [n_fit, rel_lo * n_fit, rel_hi * n_fit],
                "significance_sigma": res["significance_sigma"]}
    if "flux_averaged_cross_section_1e-40cm2" in info.fit_published:
        sin2 = float(tf.spec.fixed.get("sin2_theta_w", 0.23857))
        sig = term.experiment.sm_flux_averaged_cross_section_cm2(sin2) / 1e-40
        rel = term.experiment.prediction_uncertainty(dict(tf.spec.fixed))
        v = sig * n_fit / n_sm
        headline["flux_averaged_cross_section_1e-40cm2"] = [v, float(v * np.hypot(rel_lo, rel)),
                                                             float(v * np.hypot(rel_hi, rel))]
        headline["sm_flux_averaged_cross_section_1e-40cm2"] = sig
        headline["prediction_relative_uncertainty"] = rel
    return {"headline": headline, "published": dict(info.fit_published), "fit": res, "profile": prof,
            "figures": figures}
