"""Executors that evaluate the chunks of a scan: in process, or on a dask.distributed cluster.

An executor has ``map_chunks(job, chunks)``: ``chunks`` is a list of ``(index, start, stop)`` (flat
outer-grid indices of a scan) and the method yields ``(index, (chi2, argmin))`` as chunks complete,
in any order. The caller stores each chunk as it arrives, so an interrupted distributed scan resumes
like a local one.

A :class:`ChunkJob` carries a picklable ``build`` callable (provided by the layer that owns the
scan description, :mod:`cevns.analysis`) returning ``(likelihood, grid)``, and a ``key`` naming
what it builds. Dask workers receive only these; each worker process calls ``build`` once per key and
keeps the result in a small per-process cache, so the experiments are built once per worker, not
once per chunk. In process, the already-built likelihood and grid are used directly.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

from ..errors import ConfigError
from .scan import evaluate_chunk

__all__ = ["ChunkJob", "InProcessExecutor", "DaskExecutor", "make_executor", "remote_chunk", "cached_build"]


@dataclass
class ChunkJob:
    """What a chunk evaluation needs.

    Attributes
    ----------
    key : str
        Identifies what ``build`` returns (e.g. a hash of the analysis and the scan name).
    build : callable
        Picklable, no arguments, returns ``(likelihood, grid)`` (called on remote workers).
    likelihood, grid : optional
        Already built (used in process instead of ``build``).
    """

    key: str
    build: Callable
    likelihood: object = None
    grid: object = None


_CACHE: dict = {}
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 4


def cached_build(key: str, build: Callable):
    """``build()`` once per process and key (small LRU cache of the last few keys)."""
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
        if hit is not None:
            return hit
        value = build()
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = value
        return value


def remote_chunk(key: str, build: Callable, start: int, stop: int):
    """Evaluate one chunk (the function run on dask workers): ``(chi2, argmin)``.

    Parameters
    ----------
    key : str
        Names what ``build`` returns (the per-process cache key).
    build : callable
        No arguments, returns ``(likelihood, grid)``; called once per worker process and key.
    start, stop : int
        Flat outer-grid indices of the chunk, ``[start, stop)``.

    Returns
    -------
    chi2, argmin : numpy.ndarray
        See :func:`cevns.stats.scan.evaluate_chunk`.
    """
    lik, grid = cached_build(key, build)
    return evaluate_chunk(lik, grid, int(start), int(stop))


class InProcessExecutor:
    """Evaluate chunks one after the other in this process."""

    def map_chunks(self, job: ChunkJob, chunks: Sequence[tuple[int, int, int]]) -> Iterator:
        """Evaluate chunks one after the other in this process.

        Parameters
        ----------
        job : ChunkJob
            The likelihood and grid (or a ``build`` callable returning them).
        chunks : sequence of (int, int, int)
            ``(index, start, stop)`` of each chunk.

        Yields
        ------
        index : int
            The chunk's index.
        result : tuple of numpy.ndarray
            ``(chi2, argmin)`` of :func:`cevns.stats.scan.evaluate_chunk`.
        """
        if job.likelihood is not None and job.grid is not None:
            lik, grid = job.likelihood, job.grid
        else:
            lik, grid = cached_build(job.key, job.build)
        for i, s, e in chunks:
            yield i, evaluate_chunk(lik, grid, s, e)

    def close(self):
        """Release resources (nothing to do in process)."""
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
        """Submit every chunk to the cluster and yield results as they complete (in any order).

        Chunks not yet finished are cancelled when the generator is closed (e.g. on an interrupt).

        Parameters
        ----------
        job : ChunkJob
            ``key`` and picklable ``build`` callable shipped to the workers.
        chunks : sequence of (int, int, int)
            ``(index, start, stop)`` of each chunk.

        Yields
        ------
        index : int
            The chunk's index.
        result : tuple of numpy.ndarray
            ``(chi2, argmin)`` of :func:`cevns.stats.scan.evaluate_chunk`.
        """
        from distributed import as_completed

        futures = {}
        for i, s, e in chunks:
            fut = self.client.submit(remote_chunk, job.key, job.build, s, e, pure=False)
            futures[fut] = i
        try:
            for fut in as_completed(futures):
                yield futures[fut], fut.result()
        finally:
            for fut in futures:
                if not fut.done():
                    fut.cancel()

    def close(self):
        """Close the client, and the local cluster, if this executor created them."""
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
    """The executor for the CLI options ``--dask-scheduler ADDRESS`` / ``--dask-local N`` (or in process).

    Parameters
    ----------
    dask_scheduler : str, optional
        Address of a running dask scheduler (e.g. ``tcp://host:8786``).
    dask_local : int, optional
        Number of workers of a local dask cluster to start.

    Returns
    -------
    InProcessExecutor or DaskExecutor

    Raises
    ------
    ConfigError
        If both options are given.
    """
    if dask_scheduler is not None and dask_local is not None:
        raise ConfigError("use either --dask-scheduler or --dask-local, not both")
    if dask_scheduler is not None:
        return DaskExecutor(address=dask_scheduler)
    if dask_local is not None:
        return DaskExecutor(n_workers=dask_local)
    return InProcessExecutor()
