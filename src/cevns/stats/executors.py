"""Executors that evaluate the chunks of a scan: in process, or on a dask.distributed cluster.

An executor has ``map_chunks(job, chunks)``: ``chunks`` is a list of ``(index, start, stop)`` (flat
outer-grid indices of a scan) and the method yields ``(index, (chi2, argmin))`` as chunks complete,
in any order. The caller (:func:`cevns.stats.scan.compute_scan`) stores each chunk as it arrives, so
an interrupted distributed scan resumes like a local one.

Dask workers receive only the resolved analysis (a JSON-compatible dict) and the scan name; each
worker process rebuilds the likelihood once and keeps it in a small per-process cache keyed by a hash
of the analysis, so the experiments are built once per worker, not once per chunk.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from typing import Iterator, Sequence

from ..errors import ConfigError

__all__ = ["ChunkJob", "InProcessExecutor", "DaskExecutor", "make_executor", "remote_chunk", "cached_likelihood"]


@dataclass
class ChunkJob:
    """What a chunk evaluation needs: the resolved analysis and the scan name (enough for a remote
    worker), and locally the likelihood and grid already built."""

    analysis: dict
    scan_name: str
    likelihood: object = None
    grid: object = None


_CACHE: dict = {}
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 4


def _key(analysis: dict) -> str:
    return hashlib.sha256(json.dumps(analysis, sort_keys=True, default=str).encode()).hexdigest()


def cached_likelihood(analysis: dict):
    """The likelihood of a resolved analysis dict, built once per process (small LRU cache)."""
    from ..analysis import load_analysis
    from .likelihood import build_likelihood

    key = _key(analysis)
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
        if hit is not None:
            return hit
        spec = load_analysis(analysis)
        lik = build_likelihood(spec)
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = (spec, lik)
        return spec, lik


def remote_chunk(analysis: dict, scan_name: str, start: int, stop: int):
    """Evaluate one chunk from the resolved analysis (the function run on dask workers)."""
    from .scan import evaluate_chunk, make_grid

    spec, lik = cached_likelihood(analysis)
    grid = make_grid(spec.scan(scan_name))
    return evaluate_chunk(lik, grid, int(start), int(stop))


class InProcessExecutor:
    """Evaluate chunks one after the other in this process."""

    def map_chunks(self, job: ChunkJob, chunks: Sequence[tuple[int, int, int]]) -> Iterator:
        from .scan import evaluate_chunk, make_grid

        if job.likelihood is not None:
            lik = job.likelihood
        else:
            spec, lik = cached_likelihood(job.analysis)
        if job.grid is not None:
            grid = job.grid
        else:
            from ..analysis import load_analysis

            grid = make_grid(load_analysis(job.analysis).scan(job.scan_name))
        for i, s, e in chunks:
            yield i, evaluate_chunk(lik, grid, s, e)

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


class DaskExecutor:
    """Evaluate chunks on a dask.distributed cluster.

    Parameters
    ----------
    address : str, optional
        Scheduler address of an existing cluster (``tcp://host:8786``).
    n_workers : int, optional
        Start a ``LocalCluster`` with this many single-threaded worker processes instead.
    client : distributed.Client, optional
        Use this client (not closed by :meth:`close`).
    processes : bool, optional
        For ``n_workers``: worker processes (default) or threads of this process.
    """

    def __init__(self, address: str | None = None, n_workers: int | None = None, client=None,
                 processes: bool = True):
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise ConfigError("dask executors need dask.distributed: pip install 'cevns[dask]'") from None
        given = sum(x is not None for x in (address, n_workers, client))
        if given != 1:
            raise ConfigError("give exactly one of a scheduler address, a number of local workers, or a client")
        self._own_client = client is None
        self._cluster = None
        if client is not None:
            self.client = client
        elif address is not None:
            try:
                self.client = Client(address, timeout="20s")
            except (OSError, TimeoutError) as exc:
                raise ConfigError(f"cannot connect to the dask scheduler at {address!r}: {exc}") from None
        else:
            if int(n_workers) < 1:
                raise ConfigError(f"--dask-local needs at least 1 worker, got {n_workers}")
            self._cluster = LocalCluster(n_workers=int(n_workers), threads_per_worker=1, processes=processes,
                                         dashboard_address=None)
            self.client = Client(self._cluster)

    def map_chunks(self, job: ChunkJob, chunks: Sequence[tuple[int, int, int]]) -> Iterator:
        from distributed import as_completed

        futures = {}
        for i, s, e in chunks:
            fut = self.client.submit(remote_chunk, job.analysis, job.scan_name, s, e, pure=False)
            futures[fut] = i
        try:
            for fut in as_completed(futures):
                yield futures[fut], fut.result()
        finally:
            for fut in futures:
                if not fut.done():
                    fut.cancel()

    def close(self):
        if self._own_client:
            self.client.close()
            if self._cluster is not None:
                self._cluster.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def make_executor(dask_scheduler: str | None = None, dask_local: int | None = None):
    """The executor for the CLI options ``--dask-scheduler ADDRESS`` / ``--dask-local N`` (or in process)."""
    if dask_scheduler is not None and dask_local is not None:
        raise ConfigError("use either --dask-scheduler or --dask-local, not both")
    if dask_scheduler is not None:
        return DaskExecutor(address=dask_scheduler)
    if dask_local is not None:
        return DaskExecutor(n_workers=dask_local)
    return InProcessExecutor()
