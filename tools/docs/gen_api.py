"""The Python API reference: one page per package of ``cevns``, each module rendered by mkdocstrings.

The module list is read from the source tree at build time (``pkgutil``; modules whose name starts with
an underscore and the per-experiment data folders are skipped), so new or renamed modules appear
without editing the site.
"""

from __future__ import annotations

import pkgutil
from pathlib import Path

import cevns

#: Packages in the order of the layers (top first), as in docs/architecture.md.
LAYER_ORDER = ("cli", "papers", "analysis", "plotting", "stats", "experiments", "engine", "sources", "detectors",
               "physics")


def _modules(pkg_path: Path, prefix: str) -> list[str]:
    out = []
    for info in pkgutil.iter_modules([str(pkg_path)]):
        if info.name.startswith("_") or info.name in ("__main__",):
            continue
        name = f"{prefix}.{info.name}"
        if info.ispkg:
            if not (pkg_path / info.name / "__init__.py").exists():
                continue
            out.append(name)
            out += _modules(pkg_path / info.name, name)
        else:
            out.append(name)
    return out


def packages() -> list[str]:
    """Top-level subpackages of cevns (layer order first) and the top-level modules."""
    root = Path(cevns.__file__).parent
    found = [i.name for i in pkgutil.iter_modules([str(root)]) if not i.name.startswith("_")]
    return [p for p in LAYER_ORDER if p in found] + sorted(p for p in found if p not in LAYER_ORDER)


def api_pages() -> dict[str, str]:
    """``{"api/index.md": ..., "api/<package>.md": ...}``."""
    root = Path(cevns.__file__).parent
    pages = {}
    index = ["# Python API reference\n",
             "Built from the docstrings (numpydoc style) by mkdocstrings when the site is built; one page per "
             "package, in the order of the [layers](../architecture.md) (each imports only those below it). "
             "The stable entry points are `cevns.experiments.load_experiment`, `Experiment.predict` / `.engine`, "
             "`cevns.analysis.load_analysis` / `run_analysis` and the `cevns.stats` functions.\n",
             "| package | summary |", "|---|---|"]
    for pkg in packages():
        full = f"cevns.{pkg}"
        path = root / pkg
        mods = [full] + (_modules(path, full) if path.is_dir() else [])
        body = [f"# `{full}`\n"]
        for m in mods:
            body.append(f"::: {m}\n    options:\n      show_submodules: false\n      heading_level: 2\n")
        pages[f"api/{pkg}.md"] = "\n".join(body)
        doc = ""
        init = path / "__init__.py" if path.is_dir() else root / f"{pkg}.py"
        if init.exists():
            text = init.read_text(encoding="utf-8").lstrip()
            if text.startswith(('"""', "'''")):
                doc = text[3:].split(text[:3], 1)[0].strip().splitlines()[0] if text[3:].strip() else ""
        index.append(f"| [`{full}`]({pkg}.md) | {doc.replace('|', '/')} |")
    pages["api/index.md"] = "\n".join(index) + "\n"
    return pages
