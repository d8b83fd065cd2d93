"""Bounds tables and figure plumbing of cevns.papers on hand-made scan results (no scans run)."""

from pathlib import Path

import numpy as np
import pytest

from cevns.papers.reproduce import ScanOutput, bounds_rows, compose_figure, load_paper, write_tables
from cevns.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def _out(result, grid=None):
    return ScanOutput(stem="f", analysis="a", name=result["name"], result=result, grid=grid or {}, folder=Path("."))


def test_interval_row_low_is_the_lower_end():
    r = {"name": "s", "parameter": "p", "best_fit": 0.2, "intervals": {"0.9": [[-0.1, 0.05], [0.3, 0.5]]},
         "threshold": {"0.9": 2.7}, "open_ends": {"0.9": [[False, False], [False, True]]}}
    (row,) = bounds_rows("Fig. 1", _out(r))
    assert (row["low"], row["high"]) == ("-0.1", "0.5")
    assert row["bound"] == "[-0.1, 0.05] U [0.3, 0.5]"
    assert "boundary" in row["note"] and row["best_fit"] == "0.2"


def test_exclusion_row_is_the_smallest_excluded_value_and_where():
    r = {"name": "s", "parameters": ["m", "g"], "best_fit": [1.0, 0.0], "threshold": {"0.9": 2.7}, "dof": 1,
         "exclusion": {"0.9": {"x": [1.0, 10.0, 100.0, 1000.0], "y": [3.0, 0.5, None, 2.0]}},
         "exclusion_method": "raster"}
    (row,) = bounds_rows("Fig. 6", _out(r))
    assert row["low"] == "0.5" and row["high"] == ""
    assert row["bound"] == "g > 0.5 excluded at m = 10 (strongest)"
    assert "3 of 4" in row["note"] and "raster, threshold 2.7 (1 dof)" in row["note"]


def test_region_row_extent_from_the_contours():
    y, x = np.mgrid[-1:1:21j, -2:2:41j]
    d = (x / 1.0) ** 2 + (y / 0.5) ** 2
    r = {"name": "s", "parameters": ["u", "d"], "best_fit": [0.0, 0.0], "threshold": {"0.68": 1.0},
         "contours": {"0.68": [[[-1.0, 0.0], [0.0, 0.5], [1.0, 0.0], [0.0, -0.5], [-1.0, 0.0]]]}}
    (row,) = bounds_rows("Fig. 4", _out(r, {"x": x[0], "y": y[:, 0], "dchi2": d}))
    assert (row["low"], row["high"]) == ("-0.5", "0.5")
    assert row["bound"] == "u in [-1, 1], d in [-0.5, 0.5]"
    assert "boundary" not in row["note"] and "41x21" in row["note"]


def test_every_degenerate_best_fit_is_shown(tmp_path):
    r = {"name": "s", "parameter": "eps", "best_fit": -0.05, "best_fits": [-0.05, 0.35],
         "intervals": {"0.9": [[-0.1, 0.4]]}, "threshold": {"0.9": 2.7}}
    (row,) = bounds_rows("Fig. 3", _out(r))
    assert row["best_fit"] == "-0.05 or 0.35"
    r2 = {"name": "s", "parameters": ["u", "d"], "best_fit": [0.1, 0.2], "best_fits": [[0.1, 0.2], [0.3, -0.1]],
          "exclusion": {"0.9": {"x": [1.0], "y": [None]}}, "threshold": {"0.9": 4.6}}
    (row2,) = bounds_rows("x", _out(r2))
    assert row2["best_fit"] == "(0.1, 0.2) or (0.3, -0.1)"
    del r["best_fits"]
    assert bounds_rows("Fig. 3", _out(r))[0]["best_fit"] == "-0.05"  # fallback to best_fit
    _, md = write_tables(tmp_path, [row, row2], "T")
    text = md.read_text()
    assert "-0.05 or 0.35" in text and "(0.1, 0.2) or (0.3, -0.1)" in text


def test_unknown_paper_kind_or_scan_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown paper"):
        load_paper("nope")
    with pytest.raises(ConfigError, match="unknown kind"):
        compose_figure({"id": "x", "kind": "pie"}, {})
    with pytest.raises(ConfigError, match="no scan 'f.s'"):
        compose_figure({"id": "x", "kind": "profiles", "panels": [{"curves": [{"scan": "f.s"}]}]}, {})


def test_composed_figures_need_no_pyplot():
    r = {"name": "s", "parameter": "p", "best_fit": 0.0, "intervals": {"0.9": [[-1.6, 1.6]]},
         "threshold": {"0.9": 2.7}}
    x = np.linspace(-3, 3, 31)
    fig = compose_figure({"id": "x", "kind": "profiles", "panels": [{"curves": [{"scan": "f.s", "label": "L",
                                                                                   "interval_bars": True}]}]},
                         {"f.s": _out(r, {"x": x, "dchi2": x ** 2})})
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    assert isinstance(fig.canvas, FigureCanvasAgg)
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["L", "90% CL: [-1.600, 1.600]"]


def test_no_backend_switching_or_pyplot_in_the_package():
    for path in (ROOT / "src" / "cevns").rglob("*.py"):
        text = path.read_text()
        assert "matplotlib.use(" not in text, path
        assert "import matplotlib.pyplot" not in text and "from matplotlib import pyplot" not in text, path


def test_seed_paper_is_never_attributed_arxiv_1806_07424():
    """arXiv:1806.07424 is Aristizabal Sierra et al.; the seed paper is the HNPS proceedings of
    Papoulias & Kosmas (full paper Phys. Rev. D 97, 033003 (2018), arXiv:1711.09773)."""
    files = [p for p in (ROOT / "src" / "cevns").rglob("*") if p.suffix in (".py", ".toml", ".md", ".txt")]
    files.append(ROOT / "README.md")
    bad = [str(p) for p in files if "1806.07424" in p.read_text(errors="replace")]
    assert not bad
    ref = load_paper("papoulias-kosmas").reference
    assert "arXiv:1711.09773" in ref and "Phys. Rev. D 97, 033003 (2018)" in ref and "HNPS" in ref
