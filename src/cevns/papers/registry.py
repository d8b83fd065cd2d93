"""The reproducible papers: each is a folder ``cevns/papers/<folder>/`` holding its analysis files and
``figures.toml`` (the paper's title and reference, and the map figure -> scans, composer kind, styles).

``figures.toml``::

    [paper]
    key = "papoulias-kosmas"        # the name used on the command line
    title = "..."                    # shown in index.html and bounds.md
    reference = "..."                # full citation (results.json "reference")
    note = "..."                     # inputs in one paragraph
    optional_analyses = ["stem"]     # analysis files skipped (with a note) if this build cannot load them
    fit = "fit.toml"                 # optional: a template fit (cevns.papers.template_fit), results "headline"
    published = {...}                # optional: published numbers of that fit (figures and headline)

    hepdata = true                   # optional: also export every result as HEPData (<paper>/hepdata/)

    [published]                      # optional: "<stem>.<scan>" = published value to compare with (cited)

    [[figures]]
    id = "fig2_weak_mixing"          # output file stem (PNG + PDF)
    label = "Fig. 2"                 # figure label in the bounds table (panels may override it)
    kind = "profiles"                # composer (cevns.papers.composers.COMPOSERS)
    title = "..."                    # caption title
    caption = "..."
    [[figures.panels]]               # one per axes; curves name scans as "<analysis file stem>.<scan>"
    ...

The keys of panels and curves depend on the composer kind (see :mod:`cevns.papers.composers`).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError

__all__ = ["PAPERS", "Paper", "load_paper", "analysis_files", "PAPERS_DIR", "FIGURES_FILE"]

PAPERS_DIR = Path(__file__).resolve().parent
FIGURES_FILE = "figures.toml"

#: Paper key (command-line name) -> folder under ``cevns/papers/``.
PAPERS: dict[str, str] = {
    "papoulias-kosmas": "papoulias_kosmas",
    "canas": "canas",
    "coherent-csi-2021": "coherent_csi_2021",
    "coherent-ar-2020": "coherent_ar_2020",
    "xenonnt-8b": "xenonnt_8b",
    "global": "global_fit",
}


@dataclass(frozen=True)
class Paper:
    """A reproducible paper as declared by its ``figures.toml``.

    Attributes
    ----------
    key : str
        Short name of the paper (its folder name), used on the command line.
    folder : pathlib.Path
        Folder holding ``figures.toml`` and the analysis files.
    title : str
        Title of the paper.
    reference : str
        Citation (authors, journal, arXiv id).
    note : str
        The paper's inputs in one paragraph (shown in reports).
    figures : tuple of dict
        The ``[[figures]]`` entries.
    optional_analyses : tuple of str
        Analysis files skipped (with a note) if this build cannot load them.
    labels : dict of str to str
        Figure label of each scan or analysis stem.
    published : dict
        ``"<stem>.<scan>"`` -> published value to compare with.
    hepdata : bool
        Also write every result as a HEPData submission.
    fit : str
        Analysis file (relative to ``folder``) of a template fit (:mod:`cevns.papers.template_fit`),
        ``fit`` in ``[paper]``; empty for none.
    fit_published : dict
        Published numbers the template fit is compared with (``published`` in ``[paper]``), e.g.
        ``"fitted_cevns_events": [value, minus, plus]``.
    """

    key: str
    folder: Path
    title: str
    reference: str
    note: str = ""
    figures: tuple = ()
    optional_analyses: tuple = ()
    labels: dict = field(default_factory=dict)
    #: ``"<stem>.<scan>"`` -> published value to compare with (``[published]`` of figures.toml).
    published: dict = field(default_factory=dict)
    #: Also write every result as a HEPData submission (``hepdata = true`` in ``[paper]``).
    hepdata: bool = False
    #: Analysis file of a template fit (:mod:`cevns.papers.template_fit`), ``fit`` in ``[paper]``.
    fit: str = ""
    #: Published numbers the template fit is compared with (``published`` in ``[paper]``).
    fit_published: dict = field(default_factory=dict)

    def figure_label(self, stem: str) -> str:
        """The figure label of a scan ``"<stem>.<scan>"`` or of an analysis file (its stem): from the
        figure or panel that draws it (for a scan not drawn: that of its file)."""
        if stem in self.labels:
            return self.labels[stem]
        return self.labels.get(stem.split(".")[0], stem)


def _require(table: dict, key: str, where: str):
    if key not in table:
        raise ConfigError(f"{where}: missing key {key!r}")
    return table[key]


def _stem_labels(figures: list[dict], where: str) -> dict[str, str]:
    labels: dict[str, str] = {}
    for fig in figures:
        flabel = _require(fig, "label", where)
        for panel in fig.get("panels", []):
            plabel = panel.get("label", flabel)
            for curve in panel.get("curves", []):
                key = _require(curve, "scan", where)
                labels.setdefault(key.split(".")[0], plabel)
                labels.setdefault(key, plabel)
    return labels


def load_paper(key: str) -> Paper:
    """Read the ``figures.toml`` of paper ``key`` (a key of :data:`PAPERS`).

    Raises
    ------
    ConfigError
        Unknown paper, or a malformed / incomplete ``figures.toml`` (naming the file).
    """
    if not isinstance(key, str) or key not in PAPERS:
        raise ConfigError(f"unknown paper {key!r}; choose one of: {', '.join(PAPERS)}")
    folder = PAPERS_DIR / PAPERS[key]
    path = folder / FIGURES_FILE
    try:
        with open(path, "rb") as fh:
            doc = tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: malformed TOML: {exc}") from None
    meta = _require(doc, "paper", str(path))
    if meta.get("key") != key:
        raise ConfigError(f"{path}: [paper] key is {meta.get('key')!r}, expected {key!r}")
    figures = doc.get("figures", [])
    for n, fig in enumerate(figures):
        for k in ("id", "kind", "title", "caption"):
            _require(fig, k, f"{path}: figures[{n}]")
    return Paper(key=key, folder=folder, title=_require(meta, "title", str(path)),
                 reference=_require(meta, "reference", str(path)), note=meta.get("note", ""),
                 figures=tuple(figures), optional_analyses=tuple(meta.get("optional_analyses", ())),
                 labels=_stem_labels(figures, str(path)), published=dict(doc.get("published", {})),
                 hepdata=bool(meta.get("hepdata", False)), fit=meta.get("fit", ""),
                 fit_published=dict(meta.get("published", {})))


def analysis_files(paper: str) -> list[Path]:
    """The scanned analysis files of a paper (every ``*.toml`` of its folder but ``figures.toml`` and the
    ``fit`` file, sorted)."""
    info = load_paper(paper)
    return sorted(p for p in info.folder.glob("*.toml") if p.name not in (FIGURES_FILE, info.fit))
