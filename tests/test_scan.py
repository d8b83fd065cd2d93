"""Tests of grid scans (cevns.stats.scan) and run_analysis outputs: intervals, contours, exclusion, resume."""

import json

import numpy as np
import pytest
from scipy import optimize, stats

from cevns.analysis import load_analysis, run_analysis
from cevns.stats import intervals as iv
from cevns.stats.executors import InProcessExecutor
from cevns.analysis import build_likelihood
from cevns.analysis import MemoryBudgetError, compute_scan, estimate_memory, make_grid, write_scan_csv
from cevns.stats.scan import ScanData, ScanGrid, analyse_scan, chunk_bounds, evaluate_grid

CSI = "coherent-csi-2017"


@pytest.fixture(scope="module")
def lik():
    return build_likelihood({"name": "t", "experiments": [{"experiment": CSI}]})


def _spec(scans, **exp):
    return load_analysis({"name": "t", "title": "test", "experiments": [{"experiment": CSI, **exp}], "scans": scans})


def _brentq_roots(f, x, threshold):
    """All crossings of f = threshold on a fine bracket grid, by brentq (independent of the scan code)."""
    xs = np.linspace(x[0], x[-1], 2001)
    g = f(xs) - threshold
    roots = []
    for a, b, ga, gb in zip(xs[:-1], xs[1:], g[:-1], g[1:]):
        if ga == 0:
            roots.append(a)
        elif ga * gb < 0:
            roots.append(optimize.brentq(lambda v: f(v)[0] - threshold, a, b, xtol=1e-13))
    return roots


@pytest.mark.parametrize("refine", [False, True])
def test_1d_disjoint_intervals_match_brentq(lik, refine):
    """eps_mumu_uV alone: the counts are quadratic in it -> two disjoint 90% CL intervals."""
    spec = _spec([{"name": "u", "parameters": ["eps_mumu_uV"], "ranges": [[-0.5, 1.0]], "points": [151],
                   "refine": refine, "confidence_levels": [0.9]}])
    scan = spec.scans[0]
    res, plot = analyse_scan(lik, scan, compute_scan(lik, spec, scan, progress=False))
    fine = np.linspace(-0.5, 1.0, 20001)
    chi2_min = min(lik.chi2({"eps_mumu_uV": fine}).min(), res["chi2_min"])
    t = stats.chi2.ppf(0.9, 1)
    assert res["threshold"]["0.9"] == pytest.approx(t, rel=1e-12)
    roots = _brentq_roots(lambda v: lik.chi2({"eps_mumu_uV": v}) - chi2_min, [-0.5, 1.0], t)
    got = res["intervals"]["0.9"]
    assert len(got) == 2 and len(roots) == 4
    flat = [v for pair in got for v in pair]
    tol = 1e-7 if refine else 2e-4  # linear interpolation on a 0.01 grid: O(h^2)
    np.testing.assert_allclose(flat, roots, atol=tol)
    if refine:  # refine_interval_roots on the same profile agrees as well
        again = iv.refine_interval_roots(lambda v: lik.chi2({"eps_mumu_uV": v})[0] - res["chi2_min"],
                                         iv.intervals_1d_detailed(plot["x"], plot["dchi2"], t), t)
        np.testing.assert_allclose([v for p in again for v in p], flat, atol=1e-9)


def test_2d_contour_extent_equals_1d_profile_interval(lik):
    """(eps_ee_uV, eps_mumu_uV): a closed ring; its x extent = the profiled 1D interval at the 2-dof threshold."""
    spec = _spec([
        {"name": "ring", "parameters": ["eps_ee_uV", "eps_mumu_uV"], "ranges": [[-1.0, 1.4], [-0.3, 0.7]],
         "points": [121, 81], "confidence_levels": [0.9]},
        {"name": "prof", "parameters": ["eps_ee_uV"], "ranges": [[-1.0, 1.4]], "points": [121], "dof": 2,
         "profile": [{"parameter": "eps_mumu_uV", "range": [-0.3, 0.7], "points": 401}],
         "confidence_levels": [0.9]}])
    r2, p2 = analyse_scan(lik, spec.scans[0], compute_scan(lik, spec, spec.scans[0], progress=False))
    r1, _ = analyse_scan(lik, spec.scans[1], compute_scan(lik, spec, spec.scans[1], progress=False))
    t2 = stats.chi2.ppf(0.9, 2)
    assert r1["threshold"]["0.9"] == pytest.approx(t2) and r2["threshold"]["0.9"] == pytest.approx(t2)
    lines = [np.array(c) for c in r2["contours"]["0.9"]]
    assert len(lines) == 2  # outer and inner boundary of the ring
    assert all(np.allclose(c[0], c[-1]) for c in lines)  # closed inside the scan
    (xlo, xhi), _ = iv.region_extent(lines)
    (lo, hi), = r1["intervals"]["0.9"]
    assert xlo == pytest.approx(lo, abs=2e-3) and xhi == pytest.approx(hi, abs=2e-3)
    # the 2D best fit lies on the valley: Delta chi2 = 0 up to the grid
    assert r2["chi2_min"] == pytest.approx(0.0, abs=0.05)


def test_asimov_scan_best_fit_and_profiled_values():
    spec = _spec([{"name": "u", "parameters": ["eps_ee_uV"], "ranges": [[-0.2, 0.3]], "points": [26],
                   "profile": [{"parameter": "eps_ee_dV", "range": [-0.05, 0.05], "points": 11}]}],
                 likelihood="poisson", data="asimov", asimov_parameters={"eps_ee_uV": 0.1})
    lk = build_likelihood(spec)
    res, _ = analyse_scan(lk, spec.scans[0], compute_scan(lk, spec, spec.scans[0], progress=False))
    # u and d are degenerate in the counts: the profiled minimum is 0 at several points along the valley
    assert res["chi2_min"] == pytest.approx(0.0, abs=1e-8)
    u, d = res["best_fit"], res["profiled_at_best_fit"]["eps_ee_dV"]
    assert lk.chi2({"eps_ee_uV": u, "eps_ee_dV": d})[0] == pytest.approx(res["chi2_min"], abs=1e-9)
    spec0 = _spec([{"name": "u", "parameters": ["eps_ee_uV"], "ranges": [[-0.2, 0.3]], "points": [26]}],
                  likelihood="poisson", data="asimov", asimov_parameters={"eps_ee_uV": 0.1})
    lk0 = build_likelihood(spec0)
    r0, _ = analyse_scan(lk0, spec0.scans[0], compute_scan(lk0, spec0, spec0.scans[0], progress=False))
    assert r0["best_fit"] == pytest.approx(0.1, abs=1e-6)
    assert r0["chi2_min"] == pytest.approx(0.0, abs=1e-9)


def test_sterile_exclusion_matches_averaged_oscillation_estimate(lik):
    """SM Asimov, (dm41_sq, u_mu4_sq): at large dm41 <sin^2> -> 1/2, so counts drop by N_mu A / 2
    with A = sin^2(2 theta) = 4u(1-u); the 90% CL (1 dof) exclusion solves the closed-form chi2.
    (Statistics-only single bin, detector mass x10, so that something is excluded.)"""
    spec = _spec([{"name": "st", "parameters": ["dm41_sq", "u_mu4_sq"], "ranges": [[200.0, 1000.0], [1e-3, 0.5]],
                   "points": [3, 121], "log": [True, True], "dof": 1, "exclusion": True,
                   "exclusion_method": "raster", "y_transform": "sin2_2theta", "confidence_levels": [0.9]}],
                 data="asimov", likelihood="single_bin_stat", overrides={"detector": {"mass_kg": 145.7}})
    lk = build_likelihood(spec)
    res, _ = analyse_scan(lk, spec.scans[0], compute_scan(lk, spec, spec.scans[0], progress=False))
    t = lk.terms[0]
    eng = lk.experiments[0].engine
    by = eng.predict({}).by_flavor()
    n_mu = float(by["nu_mu"][0] + by["nu_mu_bar"][0])
    n_sm = float(eng.total({})[0])

    def chi2(a):
        n = n_sm - 0.5 * n_mu * a
        return (n_sm - n) ** 2 / (t.n_meas + 2 * t.b_ss + t.b_on)

    a90 = optimize.brentq(lambda a: chi2(a) - stats.chi2.ppf(0.9, 1), 1e-6, 1.0)
    ex = res["exclusion"]["0.9"]
    assert res["y_transform"] == "sin2_2theta"
    assert 0.01 < a90 < 0.5
    assert ex["y"][-1] == pytest.approx(a90, rel=0.03)
    # the transform: the same curve computed on the raw u grid, mapped by 4u(1-u)
    data = compute_scan(lk, spec, spec.scans[0], progress=False)
    chi2 = data.chi2 - data.chi2.min(axis=0, keepdims=True)
    raw = iv.exclusion_curve(data.grid.axes[0], data.grid.axes[1], chi2, stats.chi2.ppf(0.9, 1), log_y=True)
    np.testing.assert_allclose(ex["y"], 4 * raw * (1 - raw), rtol=1e-12)


def test_run_analysis_outputs_and_resume(tmp_path):
    ana = {"name": "nsi", "title": "NSI test", "experiments": [{"experiment": CSI}],
           "scans": [{"name": "uV", "parameters": ["eps_ee_uV"], "ranges": [[-0.5, 1.0]], "points": [61],
                      "confidence_levels": [0.68, 0.9]},
                     {"name": "uV-dV", "parameters": ["eps_ee_uV", "eps_ee_dV"], "ranges": [[-1, 1], [-1, 1]],
                      "points": [41, 31]}]}
    spec = load_analysis(ana)
    out1 = tmp_path / "a"
    res1 = run_analysis(spec, out1, progress=False, chunk_points=200)
    names = sorted(p.name for p in out1.iterdir())
    assert names == sorted(["analysis.resolved.json", "results.json", "uV.csv", "uV.npz", "uV.png", "uV.pdf",
                            "uV-dV.csv", "uV-dV.npz", "uV-dV.png", "uV-dV.pdf"])  # no temporaries, no .partial left
    on_disk = json.loads((out1 / "results.json").read_text())
    assert on_disk == res1
    assert on_disk["scans"][0]["parameter"] == "eps_ee_uV" and set(on_disk["scans"][0]["intervals"]) == {"0.68", "0.9"}
    assert on_disk["scans"][1]["parameters"] == ["eps_ee_uV", "eps_ee_dV"]
    assert on_disk["scans"][1]["threshold"]["0.9"] == pytest.approx(stats.chi2.ppf(0.9, 2))
    csv1 = np.genfromtxt(out1 / "uV.csv", delimiter=",", names=True)
    assert csv1.dtype.names == ("x", "delta_chi2") and csv1.size == 61 and csv1["delta_chi2"].min() >= 0
    csv2 = np.genfromtxt(out1 / "uV-dV.csv", delimiter=",", names=True)
    assert csv2.dtype.names == ("x", "y", "delta_chi2") and csv2.size == 41 * 31
    resolved = json.loads((out1 / "analysis.resolved.json").read_text())
    assert resolved["analysis"]["experiments"][0]["likelihood"] == "single_bin_pulls"
    assert resolved["experiments"][0]["settings"]["physics"]["kinematics"] == "seed"
    assert load_analysis(resolved["analysis"]).to_dict() == spec.to_dict()

    # interrupted run: the executor dies after 3 chunks of the 2D scan
    class Dying(InProcessExecutor):
        def __init__(self, limit):
            self.limit, self.done = limit, 0

        def map_chunks(self, job, chunks):
            for item in super().map_chunks(job, chunks):
                if job.key.endswith(":uV-dV") and self.done >= self.limit:
                    raise KeyboardInterrupt
                self.done += job.key.endswith(":uV-dV")
                yield item

    class Counting(InProcessExecutor):
        def __init__(self):
            self.n = {}

        def map_chunks(self, job, chunks):
            self.n[job.key.rsplit(":", 1)[1]] = len(chunks)
            yield from super().map_chunks(job, chunks)

    out2 = tmp_path / "b"
    with pytest.raises(KeyboardInterrupt):
        run_analysis(spec, out2, executor=Dying(3), progress=False, chunk_points=200)
    partial = list((out2 / ".partial").glob("*/uV-dV-*/chunk-*.npz"))
    assert len(partial) == 3
    assert not (out2 / "results.json").exists()
    # another analysis run into the same folder leaves these chunks alone
    other = load_analysis({**ana, "name": "other", "fixed": {"sin2_theta_w": 0.24}, "scans": ana["scans"][:1]})
    run_analysis(other, out2, progress=False, chunk_points=200)
    assert len(list((out2 / ".partial").glob("*/uV-dV-*/chunk-*.npz"))) == 3
    counting = Counting()
    res2 = run_analysis(spec, out2, executor=counting, progress=False, chunk_points=200)
    n2d = len(chunk_bounds(41 * 31, 1, 200))
    assert counting.n["uV-dV"] == n2d - 3  # only the missing chunks were evaluated
    assert counting.n.get("uV", 0) == 0  # the finished 1D scan was resumed entirely
    assert res2 == res1
    assert (out2 / "uV-dV.csv").read_text() == (out1 / "uV-dV.csv").read_text()
    assert not (out2 / ".partial").exists()
    npz = np.load(out1 / "uV-dV.npz")
    assert npz["delta_chi2"].shape == (31, 41)
    np.testing.assert_allclose(npz["delta_chi2"].reshape(-1), csv2["delta_chi2"], rtol=1e-11, atol=1e-12)


def test_changed_scan_does_not_reuse_stale_chunks(tmp_path, lik):
    base = {"name": "s", "parameters": ["eps_ee_uV"], "ranges": [[-0.5, 1.0]], "points": [41]}
    spec_a = _spec([base])
    compute_scan(lik, spec_a, spec_a.scans[0], partial_root=tmp_path, progress=False, chunk_points=10)
    spec_b = _spec([dict(base, ranges=[[-0.4, 1.0]])])
    data = compute_scan(lik, spec_b, spec_b.scans[0], partial_root=tmp_path, progress=False, chunk_points=10)
    assert data.resumed_chunks == 0
    assert len(list(tmp_path.glob("s-*"))) == 1  # the stale folder was removed
    np.testing.assert_allclose(data.chi2, lik.chi2({"eps_ee_uV": np.linspace(-0.4, 1.0, 41)}), rtol=1e-13)


def test_evaluate_grid_and_chunking(lik):
    x = np.linspace(-1, 1, 7)
    y = np.linspace(-0.5, 0.5, 5)
    g = evaluate_grid(lik, {"eps_ee_uV": x, "eps_ee_dV": y})
    assert g.shape == (5, 7)
    X, Y = np.meshgrid(x, y)
    np.testing.assert_allclose(g, lik.chi2({"eps_ee_uV": X, "eps_ee_dV": Y}), rtol=1e-13)
    prof = evaluate_grid(lik, {"eps_ee_uV": x}, profile={"eps_ee_dV": y})
    np.testing.assert_allclose(prof, g.min(axis=0), rtol=1e-13)
    b = chunk_bounds(10007, 3, 1000)
    assert b[0][0] == 0 and b[-1][1] == 10007 and all(e == s2 for (_, e), (s2, _) in zip(b[:-1], b[1:]))
    assert len(b) >= 8
    spec = _spec([{"name": "p", "parameters": ["eps_ee_uV", "eps_ee_dV"], "ranges": [[-1, 1], [-0.5, 0.5]],
                   "points": [7, 5], "profile": [{"parameter": "sin2_theta_w", "range": [0.2, 0.25], "points": 3}]}])
    grid = make_grid(spec.scans[0])
    assert grid.shape == (5, 7) and grid.n_profile == 3
    vals = grid.outer_values(0, 8)
    np.testing.assert_allclose(vals["eps_ee_uV"], list(x) + [x[0]])
    np.testing.assert_allclose(vals["eps_ee_dV"], [y[0]] * 7 + [y[1]])


def test_nsi_profile_reports_both_degenerate_minima(tmp_path, lik):
    """Single-bin counts are quadratic in eps_ee_uV: two values give the same N_th, hence two equal minima."""
    spec = _spec([{"name": "uV", "parameters": ["eps_ee_uV"], "ranges": [[-0.2, 0.6]], "points": [81]}])
    res = run_analysis(spec, tmp_path, progress=False)["scans"][0]
    fits = res["best_fits"]
    assert res["best_fit"] == fits[0] and len(fits) == 2
    # both are minima of the continuous profile with the same chi2 (to 1e-6)
    c = lik.chi2({"eps_ee_uV": np.array(fits)})
    assert abs(c[0] - c[1]) < 1e-6 and abs(c[0] - res["chi2_min"]) < 1e-6
    # and they are the two roots of N_th(eps) = N_th(best): symmetric about the vertex of the quadratic
    xs = np.linspace(-0.2, 0.6, 2001)
    n = lik.signals({"eps_ee_uV": xs})[0]
    vertex = xs[np.argmin(n)] if np.ptp(n) > 0 else None
    assert vertex is not None and (fits[0] + fits[1]) / 2 == pytest.approx(vertex, abs=1e-3)
    # a single minimum is reported alone
    one = run_analysis(_spec([{"name": "s", "parameters": ["sin2_theta_w"], "ranges": [[0.15, 0.3]], "points": [31]}]),
                       tmp_path / "one", progress=False)["scans"][0]
    assert one["best_fits"] == [one["best_fit"]]


def test_memory_guard_refuses_before_writing(tmp_path):
    spec = _spec([{"name": "big", "parameters": ["eps_ee_uV", "eps_ee_dV"], "ranges": [[-1, 1], [-1, 1]],
                   "points": [100000, 100000]}])
    need = estimate_memory(spec)["big"]
    assert need >= 1e10 * 16  # at least chi2 + argmin per point
    out = tmp_path / "out"
    with pytest.raises(MemoryBudgetError, match=r"scan 'big' would need about .* GB .*budget of 1 MB"):
        run_analysis(spec, out, progress=False, max_memory_bytes=10**6)
    assert not out.exists()
    small = _spec([{"name": "s", "parameters": ["eps_ee_uV"], "ranges": [[-1, 1]], "points": [11]}])
    run_analysis(small, out, progress=False, max_memory_bytes=10**9)
    assert (out / "results.json").exists()


def test_csv_matches_python_formatting(tmp_path):
    """The block writer gives the same text as formatting each value with '{:.12g}'."""
    rng = np.random.default_rng(3)
    x = np.concatenate([[0.0, -0.0, 1e-300, 1e300, 123456789.123456789], rng.normal(size=6)])
    y = np.array([-2.5, 1e-7, 3.0])
    d = rng.normal(size=(3, 11)) * 10.0 ** rng.integers(-8, 8, size=(3, 11))
    data = ScanData(grid=ScanGrid(names=["a", "b"], axes=[x, y]), chi2=d, argmin=np.zeros((3, 11), dtype=np.int64))
    write_scan_csv(tmp_path / "s.csv", data, d, block_rows=4)  # x pieces of 4 values: 3 pieces per row
    xx, yy = np.tile(x, 3), np.repeat(y, 11)
    want = "x,y,delta_chi2\n" + "".join(f"{a:.12g},{b:.12g},{c:.12g}\n" for a, b, c in zip(xx, yy, d.reshape(-1)))
    assert (tmp_path / "s.csv").read_text() == want


def test_each_experiment_file_is_read_once_per_process(tmp_path, monkeypatch):
    import cevns.analysis.resolve as resolve

    calls = []
    real = resolve.load_experiment

    def counting(*args, **kw):
        calls.append(args[0])
        return real(*args, **kw)

    monkeypatch.setattr(resolve, "load_experiment", counting)
    resolve.clear_experiment_cache()
    spec = load_analysis({"name": "once", "experiments": [{"experiment": CSI}],
                          "scans": [{"name": "a", "parameters": ["eps_ee_uV"], "ranges": [[-0.5, 0.5]], "points": [5]},
                                    {"name": "b", "parameters": ["eps_ee_dV"], "ranges": [[-0.5, 0.5]], "points": [5]}]})
    run_analysis(spec, tmp_path, progress=False)
    run_analysis(spec, tmp_path / "again", progress=False)
    assert len(calls) == 1


@pytest.mark.parametrize("block_rows", [1, 3, 7, 1000])
def test_csv_1d_any_block_size(tmp_path, block_rows):
    x = np.linspace(-1, 1, 17)
    d = np.sin(7 * x) ** 2 * 1e3
    data = ScanData(grid=ScanGrid(names=["a"], axes=[x]), chi2=d, argmin=np.zeros(17, dtype=np.int64))
    write_scan_csv(tmp_path / "s.csv", data, d, block_rows=block_rows)
    assert (tmp_path / "s.csv").read_text() == "x,delta_chi2\n" + "".join(f"{a:.12g},{b:.12g}\n" for a, b in zip(x, d))
