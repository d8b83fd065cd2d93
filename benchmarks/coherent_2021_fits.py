"""First fits of COHERENT CsI 2021 and LAr 2020 (issue 10, items 4-5 partial): print the numbers.

    PYTHONPATH=src python benchmarks/coherent_2021_fits.py        # ~30 s

Not a test: it prints the measured values next to the published ones, and the variants that explain
the differences (steady-state treatment for CsI, the BRN timing-width template for LAr).
"""

from __future__ import annotations

import numpy as np

from cevns.experiments.coherent_ar_2020_model import load_ar_2020
from cevns.experiments.coherent_csi_2021_model import load_csi_2021
from cevns.stats.binned_templates import TemplateLikelihood


def _csi():
    m = load_csi_2021()
    nominal = m.cevns_template()[0]
    n0 = nominal.sum()
    print(f"CsI 2021: SM-like prediction in the published grid {n0:.1f} (published 341 +- 11 +- 42)")
    print(f"  data: {m.counts().sum():.0f} C and {m.counts('anticoincidence').sum():.0f} AC events in the grid")
    inputs = m.fit_inputs()
    rows = [("SS pooled over time (default)", TemplateLikelihood.from_inputs(inputs, "exponential")),
            ("SS per (PE, t) bin", TemplateLikelihood.from_inputs(m.fit_inputs(pooled=False), "exponential"))]
    ss = inputs["onoff"]
    known = dict(ss, off_counts=ss["off_counts"] * 1e4, weights=ss["weights"] / 1e4)  # AC exposure x 1e4
    rows.append(("SS known exactly (2 % norm only)", TemplateLikelihood.from_inputs(dict(inputs, onoff=known),
                                                                                      "exponential")))
    for label, like in rows:
        fit = like.fit(minos=["s_cevns"])
        lo, hi = (n0 * e for e in fit["errors"]["s_cevns"])
        sig = like.significance("cevns", fit)
        nuis = ", ".join(f"{k}={v:+.2f}" for k, v in fit["values"].items() if k.startswith("theta"))
        print(f"  {label:34s} CEvNS {fit['events']['cevns']:6.1f} -{lo:.1f} +{hi:.1f}  {sig:5.2f} sigma  "
              f"BRN {fit['events']['brn']:.1f} NIN {fit['events']['nin']:.1f}  [{nuis}]")
    print("  published: 306 +- 20, 11.6 sigma (arXiv:2110.07730)")


def _ar():
    m = load_ar_2020()
    own = m.cevns_energy_prediction()[0]
    rel = m.template("cevns").sum(axis=(1, 2))
    own3d = m.cevns_prediction()[0]
    print(f"\nLAr 2020: own CEvNS prediction {own.sum():.1f} all times, {own3d.sum():.1f} in 0-5 us (release 128 +- 17)")
    print("  energy fractions own / release:",
          " ".join(f"{a:.3f}/{b:.3f}" for a, b in zip(own / own.sum(), rel / rel.sum()) if b > 0))
    like = TemplateLikelihood.from_inputs(m.fit_inputs())
    fit = like.fit(minos=["s_cevns"])
    scale = {c.name: like.components[i].nominal.sum() for i, c in enumerate(m.inputs.components)}
    print("  fit with all released shape templates:")
    for name, (v, e) in m.inputs.best_fit.items():
        err = fit["errors"][f"s_{name}"]
        print(f"    {name:13s} {fit['events'][name]:7.1f} -{err[0] * scale[name]:.1f} +{err[1] * scale[name]:.1f}"
              f"   published {v} +- {e}   pull {(fit['events'][name] - v) / e:+.2f}")
    print("    nuisances:", ", ".join(f"{k}={v:+.2f}" for k, v in fit["values"].items() if not k.startswith("s_")))
    print(f"    significance {like.significance('cevns', fit):.2f} sigma (published 3.5)")
    alt = TemplateLikelihood.from_inputs(m.fit_inputs(drop_systematics=("brn_timing_width",)))
    fa = alt.fit()
    print("  without the one-sided BRN timing-width template:",
          ", ".join(f"{k} {v:.1f}" for k, v in fa["events"].items()),
          f"; {alt.significance('cevns', fa):.2f} sigma")
    mine = TemplateLikelihood.from_inputs(m.fit_inputs(own_cevns=True))
    fm = mine.fit(minos=["s_cevns"])
    n0 = mine.components[0].nominal.sum()
    lo, hi = (n0 * e for e in fm["errors"]["s_cevns"])
    print(f"  with the toolkit's own 3D CEvNS template: CEvNS {fm['events']['cevns']:.1f} -{lo:.1f} +{hi:.1f}, "
          f"{mine.significance('cevns', fm):.2f} sigma, theta_onset {fm['values']['theta_onset']:+.2f}")


if __name__ == "__main__":
    _csi()
    _ar()
