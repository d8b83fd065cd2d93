"""Check an HTML report the way a person sees it: served over HTTP, opened in headless Chromium.

Test helper (not a test module). :func:`serve` serves a folder on 127.0.0.1 in a thread,
:func:`chromium_driver` starts the system Chromium (Debian ``chromium`` + ``chromium-driver``) through
Selenium, never downloading a browser, and :func:`check_page` returns every problem it finds on a
page: images that do not load, links that do not resolve, external resources, console errors, a
missing title or table of contents.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import shutil
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlparse

try:  # optional: the browser tests skip (outside CI) without it
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
except ModuleNotFoundError:  # pragma: no cover
    webdriver = Service = None

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome")
DRIVER_CANDIDATES = ("chromedriver", "chromium-driver")
CHROMIUM_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--window-size=1280,900", "--hide-scrollbars")


def find_chromium() -> tuple[str | None, str | None]:
    """Paths of the Chromium binary and of chromedriver (None where absent)."""
    browser = next((shutil.which(c) for c in CHROMIUM_CANDIDATES if shutil.which(c)), None)
    driver = next((shutil.which(c) for c in DRIVER_CANDIDATES if shutil.which(c)), None)
    return browser, driver


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 (signature of the base class)
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        """A client closing the connection early (the browser cancelling a load) is not an error here."""
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


@contextlib.contextmanager
def serve(folder):
    """Serve ``folder`` on ``http://127.0.0.1:<free port>/`` in a daemon thread; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = _Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextlib.contextmanager
def chromium_driver(user_data_dir):
    """A Selenium WebDriver on headless system Chromium with a fresh, empty profile in ``user_data_dir``."""
    if webdriver is None:
        raise RuntimeError("selenium is not installed (pip install 'selenium>=4.10')")
    browser, driver = find_chromium()
    if browser is None or driver is None:
        raise RuntimeError(f"chromium ({browser}) and chromedriver ({driver}) are both needed")
    Path(user_data_dir).mkdir(parents=True, exist_ok=True)
    opts = webdriver.ChromeOptions()
    opts.binary_location = browser
    for flag in CHROMIUM_FLAGS:
        opts.add_argument(flag)
    opts.add_argument(f"--user-data-dir={user_data_dir}")
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager: never download anything
    drv = webdriver.Chrome(options=opts, service=Service(executable_path=driver))
    drv.set_page_load_timeout(60)
    try:
        yield drv
    finally:
        drv.quit()


def _status(url: str) -> int:
    req = urllib.request.Request(url, method="GET")
    try:
        with urllib.request.urlopen(req, timeout=20) as resp:
            resp.read()
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, OSError):
        return 0


_COLLECT_JS = """
var out = {title: document.title, images: [], links: [], resources: [], ids: [], toc: []};
document.querySelectorAll('img').forEach(function (im) {
  out.images.push({src: im.getAttribute('src'), url: im.currentSrc || im.src, complete: im.complete,
                   width: im.naturalWidth});
});
document.querySelectorAll('a[href]').forEach(function (a) { out.links.push(a.getAttribute('href')); });
document.querySelectorAll('[src],link[href]').forEach(function (el) {
  out.resources.push(el.getAttribute('src') || el.getAttribute('href'));
});
document.querySelectorAll('[id]').forEach(function (el) { out.ids.push(el.id); });
document.querySelectorAll('nav#toc a[href]').forEach(function (a) { out.toc.push(a.getAttribute('href')); });
return out;
"""


def _wait_images(driver, timeout: float = 20.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if driver.execute_script("return Array.prototype.every.call(document.images, i => i.complete);"):
            return
        time.sleep(0.1)


def check_page(driver, url: str) -> list[str]:
    """Open ``url`` in ``driver`` and return every problem found (empty list: the page is fine).

    Checked: the page has a non-empty ``<title>`` and a table of contents (``nav#toc`` with links to
    ids on the page); every ``<img>`` loads (``naturalWidth > 0``); every link resolves (a local href
    answers HTTP 200; an in-page ``#anchor`` names an element id); no resource or link points off the
    serving host (the report must be self-contained); no SEVERE entry in the browser console.
    """
    problems: list[str] = []
    driver.get_log("browser")  # drop anything logged before this page
    driver.get(url)
    _wait_images(driver)
    info = driver.execute_script(_COLLECT_JS)
    host = urlparse(url).netloc
    if not info["title"].strip():
        problems.append("page has no <title>")
    ids = set(info["ids"])
    if not info["toc"]:
        problems.append("page has no table of contents (nav#toc with links)")
    for href in info["toc"]:
        if not href.startswith("#") or href[1:] not in ids:
            problems.append(f"table of contents entry {href!r} does not point to an element of the page")
    for im in info["images"]:
        if not im["complete"] or not im["width"]:
            problems.append(f"image does not load: {im['src']}")
    for res in info["resources"]:
        if urlparse(urljoin(url, res)).netloc not in ("", host) and not res.startswith("data:"):
            problems.append(f"external resource: {res}")
    checked: dict[str, int] = {}
    for href in info["links"]:
        if href.startswith("#"):
            if href[1:] not in ids:
                problems.append(f"broken in-page link: {href}")
            continue
        full, _ = urldefrag(urljoin(url, href))
        parsed = urlparse(full)
        if parsed.scheme not in ("http", "https") or parsed.netloc != host:
            problems.append(f"link leaves the report: {href}")
            continue
        if full not in checked:
            checked[full] = _status(full)
        if checked[full] != 200:
            problems.append(f"broken link: {href} (HTTP {checked[full]})")
    for entry in driver.get_log("browser"):
        if entry.get("level") == "SEVERE":
            problems.append(f"console error: {entry.get('message')}")
    return problems


def full_page_screenshot(driver, path, max_height: int = 12000) -> Path:
    """Save a PNG of the whole page (window resized to the page height, at most ``max_height`` px)."""
    height = int(driver.execute_script("return document.documentElement.scrollHeight;"))
    width = int(driver.execute_script("return window.outerWidth;")) or 1280
    driver.set_window_size(width, max(600, min(height + 50, max_height)))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(path))
    return path
