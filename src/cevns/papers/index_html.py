"""``index.html`` of a reproduction: every composed figure and bounds table, links to every output."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Mapping

from ..io import write_text
from .tables import MD_COLUMNS

__all__ = ["write_index"]

_LINKED_SUFFIXES = (".png", ".pdf", ".csv", ".md", ".json")
_CSS = """body{font-family:sans-serif;max-width:1200px;margin:auto;padding:1em;color:#222}
h1{font-size:1.5em}h2{border-bottom:1px solid #aaa;margin-top:2em}figure{margin:1.5em 0}
img{max-width:100%;border:1px solid #ddd}figcaption{font-size:.9em;color:#444}
table{border-collapse:collapse;font-size:.8em;margin:1em 0}td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}
th{background:#eee}ul.files{columns:2;font-size:.8em}.note{font-size:.9em;color:#333}"""


def _rel(path, root: Path) -> str:
    return Path(path).resolve().relative_to(root.resolve()).as_posix()


def _visible(p: Path, base: Path) -> bool:
    """A file the page links: a known suffix, not hidden (resume markers), not a chunk folder."""
    parts = p.relative_to(base).parts
    return p.is_file() and p.suffix in _LINKED_SUFFIXES and not any(x.startswith(".") for x in parts)


def _paper_section(key: str, s: dict, root: Path, linked: set[str]) -> list[str]:
    e = html.escape
    parts = [f"<h2 id='{e(key)}'>{e(s['title'])}</h2>",
             f"<p class='note'>{e(s['reference'])}. {e(s.get('note', ''))}</p>"]
    for sk in s.get("skipped", []):
        parts.append(f"<p class='note'>Skipped (optional): {e(sk['analysis_file'])}: {e(sk['reason'])}</p>")
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
    parts.append("<table><tr>" + "".join(f"<th>{c}</th>" for c in MD_COLUMNS) + "</tr>")
    for row in s.get("rows", []):
        parts.append("<tr>" + "".join(f"<td>{e(str(row.get(c, '')))}</td>" for c in MD_COLUMNS) + "</tr>")
    parts.append("</table>")
    return parts


def write_index(out_dir, summary: Mapping[str, dict], seconds: float | None = None,
                grid_scale: float = 1.0) -> Path:
    """Write ``out_dir/index.html`` (atomically).

    Shows every composed figure (PNG inline, PDF linked) and the bounds table of each paper in
    ``summary`` (values: the output of :func:`cevns.papers.run.run_paper`), then links every PNG, PDF,
    CSV, Markdown and JSON output of this run's scan folders (``scans_folder`` of each paper).
    """
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
        parts.extend(_paper_section(key, s, root, linked))
    others = []
    for s in summary.values():
        base = Path(s.get("scans_folder", s["folder"]))
        if base.is_dir():
            others += [p for p in sorted(base.rglob("*")) if _visible(p, base) and _rel(p, root) not in linked]
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
