"""``cevns predict`` and ``cevns plot-spectrum``: expected CEvNS events of one physics point."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import List, Optional

import numpy as np
import typer
from rich.markup import escape
from rich.table import Table

from ..errors import CommandLineError, ConfigError, InvalidResultError, OutputError
from ..experiments import experiment_path, load_experiment, read_toml
from ..experiments.kinds import PluginDetector
from ..io import json_clean, prepare_out_dir
from ..physics import kinematics
from ..physics.settings import DEFAULT_SHAPE_FM, PhysicsSettings
from ..plotting import plot_spectrum
from .common import console, describe_inputs, parse_sets, warn
from .predict_tables import describe_document, print_settings, print_tables

#: Image formats ``plot-spectrum --out`` can write (by suffix).
IMAGE_SUFFIXES = (".png", ".pdf", ".svg", ".eps", ".ps", ".jpg", ".jpeg")

SET_HELP = "NAME=VALUE physics parameter or setting (repeatable; see `cevns parameters`)"
NO_TIME_CUT_HELP = "drop the analysis time window: all arrival times (prediction and data)"


def no_time_cut_overrides(experiment: str) -> dict:
    """Experiment-file overrides that remove the timing cut (``source.timing`` and ``data.time_window_us``).

    Raises
    ------
    CommandLineError
        If the experiment has no time window.
    """
    raw = read_toml(experiment_path(experiment))
    src, data = raw.get("source"), raw.get("data")
    ov: dict = {}
    if isinstance(src, dict) and src.get("timing") is not None:
        ov["source"] = {"timing": None}
    if isinstance(data, dict) and data.get("time_window_us") is not None:
        ov["data"] = {"time_window_us": None}
        backgrounds = data.get("backgrounds")
        if isinstance(backgrounds, list):  # a background's arrival-time PDF only applies inside a window
            ov["data"]["backgrounds"] = [{k: v for k, v in b.items() if k != "time_pdf"} if isinstance(b, dict) else b
                                         for b in backgrounds]
    if not ov:
        raise CommandLineError(f"--no-time-cut: experiment {experiment!r} has no time window to remove")
    return ov


def load_for_cli(experiment: str, sets: Optional[List[str]], no_time_cut: bool = False):
    """Load an experiment with ``--set`` settings and overrides; returns (experiment, parameters).

    Parameters
    ----------
    experiment : str
        Built-in experiment name or experiment file.
    sets : list of str or None
        ``--set key=value`` items (physics parameters, settings, experiment overrides).
    no_time_cut : bool, optional
        Drop the experiment's timing cut.
    """
    params, settings = parse_sets(sets)
    if "form_factor_shape_fm" in settings and settings["form_factor_shape_fm"] is None:  # `none`: the model's default
        physics = read_toml(experiment_path(experiment)).get("physics")
        physics = physics if isinstance(physics, dict) else {}
        model = settings.get("form_factor") or physics.get("form_factor") or PhysicsSettings().form_factor
        settings["form_factor_shape_fm"] = DEFAULT_SHAPE_FM.get(model, 0.0)
    if no_time_cut and read_toml(experiment_path(experiment)).get("kind") == "coherent-template":
        raise CommandLineError(f"--no-time-cut: the arrival-time bins of {experiment} are part of its template "
                               "grid (predict prints the CEvNS events per time bin)")
    overrides = no_time_cut_overrides(experiment) if no_time_cut else None
    exp = load_experiment(experiment, overrides=overrides, settings=settings)
    if getattr(exp, "spec", None) is None and not hasattr(exp, "describe_prediction"):  # a plug-in kind
        raise ConfigError(f"{exp.name} is a {type(exp).__name__}: use it in an analysis file (cevns scan, cevns fit)")
    exp.engine.point(params)  # validate
    return exp, params


def zero_rate_reasons(exp) -> list[str]:
    """Why an experiment predicts no events in its analysis window (public attributes only).

    Checks, in order: the neutrino fluence in the time window, the efficiency threshold against the bins,
    and the kinematic endpoint T_max = 2E^2/(M + 2E) (PHYSICS.md 1) of the most energetic neutrino on
    the lightest target, converted to the observable, against the lowest bin edge.

    Parameters
    ----------
    exp : Experiment
        A loaded experiment.
    """
    eng = exp.engine
    resp = eng.response
    edges = np.asarray(eng.bin_edges, dtype=float)
    unit = exp.spec.detector.observable
    reasons = []
    if sum(c.total_fluence_cm2() for c in eng.fluxes) <= 0:
        timing = getattr(exp.spec.source, "timing", None)
        if timing is not None:
            a, b = timing.window_us
            reasons.append(f"no neutrinos arrive in the time window {a:g}-{b:g} us (source.timing.window_us): "
                           "it lies outside the arrival-time PDFs")
        else:
            reasons.append("the source flux is zero")
    eff = resp.efficiency
    if eff is not None:
        thr = eff.threshold()
        grid = np.linspace(edges[0], edges[-1], 4001)
        if thr >= edges[-1]:
            reasons.append(f"the detection threshold {thr:g} {unit} is above all bins (last edge {edges[-1]:g} {unit})")
        elif not np.any(np.asarray(eff(grid)) > 0):
            reasons.append(f"the efficiency is zero in every bin ({edges[0]:g}-{edges[-1]:g} {unit})")
    e_max = max((c.e_max_mev for c in eng.fluxes), default=0.0)
    if e_max > 0 and resp.deterministic:
        reach = []
        for t in eng.targets:
            t_kev = 1e3 * float(kinematics.t_max_mev(e_max, t.isotope.mass_mev))
            reach.append((float(resp.observable_mean(t_kev, t.isotope.z)), t_kev, t.isotope.name))
        top, t_kev, iso = max(reach)
        if top <= edges[0]:
            reasons.append(f"the bins start at {edges[0]:g} {unit}, above the kinematic endpoint: the largest recoil "
                           f"(E_nu = {e_max:.4g} MeV on {iso}, T_max = {t_kev:.4g} keVnr) gives {top:.4g} {unit}")
    if not reasons:
        reasons.append("the physics parameters cancel the rate (e.g. couplings that make every weak charge zero)")
    return reasons


def check_prediction(exp, pred, sets: Optional[List[str]]) -> None:
    """Raise :class:`InvalidResultError` if any count is NaN, infinite or negative, naming the inputs.

    Parameters
    ----------
    exp : Experiment
        The experiment.
    pred : Prediction
        Its prediction.
    sets : list of str or None
        The ``--set`` items (named in the message).
    """
    counts = np.asarray(pred.counts[0], dtype=float)
    bad = ~np.isfinite(counts)
    what = "not finite"
    if not bad.any():
        bad = counts < 0
        what = "negative"
    if not bad.any():
        return
    f, b = (int(i[0]) for i in np.nonzero(bad))
    e = pred.bin_edges
    raise InvalidResultError(
        f"the prediction for {exp.name} is {what} ({pred.flavors[f]}, bin {e[b]:g}-{e[b + 1]:g}: {counts[f, b]}) "
        f"with {describe_inputs(sets)}; these values are outside the range the model can evaluate")


def evaluate(exp, params: dict, sets: Optional[List[str]]):
    """``exp.predict(params)`` for the command line: numerical warnings silenced (the result is checked
    instead, :func:`check_prediction`), and a model that cannot evaluate these inputs (``ValueError``)
    reported as :class:`InvalidResultError` naming them.

    Parameters
    ----------
    exp : Experiment
        The experiment.
    params : dict
        Physics parameters.
    sets : list of str or None
        The ``--set`` items (named in messages).
    """
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            pred = exp.predict(params)
    except (ValueError, ArithmeticError) as exc:
        raise InvalidResultError(f"cannot evaluate {exp.name} with {describe_inputs(sets)}: {exc}") from None
    check_prediction(exp, pred, sets)
    return pred


def prediction_document(exp, params: dict, pred) -> dict:
    """The ``predict --json`` document (every number finite).

    Parameters
    ----------
    exp : Experiment
        The experiment.
    params : dict
        Physics parameters.
    pred : Prediction
        Its prediction.
    """
    edges = pred.bin_edges
    bins = [{"low": float(lo), "high": float(hi), "events": float(n)}
            for lo, hi, n in zip(edges[:-1], edges[1:], pred.per_bin[0])]
    channels = getattr(exp.spec, "channels", None)  # counting channels (solar-summary kind) name the bins
    if channels is not None and len(channels) == len(bins):
        for b, ch in zip(bins, channels):
            b["label"] = str(getattr(ch, "name", ""))
    plugin = isinstance(exp.spec.detector, PluginDetector)
    return {
        "experiment": exp.name,
        "title": exp.title,
        "total": float(pred.total[0]),
        "by_flavor": {k: float(v[0]) for k, v in pred.by_flavor().items()},
        "bins": bins,
        "observable": exp.spec.detector.observable,
        "backgrounds": {k: float(v.sum()) for k, v in exp.backgrounds.items()},
        "observed": None if exp.observed is None else float(exp.observed.sum()),
        "observed_what": "observed events" if plugin else "observed (background-subtracted)",
        "settings": exp.settings(params),
        "references": exp.references,
    }


def _print_table(out: dict) -> None:
    con = console()
    con.print(f"[bold]{escape(out['experiment'])}[/bold]: {escape(out['title'])}")
    con.print(f"expected CEvNS events: [bold]{out['total']:.2f}[/bold]   "
              + escape("  ".join(f"{k}: {v:.2f}" for k, v in out["by_flavor"].items())))
    if out["observed"] is not None:
        con.print(escape(f"{out['observed_what']}: {out['observed']:.0f}   backgrounds: "
                         + ", ".join(f"{k} {v:.2f}" for k, v in out["backgrounds"].items())))
    labelled = any("label" in b for b in out["bins"])
    t = Table(title=escape(f"per bin [{out['observable']}]"))
    for c in (("channel",) if labelled else ()) + ("low", "high", "events"):
        t.add_column(c, justify="right")
    for b in out["bins"]:
        t.add_row(*((escape(b.get("label", "")),) if labelled else ()), f"{b['low']:g}", f"{b['high']:g}",
                  f"{b['events']:.3f}")
    con.print(t)
    print_settings(con, out)


def predict_cmd(
    experiment: str = typer.Argument(..., help="built-in name or path to an experiment.toml"),
    set_: Optional[List[str]] = typer.Option(None, "--set", help=SET_HELP),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
    no_time_cut: bool = typer.Option(False, "--no-time-cut", help=NO_TIME_CUT_HELP),
):
    """Expected CEvNS events: total in the analysis window, per flavour and per bin.

    \f
    Parameters
    ----------
    experiment : str
        Built-in experiment name or experiment file.
    set_ : list of str
        ``--set key=value`` items.
    as_json : bool
        Print JSON instead of a table.
    no_time_cut : bool
        Drop the timing cut.
    """
    exp, params = load_for_cli(experiment, set_, no_time_cut)
    if hasattr(exp, "describe_prediction"):  # template kinds: CEvNS and backgrounds on the analysis grid
        out = describe_document(exp, params, set_)
        if as_json:
            typer.echo(json.dumps(json_clean(out), indent=2, allow_nan=False))
        else:
            print_tables(out)
        return
    pred = evaluate(exp, params, set_)
    if float(pred.total[0]) == 0.0:
        warn(f"0 expected events in the analysis window of {exp.name}: " + "; ".join(zero_rate_reasons(exp)))
    out = prediction_document(exp, params, pred)
    if as_json:
        typer.echo(json.dumps(json_clean(out), indent=2, allow_nan=False))
        return
    _print_table(out)


def _check_range(low: Optional[float], high: Optional[float]) -> None:
    for name, v in (("--low", low), ("--high", high)):
        if v is not None and (not math.isfinite(v) or v < 0):
            raise CommandLineError(f"{name} must be a finite number >= 0, got {v}")
    if low is not None and high is not None and not low < high:
        raise CommandLineError(f"--low ({low:g}) must be below --high ({high:g})")


def plot_spectrum_cmd(
    experiment: str = typer.Argument(..., help="built-in name or path to an experiment.toml"),
    out_name: str = typer.Option(..., "--out", help="output image (" + ", ".join(IMAGE_SUFFIXES) + ")"),
    set_: Optional[List[str]] = typer.Option(None, "--set", help=SET_HELP),
    low: Optional[float] = typer.Option(None, help="lower edge of the plotted range (observable units)"),
    high: Optional[float] = typer.Option(None, help="upper edge of the plotted range (observable units)"),
    no_time_cut: bool = typer.Option(False, "--no-time-cut", help=NO_TIME_CUT_HELP),
):
    """Draw the predicted spectrum against the released data (the seed's Fig. 1).

    \f
    Parameters
    ----------
    experiment : str
        Built-in experiment name or experiment file.
    out_name : str
        Output image file.
    set_ : list of str
        ``--set key=value`` items.
    low, high : float, optional
        Observable range (observable units).
    no_time_cut : bool
        Drop the timing cut.
    """
    out = Path(out_name)
    if out.suffix.lower() not in IMAGE_SUFFIXES:
        raise CommandLineError(f"--out {out}: unknown image format {out.suffix or '(no suffix)'!r}; "
                               f"use one of {', '.join(IMAGE_SUFFIXES)}")
    if out.is_dir():
        raise OutputError(f"--out {out} is a folder; give an image file name")
    _check_range(low, high)
    prepare_out_dir(out.parent if str(out.parent) else ".")
    exp, params = load_for_cli(experiment, set_, no_time_cut)
    if not hasattr(exp.spec, "source"):  # plug-in kinds (templates, xenonnt-8b) have no 1D energy spectrum
        bins = getattr(getattr(exp.spec, "detector", None), "observable", None) or "a multi-dimensional template grid"
        raise CommandLineError(f"plot-spectrum draws a 1D spectrum of one observable against its data; {exp.name} "
                               f"({type(exp).__name__}) has none (its bins: {bins}); `cevns predict {exp.name}` "
                               "prints its expected events per bin")
    width = float(exp.bin_edges[1] - exp.bin_edges[0])
    lo = float(exp.bin_edges[0]) if low is None else low
    hi = float(exp.bin_edges[-1]) if high is None else high
    if not hi - lo >= width - 1e-9 * width:
        raise CommandLineError(f"the plotted range {lo:g}-{hi:g} is narrower than one bin ({width:g})")
    evaluate(exp, params, set_)
    plot_spectrum(exp, params, out, low=low, high=high)
    typer.echo(f"wrote {out}")


def register(app: typer.Typer) -> None:
    """Attach ``predict`` and ``plot-spectrum`` to the cevns CLI.

    Parameters
    ----------
    app : typer.Typer
        The cevns application.
    """
    app.command("predict")(predict_cmd)
    app.command("plot-spectrum")(plot_spectrum_cmd)
