"""One documentation page per built-in experiment, generated from its files at build time.

Each page shows: the title, description and references of ``experiment.toml``; its inputs (source,
detector, physics choices, systematics, statistics) as tables; the Standard-Model prediction computed now
with :func:`cevns.experiments.load_experiment` (total, per flavour, per bin, next to the data when the
experiment has data); the provenance notes next to the file (``REFERENCES.md``, ``NOTES.md``,
``data/PROVENANCE.md``); and the file itself, whose comments give the source of every number.
"""

from __future__ import annotations

import functools
import re
import tomllib
from pathlib import Path

import cevns.papers
from cevns.experiments import list_experiments, load_experiment

NOTE_FILES = ("REFERENCES.md", "NOTES.md", "data/PROVENANCE.md", "PROVENANCE.md")


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")


def _cell(v) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, dict):
        return ", ".join(f"{k} = {_cell(x)}" for k, x in v.items())
    if isinstance(v, list):
        return "[" + ", ".join(_cell(x) for x in v) + "]"
    return str(v).replace("|", "\\|").replace("\n", " ")


def _table(d: dict, skip=()) -> str:
    """Two-column table of the scalar (and list-of-scalar) entries of ``d``; nested tables are left out."""
    rows = [f"| `{k}` | {_cell(v)} |" for k, v in d.items()
            if k not in skip and not isinstance(v, dict) and not _is_table_list(v)]
    return "| key | value |\n|---|---|\n" + "\n".join(rows) + "\n" if rows else ""


def _is_table_list(v) -> bool:
    return isinstance(v, list) and v and all(isinstance(x, dict) for x in v)


def _demote(md: str) -> str:
    """Shift the headings of an included note two levels down (``#`` -> ``###``)."""
    return re.sub(r"^(#{1,4}) ", lambda m: "#" * (len(m.group(1)) + 2) + " ", md, flags=re.M)


@functools.lru_cache(maxsize=None)
def _built(name: str):
    """The experiment and its SM prediction (built once per build)."""
    exp = load_experiment(name)
    return exp, exp.predict({})


def _prediction(name: str) -> str:
    exp, pred = _built(name)
    if getattr(exp, "spec", None) is None:  # a plug-in experiment kind: its own summary
        return (f"**Expected CEvNS events: {float(pred.total[0]):.2f}** (`load_experiment({name!r}).predict({{}})`, "
                "all arrival times)\n\n" + _table(exp.describe()) + "\n")
    edges = pred.bin_edges
    obs_unit = exp.spec.detector.observable
    lines = [f"Computed while building this page: `load_experiment({name!r}).predict({{}})`, i.e. the physics of the "
             "file's `[physics]` table and every BSM parameter at its default (zero).", "",
             f"**Expected CEvNS events: {float(pred.total[0]):.2f}** in the analysis bins ({obs_unit}); per flavour: "
             + ", ".join(f"{k} {float(v[0]):.2f}" for k, v in pred.by_flavor().items()) + ".", ""]
    if exp.backgrounds:
        lines += ["Backgrounds in the file: " + ", ".join(f"`{k}` {float(v.sum()):.2f} events"
                                                         for k, v in exp.backgrounds.items()) + ".", ""]
    has_data = exp.observed is not None
    head = "| low | high | CEvNS (SM) |" + (" observed |" if has_data else "")
    lines += [head, "|---:|---:|---:|" + ("---:|" if has_data else "")]
    for i, (lo, hi) in enumerate(zip(edges[:-1], edges[1:])):
        row = f"| {lo:g} | {hi:g} | {pred.per_bin[0][i]:.3f} |"
        if has_data:
            row += f" {exp.observed[i]:g} |"
        lines.append(row)
    if has_data:
        lines += ["", f"Observed in total: {float(exp.observed.sum()):g}"
                  + ("" if exp.sideband is None else " (after subtracting the sideband, "
                     f"{float(exp.sideband.sum()):g} events)") + "."]
    return "\n".join(lines) + "\n"


def _data_section(raw: dict) -> str:
    if raw.get("kind"):  # a plug-in experiment kind: data and likelihood are in its summary table above
        return (f"Experiment kind `{raw['kind']}`: the released data and the likelihood inputs are listed in "
                "the summary above and in the provenance notes below.\n\n")
    data = raw.get("data")
    stats = raw.get("statistics", {})
    if not data:
        out = ("This experiment has **no data**: analyses use Asimov data (the expectation at a chosen physics point), "
               "i.e. it is a projection.\n")
    else:
        out = "Released data read from the experiment folder:\n\n" + _table(data) + "\n"
        for b in data.get("backgrounds", []):
            out += f"- background `{b.get('name')}`: " + _cell({k: v for k, v in b.items() if k != "name"}) + "\n"
    if stats:
        out += "\nStatistics (the default likelihood of an analysis using this experiment):\n\n" + _table(stats)
    return out + "\n"


@functools.lru_cache(maxsize=None)
def _paper_analyses() -> tuple[tuple[str, str, tuple[str, ...]], ...]:
    """``(relative path, title, experiment names)`` of every analysis file shipped under ``cevns/papers``."""
    root = Path(cevns.papers.__file__).resolve().parent
    out = []
    for path in sorted(root.rglob("*.toml")):
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError:
            continue
        entries = raw.get("experiments")
        if not isinstance(entries, list):
            continue
        names = tuple(str(e.get("experiment", "")) for e in entries if isinstance(e, dict))
        out.append((f"src/cevns/papers/{path.relative_to(root).as_posix()}", str(raw.get("title", "")), names))
    return tuple(out)


def _used_by(name: str) -> str:
    rows = [f"- `{rel}`: {title}" for rel, title, names in _paper_analyses() if name in names]
    if not rows:
        return "No shipped analysis file uses this experiment yet.\n"
    return ("Analysis files of the paper reproductions that use it (see the [Gallery](../gallery.md)):\n\n"
            + "\n".join(rows) + "\n")


def experiment_page(row: dict) -> str:
    """Markdown page of one built-in experiment (``row`` from :func:`cevns.experiments.list_experiments`)."""
    path = Path(row["path"])
    text = path.read_text(encoding="utf-8")
    raw = tomllib.loads(text)
    name = raw.get("name", row["name"])
    parts = [f"# {name}\n", f"**{raw.get('title', '')}**\n", raw.get("description", "").strip() + "\n",
             "## References\n", "\n".join(f"- {r}" for r in raw.get("references", [])) + "\n",
             "## Standard-Model prediction\n", _prediction(row["name"]),
             "## Data and likelihood\n", _data_section(raw), _used_by(name), "## Inputs\n"]
    for key, title in (("source", "Source"), ("detector", "Detector"), ("physics", "Physics choices")):
        if key in raw:
            parts.append(f"### {title}\n\n" + _table(raw[key]))
            for sub, v in raw[key].items():
                if isinstance(v, dict):
                    parts.append(f"`{key}.{sub}`: {_cell(v)}\n")
                elif _is_table_list(v):
                    parts += [f"- `{key}.{sub}`: {_cell(x)}" for x in v] + [""]
    if raw.get("systematics"):
        parts.append("### Systematics (nuisance parameters)\n\n| name | sigma | applies to | description |\n"
                     "|---|---:|---|---|\n" + "\n".join(
                         f"| `{s['name']}` | {_cell(s.get('sigma', 'free'))} | {_cell(s.get('applies_to', []))} | "
                         f"{_cell(s.get('description', ''))} |" for s in raw["systematics"]) + "\n")
    for note in NOTE_FILES:
        p = path.parent / note
        if p.exists():
            parts.append(f"## Provenance: `{note}`\n\n" + _demote(p.read_text(encoding="utf-8")).strip() + "\n")
    rel = path.relative_to(path.parents[3]).as_posix() if len(path.parents) > 3 else path.name
    parts.append(f"## The experiment file\n\n`{rel}` (the comments give the source of each number):\n\n"
                 f"```toml\n{text.rstrip()}\n```\n")
    parts.append(f"Use it: `cevns predict {name}`, `load_experiment(\"{name}\")`, or `experiment = \"{name}\"` in an "
                 "[analysis file](../analysis-format.md).\n")
    return "\n".join(parts)


def experiment_pages() -> dict[str, str]:
    """``{"experiments/index.md": ..., "experiments/<name>.md": ...}`` for every built-in experiment."""
    rows = list_experiments()
    pages = {}
    index = ["# Built-in experiments\n",
             "Generated from the experiment files under `src/cevns/experiments/` when the site is built; the SM "
             "predictions on each page are computed at build time. To add your own, see "
             "[Add an experiment](../howto/add-experiment.md).\n",
             "| experiment | description | SM events | data |", "|---|---|---:|---|"]
    for row in rows:
        slug = _slug(row["name"])
        pages[f"experiments/{slug}.md"] = experiment_page(row)
        exp, pred = _built(row["name"])
        index.append(f"| [{row['name']}]({slug}.md) | {_cell(row['title'])} | {float(pred.total[0]):.1f} | "
                     f"{'released data' if exp.observed is not None else 'projection (Asimov)'} |")
    pages["experiments/index.md"] = "\n".join(index) + "\n"
    return pages
