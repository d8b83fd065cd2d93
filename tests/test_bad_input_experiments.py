"""A corpus of user mistakes in experiment files, data files and Python API calls.

Each case must raise a :class:`cevns.errors.CevnsError` (never a bare TypeError/AttributeError/...,
never a NaN result) whose message names the file / key / argument and what was expected.

Experiment-file cases are text edits of a copy of a built-in ``experiment.toml`` (one edit = one
mistake); data-file cases edit a copy of one released data file the experiment points to.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from cevns.errors import CevnsError
from cevns.experiments import experiment_path, load_experiment
from cevns.physics.parameters import PhysicsPoint

_counter = itertools.count()


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """Copies of the built-in experiment folders (data included), keyed by name."""
    root = tmp_path_factory.mktemp("experiments")
    out = {}
    for name in ("coherent-csi-2017", "conus", "coherent-nai", "connie"):
        src = experiment_path(name).parent
        dst = root / src.name
        for p in src.rglob("*"):
            if p.is_file():
                target = dst / p.relative_to(src)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(p.read_bytes())
        out[name] = dst
    return out


def _expect_error(call, words, where=None):
    with pytest.raises(CevnsError) as info:
        call()
    msg = str(info.value)
    assert msg.strip(), "empty error message"
    assert "Traceback" not in msg
    low = msg.lower()
    for w in words:
        assert w.lower() in low, f"{w!r} not in message:\n{msg}"
    if where is not None:
        assert where in msg, f"{where!r} not in message:\n{msg}"
    return msg


def _mutated(folder: Path, old: str | None, new, tag: str) -> Path:
    """A copy of ``folder/experiment.toml`` with ``old`` replaced by ``new`` (``old=None``: appended).

    ``new`` may be a pair (replacement, text appended at the end).
    """
    text = (folder / "experiment.toml").read_text()
    new, extra = new if isinstance(new, tuple) else (new, "")
    text = text + "\n" + extra + "\n" if extra else text
    if old is None:
        text = text + "\n" + new + "\n"
    else:
        assert text.count(old) == 1, f"{old!r} must occur once in {folder.name}"
        text = text.replace(old, new)
    path = folder / f"case_{tag}_{next(_counter)}.toml"
    path.write_text(text)
    return path


# ------------------------------------------------------------------ experiment files
CSI = "coherent-csi-2017"
Q = 'quenching = { model = "constant", qf = 0.0878 }'
SM = 'smearing = { model = "none" }'
EFF = ('efficiency = { model = "logistic", a = 0.6655, k = 0.4942, x0 = 10.8507, zero_below = 5.0, '
       'steps = [[5.0, 6.0, 0.5]], evaluate_at = "unit_bin_center" }')
BINS = "bins = { start = 6.0, stop = 30.0, width = 2.0 }"
WIN = "\nwindow_us = [0.0, 6.0]"
SB = 'single_bin = { sigma_signal = 0.28, sigma_background = 0.25, background = "prompt_neutrons" }'

TOML_CASES = [
    # detector numbers: booleans, strings, inf/nan, out of range, missing, unknown
    ("mass-true", CSI, "mass_kg = 14.57", "mass_kg = true", ["detector.mass_kg", "number", "true"]),
    ("mass-inf", CSI, "mass_kg = 14.57", "mass_kg = inf", ["detector.mass_kg", "finite"]),
    ("mass-nan", CSI, "mass_kg = 14.57", "mass_kg = nan", ["detector.mass_kg", "finite"]),
    ("mass-minus-inf", CSI, "mass_kg = 14.57", "mass_kg = -inf", ["detector.mass_kg", "finite"]),
    ("mass-string", CSI, "mass_kg = 14.57", 'mass_kg = "14.57"', ["detector.mass_kg", "number"]),
    ("mass-zero", CSI, "mass_kg = 14.57", "mass_kg = 0", ["detector.mass_kg", "greater than 0"]),
    ("mass-negative", CSI, "mass_kg = 14.57", "mass_kg = -1.0", ["detector.mass_kg", "greater than 0"]),
    ("mass-missing", CSI, "mass_kg = 14.57\n", "\n", ["detector.mass_kg", "missing"]),
    ("mass-array", CSI, "mass_kg = 14.57", "mass_kg = [14.57]", ["detector.mass_kg", "number"]),
    ("unknown-detector-key", CSI, "mass_kg = 14.57", "mass_kg = 14.57\nmass_g = 3", ["detector.mass_g", "unknown key"]),
    ("exposure-negative", CSI, "exposure_days = 308.1", "exposure_days = -308.1", ["exposure_days", "greater"]),
    ("exposure-true", CSI, "exposure_days = 308.1", "exposure_days = true", ["exposure_days", "number"]),
    ("exposure-inf", CSI, "exposure_days = 308.1", "exposure_days = inf", ["exposure_days", "finite"]),
    ("min-abundance-1.5", CSI, "mass_kg = 14.57", "mass_kg = 14.57\nmin_abundance = 1.5", ["min_abundance"]),
    ("min-abundance-nan", CSI, "mass_kg = 14.57", "mass_kg = 14.57\nmin_abundance = nan", ["min_abundance", "finite"]),
    ("material-unknown", CSI, 'material = "CsI"', 'material = "Xx"', ["detector.material", "Xx"]),
    ("material-lowercase", CSI, 'material = "CsI"', 'material = "csi"', ["detector.material", "csi"]),
    ("material-empty", CSI, 'material = "CsI"', 'material = ""', ["detector.material"]),
    ("material-number", CSI, 'material = "CsI"', "material = 42", ["detector.material", "string"]),
    ("observable-case", CSI, 'observable = "pe"', 'observable = "PE"', ["detector.observable", "'pe'"]),
    ("observable-kevee-with-ly", CSI, 'observable = "pe"', 'observable = "kevee"', ["light_yield_pe_per_kevee",
                                                                                     "only used"]),
    ("light-yield-missing", CSI, "light_yield_pe_per_kevee = 13.348", "", ["needs 'light_yield_pe_per_kevee'"]),
    ("light-yield-zero", CSI, "light_yield_pe_per_kevee = 13.348", "light_yield_pe_per_kevee = 0",
     ["light_yield_pe_per_kevee", "greater than 0"]),
    ("light-yield-inf", CSI, "light_yield_pe_per_kevee = 13.348", "light_yield_pe_per_kevee = inf",
     ["light_yield_pe_per_kevee", "finite"]),
    # quenching
    ("qf-above-1", CSI, Q, 'quenching = { model = "constant", qf = 1.5 }', ["quenching.qf", "less than or equal to 1"]),
    ("qf-zero", CSI, Q, 'quenching = { model = "constant", qf = 0 }', ["quenching.qf", "greater than 0"]),
    ("qf-true", CSI, Q, 'quenching = { model = "constant", qf = true }', ["quenching.qf", "number"]),
    ("qf-nan", CSI, Q, 'quenching = { model = "constant", qf = nan }', ["quenching.qf", "finite"]),
    ("qf-extra-k", CSI, Q, 'quenching = { model = "constant", qf = 0.0878, k = 0.16 }',
     ["quenching", "does not use 'k'"]),
    ("qf-extra-coeffs", CSI, Q, 'quenching = { model = "constant", qf = 0.0878, coeffs = [1.0] }',
     ["quenching", "does not use 'coeffs'"]),
    ("qf-extra-scale", CSI, Q, 'quenching = { model = "constant", qf = 0.0878, t_scale_kevnr = 1000.0 }',
     ["quenching", "does not use 't_scale_kevnr'"]),
    ("qf-missing", CSI, Q, 'quenching = { model = "constant" }', ["quenching", "needs 'qf'"]),
    ("poly-missing-coeffs", CSI, Q, 'quenching = { model = "polynomial", qf = 0.0878 }',
     ["quenching", "needs 'coeffs'"]),
    ("poly-empty-coeffs", CSI, Q, 'quenching = { model = "polynomial", coeffs = [] }', ["quenching.coeffs"]),
    ("poly-nan-coeff", CSI, Q, 'quenching = { model = "polynomial", coeffs = [0.1, nan] }',
     ["quenching.coeffs[1]", "finite"]),
    ("poly-string-coeff", CSI, Q, 'quenching = { model = "polynomial", coeffs = ["a"] }',
     ["quenching.coeffs[0]", "number"]),
    ("poly-scale-zero", CSI, Q, 'quenching = { model = "polynomial", coeffs = [0.1], t_scale_kevnr = 0 }',
     ["t_scale_kevnr", "greater than 0"]),
    ("poly-qf-above-1", CSI, Q, 'quenching = { model = "polynomial", coeffs = [2.0] }', ["quenching", "outside"]),
    ("lindhard-extra-qf", CSI, Q, 'quenching = { model = "lindhard", qf = 0.0878 }',
     ["quenching", "does not use 'qf'"]),
    ("lindhard-negative-k", CSI, Q, 'quenching = { model = "lindhard", k = -0.1 }', ["quenching.k", "greater than 0"]),
    ("quenching-unknown-model", CSI, Q, 'quenching = { model = "birks", qf = 0.08 }', ["quenching.model",
                                                                                         "constant"]),
    ("quenching-not-table", CSI, Q, "quenching = 0.0878", ["detector.quenching", "table"]),
    ("quenching-no-model", CSI, Q, "quenching = { qf = 0.0878 }", ["quenching.model", "missing"]),
    ("quenching-typo-key", CSI, Q, 'quenching = { model = "constant", QF = 0.0878 }', ["quenching.QF", "unknown key"]),
    # smearing
    ("smear-none-width", CSI, SM, 'smearing = { model = "none", sigma0 = 0.1 }', ["smearing", "does not use 'sigma0'"]),
    ("smear-gauss-no-width", CSI, SM, 'smearing = { model = "gaussian" }', ["smearing", "needs its width"]),
    ("smear-gamma-no-fano", CSI, SM, 'smearing = { model = "gamma" }', ["smearing", "'fano'"]),
    ("smear-gamma-fano-zero", CSI, SM, 'smearing = { model = "gamma", fano = 0 }', ["smearing.fano", "greater"]),
    ("smear-gauss-negative", CSI, SM, 'smearing = { model = "gaussian", sigma0 = -1 }', ["smearing.sigma0",
                                                                                          "greater"]),
    ("smear-gauss-inf", CSI, SM, 'smearing = { model = "gaussian", sigma0 = inf }', ["smearing.sigma0", "finite"]),
    ("smear-gauss-bool", CSI, SM, 'smearing = { model = "gaussian", linear = true }', ["smearing.linear", "number"]),
    ("smear-poisson-fano", CSI, SM, 'smearing = { model = "poisson", fano = 1.0 }', ["smearing",
                                                                                       "does not use 'fano'"]),
    ("smear-gauss-fano", CSI, SM, 'smearing = { model = "gaussian", sigma0 = 0.1, fano = 1.0 }',
     ["smearing", "does not use 'fano'"]),
    ("smear-unknown-model", CSI, SM, 'smearing = { model = "gauss" }', ["smearing.model", "gaussian"]),
    ("smear-unknown-key", CSI, SM, 'smearing = { model = "gaussian", width = 1.0 }', ["smearing.width",
                                                                                        "unknown key"]),
    # efficiency
    ("eff-missing-a", CSI, EFF, EFF.replace("a = 0.6655, ", ""), ["efficiency", "needs 'a'"]),
    ("eff-a-nan", CSI, EFF, EFF.replace("a = 0.6655", "a = nan"), ["efficiency.a", "finite"]),
    ("eff-k-true", CSI, EFF, EFF.replace("k = 0.4942", "k = true"), ["efficiency.k", "number"]),
    ("eff-x0-string", CSI, EFF, EFF.replace("x0 = 10.8507", 'x0 = "10.85"'), ["efficiency.x0", "number"]),
    ("eff-d-inf", CSI, EFF, EFF.replace("x0 = 10.8507", "x0 = 10.8507, d = -inf"), ["efficiency.d", "finite"]),
    ("eff-logistic-file", CSI, EFF, EFF.replace("x0 = 10.8507", 'x0 = 10.8507, file = "e.txt"'),
     ["efficiency", "does not use 'file'"]),
    ("eff-weight-above-1", CSI, EFF, EFF.replace("[[5.0, 6.0, 0.5]]", "[[5.0, 6.0, 1.5]]"),
     ["efficiency.steps[0][2]", "less than or equal to 1"]),
    ("eff-step-reversed", CSI, EFF, EFF.replace("[[5.0, 6.0, 0.5]]", "[[6.0, 5.0, 0.5]]"), ["x_low < x_high"]),
    ("eff-step-two-values", CSI, EFF, EFF.replace("[[5.0, 6.0, 0.5]]", "[[5.0, 6.0]]"), ["efficiency.steps[0]"]),
    ("eff-evaluate-at", CSI, EFF, EFF.replace('"unit_bin_center"', '"center"'), ["efficiency.evaluate_at",
                                                                                   "unit_bin_center"]),
    ("eff-unity-with-params", CSI, EFF, EFF.replace('"logistic"', '"unity"'), ["efficiency", "does not use"]),
    ("eff-tabulated-no-file", CSI, EFF, 'efficiency = { model = "tabulated" }', ["efficiency", "needs 'file'"]),
    ("eff-step-nothing", CSI, EFF, 'efficiency = { model = "step" }', ["efficiency", "zero_below"]),
    ("eff-step-extra-a", CSI, EFF, 'efficiency = { model = "step", zero_below = 5.0, a = 0.5 }',
     ["efficiency", "does not use 'a'"]),
    ("eff-zero-below-inf", CSI, EFF, 'efficiency = { model = "step", zero_below = inf }',
     ["efficiency.zero_below", "finite"]),
    ("eff-unknown-model", CSI, EFF, 'efficiency = { model = "sigmoid" }', ["efficiency.model", "logistic"]),
    ("eff-tabulated-missing-file", CSI, EFF, 'efficiency = { model = "tabulated", file = "data/nope.txt" }',
     ["detector.efficiency.file", "not found", "nope.txt"]),
    # bins
    ("bins-both-forms", CSI, BINS, "bins = { start = 6.0, stop = 30.0, width = 2.0, edges = [6.0, 30.0] }",
     ["detector.bins", "not both"]),
    ("bins-missing-width", CSI, BINS, "bins = { start = 6.0, stop = 30.0 }", ["detector.bins", "missing 'width'"]),
    ("bins-one-edge", CSI, BINS, "bins = { edges = [6.0] }", ["detector.bins", "at least two"]),
    ("bins-repeated-edge", CSI, BINS, "bins = { edges = [6.0, 6.0, 8.0] }", ["detector.bins", "strictly ascending"]),
    ("bins-descending", CSI, BINS, "bins = { edges = [30.0, 6.0] }", ["detector.bins", "strictly ascending"]),
    ("bins-nan-edge", CSI, BINS, "bins = { edges = [6.0, nan] }", ["detector.bins.edges[1]", "finite"]),
    ("bins-string-edge", CSI, BINS, 'bins = { edges = [6.0, "30"] }', ["detector.bins.edges[1]", "number"]),
    ("bins-width-zero", CSI, BINS, "bins = { start = 6.0, stop = 30.0, width = 0.0 }", ["bins.width", "greater"]),
    ("bins-width-not-dividing", CSI, BINS, "bins = { start = 6.0, stop = 30.0, width = 5.0 }",
     ["detector.bins", "whole number of widths"]),
    ("bins-stop-below-start", CSI, BINS, "bins = { start = 30.0, stop = 6.0, width = 2.0 }",
     ["detector.bins", "larger than 'start'"]),
    ("bins-unknown-n", CSI, BINS, "bins = { start = 6.0, stop = 30.0, width = 2.0, n = 12 }",
     ["detector.bins.n", "unknown key"]),
    ("bins-missing", CSI, BINS + "\n", "\n", ["detector.bins", "missing"]),
    ("sub-bin-width-unused", CSI, "mass_kg = 14.57", "mass_kg = 14.57\nsub_bin_width = 0.5",
     ["sub_bin_width", "only used with smearing"]),
    ("sub-bin-width-zero", "conus", "mass_kg = 3.73", "mass_kg = 3.73\nsub_bin_width = 0", ["sub_bin_width",
                                                                                           "greater than 0"]),
    ("bins-too-many", CSI, BINS, "bins = { start = 0.0, stop = 1.0, width = 1e-9 }", ["too many"]),
    # source
    ("pot-nan", CSI, "pot = 1.76e23", "pot = nan", ["source.pot", "finite"]),
    ("pot-true", CSI, "pot = 1.76e23", "pot = true", ["source.pot", "number"]),
    ("pot-negative", CSI, "pot = 1.76e23", "pot = -1.76e23", ["source.pot", "greater than 0"]),
    ("r-inf", CSI, "nu_per_flavor_per_pot = 0.08", "nu_per_flavor_per_pot = inf", ["nu_per_flavor_per_pot", "finite"]),
    ("distance-negative", CSI, "distance_m = 19.3", "distance_m = -19.3", ["source.distance_m", "greater than 0"]),
    ("distance-zero", CSI, "distance_m = 19.3", "distance_m = 0.0", ["source.distance_m", "greater than 0"]),
    ("window-reversed", CSI, WIN, "\nwindow_us = [6.0, 0.0]", ["source.timing.window_us", "start < stop"]),
    ("window-nan", CSI, WIN, "\nwindow_us = [0.0, nan]", ["source.timing.window_us[1]", "finite"]),
    ("window-one-value", CSI, WIN, "\nwindow_us = [0.0]", ["source.timing.window_us"]),
    ("window-three-values", CSI, WIN, "\nwindow_us = [0.0, 6.0, 9.0]", ["source.timing.window_us"]),
    ("window-string", CSI, WIN, '\nwindow_us = "0-6"', ["source.timing.window_us"]),
    ("prompt-pdf-missing", CSI, '"data/arrivalTimePDF_promptNeutrinos.txt"', '"data/nope.txt"',
     ["source.timing.prompt_pdf", "not found", "nope.txt"]),
    ("prompt-pdf-number", CSI, 'prompt_pdf = "data/arrivalTimePDF_promptNeutrinos.txt"', "prompt_pdf = 3",
     ["source.timing.prompt_pdf", "string"]),
    ("prompt-pdf-folder", CSI, '"data/arrivalTimePDF_promptNeutrinos.txt"', '"data"',
     ["source.timing.prompt_pdf", "not a file"]),
    ("timing-unknown-key", CSI, WIN, WIN + "\nwindow_ns = [0, 6000]", ["source.timing.window_ns", "unknown key"]),
    ("source-kind-typo", CSI, 'kind = "spallation"', 'kind = "spalation"', ["source", "spallation"]),
    ("source-kind-missing", CSI, 'kind = "spallation"\n', "\n", ["source", "kind"]),
    ("source-n-energy-small", CSI, "distance_m = 19.3", "distance_m = 19.3\nn_energy = 10",
     ["source.n_energy", "greater than or equal to 11"]),
    ("source-n-energy-float", CSI, "distance_m = 19.3", "distance_m = 19.3\nn_energy = 1001.5",
     ["source.n_energy", "whole number"]),
    ("source-n-energy-true", CSI, "distance_m = 19.3", "distance_m = 19.3\nn_energy = true",
     ["source.n_energy", "whole number"]),
    ("source-n-energy-huge", CSI, "distance_m = 19.3", "distance_m = 19.3\nn_energy = 100000000",
     ["source.n_energy", "less than or equal"]),
    ("kernel-too-large", CSI, "distance_m = 19.3", "distance_m = 19.3\nn_energy = 100001",
     ["n_energy x n_t", "too large", "GB"]),
    ("source-reactor-key", CSI, "distance_m = 19.3", "distance_m = 19.3\nthermal_power_gw = 3.9",
     ["source.thermal_power_gw", "unknown key"]),
    # physics
    ("sin2-true", CSI, "sin2_theta_w = 0.2312", "sin2_theta_w = true", ["physics", "sin2_theta_w", "number"]),
    ("sin2-nan", CSI, "sin2_theta_w = 0.2312", "sin2_theta_w = nan", ["physics", "sin2_theta_w", "finite"]),
    ("sin2-inf", CSI, "sin2_theta_w = 0.2312", "sin2_theta_w = inf", ["physics", "sin2_theta_w", "finite"]),
    ("sin2-out-of-domain", CSI, "sin2_theta_w = 0.2312", "sin2_theta_w = 1.5", ["physics", "sin2_theta_w", "domain"]),
    ("sin2-string", CSI, "sin2_theta_w = 0.2312", 'sin2_theta_w = "0.23"', ["physics", "sin2_theta_w", "number"]),
    ("sin2-array", CSI, "sin2_theta_w = 0.2312", "sin2_theta_w = [0.23, 0.24]", ["physics", "sin2_theta_w",
                                                                                  "number"]),
    ("coupling-scheme-typo", CSI, 'coupling_scheme = "tree"', 'coupling_scheme = "loop"', ["coupling_scheme",
                                                                                          "radiative"]),
    ("coupling-scheme-number", CSI, 'coupling_scheme = "tree"', "coupling_scheme = 1", ["coupling_scheme"]),
    ("kinematics-bool", CSI, 'kinematics = "seed"', "kinematics = true", ["kinematics"]),
    ("form-factor-typo", CSI, 'form_factor = "helm"', 'form_factor = "helmm"', ["form_factor", "klein_nystrand"]),
    ("shape-negative", CSI, "form_factor_shape_fm = 0.5", "form_factor_shape_fm = -0.5", ["form_factor_shape_fm",
                                                                                          "greater"]),
    ("shape-inf", CSI, "form_factor_shape_fm = 0.5", "form_factor_shape_fm = inf", ["form_factor_shape_fm",
                                                                                    "finite"]),
    ("shape-true", CSI, "form_factor_shape_fm = 0.5", "form_factor_shape_fm = true", ["form_factor_shape_fm",
                                                                                      "number"]),
    ("proton-radius-typo", CSI, 'proton_radius = "empirical"', 'proton_radius = "emp"', ["proton_radius",
                                                                                         "charge"]),
    ("exact-q-number", CSI, 'proton_radius = "empirical"', 'proton_radius = "empirical"\nexact_momentum_transfer = 1',
     ["exact_momentum_transfer", "true or false"]),
    ("spread-inf", CSI, 'proton_radius = "empirical"', 'proton_radius = "empirical"\nbaseline_spread_m = inf',
     ["baseline_spread_m", "finite"]),
    ("spread-negative", CSI, 'proton_radius = "empirical"', 'proton_radius = "empirical"\nbaseline_spread_m = -1.0',
     ["baseline_spread_m", "greater"]),
    ("unknown-parameter", CSI, 'proton_radius = "empirical"', 'proton_radius = "empirical"\nsin2_theta = 0.23',
     ["physics", "unknown parameter 'sin2_theta'", "sin2_theta_w"]),
    ("unknown-isotope-radius", CSI, 'proton_radius = "empirical"', 'proton_radius = "empirical"\nrn_Xx999 = 5.0',
     ["physics", "rn_Xx999"]),
    ("rn-negative", CSI, 'proton_radius = "empirical"', 'proton_radius = "empirical"\nrn = -1.0',
     ["physics", "'rn'", "domain"]),
    ("mixing-above-1", CSI, 'proton_radius = "empirical"', 'proton_radius = "empirical"\nu_e4_sq = 2.0',
     ["physics", "u_e4_sq", "domain"]),
    ("physics-array-of-tables", CSI, "[physics]", "[[physics]]", ["physics", "expected a table"]),
    # data and backgrounds
    ("data-format-typo", CSI, 'format = "pe_time_counts"', 'format = "csv"', ["data.format", "pe_time_counts"]),
    ("beam-on-missing-file", CSI, '"data/data_coincidence_beamOn.txt"', '"data/nope.txt"',
     ["data.beam_on", "not found", "nope.txt"]),
    ("beam-on-folder", CSI, '"data/data_coincidence_beamOn.txt"', '"data"', ["data.beam_on", "not a file"]),
    ("subtract-without-beam-on", CSI, 'beam_on = "data/data_coincidence_beamOn.txt"\n', "\n",
     ["data", "'subtract' needs 'beam_on'"]),
    ("data-window-reversed", CSI, "time_window_us = [0.0, 6.0]", "time_window_us = [6.0, 0.0]",
     ["data", "start < stop"]),
    ("data-window-missing", CSI, "time_window_us = [0.0, 6.0]\n", "\n", ["time_pdf", "time_window_us"]),
    ("bg-kind-typo", CSI, 'kind = "pe_density"', 'kind = "density"', ["data.backgrounds[0].kind", "pe_density"]),
    ("bg-file-missing-key", CSI, 'file = "data/promptPDF.txt"', "", ["prompt_neutrons", "needs 'file'"]),
    ("bg-file-not-found", CSI, '"data/promptPDF.txt"', '"data/nope.txt"', ["data.backgrounds[0]", "not found"]),
    ("bg-scale-negative", CSI, "scale = 7.47594", "scale = -7.47594", ["data.backgrounds[0].scale", "greater"]),
    ("bg-scale-nan", CSI, "scale = 7.47594", "scale = nan", ["data.backgrounds[0].scale", "finite"]),
    ("bg-scale-string", CSI, "scale = 7.47594", 'scale = "7.5"', ["data.backgrounds[0].scale", "number"]),
    ("bg-apply-eff-string", CSI, "apply_efficiency = true", 'apply_efficiency = "yes"',
     ["apply_efficiency", "true or false"]),
    ("bg-apply-eff-number", CSI, "apply_efficiency = true", "apply_efficiency = 1",
     ["apply_efficiency", "true or false"]),
    ("bg-extra-flat-rate", CSI, "apply_efficiency = true", "apply_efficiency = true\ncounts_per_kg_day_per_unit = 1.0",
     ["prompt_neutrons", "does not use 'counts_per_kg_day_per_unit'"]),
    ("bg-named-signal", CSI, 'name = "prompt_neutrons"', 'name = "signal"', ["cannot be called 'signal'"]),
    ("bg-flat-no-rate", CSI, 'kind = "pe_density"', 'kind = "flat"', ["prompt_neutrons", "counts_per_kg_day_per_unit"]),
    ("bg-time-pdf-missing", CSI, '"data/arrivalTimePDF_promptNeutrons.txt"', '"data/nope.txt"',
     ["time_pdf", "not found"]),
    ("bg-unknown-key", CSI, "scale = 7.47594", "scale = 7.47594\nweight = 2", ["data.backgrounds[0].weight",
                                                                               "unknown key"]),
    ("bg-twice", CSI, None, '[[data.backgrounds]]\nname = "prompt_neutrons"\nkind = "pe_density"\n'
     'file = "data/promptPDF.txt"\ntime_pdf = "data/arrivalTimePDF_promptNeutrons.txt"',
     ["'prompt_neutrons'", "twice"]),
    # systematics and statistics
    ("syst-sigma-negative", CSI, "sigma = 0.28", "sigma = -0.28", ["systematics[0].sigma", "greater"]),
    ("syst-sigma-nan", CSI, "sigma = 0.28", "sigma = nan", ["systematics[0].sigma", "finite"]),
    ("syst-unknown-target", CSI, 'applies_to = ["prompt_neutrons"]', 'applies_to = ["neutrons"]',
     ["'neutrons'", "neither 'signal' nor a background"]),
    ("syst-empty-target", CSI, 'applies_to = ["prompt_neutrons"]', "applies_to = []", ["systematics[1].applies_to"]),
    ("syst-twice", CSI, 'name = "prompt_neutron_norm"', 'name = "signal_norm"', ["'signal_norm'", "twice"]),
    ("single-bin-unknown-bg", CSI, SB, SB.replace('"prompt_neutrons"', '"neutrons"'),
     ["single_bin.background", "not a background"]),
    ("single-bin-negative", CSI, SB, SB.replace("sigma_signal = 0.28", "sigma_signal = -1"),
     ["single_bin.sigma_signal", "greater"]),
    ("single-bin-missing-key", CSI, SB, SB.replace("sigma_signal = 0.28, ", ""), ["sigma_signal", "missing"]),
    ("spectral-typo", CSI, 'spectral = "gaussian"', 'spectral = "chi2"', ["statistics.spectral", "poisson"]),
    ("statistics-unknown-key", CSI, 'spectral = "gaussian"', 'spectral = "gaussian"\ncl = 0.9',
     ["statistics.cl", "unknown key"]),
    # top level
    ("n-t-small", CSI, "schema_version = 1", "schema_version = 1\nn_t = 5", ["n_t", "greater than or equal to 20"]),
    ("n-t-float", CSI, "schema_version = 1", "schema_version = 1\nn_t = 400.5", ["n_t", "whole number"]),
    ("n-t-huge", CSI, "schema_version = 1", "schema_version = 1\nn_t = 10000000", ["n_t", "less than or equal"]),
    ("schema-version-2", CSI, "schema_version = 1", "schema_version = 2", ["schema_version"]),
    ("name-pattern", CSI, 'name = "coherent-csi-2017"', 'name = "COHERENT CsI"', ["name", "pattern"]),
    ("title-number", CSI, "title = ", "title = 3\ndescr = ", ["title", "string"]),
    ("references-string", CSI, 'references = [\n  "COHERENT, Science', 'references = "x"\nrefs = [\n  "COHERENT, Science',
     ["references"]),
    ("top-unknown-key", CSI, "schema_version = 1", "schema_version = 1\nauthor = 'me'", ["author", "unknown key"]),
    ("toml-malformed", CSI, "mass_kg = 14.57", "mass_kg = ", ["malformed toml"]),
    ("toml-duplicate-key", CSI, "mass_kg = 14.57", "mass_kg = 14.57\nmass_kg = 15", ["malformed toml"]),
    ("toml-detector-typo", CSI, "[detector]", "[detectr]", ["detectr", "unknown key"]),
    # reactor experiments
    ("power-zero", "conus", "thermal_power_gw = 3.9", "thermal_power_gw = 0", ["thermal_power_gw", "greater"]),
    ("power-nan", "conus", "thermal_power_gw = 3.9", "thermal_power_gw = nan", ["thermal_power_gw", "finite"]),
    ("fractions-sum", "conus", "U235 = 0.58", "U235 = 0.68", ["fission_fractions", "sum to 1"]),
    ("fractions-unknown-isotope", "conus", "Pu241 = 0.05 }", "Pu241 = 0.05, Th232 = 0.0 }",
     ["fission_fractions", "Th232"]),
    ("fractions-negative", "conus", "U235 = 0.58", "U235 = -0.1", ["fission_fractions", "U235"]),
    ("fractions-bool", "conus", "U235 = 0.58", "U235 = true", ["fission_fractions", "U235", "number"]),
    ("spectrum-model-typo", "conus", 'spectrum_model = "huber-mueller"', 'spectrum_model = "huber"',
     ["spectrum_model", "huber-mueller"]),
    ("low-energy-typo", "conus", 'low_energy = "bestiole"', 'low_energy = "besti"', ["low_energy", "kopeikin"]),
    ("high-energy-typo", "conus", 'low_energy = "bestiole"', 'low_energy = "bestiole"\nhigh_energy = "x"',
     ["high_energy", "polynomial"]),
    ("e-min-above-max", "conus", 'low_energy = "bestiole"', 'low_energy = "bestiole"\ne_min_mev = 11.0',
     ["e_min_mev", "below e_max_mev"]),
    ("e-max-negative", "conus", "e_max_mev = 10.0", "e_max_mev = -1", ["e_max_mev", "greater"]),
    ("reactor-n-energy-small", "conus", "n_energy = 801", "n_energy = 2", ["n_energy", "greater"]),
    ("reactor-no-exposure", "conus", "exposure_days = 365.25", "", ["needs detector.exposure_days"]),
    ("lindhard-qf-extra", "conus", 'quenching = { model = "lindhard", k = 0.162 }',
     'quenching = { model = "lindhard", k = 0.162, qf = 0.2 }', ["quenching", "does not use 'qf'"]),
    ("gauss-fano-extra", "conus", "linear = 0.000326 }", "linear = 0.000326, fano = 0.1 }",
     ["smearing", "does not use 'fano'"]),
    ("step-a-extra", "conus", 'efficiency = { model = "step", zero_below = 0.21 }',
     'efficiency = { model = "step", zero_below = 0.21, a = 0.5 }', ["efficiency", "does not use 'a'"]),
    ("kevnr-with-quenching", "conus", 'observable = "kevee"', 'observable = "kevnr"', ["kevnr", "quenching"]),
    ("empty-data", "conus", None, "[data]", ["data", "beam_on", "backgrounds"]),
    ("flat-bg-no-rate", "conus", None, '[[data.backgrounds]]\nname = "flat"\nkind = "flat"',
     ["'flat'", "counts_per_kg_day_per_unit"]),
    ("flat-bg-with-file", "conus", None, '[[data.backgrounds]]\nname = "flat"\nkind = "flat"\n'
     'counts_per_kg_day_per_unit = 1.0\nfile = "x.txt"', ["'flat'", "does not use 'file'"]),
    ("unused-window", "conus", None, "[data]\ntime_window_us = [0.0, 6.0]\n[[data.backgrounds]]\nname = 'f'\n"
     "kind = 'flat'\ncounts_per_kg_day_per_unit = 1.0", ["time_window_us", "not used"]),
    ("nai-light-yield", "coherent-nai", 'observable = "kevnr"', 'observable = "kevnr"\nlight_yield_pe_per_kevee = 10.0',
     ["light_yield_pe_per_kevee", "only used"]),
    ("nai-step-empty", "coherent-nai", 'efficiency = { model = "step", zero_below = 13.0 }',
     'efficiency = { model = "step" }', ["efficiency", "zero_below"]),
    ("nai-flat-bg-no-exposure", "coherent-nai", "exposure_days = 365.25 ",
     ("# exposure_days removed ", "[data]\n[[data.backgrounds]]\nname = 'f'\nkind = 'flat'\n"
                                  "counts_per_kg_day_per_unit = 1.0"), ["flat background", "exposure_days"]),
    ("connie-bins-both", "connie", "bins = { edges = [0.05,", "bins = { start = 0.05, edges = [0.05,",
     ["detector.bins", "not both"]),
]


@pytest.mark.parametrize("tag, name, old, new, words", TOML_CASES, ids=[c[0] for c in TOML_CASES])
def test_bad_experiment_file(folders, tag, name, old, new, words):
    path = _mutated(folders[name], old, new, tag)
    _expect_error(lambda: load_experiment(path), words, where=path.name)


def test_empty_and_binary_experiment_files(tmp_path):
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    _expect_error(lambda: load_experiment(empty), ["missing"], where="empty.toml")
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00\x01")
    _expect_error(lambda: load_experiment(binary), ["binary.toml"])


# ------------------------------------------------------------------ data files
BEAM_ON = "data/data_coincidence_beamOn.txt"
ANTI_ON = "data/data_anticoincidence_beamOn.txt"
PROMPT_PDF = "data/promptPDF.txt"
T_PROMPT = "data/arrivalTimePDF_promptNeutrinos.txt"
T_DELAYED = "data/arrivalTimePDF_delayedNeutrinos.txt"
T_NEUTRONS = "data/arrivalTimePDF_promptNeutrons.txt"


def _first(text, old, new):
    assert old in text
    return text.replace(old, new, 1)


def _swap_lines(i, j):
    def f(text):
        lines = text.splitlines()
        lines[i], lines[j] = lines[j], lines[i]
        return "\n".join(lines) + "\n"
    return f


DATA_CASES = [
    # (tag, data file, edit of its text, words; "line N" names the first bad line)
    ("obs-nan", BEAM_ON, lambda t: t + "50.0, 0.25, nan\n", ["line 601", "nan"]),
    ("obs-inf", BEAM_ON, lambda t: t + "50.0, 0.25, inf\n", ["line 601", "infinite"]),
    ("obs-negative-count", BEAM_ON, lambda t: _first(t, "1.0, 0.25, 2", "1.0, 0.25, -2"),
     ["line 1", "negative counts"]),
    ("obs-negative-pe", BEAM_ON, lambda t: _first(t, "1.0, 0.25, 2", "-1.0, 0.25, 2"), ["line 1", "negative"]),
    ("obs-ragged-short", BEAM_ON, lambda t: _first(t, "1.0, 0.25, 2", "1.0, 0.25"), ["line 1", "3"]),
    ("obs-ragged-long", BEAM_ON, lambda t: _first(t, "1.0, 0.75, 0", "1.0, 0.75, 0, 7"), ["line 2", "ragged"]),
    ("obs-text-cell", BEAM_ON, lambda t: _first(t, "1.0, 0.25, 2", "1.0, 0.25, two"), ["line 1", "'two'"]),
    ("obs-empty-cell", BEAM_ON, lambda t: _first(t, "1.0, 0.75, 0", "1.0, , 0"), ["line 2", "empty cell"]),
    ("obs-empty-file", BEAM_ON, lambda t: "", ["empty file"]),
    ("obs-only-comments", BEAM_ON, lambda t: "# nothing here\n\n", ["no data"]),
    ("obs-only-header", BEAM_ON, lambda t: "PE, time, counts\n", ["no data"]),
    ("obs-duplicate-cell", BEAM_ON, lambda t: t + "1.0, 0.25, 5\n", ["line 601", "duplicate", "line 1"]),
    ("obs-semicolons", BEAM_ON, lambda t: t.replace(", ", "; "), ["line 1"]),
    ("obs-header-later", BEAM_ON, lambda t: t + "PE, time, counts\n", ["line 601", "'PE'"]),
    ("sideband-nan", ANTI_ON, lambda t: _first(t, "1.0, 0.25, 0", "1.0, 0.25, nan"), ["line 1", "nan"]),
    ("sideband-negative", ANTI_ON, lambda t: _first(t, "1.0, 0.25, 0", "1.0, 0.25, -3"), ["line 1", "negative"]),
    ("bg-pdf-negative", PROMPT_PDF, lambda t: _first(t, "0.5, 0.5526297688", "0.5, -0.5526297688"),
     ["line 8", "negative"]),
    ("bg-pdf-unsorted", PROMPT_PDF, _swap_lines(7, 8), ["line 9", "ascending"]),
    ("bg-pdf-duplicate", PROMPT_PDF, lambda t: _first(t, "1.5, 0.3600910306", "0.5, 0.3600910306"),
     ["line 9", "duplicate"]),
    ("bg-pdf-nan", PROMPT_PDF, lambda t: _first(t, "1.5, 0.3600910306", "1.5, nan"), ["line 9", "nan"]),
    ("bg-pdf-ragged", PROMPT_PDF, lambda t: _first(t, "1.5, 0.3600910306", "1.5, 0.36, 1"), ["line 9", "ragged"]),
    ("bg-pdf-empty", PROMPT_PDF, lambda t: "\n\n", ["empty file"]),
    ("tpdf-nan", T_PROMPT, lambda t: _first(t, "0.25, 0.06481422848959263", "0.25, nan"), ["line 1", "nan"]),
    ("tpdf-text", T_PROMPT, lambda t: _first(t, "0.75, 0.9094831995369566", "0.75, abc"), ["line 2", "'abc'"]),
    ("tpdf-empty", T_PROMPT, lambda t: "", ["empty file"]),
    ("tpdf-uneven", T_PROMPT, lambda t: _first(t, "0.75, 0.9094831995369566", "0.8, 0.9094831995369566"),
     ["uniformly spaced"]),
    ("tpdf-all-zero", T_PROMPT, lambda t: "0.25, 0\n0.75, 0\n1.25, 0\n", ["positive sum"]),
    ("tpdf-negative", T_DELAYED, lambda t: _first(t, "0.25, 0.001397101754952444", "0.25, -0.001"),
     ["line 1", "negative"]),
    ("tpdf-unsorted", T_DELAYED, _swap_lines(0, 1), ["line 2", "ascending"]),
    ("tpdf-neutrons-inf", T_NEUTRONS, lambda t: _first(t, "0.25, 0.09334575280646766", "0.25, inf"),
     ["line 1", "infinite"]),
    ("tpdf-binary", T_NEUTRONS, lambda t: None, ["binary"]),
    ("tpdf-latin1", T_NEUTRONS, lambda t: b"0.25, 0.5\n\xe9\n", ["utf-8"]),
]


@pytest.mark.parametrize("tag, rel, edit, words", DATA_CASES, ids=[c[0] for c in DATA_CASES])
def test_bad_data_file(folders, tag, rel, edit, words):
    folder = folders[CSI]
    original = (folder / rel).read_text()
    new = edit(original)
    bad = folder / "data" / f"bad_{tag}.txt"
    if new is None:
        bad.write_bytes(b"0.25, 0.5\n\x00\x01\x02")
    elif isinstance(new, bytes):
        bad.write_bytes(new)
    else:
        bad.write_text(new)
    path = _mutated(folder, f'"{rel}"', f'"data/{bad.name}"', tag)
    msg = _expect_error(lambda: load_experiment(path), words, where=bad.name)
    assert path.name in msg  # the experiment file too


TABLE_EXPERIMENT = """
name = "toy"
title = "toy tabulated source"
[source]
kind = "tabulated"
components = [{{ flavor = "nu_e", file = "flux.txt"{extra} }}]
[detector]
material = "Ar"
mass_kg = 1.0
exposure_days = 1.0
observable = "kevnr"
efficiency = {efficiency}
bins = {{ edges = [1.0, 50.0] }}
"""
FLUX = "# E [MeV], dPhi/dE\n1.0, 1e10\n10.0, 2e10\n50.0, 0.0\n"
EFF_TABLE = "1.0 0.0\n5.0 0.5\n10.0 1.0\n"

TABLE_CASES = [
    # (tag, flux text, extra component keys, efficiency text, words)
    ("flux-nan", FLUX.replace("2e10", "nan"), "", None, ["flux.txt", "line 3", "nan"]),
    ("flux-descending", "10.0 1.0\n1.0 2.0\n", "", None, ["flux.txt", "line 2", "ascending"]),
    ("flux-negative", FLUX.replace("2e10", "-2e10"), "", None, ["flux.txt", "line 3", "negative"]),
    ("flux-one-row", "1.0 1e10\n", "", None, ["source.components[0]", "at least two"]),
    ("flux-line-two-rows", FLUX, ', kind = "line"', None, ["source.components[0]", "exactly one"]),
    ("flux-bad-flavor", FLUX, "", None, ["flavor"]),
    ("flux-same-columns", FLUX, ", columns = [0, 0]", None, ["columns", "different"]),
    ("flux-missing-column", FLUX, ", columns = [0, 2]", None, ["flux.txt", "at least 3 columns"]),
    ("flux-normalization-zero", FLUX, ", normalization = 0", None, ["normalization", "greater"]),
    ("flux-n-energy-line", "30.0 1.0\n", ', kind = "line", n_energy = 10', None, ["n_energy", "line"]),
    ("flux-kind-typo", FLUX, ', kind = "box"', None, ["kind", "density"]),
    ("eff-table-above-1", FLUX, "", EFF_TABLE.replace("10.0 1.0", "10.0 1.5"), ["eff.txt", "line 3", "above the maximum 1"]),
    ("eff-table-negative", FLUX, "", EFF_TABLE.replace("5.0 0.5", "5.0 -0.5"), ["eff.txt", "line 2", "negative"]),
    ("eff-table-ragged", FLUX, "", EFF_TABLE.replace("5.0 0.5", "5.0"), ["eff.txt", "line 2"]),
    ("eff-table-empty", FLUX, "", "", ["eff.txt", "empty"]),
]


@pytest.mark.parametrize("tag, flux, extra, eff, words", TABLE_CASES, ids=[c[0] for c in TABLE_CASES])
def test_bad_tabulated_tables(tmp_path, tag, flux, extra, eff, words):
    (tmp_path / "flux.txt").write_text(flux)
    efficiency = '{ model = "step", zero_below = 1.0 }'
    if eff is not None:
        (tmp_path / "eff.txt").write_text(eff)
        efficiency = '{ model = "tabulated", file = "eff.txt" }'
    text = TABLE_EXPERIMENT.format(extra=extra, efficiency=efficiency)
    if tag == "flux-bad-flavor":
        text = text.replace('flavor = "nu_e"', 'flavor = "nu_x"')
    path = tmp_path / "exp.toml"
    path.write_text(text)
    _expect_error(lambda: load_experiment(path), words, where="exp.toml")


def test_the_toy_tabulated_experiment_itself_is_valid(tmp_path):
    (tmp_path / "flux.txt").write_text(FLUX)
    (tmp_path / "eff.txt").write_text(EFF_TABLE)
    path = tmp_path / "exp.toml"
    path.write_text(TABLE_EXPERIMENT.format(extra="", efficiency='{ model = "tabulated", file = "eff.txt" }'))
    total = load_experiment(path).total({})[0]
    assert np.isfinite(total) and total > 0


# ------------------------------------------------------------------ Python API
@pytest.fixture(scope="module")
def csi():
    return load_experiment("coherent-csi-2017")


LOAD_CASES = [
    ("none", lambda tmp: load_experiment(None), ["built-in name or a path", "None"]),
    ("int", lambda tmp: load_experiment(3), ["built-in name or a path", "int"]),
    ("float", lambda tmp: load_experiment(3.5), ["built-in name or a path"]),
    ("list", lambda tmp: load_experiment(["conus"]), ["built-in name or a path", "list"]),
    ("bytes", lambda tmp: load_experiment(b"conus"), ["built-in name or a path", "bytes"]),
    ("dict", lambda tmp: load_experiment({"name": "conus"}), ["built-in name or a path"]),
    ("empty", lambda tmp: load_experiment(""), ["empty experiment name", "conus"]),
    ("blank", lambda tmp: load_experiment("   "), ["empty experiment name"]),
    ("unknown", lambda tmp: load_experiment("no-such-experiment"), ["unknown experiment", "coherent-csi-2017"]),
    ("underscore-name", lambda tmp: load_experiment("coherent_csi_2017"), ["unknown experiment"]),
    ("missing-toml", lambda tmp: load_experiment(tmp / "missing.toml"), ["not found", "missing.toml"]),
    ("folder-without-toml", lambda tmp: load_experiment(tmp), ["no experiment.toml"]),
    ("txt-file", lambda tmp: load_experiment(_touch(tmp / "exp.txt")), ["not an experiment file", ".toml"]),
    ("overrides-list", lambda tmp: load_experiment("conus", overrides=[1]), ["overrides", "mapping", "list"]),
    ("overrides-str", lambda tmp: load_experiment("conus", overrides="mass_kg=3"), ["overrides", "mapping"]),
    ("overrides-int-key", lambda tmp: load_experiment("conus", overrides={1: 2}), ["overrides", "keys must be strings"]),
    ("overrides-nested-int-key", lambda tmp: load_experiment("conus", overrides={"detector": {1: 2}}),
     ["overrides.detector", "keys must be strings"]),
    ("overrides-nan", lambda tmp: load_experiment("conus", overrides={"detector": {"mass_kg": np.nan}}),
     ["detector.mass_kg", "finite"]),
    ("overrides-bool", lambda tmp: load_experiment("conus", overrides={"detector": {"mass_kg": True}}),
     ["detector.mass_kg", "number"]),
    ("overrides-np-bool", lambda tmp: load_experiment("conus", overrides={"detector": {"mass_kg": np.bool_(True)}}),
     ["detector.mass_kg", "number"]),
    ("overrides-table-as-str", lambda tmp: load_experiment("conus", overrides={"detector": "big"}),
     ["detector", "table"]),
    ("overrides-array-edges", lambda tmp: load_experiment(
        "conus", overrides={"detector": {"bins": {"edges": np.array([0.3, 0.2])}}}), ["bins", "ascending"]),
    ("overrides-unknown-key", lambda tmp: load_experiment("conus", overrides={"detectr": {"mass_kg": 1.0}}),
     ["detectr", "unknown key"]),
    ("settings-list", lambda tmp: load_experiment("conus", settings=["kinematics=full"]), ["settings", "mapping"]),
    ("settings-int-key", lambda tmp: load_experiment("conus", settings={1: 2}), ["settings", "keys must be strings"]),
    ("settings-bad-value", lambda tmp: load_experiment("conus", settings={"kinematics": 3}), ["kinematics"]),
    ("settings-bad-choice", lambda tmp: load_experiment("conus", settings={"kinematics": "relativistic"}),
     ["kinematics", "seed"]),
    ("settings-param-str", lambda tmp: load_experiment("conus", settings={"sin2_theta_w": "x"}),
     ["sin2_theta_w", "number"]),
    ("settings-param-nan", lambda tmp: load_experiment("conus", settings={"sin2_theta_w": float("nan")}),
     ["sin2_theta_w", "finite"]),
    ("settings-unknown", lambda tmp: load_experiment("conus", settings={"sin2": 0.23}), ["unknown parameter 'sin2'"]),
]


def _touch(p: Path) -> Path:
    p.write_text("x")
    return p


@pytest.mark.parametrize("tag, call, words", LOAD_CASES, ids=[c[0] for c in LOAD_CASES])
def test_bad_load_experiment_calls(tmp_path, tag, call, words):
    _expect_error(lambda: call(tmp_path), words)


PREDICT_CASES = [
    ("list", lambda e: e.predict([1, 2]), ["mapping", "list"]),
    ("int-key", lambda e: e.predict({1: 2}), ["names must be strings", "1"]),
    ("tuple-key", lambda e: e.predict({("rn",): 5.0}), ["names must be strings"]),
    ("string", lambda e: e.predict("sin2_theta_w"), ["mapping", "str"]),
    ("number", lambda e: e.predict(0.23), ["mapping", "float"]),
    ("set", lambda e: e.predict({"sin2_theta_w"}), ["mapping", "set"]),
    ("str-value", lambda e: e.predict({"sin2_theta_w": "abc"}), ["'sin2_theta_w'", "number"]),
    ("numeric-str-value", lambda e: e.predict({"sin2_theta_w": "0.23"}), ["'sin2_theta_w'", "number"]),
    ("nan", lambda e: e.predict({"sin2_theta_w": float("nan")}), ["'sin2_theta_w'", "finite"]),
    ("inf", lambda e: e.predict({"rn": np.inf}), ["'rn'", "finite"]),
    ("nan-in-array", lambda e: e.predict({"rn": [4.5, np.nan]}), ["'rn'", "finite"]),
    ("none-value", lambda e: e.predict({"rn": None}), ["'rn'", "None"]),
    ("bool-value", lambda e: e.predict({"eps_ee_uV": True}), ["'eps_ee_uV'", "True"]),
    ("np-bool-value", lambda e: e.predict({"eps_ee_uV": np.bool_(False)}), ["'eps_ee_uV'"]),
    ("bool-array", lambda e: e.predict({"eps_ee_uV": np.array([True, False])}), ["'eps_ee_uV'", "real numbers"]),
    ("complex", lambda e: e.predict({"eps_ee_uV": 1j}), ["'eps_ee_uV'", "real"]),
    ("complex-array", lambda e: e.predict({"eps_ee_uV": np.array([1j])}), ["'eps_ee_uV'", "real"]),
    ("string-array", lambda e: e.predict({"eps_ee_uV": np.array(["0.1"])}), ["'eps_ee_uV'", "real numbers"]),
    ("object-list", lambda e: e.predict({"eps_ee_uV": [0.1, "a"]}), ["'eps_ee_uV'"]),
    ("nested-list", lambda e: e.predict({"eps_ee_uV": [[0.1, 0.2]]}), ["'eps_ee_uV'", "shape"]),
    ("ragged-list", lambda e: e.predict({"eps_ee_uV": [[0.1], [0.2, 0.3]]}), ["'eps_ee_uV'"]),
    ("empty-array", lambda e: e.predict({"eps_ee_uV": []}), ["'eps_ee_uV'", "empty"]),
    ("dict-value", lambda e: e.predict({"eps_ee_uV": {"a": 1}}), ["'eps_ee_uV'", "dict"]),
    ("mismatched-lengths", lambda e: e.predict({"eps_ee_uV": [0.1, 0.2], "eps_ee_dV": [0.1, 0.2, 0.3]}),
     ["lengths", "2", "3"]),
    ("unknown-name", lambda e: e.predict({"sin2_theta": 0.23}), ["unknown parameter", "sin2_theta_w"]),
    ("out-of-domain", lambda e: e.predict({"sin2_theta_w": 1.5}), ["'sin2_theta_w'", "domain"]),
    ("negative-radius", lambda e: e.predict({"rn": -5.0}), ["'rn'", "domain"]),
    ("alias-twice", lambda e: e.predict({"eps_emu_uV": 0.1, "eps_mue_uV": 0.1}), ["twice"]),
    ("mixing-sum", lambda e: e.predict({"u_e4_sq": 0.6, "u_mu4_sq": 0.6}), ["must not exceed 1"]),
    ("overflow", lambda e: e.predict({"scalar_coupling": 1e200}), ["not finite", "scalar_coupling"]),
    ("overflow-total", lambda e: e.total({"mu_nu": 1e200}), ["not finite", "mu_nu"]),
    ("chunk-zero", lambda e: e.predict({}, chunk_size=0), ["chunk_size", "positive"]),
    ("chunk-float", lambda e: e.predict({}, chunk_size=1.5), ["chunk_size"]),
    ("chunk-str", lambda e: e.predict({"rn": [4.0, 5.0]}, chunk_size="a"), ["chunk_size"]),
    ("chunk-bool", lambda e: e.predict({}, chunk_size=True), ["chunk_size"]),
    ("total-list", lambda e: e.total([1]), ["mapping"]),
    ("settings-list", lambda e: e.settings([1]), ["mapping"]),
    ("settings-bad-value", lambda e: e.settings({"rn": "x"}), ["'rn'"]),
    ("with-bins-str", lambda e: e.with_bins("abc"), ["bin edges", "numbers"]),
    ("with-bins-one", lambda e: e.with_bins([1.0]), ["bin edges", "at least two"]),
    ("with-bins-descending", lambda e: e.with_bins([3.0, 2.0]), ["bin edges", "ascending"]),
    ("with-bins-nan", lambda e: e.with_bins([1.0, np.nan]), ["bin edges", "finite"]),
    ("with-bins-2d", lambda e: e.with_bins([[1.0, 2.0]]), ["bin edges", "1-D"]),
    ("with-bins-none", lambda e: e.with_bins(None), ["bin edges"]),
    ("with-overrides-list", lambda e: e.with_overrides([1]), ["overrides", "mapping"]),
    ("with-overrides-invalid", lambda e: e.with_overrides({"detector": {"mass_kg": -1.0}}), ["mass_kg", "greater"]),
    ("with-overrides-int-key", lambda e: e.with_overrides({"detector": {2: 1}}), ["keys must be strings"]),
]


@pytest.mark.parametrize("tag, call, words", PREDICT_CASES, ids=[c[0] for c in PREDICT_CASES])
def test_bad_python_api_calls(csi, tag, call, words):
    _expect_error(lambda: call(csi), words)


@pytest.mark.parametrize("params", [
    {}, None, {"sin2_theta_w": 0.23}, {"sin2_theta_w": np.float32(0.23)}, {"rn": np.array([4.5, 5.5])},
    {"rn": (4.5, 5.5)}, {"eps_ee_uV": 0}, {"eps_ee_uV": np.int64(0)}, {"rn": np.array(5.0)},
    PhysicsPoint({"rn": [4.5, 5.0]}),
])
def test_good_python_api_calls_give_finite_counts(csi, params):
    counts = csi.predict(params).counts
    assert counts.size and np.all(np.isfinite(counts)) and np.all(counts >= 0)
