"""``cevns predict`` for the experiment kinds with ``describe_prediction`` (COHERENT CsI 2021 / LAr 2020
templates, XENONnT 8B): the JSON document and its text tables."""

from __future__ import annotations

import warnings
from typing import List, Optional

import numpy as np
from rich.markup import escape
from rich.table import Table

from ..errors import InvalidResultError
from ..experiments import read_toml
from .common import console, describe_inputs


def describe_document(exp, params: dict, sets: Optional[List[str]]) -> dict:
    """The ``predict --json`` document of an experiment kind with ``describe_prediction`` (the COHERENT
    templates, XENONnT 8B): its tables plus the keys of :func:`prediction_document` (every number finite).

    Parameters
    ----------
    exp : object
        The experiment (``describe_prediction(params)`` returning the tables).
    params : dict
        Physics parameters.
    sets : list of str or None
        The ``--set`` items (named in messages).

    Raises
    ------
    InvalidResultError
        If the model cannot evaluate these inputs or gives a non-finite or negative CEvNS count.
    """
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            d = exp.describe_prediction(params)
    except (ValueError, ArithmeticError) as exc:
        raise InvalidResultError(f"cannot evaluate {exp.name} with {describe_inputs(sets)}: {exc}") from None
    raw = read_toml(exp.path) if getattr(exp, "path", None) else {}
    first = d["tables"][0]
    if d["kind"] == "xenonnt-8b":
        per_bin = np.sum([np.concatenate(v) for v in d["grid"]["cevns"].values()], axis=0)
        runs = [r for r, n in zip(d["grid"]["axes"][0]["labels"], d["grid"]["axes"][1]["sizes"]) for _ in range(n)]
        bins = [{"low": float(i), "high": float(i + 1), "run": r, "events": float(v)}
                for i, (r, v) in enumerate(zip(runs, per_bin))]
        observable = "analysis bin (runs concatenated)"
    else:
        bins = [{"low": r["low"], "high": r["high"], "events": r["cevns"]} for r in first["rows"]]
        observable = first["unit"] or first["axis"]
    values = np.array([d["total"]] + [b["events"] for b in bins], dtype=float)
    if not np.all(np.isfinite(values)) or np.any(values < 0):
        raise InvalidResultError(f"the prediction for {exp.name} is not finite or negative with "
                                 f"{describe_inputs(sets)}; these values are outside the range the model can evaluate")
    out = {"experiment": exp.name, "title": getattr(exp, "title", None) or raw.get("title", exp.name),
           "kind": d["kind"], "total": d["total"], "window": d["window"]}
    out["by_flavor"] = d.get("by_flavor") or {"all": d["total"]}  # the solar flavours are mixed (MSW)
    if "by_component" in d:
        out["by_component"] = d["by_component"]
    out.update({
        "uncertainty": d["uncertainty"], "bins": bins, "observable": observable,
        "backgrounds": {k: v["events"] for k, v in d["backgrounds"].items()},
        "background_sources": {k: v["source"] for k, v in d["backgrounds"].items()},
        "observed": d["observed"]["events"], "observed_what": d["observed"]["what"],
        "tables": d["tables"], "grid": d["grid"],
        "settings": {"physics": exp.engine.resolved_settings(), "parameters": d["parameters"], "nuclei": d["nuclei"]},
        "references": list(getattr(exp, "references", None) or raw.get("references", [])),
    })
    return out


def print_settings(con, out: dict) -> None:
    """Print the settings, non-zero parameters and nuclear radii of a ``predict`` document.

    Parameters
    ----------
    con : rich.console.Console
        Where to print.
    out : dict
        The document (its ``settings``: ``physics``, ``parameters``, ``nuclei``).
    """
    s = out["settings"]
    con.print(escape("settings: " + ", ".join(f"{k}={v}" for k, v in s["physics"].items())))
    nonzero = {k: v for k, v in s["parameters"].items() if v != 0}
    con.print(escape("parameters: " + ", ".join(f"{k}={v}" for k, v in nonzero.items())))
    con.print(escape("radii [fm]: " + ", ".join(f"{k}: Rp={v['proton_rms_fm']:.4f} Rn={v['neutron_rms_fm']:.4f}"
                                                for k, v in s["nuclei"].items()
                                                if isinstance(v["neutron_rms_fm"], float))))


def print_tables(out: dict) -> None:
    """Print the text form of :func:`describe_document`.

    Parameters
    ----------
    out : dict
        The document.
    """
    con = console()
    con.print(f"[bold]{escape(out['experiment'])}[/bold]: {escape(out['title'])}")
    u = out["uncertainty"]
    split = out.get("by_component") or out["by_flavor"]
    con.print(f"expected CEvNS events in {escape(out['window'])}: [bold]{out['total']:.2f}[/bold] "
              + escape(f"+- {u['events']:.2f} ({100 * u['relative']:.1f} %)   ")
              + escape("  ".join(f"{k}: {v:.2f}" for k, v in split.items())))
    con.print(escape(f"  uncertainty: {u['includes']}"))
    if out["settings"]["physics"].get("coupling_scheme") == "tree":
        s2 = out["settings"]["parameters"].get("sin2_theta_w")
        con.print(escape(f"  couplings: tree level at sin2_theta_w = {s2:g}; the low-energy (Q -> 0) MS-bar value "
                         "is 0.23857 (--set sin2_theta_w=0.23857)"))
    con.print("backgrounds (nominal, not fitted):")
    for k, v in out["backgrounds"].items():
        con.print(escape(f"  {k}: {v:.2f}   ({out['background_sources'][k]})"))
    con.print(escape(f"{out['observed_what']}: {out['observed']:.0f}"))
    for tab in out["tables"]:
        t = Table(title=escape(tab["title"]))
        keyed = "label" in tab["rows"][0]
        heads = (["run"] if keyed else ["low", "high"]) + tab["columns"]
        for c in heads:
            t.add_column(escape(c), justify="right")
        for r in tab["rows"]:
            first = [escape(r["label"])] if keyed else [f"{r['low']:g}", f"{r['high']:g}"]
            t.add_row(*first, *(f"{r[c]:.3f}" if c != "observed" else f"{r[c]:.0f}" for c in tab["columns"]))
        con.print(t)
    print_settings(con, out)
