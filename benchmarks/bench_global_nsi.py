"""Speed of a 100 x 100 NSI scan of the global likelihood (issue 12, "Speed"): prints, asserts nothing.

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/bench_global_nsi.py [--reference-points 20]
        [--skip-run] [--skip-dask]

The likelihood is built from the analysis mapping ``ANALYSIS`` below: COHERENT CsI 2021 (99 bins, 17
parameters incl. 9 on/off sideband means) and LAr 2020 (960 bins, 10 parameters), ``template_poisson``,
profiled jointly with one shared SNS flux normalisation (``sns_flux``, 10 %, as in
``papers/global_fit/sin2w_combined.toml``) by vectorised Levenberg-Marquardt Newton steps
(``cevns.stats.template_joint``); + CONUS+ (binned Gaussian, normalisation nuisances in closed form)
+ XENONnT 8B (2 x 81 bins, 10 nuisances, vectorised Gauss-Newton). Radiative SM couplings with
sin^2 theta_W = 0.23129 as in ``papers/global_fit/bsm_combined.toml``.

Timings: ``Likelihood.chi2`` on the 100 x 100 (eps_ee_uV, eps_ee_dV) grid in [-1, 1]^2 (wall and CPU
time, the CsI+LAr part alone too); ``cevns.analysis.run_analysis`` end to end (in process, and on a local
dask cluster of 2 workers, ``--dask-local 2``: the Delta-chi2 grids must be identical).

Reference: at ``--reference-points`` random grid points, one iminuit MIGRAD per point over all 28
nuisances of CsI 2021 + LAr 2020 jointly (SIMPLEX then MIGRAD on the independent
``TemplateLikelihood`` of each, as ``tests/test_template_joint.py``), plus one MIGRAD over the CONUS+
nuisances (explicit Gaussian chi2) and one over the XENONnT nuisances (explicit Poisson chi2 of the
profiler's expected counts): the three groups share no nuisance, so the sum of their minima is the
global minimum. Printed: points/s of both, their ratio, the largest |chi2 difference|, and the
differences per group (against separate vectorised likelihoods of each group).
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import copy  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from iminuit import Minuit  # noqa: E402

from cevns.analysis import build_likelihood, load_analysis, run_analysis  # noqa: E402
from cevns.stats.executors import make_executor  # noqa: E402
from cevns.stats.solar_templates import SIGNAL_EFF_LIMITS  # noqa: E402
from cevns.stats.template_minuit import shared_flux_minuit  # noqa: E402

SIN2 = 0.23129           # MS-bar at M_Z, radiative couplings (bsm_combined.toml)
SNS_FLUX_SIGMA = 0.10    # shared SNS flux normalisation (sin2w_combined.toml)
RADIATIVE = {"coupling_scheme": "radiative"}

ANALYSIS = {
    "schema_version": 1,
    "name": "bench-global-nsi",
    "title": "Global NSI likelihood (benchmark)",
    "fixed": {"sin2_theta_w": SIN2},
    "experiments": [
        {"experiment": "coherent-csi-2021", "label": "COHERENT CsI 2021", "likelihood": "template_poisson",
         "data": "observed", "settings": RADIATIVE},
        {"experiment": "coherent-ar-2020", "label": "COHERENT LAr 2020", "likelihood": "template_poisson",
         "data": "observed", "settings": RADIATIVE},
        {"experiment": "conus-plus", "label": "CONUS+", "likelihood": "gaussian", "data": "observed"},
        {"experiment": "xenonnt-8b", "label": "XENONnT 8B", "likelihood": "xenonnt_8b", "data": "observed"},
    ],
    "correlations": [{"name": "sns_flux", "sigma": SNS_FLUX_SIGMA,
                      "description": "SNS neutrino-flux normalisation, common to COHERENT CsI 2021 and LAr 2020",
                      "members": [{"experiment": "COHERENT CsI 2021", "nuisance": "flux_norm"},
                                  {"experiment": "COHERENT LAr 2020", "nuisance": "flux_norm"}]}],
    "scans": [],
}
SCAN = {"name": "nsi_ee", "parameters": ["eps_ee_uV", "eps_ee_dV"], "ranges": [[-1.0, 1.0], [-1.0, 1.0]],
        "points": [100, 100], "confidence_levels": [0.9]}


def analysis(template_only: bool = False, scan: bool = False) -> dict:
    """The benchmark's analysis mapping (optionally only the COHERENT template terms, with the scan)."""
    doc = copy.deepcopy(ANALYSIS)
    if template_only:
        doc["experiments"] = doc["experiments"][:2]
    if scan:
        doc["scans"] = [dict(SCAN)]
    return doc


def grid(n: int = 100) -> dict:
    """The n x n (eps_ee_uV, eps_ee_dV) grid on [-1, 1]^2, flattened."""
    u, d = np.meshgrid(np.linspace(-1, 1, n), np.linspace(-1, 1, n))
    return {"eps_ee_uV": u.ravel(), "eps_ee_dV": d.ravel()}


def timed(fn):
    """``(wall s, cpu s, result)`` of one call."""
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - w, time.process_time() - c, out


# ----------------------------------------------------------------------------------- iminuit references
def migrad_templates(csi, ar, point: dict) -> float:
    """CsI 2021 + LAr 2020 chi2 at one point: one MIGRAD over all nuisances of both jointly.

    The CsI CEvNS scale is the shared flux factor f; the LAr one is u + f - 1 with the remainder's prior
    width sqrt(sigma_Ar^2 - sigma_f^2); each term's own CEvNS prior is replaced by those of f and u
    (``cevns.stats.template_joint``), on the independent ``TemplateLikelihood`` implementation.
    """
    lc, la = csi.minuit_likelihood(point), ar.minuit_likelihood(point)
    nc, na = len(lc.parameters), len(la.parameters)
    m = shared_flux_minuit(lc, la, SNS_FLUX_SIGMA,
                           start=list(csi.warm_start()[:nc]) + list(ar.warm_start()[:na]) + [1.0])
    m.tol = 1e-3
    m.simplex()
    m.migrad()
    if not m.valid:
        m.migrad()
    return float(m.fval)


def migrad_gaussian(lik, terms, point: dict) -> float:
    """Binned Gaussian terms at one point: MIGRAD over their nuisances (explicit chi2)."""
    signals = [t.signal(point, 1) for t in terms]
    datasets = [t.binned_dataset(s) for t, s in zip(terms, signals)]
    table = {}
    for t in terms:
        table.update(t.nuisance_table())
    names = list(table)
    sig = np.array([np.inf if table[k]["sigma"] is None else table[k]["sigma"] for k in names])

    def chi2(*theta):
        total = float(np.sum((np.asarray(theta) / sig) ** 2))
        values = dict(zip(names, theta))
        for ds, s in zip(datasets, signals):
            own = {nu.name: values[nu.name] for nu in ds.nuisances}
            mu = ds.expected(s, own)[0]
            total += float(np.sum((ds.observed - mu) ** 2 / np.asarray(ds.variance).reshape(-1)[-ds.n_bins:]))
        return total

    m = Minuit(chi2, *np.zeros(len(names)), name=names)
    m.errordef = Minuit.LEAST_SQUARES
    m.migrad()
    return float(m.fval)


def migrad_xenonnt(term, point: dict) -> float:
    """XENONnT 8B at one point: MIGRAD over its nuisances (explicit Poisson chi2 + constraints)."""
    prof = term.profiler
    m_e = prof.n_energy
    sig = np.asarray(term.signal(point, 1), float)[0]
    rates = {c: sig[i * m_e:(i + 1) * m_e] for i, c in enumerate(prof.components)}
    observed, lo = [], 0
    for r in prof.runs:
        observed.append(term.observed[lo:lo + r.observed.size])
        lo += r.observed.size
    names = list(prof.names)
    width = [prof.sigmas["signal" if n == "signal_eff" else n.removeprefix("flux_")] if n not in ("tly", "tqy")
             else 1.0 for n in names]
    centre = [0.0 if n in ("tly", "tqy") else 1.0 for n in names]

    def chi2(v):
        mus = prof.expected(rates, dict(zip(names, v)))
        c = sum(((x - c0) / w) ** 2 for x, c0, w in zip(v, centre, width) if np.isfinite(w))
        for mu, n in zip(mus, observed):
            mu = mu[0]
            c += 2.0 * float(np.sum(mu - n + np.where(n > 0, n * np.log(np.where(n > 0, n, 1.0) / mu), 0.0)))
        return float(c)

    m = Minuit(chi2, centre, name=names)
    m.errordef = Minuit.LEAST_SQUARES
    for n in names:
        if n in ("tly", "tqy"):
            m.limits[n] = (float(prof.grid[0]), float(prof.grid[-1]))
        elif n == "signal_eff":
            m.limits[n] = SIGNAL_EFF_LIMITS
        else:
            m.limits[n] = (0.0, None)
    m.tol = 1e-3
    m.simplex()
    m.migrad()
    if not m.valid:
        m.migrad()
    return float(m.fval)


def reference_parts(lik, point: dict) -> list:
    """Per nuisance group (COHERENT templates, Gaussian terms, XENONnT) the chi2 at one point, each
    minimised by its own iminuit MIGRAD; their sum is the global chi2 (the groups share no nuisance)."""
    tmpl = [t for t in lik.terms if t.kind == "template_poisson"]
    gauss = [t for t in lik.terms if getattr(t, "joint", False)]
    xe = [t for t in lik.terms if t.kind == "xenonnt_8b"]
    return [migrad_templates(*tmpl, point), migrad_gaussian(lik, gauss, point) if gauss else 0.0,
            sum(migrad_xenonnt(t, point) for t in xe)]


def vectorised_parts(points: dict) -> list:
    """The same groups' chi2 from separate vectorised likelihoods (for the breakdown of differences)."""
    doc = analysis()
    exps = doc["experiments"]
    out = [build_likelihood(load_analysis(analysis(template_only=True))).chi2(points)]
    for kinds in (("gaussian",), ("xenonnt_8b",)):
        sub = [e for e in exps if e["likelihood"] in kinds]
        out.append(build_likelihood(load_analysis({**doc, "experiments": sub, "correlations": []})).chi2(points)
                   if sub else np.zeros(np.size(next(iter(points.values())))))
    return out


# ----------------------------------------------------------------------------------- main
def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reference-points", type=int, default=20)
    ap.add_argument("--skip-run", action="store_true", help="no run_analysis timings")
    ap.add_argument("--skip-dask", action="store_true", help="no dask timing")
    args = ap.parse_args()
    g = grid()
    n = g["eps_ee_uV"].size
    warm = {k: v[:5] for k, v in g.items()}

    lik_t = build_likelihood(load_analysis(analysis(template_only=True)))
    lik_t.chi2(warm)                           # build experiments, kernels, warm starts once
    w, c, _ = timed(lambda: lik_t.chi2(g))
    print(f"CsI 2021 + LAr 2020 (27 + 1 shared nuisances, joint Newton profile), 100 x 100 (eps_ee_uV, "
          f"eps_ee_dV): {w:.2f} s wall, {c:.2f} s CPU = {n / w:.0f} points/s ({n / c:.0f} per CPU s)")

    lik = build_likelihood(load_analysis(analysis()))
    lik.chi2(warm)
    w, c, chi2 = timed(lambda: lik.chi2(g))
    print(f"global (+ CONUS+ gaussian + XENONnT 8B), Likelihood.chi2: {w:.2f} s wall, {c:.2f} s CPU = "
          f"{n / w:.0f} points/s ({n / c:.0f} per CPU s)")
    rate, rate_cpu = n / w, n / c

    if not args.skip_run:
        with tempfile.TemporaryDirectory() as tmp:
            w, c, res = timed(lambda: run_analysis(analysis(scan=True), f"{tmp}/inproc", progress=False))
            print(f"run_analysis end to end (build + 100 x 100 scan + outputs), in process: {w:.1f} s wall, "
                  f"{c:.1f} s CPU")
            ref_grid = res.grids["nsi_ee"]["dchi2"]
            if not args.skip_dask:
                ex = make_executor(dask_local=2)
                try:
                    w, _, res2 = timed(lambda: run_analysis(analysis(scan=True), f"{tmp}/dask", executor=ex,
                                                            progress=False))
                finally:
                    close = getattr(ex, "close", None)
                    if close is not None:
                        close()
                diff = float(np.max(np.abs(res2.grids["nsi_ee"]["dchi2"] - ref_grid)))
                print(f"run_analysis on a local dask cluster (2 workers, --dask-local 2): {w:.1f} s wall; "
                      f"max |Delta-chi2 difference| to in process = {diff:.1e}")

    if args.reference_points < 1:
        return
    rng = np.random.default_rng(1)
    idx = rng.choice(n, size=min(args.reference_points, n), replace=False)
    w_ref, c_ref, ref = timed(lambda: np.array([reference_parts(lik, {k: float(v[i]) for k, v in g.items()})
                                                for i in idx]))
    diff = ref.sum(axis=1) - chi2[idx]
    print(f"per-point iminuit (MIGRAD over all nuisances) at {idx.size} points: {idx.size / w_ref:.3g} points/s "
          f"({idx.size / c_ref:.3g} per CPU s); vectorised / iminuit = {rate * w_ref / idx.size:.3g}x "
          f"({rate_cpu * c_ref / idx.size:.3g}x in CPU time); max |chi2 difference| = {np.max(np.abs(diff)):.2e} "
          f"(iminuit - vectorised: min {diff.min():.2e}, max {diff.max():.2e})")
    vec = vectorised_parts({k: v[idx] for k, v in g.items()})
    for name, r, v in zip(("CsI 2021 + LAr 2020 (joint)", "CONUS+", "XENONnT 8B"), ref.T, vec):
        d = r - v
        worst = int(np.argmax(np.abs(d)))
        print(f"  {name}: iminuit - vectorised in [{d.min():.2e}, {d.max():.2e}]; largest at "
              + ", ".join(f"{k} = {g[k][idx[worst]]:.3f}" for k in g) + f" (chi2 {v[worst]:.3f})")


if __name__ == "__main__":
    main()
