"""The ``cevns`` command line.

Every user error (unknown experiment or parameter, invalid file, value out of domain) is printed as one
line ``error: ...`` on stderr with exit code 2, never a traceback.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import List, Optional

import typer

from ..errors import CevnsError, ParameterError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="CEvNS cross sections, event rates, fits and paper reproductions.")


def fail(msg: str, code: int = 2):
    """Print a one-line error and exit."""
    typer.echo(f"error: {msg}", err=True)
    raise typer.Exit(code)


def parse_sets(items: Optional[List[str]]) -> tuple[dict, dict]:
    """Split ``--set NAME=VALUE`` items into (physics parameters, physics settings)."""
    from ..physics.parameters import spec_for
    from ..physics.settings import SETTING_NAMES

    params, settings = {}, {}
    for item in items or []:
        if "=" not in item:
            raise ParameterError(f"--set expects NAME=VALUE, got {item!r}")
        name, value = (s.strip() for s in item.split("=", 1))
        if name in SETTING_NAMES:
            low = value.lower()
            settings[name] = True if low == "true" else False if low == "false" else _number_or_str(value)
            continue
        spec_for(name)
        try:
            params[name] = float(value)
        except ValueError:
            raise ParameterError(f"parameter {name!r} needs a number, got {value!r}") from None
    return params, settings


def _number_or_str(v: str):
    try:
        return float(v)
    except ValueError:
        return v


@app.command("experiments")
def experiments_cmd(as_json: bool = typer.Option(False, "--json", help="print JSON")):
    """List the built-in experiments."""
    from ..experiments import list_experiments

    rows = list_experiments()
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        refs = "; ".join(r["references"][:2])
        typer.echo(f"{r['name']:<22} {r['title']}\n{'':<22} refs: {refs}")


@app.command("parameters")
def parameters_cmd():
    """List the physics parameters (names, units, defaults) and the physics settings."""
    from ..physics.parameters import PARAMETERS
    from ..physics.settings import PhysicsSettings

    for p in PARAMETERS.values():
        d = "-" if p.default is None else f"{p.default:g}"
        typer.echo(f"{p.name:<18} [{p.unit}] default {d:<8} {p.description}  ({p.reference})")
    typer.echo("rn_<Isotope>       [fm] neutron rms radius of one isotope, e.g. rn_Cs133")
    typer.echo("\nsettings (--set NAME=VALUE):")
    for name, f in PhysicsSettings.model_fields.items():
        typer.echo(f"{name:<26} default {f.default!r}")


def _load(experiment: str, sets: Optional[List[str]]):
    from ..experiments import load_experiment

    params, settings = parse_sets(sets)
    exp = load_experiment(experiment, settings=settings)
    exp.engine.point(params)  # validate
    return exp, params


@app.command("predict")
def predict_cmd(
    experiment: str = typer.Argument(..., help="built-in name or path to an experiment.toml"),
    set_: Optional[List[str]] = typer.Option(None, "--set", help="NAME=VALUE physics parameter or setting"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
):
    """Expected CEvNS events: total in the analysis window, per flavour and per bin."""
    exp, params = _load(experiment, set_)
    pred = exp.predict(params)
    edges = pred.bin_edges
    out = {
        "experiment": exp.name,
        "title": exp.title,
        "total": float(pred.total[0]),
        "by_flavor": {k: float(v[0]) for k, v in pred.by_flavor().items()},
        "bins": [{"low": float(lo), "high": float(hi), "events": float(n)}
                 for lo, hi, n in zip(edges[:-1], edges[1:], pred.per_bin[0])],
        "observable": exp.spec.detector.observable,
        "backgrounds": {k: float(v.sum()) for k, v in exp.backgrounds.items()},
        "observed": None if exp.observed is None else float(exp.observed.sum()),
        "settings": exp.settings(params),
        "references": exp.references,
    }
    if as_json:
        typer.echo(json.dumps(out, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    con = Console()
    con.print(f"[bold]{exp.name}[/bold]: {exp.title}")
    con.print(f"expected CEvNS events: [bold]{out['total']:.2f}[/bold]   "
              + "  ".join(f"{k}: {v:.2f}" for k, v in out["by_flavor"].items()))
    if out["observed"] is not None:
        con.print(f"observed (background-subtracted): {out['observed']:.0f}   backgrounds: "
                  + ", ".join(f"{k} {v:.2f}" for k, v in out["backgrounds"].items()))
    t = Table(title=f"per bin [{out['observable']}]")
    for c in ("low", "high", "events"):
        t.add_column(c, justify="right")
    for b in out["bins"]:
        t.add_row(f"{b['low']:g}", f"{b['high']:g}", f"{b['events']:.3f}")
    con.print(t)
    s = out["settings"]
    ph = s["physics"]
    con.print("settings: " + ", ".join(f"{k}={v}" for k, v in ph.items()))
    nonzero = {k: v for k, v in s["parameters"].items() if v != 0}
    con.print("parameters: " + ", ".join(f"{k}={v}" for k, v in nonzero.items()))
    con.print("radii \\[fm]: " + ", ".join(f"{k}: Rp={v['proton_rms_fm']:.4f} Rn={v['neutron_rms_fm']:.4f}"
                                         for k, v in s["nuclei"].items() if isinstance(v["neutron_rms_fm"], float)))


@app.command("plot-spectrum")
def plot_spectrum_cmd(
    experiment: str = typer.Argument(...),
    out: Path = typer.Option(..., "--out", help="output image (.png or .pdf)"),
    set_: Optional[List[str]] = typer.Option(None, "--set", help="NAME=VALUE physics parameter or setting"),
    low: Optional[float] = typer.Option(None, help="lower edge of the plotted range"),
    high: Optional[float] = typer.Option(None, help="upper edge of the plotted range"),
):
    """Draw the predicted spectrum against the released data (the seed's Fig. 1)."""
    from ..plotting import plot_spectrum

    exp, params = _load(experiment, set_)
    plot_spectrum(exp, params, out, low=low, high=high)
    typer.echo(f"wrote {out}")


def _register_optional():
    """Attach the commands that live in their own modules (scan, reproduce)."""
    import importlib

    for mod, name in (("cevns.cli.scan", "scan"), ("cevns.cli.reproduce", "reproduce"),
                      ("cevns.cli.hepdata", "export-hepdata")):
        try:
            m = importlib.import_module(mod)
        except ModuleNotFoundError as exc:
            if exc.name == mod:
                continue
            raise
        m.register(app)


def main(argv: Optional[List[str]] = None):
    """Entry point of the ``cevns`` console script."""
    _register_optional()
    try:
        app(args=argv, standalone_mode=False)
    except CevnsError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:  # click usage errors
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            sys.exit(2)
        if isinstance(exc, click.exceptions.Abort):
            typer.echo("aborted", err=True)
            sys.exit(130)
        raise
    sys.exit(0)


if __name__ == "__main__":
    main()
