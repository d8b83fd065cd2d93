"""``index.html`` of a reproduction: a self-contained report page of every figure, bounds table and output.

The page (written by :func:`write_index`) has

* a ``<title>`` and a table of contents (``<nav id="toc">``) with an anchor for every paper, figure,
  bounds table and the list of other outputs;
* every composed figure inline (PNG), with links to its PNG, PDF, the CSV file(s) of the data it
  draws (the scan CSVs of ``run_analysis``, or ``<figure id>.csv`` next to the PNG when one was
  written) and, when exported, its HEPData record (see :func:`hepdata_record`);
* the bounds table of each paper as a sortable HTML table (a small inline script: click or press
  Enter on a column header; numbers sort numerically, text naturally);
* no external resources: styles and script are inline, every link is relative to the page.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Mapping

from .. import __version__
from ..errors import ConfigError
from ..io import write_text
from .registry import load_paper
from .report_assets import REPORT_CSS, TABLE_SORT_JS
from .tables import FIELDS

__all__ = ["write_index", "figure_scans", "hepdata_record", "anchor_id", "TABLE_COLUMNS", "HEPDATA_FOLDER"]

_LINKED_SUFFIXES = (".png", ".pdf", ".csv", ".md", ".json", ".gz", ".yaml")
#: Columns of the bounds table on the page (the CSV has every field of :data:`~cevns.papers.tables.FIELDS`).
TABLE_COLUMNS = [c for c in FIELDS if c != "analysis"]
#: Name of the folder ``cevns export-hepdata ... --out`` is pointed at, looked up by :func:`hepdata_record`.
HEPDATA_FOLDER = "hepdata"
#: Files of a HEPData export, in the order they are preferred as the link target.
_HEPDATA_TARGETS = ("submission.tar.gz", "submission/submission.yaml", "submission.yaml")

def _rel(path, root: Path) -> str:
    return Path(path).resolve().relative_to(root.resolve()).as_posix()


def anchor_id(*parts: str) -> str:
    """An HTML id made of ``parts``, joined by ``--``.

    Parameters
    ----------
    *parts : str
        E.g. the paper key and a figure id. Letters, digits, ``_`` and ``-`` are kept; any other run
        of characters becomes ``-`` (so quotes and brackets never reach the page).

    Returns
    -------
    str
        The id, e.g. ``anchor_id("canas", "fig1_nsi_reactors") == "canas--fig1_nsi_reactors"``.
    """
    return "--".join(re.sub(r"[^A-Za-z0-9_-]+", "-", str(p)).strip("-") or "x" for p in parts)


def _visible(p: Path, base: Path) -> bool:
    """A file the page links: a known suffix, not hidden (resume markers), not a chunk folder."""
    parts = p.relative_to(base).parts
    return p.is_file() and p.suffix in _LINKED_SUFFIXES and not any(x.startswith(".") for x in parts)


def figure_scans(paper: str, figure_id: str) -> list[str]:
    """The scans drawn by figure ``figure_id`` of ``paper``.

    Parameters
    ----------
    paper : str
        A paper key (:data:`~cevns.papers.registry.PAPERS`).
    figure_id : str
        The ``id`` of one ``[[figures]]`` table of the paper's ``figures.toml``.

    Returns
    -------
    list of str
        ``"<analysis file stem>.<scan>"`` of every curve of every panel, in order, without repeats;
        empty for an unknown paper or figure, or a figure drawn from no scan (kind ``spectrum``).
    """
    try:
        info = load_paper(paper)
    except ConfigError:
        return []
    out: list[str] = []
    for fig in info.figures:
        if fig.get("id") != figure_id:
            continue
        for panel in fig.get("panels", []):
            for curve in panel.get("curves", []):
                name = curve.get("scan")
                if isinstance(name, str) and name not in out:
                    out.append(name)
    return out


def _submission(d: Path) -> Path | None:
    for name in _HEPDATA_TARGETS:
        if (d / name).is_file():
            return d / name
    return None


def hepdata_record(root, paper: str, stem: str | None = None, scans_folder=None) -> Path | None:
    """The HEPData export of analysis file ``stem`` of ``paper`` (or of the whole paper), else None.

    ``cevns export-hepdata RESULTS_DIR --out DIR`` writes ``DIR/submission/`` and
    ``DIR/submission.tar.gz``; ``RESULTS_DIR`` is an analysis folder ``<scans_folder>/<stem>`` or the
    paper folder ``<root>/<paper>``. Looked up, first match wins:

    * ``stem`` given: ``DIR`` = ``<scans_folder>/<stem>/hepdata``, ``<root>/<paper>/hepdata/<stem>`` or
      ``<root>/hepdata/<paper>/<stem>``; the link target is the archive, else ``submission.yaml``, else
      the folder itself;
    * ``stem`` None (the paper's record): ``DIR`` = ``<root>/<paper>/hepdata`` or
      ``<root>/hepdata/<paper>`` holding the archive or ``submission.yaml``.

    Parameters
    ----------
    root : str or Path
        The reproduction's root folder (``cevns reproduce --out``).
    paper : str
        The paper key.
    stem : str, optional
        An analysis file stem; None for the paper's record.
    scans_folder : str or Path, optional
        The paper's scans folder (``run_paper(...)["scans_folder"]``).

    Returns
    -------
    Path or None
        The file (or folder) to link, or None when nothing was exported.
    """
    root = Path(root)
    if stem is None:
        for d in (root / paper / HEPDATA_FOLDER, root / HEPDATA_FOLDER / paper):
            if d.is_dir() and _submission(d) is not None:
                return _submission(d)
        return None
    folders = [root / paper / HEPDATA_FOLDER / stem, root / HEPDATA_FOLDER / paper / stem]
    if scans_folder is not None:
        folders.insert(0, Path(scans_folder) / stem / HEPDATA_FOLDER)
    for d in folders:
        if d.is_dir():
            return _submission(d) or d
    return None


def _href(path: Path, root: Path) -> str:
    r = _rel(path, root)
    return r + "/" if path.is_dir() else r


def _figure_links(key: str, s: dict, fig: dict, root: Path, linked: set[str]) -> str:
    """The link row of one figure: PNG, PDF, CSV of the data drawn, HEPData record(s)."""
    e = html.escape
    files = [Path(p) for p in fig["files"]]
    links = [f"<a href='{e(_rel(p, root))}'>{e(p.suffix[1:].upper())}</a>" for p in files]
    linked.update(_rel(p, root) for p in files)
    scans_folder = Path(s.get("scans_folder", s["folder"]))
    own_csv = Path(s["folder"]) / f"{fig['stem']}.csv"
    csvs: list[tuple[str, Path]] = [("CSV", own_csv)] if own_csv.is_file() else []
    stems: list[str] = []
    names = fig.get("scans") or figure_scans(s.get("paper", key), fig["stem"])
    short = [n.partition(".")[2] for n in names]
    for name, scan in zip(names, short):
        stem = name.partition(".")[0]
        if stem not in stems:
            stems.append(stem)
        csv = scans_folder / stem / f"{scan}.csv"
        if csv.is_file():
            label = "CSV" if len(names) == 1 else f"CSV {scan if short.count(scan) == 1 else name}"
            csvs.append((label, csv))
    for label, p in csvs:
        links.append(f"<a href='{e(_rel(p, root))}' title='{e(_rel(p, root))}'>{e(label)}</a>")
        linked.add(_rel(p, root))
    if not csvs:
        links.append("<span class='missing' title='no data file was written for this figure'>CSV: none</span>")
    records = [(stem, hepdata_record(root, s.get("paper", key), stem, scans_folder)) for stem in stems]
    found = [(stem, p) for stem, p in records if p is not None]
    for stem, p in found:
        label = f"HEPData {stem}" if len(stems) > 1 else "HEPData"
        links.append(f"<a href='{e(_href(p, root))}'>{e(label)}</a>")
    paper_record = hepdata_record(root, s.get("paper", key)) if stems and not found else None
    if paper_record is not None:
        links.append(f"<a href='{e(_href(paper_record, root))}'>HEPData (paper)</a>")
    elif stems and not found:
        folder = _rel(s["folder"], root)
        hint = (f"cevns export-hepdata {folder} --out {folder}/{HEPDATA_FOLDER} (whole paper), or "
                f"cevns export-hepdata {_rel(scans_folder, root)}/STEM --out {_rel(scans_folder, root)}/STEM/"
                f"{HEPDATA_FOLDER} (one analysis file)")
        links.append(f"<span class='missing' title='{e(hint)}'>HEPData: not exported</span>")
    return "<div class='links'>" + " ".join(links) + "</div>"


def _cell(column: str, value) -> str:
    """Escaped cell text; long scan names may wrap after ``.`` and ``_`` (``<wbr>``, no text added)."""
    text = html.escape(str(value))
    if column == "scan":
        text = text.replace(".", ".<wbr>").replace("_", "_<wbr>")
    return text


def _bounds_table(rows: list[dict]) -> list[str]:
    e = html.escape
    out = ["<div class='tablewrap'><table class='sortable'><thead><tr>"
           + "".join(f"<th scope='col'>{e(c)}</th>" for c in TABLE_COLUMNS) + "</tr></thead><tbody>"]
    for row in rows:
        out.append("<tr>" + "".join(f"<td class='c-{c}'>{_cell(c, row.get(c, ''))}</td>" for c in TABLE_COLUMNS)
                   + "</tr>")
    out.append("</tbody></table></div>")
    return out


def _paper_section(key: str, s: dict, root: Path, linked: set[str]) -> list[str]:
    e = html.escape
    parts = [f"<section id='{anchor_id(key)}'><h2>{e(s['title'])}</h2>",
             f"<p class='note'>{e(s['reference'])}. {e(s.get('note', ''))}</p>"]
    for sk in s.get("skipped", []):
        parts.append(f"<p class='note'>Skipped (optional): {e(sk['analysis_file'])}: {e(sk['reason'])}</p>")
    for fig in s["figures"]:
        png = next((p for p in fig["files"] if str(p).endswith(".png")), None)
        parts.append(f"<figure id='{anchor_id(key, fig['stem'])}'>")
        if png:
            r = e(_rel(png, root))
            parts.append(f"<a href='{r}'><img src='{r}' alt='{e(fig['title'])}' loading='eager'></a>")
        parts.append(f"<figcaption><b>{e(fig['title'])}</b>. {e(fig['caption'])}"
                     f"{_figure_links(key, s, fig, root, linked)}</figcaption></figure>")
    tables = [_rel(p, root) for p in s["tables"]]
    linked.update(tables)
    res = _rel(Path(s["folder"]) / "results.json", root)
    linked.add(res)
    parts.append(f"<h3 id='{anchor_id(key, 'bounds')}'>Extracted bounds</h3>")
    record = hepdata_record(root, s.get("paper", key))
    hep = f" <a href='{e(_href(record, root))}'>HEPData (paper)</a>" if record is not None else ""
    parts.append("<p class='links'>" + " ".join(f"<a href='{e(t)}'>{e(Path(t).name)}</a>" for t in tables)
                 + f" <a href='{e(res)}'>results.json</a>{hep}"
                 " <span class='note'>(click a column header to sort)</span></p>")
    parts.extend(_bounds_table(s.get("rows", [])))
    parts.append("</section>")
    return parts


def _toc(summary: Mapping[str, dict], has_others: bool) -> str:
    e = html.escape
    items = []
    for key, s in summary.items():
        sub = "".join(f"<li><a href='#{anchor_id(key, f['stem'])}'>{e(f['title'])}</a></li>" for f in s["figures"])
        sub += f"<li><a href='#{anchor_id(key, 'bounds')}'>Extracted bounds</a></li>"
        items.append(f"<li><a href='#{anchor_id(key)}'>{e(s['title'])}</a><ol>{sub}</ol></li>")
    if has_others:
        items.append("<li><a href='#files'>All other outputs</a></li>")
    return "<nav id='toc' aria-label='Contents'><h2>Contents</h2><ol>" + "".join(items) + "</ol></nav>"


def _other_outputs(summary: Mapping[str, dict], root: Path, linked: set[str]) -> list[str]:
    """Every further output file of the scan folders (and HEPData folders), grouped by folder."""
    e = html.escape
    groups: dict[str, list[Path]] = {}
    for key, s in summary.items():
        bases = [Path(s.get("scans_folder", s["folder"])), Path(s["folder"]) / HEPDATA_FOLDER,
                 root / HEPDATA_FOLDER / s.get("paper", key)]
        for base in bases:
            if base.is_dir():
                for p in sorted(base.rglob("*")):
                    if _visible(p, base) and _rel(p, root) not in linked:
                        groups.setdefault(_rel(p.parent, root), []).append(p)
    if not groups:
        return []
    parts = ["<section id='files'><h2>All other outputs (per analysis file)</h2>"]
    for folder, files in groups.items():
        parts.append(f"<details><summary>{e(folder)}/ ({len(files)} files)</summary><ul class='files'>")
        parts.extend(f"<li><a href='{e(_rel(p, root))}'>{e(p.name)}</a></li>" for p in files)
        parts.append("</ul></details>")
    parts.append("</section>")
    return parts


def write_index(out_dir, summary: Mapping[str, dict], seconds: float | None = None,
                grid_scale: float = 1.0) -> Path:
    """Write ``out_dir/index.html`` (atomically) and return its path.

    Parameters
    ----------
    out_dir : str or Path
        The reproduction's root folder; every link on the page is relative to it.
    summary : mapping
        Paper key -> the output of :func:`cevns.papers.run.run_paper` (keys used: ``title``,
        ``reference``, ``note``, ``folder``, ``scans_folder``, ``figures``, ``tables``, ``rows``,
        ``skipped``; a figure may carry ``scans``, else they are read from the paper's figures.toml).
    seconds : float, optional
        Run time shown in the header.
    grid_scale : float
        Shown in the header when not 1 (reduced grids).
    """
    root = Path(out_dir)
    e = html.escape
    linked: set[str] = set()
    body: list[str] = []
    for key, s in summary.items():
        body.extend(_paper_section(key, s, root, linked))
    others = _other_outputs(summary, root, linked)
    titles = "; ".join(s["title"].split(":")[0] for s in summary.values())
    meta = [f"cevns {__version__}"]
    if seconds is not None:
        meta.append(f"generated in {seconds:.0f} s")
    if grid_scale != 1.0:
        meta.append(f"reduced grids (grid scale {grid_scale:g}): coarser numbers than a full run")
    parts = ["<!DOCTYPE html>", "<html lang='en'><head><meta charset='utf-8'>",
             "<meta name='viewport' content='width=device-width, initial-scale=1'>",
             "<link rel='icon' href='data:,'>",
             f"<title>cevns reproduce: {e(titles or 'no papers')}</title>",
             f"<style>{REPORT_CSS}</style></head><body>",
             "<header class='top'><h1>cevns reproduce: the seed papers</h1>"
             f"<p>{e('; '.join(meta))}</p></header>",
             "<div class='layout'>", _toc(summary, bool(others)), "<main>"]
    parts.extend(body)
    parts.extend(others)
    parts += ["</main></div>", f"<script>{TABLE_SORT_JS}</script>", "</body></html>"]
    path = root / "index.html"
    write_text(path, "\n".join(parts) + "\n")
    return path
