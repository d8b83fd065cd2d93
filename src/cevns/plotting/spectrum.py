"""Plots of predicted spectra against data (matplotlib ``Figure`` objects, no pyplot state)."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np

from ..io import save_figure
from .figures import new_figure

__all__ = ["spectrum_data", "plot_spectrum"]


def spectrum_data(experiment, params: Mapping | None = None, low: float | None = None, high: float | None = None):
    """Predicted counts per bin, data and errors on the experiment's bin width over [low, high].

    Parameters
    ----------
    experiment : Experiment
        A loaded experiment.
    params : mapping, optional
        Physics parameters (default: Standard Model).
    low, high : float, optional
        Observable range to keep (observable units; default all bins).
    """
    edges = experiment.bin_edges
    width = float(edges[1] - edges[0])
    lo = edges[0] if low is None else low
    hi = edges[-1] if high is None else high
    n = int(round((hi - lo) / width))
    new_edges = lo + width * np.arange(n + 1)
    exp = experiment if np.array_equal(new_edges, edges) else experiment.with_bins(new_edges)
    pred = exp.predict(params or {})
    out = {"edges": new_edges, "signal": pred.per_bin[0], "by_flavor": {f: pred.counts[0, i] for i, f in enumerate(pred.flavors)},
           "background": exp.total_background(), "observed": exp.observed, "error": None}
    if exp.observed is not None:
        var = exp.observed + (2 * exp.sideband if exp.sideband is not None else 0)
        out["error"] = np.sqrt(np.clip(var, 0, None))
    return out


def plot_spectrum(experiment, params: Mapping | None, out: str | Path, low=None, high=None, ax=None, title=None):
    """Predicted CEvNS spectrum (per flavour and total, plus backgrounds) against the data.

    Draws on ``ax`` if given (``out`` is then ignored), else saves a new figure to ``out``. Returns the
    arrays of :func:`spectrum_data`.

    Parameters
    ----------
    experiment : Experiment
        A loaded experiment.
    params : mapping or None
        Physics parameters (None: Standard Model).
    out : str or Path
        Output image path (ignored when ``ax`` is given).
    low, high : float, optional
        Observable range (observable units).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on.
    title : str, optional
        Axes title.
    """
    d = spectrum_data(experiment, params, low, high)
    own = ax is None
    if own:
        fig = new_figure(figsize=(6.4, 4.4))
        ax = fig.add_subplot()
    e = d["edges"]
    mids = 0.5 * (e[1:] + e[:-1])
    total = d["signal"] + d["background"]
    ax.stairs(total, e, color="C0", lw=2, label="CEvNS + background" if np.any(d["background"]) else "CEvNS")
    ax.stairs(d["signal"], e, color="C1", lw=1.2, ls="--", label="CEvNS (SM)")
    if np.any(d["background"]):
        ax.stairs(d["background"], e, color="0.5", lw=1, label="beam-on background")
    if d["observed"] is not None:
        ax.errorbar(mids, d["observed"], yerr=d["error"], fmt="ko", ms=4, label="data (C - AC)")
    obs = experiment.spec.detector.observable
    ax.set_xlabel({"pe": "photoelectrons", "kevee": "energy [keVee]", "kevnr": "recoil [keVnr]"}[obs])
    ax.set_ylabel(f"events / {e[1] - e[0]:g} {obs.upper() if obs == 'pe' else obs}")
    ax.axhline(0, color="k", lw=0.5)
    ax.set_title(title or experiment.title, fontsize=9)
    ax.legend(fontsize=8)
    if own:
        fig.tight_layout()
        save_figure(fig, out, dpi=150)
    return d
