"""``cevns experiments`` and ``cevns parameters``: what can be loaded and what can be set."""

from __future__ import annotations

import json
import math

import typer
from rich.markup import escape
from rich.table import Table

from ..experiments import list_experiments
from ..io import json_clean
from ..physics.parameters import PARAMETERS
from .common import PHYSICS_DOC, console, settings_table

#: Parameter names built from a pattern (not listed one by one in PARAMETERS).
PATTERNS = [{"name": "rn_<Isotope>", "unit": "fm", "default": None, "domain": "(0, inf)",
             "description": "neutron rms radius of one isotope, e.g. rn_Cs133 (default: its proton rms radius)",
             "reference": "PHYSICS.md 3"}]


def _domain(p) -> str:
    """The allowed range of a parameter in interval notation, e.g. ``[0, 1]``, ``(0, inf)``."""
    lo = "(-inf" if p.lower == -math.inf else ("[" if p.lower_inclusive else "(") + f"{p.lower:g}"
    hi = "inf)" if p.upper == math.inf else f"{p.upper:g}" + ("]" if p.upper_inclusive else ")")
    return f"{lo}, {hi}"


def parameter_rows() -> list[dict]:
    """Every named physics parameter: name, unit, default, domain, description, reference."""
    rows = [{"name": p.name, "unit": p.unit, "default": p.default, "domain": _domain(p),
             "description": p.description, "reference": p.reference} for p in PARAMETERS.values()]
    return rows + PATTERNS


def experiments_cmd(as_json: bool = typer.Option(False, "--json", help="print JSON")):
    """List the built-in experiments.

    \f
    Parameters
    ----------
    as_json : bool
        Print JSON instead of a table.
    """
    rows = list_experiments()
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        refs = "; ".join(r["references"][:2])
        typer.echo(f"{r['name']:<22} {r['title']}\n{'':<22} refs: {refs}")


def parameters_cmd(as_json: bool = typer.Option(False, "--json", help="print JSON")):
    """List the physics parameters (unit, default, allowed range) and the physics settings (allowed values).

    \f
    Parameters
    ----------
    as_json : bool
        Print JSON instead of a table.
    """
    params = parameter_rows()
    settings = settings_table()
    if as_json:
        doc = {"parameters": params, "settings": settings, "documentation": PHYSICS_DOC}
        typer.echo(json.dumps(json_clean(doc), indent=2, allow_nan=False))
        return
    con = console()
    t = Table(title="physics parameters (--set NAME=VALUE)", title_justify="left")
    for c in ("name", "unit", "default", "allowed", "meaning", "reference"):
        t.add_column(c)
    for p in params:
        d = "-" if p["default"] is None else f"{p['default']:g}"
        t.add_row(escape(p["name"]), escape(p["unit"]), d, escape(p["domain"]), escape(p["description"]),
                  escape(p["reference"]))
    con.print(t)
    s = Table(title="physics settings (experiment \\[physics] table, or --set NAME=VALUE)", title_justify="left")
    for c in ("name", "default", "allowed values", "meaning"):
        s.add_column(c)
    for r in settings:
        d = r["default"]
        d = "none" if d is None else (str(d).lower() if isinstance(d, bool) else f"{d}")
        s.add_row(escape(r["name"]), escape(d), escape(r["values"]), escape(r["description"]))
    con.print(s)
    con.print(escape(f"formulas, units and sources of every parameter and setting: {PHYSICS_DOC}"))


def register(app: typer.Typer) -> None:
    """Attach ``experiments`` and ``parameters`` to the cevns CLI.

    Parameters
    ----------
    app : typer.Typer
        The cevns application.
    """
    app.command("experiments")(experiments_cmd)
    app.command("parameters")(parameters_cmd)
