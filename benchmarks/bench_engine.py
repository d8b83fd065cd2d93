"""Engine speed before/after the registry engine (issue 9 "Engine speed"): prints points/s, asserts nothing.

    python benchmarks/bench_engine.py [--sizes 1e5 1e6] [--before-max 1e5] [--base f4e87a4]

Runs the same grids through ``RateEngine.total`` (the single-bin scan path; ``predict().per_bin`` for the
"per bin" row, the binned-likelihood path) in chunks of 65536 points
(``cevns.stats.scan.DEFAULT_CHUNK_POINTS``, x fastest as in a scan) twice, each in a fresh subprocess
with one BLAS/OpenMP thread:

* *before*: the package of the base commit (``git archive <base> src`` into a temporary folder);
* *after*: this worktree's ``src``.

Grids on COHERENT CsI 2017 (x by y, sqrt(N) values per axis):

* ``coupling``: (eps_ee_uV, eps_ee_dV) in [-0.5, 0.5]^2;
* ``rn``: (rn in [4, 7] fm, sin2_theta_w in [0.2, 0.26]);
* ``zprime``: (zprime_mass in [1, 1000] MeV log, zprime_coupling in [1e-6, 1e-4] log);
* ``sterile``: (dm41_sq in [0.1, 1e4] eV^2 log, u_mu4_sq in [1e-3, 0.5] log), scan order and y fastest.

Each timing is the best of up to three cold passes (fresh engine: kernel caches empty, so the
per-distinct-value work is included; one pass if it takes over 5 s).
The *before* code is only run up to ``--before-max`` points for the shape-changing grids (its sterile
grid runs at a few thousand points/s).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

import numpy as np

CHUNK = 1 << 16
GRIDS = {
    "coupling": (("eps_ee_uV", -0.5, 0.5, False), ("eps_ee_dV", -0.5, 0.5, False)),
    "coupling, per bin": (("eps_ee_uV", -0.5, 0.5, False), ("eps_ee_dV", -0.5, 0.5, False)),
    "rn": (("rn", 4.0, 7.0, False), ("sin2_theta_w", 0.2, 0.26, False)),
    "zprime": (("zprime_mass", 1.0, 1000.0, True), ("zprime_coupling", 1e-6, 1e-4, True)),
    "sterile": (("dm41_sq", 0.1, 1e4, True), ("u_mu4_sq", 1e-3, 0.5, True)),
    "sterile (y fastest)": (("u_mu4_sq", 1e-3, 0.5, True), ("dm41_sq", 0.1, 1e4, True)),
}


def _axis(lo, hi, n, log):
    return np.logspace(np.log10(lo), np.log10(hi), n) if log else np.linspace(lo, hi, n)


def _points(grid, n):
    m = int(round(np.sqrt(n)))
    (xn, xlo, xhi, xlog), (yn, ylo, yhi, ylog) = GRIDS[grid]
    x, y = np.meshgrid(_axis(xlo, xhi, m, xlog), _axis(ylo, yhi, m, ylog))  # x fastest
    return {xn: x.ravel(), yn: y.ravel()}


def worker(sizes, before_max, label):
    """Time every grid with the ``cevns`` on sys.path; print one JSON line."""
    from cevns.experiments import load_experiment

    rows = []
    for grid in GRIDS:
        for n in sizes:
            if label == "before" and not grid.startswith("coupling") and n > before_max:
                continue
            pts = _points(grid, n)
            size = pts[next(iter(pts))].size
            best = np.inf
            for _ in range(3):  # best of 3 cold passes (fewer if a pass is slow): the machine is shared
                eng = load_experiment("coherent-csi-2017").engine
                t = time.perf_counter()
                acc = 0.0
                f = (lambda p: eng.predict(p).per_bin) if grid.endswith("per bin") else eng.total
                for s in range(0, size, CHUNK):
                    acc += float(f({k: v[s:s + CHUNK] for k, v in pts.items()}).sum())
                dt = time.perf_counter() - t
                best = min(best, dt)
                if dt > 5.0:
                    break
            rows.append({"grid": grid, "n": size, "seconds": best, "checksum": acc})
    print(json.dumps(rows))


def _run(src: Path, label: str, args) -> list:
    env = dict(os.environ, PYTHONPATH=str(src), OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               MKL_NUM_THREADS="1")
    cmd = [sys.executable, __file__, "--worker", label, "--sizes", *map(str, args.sizes),
           "--before-max", str(args.before_max)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=float, nargs="+", default=[1e5, 1e6])
    ap.add_argument("--before-max", type=float, default=1e5)
    ap.add_argument("--base", default="f4e87a4")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.sizes = [int(s) for s in args.sizes]
    if args.worker:
        worker(args.sizes, args.before_max, args.worker)
        return
    repo = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as tmp:
        blob = subprocess.run(["git", "-C", str(repo), "archive", args.base, "src"], capture_output=True,
                              check=True).stdout
        with tarfile.open(fileobj=BytesIO(blob)) as tar:
            tar.extractall(tmp, filter="data")
        before = _run(Path(tmp) / "src", "before", args)
    after = _run(repo / "src", "after", args)
    old = {(r["grid"], r["n"]): r for r in before}
    print(f"RateEngine.total, COHERENT CsI 2017, chunks of {CHUNK}, one thread, cold caches, best of 3")
    print(f"| grid | points | before [points/s] | after [points/s] | after [ns/point] | speed-up |")
    print("|---|---|---|---|---|---|")
    for r in after:
        b = old.get((r["grid"], r["n"]))
        rate = r["n"] / r["seconds"]
        brate = f"{b['n'] / b['seconds']:.3g}" if b else "not run"
        up = f"{b['seconds'] / r['seconds']:.0f}x" if b else "-"
        print(f"| {r['grid']} | {r['n']:.0e} | {brate} | {rate:.3g} | {1e9 / rate:.0f} | {up} |")
        if b and not r["grid"].startswith("sterile"):  # sterile: the default averaging changed
            rel = abs(r["checksum"] / b["checksum"] - 1)
            if rel > 1e-9:
                print(f"  (checksum differs by {rel:.1e})")


if __name__ == "__main__":
    main()
