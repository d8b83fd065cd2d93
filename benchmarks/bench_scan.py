"""Speed of likelihood scans (issue 4): prints timings, asserts nothing.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_scan.py [--skip-reference] [--quad-points N]

1. 2D (eps_ee_uV, eps_ee_dV), COHERENT CsI 2017, single-bin chi2 with pulls, 201x201 and 1000x1000
   (fast quadratic path, RateEngine.total): compute time on one core.
2. The same chi2 at a few points from plain per-point numerical integration
   (cevns.engine.reference.total_counts_quad, epsrel = 1e-4): agreement and speed ratio.
3. Shape-changing 2D scans on 101x101 (general path): (dm41_sq, u_mu4_sq) and (rn, eps_ee_dV).
4. Writing the Delta-chi2 grid of a large 2D scan (default 1e7 points): CSV row by row (the old
   writer, kept here as the reference) vs the block writer ``cevns.analysis.write_scan_csv`` and
   ``write_scan_npz`` (``--only-output`` runs just this part).
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from cevns.analysis import build_likelihood, compute_scan, load_analysis, write_scan_csv, write_scan_npz  # noqa: E402
from cevns.engine.reference import total_counts_quad  # noqa: E402
from cevns.stats.pulls import chi2_single_bin_pulls  # noqa: E402
from cevns.stats.scan import ScanData, ScanGrid  # noqa: E402


def _best_of(fn, repeat=3):
    best, out = np.inf, None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def _spec(scans):
    return load_analysis({"name": "bench", "experiments": [{"experiment": "coherent-csi-2017",
                                                            "likelihood": "single_bin_pulls"}], "scans": scans})


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--skip-reference", action="store_true", help="skip the slow quad reference")
    ap.add_argument("--quad-points", type=int, default=2, help="points integrated by quad (each ~1-3 min)")
    ap.add_argument("--output-points", type=float, default=1e7, help="points of the output-writing benchmark")
    ap.add_argument("--only-output", action="store_true", help="run only the output-writing benchmark")
    args = ap.parse_args()
    if args.only_output:
        bench_output(int(args.output_points))
        return

    t0 = time.perf_counter()
    spec = _spec([
        {"name": "nsi201", "parameters": ["eps_ee_uV", "eps_ee_dV"], "ranges": [[-1, 1], [-1, 1]], "points": [201, 201]},
        {"name": "nsi1000", "parameters": ["eps_ee_uV", "eps_ee_dV"], "ranges": [[-1, 1], [-1, 1]],
         "points": [1000, 1000]},
        {"name": "sterile", "parameters": ["dm41_sq", "u_mu4_sq"], "ranges": [[0.1, 1000.0], [1e-3, 0.5]],
         "points": [101, 101], "log": [True, True]},
        {"name": "rn-dV", "parameters": ["rn", "eps_ee_dV"], "ranges": [[3.5, 7.0], [-0.5, 0.5]], "points": [101, 101]},
    ])
    lik = build_likelihood(spec)
    print(f"build likelihood: {time.perf_counter() - t0:.2f} s")
    print(f"threads: OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}")

    print("\n1. single-bin chi2, COHERENT CsI 2017, 2D (eps_ee_uV, eps_ee_dV), fast path")
    per_point = None
    for n in (201, 1000):
        x = np.linspace(-1, 1, n)
        xx, yy = np.meshgrid(x, x)
        t_chi2, c = _best_of(lambda: lik.chi2({"eps_ee_uV": xx, "eps_ee_dV": yy}))
        scan = spec.scan(f"nsi{n}")
        t_scan, _ = _best_of(lambda: compute_scan(lik, spec, scan, progress=False))
        per_point = t_chi2 / n**2
        print(f"  {n}x{n}: Likelihood.chi2 {t_chi2:.3f} s, compute_scan (chunked) {t_scan:.3f} s "
              f"({1e9 * per_point:.0f} ns / point), chi2 range [{c.min():.3g}, {c.max():.3g}]")

    if not args.skip_reference:
        print("\n2. the same chi2 from per-point numerical integration (reference.total_counts_quad, epsrel=1e-4)")
        exp = lik.experiments[0]
        term = lik.terms[0]
        pts = [{}, {"eps_ee_uV": 0.3, "eps_ee_dV": -0.2}, {"eps_ee_uV": -0.5, "eps_ee_dV": 0.4}][: args.quad_points]
        for p in pts:
            t = time.perf_counter()
            n_quad = total_counts_quad(exp, {**spec.fixed, **p}, epsrel=1e-4)
            t_quad = time.perf_counter() - t
            n_eng = float(exp.engine.total(p)[0])
            c_quad = float(chi2_single_bin_pulls(n_quad, term.n_meas, term.b_on, term.b_ss, term.sigma_alpha,
                                                 term.sigma_beta))
            c_eng = float(lik.chi2(p)[0])
            print(f"  {p or 'SM'}: N quad {n_quad:.4f} vs engine {n_eng:.4f} (rel. diff {n_eng / n_quad - 1:+.2e}); "
                  f"chi2 {c_quad:.5f} vs {c_eng:.5f}; quad {t_quad:.1f} s/point, "
                  f"speed ratio {t_quad / per_point:.2e}")

    print("\n3. shape-changing scans (general path), 101x101, single-bin chi2")
    for name in ("sterile", "rn-dV"):
        scan = spec.scan(name)
        t, data = _best_of(lambda: compute_scan(lik, spec, scan, progress=False), repeat=1)
        print(f"  {name} {scan.parameters}: {t:.2f} s, chi2_min {np.nanmin(data.chi2):.4f}")
    bench_output(int(args.output_points))


def _old_csv(path, x, y, dchi2):
    """The writer before the block writer: one Python format per value, all rows joined in memory."""
    xx, yy = np.tile(x, y.size), np.repeat(y, x.size)
    rows = ["x,y,delta_chi2"] + [f"{a:.12g},{b:.12g},{c:.12g}" for a, b, c in zip(xx, yy, dchi2.reshape(-1))]
    Path(path).write_text("\n".join(rows) + "\n")


def bench_output(n_points: int):
    n = int(round(np.sqrt(n_points)))
    print(f"\n4. writing a {n}x{n} = {n * n:.2g}-point 2D scan")
    x, y = np.linspace(-1, 1, n), np.linspace(-0.5, 0.5, n)
    dchi2 = np.random.default_rng(0).exponential(5.0, size=(n, n))
    data = ScanData(grid=ScanGrid(names=["eps_ee_uV", "eps_ee_dV"], axes=[x, y]), chi2=dchi2,
                    argmin=np.zeros((n, n), dtype=np.int64))
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        write_scan_csv(Path(tmp) / "new.csv", data, dchi2)
        t_new = time.perf_counter() - t
        t = time.perf_counter()
        write_scan_npz(Path(tmp) / "new.npz", data, dchi2, 0.0)
        t_npz = time.perf_counter() - t
        t = time.perf_counter()
        _old_csv(Path(tmp) / "old.csv", x, y, dchi2)
        t_old = time.perf_counter() - t
        same = (Path(tmp) / "old.csv").read_bytes() == (Path(tmp) / "new.csv").read_bytes()
        size = (Path(tmp) / "new.csv").stat().st_size
    print(f"  CSV row by row (old): {t_old:.1f} s; block writer: {t_new:.1f} s ({t_old / t_new:.1f}x); "
          f".npz: {t_npz:.2f} s; identical text: {same}; CSV size {size / 1e6:.0f} MB")


if __name__ == "__main__":
    main()
