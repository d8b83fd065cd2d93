"""Scans on a dask.distributed cluster give the same results as in process (cevns.stats.executors)."""

import json
import os
import pickle

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")

from cevns.analysis.build import chunk_job  # noqa: E402
from cevns.analysis import build_likelihood, load_analysis, make_grid, run_analysis, scan_inputs  # noqa: E402
from cevns.errors import ConfigError  # noqa: E402
from cevns.stats.executors import DaskExecutor, InProcessExecutor, cached_build, make_executor, remote_chunk  # noqa: E402
from cevns.stats.scan import evaluate_chunk  # noqa: E402

ANALYSIS = {
    "name": "dask-test",
    "title": "dask vs in-process",
    "experiments": [{"experiment": "coherent-csi-2017", "likelihood": "single_bin_pulls"},
                    {"experiment": "coherent-csi-2017", "likelihood": "poisson", "data": "asimov",
                     "asimov_parameters": {"eps_ee_uV": 0.05}, "label": "CsI Asimov"}],
    "scans": [
        {"name": "u1d", "parameters": ["eps_ee_uV"], "ranges": [[-0.4, 0.8]], "points": [31],
         "profile": [{"parameter": "eps_ee_dV", "range": [-0.1, 0.1], "points": 5}]},
        {"name": "u2d", "parameters": ["eps_ee_uV", "eps_ee_dV"], "ranges": [[-0.4, 0.8], [-0.3, 0.3]],
         "points": [25, 21], "confidence_levels": [0.68, 0.9]},
    ],
}


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None)
    cl = distributed.Client(cluster)
    yield cl
    cl.close()
    cluster.close()


def test_dask_results_identical_to_in_process(tmp_path, client):
    spec = load_analysis(ANALYSIS)
    local = run_analysis(spec, tmp_path / "local", executor=InProcessExecutor(), progress=False, chunk_points=64)
    with DaskExecutor(client=client) as ex:
        remote = run_analysis(spec, tmp_path / "dask", executor=ex, progress=False, chunk_points=64)
    assert remote == local
    for name in ("u1d.csv", "u2d.csv", "results.json"):
        assert (tmp_path / "dask" / name).read_text() == (tmp_path / "local" / name).read_text()
    assert not (tmp_path / "dask" / ".partial").exists()
    assert client.status == "running"  # a given client is not closed by the executor


def test_remote_chunk_rebuilds_and_caches_the_likelihood():
    spec = load_analysis(ANALYSIS)
    d = json.loads(json.dumps(spec.to_dict()))
    calls = []

    def build():
        calls.append(1)
        return scan_inputs(d, "u2d")

    lik1, grid1 = cached_build("k-test", build)
    lik2, _ = cached_build("k-test", build)
    assert lik1 is lik2 and len(calls) == 1  # built once per process and key
    c, a = remote_chunk("k-test", build, 5, 40)
    lik_ref = build_likelihood(spec)
    c_ref, a_ref = evaluate_chunk(lik_ref, make_grid(spec.scan("u2d")), 5, 40)
    np.testing.assert_array_equal(c, c_ref)
    np.testing.assert_array_equal(a, a_ref)


def test_scan_builder_is_picklable():
    """What a dask worker receives: a picklable builder of the likelihood (no analysis objects needed)."""
    spec = load_analysis(ANALYSIS)
    job = chunk_job(spec, spec.scan("u1d"))
    lik, grid = pickle.loads(pickle.dumps(job.build))()
    assert grid.names == ["eps_ee_uV"] and lik.labels == [e.label for e in spec.experiments]


def test_executor_options():
    assert isinstance(make_executor(), InProcessExecutor)
    with pytest.raises(ConfigError, match="either"):
        make_executor(dask_scheduler="tcp://127.0.0.1:1", dask_local=2)
    with pytest.raises(ConfigError, match="exactly one"):
        DaskExecutor()
    with pytest.raises(ConfigError, match="at least 1 worker"):
        DaskExecutor(n_workers=0)


# The plug-in likelihood kinds (template_poisson of the COHERENT template experiments, xenonnt_8b of the
# XENONnT solar 8B release) on worker PROCESSES started by make_executor(dask_local=2): each worker unpickles
# the builder and rebuilds the experiment, its data and the term from the resolved analysis.
def _sin2w_analysis(experiment, kind):
    return {"name": f"dask-{kind}", "title": f"dask vs in-process, {kind}",
            "experiments": [{"experiment": experiment, "likelihood": kind, "data": "observed",
                             "settings": {"coupling_scheme": "tree"}}],
            "scans": [{"name": "s2w", "parameters": ["sin2_theta_w"], "ranges": [[0.1, 0.4]], "points": [9],
                       "confidence_levels": [0.6827, 0.9]}]}


def _solar_pair_analysis():
    """XENONnT 8B + PandaX-4T 8B sharing one 8B flux across likelihood families (cevns.stats.cross_family)."""
    doc = _sin2w_analysis("xenonnt-8b", "xenonnt_8b")
    doc["name"], doc["title"] = "dask-solar-pair", "dask vs in-process, shared 8B flux across families"
    doc["experiments"][0]["label"] = "XENONnT 8B"
    doc["experiments"].append({"experiment": "pandax-4t-8b", "label": "PandaX-4T 8B", "likelihood": "poisson",
                               "data": "observed", "settings": {"coupling_scheme": "tree"}})
    doc["correlations"] = [{"name": "solar_8b_flux", "sigma": 0.12, "members": [
        {"experiment": "XENONnT 8B", "nuisance": "flux_8B"}, {"experiment": "PandaX-4T 8B", "nuisance": "flux_8b"}]}]
    return doc


PLUGIN_ANALYSES = [_sin2w_analysis("coherent-ar-2020", "template_poisson"),
                   _sin2w_analysis("xenonnt-8b", "xenonnt_8b"), _solar_pair_analysis()]


@pytest.fixture(scope="module")
def process_executor():
    with make_executor(dask_local=2) as ex:
        yield ex


@pytest.mark.parametrize("analysis", PLUGIN_ANALYSES, ids=lambda a: a["name"])
def test_plugin_kinds_on_worker_processes_match_in_process(tmp_path, process_executor, analysis):
    spec = load_analysis(analysis)
    local = run_analysis(spec, tmp_path / "local", executor=InProcessExecutor(), progress=False, chunk_points=2)
    remote = run_analysis(spec, tmp_path / "dask", executor=process_executor, progress=False, chunk_points=2)
    # the chunks ran in other processes (so the builder was pickled and the likelihood rebuilt there)
    assert os.getpid() not in set(process_executor.client.run(os.getpid).values())
    assert remote == local
    for name in ("s2w.csv", "results.json"):
        assert (tmp_path / "dask" / name).read_text() == (tmp_path / "local" / name).read_text()
    # not a trivial agreement: a finite chi2 profile with its minimum inside the range
    np.testing.assert_array_equal(remote.grids["s2w"]["dchi2"], local.grids["s2w"]["dchi2"])
    dchi2 = np.asarray(remote.grids["s2w"]["dchi2"])
    assert np.all(np.isfinite(dchi2)) and 0 < int(np.argmin(dchi2)) < dchi2.size - 1 and dchi2.max() > 1.0
