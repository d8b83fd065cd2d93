"""Plots of scans: Delta-chi^2 profiles, allowed regions and exclusion curves (matplotlib).

The three ``plot_*`` functions draw on a given ``Axes`` so that they can be combined in composite
figures (e.g. the paper reproductions); :func:`save_scan_figure` makes the standard figure of one scan
of an analysis (PNG + PDF).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Mapping

import numpy as np

from ..io import save_figure
from ..physics.parameters import LEPTONS, QUARKS
from .figures import new_figure

__all__ = ["plot_profile_1d", "plot_region_2d", "plot_exclusion", "save_scan_figure", "parameter_label"]

_LINESTYLES = ["-", "--", ":", "-."]

#: LaTeX labels of common parameters (anything else is shown by name).
_LABELS = {
    "sin2_theta_w": r"$\sin^2\theta_W$",
    "rn": r"$R_n$ [fm]",
    "dm41_sq": r"$\Delta m^2_{41}$ [eV$^2$]",
    "mu_nu": r"$\mu_\nu$ [$\mu_B$]",
    "zprime_mass": r"$m_{Z'}$ [MeV]",
    "zprime_coupling": r"$g_\nu g_q$ ($Z'$)",
    "scalar_mass": r"$m_\phi$ [MeV]",
    "scalar_coupling": r"$g_\nu g_q$ ($\phi$)",
    "sin2_2theta": r"$\sin^2 2\theta$",
}


_LEPTON_TEX = {"e": "e", "mu": r"\mu", "tau": r"\tau"}
_LEPTON = "|".join(LEPTONS)
#: NSI coupling names eps_<a><b>_<q><V|T> (cevns.physics.parameters).
_EPS_NAME = re.compile(rf"^eps_({_LEPTON})({_LEPTON})_([{''.join(QUARKS)}])([VT])$")


def parameter_label(name: str) -> str:
    """A plot label for a physics parameter name (LaTeX where known)."""
    if name in _LABELS:
        return _LABELS[name]
    m = _EPS_NAME.match(name)
    if m:
        a, b, q, k = m.groups()
        return rf"$\varepsilon_{{{_LEPTON_TEX[a]}{_LEPTON_TEX[b]}}}^{{{q}{k}}}$"
    m = re.match(r"^rn_([A-Z][a-z]?)(\d+)$", name)
    if m:
        return rf"$R_n(^{{{m.group(2)}}}{m.group(1)})$ [fm]"
    patterns = ((r"^u_(e|mu|tau)4_sq$", r"$|U_{{{}4}}|^2$"),
                (r"^mu_nu_(e|mu|tau)$", r"$\mu_{{\nu_{}}}$ [$\mu_B$]"),
                (r"^r2_nu_(e|mu|tau)$", r"$\langle r^2_{{\nu_{}}}\rangle$ [cm$^2$]"))
    for pattern, template in patterns:
        m = re.match(pattern, name)
        if m:
            return template.format(_LEPTON_TEX[m.group(1)])
    return name


def _threshold_items(thresholds):
    """Normalise thresholds to a list of (label, value)."""
    if isinstance(thresholds, Mapping):
        out = []
        for k, v in thresholds.items():
            try:
                lab = f"{100 * float(k):g}% CL"
            except (TypeError, ValueError):
                lab = str(k)
            out.append((lab, float(v)))
        return out
    vals = np.atleast_1d(np.asarray(thresholds, dtype=float))
    return [(None, float(v)) for v in vals]


def plot_profile_1d(ax, x, dchi2, thresholds, label=None, **kw):
    """Draw a Delta-chi^2 profile with horizontal lines at the thresholds.

    Parameters
    ----------
    ax : matplotlib Axes
    x, dchi2 : array_like
        Scan grid and Delta chi^2.
    thresholds : float, sequence of float, or mapping CL -> threshold
        Levels drawn as dotted lines (labelled "90% CL" etc. for a mapping).
    label : str, optional
        Legend label of the curve.
    **kw
        Passed to ``ax.plot`` (color, ls, lw, ...).

    Returns
    -------
    matplotlib Line2D
    """
    x = np.asarray(x, dtype=float)
    d = np.asarray(dchi2, dtype=float)
    (line,) = ax.plot(x, np.where(np.isfinite(d), d, np.nan), label=label, **kw)
    items = _threshold_items(thresholds)
    for lab, t in items:
        ax.axhline(t, color="0.45", ls=":", lw=0.9, zorder=0)
        if lab:
            ax.annotate(lab, xy=(1.0, t), xycoords=("axes fraction", "data"), xytext=(-3, 2),
                        textcoords="offset points", ha="right", va="bottom", fontsize=7, color="0.35")
    ax.set_ylim(0.0, max([t for _, t in items] + [1.0]) * 2.2)
    ax.set_ylabel(r"$\Delta\chi^2$")
    return line


def plot_region_2d(ax, x, y, dchi2_grid, threshold, label=None, filled=False, **kw):
    """Draw the allowed region ``Delta chi^2 <= threshold`` of a 2D scan.

    Parameters
    ----------
    ax : matplotlib Axes
    x, y : array_like
        Grid axes (increasing), shapes (nx,) and (ny,).
    dchi2_grid : array_like
        Shape (ny, nx), indexed ``[iy, ix]``.
    threshold : float
        Level, e.g. 4.61 (90 % CL, 2 dof).
    label : str, optional
        Legend label (a proxy line is added so that ``ax.legend()`` shows it).
    filled : bool, optional
        Fill the region (``alpha`` from ``kw``, default 0.3) as well as drawing its boundary.
    **kw
        ``color``, ``ls``/``linestyle``, ``lw``/``linewidth``, ``alpha``.

    Returns
    -------
    matplotlib ContourSet
    """
    z = np.asarray(dchi2_grid, dtype=float)
    finite = z[np.isfinite(z)]
    big = (float(finite.max()) if finite.size else float(threshold)) * 10 + abs(float(threshold)) + 1.0
    z = np.where(np.isfinite(z), z, big)
    color = kw.pop("color", kw.pop("c", "C0"))
    ls = kw.pop("ls", kw.pop("linestyle", "-"))
    lw = kw.pop("lw", kw.pop("linewidth", 1.5))
    alpha = kw.pop("alpha", 0.3)
    t = float(threshold)
    if filled and z.min() <= t:
        ax.contourf(x, y, z, levels=[min(z.min(), t) - 1.0, t], colors=[color], alpha=alpha)
    cs = ax.contour(x, y, z, levels=[t], colors=[color], linestyles=[ls], linewidths=[lw], **kw)
    if label is not None:
        ax.plot([], [], color=color, ls=ls, lw=lw, label=label)
    return cs


def plot_exclusion(ax, x, y, label=None, fill=False, **kw):
    """Draw an exclusion curve (the region above it is excluded); NaN values leave gaps.

    Parameters
    ----------
    ax : matplotlib Axes
    x, y : array_like
        Curve, e.g. ``results["exclusion"]["0.9"]`` (None entries allowed).
    label : str, optional
    fill : bool, optional
        Shade the excluded side (up to the top of the axes).
    **kw
        Passed to ``ax.plot``.

    Returns
    -------
    matplotlib Line2D
    """
    xa = np.asarray(x, dtype=float)
    ya = np.array([np.nan if v is None else v for v in y], dtype=float)
    (line,) = ax.plot(xa, ya, label=label, **kw)
    if fill:
        top = np.nanmax(ya) * 10 if np.any(np.isfinite(ya)) else 1.0
        ax.fill_between(xa, ya, top, where=np.isfinite(ya), color=line.get_color(), alpha=0.15, lw=0)
    return line


def save_scan_figure(scan, result: dict, plot: dict, base: str | Path, title: str | None = None) -> None:
    """The standard figure of one scan: ``base.png`` and ``base.pdf`` (written atomically).

    ``plot`` holds the arrays of the scan (``x``, ``dchi2``, ``thresholds``; in 2D also ``y``, optionally
    ``y_plot`` = the transformed y axis and ``exclusion``). No pyplot state is used.

    Parameters
    ----------
    scan : ScanSpec
        The scan of the analysis file (parameters, labels).
    result : dict
        The scan's entry of results.json (best fit, intervals).
    plot : dict
        Arrays of the scan (see above).
    base : str or Path
        Output path without suffix.
    title : str, optional
        Figure title.
    """
    base = Path(base)
    fig = new_figure(figsize=(5.6, 4.4))
    ax = fig.add_subplot()
    labels = scan.labels or scan.parameters
    log = scan.log or [False] * len(scan.parameters)
    xlabel = labels[0] if labels[0] != scan.parameters[0] else parameter_label(scan.parameters[0])
    if len(scan.parameters) == 1:
        plot_profile_1d(ax, plot["x"], plot["dchi2"], plot["thresholds"], color="C0", lw=1.6)
        ax.axvline(result["best_fit"], color="C0", lw=0.6, ls="--")
        for n, (key, pairs) in enumerate(result["intervals"].items()):
            for lo, hi in pairs:
                ax.plot([lo, hi], [plot["thresholds"][key]] * 2, color=f"C{n + 1}", lw=3, alpha=0.6,
                        solid_capstyle="butt")
    else:
        yplot = plot.get("y_plot", plot["y"])
        ylabel = labels[1] if labels[1] != scan.parameters[1] else parameter_label(scan.parameters[1])
        if scan.y_transform is not None and labels[1] == scan.parameters[1]:
            ylabel = parameter_label(scan.y_transform)
        for n, (key, t) in enumerate(plot["thresholds"].items()):
            lab = f"{100 * float(key):g}% CL"
            if scan.exclusion:
                exc = plot["exclusion"][key]
                plot_exclusion(ax, exc["x"], exc["y"], label=f"{lab} excluded above", color=f"C{n}",
                               ls=_LINESTYLES[n % 4], lw=1.8)
                plot_region_2d(ax, plot["x"], yplot, plot["dchi2"], t, color=f"C{n}", ls=":", lw=0.8)
            else:
                plot_region_2d(ax, plot["x"], yplot, plot["dchi2"], t, label=lab, color=f"C{n}",
                               ls=_LINESTYLES[n % 4], filled=(n == 0))
        bx, by = result["best_fit"]
        if not scan.exclusion:
            iy = int(np.argmin(np.abs(np.asarray(plot["y"], dtype=float) - by)))  # the best fit is a grid point
            ax.plot([bx], [float(np.asarray(yplot)[iy])], "k+", ms=8, label="best fit")
        ax.set_ylabel(ylabel)
        if log[1]:
            ax.set_yscale("log")
        ax.set_xlim(float(plot["x"][0]), float(plot["x"][-1]))
        ax.set_ylim(float(np.min(yplot)), float(np.max(yplot)))
        ax.legend(fontsize=8)
    ax.set_xlabel(xlabel)
    if log[0]:
        ax.set_xscale("log")
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    save_figure(fig, Path(f"{base}.png"), dpi=150)
    save_figure(fig, Path(f"{base}.pdf"))
