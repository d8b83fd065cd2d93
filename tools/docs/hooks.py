"""MkDocs hooks of the cevns documentation site (``hooks:`` in ``mkdocs.yml``).

Every page that describes something the code already knows is generated here at build time, so it cannot
drift from the code:

* ``experiments/*.md``: one page per built-in experiment (its file, sources, SM prediction, data),
* ``cli.md``: the command-line reference, by introspecting the typer/click application,
* ``api/*.md``: the Python API reference, one page per package (mkdocstrings ``:::`` blocks),
* ``validation.md``: the validation table, cut out of ``docs/physics.md`` (section "Validation table"),
* ``gallery.md``: the figures of ``cevns reproduce`` with the command that made each.

Environment variables:

``CEVNS_DOCS_GALLERY``
    ``quick`` (default): run ``cevns reproduce --quick`` into a temporary folder and show the images;
    ``full``: the same at full resolution; ``off``: list the figures and commands without images (tests).
``CEVNS_DOCS_EXECUTE``
    ``true`` (default) / ``false``: execute the tutorial notebooks while building (read by ``mkdocs.yml``).
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "src") not in sys.path:  # document the checked-out source, installed or not
    sys.path.insert(0, str(ROOT / "src"))

from mkdocs.structure.files import File  # noqa: E402

import gen_api  # noqa: E402
import gen_cli  # noqa: E402
import gen_experiments  # noqa: E402
import gen_gallery  # noqa: E402


def validation_page(physics_md: str) -> str:
    """The "Validation table" section of ``docs/physics.md`` as a page of its own."""
    lines = physics_md.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("## ") and "Validation table" in line), None)
    if start is None:
        raise RuntimeError("docs/physics.md has no '## ... Validation table' section")
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    body = "\n".join(lines[start + 1:end]).strip()
    return ("# Validation table\n\n"
            "Every number the toolkit computes that can be checked against something independent (an analytic\n"
            "limit, a closed form, a convergence study, a published value), with the test that checks it. This\n"
            "page is cut out of the [physics reference](physics.md) at build time; the test names are checked\n"
            "to exist by `tests/test_docs_physics.py`.\n\n" + body + "\n")


#: Generated pages of the current build (``{uri: content}``), made in :func:`on_config`.
_GENERATED: dict[str, str | bytes] = {}


def _expand_nav(nav: list, section: str, pages: list[str], title_of) -> None:
    """Replace the entry ``section: <index page>`` of the nav by the index page followed by ``pages``."""
    for i, item in enumerate(nav):
        if not isinstance(item, dict):
            continue
        for key, value in item.items():
            if key == section and isinstance(value, str):
                nav[i] = {key: [{"Overview": value}] + [{title_of(p): p} for p in pages]}
                return
            if isinstance(value, list):
                _expand_nav(value, section, pages, title_of)


def on_config(config):
    """Generate the pages (once per build) and list the per-experiment and per-package pages in the nav."""
    docs = Path(config["docs_dir"])
    # the notebook kernels started by mkdocs-jupyter must import the same checked-out source
    paths = [str(ROOT / "src")] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    os.environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    _GENERATED.clear()
    _GENERATED["validation.md"] = validation_page((docs / "physics.md").read_text(encoding="utf-8"))
    _GENERATED["cli.md"] = gen_cli.cli_page()
    _GENERATED.update(gen_api.api_pages())
    _GENERATED.update(gen_experiments.experiment_pages())
    mode = os.environ.get("CEVNS_DOCS_GALLERY", "quick").strip().lower()
    _GENERATED.update(gen_gallery.gallery_files(mode))
    if config.get("nav"):
        exps = sorted(u for u in _GENERATED if u.startswith("experiments/") and not u.endswith("index.md"))
        apis = [f"api/{p}.md" for p in gen_api.packages()]
        _expand_nav(config["nav"], "Experiments", exps, lambda u: Path(u).stem)
        _expand_nav(config["nav"], "Python API", apis, lambda u: "cevns." + Path(u).stem)
    return config


#: Sphinx cross-reference roles as Markdown renders them from numpydoc docstrings: ``:func:<code>~a.b</code>``.
_SPHINX_ROLE = re.compile(r":(?:func|class|mod|meth|attr|data|exc|obj|const):<code>(~?)([^<]*)</code>")


def on_page_content(html, page, config, files):
    """Show Sphinx roles of the docstrings (``:func:`x```) as plain code, ``~a.b.c`` as ``c``."""
    return _SPHINX_ROLE.sub(lambda m: f"<code>{m.group(2).rsplit('.', 1)[-1] if m.group(1) else m.group(2)}</code>",
                            html)


def on_files(files, config):
    """Add the generated pages (and the gallery images) to the site."""
    for uri, content in _GENERATED.items():
        files.append(File.generated(config, uri, content=content))
    return files
