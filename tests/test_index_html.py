"""index.html of a reproduction, built from a small synthetic run (no scans, no browser): structure,
links of every figure (PNG, PDF, CSV, HEPData), sortable bounds table, self-contained page."""

import csv
import re
from html.parser import HTMLParser

import numpy as np
import pytest

from cevns.experiments import load_experiment
from cevns.papers.figure_data import write_figure_csv
from cevns.papers.index_html import (HEPDATA_FOLDER, TABLE_COLUMNS, anchor_id, figure_scans, hepdata_record,
                                     write_index)
from cevns.papers.registry import load_paper


class _Page(HTMLParser):
    """Collects ids, hrefs, srcs, the title and the table headers of a page."""

    def __init__(self):
        super().__init__()
        self.ids, self.hrefs, self.srcs, self.th, self.title = set(), [], [], [], ""
        self.toc_hrefs, self._in_title, self._in_toc, self._in_th = [], False, 0, False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "nav" and a.get("id") == "toc":
            self._in_toc = 1
        if "href" in a:
            self.hrefs.append(a["href"])
            if self._in_toc and tag == "a":
                self.toc_hrefs.append(a["href"])
        if "src" in a:
            self.srcs.append(a["src"])
        self._in_title = tag == "title"
        self._in_th = tag == "th"

    def handle_endtag(self, tag):
        if tag == "nav":
            self._in_toc = 0
        self._in_title = self._in_th = False

    def handle_data(self, data):
        if self._in_title:
            self.title += data
        if self._in_th:
            self.th.append(data)


def _touch(path, text="x"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture()
def report(tmp_path):
    """A fake canas run: its two figures (PNG/PDF), the scan CSVs of Fig. 1, bounds tables and rows."""
    folder = tmp_path / "canas"
    scans = folder / "scans-scale0.3"
    figs = []
    for fig in load_paper("canas").figures:
        files = [_touch(folder / f"{fig['id']}{ext}") for ext in (".png", ".pdf")]
        figs.append({"stem": fig["id"], "title": fig["title"], "caption": fig["caption"], "files": [str(p) for p in files]})
    for name in figure_scans("canas", "fig1_nsi_reactors"):
        stem, scan = name.split(".")
        _touch(scans / stem / f"{scan}.csv")
        _touch(scans / stem / "results.json", "{}")
    _touch(folder / "results.json", "{}")
    tables = [_touch(folder / "bounds.csv"), _touch(folder / "bounds.md")]
    rows = [{"figure": "Fig. 1", "scan": f"s{i}", "cl": "0.9", "low": str(v), "high": "1", "bound": "<b>x</b>"}
            for i, v in enumerate((0.5, -2, 10))]
    summary = {"canas": {"paper": "canas", "title": "Canas et al.: a title", "reference": "ref", "note": "n",
                         "folder": str(folder), "scans_folder": str(scans), "figures": figs,
                         "tables": [str(p) for p in tables], "rows": rows, "skipped": []}}
    return tmp_path, summary


def _parse(path):
    p = _Page()
    p.feed(path.read_text())
    return p


def test_title_toc_and_anchors(report):
    root, summary = report
    page = _parse(write_index(root, summary, seconds=3.0, grid_scale=0.3))
    assert page.title.startswith("cevns reproduce: Canas et al.")
    assert page.toc_hrefs, "a table of contents"
    for h in page.toc_hrefs:
        assert h.startswith("#") and h[1:] in page.ids, h
    for fig in summary["canas"]["figures"]:
        assert "#" + anchor_id("canas", fig["stem"]) in page.toc_hrefs
    assert "#" + anchor_id("canas", "bounds") in page.toc_hrefs


def test_every_link_is_local_and_exists(report):
    root, summary = report
    html = write_index(root, summary).read_text()
    page = _parse(root / "index.html")
    for ref in page.hrefs + page.srcs:
        assert not re.match(r"^[a-z]+:", ref) or ref == "data:,", f"external resource {ref}"
        if not ref.startswith(("#", "data:")):
            assert (root / ref).exists(), ref
    assert "<script src" not in html and "<link rel='stylesheet'" not in html


def test_figure_links_png_pdf_csv_and_no_hepdata_yet(report):
    root, summary = report
    html = write_index(root, summary).read_text()
    fig1 = html.split(f"id='{anchor_id('canas', 'fig1_nsi_reactors')}'")[1].split("</figure>")[0]
    for target in ("canas/fig1_nsi_reactors.png", "canas/fig1_nsi_reactors.pdf",
                   "canas/scans-scale0.3/fig1_conus/nsi_ee_conus.csv",
                   "canas/scans-scale0.3/fig1_combined/nsi_ee_combined.csv"):
        assert f"href='{target}'" in fig1, target
    assert "HEPData: not exported" in fig1
    # Fig. 2 has no scan CSV in this fake run: said so, not a dead link
    fig2 = html.split(f"id='{anchor_id('canas', 'fig2_rn_nsi')}'")[1].split("</figure>")[0]
    assert "CSV: none" in fig2


@pytest.mark.parametrize("where", ["scan_folder", "paper_folder", "root_folder"])
def test_hepdata_record_linked_where_exported(report, where):
    root, summary = report
    scans = root / "canas" / "scans-scale0.3"
    d = {"scan_folder": scans / "fig1_conus" / HEPDATA_FOLDER,
         "paper_folder": root / "canas" / HEPDATA_FOLDER / "fig1_conus",
         "root_folder": root / HEPDATA_FOLDER / "canas" / "fig1_conus"}[where]
    _touch(d / "submission" / "submission.yaml")
    assert hepdata_record(root, "canas", "fig1_conus", scans) == d / "submission" / "submission.yaml"
    _touch(d / "submission.tar.gz")
    assert hepdata_record(root, "canas", "fig1_conus", scans) == d / "submission.tar.gz"
    assert hepdata_record(root, "canas", "fig1_connie", scans) is None
    html = write_index(root, summary).read_text()
    rel = (d / "submission.tar.gz").relative_to(root).as_posix()
    assert f"<a href='{rel}'>HEPData fig1_conus</a>" in html
    assert "HEPData: not exported" not in html.split(f"id='{anchor_id('canas', 'fig1_nsi_reactors')}'")[1].split(
        "</figure>")[0]


@pytest.mark.parametrize("where", ["paper_folder", "root_folder"])
def test_paper_hepdata_record_linked_from_every_figure(report, where):
    root, summary = report
    d = {"paper_folder": root / "canas" / HEPDATA_FOLDER, "root_folder": root / HEPDATA_FOLDER / "canas"}[where]
    d.mkdir(parents=True)
    assert hepdata_record(root, "canas") is None, "an empty folder is no record"
    _touch(d / "submission.tar.gz")
    assert hepdata_record(root, "canas") == d / "submission.tar.gz"
    html = write_index(root, summary).read_text()
    rel = (d / "submission.tar.gz").relative_to(root).as_posix()
    fig1 = html.split(f"id='{anchor_id('canas', 'fig1_nsi_reactors')}'")[1].split("</figure>")[0]
    assert f"<a href='{rel}'>HEPData (paper)</a>" in fig1 and "not exported" not in fig1
    assert html.count(f"href='{rel}'") >= 2, "from the figures and from the bounds table"


def test_bounds_table_is_sortable_html(report):
    root, summary = report
    html = write_index(root, summary).read_text()
    page = _parse(root / "index.html")
    assert "<table class='sortable'><thead>" in html and "<tbody>" in html
    assert page.th[:len(TABLE_COLUMNS)] == TABLE_COLUMNS
    assert "&lt;b&gt;x&lt;/b&gt;" in html, "cell text is escaped"
    assert "querySelectorAll(\"table.sortable\")" in html, "the inline sorter"


def test_figure_scans_from_figures_toml():
    assert figure_scans("canas", "fig1_nsi_reactors") == [
        "fig1_conus.nsi_ee_conus", "fig1_connie.nsi_ee_connie", "fig1_combined.nsi_ee_combined"]
    assert figure_scans("papoulias-kosmas", "fig1_spectrum") == []
    assert figure_scans("no-such-paper", "x") == []


def test_anchor_ids_are_html_safe():
    assert anchor_id("papoulias-kosmas", "fig2 weak/mixing") == "papoulias-kosmas--fig2-weak-mixing"
    assert re.fullmatch(r"[A-Za-z0-9_-]+", anchor_id("a'b\"<c>", "")), "quotes and brackets never reach the page"


def test_spectrum_figure_csv_matches_the_experiment_prediction(tmp_path):
    (spec,) = [f for f in load_paper("papoulias-kosmas").figures if f["kind"] == "spectrum"]
    path = write_figure_csv(spec, tmp_path / "spec.csv")
    with open(path) as fh:
        rows = list(csv.DictReader(fh))
    obs = "pe"
    lo = np.array([float(r[f"bin_low_{obs}"]) for r in rows])
    hi = np.array([float(r[f"bin_high_{obs}"]) for r in rows])
    assert lo[0] == spec["range"][0] and hi[-1] == spec["range"][1] and np.allclose(lo[1:], hi[:-1])
    sig = np.array([float(r["cevns_sm_events"]) for r in rows])
    tot = np.array([float(r["total_events"]) for r in rows])
    bkg = np.array([float(r["background_events"]) for r in rows])
    assert np.allclose(tot, sig + bkg)
    # the experiment's own bins (6-30 PE) predicted directly: the same events in the same bins
    exp = load_experiment(spec["experiment"])
    pred = exp.predict(spec["params"])
    inside = (lo >= exp.bin_edges[0] - 1e-9) & (hi <= exp.bin_edges[-1] + 1e-9)
    assert np.allclose(sig[inside], pred.per_bin[0], rtol=1e-9)
    assert np.allclose([float(r["observed_events"]) for r, k in zip(rows, inside) if k], exp.observed)
    assert write_figure_csv({"kind": "regions", "id": "x"}, tmp_path / "x.csv") is None
    assert not (tmp_path / "x.csv").exists()
