"""Speed of a 100 x 100 NSI scan of the global likelihood (issue 12, "Speed"): prints, asserts nothing.

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/bench_global_nsi.py [--reference-points 200]

The likelihood is that of ``cevns/papers/global_fit/bsm_combined.toml`` (COHERENT CsI 2017, 12 bins,
Gaussian + CONUS+, 1 bin, Gaussian; four normalisation nuisances profiled in closed form at every point;
+ XENONnT 8B, 2 x 81 bins, extended Poisson, 10 nuisances profiled by vectorised Gauss-Newton steps),
scanned on a 100 x 100 (eps_ee_uV, eps_ee_dV) grid with ``Likelihood.chi2`` (engine predictions for all
points at once), with and without the XENONnT term. Reference: at ``--reference-points`` random grid
points, the binned Gaussian part minimised over its four nuisances by one iminuit MIGRAD per point
(signals from the same engine call per point); the points/s ratio and the largest |chi2 difference| are
printed (the XENONnT profile is checked against MIGRAD in cevns/stats/template_fit.py and its tests). A second
timing uses the Poisson (Baker-Cousins + on/off sideband) likelihood for CsI, profiled by vectorised
Newton steps (no iminuit reference: its per-bin sideband profile has no simple explicit form).
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from iminuit import Minuit  # noqa: E402

from cevns.analysis import build_likelihood, load_analysis  # noqa: E402
from cevns.experiments import read_toml  # noqa: E402

FILE = Path(__file__).resolve().parents[1] / "src" / "cevns" / "papers" / "global_fit" / "bsm_combined.toml"


def _likelihood(poisson_csi: bool = False, binned_only: bool = True):
    raw = read_toml(FILE)
    raw["scans"] = []
    if binned_only:
        raw["experiments"] = [e for e in raw["experiments"] if e.get("likelihood") == "gaussian"]
    if poisson_csi:
        raw["experiments"][0]["likelihood"] = "poisson"
    return build_likelihood(load_analysis(raw, base_dir=FILE.parent))


def _grid(n=100):
    u, d = np.meshgrid(np.linspace(-1, 1, n), np.linspace(-1, 1, n))
    return {"eps_ee_uV": u.ravel(), "eps_ee_dV": d.ravel()}


def _best_of(fn, repeat=3):
    best, out = np.inf, None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def _migrad_chi2(lik, point: dict) -> float:
    """chi^2 at one physics point: the nuisances minimised by iminuit MIGRAD (explicit chi^2)."""
    signals = lik.signals(point)
    datasets = [t.binned_dataset(s) for t, s in zip(lik.terms, signals)]
    table = lik.nuisance_table()
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


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reference-points", type=int, default=200)
    args = ap.parse_args()
    grid = _grid()
    n = grid["eps_ee_uV"].size
    lik = _likelihood()
    lik.chi2({k: v[:10] for k, v in grid.items()})  # build kernels once (as a scan's first chunk does)
    t, chi2 = _best_of(lambda: lik.chi2(grid))
    print(f"global likelihood (CsI 2017 gaussian + CONUS+), {len(lik.nuisance_table())} nuisances, "
          f"100 x 100 (eps_ee_uV, eps_ee_dV): {t:.3f} s = {n / t:.3g} points/s")
    lik_all = _likelihood(binned_only=False)
    lik_all.chi2({k: v[:10] for k, v in grid.items()})
    t_all, _ = _best_of(lambda: lik_all.chi2(grid), repeat=1)
    print(f"with XENONnT 8B (template likelihood), {len(lik_all.nuisance_table())} nuisances: {t_all:.3f} s = "
          f"{n / t_all:.3g} points/s")
    rng = np.random.default_rng(1)
    idx = rng.choice(n, size=min(args.reference_points, n), replace=False)
    t0 = time.perf_counter()
    ref = np.array([_migrad_chi2(lik, {k: float(v[i]) for k, v in grid.items()}) for i in idx])
    t_ref = time.perf_counter() - t0
    rate_ref = idx.size / t_ref
    print(f"per-point iminuit (MIGRAD over the nuisances) at {idx.size} points: {rate_ref:.3g} points/s; "
          f"vectorised / iminuit = {n / t / rate_ref:.3g}x; max |chi2 difference| = "
          f"{np.max(np.abs(ref - chi2[idx])):.2e}")
    lik_p = _likelihood(poisson_csi=True)
    lik_p.chi2({k: v[:10] for k, v in grid.items()})
    t_p, _ = _best_of(lambda: lik_p.chi2(grid))
    print(f"same grid, CsI 2017 Poisson (Newton-profiled) + CONUS+: {t_p:.3f} s = {n / t_p:.3g} points/s")


if __name__ == "__main__":
    main()
