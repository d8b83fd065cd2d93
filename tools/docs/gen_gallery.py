"""The gallery page: every figure of ``cevns reproduce`` with the command that made it.

Modes (environment variable ``CEVNS_DOCS_GALLERY``, read by ``hooks.py``):

* ``quick``: run :func:`cevns.papers.reproduce.reproduce` with ``quick=True`` (reduced grids) into a
  temporary folder while the site builds and show every PNG it wrote, with its caption;
* ``full``: the same with the papers' full grids;
* ``off``: no images; the page lists each paper's analysis files and the commands (used by the test
  that builds the site, which must stay fast).
"""

from __future__ import annotations

import tempfile
import tomllib
from pathlib import Path

from cevns.papers.reproduce import PAPERS, analysis_files, reproduce

MODES = ("quick", "full", "off")


def _commands(key: str, quick: bool) -> str:
    q = " --quick" if quick else ""
    return f"```bash\ncevns reproduce {key} --out reproduction{q}\n```\n"


def _analysis_table(key: str) -> str:
    rows = ["| analysis file | title | run it alone |", "|---|---|---|"]
    for path in analysis_files(key):
        with open(path, "rb") as fh:
            raw = tomllib.load(fh)
        rel = f"src/cevns/papers/{path.parent.name}/{path.name}"
        title = str(raw.get("title", "")).replace("|", "/")
        rows.append(f"| `{path.name}` | {title} | `cevns scan {rel} --out out/{path.stem}` |")
    return "\n".join(rows) + "\n"


def _figure_map(key: str) -> str:
    """Entries of the paper's ``figures.toml`` (if the paper folder has one) with a title."""
    path = Path(analysis_files(key)[0]).parent / "figures.toml" if analysis_files(key) else None
    if path is None or not path.exists():
        return ""
    with open(path, "rb") as fh:
        raw = tomllib.load(fh)
    entries = []
    for k, v in raw.items():
        for item in (v if isinstance(v, list) else [v]):
            if isinstance(item, dict):
                entries.append(f"- `{item.get('stem', item.get('name', k))}`: {item.get('title', '')}")
    return ("Figure map (`figures.toml`):\n\n" + "\n".join(entries) + "\n") if entries else ""


def gallery_files(mode: str = "quick") -> dict[str, str | bytes]:
    """``{"gallery.md": page, "gallery/<paper>/<stem>.png": bytes, ...}`` for the requested mode."""
    if mode not in MODES:
        raise ValueError(f"CEVNS_DOCS_GALLERY must be one of {', '.join(MODES)}, got {mode!r}")
    files: dict[str, str | bytes] = {}
    summary = {}
    if mode != "off":
        with tempfile.TemporaryDirectory(prefix="cevns-gallery-") as tmp:
            result = reproduce(tmp, quick=(mode == "quick"))
            for key in PAPERS:
                described = {f.get("stem"): f for f in result.get("papers", {}).get(key, {}).get("figures", [])}
                figs = []
                for png in sorted((Path(tmp) / key).glob("*.png")):  # every figure the run wrote for this paper
                    uri = f"gallery/{key}/{png.name}"
                    files[uri] = png.read_bytes()
                    figs.append({"stem": png.stem, **described.get(png.stem, {}), "uri": uri})
                summary[key] = {"figures": figs}
    page = ["# Gallery\n",
            "The figures of `cevns reproduce`: the two seed papers, each figure composed from the scans of the "
            "paper's analysis files (under `src/cevns/papers/`). "
            + ("These images were made with reduced grids (`--quick`) while this site was built; "
               "the full-resolution versions come from the same command without `--quick`."
               if mode == "quick" else
               "These images were made with the papers' full grids while this site was built." if mode == "full" else
               "This build was made without running the reproductions (`CEVNS_DOCS_GALLERY=off`), so only the "
               "commands are listed; build with `CEVNS_DOCS_GALLERY=quick` to include the images.") + "\n",
            "Every figure is also written as PDF next to the PNG, with the Delta-chi2 grids (CSV), `results.json` "
            "and a bounds table (`bounds.csv`, `bounds.md`) in the output folder; `reproduction/index.html` shows "
            "them all on one page.\n"]
    for key, paper in PAPERS.items():
        page += [f"## {getattr(paper, 'title', key)}\n",
                 f"{getattr(paper, 'reference', '')}. {getattr(paper, 'note', '')}\n", "All figures of this paper:\n",
                 _commands(key, quick=(mode == "quick"))]
        for f in summary.get(key, {}).get("figures", []):
            img = Path(f["uri"]).relative_to("gallery").as_posix()
            page += [f"### {f.get('title', f['stem'])}\n", f"![{f.get('title', f['stem'])}](gallery/{img})\n",
                     f"{f.get('caption', '')}\n",
                     f"Made by `cevns reproduce {key} --out reproduction"
                     + (" --quick" if mode == "quick" else "") + f"` -> `reproduction/{key}/{f['stem']}.png` (and `.pdf`).\n"]
        page += [_figure_map(key), "Analysis files behind the figures (each runs alone with `cevns scan`):\n",
                 _analysis_table(key)]
    files["gallery.md"] = "\n".join(page)
    return files
