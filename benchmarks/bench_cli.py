"""`cevns scan` end to end, before/after the refactor (issue 9 "Done when", CLI at 1e6 and 1e7 points).

    python benchmarks/bench_cli.py --before /path/to/f4e87a4/src [--after src] [--timeout 300] [--only NAME ...]

Writes one analysis TOML per case (COHERENT CsI 2017 as shipped, ``single_bin_pulls``, observed data, one
2D scan, confidence level 0.9) and runs ``python -m cevns scan FILE --out DIR --no-progress`` as a
subprocess, once with ``PYTHONPATH=<before src>`` and once with ``PYTHONPATH=<after src>``, one
BLAS/OpenMP thread each. For every run: wall time (``time.perf_counter`` around the subprocess) and peak
resident memory of the child (``ru_maxrss`` of the ``os.wait4`` rusage of that child, i.e. the
per-child value of ``resource.getrusage(RUSAGE_CHILDREN)``). A run that exceeds ``--timeout`` seconds is
killed (its process group) and reported as not finished. Prints a Markdown table; asserts nothing.

Cases (x runs fastest, as in the CSV):

* ``coupling-1e6``: (eps_ee_uV, eps_ee_dV) in [-1, 1]^2, 1000 x 1000;
* ``coupling-1e7``: the same, 3163 x 3163 (1.0005e7 points);
* ``sterile-1e6``: (dm41_sq in [0.1, 1e4] eV^2, u_mu4_sq in [1e-3, 0.5]), log axes, 1000 x 1000;
* ``rn-eps-1e6``: (rn in [3.5, 7] fm, eps_ee_dV in [-0.5, 0.5]), 1000 x 1000.

Finally the ``results.json`` of before and after for ``coupling-1e6`` are compared: every number present in
the before file must agree within 1e-9 relative (absolute floor 1e-12) in the after file; keys only the
after file has (added later, e.g. ``best_fits``) are ignored.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

CASES = {
    "coupling-1e6": (("eps_ee_uV", -1.0, 1.0, False), ("eps_ee_dV", -1.0, 1.0, False), 1000),
    "coupling-1e7": (("eps_ee_uV", -1.0, 1.0, False), ("eps_ee_dV", -1.0, 1.0, False), 3163),
    "sterile-1e6": (("dm41_sq", 0.1, 1e4, True), ("u_mu4_sq", 1e-3, 0.5, True), 1000),
    "rn-eps-1e6": (("rn", 3.5, 7.0, False), ("eps_ee_dV", -0.5, 0.5, False), 1000),
}
COMPARE_CASE = "coupling-1e6"
REL_TOL = 1e-9
ABS_FLOOR = 1e-12


def analysis_toml(case: str, n: int) -> str:
    """The analysis file of one benchmark case, ``n`` x ``n`` points (schema version 1, docs/analysis-format.md)."""
    (xn, xlo, xhi, xlog), (yn, ylo, yhi, ylog), _ = CASES[case]
    name = case.replace(".", "-")
    return f"""schema_version = 1
name = "bench-{name}"
title = "CLI benchmark {case}"

[[experiments]]
experiment = "coherent-csi-2017"
likelihood = "single_bin_pulls"

[[scans]]
name = "{name}"
parameters = ["{xn}", "{yn}"]
ranges = [[{xlo!r}, {xhi!r}], [{ylo!r}, {yhi!r}]]
points = [{n}, {n}]
log = [{str(xlog).lower()}, {str(ylog).lower()}]
confidence_levels = [0.9]
"""


def run_scan(src: Path, toml: Path, out: Path, timeout: float) -> dict:
    """Run ``python -m cevns scan`` with ``src`` first on PYTHONPATH; wall time, peak RSS, status."""
    env = dict(os.environ, PYTHONPATH=str(src), OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               MKL_NUM_THREADS="1", MPLBACKEND="Agg")
    cmd = [sys.executable, "-m", "cevns", "scan", str(toml), "--out", str(out), "--no-progress"]
    log = out.parent / f"{out.name}.log"
    with open(log, "wb") as fh:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
        killed = threading.Event()

        def kill():
            killed.set()
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

        timer = threading.Timer(timeout, kill)
        timer.start()
        _, status, usage = os.wait4(proc.pid, 0)  # rusage of this child only
        wall = time.perf_counter() - t0
        timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)  # already reaped: keep Popen from waiting
    rss_gb = usage.ru_maxrss * 1024 / 1e9  # ru_maxrss is in KiB on Linux
    if killed.is_set():
        state = f"killed after {timeout:.0f} s"
    elif proc.returncode != 0:
        tail = log.read_text(errors="replace").strip().splitlines()[-1:] or [""]
        state = f"failed (exit {proc.returncode}): {tail[0][:120]}"
    else:
        state = "ok"
    return {"wall_s": wall, "rss_gb": rss_gb, "state": state, "cpu_s": usage.ru_utime + usage.ru_stime}


def compare(before, after, path="", tol=REL_TOL) -> tuple[list[str], float, float]:
    """Compare two results.json trees; keys only ``after`` has are ignored.

    A number differs when ``|a - b| > tol * max(|a|, |b|) + ABS_FLOOR``. Returns the differences, the
    largest relative difference among numbers above ``ABS_FLOOR`` in magnitude (``chi2_min`` of a grid
    point on the best fit is zero to rounding, ~1e-12) and the largest absolute difference.
    """
    problems: list[str] = []
    worst_rel = worst_abs = 0.0

    def merge(res):
        nonlocal problems, worst_rel, worst_abs
        problems += res[0]
        worst_rel = max(worst_rel, res[1])
        worst_abs = max(worst_abs, res[2])

    if isinstance(before, dict):
        if not isinstance(after, dict):
            return [f"{path}: dict vs {type(after).__name__}"], 0.0, 0.0
        for k, v in before.items():
            if k not in after:
                problems.append(f"{path}/{k}: missing after")
            else:
                merge(compare(v, after[k], f"{path}/{k}", tol))
    elif isinstance(before, list):
        if not isinstance(after, list) or len(before) != len(after):
            n = len(after) if isinstance(after, list) else type(after).__name__
            return [f"{path}: length {len(before)} vs {n}"], 0.0, 0.0
        for i, (a, b) in enumerate(zip(before, after)):
            merge(compare(a, b, f"{path}[{i}]", tol))
    elif isinstance(before, (int, float)) and not isinstance(before, bool):
        if not isinstance(after, (int, float)) or isinstance(after, bool):
            return [f"{path}: {before!r} vs {after!r}"], 0.0, 0.0
        diff = abs(after - before)
        scale = max(abs(before), abs(after))
        if diff > tol * scale + ABS_FLOOR:
            problems.append(f"{path}: {before!r} vs {after!r} (rel {diff / scale:.2e})")
        worst_abs = diff
        worst_rel = diff / scale if scale > ABS_FLOOR else 0.0
    elif before != after:
        problems.append(f"{path}: {before!r} vs {after!r}")
    return problems, worst_rel, worst_abs


def report_comparison(work: Path, case: str = COMPARE_CASE) -> None:
    """Print whether ``results.json`` of ``case`` agrees before/after (outputs in ``work``)."""
    fb, fa = (work / f"{case}-{lab}" / "results.json" for lab in ("before", "after"))
    if not (fb.exists() and fa.exists()):
        print(f"\n{case}: no results.json to compare")
        return
    problems, rel, dabs = compare(json.loads(fb.read_text()), json.loads(fa.read_text()))
    verdict = "EQUAL" if not problems else f"DIFFERENT ({len(problems)} values)"
    print(f"\n{case} results.json before vs after: {verdict} within {REL_TOL:g} relative (absolute floor "
          f"{ABS_FLOOR:g}); max relative difference {rel:.2e} (numbers above {ABS_FLOOR:g}), "
          f"max absolute difference {dabs:.2e}")
    for p in problems[:20]:
        print("  ", p)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", type=Path, required=True, help="src folder of the base commit (f4e87a4)")
    parser.add_argument("--after", type=Path, default=Path(__file__).resolve().parents[1] / "src",
                        help="src folder of the new code (default: this tree)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per run before it is killed")
    parser.add_argument("--only", nargs="+", choices=list(CASES), default=list(CASES))
    parser.add_argument("--axis-points", type=int, default=None,
                        help="points per axis for every case (a quick check; default: the case's own)")
    parser.add_argument("--compare-only", action="store_true",
                        help="only compare the results.json already in --keep (no runs)")
    parser.add_argument("--keep", type=Path, default=None, help="keep the outputs in this folder")
    args = parser.parse_args(argv)

    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench_cli_"))
    work.mkdir(parents=True, exist_ok=True)
    if args.compare_only:
        for case in args.only:
            report_comparison(work, case)
        return
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load average at start "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}, {os.cpu_count()} cores; outputs in {work}",
          flush=True)
    rows = []
    try:
        for case in args.only:
            toml = work / f"{case}.toml"
            m = args.axis_points or CASES[case][2]
            toml.write_text(analysis_toml(case, m))
            n = m * m
            for label, src in (("before", args.before), ("after", args.after)):
                out = work / f"{case}-{label}"
                shutil.rmtree(out, ignore_errors=True)
                r = run_scan(src.resolve(), toml, out, args.timeout)
                r.update(case=case, label=label, points=n, load=os.getloadavg()[0])
                rows.append(r)
                print(f"{case:13s} {label:6s} {r['wall_s']:8.1f} s  {r['rss_gb']:6.2f} GB  "
                      f"load {r['load']:.1f}  {r['state']}", flush=True)
                if case != COMPARE_CASE:  # 1e7 CSVs are ~0.5 GB each: drop them once timed
                    for f in out.glob("*.csv"):
                        f.unlink()

        print("\n| case | points | before: wall | before: peak RSS | after: wall | after: peak RSS | speed-up |")
        print("|---|---|---|---|---|---|---|")
        for case in args.only:
            b, a = (next(r for r in rows if r["case"] == case and r["label"] == lab) for lab in ("before", "after"))

            def cell(r):
                if r["state"] != "ok":
                    return r["state"], "-"
                return f"{r['wall_s']:.1f} s", f"{r['rss_gb']:.2f} GB"

            ratio = f"{b['wall_s'] / a['wall_s']:.1f}x" if b["state"] == a["state"] == "ok" else "-"
            m = int(round(b["points"] ** 0.5))
            before_cells, after_cells = " | ".join(cell(b)), " | ".join(cell(a))
            print(f"| {case} | {m} x {m} = {b['points']:.4g} | {before_cells} | {after_cells} | {ratio} |")

        if COMPARE_CASE in args.only:
            report_comparison(work)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
