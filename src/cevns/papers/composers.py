"""Figure composers: build a paper figure from its ``figures.toml`` entry and the in-memory scans.

Each composer takes ``(spec, scans)`` -- ``spec`` one ``[[figures]]`` table, ``scans`` a mapping
``"<analysis file stem>.<scan>"`` -> :class:`~cevns.papers.results.ScanOutput` -- and returns a
:class:`matplotlib.figure.Figure` (no pyplot state). Kinds (``spec["kind"]``):

``spectrum``
    The predicted spectrum of ``experiment`` at ``params`` against its data over ``range``, with the
    analysis ``window`` shaded.
``profiles``
    1D Delta-chi^2 profiles; per curve ``scan``, ``label``, ``scale`` (x divided by it), ``color``,
    ``ls``, ``lw``, ``interval_bars`` (draw the allowed intervals at their thresholds).
``regions``
    2D allowed regions; per curve ``scan``, ``label``, ``color``, ``filled``, ``ls``, ``lw``, ``cl``,
    ``best_fit`` (a marker table: every best fit of the scan is drawn).
``sterile``
    Exclusion curves in (sin^2 2theta, Delta m^2_41), the raster Delta-chi^2 of the first curve as
    colour; the exclusion method and threshold of each curve are written on the panel. A curve with
    ``optional = true`` whose scan is missing (an optional analysis this build cannot load) is listed
    as not available.
``exclusion_fill``
    The excluded grid region and exclusion curve of the panel's ``scan`` (log axes); further ``curves``
    (``scan``, ``label``, ``color``, ``ls``, ``lw``) add the exclusion curves of other scans, e.g. the single
    data sets beside a combination.
``weak_mixing_running``
    sin^2(theta_W) per data set at its momentum transfer with the SM running
    (:mod:`cevns.papers.weak_mixing_figure`).

Panel keys common to all kinds: ``title``, ``xlabel``, ``ylabel``, ``xlim``, ``ylim``, ``legend_loc``,
``legend_fontsize``, ``vlines`` / ``hlines`` (tables with ``x``/``y``, ``color``, ``ls``, ``lw``,
``label``), ``points`` (``x``, ``y``, ``fmt``, ``ms``, ``label``). Figure keys: ``figsize``,
``layout`` (``"tight"`` default, or ``"constrained"``), ``colorbar_label`` (sterile).
"""

from __future__ import annotations

from typing import Callable, Mapping

import numpy as np

from ..analysis import y_transform
from ..errors import ConfigError
from ..experiments import load_experiment
from ..plotting import new_figure, plot_spectrum
from ..plotting.scans import plot_profile_1d, plot_region_2d
from .results import ScanOutput
from .weak_mixing_figure import compose_weak_mixing

__all__ = ["COMPOSERS", "compose_figure", "exclusion_statement"]


def _scan(scans: Mapping[str, ScanOutput], name: str, fig_id: str) -> ScanOutput:
    if name not in scans:
        raise ConfigError(f"figure {fig_id!r}: no scan {name!r} in this run (known: {', '.join(sorted(scans))})")
    return scans[name]


def _axes(fig, spec: dict):
    panels = spec.get("panels", [{}])
    axs = fig.subplots(1, len(panels), squeeze=False)[0]
    return list(zip(axs, panels))


def _draw_lines(ax, panel: dict) -> None:
    for v in panel.get("vlines", []):
        ax.axvline(v["x"], color=v.get("color", "k"), ls=v.get("ls", "-"), lw=v.get("lw", 0.5),
                   label=v.get("label"))
    for h in panel.get("hlines", []):
        ax.axhline(h["y"], color=h.get("color", "k"), ls=h.get("ls", ":"), lw=h.get("lw", 0.5),
                   label=h.get("label"))
    for p in panel.get("points", []):
        ax.plot(p["x"], p["y"], p.get("fmt", "k+"), ms=p.get("ms", 9), label=p.get("label"))


def _label(ax, panel: dict) -> None:
    for key, setter in (("xlabel", ax.set_xlabel), ("ylabel", ax.set_ylabel)):
        if key in panel:
            setter(panel[key])
    if "xlim" in panel:
        ax.set_xlim(*panel["xlim"])
    if "ylim" in panel:
        ax.set_ylim(*panel["ylim"])
    ax.legend(fontsize=panel.get("legend_fontsize", 8), loc=panel.get("legend_loc", "best"))
    if "title" in panel:
        ax.set_title(panel["title"], fontsize=9)


def _decorate(ax, panel: dict) -> None:
    _draw_lines(ax, panel)
    _label(ax, panel)


def _new(spec: dict):
    layout = spec.get("layout", "tight")
    return new_figure(figsize=tuple(spec.get("figsize", (6.4, 4.6))),
                      layout="constrained" if layout == "constrained" else None)


def _finish(fig, spec: dict):
    if spec.get("layout", "tight") == "tight":
        fig.tight_layout()
    return fig


def compose_spectrum(spec: dict, scans) -> object:
    """Predicted spectrum vs data (kind ``spectrum``).

    Parameters
    ----------
    spec : dict
        The ``[[figures]]`` entry of ``figures.toml`` (``id``, ``kind``, panels, curves, labels).
    scans : mapping of str to ScanOutput
        Unused (the spectrum is predicted from ``spec["experiment"]``).

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig = _new(spec)
    ax = fig.add_subplot()
    exp = load_experiment(spec["experiment"])
    lo, hi = spec.get("range", (None, None))
    plot_spectrum(exp, spec.get("params", {}), None, low=lo, high=hi, ax=ax, title=spec.get("axes_title"))
    if "window" in spec:
        ax.axvspan(*spec["window"], color="0.9", zorder=0, label=spec.get("window_label", "analysis window"))
    ax.legend(fontsize=8)
    return _finish(fig, spec)


def compose_profiles(spec: dict, scans) -> object:
    """1D Delta-chi^2 profiles (kind ``profiles``).

    Parameters
    ----------
    spec : dict
        The ``[[figures]]`` entry of ``figures.toml`` (``id``, ``kind``, panels, curves, labels).
    scans : mapping of str to ScanOutput
        The evaluated scans of the paper by key (``"<analysis stem>.<scan>"``).

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ConfigError
        If a curve names a scan that is not in ``scans``.
    """
    fig = _new(spec)
    for ax, panel in _axes(fig, spec):
        bars = []
        for n, c in enumerate(panel.get("curves", [])):
            out = _scan(scans, c["scan"], spec["id"])
            scale = float(c.get("scale", 1.0))
            plot_profile_1d(ax, np.asarray(out.grid["x"]) / scale, out.grid["dchi2"], out.result["threshold"],
                            label=c.get("label"), color=c.get("color", f"C{n}"), ls=c.get("ls", "-"),
                            lw=c.get("lw", 1.6))
            if c.get("interval_bars"):
                bars.append((out, scale))
        _draw_lines(ax, panel)
        for out, scale in bars:
            for n, (key, pairs) in enumerate(out.result["intervals"].items()):
                for lo, hi in pairs:
                    ax.plot([lo / scale, hi / scale], [out.result["threshold"][key]] * 2, color=f"C{n + 1}", lw=3,
                            alpha=0.7, label=f"{100 * float(key):g}% CL: [{lo:.3f}, {hi:.3f}]")
        _label(ax, panel)
    return _finish(fig, spec)


def _best_fits(result: dict) -> list:
    return result.get("best_fits") or [result["best_fit"]]


def compose_regions(spec: dict, scans) -> object:
    """2D allowed regions (kind ``regions``).

    Parameters
    ----------
    spec : dict
        The ``[[figures]]`` entry of ``figures.toml`` (``id``, ``kind``, panels, curves, labels).
    scans : mapping of str to ScanOutput
        The evaluated scans of the paper by key (``"<analysis stem>.<scan>"``).

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ConfigError
        If a curve names a scan that is not in ``scans``.
    """
    fig = _new(spec)
    for ax, panel in _axes(fig, spec):
        markers = []
        for n, c in enumerate(panel.get("curves", [])):
            out = _scan(scans, c["scan"], spec["id"])
            g = out.grid
            plot_region_2d(ax, g["x"], g["y"], g["dchi2"], out.threshold(c.get("cl")), label=c.get("label"),
                           filled=bool(c.get("filled", True)), color=c.get("color", f"C{n}"), ls=c.get("ls", "-"),
                           lw=c.get("lw", 1.4), alpha=0.35)
            if "best_fit" in c:
                markers.append((out, c["best_fit"]))
        for out, m in markers:
            for k, (bx, by) in enumerate(_best_fits(out.result)):
                ax.plot(bx, by, m.get("fmt", "*"), color=m.get("color", "k"), ms=m.get("ms", 9),
                        label=m.get("label") if k == 0 else None)
        _decorate(ax, panel)
    return _finish(fig, spec)


def _exclusion_y(exc: dict) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in exc["y"]], dtype=float)


def exclusion_statement(out: ScanOutput, key: str) -> str:
    """How the exclusion of a scan was made, e.g. ``"raster, dchi2 > 2.71 (1 dof)"``.

    Parameters
    ----------
    out : ScanOutput
        An evaluated exclusion scan.
    key : str
        Confidence-level key of its ``threshold`` entry (e.g. ``"0.9"``).

    Returns
    -------
    str
        Method and Delta chi^2 threshold, as LaTeX text for matplotlib.
    """
    r = out.result
    method = r.get("exclusion_method", "global")
    how = "per $\\Delta m^2_{41}$ column" if method == "raster" else "global minimum"
    return f"{method} ({how}), $\\Delta\\chi^2 > {float(r['threshold'][key]):.2f}$ ({r.get('dof', '?')} dof)"


def compose_sterile(spec: dict, scans) -> object:
    """Sterile exclusion curves over the raster Delta-chi^2 of the first curve (kind ``sterile``).

    Parameters
    ----------
    spec : dict
        The ``[[figures]]`` entry of ``figures.toml`` (``id``, ``kind``, panels, curves, labels).
    scans : mapping of str to ScanOutput
        The evaluated scans of the paper by key (``"<analysis stem>.<scan>"``).

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ConfigError
        If none of a panel's scans is in ``scans``.
    """
    fig = _new(spec)
    pcm = None
    axes = _axes(fig, spec)
    for ax, panel in axes:
        available = [c["scan"] for c in panel.get("curves", []) if c["scan"] in scans]
        if not available:
            raise ConfigError(f"figure {spec['id']!r}: none of its scans is in this run")
        first = scans[available[0]]
        g = first.grid
        s2 = y_transform("sin2_2theta", g["y"])
        z = np.asarray(g["dchi2"]) - np.min(g["dchi2"], axis=0, keepdims=True)  # vs the best mixing per dm2
        pcm = ax.pcolormesh(s2, g["x"], z.T, shading="auto", cmap="Blues", vmin=0,
                            vmax=max(5.0, float(np.nanmax(z))))
        notes = []
        for c in panel.get("curves", []):
            lab, color = c["label"], c.get("color", "k")
            if c["scan"] not in scans and c.get("optional"):  # an optional analysis this build cannot run
                ax.plot([], [], color=color, lw=2, ls=c.get("ls", "-"), label=f"{lab}: not available in this build")
                continue
            out = _scan(scans, c["scan"], spec["id"])
            for key, exc in out.result["exclusion"].items():
                ys = _exclusion_y(exc)
                cl = f"{100 * float(key):g}% CL"
                if np.any(np.isfinite(ys)):
                    ax.plot(ys, np.asarray(exc["x"], dtype=float), color=color, lw=2, ls=c.get("ls", "-"),
                            label=f"{lab}: excluded to the right ({cl})")
                else:
                    ax.plot([], [], color=color, lw=2, ls=c.get("ls", "-"), label=f"{lab}: no exclusion at {cl}")
                notes.append(exclusion_statement(out, key))
        if notes:
            ax.text(0.98, 0.98, "exclusion: " + "; ".join(dict.fromkeys(notes)), transform=ax.transAxes,
                    ha="right", va="top", fontsize=6.5, wrap=True,
                    bbox={"facecolor": "white", "alpha": 0.8, "lw": 0})
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(float(s2.min()), 1.0)
        ax.set_ylim(float(np.min(g["x"])), float(np.max(g["x"])))
        _decorate(ax, {"legend_loc": "lower left", "legend_fontsize": 7, **panel})
    if pcm is not None:
        fig.colorbar(pcm, ax=[ax for ax, _ in axes], label=spec.get("colorbar_label", r"$\Delta\chi^2$"),
                     shrink=0.9)
    return _finish(fig, spec)


def compose_exclusion_fill(spec: dict, scans) -> object:
    """Excluded grid region and exclusion curve, one scan per panel (kind ``exclusion_fill``).

    Parameters
    ----------
    spec : dict
        The ``[[figures]]`` entry of ``figures.toml`` (``id``, ``kind``, panels, curves, labels).
    scans : mapping of str to ScanOutput
        The evaluated scans of the paper by key (``"<analysis stem>.<scan>"``).

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ConfigError
        If a panel names a scan that is not in ``scans``.
    """
    fig = _new(spec)
    for ax, panel in _axes(fig, spec):
        out = _scan(scans, panel["scan"], spec["id"])
        g = out.grid
        t = out.threshold()
        color = panel.get("color", "C3")
        z = np.where(np.isfinite(g["dchi2"]), g["dchi2"], 1e9)
        if z.max() > t:
            ax.contourf(g["x"], g["y"], z, levels=[t, max(float(z.max()), t) * 1.01 + 1.0], colors=[color],
                        alpha=0.25)
        cl = f"{100 * float(next(iter(out.result['threshold']))):g}% CL"
        ax.plot([], [], color=color, alpha=0.4, lw=6, label=f"excluded at {cl} (grid)")
        main = next((c for c in panel.get("curves", []) if c.get("scan") == panel["scan"]), {})
        for key, exc in out.result["exclusion"].items():
            lab = f"{main['label']}: " if "label" in main else ""
            ax.plot(exc["x"], _exclusion_y(exc), color=color, lw=2, label=f"{lab}all couplings above excluded")
            band = out.result.get("exclusion_bands", {}).get(key, {})
            if band.get("x"):  # allowed bands narrower than the grid step, refined on the likelihood
                ax.plot(band["x"], np.sqrt(np.multiply(band["lo"], band["hi"])), ls="none", marker="o", ms=2.5,
                        mfc="white", mec=color, mew=0.6, label="narrow allowed band (refined)")
        for n, c in enumerate(c for c in panel.get("curves", []) if c.get("scan") != panel["scan"]):
            other = _scan(scans, c["scan"], spec["id"])  # further data sets: their exclusion curves only
            for key, exc in other.result["exclusion"].items():
                ax.plot(exc["x"], _exclusion_y(exc), color=c.get("color", f"C{n}"), lw=c.get("lw", 1.4),
                        ls=c.get("ls", "--"), label=c.get("label", c["scan"]))
        ax.set_xscale("log")
        ax.set_yscale("log")
        _decorate(ax, {"legend_loc": "upper left", "legend_fontsize": 7, **panel})
    return _finish(fig, spec)


def compose_by_fit(spec: dict, scans) -> object:
    """Kinds ``fit_projections`` / ``fit_cevns_profile``: drawn by the paper's template fit
    (:mod:`cevns.papers.template_fit`), not from scans; always raises.

    Parameters
    ----------
    spec : dict
        The ``[[figures]]`` entry (its ``id`` and ``kind`` name the figure in the message).
    scans : mapping of str to ScanOutput
        Unused.

    Raises
    ------
    ConfigError
        Always: these kinds are not composed from scans.
    """
    raise ConfigError(f"figure {spec.get('id')!r}: kind {spec.get('kind')!r} is drawn by the paper's template fit "
                      "([paper] fit in figures.toml), not from scans")


#: Composer of each figure kind.
COMPOSERS: dict[str, Callable] = {
    "fit_projections": compose_by_fit,
    "fit_cevns_profile": compose_by_fit,
    "spectrum": compose_spectrum,
    "profiles": compose_profiles,
    "regions": compose_regions,
    "sterile": compose_sterile,
    "exclusion_fill": compose_exclusion_fill,
    "weak_mixing_running": compose_weak_mixing,
}


def compose_figure(spec: dict, scans: Mapping[str, ScanOutput]):
    """The :class:`matplotlib.figure.Figure` of one ``[[figures]]`` entry (see the module docstring).

    Parameters
    ----------
    spec : dict
        The ``[[figures]]`` entry; ``kind`` selects the composer (:data:`COMPOSERS`).
    scans : mapping of str to ScanOutput
        The evaluated scans of the paper by key.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ConfigError
        Unknown kind, or a scan the figure names that is not in ``scans``.
    """
    kind = spec.get("kind")
    if kind not in COMPOSERS:
        raise ConfigError(f"figure {spec.get('id')!r}: unknown kind {kind!r}; known: {', '.join(COMPOSERS)}")
    return COMPOSERS[kind](spec, scans)
