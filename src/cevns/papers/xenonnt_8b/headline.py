"""XENONnT solar-8B reproduction: the 8B flux fits of SR0+SR1 and SR0-SR2, their headline numbers and figures.

For each data set the built-in ``xenonnt-8b`` experiment (with ``runs`` overridden) is fitted with the 8B
flux free and every nuisance profiled (:func:`cevns.stats.solar_flux_fit.measure_flux`). Written into the
paper's ``results.json`` as ``headline[<data set>]`` = ``{"fitted_8b_flux_1e6_cm2_s": [value, minus, plus],
"significance_sigma", "observed_events", "expected_background_events"}`` next to the published values, and
drawn as data vs best fit projected on each of the four observables and as the profile of the flux.

Published (SR0+SR1): XENON, PRL 133, 191002 (2024), arXiv:2408.02877: 37 events, background
26.4 (+1.4 -1.3), 2.73 sigma, flux 4.7 (+3.6 -2.3) x 1e6 cm^-2 s^-1. SR0-SR2: arXiv:2604.06002 (its numbers
could not be retrieved here; none is quoted).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ...experiments import load_experiment
from ...experiments.xenonnt_8b.release import OBSERVABLES
from ...io import save_figure
from ...plotting.figures import new_figure
from ...stats.solar_flux_fit import measure_flux
from ...stats.solar_term import likelihood_sigmas, profiler_of

__all__ = ["DATA_SETS", "PUBLISHED", "fit_data_set", "reproduce_headline"]

DATA_SETS = ("sr0+sr1", "sr0-sr2")
#: Published headline numbers (see the module docstring); None where not available.
PUBLISHED = {
    "sr0+sr1": {"fitted_8b_flux_1e6_cm2_s": [4.7, 2.3, 3.6], "significance_sigma": 2.73, "observed_events": 37,
                "expected_background_events": [26.4, 1.3, 1.4],
                "reference": "XENON, PRL 133, 191002 (2024), arXiv:2408.02877"},
    "sr0-sr2": None,
}
_LABELS = {"cs2": "cS2 [PE]", "s2_shadow_s2_time_shadow_quantile": "S2-shadow quantile",
           "s1_bdt_score": "S1 BDT score", "s2_bdt_score": "S2 BDT score"}


def fit_data_set(runs: str, experiment: str = "xenonnt-8b") -> dict:
    """Fit one data set: headline, the measurement and the per-component expectations at the best fit.

    Parameters
    ----------
    runs : str
        Science-run selection (``"sr0+sr1"``, ``"sr0-sr2"``, ...), an override of the experiment file.
    experiment : str
        The ``xenonnt-8b`` experiment (name or path).
    """
    exp = load_experiment(experiment, overrides={"runs": runs})
    sigmas = likelihood_sigmas(exp.spec.likelihood)
    sigmas["8B"] = math.inf  # the flux is measured
    prof = profiler_of(exp, sigmas)
    rates = exp.recoil_rates()
    meas = measure_flux(prof, rates, exp.ssm_flux_cm2_s["8B"][0] / 1e6)
    background = float(sum(v.sum() for v in exp.backgrounds.values()))
    parts = prof.expected_by_component(rates, meas.nuisances)
    return {"experiment": exp, "measurement": meas, "components": parts,
            "headline": meas.headline(exp.observed.sum(), background)}


def _projection_figure(name: str, fit: dict):
    exp = fit["experiment"]
    fig = new_figure((11.0, 7.6))
    axes = fig.subplots(2, 2)
    runs = list(exp.runs.values())
    for k, ax in enumerate(axes.ravel()):
        other = tuple(a for a in range(4) if a != k)
        obs = sum(np.asarray(t.observed).sum(axis=other) for t in runs)
        comps: dict = {}
        for t, part in zip(runs, fit["components"]):
            for c, v in part.items():
                comps[c] = comps.get(c, 0.0) + v.reshape(3, 3, 3, 3).sum(axis=other)
        x = np.arange(3)
        bottom = np.zeros(3)
        for c, color in (("ac", "0.75"), ("er", "C0"), ("neutron", "C2"), ("hep", "C4"), ("8B", "C3")):
            if c in comps:
                ax.bar(x, comps[c], bottom=bottom, color=color, alpha=0.8, width=0.9,
                       label={"8B": "8B CEvNS (fit)", "hep": "hep CEvNS"}.get(c, c.upper() if c != "neutron"
                                                                             else "neutrons"))
                bottom = bottom + comps[c]
        ax.errorbar(x, obs, yerr=np.sqrt(np.maximum(obs, 1.0)), fmt="ko", label="data")
        edges = runs[0].bin_edges[k]
        ax.set_xticks(x, [f"[{edges[i]:.3g}, {edges[i + 1]:.3g})" for i in range(3)], fontsize=8)
        ax.set_xlabel(_LABELS.get(OBSERVABLES[k], OBSERVABLES[k]))
        ax.set_ylabel("events")
        if k == 0:
            ax.legend(fontsize=8)
    fig.suptitle(f"XENONnT {name}: data vs best fit (8B flux "
                 f"{fit['measurement'].best:.2f} x 1e6 cm$^{{-2}}$ s$^{{-1}}$), projections of the 81 bins")
    return fig


def _profile_figure(fits: dict):
    fig = new_figure((6.4, 4.6))
    ax = fig.subplots()
    for n, (name, fit) in enumerate(fits.items()):
        m = fit["measurement"]
        ax.plot(m.flux_grid, m.delta_chi2, color=f"C{n}", label=f"{name}: {m.best:.2f} "
                f"(-{m.best - m.lower:.2f} +{m.upper - m.best:.2f}), {m.significance:.2f} sigma")
    pub = PUBLISHED["sr0+sr1"]["fitted_8b_flux_1e6_cm2_s"]
    ax.errorbar([pub[0]], [1.0], xerr=[[pub[1]], [pub[2]]], fmt="ks", ms=4, capsize=3,
                label="PRL 133, 191002 (SR0+SR1)")
    ax.axvline(5.46, color="k", ls=":", lw=0.8, label="B16-GS98 SSM 5.46")
    ax.axhline(1.0, color="0.5", lw=0.6)
    ax.set_xlim(0, 16)
    ax.set_ylim(0, 10)
    ax.set_xlabel(r"8B flux [$10^6$ cm$^{-2}$ s$^{-1}$]")
    ax.set_ylabel(r"$\Delta\chi^2$ (nuisances profiled)")
    ax.set_title("XENONnT: profile of the solar 8B flux")
    ax.legend(fontsize=7)
    return fig


def reproduce_headline(folder, log=None) -> dict:
    """Fit every data set, draw the figures into ``folder``; return ``{"results": ..., "figures": [...]}``.

    ``log``: optional callable receiving progress lines.
    """
    folder = Path(folder)
    fits = {name: fit_data_set(name) for name in DATA_SETS}
    figures = []
    specs = [(f"fit_{n.replace('+', '_').replace('-', '_to_')}_observables", _projection_figure(n, f),
              f"Data vs fit, {n}", "Observed events and the best-fit expectation by component, projected on "
              "each observable (sum over runs).") for n, f in fits.items()]
    specs.append(("flux_profile", _profile_figure(fits), "Profile of the 8B flux",
                  "Delta-chi2 of the 8B flux with every nuisance profiled; the published SR0+SR1 interval."))
    for stem, fig, title, caption in specs:
        files = [folder / f"{stem}.png", folder / f"{stem}.pdf"]
        save_figure(fig, files[0], dpi=150)
        save_figure(fig, files[1])
        figures.append({"stem": stem, "title": title, "caption": caption, "files": [str(p) for p in files]})
        if log:
            log(f"[xenonnt-8b] wrote {stem}.png/.pdf")
    headline = {n: f["headline"] for n, f in fits.items()}
    nuis = {n: f["measurement"].nuisances for n, f in fits.items()}
    return {"results": {"headline": headline, "published": PUBLISHED, "best_fit_nuisances": nuis,
                        "extra_figures": [f["stem"] for f in figures]},
            "figures": figures}
