"""The weak-mixing-angle figure: sin^2(theta_W) measured by each data set at its momentum transfer, with
the Standard-Model MS-bar running (figure kind ``weak_mixing_running``).

Each curve of the panel names a 1D ``sin2_theta_w`` scan and the experiments of its likelihood::

    curves = [{ scan = "sin2w_csi2017.sin2_theta_w", experiments = ["coherent-csi-2017"],
                label = "COHERENT CsI 2017", color = "C0", fmt = "o", cl = 0.6827 }]

The point is drawn at the event-weighted mean momentum transfer ``<|q|>`` of the experiment's SM
prediction (:func:`cevns.experiments.momentum.experiment_momentum_transfer_mev`, the same scale as the
``[running]`` option of analysis files; experiments of plug-in kinds that are not one rate engine, e.g.
``xenonnt-8b`` and ``solar-summary``, give it over their detected recoil spectrum) with horizontal bars over the
16-84% range of ``|q|``; a combination of several experiments at the geometric mean of theirs, the bar
spanning them. Vertical bars: the allowed interval at ``cl`` (default 68.27%) that contains the best fit. A scan of an
analysis with ``[running]`` (its fitted value is the one at a reference scale ``q_ref``) is drawn moved to
the point's ``q`` along the SM running: ``+ s2_run(q) - s2_run(q_ref)`` (``running_shift`` of the row).
The SM curve is :func:`cevns.physics.weak_mixing.sin2_theta_w_running` (leading-order running anchored
at 0.23857, Erler & Ramsey-Musolf 2005).
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from ..errors import ConfigError
from ..experiments import load_experiment
from ..experiments.momentum import experiment_momentum_transfer_mev
from ..physics.weak_mixing import M_Z_MEV, SIN2_THETA_W_Q0, sin2_theta_w_running
from ..plotting import new_figure
from .results import ScanOutput, cl_key

__all__ = ["weak_mixing_points", "compose_weak_mixing"]


def _q_of(names) -> tuple[float, float, float]:
    """(<q>, low, high) [MeV] of one experiment or a combination."""
    if isinstance(names, str):
        names = [names]
    if not names:
        raise ConfigError("a weak-mixing curve needs experiments = [...] (names of built-in experiments)")
    qs, lows, highs = [], [], []
    for n in names:
        q, lo, hi = experiment_momentum_transfer_mev(load_experiment(n))
        qs.append(q)
        lows.append(lo)
        highs.append(hi)
    if len(qs) == 1:
        return qs[0], lows[0], highs[0]
    return float(np.exp(np.mean(np.log(qs)))), min(qs), max(qs)


def _running_shift(scan: ScanOutput, q_mev: float) -> float:
    """``s2_run(q) - s2_run(q_ref)`` if the scan's analysis has ``[running]`` (its results' summary), else 0."""
    if not scan.running:
        return 0.0
    return float(sin2_theta_w_running(q_mev) - sin2_theta_w_running(float(scan.running["reference_q_mev"])))


def weak_mixing_points(spec: dict, scans: Mapping[str, ScanOutput]) -> list[dict]:
    """One row per curve: label, q and its range [MeV], best fit and the interval at ``cl``.

    Parameters
    ----------
    spec : dict
        The figure's entry of ``figures.toml`` (curves with their scans and labels).
    scans : mapping
        ``"<analysis>.<scan>"`` -> :class:`~cevns.papers.results.ScanOutput` (in-memory results).

    Returns
    -------
    list of dict
        ``{"label", "scan", "q_mev", "q_low_mev", "q_high_mev", "best_fit", "low", "high", "cl",
        "running_shift"}`` (values at ``q_mev``: moved by ``running_shift`` for ``[running]`` analyses).
    """
    rows = []
    for panel in spec.get("panels", []):
        for c in panel.get("curves", []):
            if c["scan"] not in scans:
                raise ConfigError(f"figure {spec.get('id')!r}: no scan {c['scan']!r} in this run")
            r = scans[c["scan"]].result
            key = cl_key(r["intervals"], float(c.get("cl", 0.6827)))
            best = float(r["best_fit"])
            pairs = r["intervals"][key] or [[best, best]]
            lo, hi = next(((a, b) for a, b in pairs if a <= best <= b), pairs[0])
            q, qlo, qhi = _q_of(c.get("experiments", []))
            shift = _running_shift(scans[c["scan"]], q)
            rows.append({"label": c.get("label", c["scan"]), "scan": c["scan"], "q_mev": q, "q_low_mev": qlo,
                         "q_high_mev": qhi, "best_fit": best + shift, "low": float(lo) + shift,
                         "high": float(hi) + shift, "cl": key, "running_shift": shift})
    return rows


def compose_weak_mixing(spec: dict, scans: Mapping[str, ScanOutput]):
    """sin^2(theta_W) vs momentum transfer: the data points and the SM running (kind ``weak_mixing_running``).

    Parameters
    ----------
    spec : dict
        The figure's entry of ``figures.toml``.
    scans : mapping
        ``"<analysis>.<scan>"`` -> :class:`~cevns.papers.results.ScanOutput` (in-memory results).

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig = new_figure(figsize=tuple(spec.get("figsize", (6.4, 4.6))))
    ax = fig.add_subplot()
    panels = spec.get("panels", [{}])
    panel = panels[0] if panels else {}
    q = np.geomspace(float(panel.get("q_min_mev", 1.0)), M_Z_MEV, 400)
    ax.plot(q, sin2_theta_w_running(q), "k-", lw=1.2,
            label=r"SM $\overline{\rm MS}$ running ($\sin^2\theta_W(0) = %.5f$)" % SIN2_THETA_W_Q0)
    style = {c["scan"]: c for p in panels for c in p.get("curves", [])}
    for n, row in enumerate(weak_mixing_points(spec, scans)):
        c = style[row["scan"]]
        ax.errorbar([row["q_mev"]], [row["best_fit"]],
                    yerr=[[row["best_fit"] - row["low"]], [row["high"] - row["best_fit"]]],
                    xerr=[[row["q_mev"] - row["q_low_mev"]], [row["q_high_mev"] - row["q_mev"]]],
                    fmt=c.get("fmt", "o"), color=c.get("color", f"C{n}"), ms=c.get("ms", 6), capsize=3,
                    label=f"{row['label']} ({100 * float(row['cl']):g}% CL)")
    ax.set_xscale("log")
    ax.set_xlabel(panel.get("xlabel", r"momentum transfer $|q|$ [MeV]"))
    ax.set_ylabel(panel.get("ylabel", r"$\sin^2\theta_W$"))
    if "ylim" in panel:
        ax.set_ylim(*panel["ylim"])
    if "title" in panel:
        ax.set_title(panel["title"], fontsize=9)
    ax.legend(fontsize=panel.get("legend_fontsize", 7), loc=panel.get("legend_loc", "best"))
    fig.tight_layout()
    return fig
