"""Run a paper's analysis files and compose its figures and tables; resume an interrupted run.

Layout of ``out_dir`` (see :func:`reproduce`)::

    index.html
    <paper>/figN_*.png, .pdf        composed figures (figures.toml); .csv: data of a spectrum figure
    <paper>/results.json            every scan, names "<analysis file stem>.<scan>"
    <paper>/bounds.csv, bounds.md   the extracted bounds (with the data used and published values)
    <paper>/hepdata/                with ``hepdata = true`` in figures.toml: the HEPData submission
    <paper>/scans/<stem>/           run_analysis outputs of each analysis file (full grids)
    <paper>/scans-scale<s>/<stem>/  the same for reduced grids (``--quick``: s = 0.3); never mixed

Resuming: when an analysis file has finished, its results and Delta-chi^2 arrays are stored next to its
outputs as ``.done-<key>.json`` / ``.done-<key>.npz``, ``key`` a hash of the resolved (scaled) analysis and
the package version. A rerun with the same key reuses them instead of recomputing; a changed analysis
file, grid scale or version gets a new key. Scans interrupted half-way resume from their chunks
(:func:`cevns.analysis.run_analysis`).
"""

from __future__ import annotations

import hashlib
import json
import time
import tomllib
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .. import __version__
from ..analysis import load_analysis, run_analysis
from ..analysis.hepdata import export_hepdata
from ..errors import CevnsError, ConfigError
from ..io import atomic_path, save_figure, write_json
from .composers import compose_figure
from .extras import PAPER_EXTRAS
from .figure_data import write_figure_csv
from .grids import QUICK_SCALE, scaled_analysis
from .index_html import write_index
from .registry import PAPERS, analysis_files, load_paper
from .results import ScanOutput
from .tables import bounds_rows, write_tables
from .template_fit import FIT_FIGURE_KINDS, run_template_fit

__all__ = ["run_paper", "reproduce", "scans_folder_name", "analysis_key"]


def scans_folder_name(grid_scale: float) -> str:
    """``"scans"`` for the files' grids, ``"scans-scale<s>"`` for reduced ones (never shared).

    Parameters
    ----------
    grid_scale : float
        Grid scale of the run (1 for the files' own grids).

    Returns
    -------
    str
    """
    return "scans" if float(grid_scale) == 1.0 else f"scans-scale{float(grid_scale):g}"


def analysis_key(spec) -> str:
    """16 hex digits identifying a resolved analysis (and the package version) for resuming.

    Parameters
    ----------
    spec : AnalysisSpec
        The resolved analysis.

    Returns
    -------
    str
        The first 16 hex digits of the SHA-256 of the analysis and ``cevns.__version__``.
    """
    payload = {"analysis": spec.to_dict(), "version": __version__}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _read_toml(path: Path) -> dict:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: malformed TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None


def _load_finished(folder: Path, key: str):
    """``(results, grids)`` of a finished analysis with this key, or None."""
    js, npz = folder / f".done-{key}.json", folder / f".done-{key}.npz"
    if not (js.is_file() and npz.is_file()):
        return None
    try:
        results = json.loads(js.read_text())
        grids: dict = {}
        with np.load(npz) as z:
            for name in z.files:
                scan, _, arr = name.rpartition("::")
                grids.setdefault(scan, {})[arr] = z[name]
    except (OSError, ValueError, KeyError):
        return None
    if {s["name"] for s in results.get("scans", [])} != set(grids):
        return None
    return results, grids


def _mark_finished(folder: Path, key: str, results: dict, grids: dict) -> None:
    for old in folder.glob(".done-*"):
        if not old.name.startswith(f".done-{key}."):
            old.unlink(missing_ok=True)
    arrays = {f"{scan}::{k}": np.asarray(v) for scan, g in grids.items() for k, v in g.items()}
    with atomic_path(folder / f".done-{key}.npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
    write_json(folder / f".done-{key}.json", results)  # written last: its presence marks completion


def _run_file(info, path: Path, scans_root: Path, grid_scale: float, executor, progress: bool,
              max_memory_bytes=None):
    """Run (or reuse) one analysis file: ``(results, grids, reused)``, or None if optional and unloadable."""
    raw = scaled_analysis(_read_toml(path), grid_scale)
    try:
        spec = load_analysis(raw, base_dir=path.parent)
    except ConfigError as exc:
        if path.stem in info.optional_analyses:
            return None, str(exc)
        raise ConfigError(f"{path}: {exc}") from None
    key = analysis_key(spec)
    sub = scans_root / path.stem
    done = _load_finished(sub, key)
    if done is not None:
        return (*done, True), ""
    res = run_analysis(spec, sub, executor=executor, progress=progress, max_memory_bytes=max_memory_bytes)
    grids = getattr(res, "grids", None)
    if grids is None or {r["name"] for r in res["scans"]} - set(grids):
        raise TypeError("cevns.analysis.run_analysis must return an AnalysisResults with the Delta-chi2 "
                        "arrays of every scan in .grids (the paper figures are composed from them)")
    results = dict(res)
    _mark_finished(sub, key, results, grids)
    return (results, grids, False), ""


def run_paper(paper: str, out_dir, grid_scale: float = 1.0, executor=None, progress: bool = False,
              log: Callable[[str], None] | None = None, max_memory_bytes: int | None = None) -> dict:
    """Run every analysis file of one paper and compose its figures and tables in ``out_dir/<paper>``.

    Parameters
    ----------
    paper : str
        A key of :data:`~cevns.papers.registry.PAPERS`.
    out_dir : str or Path
        Root output folder.
    grid_scale : float
        Scale of every scan grid (1 = the files' grids; see :func:`~cevns.papers.grids.scaled_analysis`).
    executor : optional
        Passed to :func:`cevns.analysis.run_analysis`.
    progress : bool
        Progress bars of the scans.
    log : callable, optional
        Called with one line per finished (or reused, or skipped) analysis and per figure.
    max_memory_bytes : int, optional
        Memory budget of each scan (see :func:`cevns.analysis.run_analysis`).

    Returns
    -------
    dict
        ``{"paper", "title", "reference", "note", "folder", "scans_folder", "results", "rows", "scans",
        "figures", "tables", "skipped", "hepdata", "seconds"}`` (``hepdata``: the submission folder or None);
        ``results`` is the paper's results.json content,
        ``scans`` maps ``"<stem>.<scan>"`` to :class:`~cevns.papers.results.ScanOutput` (in-memory arrays).
    """
    info = load_paper(paper)
    t0 = time.perf_counter()
    folder = Path(out_dir) / info.key
    scans_root = folder / scans_folder_name(grid_scale)
    scans: dict[str, ScanOutput] = {}
    collected, rows, skipped = [], [], []
    for path in analysis_files(paper):
        t1 = time.perf_counter()
        run, why = _run_file(info, path, scans_root, grid_scale, executor, progress, max_memory_bytes)
        if run is None:
            skipped.append({"analysis_file": path.name, "reason": why})
            if log:
                log(f"[{info.key}] {path.stem}: skipped (optional; cannot be loaded by this build: {why})")
            continue
        res, grids, reused = run
        for r in res["scans"]:
            out = ScanOutput(stem=path.stem, analysis=res["analysis"], name=r["name"], result=r,
                             grid=grids[r["name"]], folder=scans_root / path.stem, running=res.get("running"))
            scans[out.key] = out
            collected.append({**r, "name": out.key, "analysis": res["analysis"], "scan": r["name"],
                              "title": res["title"]})
            for row in bounds_rows(info.figure_label(out.key), out):
                rows.append({**row, "data": _data_used(path), "published": info.published.get(out.key, "")})
        if log:
            how = "reused (finished earlier)" if reused else f"in {time.perf_counter() - t1:.1f} s"
            log(f"[{info.key}] {path.stem}: {len(res['scans'])} scan(s) {how}")
    figures = []
    for spec in info.figures:
        if spec["kind"] in FIT_FIGURE_KINDS:  # drawn by the template fit below
            continue
        fig = compose_figure(spec, scans)
        files = [folder / f"{spec['id']}.png", folder / f"{spec['id']}.pdf"]
        save_figure(fig, files[0], dpi=150)
        save_figure(fig, files[1])
        write_figure_csv(spec, folder / f"{spec['id']}.csv", scans)  # spectrum, weak mixing; others: scan CSVs
        figures.append({"stem": spec["id"], "title": spec["title"], "caption": spec["caption"],
                        "files": [str(p) for p in files]})
        if log:
            log(f"[{info.key}] wrote {spec['id']}.png/.pdf")
    results = {"analysis": info.key, "title": info.title, "reference": info.reference,
               "grid_scale": grid_scale, "scans": collected}
    if info.key in PAPER_EXTRAS:  # non-scan results of a paper (e.g. the XENONnT 8B flux fits)
        extra = PAPER_EXTRAS[info.key](folder, log=log)
        results.update(extra["results"])
        figures.extend(extra["figures"])
    if info.fit:  # a data-set reproduction: template fit, its figures and the headline block
        fitted = run_template_fit(info, folder)
        figures.extend(fitted.pop("figures"))
        results.update(fitted)
        if log:
            log(f"[{info.key}] fit: {fitted['headline']}")
    if skipped:
        results["skipped"] = skipped
    write_json(folder / "results.json", results)
    hepdata = _export_hepdata(info, folder, log)
    rows.sort(key=lambda row: _figure_order(row["figure"]))
    csv_path, md_path = write_tables(folder, rows, info.title)
    return {"paper": info.key, "title": info.title, "reference": info.reference, "note": info.note,
            "folder": str(folder), "scans_folder": str(scans_root), "results": results, "rows": rows,
            "scans": scans, "figures": figures, "tables": [str(csv_path), str(md_path)], "skipped": skipped,
            "hepdata": hepdata,
            "seconds": time.perf_counter() - t0}


def _export_hepdata(info, folder: Path, log) -> str | None:
    """``[paper] hepdata = true``: every result of the paper folder as a validated HEPData submission in
    ``<paper>/hepdata/`` (:func:`cevns.analysis.hepdata.export_hepdata`); the folder, or None."""
    if not info.hepdata:
        return None
    try:
        summary = export_hepdata(folder, folder / "hepdata", images=False)
    except CevnsError as exc:  # e.g. the optional hepdata_lib is not installed
        if log:
            log(f"[{info.key}] HEPData export skipped: {exc}")
        return None
    if log:
        log(f"[{info.key}] wrote HEPData submission ({len(summary['tables'])} tables) -> {summary['archive']}")
    return summary["folder"]


def _data_used(path: Path) -> str:
    """The data sets of an analysis file: "label (likelihood, data)" joined by " + "."""
    parts = []
    for e in _read_toml(path).get("experiments", []):
        extra = ", ".join(str(e[k]) for k in ("likelihood", "data") if k in e)
        parts.append(f"{e.get('label', e.get('experiment', '?'))}" + (f" ({extra})" if extra else ""))
    return " + ".join(parts)


def _figure_order(label: str) -> tuple:
    """Sort key of a figure label: "Fig. N ..." by N, anything else after them."""
    parts = label.split()
    if len(parts) >= 2 and parts[0] == "Fig." and parts[1].isdigit():
        return (int(parts[1]), label)
    return (1000, label)


def reproduce(out_dir, papers: Sequence[str] | str | None = None, quick: bool = False,
              grid_scale: float | None = None, executor=None, progress: bool = False,
              log: Callable[[str], None] | None = None, max_memory_bytes: int | None = None) -> dict:
    """Reproduce one or both seed papers into ``out_dir`` and write ``out_dir/index.html``.

    An interrupted run resumes: analysis files that finished are reused (see the module docstring).

    Parameters
    ----------
    out_dir : str or Path
    papers : str or sequence of str, optional
        Keys of :data:`~cevns.papers.registry.PAPERS` (default: all).
    quick : bool
        Reduced grids (``grid_scale = QUICK_SCALE``) unless ``grid_scale`` is given.
    grid_scale : float, optional
        Scale of every scan grid (default 1).
    executor, progress, log, max_memory_bytes :
        See :func:`run_paper`.

    Returns
    -------
    dict
        ``{"papers": {key: run_paper(...)}, "index": path, "seconds": total}``.

    Raises
    ------
    ConfigError
        For an unknown paper name or a bad grid scale (before anything is written).
    """
    if papers is None:
        keys = list(PAPERS)
    else:
        keys = [papers] if isinstance(papers, str) else list(papers)
    for k in keys:
        load_paper(k)
    scale = grid_scale if grid_scale is not None else (QUICK_SCALE if quick else 1.0)
    scaled_analysis({}, scale)  # validates the scale
    t0 = time.perf_counter()
    out = Path(out_dir)
    summary = {k: run_paper(k, out, grid_scale=scale, executor=executor, progress=progress, log=log,
                                max_memory_bytes=max_memory_bytes) for k in keys}
    seconds = time.perf_counter() - t0
    index = write_index(out, summary, seconds=seconds, grid_scale=scale)
    return {"papers": summary, "index": str(index), "seconds": seconds}
