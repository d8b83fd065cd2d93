"""The report page of ``cevns reproduce`` checked in headless Chromium, the way a person sees it.

The page is built once per session by the CLI (``python -m cevns reproduce canas --quick``: one paper,
reduced grids, about 20 s; both papers take about 90 s), served on 127.0.0.1 and opened in the system
Chromium through Selenium (Debian packages ``chromium`` and ``chromium-driver``, pip ``selenium``).
Checked: every image loads, every link resolves, no console errors, a title and a table of contents,
sortable tables; a full-page screenshot is saved to ``$CEVNS_ARTEFACTS`` (or the test's tmp folder).
A copy of the report with one image deleted, one link edited and one script error shows that the
checker reports each of them.

Without Chromium / chromedriver / selenium the tests skip, unless the environment variable ``CI`` is
set: then they fail.
"""

import functools
import os
import re
import shutil
import subprocess
import sys
import warnings
from importlib.util import find_spec
from pathlib import Path

import pytest

from report_browser import check_page, chromium_driver, find_chromium, full_page_screenshot, serve

ROOT = Path(__file__).resolve().parents[1]
PAPER = "canas"
BROKEN_IMAGE = f"{PAPER}/fig1_nsi_reactors.png"
BROKEN_LINK = f"{PAPER}/bounds.csv"


def _require_browser():
    browser, driver = find_chromium()
    missing = [what for what, ok in (("chromium", browser), ("chromedriver (chromium-driver)", driver),
                                     ("selenium (pip)", find_spec("selenium"))) if not ok]
    if missing:
        why = "browser test needs " + ", ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(why + " (CI is set: install them, see .ci/run)")
        pytest.skip(why)


def _env():
    env = dict(os.environ)
    src = str(ROOT / "src")
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("MPLBACKEND", "Agg")
    return env


def _cli(*args, check=True):
    proc = subprocess.run([sys.executable, "-m", "cevns", *args], cwd=ROOT, env=_env(), capture_output=True,
                          text=True, timeout=600)
    if check and proc.returncode != 0:
        pytest.fail(f"cevns {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc


def _export_hepdata(out: Path) -> bool:
    """Export one scan folder with ``cevns export-hepdata`` if this build has it (then the page links it)."""
    if _cli("export-hepdata", "--help", check=False).returncode != 0 or find_spec("hepdata_lib") is None:
        return False
    (scan,) = (out / PAPER).glob("scans*/fig1_conus")
    proc = _cli("export-hepdata", str(scan), "--out", str(scan / "hepdata"), check=False)
    if proc.returncode != 0:  # the exporter's own tests judge it; here the page is checked without it
        warnings.warn(f"cevns export-hepdata failed, report checked without a HEPData record: "
                      f"{proc.stderr.strip()[-500:]}")
        shutil.rmtree(scan / "hepdata", ignore_errors=True)
        return False
    return True


@pytest.fixture(scope="session")
def report(tmp_path_factory):
    """``(folder, hepdata exported?)`` of ``cevns reproduce canas --quick``."""
    _require_browser()
    out = tmp_path_factory.mktemp("report")
    _cli("reproduce", PAPER, "--quick", "--no-progress", "--out", str(out))
    exported = _export_hepdata(out)
    if exported:  # rewrite the page (the finished scans are reused) so that it links the export
        _cli("reproduce", PAPER, "--quick", "--no-progress", "--out", str(out))
    return out, exported


@pytest.fixture(scope="session")
def driver(tmp_path_factory):
    _require_browser()
    with chromium_driver(tmp_path_factory.mktemp("chromium-profile")) as drv:
        yield drv


def _artefact_dir(tmp_path):
    d = os.environ.get("CEVNS_ARTEFACTS")
    return Path(d) if d else tmp_path


def test_report_page_in_chromium(report, driver, tmp_path):
    out, exported = report
    with serve(out) as base:
        problems = check_page(driver, base + "index.html")
        assert problems == [], "\n".join(problems)
        n_img = driver.execute_script("return document.images.length;")
        assert n_img == len(list((out / PAPER).glob("*.png"))) >= 2, "every composed figure is shown"
        assert driver.title.startswith("cevns reproduce")
        links = driver.execute_script("return Array.from(document.querySelectorAll('figure .links a'),"
                                      " a => a.textContent);")
        assert {"PNG", "PDF"} <= set(links) and any(t.startswith("CSV") for t in links)
        if exported:
            assert any(t.startswith("HEPData") for t in links)
        shot = full_page_screenshot(driver, _artefact_dir(tmp_path) / "report_index.png")
    assert shot.stat().st_size > 10_000
    print(f"\nscreenshot of the report page: {shot}")


def _natural(a: str, b: str) -> int:
    """Natural order of the page's sorter: case-insensitive, runs of digits by value, else by code point."""
    x, y = re.findall(r"\d+|\D+", a.lower()), re.findall(r"\d+|\D+", b.lower())
    for p, q in zip(x, y):
        if p.isdigit() and q.isdigit() and int(p) != int(q):
            return int(p) - int(q)
        if p != q:
            return -1 if p < q else 1
    return len(x) - len(y)


def _column(driver, table, col):
    return driver.execute_script(
        "return Array.from(arguments[0].tBodies[0].rows, r => r.cells[arguments[1]].textContent);", table, col)


def test_bounds_table_sorts_on_click(report, driver):
    out, _ = report
    with serve(out) as base:
        driver.get(base + "index.html")
        table = driver.find_element("css selector", "table.sortable")
        heads = [th.text.strip().split()[0] for th in table.find_elements("css selector", "thead th")]
        col = heads.index("low")
        th = table.find_elements("css selector", "thead th")[col]
        values = [float(v) for v in _column(driver, table, col)]
        assert len(values) >= 3
        driver.execute_script("arguments[0].click();", th)
        asc = [float(v) for v in _column(driver, table, col)]
        assert asc == sorted(values) and th.get_attribute("aria-sort") == "ascending"
        driver.execute_script("arguments[0].click();", th)
        desc = [float(v) for v in _column(driver, table, col)]
        assert desc == sorted(values, reverse=True) and th.get_attribute("aria-sort") == "descending"
        scol = heads.index("scan")
        before = _column(driver, table, scol)
        natural = functools.cmp_to_key(_natural)
        assert before != sorted(before, key=natural), "sorted by 'low', the scans are not in name order"
        driver.execute_script("arguments[0].click();", table.find_elements("css selector", "thead th")[scol])
        names = _column(driver, table, scol)
        assert names == sorted(before, key=natural)


def test_checker_reports_a_missing_image_a_broken_link_and_a_script_error(report, driver, tmp_path):
    out, _ = report
    broken = tmp_path / "broken"
    shutil.copytree(out, broken, ignore=shutil.ignore_patterns("*.pdf", "scans*"))
    (broken / BROKEN_IMAGE).unlink()
    page = broken / "index.html"
    text = page.read_text()
    assert f"href='{BROKEN_LINK}'" in text
    text = text.replace(f"href='{BROKEN_LINK}'", "href='canas/no-such-file.csv'")
    text = text.replace("</body>", "<script>notDefinedAnywhere();</script></body>")
    page.write_text(text)
    with serve(broken) as base:
        problems = check_page(driver, base + "index.html")
    joined = "\n".join(problems)
    assert f"image does not load: {BROKEN_IMAGE}" in problems, joined
    assert "broken link: canas/no-such-file.csv (HTTP 404)" in problems, joined
    assert any(p.startswith("console error") and "notDefinedAnywhere" in p for p in problems), joined
    # the untouched report of the other tests has none of these: the checker does not cry wolf
    assert not any("fig2_rn_nsi.png" in p for p in problems), joined


def test_checker_requires_title_and_toc(report, driver, tmp_path):
    out, _ = report
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "index.html").write_text("<!DOCTYPE html><html><head><meta charset='utf-8'><link rel='icon' "
                                     "href='data:,'></head><body><p>no title, no contents</p></body></html>")
    with serve(bare) as base:
        problems = check_page(driver, base + "index.html")
    assert "page has no <title>" in problems
    assert any("table of contents" in p for p in problems)
