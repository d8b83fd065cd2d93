"""The data behind a composed paper figure that is not drawn from scans, as a CSV next to its PNG.

Figures drawn from scans (kinds ``profiles``, ``regions``, ``sterile``, ``exclusion_fill``) already have
their data in the scan CSVs of :func:`cevns.analysis.run_analysis`; the report page links those. A
``spectrum`` figure is drawn from an experiment's prediction and data: :func:`write_figure_csv` writes
those numbers (the arrays of :func:`cevns.plotting.spectrum_data`) to ``<figure id>.csv``.
"""

from __future__ import annotations

import csv
import io as _io
from pathlib import Path

import numpy as np

from ..experiments import load_experiment
from ..io import write_text
from ..plotting.spectrum import spectrum_data
from .weak_mixing_figure import weak_mixing_points

__all__ = ["write_figure_csv", "SPECTRUM_COLUMNS", "WEAK_MIXING_COLUMNS"]

#: Columns of the weak-mixing figure's CSV (momentum transfers in MeV; interval at ``cl``).
WEAK_MIXING_COLUMNS = ("label", "scan", "q_mev", "q_low_mev", "q_high_mev", "best_fit", "low", "high", "cl")

#: Columns of a spectrum figure's CSV; ``<obs>`` is the experiment's observable (pe, kevee, kevnr).
SPECTRUM_COLUMNS = ("bin_low_<obs>", "bin_high_<obs>", "cevns_sm_events", "background_events",
                    "total_events", "observed_events", "observed_error")


def _num(v) -> str:
    return "" if v is None or not np.isfinite(v) else repr(float(v))


def write_figure_csv(spec: dict, path, scans=None) -> Path | None:
    """Write the data of figure ``spec`` (one ``[[figures]]`` table of figures.toml) to ``path``.

    Kind ``spectrum``: one row per bin of the figure's ``range`` with the predicted CEvNS events at the
    figure's ``params``, the beam-on background, their sum, and the observed events and their error
    (empty where the experiment has no data); events per bin. Kind ``weak_mixing_running`` (needs
    ``scans``): one row per data point, :data:`WEAK_MIXING_COLUMNS`
    (:func:`cevns.papers.weak_mixing_figure.weak_mixing_points`). Other kinds: nothing is written
    (their data are the scan CSVs) and None is returned.

    Returns
    -------
    Path or None
        The CSV written (atomically), or None.
    """
    if spec.get("kind") == "weak_mixing_running" and scans is not None:
        return _write_weak_mixing(spec, path, scans)
    if spec.get("kind") != "spectrum":
        return None
    exp = load_experiment(spec["experiment"])
    lo, hi = spec.get("range", (None, None))
    d = spectrum_data(exp, spec.get("params", {}), lo, hi)
    obs = exp.spec.detector.observable
    edges = np.asarray(d["edges"], dtype=float)
    n = len(edges) - 1
    signal = np.asarray(d["signal"], dtype=float)
    background = np.broadcast_to(np.asarray(d["background"], dtype=float), (n,))
    observed = d["observed"] if d["observed"] is not None else [None] * n
    error = d["error"] if d["error"] is not None else [None] * n
    buf = _io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([c.replace("<obs>", obs) for c in SPECTRUM_COLUMNS])
    for i in range(n):
        w.writerow([_num(edges[i]), _num(edges[i + 1]), _num(signal[i]), _num(background[i]),
                    _num(signal[i] + background[i]), _num(observed[i]), _num(error[i])])
    path = Path(path)
    write_text(path, buf.getvalue())
    return path


def _write_weak_mixing(spec: dict, path, scans) -> Path:
    buf = _io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(WEAK_MIXING_COLUMNS)
    for row in weak_mixing_points(spec, scans):
        w.writerow([row[c] if isinstance(row[c], str) else _num(row[c]) for c in WEAK_MIXING_COLUMNS])
    path = Path(path)
    write_text(path, buf.getvalue())
    return path
