"""Bounds tables of a paper: one row per scan and confidence level, from the scan results.

Row kinds: ``allowed interval`` (1D scans: the union of allowed intervals; low/high = the outer ends),
``exclusion`` (2D exclusion curves: the smallest excluded y over the x axis, i.e. the strongest
exclusion, and where), ``allowed region (extent)`` (2D: x and y extents of the allowed contours).
"""

from __future__ import annotations

import csv
import io as _io
import math
from pathlib import Path

import numpy as np

from ..io import write_text
from .results import ScanOutput

__all__ = ["FIELDS", "MD_COLUMNS", "bounds_rows", "best_fit_text", "write_tables"]

FIELDS = ["figure", "analysis", "scan", "parameters", "cl", "kind", "best_fit", "bound", "low", "high", "note",
          "data", "published"]
MD_COLUMNS = ["figure", "scan", "parameters", "cl", "best_fit", "bound", "note", "data", "published"]


def _fmt(v) -> str:
    if v is None:
        return ""
    if isinstance(v, (list, tuple)):
        return "(" + ", ".join(_fmt(x) for x in v) + ")"
    v = float(v)
    if not math.isfinite(v):
        return ""
    return f"{v:.4g}"


def best_fit_text(result: dict) -> str:
    """Every degenerate best fit of a scan: ``result["best_fits"]`` joined by " or " when present
    (all minima within the scan's degeneracy tolerance), else ``result["best_fit"]``."""
    fits = result.get("best_fits")
    if fits:
        return " or ".join(_fmt(b) for b in fits)
    return _fmt(result["best_fit"])


def _interval_rows(base: dict, r: dict) -> list[dict]:
    rows = []
    for key, pairs in r["intervals"].items():
        if pairs:
            txt = " U ".join(f"[{_fmt(lo)}, {_fmt(hi)}]" for lo, hi in pairs)
            lo, hi = pairs[0][0], pairs[-1][1]
            opens = r.get("open_ends", {}).get(key, [])
            note = "interval reaches the scan boundary" if any(any(o) for o in opens) else ""
        else:
            txt, lo, hi, note = "none", None, None, "nothing allowed"
        rows.append({**base, "parameters": r["parameter"], "cl": key, "kind": "allowed interval",
                     "bound": txt, "low": _fmt(lo), "high": _fmt(hi), "note": note})
    return rows


def _exclusion_rows(base: dict, r: dict) -> list[dict]:
    px, py = r["parameters"]
    rows = []
    for key, exc in r["exclusion"].items():
        xs = np.asarray(exc["x"], dtype=float)
        ys = np.array([np.nan if v is None else v for v in exc["y"]], dtype=float)
        ok = np.isfinite(ys)
        ylab = r.get("y_transform") or py
        if ok.any():
            i = int(np.nanargmin(np.where(ok, ys, np.nan)))  # strongest exclusion: the smallest excluded y
            txt = f"{ylab} > {_fmt(ys[i])} excluded at {px} = {_fmt(xs[i])} (strongest)"
            note = f"excluded for {int(ok.sum())} of {ok.size} {px} values"
            lo, hi = ys[i], None
        else:
            txt, lo, hi, note = "no exclusion in the scanned range", None, None, ""
        method = r.get("exclusion_method")
        if method:
            note = "; ".join(x for x in (note, f"{method}, threshold {float(r['threshold'][key]):.3g} "
                                                f"({r.get('dof', '?')} dof)") if x)
        rows.append({**base, "parameters": f"{px}, {ylab}", "cl": key, "kind": "exclusion",
                     "bound": txt, "low": _fmt(lo), "high": _fmt(hi), "note": note})
    return rows


def _region_rows(base: dict, r: dict, grid: dict) -> list[dict]:
    px, py = r["parameters"]
    gx, gy = grid["x"], grid["y"]
    rows = []
    for key, lines in r["contours"].items():
        pts = np.concatenate([np.asarray(ln, dtype=float) for ln in lines]) if lines else np.empty((0, 2))
        inside = np.asarray(grid["dchi2"]) <= float(r["threshold"][key])
        if pts.size:
            txt = f"{px} in [{_fmt(pts[:, 0].min())}, {_fmt(pts[:, 0].max())}], " \
                  f"{py} in [{_fmt(pts[:, 1].min())}, {_fmt(pts[:, 1].max())}]"
            edge = bool(inside[0, :].any() or inside[-1, :].any() or inside[:, 0].any() or inside[:, -1].any())
            note = f"{len(lines)} contour line(s)" + ("; region reaches the scan boundary" if edge else "")
            lo, hi = pts[:, 1].min(), pts[:, 1].max()
        else:
            txt, lo, hi, note = "no allowed region on the grid", None, None, ""
        rows.append({**base, "parameters": f"{px}, {py}", "cl": key, "kind": "allowed region (extent)",
                     "bound": txt, "low": _fmt(lo), "high": _fmt(hi),
                     "note": note + f"; grid {np.size(gx)}x{np.size(gy)}"})
    return rows


def bounds_rows(figure: str, out: ScanOutput) -> list[dict]:
    """Rows of the bounds table for one scan (keys :data:`FIELDS`), from its in-memory results.

    1D scans give the allowed intervals (``low``/``high`` = lower end of the first and upper end of the
    last interval); 2D exclusion scans the strongest exclusion (``low`` = the smallest excluded y, and
    the x where it is reached); other 2D scans the extents of the allowed contours (``low``/``high`` =
    the y extent). ``best_fit`` lists every degenerate best fit (:func:`best_fit_text`).

    Parameters
    ----------
    figure : str
        Figure label the scan belongs to.
    out : ScanOutput
        The evaluated scan.

    Returns
    -------
    list of dict
    """
    r = out.result
    base = {"figure": figure, "analysis": out.analysis, "scan": out.key, "best_fit": best_fit_text(r)}
    if "parameter" in r:
        return _interval_rows(base, r)
    if "exclusion" in r:
        return _exclusion_rows(base, r)
    return _region_rows(base, r, out.grid)


def write_tables(folder, rows: list[dict], title: str) -> tuple[Path, Path]:
    """Write ``bounds.csv`` (all :data:`FIELDS`) and ``bounds.md`` (:data:`MD_COLUMNS`) atomically.

    Parameters
    ----------
    folder : str or pathlib.Path
        Output folder.
    rows : list of dict
        Rows from :func:`bounds_rows`.
    title : str
        Paper title (heading of ``bounds.md``).

    Returns
    -------
    csv_path, md_path : pathlib.Path
    """
    folder = Path(folder)
    buf = _io.StringIO()
    w = csv.DictWriter(buf, fieldnames=FIELDS, lineterminator="\n")
    w.writeheader()
    for row in rows:
        w.writerow({k: row.get(k, "") for k in FIELDS})
    csv_path = folder / "bounds.csv"
    write_text(csv_path, buf.getvalue())
    md = [f"# {title}: extracted bounds", "", "| " + " | ".join(MD_COLUMNS) + " |", "|" + "---|" * len(MD_COLUMNS)]
    for row in rows:
        md.append("| " + " | ".join(str(row.get(c, "")).replace("|", "/") for c in MD_COLUMNS) + " |")
    md_path = folder / "bounds.md"
    write_text(md_path, "\n".join(md) + "\n")
    return csv_path, md_path
