"""Speed with nuisances (issue 10, item 7): a 100 x 100 (eps_ee_uV, eps_ee_dV) scan of COHERENT CsI 2021.

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 PYTHONPATH=src python benchmarks/coherent_csi_2021_nsi_scan.py

Every nuisance is profiled at every grid point: CEvNS normalisation (flux, 10 %), the two scintillation
principal components, the energy efficiency, the beam-timing onset, BRN and NIN normalisations, the
steady-state on/off ratio and its nine off-sample means (17 parameters). The vectorised path
(``template_poisson``: templates from the rate engine at each point, damped Newton steps over all points
at once) is timed on the whole grid; the reference is one iminuit MIGRAD per point
(:class:`cevns.stats.binned_templates.TemplateLikelihood`, its on/off means profiled internally, SIMPLEX then
MIGRAD from the same warm start; also MIGRAD alone) on a random sample of grid points. Both use one thread. Prints points/s, the ratio,
and the largest |Delta-chi2 difference| over the sampled points.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from cevns.experiments import load_experiment
from cevns.stats.template_term import TemplatePoisson


def main(n: int = 100, n_ref: int = 40, chunk: int = 2000) -> None:
    exp = load_experiment("coherent-csi-2021")
    term = TemplatePoisson.from_experiment(exp, label="CsI 2021", dataset="e0", fixed={"sin2_theta_w": 0.23857})
    u, d = np.meshgrid(np.linspace(-0.6, 0.6, n), np.linspace(-0.6, 0.6, n), indexing="ij")
    u, d = u.ravel(), d.ravel()
    term.chi2_of_signal(term.signal({"eps_ee_uV": u[:10], "eps_ee_dV": d[:10]}, 10))  # engines, warm start
    t0 = time.perf_counter()
    chi2 = np.empty(u.size)
    iters = []
    for lo in range(0, u.size, chunk):
        hi = min(u.size, lo + chunk)
        sig = term.templates({"sin2_theta_w": 0.23857, "eps_ee_uV": u[lo:hi], "eps_ee_dV": d[lo:hi]}, hi - lo)
        res = term.profile(sig, hi - lo)
        chi2[lo:hi] = res.chi2
        iters.append(res.iterations)
    t_vec = time.perf_counter() - t0
    dchi2 = chi2 - chi2.min()
    rng = np.random.default_rng(0)
    idx = np.concatenate([[int(np.argmin(chi2))], rng.choice(u.size, n_ref - 1, replace=False)])
    t0 = time.perf_counter()
    ref = np.array([term.minuit_chi2({"sin2_theta_w": 0.23857, "eps_ee_uV": u[i], "eps_ee_dV": d[i]}) for i in idx])
    t_ref = (time.perf_counter() - t0) / idx.size
    diff = (chi2[idx] - chi2[idx[0]]) - (ref - ref[0])
    t0 = time.perf_counter()
    ref2 = np.array([term.minuit_chi2({"sin2_theta_w": 0.23857, "eps_ee_uV": u[i], "eps_ee_dV": d[i]}, simplex=False)
                     for i in idx])
    t_ref2 = (time.perf_counter() - t0) / idx.size
    diff2 = (chi2[idx] - chi2[idx[0]]) - (ref2 - ref2[0])
    rate = u.size / t_vec
    print(f"grid {n} x {n} = {u.size} points, chunks of {chunk}, Newton iterations per chunk {min(iters)}-{max(iters)}")
    print(f"vectorised profile: {t_vec:.2f} s = {rate:.0f} points/s (templates + profile)")
    print(f"iminuit per point:  {t_ref * 1e3:.1f} ms = {1 / t_ref:.1f} points/s (mean of {idx.size} points)")
    print(f"speed-up: {rate * t_ref:.0f}x")
    print(f"max |Delta-chi2 (vectorised) - Delta-chi2 (iminuit)| over the sample: {np.max(np.abs(diff)):.4f}")
    print(f"MIGRAD only (no SIMPLEX): {t_ref2 * 1e3:.1f} ms per point, speed-up {rate * t_ref2:.0f}x, "
          f"max |Delta-chi2 difference| {np.max(np.abs(diff2)):.4f}")
    print(f"chi2_min {chi2.min():.3f} at (eps_ee_uV, eps_ee_dV) = ({u[np.argmin(chi2)]:.3f}, {d[np.argmin(chi2)]:.3f}); "
          f"90% CL (2 dof) area fraction {np.mean(dchi2 < 4.605):.3f}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--n-ref", type=int, default=40)
    ap.add_argument("--chunk", type=int, default=2000)
    a = ap.parse_args()
    main(a.n, a.n_ref, a.chunk)
