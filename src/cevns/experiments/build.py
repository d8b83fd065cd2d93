"""Build an :class:`~cevns.experiments.Experiment` from a validated spec (sources, detector, data)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..detectors.efficiency import Efficiency
from ..detectors.quenching import Quenching
from ..detectors.response import DetectorResponse
from ..physics import nuclei
from ..physics.constants import SECONDS_PER_DAY
from ..engine import RateEngine, Target
from ..sources import reactor, spallation, tabulated
from .schema import ExperimentSpec


def bin_edges(spec) -> np.ndarray:
    """Analysis bin edges from a :class:`~cevns.experiments.schema.BinsSpec`."""
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
    return p


def build_fluxes(spec: ExperimentSpec, path: Path):
    src = spec.source
    if src.kind == "spallation":
        fp = fd = 1.0
        if src.timing is not None:
            tw = src.timing.window_us
            fp = spallation.time_window_fraction(*spallation.load_arrival_time_pdf(_file(path, src.timing.prompt_pdf)), tw)
            fd = spallation.time_window_fraction(*spallation.load_arrival_time_pdf(_file(path, src.timing.delayed_pdf)), tw)
        return spallation.spallation_flux(src.pot, src.nu_per_flavor_per_pot, src.distance_m, n_energy=src.n_energy,
                                          prompt_fraction=fp, delayed_fraction=fd), src.distance_m
    exposure_s = spec.detector.exposure_days * SECONDS_PER_DAY
    if src.kind == "reactor":
        kw = {}
        if src.low_energy is not None:
            kw["low_energy"] = src.low_energy
        return reactor.reactor_flux(src.thermal_power_gw, src.distance_m, exposure_s,
                                    fission_fractions=src.fission_fractions, model=src.spectrum_model,
                                    e_max_mev=src.e_max_mev, n_energy=src.n_energy, **kw), src.distance_m
    comps = []
    for c in src.components:
        e, v = tabulated.load_flux_table(_file(path, c.file), columns=c.columns)
        comps.append(tabulated.tabulated_flux(e, v, c.flavor, normalization=c.normalization * exposure_s))
    return comps, src.distance_m


def build_response(spec: ExperimentSpec, path: Path, edges: np.ndarray) -> DetectorResponse:
    det = spec.detector
    q = Quenching(det.quenching.model, det.quenching.params())
    eff_spec = det.efficiency
    params = {}
    if eff_spec.model == "logistic":
        params = {"a": eff_spec.a, "k": eff_spec.k, "x0": eff_spec.x0}
    elif eff_spec.model == "tabulated":
        xs, ys = tabulated.read_two_columns(_file(path, eff_spec.file), x_name="observable")
        params = {"xs": xs, "ys": ys}
    eff = Efficiency(eff_spec.model, params, zero_below=eff_spec.zero_below, steps=eff_spec.steps,
                     evaluate_at=eff_spec.evaluate_at)
    return DetectorResponse(quenching=q, observable=det.observable,
                            light_yield_pe_per_kevee=det.light_yield_pe_per_kevee,
                            smearing=det.smearing.model, smearing_params=det.smearing.params(),
                            efficiency=eff, bin_edges=edges)


def build_targets(spec: ExperimentSpec):
    det = spec.detector
    return [Target(t.isotope, t.nuclei_per_kg * det.mass_kg)
            for t in nuclei.target_nuclei(det.material, min_abundance=det.min_abundance)]


def _read_pe_time(path: Path, window, edges):
    """Sum a (x center, t center, counts) table over the time window into the observed bins."""
    try:
        arr = np.loadtxt(path, delimiter=",", comments=("#", "P"), ndmin=2)
    except ValueError as exc:
        raise ValueError(f"{path.name}: malformed table ({exc})") from None
    if arr.shape[1] != 3:
        raise ValueError(f"{path.name}: expected 3 columns (observable, time, counts), got {arr.shape[1]}")
    x, t, c = arr.T
    keep = np.ones_like(x, dtype=bool) if window is None else (t >= window[0]) & (t < window[1])
    counts, _ = np.histogram(x[keep], bins=edges, weights=c[keep])
    return counts


def _pe_density_background(bg, path: Path, edges, response: DetectorResponse):
    """A background given as counts per unit-width observable bin (COHERENT prompt-neutron PDF)."""
    x, v = tabulated.read_two_columns(_file(path, bg.file), delimiter=",", x_name="observable")
    w = v * bg.scale
    if bg.apply_efficiency:
        w = w * response.efficiency(x)
    if bg.time_pdf is not None:
        raise ValueError("time_pdf of a background must be applied with data.time_window_us")
    counts, _ = np.histogram(x, bins=edges, weights=w)
    return counts


def build(spec: ExperimentSpec, raw: dict, path: Path, settings, param_defaults):
    from . import Experiment

    edges = bin_edges(spec.detector.bins)
    fluxes, baseline = build_fluxes(spec, path)
    response = build_response(spec, path, edges)
    engine = RateEngine(build_targets(spec), fluxes, response, settings=settings, baseline_m=baseline,
                        n_t=spec.n_t, defaults=param_defaults, source_kind=spec.source.kind)
    observed, backgrounds, sideband = None, {}, None
    data = spec.data
    if data is not None:
        window = data.time_window_us
        if data.beam_on is not None:
            observed = _read_pe_time(_file(path, data.beam_on), window, edges)
            if data.subtract is not None:
                sideband = _read_pe_time(_file(path, data.subtract), window, edges)
                observed = observed - sideband
        for bg in data.backgrounds:
            if bg.kind == "flat":
                widths = np.diff(edges)
                counts = bg.counts_per_kg_day_per_unit * spec.detector.mass_kg * spec.detector.exposure_days * widths
                if bg.apply_efficiency:
                    mids = 0.5 * (edges[1:] + edges[:-1])
                    counts = counts * response.efficiency(mids)
                backgrounds[bg.name] = counts
                continue
            counts = _pe_density_background(bg.model_copy(update={"time_pdf": None}), path, edges, response)
            if bg.time_pdf is not None and window is not None:
                counts = counts * spallation.time_window_fraction(
                    *spallation.load_arrival_time_pdf(_file(path, bg.time_pdf)), window)
            backgrounds[bg.name] = counts
    return Experiment(name=spec.name, spec=spec, path=path, engine=engine, observed=observed,
                      backgrounds=backgrounds, sideband=sideband, raw=raw)
