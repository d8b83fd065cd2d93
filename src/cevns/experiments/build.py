"""Build the parts of an experiment from a validated spec (sources, detector, data).

Every data file is read with :func:`cevns.sources.tables.read_table` (checked line by line); every
problem is raised as a :class:`~cevns.errors.ConfigError` naming the experiment file, the key and
(for data files) the file and line.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..detectors.efficiency import Efficiency
from ..detectors.quenching import Quenching
from ..detectors.response import DetectorResponse
from ..engine import RateEngine, Target
from ..errors import CevnsError, ConfigError
from ..physics import nuclei
from ..physics.constants import SECONDS_PER_DAY
from ..sources import reactor, spallation, tabulated
from ..sources.tables import DataFileError, read_table, read_two_columns
from .schema import ExperimentSpec

__all__ = ["Parts", "bin_edges", "build_parts", "read_observed"]


@contextmanager
def at(path: Path, key: str):
    """Turn a ``ValueError`` raised inside the block into a ConfigError naming ``path`` and ``key``."""
    try:
        yield
    except DataFileError as exc:
        raise ConfigError(f"{path}: {key}: {exc}") from None
    except CevnsError:
        raise
    except ValueError as exc:
        raise ConfigError(f"{path}: {key}: {exc}") from None


def bin_edges(spec) -> np.ndarray:
    """Analysis bin edges from a :class:`~cevns.experiments.schema.BinsSpec`.

    Parameters
    ----------
    spec : BinsSpec
        Explicit ``edges``, or ``start``, ``stop`` and ``width`` (in the units of the observable: PE,
        keVee or keVnr).

    Returns
    -------
    numpy.ndarray
        Ascending bin edges, in the units of the observable.

    Raises
    ------
    ValueError
        If ``stop - start`` is not a whole number of widths.
    """
    if spec.edges is not None:
        return np.asarray(spec.edges, dtype=float)
    n = int(round((spec.stop - spec.start) / spec.width))
    if n < 1 or abs(spec.start + n * spec.width - spec.stop) > 1e-9 * max(1.0, abs(spec.stop)):
        raise ValueError("detector.bins: (stop - start) must be a whole number of widths")
    return spec.start + spec.width * np.arange(n + 1)


def _file(base: Path, rel: str) -> Path:
    p = (base.parent / rel).resolve()
    if not p.exists():
        raise ValueError(f"data file {rel!r} not found (looked in {base.parent})")
    if not p.is_file():
        raise ValueError(f"data file {rel!r} is not a file")
    return p


def _window_fraction(path: Path, rel: str, window) -> float:
    """Fraction of the arrival-time PDF in file ``rel`` inside ``window`` [us]."""
    file = _file(path, rel)
    centers, prob = spallation.load_arrival_time_pdf(file)
    try:
        return spallation.time_window_fraction(centers, prob, window)
    except ValueError as exc:
        raise DataFileError(f"{file}: {exc}") from None


def build_fluxes(spec: ExperimentSpec, path: Path):
    """Neutrino fluxes of the experiment's source and the source-detector distance.

    Parameters
    ----------
    spec : ExperimentSpec
        The validated experiment (its ``[source]`` and exposure).
    path : pathlib.Path
        The experiment file (relative data files and error messages).

    Returns
    -------
    fluxes : list
        The source's flux components (:mod:`cevns.sources`).
    distance_m : float or None
        Baseline [m] (None for sources without one).
    """
    src = spec.source
    if src.kind == "spallation":
        fp = fd = 1.0
        if src.timing is not None:
            tw = src.timing.window_us
            with at(path, "source.timing.prompt_pdf"):
                fp = _window_fraction(path, src.timing.prompt_pdf, tw)
            with at(path, "source.timing.delayed_pdf"):
                fd = _window_fraction(path, src.timing.delayed_pdf, tw)
        with at(path, "source"):
            return spallation.spallation_flux(src.pot, src.nu_per_flavor_per_pot, src.distance_m,
                                              n_energy=src.n_energy, prompt_fraction=fp,
                                              delayed_fraction=fd), src.distance_m
    exposure_s = spec.detector.exposure_days * SECONDS_PER_DAY
    if src.kind == "reactor":
        kw = {}
        for key in ("low_energy", "high_energy", "e_min_mev"):
            if getattr(src, key) is not None:
                kw[key] = getattr(src, key)
        with at(path, "source"):
            return reactor.reactor_flux(src.thermal_power_gw, src.distance_m, exposure_s,
                                        fission_fractions=src.fission_fractions, model=src.spectrum_model,
                                        e_max_mev=src.e_max_mev, n_energy=src.n_energy, **kw), src.distance_m
    comps = []
    for i, c in enumerate(src.components):
        with at(path, f"source.components[{i}]"):
            e, v = tabulated.load_flux_table(_file(path, c.file), columns=c.columns)
            comps.append(tabulated.tabulated_flux(e, v, c.flavor, normalization=c.normalization * exposure_s,
                                                  n_energy=c.n_energy, kind=c.kind))
    return comps, src.distance_m


def build_response(spec: ExperimentSpec, path: Path, edges: np.ndarray) -> DetectorResponse:
    """Detector response (quenching, smearing, efficiency, binning) from the ``[detector]`` table.

    Parameters
    ----------
    spec : ExperimentSpec
        The validated experiment.
    path : pathlib.Path
        The experiment file (relative data files and error messages).
    edges : numpy.ndarray
        Analysis bin edges in the units of the observable (PE, keVee or keVnr).

    Returns
    -------
    DetectorResponse
    """
    det = spec.detector
    with at(path, "detector.quenching"):
        q = Quenching(det.quenching.model, det.quenching.params())
    eff_spec = det.efficiency
    params = eff_spec.params()
    if eff_spec.model == "tabulated":
        with at(path, "detector.efficiency.file"):
            table = read_table(_file(path, eff_spec.file), min_columns=2, names=("observable", "efficiency"),
                               nonnegative=(0, 1), ascending=0, maximum={1: 1.0})
            xs, ys = table[:, 0], table[:, 1]
            params = {"xs": xs, "ys": ys}
    with at(path, "detector.efficiency"):
        eff = Efficiency(eff_spec.model, params, zero_below=eff_spec.zero_below, steps=eff_spec.steps,
                         evaluate_at=eff_spec.evaluate_at)
    with at(path, "detector"):
        return DetectorResponse(quenching=q, observable=det.observable,
                                light_yield_pe_per_kevee=det.light_yield_pe_per_kevee,
                                smearing=det.smearing.model, smearing_params=det.smearing.params(),
                                efficiency=eff, bin_edges=edges, sub_bin_width=det.sub_bin_width)


def build_targets(spec: ExperimentSpec):
    """Target isotopes of the detector material, with their numbers of nuclei (``nuclei_per_kg * mass_kg``).

    Parameters
    ----------
    spec : ExperimentSpec
        The validated experiment (``detector.material``, ``mass_kg``, ``min_abundance``).

    Returns
    -------
    list of Target
    """
    det = spec.detector
    return [Target(t.isotope, t.nuclei_per_kg * det.mass_kg)
            for t in nuclei.target_nuclei(det.material, min_abundance=det.min_abundance)]


def read_observed(file: Path, fmt: str, window, edges) -> np.ndarray:
    """Observed counts per analysis bin from a data table.

    ``fmt="pe_time_counts"``: rows (observable, time [us], counts), summed over the time window
    [t0, t1) (all rows without a window); ``"observable_counts"``: rows (observable, counts) with
    strictly ascending observable. Rows are histogrammed into ``edges`` ([e_b, e_b+1)); counts must be
    finite and non-negative, a (observable, time) cell may appear once.

    Parameters
    ----------
    file : pathlib.Path
        The data table.
    fmt : {"pe_time_counts", "observable_counts"}
        Its format.
    window : (float, float) or None
        Time window [us] of ``pe_time_counts`` rows.
    edges : numpy.ndarray
        Analysis bin edges (units of the observable).

    Returns
    -------
    numpy.ndarray
        Counts per bin [events], shape (len(edges) - 1,).
    """
    if fmt == "pe_time_counts":
        arr = read_table(file, 3, header="optional", names=("observable", "time [us]", "counts"),
                         nonnegative=(0, 2), unique=(0, 1))
        x, t, c = arr.T
        keep = np.ones_like(x, dtype=bool) if window is None else (t >= window[0]) & (t < window[1])
    else:
        arr = read_table(file, 2, header="optional", names=("observable", "counts"), nonnegative=(0, 1),
                         ascending=0)
        x, c = arr.T
        keep = np.ones_like(x, dtype=bool)
    counts, _ = np.histogram(x[keep], bins=edges, weights=c[keep])
    return counts


def _pe_density_background(file: Path, scale: float, apply_efficiency: bool, edges, response: DetectorResponse):
    """A background given as counts per unit-width observable bin (COHERENT prompt-neutron PDF)."""
    x, v = read_two_columns(file, delimiter=",", x_name="observable")
    w = v * scale
    if apply_efficiency:
        w = w * response.efficiency(x)
    counts, _ = np.histogram(x, bins=edges, weights=w)
    return counts


@dataclass
class Parts:
    """What :func:`build_parts` makes: engine, observed counts, backgrounds, sideband, files read."""

    engine: RateEngine | None
    observed: np.ndarray | None = None
    backgrounds: dict = field(default_factory=dict)
    sideband: np.ndarray | None = None
    files: list = field(default_factory=list)


def build_parts(spec: ExperimentSpec, path: Path, settings, param_defaults) -> Parts:
    """Engine, data and backgrounds of a validated experiment (``path``: its TOML, for relative files).

    Parameters
    ----------
    spec : ExperimentSpec
        The validated experiment.
    path : pathlib.Path
        Its TOML file.
    settings : PhysicsSettings
        Physics settings of the engine.
    param_defaults : dict
        Default physics parameter values of the file's ``[physics]``.

    Returns
    -------
    Parts
    """
    edges = bin_edges(spec.detector.bins)
    fluxes, baseline = build_fluxes(spec, path)
    response = build_response(spec, path, edges)
    with at(path, "detector.material"):
        targets = build_targets(spec)
    parts = Parts(engine=None, files=[(path.parent / f).resolve() for f in spec.data_files()])
    _read_data(spec, path, edges, response, parts)  # before the (slower) engine: file errors come first
    with at(path, "experiment"):
        parts.engine = RateEngine(targets, fluxes, response, settings=settings, baseline_m=baseline,
                                  n_t=spec.n_t, defaults=param_defaults, source_kind=spec.source.kind)
    return parts


def _read_data(spec: ExperimentSpec, path: Path, edges, response, parts: Parts) -> None:
    data = spec.data
    if data is None:
        return
    window = data.time_window_us
    if data.beam_on is not None:
        with at(path, "data.beam_on"):
            parts.observed = read_observed(_file(path, data.beam_on), data.format, window, edges)
        if data.subtract is not None:
            with at(path, "data.subtract"):
                parts.sideband = read_observed(_file(path, data.subtract), data.format, window, edges)
            parts.observed = parts.observed - parts.sideband
    for i, bg in enumerate(data.backgrounds):
        key = f"data.backgrounds[{i}] ({bg.name})"
        if bg.kind == "flat":
            widths = np.diff(edges)
            counts = bg.counts_per_kg_day_per_unit * spec.detector.mass_kg * spec.detector.exposure_days * widths
            if bg.apply_efficiency:
                mids = 0.5 * (edges[1:] + edges[:-1])
                counts = counts * response.efficiency(mids)
            parts.backgrounds[bg.name] = counts
            continue
        with at(path, f"{key}.file"):
            counts = _pe_density_background(_file(path, bg.file), bg.scale, bg.apply_efficiency, edges, response)
        if bg.time_pdf is not None:
            with at(path, f"{key}.time_pdf"):
                counts = counts * _window_fraction(path, bg.time_pdf, window)
        parts.backgrounds[bg.name] = counts
