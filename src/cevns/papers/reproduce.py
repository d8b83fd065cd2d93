"""Reproduce the seed papers with one call: run their analysis files, compose the paper figures,
tabulate the extracted bounds and write one HTML page.

Papers (``PAPERS``):

* ``"papoulias-kosmas"``: D.K. Papoulias, T.S. Kosmas, arXiv:1806.07424 (COHERENT CsI 2017: weak
  mixing angle, vector and tensor NSI, magnetic moment, charge radius, 3+1 sterile, light mediators);
  analysis files in ``cevns/papers/papoulias_kosmas/``.
* ``"canas"``: B.C. Canas et al., ICHEP2020 proceeding (full analysis arXiv:1911.09831): CONUS /
  CONNIE NSI projections and the (R_n, eps_ee^dV) plane with CsI 2017, a future COHERENT + CONUS
  combination, a future NaI detector and CONNIE; analysis files in ``cevns/papers/canas/``.

Output of :func:`reproduce` in ``out_dir``::

    <paper>/figN_*.png, .pdf      composed paper figures (several scans overlaid)
    <paper>/results.json          every scan of the paper in the scan format (docs/analysis-format.md),
                                  names "<analysis file stem>.<scan>"
    <paper>/bounds.csv, bounds.md the extracted bounds (intervals, region extents, exclusion limits)
    <paper>/scans/<stem>/         the outputs of each analysis file (cevns.analysis.run_analysis)
    index.html                    every figure and table on one page, links to every file

``grid_scale`` (or ``quick=True``, :data:`QUICK_SCALE`) shrinks every scan grid, for tests and smoke
runs; the shapes of the results survive, the numbers become coarser.
"""

from __future__ import annotations

import csv
import html
import io as _io
import math
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np

from ..errors import ConfigError

__all__ = [
    "PAPERS",
    "QUICK_SCALE",
    "analysis_files",
    "scaled_analysis",
    "load_scan_grid",
    "bounds_rows",
    "run_paper",
    "reproduce",
    "write_index",
]

ANALYSES_DIR = Path(__file__).resolve().parent
#: Grid scale of ``quick=True`` (each axis' number of points times this, with the minima below).
QUICK_SCALE = 0.3
MIN_POINTS_1D = 41
MIN_POINTS_2D = 21
MIN_POINTS_PROFILE = 5


@dataclass(frozen=True)
class Paper:
    """A reproducible paper: its key, folder of analysis files, title and reference."""

    key: str
    folder: str
    title: str
    reference: str
    note: str = ""


PAPERS: dict[str, Paper] = {
    "papoulias-kosmas": Paper(
        "papoulias-kosmas", "papoulias_kosmas",
        "Papoulias & Kosmas: constraining new physics from the first observation of CEvNS",
        "D.K. Papoulias, T.S. Kosmas, arXiv:1806.07424",
        "COHERENT CsI[Na] 2017 data (14.57 kg, 308.1 days, 1.76e23 POT, r = 0.08, 19.3 m, 1.17 PE/keVnr, "
        "N_meas = 142); sin2(theta_W) = 0.2312 and the Helm form factor with R = 1.2 A^(1/3) fm, s = 0.5 fm "
        "as in the paper; single-bin chi2 with pulls (their Eq. 6)."),
    "canas": Paper(
        "canas", "canas",
        "Canas et al.: constraints on NSI and the neutron radius from CEvNS experiments",
        "B.C. Canas, E.A. Garces, O.G. Miranda, A. Parada, G. Sanchez Garcia, ICHEP2020; arXiv:1911.09831",
        "Projections with Asimov (SM) data: CONUS and CONNIE one year each with 4% normalisation "
        "systematics (correlated reactor flux in the combination); COHERENT CsI 2017 data; a future "
        "COHERENT CsI run and the planned NaI[Tl] detector (total-rate chi2). See the experiment and "
        "analysis files for every input and its source."),
}


# ----------------------------------------------------------------------------------------------
# analysis files and grids
# ----------------------------------------------------------------------------------------------
def _paper(key: str) -> Paper:
    if key not in PAPERS:
        raise ConfigError(f"unknown paper {key!r}; choose one of: {', '.join(PAPERS)}")
    return PAPERS[key]


def analysis_files(paper: str) -> list[Path]:
    """The analysis files of a paper (sorted by name)."""
    folder = ANALYSES_DIR / _paper(paper).folder
    return sorted(folder.glob("*.toml"))


def _scaled_points(n: int, scale: float, minimum: int) -> int:
    if scale >= 1.0 or n <= minimum:
        return int(n)
    m = max(minimum, int(round(n * scale)))
    if n % 2 == 1 and m % 2 == 0:  # keep an odd count (keeps the centre of symmetric ranges)
        m += 1
    return min(m, int(n))


def scaled_analysis(raw: Mapping, grid_scale: float = 1.0) -> dict:
    """A copy of a parsed analysis file with every grid shrunk by ``grid_scale`` (<= 1).

    Each axis keeps at least :data:`MIN_POINTS_1D` (1D scans), :data:`MIN_POINTS_2D` (each axis of 2D
    scans) or :data:`MIN_POINTS_PROFILE` (profiled dimensions) points.
    """
    import copy

    scale = float(grid_scale)
    if not (math.isfinite(scale) and scale > 0):
        raise ConfigError(f"grid_scale must be a positive number, got {grid_scale!r}")
    out = copy.deepcopy(dict(raw))
    for s in out.get("scans", []):
        minimum = MIN_POINTS_1D if len(s.get("parameters", [])) == 1 else MIN_POINTS_2D
        s["points"] = [_scaled_points(int(p), scale, minimum) for p in s.get("points", [])]
        for pr in s.get("profile", []):
            pr["points"] = _scaled_points(int(pr["points"]), scale, MIN_POINTS_PROFILE)
    return out


def load_scan_grid(csv_path) -> dict:
    """Read a scan CSV: ``{"x", "dchi2"}`` (1D) or ``{"x", "y", "dchi2"}`` with dchi2 of shape (ny, nx)."""
    arr = np.genfromtxt(csv_path, delimiter=",", skip_header=1, ndmin=2)
    if arr.shape[1] == 2:
        return {"x": arr[:, 0], "dchi2": arr[:, 1]}
    if arr.shape[1] != 3:
        raise ValueError(f"{csv_path}: expected 2 or 3 columns, got {arr.shape[1]}")
    y0 = arr[0, 1]
    nx = int(np.argmax(arr[:, 1] != y0)) if np.any(arr[:, 1] != y0) else arr.shape[0]
    ny = arr.shape[0] // nx
    if nx * ny != arr.shape[0]:
        raise ValueError(f"{csv_path}: not a rectangular grid")
    return {"x": arr[:nx, 0], "y": arr[::nx, 1], "dchi2": arr[:, 2].reshape(ny, nx)}


@dataclass
class ScanOutput:
    """One scan of a paper's analysis: its results.json entry, grid and folder."""

    stem: str
    analysis: str
    name: str
    result: dict
    grid: dict
    folder: Path
    spec: dict = field(default_factory=dict)

    def threshold(self, cl: float | None = None) -> float:
        th = self.result["threshold"]
        key = next(iter(th)) if cl is None else _cl_key(th, cl)
        return float(th[key])


def _cl_key(mapping: Mapping, cl: float) -> str:
    for k in mapping:
        if abs(float(k) - cl) < 1e-9:
            return k
    raise KeyError(f"confidence level {cl} not in {list(mapping)}")


# ----------------------------------------------------------------------------------------------
# bounds tables
# ----------------------------------------------------------------------------------------------
_FIELDS = ["figure", "analysis", "scan", "parameters", "cl", "kind", "best_fit", "bound", "low", "high", "note"]


def _fmt(v) -> str:
    if v is None:
        return ""
    if isinstance(v, (list, tuple)):
        return "(" + ", ".join(_fmt(x) for x in v) + ")"
    v = float(v)
    if not math.isfinite(v):
        return ""
    return f"{v:.4g}"


def bounds_rows(figure: str, out: ScanOutput) -> list[dict]:
    """Rows of the bounds table for one scan: 1D allowed intervals, 2D region extents (x and y
    ranges of the allowed contours) or exclusion limits (the smallest excluded y and where)."""
    r = out.result
    rows = []
    base = {"figure": figure, "analysis": out.analysis, "scan": f"{out.stem}.{out.name}"}
    if "parameter" in r:
        for key, pairs in r["intervals"].items():
            if pairs:
                txt = " U ".join(f"[{_fmt(lo)}, {_fmt(hi)}]" for lo, hi in pairs)
                lo, hi = pairs[0][0], pairs[-1][1]
                opens = r.get("open_ends", {}).get(key, [])
                note = "interval reaches the scan boundary" if any(any(o) for o in opens) else ""
            else:
                txt, lo, hi, note = "none", None, None, "nothing allowed"
            rows.append({**base, "parameters": r["parameter"], "cl": key, "kind": "allowed interval",
                         "best_fit": _fmt(r["best_fit"]), "bound": txt, "low": _fmt(lo), "high": _fmt(hi),
                         "note": note})
        return rows
    px, py = r["parameters"]
    if "exclusion" in r:
        for key, exc in r["exclusion"].items():
            xs = np.asarray(exc["x"], dtype=float)
            ys = np.array([np.nan if v is None else v for v in exc["y"]], dtype=float)
            ok = np.isfinite(ys)
            ylab = r.get("y_transform") or py
            if ok.any():
                i = int(np.nanargmin(np.where(ok, ys, np.nan)))
                txt = f"{ylab} > {_fmt(ys[i])} excluded at {px} = {_fmt(xs[i])} (strongest)"
                note = f"excluded for {int(ok.sum())} of {ok.size} {px} values"
                lo, hi = ys[i], None
            else:
                txt, lo, hi, note = "no exclusion in the scanned range", None, None, ""
            rows.append({**base, "parameters": f"{px}, {ylab}", "cl": key, "kind": "exclusion",
                         "best_fit": _fmt(r["best_fit"]), "bound": txt, "low": _fmt(lo), "high": _fmt(hi),
                         "note": note})
        return rows
    gx, gy = out.grid["x"], out.grid["y"]
    for key, lines in r["contours"].items():
        pts = np.concatenate([np.asarray(ln, dtype=float) for ln in lines]) if lines else np.empty((0, 2))
        inside = out.grid["dchi2"] <= float(r["threshold"][key])
        if pts.size:
            txt = f"{px} in [{_fmt(pts[:, 0].min())}, {_fmt(pts[:, 0].max())}], " \
                  f"{py} in [{_fmt(pts[:, 1].min())}, {_fmt(pts[:, 1].max())}]"
            edge = bool(inside[0, :].any() or inside[-1, :].any() or inside[:, 0].any() or inside[:, -1].any())
            note = f"{len(lines)} contour line(s)" + ("; region reaches the scan boundary" if edge else "")
            lo, hi = pts[:, 1].min(), pts[:, 1].max()
        else:
            txt, lo, hi, note = "no allowed region on the grid", None, None, ""
        rows.append({**base, "parameters": f"{px}, {py}", "cl": key, "kind": "allowed region (extent)",
                     "best_fit": _fmt(r["best_fit"]), "bound": txt, "low": _fmt(lo), "high": _fmt(hi),
                     "note": note + f"; grid {gx.size}x{gy.size}"})
    return rows


def _write_tables(folder: Path, rows: list[dict], title: str) -> tuple[Path, Path]:
    from ..io import write_text

    buf = _io.StringIO()
    w = csv.DictWriter(buf, fieldnames=_FIELDS, lineterminator="\n")
    w.writeheader()
    for row in rows:
        w.writerow({k: row.get(k, "") for k in _FIELDS})
    csv_path = folder / "bounds.csv"
    write_text(csv_path, buf.getvalue())
    cols = ["figure", "scan", "parameters", "cl", "best_fit", "bound", "note"]
    md = [f"# {title}: extracted bounds", "", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in rows:
        md.append("| " + " | ".join(str(row.get(c, "")).replace("|", "/") for c in cols) + " |")
    md_path = folder / "bounds.md"
    write_text(md_path, "\n".join(md) + "\n")
    return csv_path, md_path


# ----------------------------------------------------------------------------------------------
# figure helpers
# ----------------------------------------------------------------------------------------------
def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _finish(fig, folder: Path, stem: str, title: str, caption: str, tight: bool = True) -> "Figure":
    """Save a composed figure as PNG and PDF, close it, and describe it."""
    from ..io import save_figure

    if tight:
        fig.tight_layout()
    paths = [folder / f"{stem}.png", folder / f"{stem}.pdf"]
    save_figure(fig, paths[0], dpi=150)
    save_figure(fig, paths[1])
    _plt().close(fig)
    return Figure(stem, title, caption, paths)


def _region(ax, out: ScanOutput, color, label=None, filled=True, ls="-", cl=None, lw=1.4):
    from ..plotting.scans import plot_region_2d

    g = out.grid
    return plot_region_2d(ax, g["x"], g["y"], g["dchi2"], out.threshold(cl), label=label, filled=filled,
                          color=color, ls=ls, lw=lw, alpha=0.35)


def _profile(ax, out: ScanOutput, label, scale=1.0, **kw):
    from ..plotting.scans import plot_profile_1d

    g = out.grid
    return plot_profile_1d(ax, g["x"] / scale, g["dchi2"], out.result["threshold"], label=label, **kw)


@dataclass
class Figure:
    """A composed figure of a paper."""

    stem: str
    title: str
    caption: str
    files: list = field(default_factory=list)


# ----------------------------------------------------------------------------------------------
# Papoulias & Kosmas
# ----------------------------------------------------------------------------------------------
def _pk_fig1(scans, folder: Path) -> Figure:
    from ..experiments import load_experiment
    from ..plotting import plot_spectrum

    plt = _plt()
    exp = load_experiment("coherent-csi-2017")
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    plot_spectrum(exp, {"sin2_theta_w": 0.2312}, None, low=0.0, high=50.0, ax=ax,
                  title="COHERENT CsI[Na] 2017: SM prediction vs data (2-PE bins, 0-6 us)")
    ax.axvspan(6.0, 30.0, color="0.9", zorder=0, label="analysis window 6-30 PE")
    ax.legend(fontsize=8)
    return _finish(fig, folder, "fig1_spectrum", "Fig. 1: predicted spectrum vs COHERENT data",
                   "SM CEvNS prediction (sin2 theta_W = 0.2312, Helm form factor R = 1.2 A^(1/3) fm, s = 0.5 fm, "
                   "n_PE = 1.17 T[keVnr], released acceptance) and the released beam-on coincidence minus "
                   "anti-coincidence counts, in 2-PE bins.")


def _pk_fig2(scans, folder: Path) -> Figure:
    plt = _plt()
    out = scans[("fig2_weak_mixing", "sin2_theta_w")]
    fig, ax = plt.subplots(figsize=(6.0, 4.4))
    _profile(ax, out, "COHERENT CsI 2017 (pulls)", color="C0", lw=1.8)
    ax.axvline(0.2312, color="k", ls="--", lw=0.8, label=r"$\sin^2\theta_W = 0.2312$")
    for n, (key, pairs) in enumerate(out.result["intervals"].items()):
        for lo, hi in pairs:
            ax.plot([lo, hi], [out.result["threshold"][key]] * 2, color=f"C{n + 1}", lw=3, alpha=0.7,
                    label=f"{100 * float(key):g}% CL: [{lo:.3f}, {hi:.3f}]")
    ax.set_xlabel(r"$\sin^2\theta_W$")
    ax.legend(fontsize=8)
    ax.set_title("Fig. 2: weak mixing angle from COHERENT CsI 2017", fontsize=9)
    return _finish(fig, folder, "fig2_weak_mixing", "Fig. 2: Delta-chi2 vs sin2(theta_W)",
                   "Single-bin chi2 with pulls (N_meas = 142, sigma_alpha = 0.28, sigma_beta = 0.25).")


def _pk_fig3(scans, folder: Path) -> Figure:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    names = [("eps_ee_uV", r"$\varepsilon_{ee}^{uV}$"), ("eps_ee_dV", r"$\varepsilon_{ee}^{dV}$"),
             ("eps_mumu_uV", r"$\varepsilon_{\mu\mu}^{uV}$"), ("eps_mumu_dV", r"$\varepsilon_{\mu\mu}^{dV}$")]
    for n, (scan, lab) in enumerate(names):
        _profile(ax, scans[("fig3_nsi_1d", scan)], lab, color=f"C{n}", ls=["-", "--", "-", "--"][n], lw=1.6)
    ax.axvline(0.0, color="k", lw=0.5)
    ax.set_xlabel(r"$\varepsilon_{\alpha\alpha}^{qV}$ (one non-zero at a time)")
    ax.legend(fontsize=8, loc="upper right")
    ax.set_ylim(0, 8)
    ax.set_title("Fig. 3: vector NSI profiles, COHERENT CsI 2017", fontsize=9)
    return _finish(fig, folder, "fig3_nsi_profiles", "Fig. 3: Delta-chi2 profiles of the vector NSI couplings",
                   "One non-universal coupling at a time, the others at zero; single-bin chi2 with pulls.")


def _pk_fig4(scans, folder: Path) -> Figure:
    plt = _plt()
    fig, axs = plt.subplots(1, 2, figsize=(10.5, 4.6))
    for ax, scan, lab in ((axs[0], "nsi_ee", "ee"), (axs[1], "nsi_mumu", r"\mu\mu")):
        p = scans[("fig4_nsi_2d_pulls", scan)]
        s = scans[("fig4_nsi_2d_stat", scan)]
        _region(ax, p, "C0", label="with pulls (seed Eq. 6)", filled=True)
        _region(ax, s, "C3", label="statistics only", filled=False, ls="--")
        ax.plot(*p.result["best_fit"], "*", color="C0", ms=11, label="best fit (pulls)")
        ax.plot(*s.result["best_fit"], "*", color="C3", ms=8, label="best fit (stat. only)")
        ax.plot(0, 0, "k+", ms=9, label="SM")
        ax.set_xlabel(rf"$\varepsilon_{{{lab}}}^{{uV}}$")
        ax.set_ylabel(rf"$\varepsilon_{{{lab}}}^{{dV}}$")
        ax.legend(fontsize=7, loc="upper right")
        ax.set_title(rf"Fig. 4: 90% CL allowed ($\varepsilon_{{{lab}}}^{{uV}}$, $\varepsilon_{{{lab}}}^{{dV}}$)",
                     fontsize=9)
    return _finish(fig, folder, "fig4_nsi_regions", "Fig. 4: 90% CL allowed regions of the vector NSI couplings",
                   "2 dof (Delta chi2 < 4.61); filled: single-bin chi2 with pulls; dashed: statistics only; "
                   "asterisks: best fits.")


def _pk_fig5(scans, folder: Path) -> Figure:
    plt = _plt()
    fig, axs = plt.subplots(1, 2, figsize=(10.5, 4.4))
    for n, (scan, lab) in enumerate((("mu_nu_e", r"$\nu_e$ only"), ("mu_nu_mu", r"$\nu_\mu + \bar\nu_\mu$"),
                                     ("mu_nu_universal", "universal"))):
        _profile(axs[0], scans[("fig5_magnetic_moment", scan)], lab, scale=1e-9, color=f"C{n}", lw=1.6)
    axs[0].set_xlabel(r"$\mu_\nu$ [$10^{-9}\,\mu_B$]")
    axs[0].legend(fontsize=8, loc="upper left")
    axs[0].set_title("Fig. 5 left: neutrino magnetic moment", fontsize=9)
    for n, (scan, lab) in enumerate((("r2_nu_e", r"$\langle r^2_{\nu_e}\rangle$"),
                                     ("r2_nu_mu", r"$\langle r^2_{\nu_\mu}\rangle$"))):
        _profile(axs[1], scans[("fig5_charge_radius", scan)], lab, scale=1e-32, color=f"C{n}", lw=1.6)
    axs[1].set_xlabel(r"$\langle r^2_\nu\rangle$ [$10^{-32}$ cm$^2$]")
    axs[1].legend(fontsize=8, loc="upper left")
    axs[1].set_title(r"Fig. 5 right: charge radius at $\sin^2\theta_W = 0.2312$", fontsize=9)
    return _finish(fig, folder, "fig5_em_properties", "Fig. 5: neutrino magnetic moment and charge radius",
                   "Delta-chi2 profiles, COHERENT CsI 2017, single-bin chi2 with pulls; the magnetic moment acts "
                   "on nu_e only, on nu_mu and anti-nu_mu only, or on every flavour.")


def _sterile_panel(ax, outs: Sequence[tuple[ScanOutput, str, str]], flavour: str):
    from ..analysis import y_transform

    first = outs[0][0]
    g = first.grid
    s2 = y_transform("sin2_2theta", g["y"])
    # raster Delta chi2 (relative to the best mixing at each dm2) of the first (seed) likelihood
    z = g["dchi2"] - np.min(g["dchi2"], axis=0, keepdims=True)
    pcm = ax.pcolormesh(s2, g["x"], z.T, shading="auto", cmap="Blues", vmin=0, vmax=max(5.0, float(np.nanmax(z))))
    any_curve = False
    for out, color, lab in outs:
        for key, exc in out.result["exclusion"].items():
            ys = np.array([np.nan if v is None else v for v in exc["y"]], dtype=float)
            xs = np.asarray(exc["x"], dtype=float)
            if np.any(np.isfinite(ys)):
                any_curve = True
                ax.plot(ys, xs, color=color, lw=2, label=f"{lab}: excluded to the right ({100 * float(key):g}% CL)")
            else:
                ax.plot([], [], color=color, lw=2, label=f"{lab}: no exclusion at {100 * float(key):g}% CL")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(float(s2.min()), 1.0)
    ax.set_ylim(float(g["x"].min()), float(g["x"].max()))
    ax.set_xlabel(rf"$\sin^2 2\theta_{{{flavour}4}}$")
    ax.set_ylabel(r"$\Delta m^2_{41}$ [eV$^2$]")
    ax.legend(fontsize=7, loc="lower left")
    return pcm, any_curve


def _pk_fig6(scans, folder: Path) -> Figure:
    plt = _plt()
    fig, axs = plt.subplots(1, 2, figsize=(11.5, 4.6), constrained_layout=True)
    for ax, scan, fl, lab in ((axs[0], "sterile_e", "e", r"$\nu_e$"), (axs[1], "sterile_mu", r"\mu", r"$\nu_\mu$")):
        pcm, _ = _sterile_panel(ax, [(scans[("fig6_sterile_pulls", scan)], "C3", "pulls (seed)"),
                                     (scans[("fig6_sterile_stat", scan)], "C1", "stat. only")], fl)
        ax.set_title(f"Fig. 6: 3+1 sterile, {lab} disappearance", fontsize=9)
    fig.colorbar(pcm, ax=axs, label=r"$\Delta\chi^2$ (pulls, vs best mixing at each $\Delta m^2_{41}$)", shrink=0.9)
    return _finish(fig, folder, "fig6_sterile", "Fig. 6: 90% CL sterile-neutrino exclusion curves",
                   "Raster exclusion at 90% CL (2 dof threshold 4.61) in (sin2 2theta, Delta m2_41); colour: "
                   "Delta chi2 of the seed likelihood. The 2017 CsI data (one number, 28% normalisation "
                   "uncertainty, a deficit relative to the SM) exclude little: nu_e drives only the delayed third of "
                   "the events.", tight=False)


def _pk_tensor(scans, folder: Path) -> Figure:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    for n, (scan, lab) in enumerate((("eps_ee_uT", r"$\varepsilon_{ee}^{uT}$"), ("eps_ee_dT", r"$\varepsilon_{ee}^{dT}$"),
                                     ("eps_mumu_uT", r"$\varepsilon_{\mu\mu}^{uT}$"),
                                     ("eps_mumu_dT", r"$\varepsilon_{\mu\mu}^{dT}$"))):
        _profile(ax, scans[("extra_tensor_nsi", scan)], lab, color=f"C{n}", ls=["-", "--", "-", "--"][n], lw=1.6)
    ax.set_xlabel(r"$\varepsilon_{\alpha\alpha}^{qT}$ (one non-zero at a time)")
    ax.legend(fontsize=8, loc="upper center")
    ax.set_title("Tensor NSI, COHERENT CsI 2017", fontsize=9)
    return _finish(fig, folder, "extra_tensor_nsi", "Tensor NSI (discussed in the paper)",
                   "Delta-chi2 profiles of the tensor couplings, one at a time; single-bin chi2 with pulls.")


def _pk_mediators(scans, folder: Path) -> Figure:
    plt = _plt()
    fig, axs = plt.subplots(1, 2, figsize=(10.5, 4.4))
    for ax, scan, lab in ((axs[0], "zprime", r"vector $Z'$"), (axs[1], "scalar", r"scalar $\phi$")):
        out = scans[("extra_light_mediators", scan)]
        g = out.grid
        t = out.threshold()
        z = np.where(np.isfinite(g["dchi2"]), g["dchi2"], 1e9)
        if z.max() > t:
            ax.contourf(g["x"], g["y"], z, levels=[t, max(float(z.max()), t) * 1.01 + 1.0], colors=["C3"], alpha=0.25)
        ax.plot([], [], color="C3", alpha=0.4, lw=6, label="excluded at 90% CL (grid)")
        for key, exc in out.result["exclusion"].items():
            ys = np.array([np.nan if v is None else v for v in exc["y"]], dtype=float)
            ax.plot(exc["x"], ys, color="C3", lw=2, label="all couplings above excluded")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(r"mediator mass [MeV]")
        ax.set_ylabel(r"$g_\nu g_q$")
        ax.legend(fontsize=7, loc="upper left")
        ax.set_title(f"Light {lab} (universal quark couplings), COHERENT CsI 2017", fontsize=9)
    return _finish(fig, folder, "extra_light_mediators", "Light vector and scalar mediators (discussed in the paper)",
                   "90% CL (2 dof) excluded regions; for the vector mediator the destructive interference leaves an "
                   "allowed band inside the excluded region.")


# ----------------------------------------------------------------------------------------------
# Canas et al.
# ----------------------------------------------------------------------------------------------
def _canas_fig1(scans, folder: Path) -> Figure:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 5.2))
    _region(ax, scans[("fig1_conus", "nsi_ee_conus")], "C0", label="CONUS (4% syst.)", filled=True)
    _region(ax, scans[("fig1_connie", "nsi_ee_connie")], "C1", label="CONNIE (4% syst.)", filled=True, ls=":")
    _region(ax, scans[("fig1_combined", "nsi_ee_combined")], "C3", label="combined, correlated flux", filled=True,
            lw=2.0)
    ax.plot(0, 0, "k*", ms=9, label="SM")
    ax.set_xlabel(r"$\varepsilon_{ee}^{uV}$")
    ax.set_ylabel(r"$\varepsilon_{ee}^{dV}$")
    ax.legend(fontsize=8, loc="upper right")
    ax.set_title("Canas et al. Fig. 1: expected 90% CL regions, 1 year", fontsize=9)
    return _finish(fig, folder, "fig1_nsi_reactors", "Fig. 1: expected NSI regions from CONNIE, CONUS and their combination",
                   "Asimov (SM) data, one year each, 4% normalisation systematics; the combination shares one 4% "
                   "reactor-flux nuisance. 90% CL, 2 dof.")


def _canas_fig2(scans, folder: Path) -> Figure:
    plt = _plt()
    fig, axs = plt.subplots(1, 2, figsize=(11.0, 4.8))
    ax = axs[0]
    _region(ax, scans[("fig2_left_csi2017", "rn_eps_csi2017")], "C0", label="CsI 2017 data", filled=True)
    _region(ax, scans[("fig2_left_future_coherent", "rn_eps_future_coherent")], "C2",
            label="future COHERENT CsI (alone)", filled=False, ls="--", lw=1.0)
    _region(ax, scans[("fig2_left_conus", "rn_eps_conus")], "C7", label="CONUS (alone)", filled=False, ls=":",
            lw=1.0)
    _region(ax, scans[("fig2_left_future_coherent_conus", "rn_eps_future_coherent_conus")], "m",
            label="future COHERENT + CONUS", filled=True, lw=2.0)
    ax.set_xlabel(r"$R_n$ (Cs, I) [fm]")
    ax.set_title(r"Fig. 2 left: CsI 2017 and future COHERENT + CONUS (1$\sigma$)", fontsize=9)
    ax = axs[1]
    _region(ax, scans[("fig2_right_nai", "rn_eps_nai")], "C0", label="NaI (future)", filled=True)
    _region(ax, scans[("fig2_right_connie", "rn_eps_connie")], "C1", label="CONNIE", filled=True, ls=":")
    _region(ax, scans[("fig2_right_nai_connie", "rn_eps_nai_connie")], "C3", label="NaI + CONNIE (SM)",
            filled=True, lw=2.0)
    _region(ax, scans[("fig2_right_nai_connie_minus30", "rn_eps_nai_connie_minus30")], "C4",
            label="NaI + CONNIE (-30%)", filled=True, lw=1.5)
    _region(ax, scans[("fig2_right_nai_connie_plus30", "rn_eps_nai_connie_plus30")], "C2",
            label="NaI + CONNIE (+30%)", filled=True, lw=1.5)
    ax.set_xlabel(r"$R_n(^{127}$I$)$ [fm]")
    ax.set_title(r"Fig. 2 right: future NaI and CONNIE (1$\sigma$)", fontsize=9)
    for ax in axs:
        ax.axhline(0.0, color="k", lw=0.5, ls=":")
        ax.set_ylabel(r"$\varepsilon_{ee}^{dV}$")
        ax.legend(fontsize=7, loc="upper left")
    return _finish(fig, folder, "fig2_rn_nsi", "Fig. 2: (R_n, eps_ee^dV) at 1 sigma",
                   "Left: COHERENT CsI 2017 data and a future COHERENT CsI + CONUS combination. Right: the planned "
                   "NaI detector, CONNIE, their combination, and CONNIE measuring -30% / +30% relative to the SM. "
                   "Delta chi2 < 2.30 (2 dof).")


_COMPOSERS: dict[str, list[tuple[str, Callable]]] = {
    "papoulias-kosmas": [("Fig. 1", _pk_fig1), ("Fig. 2", _pk_fig2), ("Fig. 3", _pk_fig3), ("Fig. 4", _pk_fig4),
                         ("Fig. 5", _pk_fig5), ("Fig. 6", _pk_fig6), ("tensor NSI", _pk_tensor),
                         ("light mediators", _pk_mediators)],
    "canas": [("Fig. 1", _canas_fig1), ("Fig. 2", _canas_fig2)],
}

#: Figure label of each analysis file stem (for the bounds table).
_FIGURE_OF = {
    "fig2_weak_mixing": "Fig. 2", "fig3_nsi_1d": "Fig. 3", "fig4_nsi_2d_pulls": "Fig. 4",
    "fig4_nsi_2d_stat": "Fig. 4", "fig5_magnetic_moment": "Fig. 5", "fig5_charge_radius": "Fig. 5",
    "fig6_sterile_pulls": "Fig. 6", "fig6_sterile_stat": "Fig. 6", "extra_tensor_nsi": "tensor NSI",
    "extra_light_mediators": "light mediators",
}


def _figure_label(stem: str) -> str:
    if stem in _FIGURE_OF:
        return _FIGURE_OF[stem]
    if stem.startswith("fig1"):
        return "Fig. 1"
    if stem.startswith("fig2_left"):
        return "Fig. 2 left"
    if stem.startswith("fig2_right"):
        return "Fig. 2 right"
    return stem


def _figure_order(label: str) -> tuple:
    import re

    m = re.match(r"^Fig\. (\d+)", label)
    return (int(m.group(1)), label) if m else (1000, label)


# ----------------------------------------------------------------------------------------------
# running
# ----------------------------------------------------------------------------------------------
def run_paper(paper: str, out_dir, grid_scale: float = 1.0, executor=None, progress: bool = False,
              log: Callable[[str], None] | None = None) -> dict:
    """Run every analysis file of one paper and compose its figures and tables in ``out_dir/<paper>``.

    Parameters
    ----------
    paper : str
        A key of :data:`PAPERS`.
    out_dir : str or Path
        Root output folder.
    grid_scale : float
        Scale of every scan grid (1 = the files' grids; see :func:`scaled_analysis`).
    executor : optional
        Passed to :func:`cevns.analysis.run_analysis`.
    progress : bool
        Progress bars of the scans.
    log : callable, optional
        Called with one line per finished analysis / figure.

    Returns
    -------
    dict
        ``{"paper", "title", "reference", "folder", "results", "figures": [...], "tables": [...],
        "seconds"}`` (``results`` is the paper's results.json content).
    """
    from ..analysis import load_analysis, run_analysis
    from ..io import write_json

    info = _paper(paper)
    t0 = time.perf_counter()
    folder = Path(out_dir) / info.key
    folder.mkdir(parents=True, exist_ok=True)
    scans: dict[tuple[str, str], ScanOutput] = {}
    collected = []
    rows: list[dict] = []
    for path in analysis_files(paper):
        t1 = time.perf_counter()
        with open(path, "rb") as fh:
            try:
                raw = tomllib.load(fh)
            except tomllib.TOMLDecodeError as exc:
                raise ConfigError(f"{path}: malformed TOML: {exc}") from None
        spec = load_analysis(scaled_analysis(raw, grid_scale), base_dir=path.parent)
        spec._source = str(path)
        sub = folder / "scans" / path.stem
        res = run_analysis(spec, sub, executor=executor, progress=progress)
        for r in res["scans"]:
            out = ScanOutput(stem=path.stem, analysis=res["analysis"], name=r["name"], result=r,
                             grid=load_scan_grid(sub / f"{r['name']}.csv"), folder=sub)
            scans[(path.stem, r["name"])] = out
            collected.append({**r, "name": f"{path.stem}.{r['name']}", "analysis": res["analysis"],
                              "scan": r["name"], "title": res["title"]})
            rows.extend(bounds_rows(_figure_label(path.stem), out))
        if log:
            log(f"[{info.key}] {path.stem}: {len(res['scans'])} scan(s) in {time.perf_counter() - t1:.1f} s")
    figures = []
    for _, compose in _COMPOSERS[info.key]:
        fig = compose(scans, folder)
        figures.append(fig)
        if log:
            log(f"[{info.key}] wrote {fig.stem}.png/.pdf")
    results = {"analysis": info.key, "title": info.title, "reference": info.reference,
               "grid_scale": grid_scale, "scans": collected}
    write_json(folder / "results.json", results)
    rows.sort(key=lambda row: _figure_order(row["figure"]))
    csv_path, md_path = _write_tables(folder, rows, info.title)
    seconds = time.perf_counter() - t0
    return {"paper": info.key, "title": info.title, "reference": info.reference, "note": info.note,
            "folder": str(folder), "results": results, "rows": rows,
            "figures": [{"stem": f.stem, "title": f.title, "caption": f.caption,
                         "files": [str(p) for p in f.files]} for f in figures],
            "tables": [str(csv_path), str(md_path)], "seconds": seconds}


def reproduce(out_dir, papers: Sequence[str] | str | None = None, quick: bool = False,
              grid_scale: float | None = None, executor=None, progress: bool = False,
              log: Callable[[str], None] | None = None) -> dict:
    """Reproduce one or both seed papers into ``out_dir`` and write ``out_dir/index.html``.

    Parameters
    ----------
    out_dir : str or Path
    papers : str or sequence of str, optional
        Keys of :data:`PAPERS` (default: all).
    quick : bool
        Reduced grids (``grid_scale = QUICK_SCALE``) unless ``grid_scale`` is given.
    grid_scale : float, optional
        Scale of every scan grid (default 1).
    executor, progress, log :
        See :func:`run_paper`.

    Returns
    -------
    dict
        ``{"papers": {key: run_paper(...)}, "index": path, "seconds": total}``.

    Raises
    ------
    ConfigError
        For an unknown paper name or a bad grid scale.
    """
    if papers is None:
        keys = list(PAPERS)
    else:
        keys = [papers] if isinstance(papers, str) else list(papers)
    for k in keys:
        _paper(k)
    scale = grid_scale if grid_scale is not None else (QUICK_SCALE if quick else 1.0)
    t0 = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary = {}
    for k in keys:
        summary[k] = run_paper(k, out, grid_scale=scale, executor=executor, progress=progress, log=log)
    seconds = time.perf_counter() - t0
    index = write_index(out, summary, seconds=seconds, grid_scale=scale)
    return {"papers": summary, "index": str(index), "seconds": seconds}


# ----------------------------------------------------------------------------------------------
# index.html
# ----------------------------------------------------------------------------------------------
_LINKED_SUFFIXES = (".png", ".pdf", ".csv", ".md", ".json")
_CSS = """body{font-family:sans-serif;max-width:1200px;margin:auto;padding:1em;color:#222}
h1{font-size:1.5em}h2{border-bottom:1px solid #aaa;margin-top:2em}figure{margin:1.5em 0}
img{max-width:100%;border:1px solid #ddd}figcaption{font-size:.9em;color:#444}
table{border-collapse:collapse;font-size:.8em;margin:1em 0}td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}
th{background:#eee}ul.files{columns:2;font-size:.8em}.note{font-size:.9em;color:#333}"""


def _rel(path, root: Path) -> str:
    return Path(path).resolve().relative_to(root.resolve()).as_posix()


def write_index(out_dir, summary: Mapping[str, dict], seconds: float | None = None,
                grid_scale: float = 1.0) -> Path:
    """Write ``out_dir/index.html``: every composed figure (PNG shown, PDF linked) and bounds table of
    each paper in ``summary`` (output of :func:`run_paper`), then a link to every PNG, PDF, CSV,
    Markdown and JSON file under ``out_dir``."""
    from ..io import write_text

    root = Path(out_dir)
    e = html.escape
    parts = ["<!DOCTYPE html>", "<html><head><meta charset='utf-8'><title>cevns reproduce</title>",
             f"<style>{_CSS}</style></head><body>", "<h1>cevns reproduce: the seed papers</h1>"]
    meta = []
    if seconds is not None:
        meta.append(f"generated in {seconds:.0f} s")
    if grid_scale != 1.0:
        meta.append(f"reduced grids (grid scale {grid_scale:g})")
    if meta:
        parts.append(f"<p class='note'>{e('; '.join(meta))}</p>")
    parts.append("<ul>" + "".join(f"<li><a href='#{e(k)}'>{e(s['title'])}</a></li>" for k, s in summary.items())
                 + "</ul>")
    linked: set[str] = set()
    for key, s in summary.items():
        parts.append(f"<h2 id='{e(key)}'>{e(s['title'])}</h2>")
        parts.append(f"<p class='note'>{e(s['reference'])}. {e(s.get('note', ''))}</p>")
        for fig in s["figures"]:
            files = [_rel(p, root) for p in fig["files"]]
            png = next((f for f in files if f.endswith(".png")), None)
            links = " ".join(f"<a href='{e(f)}'>{e(Path(f).suffix[1:].upper())}</a>" for f in files)
            parts.append("<figure>")
            if png:
                parts.append(f"<a href='{e(png)}'><img src='{e(png)}' alt='{e(fig['title'])}'></a>")
            parts.append(f"<figcaption><b>{e(fig['title'])}</b>. {e(fig['caption'])} [{links}]</figcaption>")
            parts.append("</figure>")
            linked.update(files)
        tables = [_rel(p, root) for p in s["tables"]]
        linked.update(tables)
        res = _rel(Path(s["folder"]) / "results.json", root)
        linked.add(res)
        parts.append("<h3>Extracted bounds</h3>")
        parts.append("<p>" + " ".join(f"<a href='{e(t)}'>{e(Path(t).name)}</a>" for t in tables)
                     + f" <a href='{e(res)}'>results.json</a></p>")
        cols = ["figure", "scan", "parameters", "cl", "best_fit", "bound", "note"]
        parts.append("<table><tr>" + "".join(f"<th>{c}</th>" for c in cols) + "</tr>")
        for row in s.get("rows", []):
            parts.append("<tr>" + "".join(f"<td>{e(str(row.get(c, '')))}</td>" for c in cols) + "</tr>")
        parts.append("</table>")
    others = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in _LINKED_SUFFIXES
                    and ".partial" not in p.parts and _rel(p, root) not in linked)
    if others:
        parts.append("<h2 id='files'>All other outputs (per analysis file)</h2><ul class='files'>")
        for p in others:
            r = _rel(p, root)
            parts.append(f"<li><a href='{e(r)}'>{e(r)}</a></li>")
        parts.append("</ul>")
    parts.append("</body></html>")
    path = root / "index.html"
    write_text(path, "\n".join(parts) + "\n")
    return path
