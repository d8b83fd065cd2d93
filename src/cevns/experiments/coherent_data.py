"""Readers of the COHERENT CsI 2021 and LAr 2020 release files, and binning of event lists.

Formats (see the PROVENANCE.md next to each data folder):

* CsI 2021 event lists ``dataBeamOn{C,AC}.txt``: ``PE  t_rec[us]`` per line, ``#`` comments;
* CsI 2021 PDFs ``{brn,nin}{PE,Trec}.txt``: ``bin_center value`` on unit-width (1 PE, 10 ns) bins;
* CsI 2021 coefficient files: blocks of 4 numbers per non-comment line;
* LAr 2020 3D PDFs: ``E[keVee] F90 t[us] value`` on a 12 x 8 x 10 grid (energy slowest, time fastest).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import ConfigError

__all__ = [
    "read_event_list",
    "read_binned_pdf",
    "read_coefficient_sets",
    "read_3d_table",
    "check_edges_in_range",
    "bin_events",
    "rebin_fine_pdf",
]


def _load(path: Path, ncol: int, what: str) -> np.ndarray:
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{what}: file {path} not found")
    try:
        arr = np.loadtxt(path, comments="#", ndmin=2)
    except ValueError as exc:
        raise ConfigError(f"{path.name}: malformed {what} ({exc})") from None
    if arr.shape[1] != ncol:
        raise ConfigError(f"{path.name}: expected {ncol} columns for {what}, got {arr.shape[1]}")
    if not np.all(np.isfinite(arr)):
        raise ConfigError(f"{path.name}: {what} contains non-finite values")
    return arr


def read_event_list(path) -> tuple[np.ndarray, np.ndarray]:
    """Unbinned events ``(pe, t_us)`` of a CsI 2021 release list.

    Parameters
    ----------
    path : str or pathlib.Path
        The event list (two columns: PE, t_rec [us]).

    Returns
    -------
    pe, t_us : numpy.ndarray
        Photo-electrons and arrival times [us] of each event.
    """
    arr = _load(path, 2, "event list (PE, t_rec)")
    return arr[:, 0].copy(), arr[:, 1].copy()


def read_binned_pdf(path) -> tuple[np.ndarray, np.ndarray]:
    """``(centers, values)`` of a unit-width-bin PDF; centers must be uniformly spaced and ascending.

    Parameters
    ----------
    path : str or pathlib.Path
        Two-column file (bin center, value).

    Returns
    -------
    centers, values : numpy.ndarray

    Raises
    ------
    ConfigError
        If centers are not ascending and uniformly spaced or a value is negative.
    """
    arr = _load(path, 2, "binned PDF (center, value)")
    c, v = arr[:, 0], arr[:, 1]
    d = np.diff(c)
    if c.size < 2 or np.any(d <= 0) or np.any(np.abs(d - d.mean()) > 1e-6 * d.mean()):
        raise ConfigError(f"{Path(path).name}: bin centers must be ascending and uniformly spaced")
    if np.any(v < 0):
        raise ConfigError(f"{Path(path).name}: PDF values must be non-negative")
    return c.copy(), v.copy()


def read_coefficient_sets(path, n: int = 4) -> list[tuple]:
    """Every non-comment line of ``n`` numbers, in file order (e.g. nominal, +1 sigma, -1 sigma).

    Parameters
    ----------
    path : str or pathlib.Path
        The coefficient file.
    n : int, optional
        Numbers per line.

    Returns
    -------
    list of tuple of float
    """
    arr = _load(path, n, f"coefficient sets ({n} per line)")
    return [tuple(float(x) for x in row) for row in arr]


def read_3d_table(path, shape=(12, 8, 10)) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A LAr 2020 3D table: ``(e_centers, f90_centers, t_centers, values[shape])``.

    Parameters
    ----------
    path : str or pathlib.Path
        Four-column file (E [keVee], F90, t [us], value), one row per grid cell in any order.
    shape : tuple of int, optional
        Expected grid shape (n_E, n_F90, n_t).

    Returns
    -------
    e_centers, f90_centers, t_centers, values : numpy.ndarray

    Raises
    ------
    ConfigError
        If the rows do not form a full grid of ``shape``.
    """
    arr = _load(path, 4, "3D table (E, F90, t, value)")
    if arr.shape[0] != int(np.prod(shape)):
        raise ConfigError(f"{Path(path).name}: expected {int(np.prod(shape))} rows, got {arr.shape[0]}")
    axes = [np.unique(arr[:, i]) for i in range(3)]
    if tuple(a.size for a in axes) != tuple(shape):
        raise ConfigError(f"{Path(path).name}: grid is {tuple(a.size for a in axes)}, expected {tuple(shape)}")
    order = np.lexsort((arr[:, 2], arr[:, 1], arr[:, 0]))
    values = arr[order, 3].reshape(shape)
    return axes[0], axes[1], axes[2], values


def check_edges_in_range(edges, data_range, name: str) -> np.ndarray:
    """Validated ascending edges lying within ``data_range = (lo, hi)``; else a :class:`ConfigError`.

    Parameters
    ----------
    edges : array_like
        Bin edges.
    data_range : (float, float)
        Range of the released data, same units as ``edges``.
    name : str
        What the edges bin (for messages, e.g. ``"PE"``).

    Returns
    -------
    numpy.ndarray
    """
    e = np.asarray(edges, dtype=float)
    if e.ndim != 1 or e.size < 2 or not np.all(np.isfinite(e)) or np.any(np.diff(e) <= 0):
        raise ConfigError(f"{name} bin edges must be a strictly ascending list of >= 2 finite numbers, got {edges!r}")
    lo, hi = (float(x) for x in data_range)
    if e[0] < lo - 1e-12 or e[-1] > hi + 1e-12:
        raise ConfigError(f"{name} bin edges [{e[0]:g}, {e[-1]:g}] leave the data range [{lo:g}, {hi:g}] "
                          f"of the released event lists")
    return e


def bin_events(x, y, x_edges, y_edges, x_range, y_range, names=("PE", "t_rec [us]")) -> np.ndarray:
    """2D histogram of events on edges that must lie inside the released data range.

    Bins are ``[e_i, e_i+1)``, the last one closed (``numpy.histogram2d``).

    Parameters
    ----------
    x, y : array_like
        Event coordinates (e.g. PE and arrival time [us]).
    x_edges, y_edges : array_like
        Bin edges.
    x_range, y_range : (float, float)
        Released data range of each coordinate.
    names : (str, str), optional
        Coordinate names for messages.

    Returns
    -------
    ndarray, shape (len(x_edges) - 1, len(y_edges) - 1)
    """
    xe = check_edges_in_range(x_edges, x_range, names[0])
    ye = check_edges_in_range(y_edges, y_range, names[1])
    counts, _, _ = np.histogram2d(np.asarray(x, float), np.asarray(y, float), bins=[xe, ye])
    return counts


def rebin_fine_pdf(centers, values, edges) -> np.ndarray:
    """Sum a fine uniform-bin PDF into coarser ``edges`` (uniform density inside a fine bin).

    A fine bin cut by an edge contributes in proportion to its overlap; the part outside
    ``[edges[0], edges[-1]]`` is dropped.

    Parameters
    ----------
    centers : array_like
        Uniformly spaced fine-bin centers.
    values : array_like
        Content of each fine bin.
    edges : array_like
        Coarse bin edges (same units as ``centers``).

    Returns
    -------
    numpy.ndarray
        Content of each coarse bin, shape (len(edges) - 1,).
    """
    c = np.asarray(centers, dtype=float)
    v = np.asarray(values, dtype=float)
    e = np.asarray(edges, dtype=float)
    w = float(np.mean(np.diff(c)))
    lo, hi = c - 0.5 * w, c + 0.5 * w
    overlap = np.clip(np.minimum(hi[None, :], e[1:, None]) - np.maximum(lo[None, :], e[:-1, None]), 0.0, None) / w
    return overlap @ v
