"""Neutrino fluences given as tables (energy, value), e.g. digitised or published spectra.

A table of dPhi/dE [cm^-2 MeV^-1] at ascending energies becomes a :class:`FluxComponent`, integrated
by the rate engine with the trapezoidal rule on the nodes (i.e. the table is read as piecewise linear).
"""

from __future__ import annotations

import math

import numpy as np

from .base import FLAVORS, FluxComponent
from .tables import read_two_columns

KINDS = ("density", "line")

__all__ = ["KINDS", "load_flux_table", "read_two_columns", "tabulated_flux"]


def load_flux_table(path, columns=(0, 1), delimiter=None, comments="#"):
    """Load a two-column flux table (energy [MeV], value) from a text file.

    Parameters
    ----------
    path : str or path-like
        Text file with one node per line.
    columns : tuple of two int
        Zero-based indices of the energy and value columns.
    delimiter : str or None
        Column separator; ``None`` splits on whitespace and/or commas.
    comments : str or None
        Comment marker (rest of the line ignored).

    Returns
    -------
    energies_mev, values : ndarray
        Strictly ascending, non-negative energies and non-negative finite values.

    Raises
    ------
    DataFileError
        (a ``ValueError``) naming the file and line for malformed content, NaN, ragged rows, negative
        or non-ascending energies (see :func:`cevns.sources.tables.read_table`).
    """
    return read_two_columns(path, columns, delimiter, comments, x_name="energy")


def tabulated_flux(energies_mev, values, flavor, normalization=1.0, n_energy=None, kind="density"):
    """Build a :class:`FluxComponent` from a table.

    ``kind="density"``: ``values`` is dPhi/dE [cm^-2 MeV^-1] (or a shape, scaled by ``normalization``)
    at ascending ``energies_mev``; the fluence is ``normalization * values``. With ``n_energy`` the
    table is resampled by linear interpolation onto ``n_energy`` uniform nodes spanning the table
    (linear interpolation keeps the piecewise-linear reading of the table, so the trapezoidal integral
    converges to the integral of the table's linear interpolant as ``n_energy`` grows).

    ``kind="line"``: a monochromatic line, one energy node, ``normalization * values[0]`` is the total
    fluence [cm^-2].

    Parameters
    ----------
    energies_mev : array_like, shape (n,)
        Strictly ascending, non-negative energies [MeV].
    values : array_like, shape (n,)
        Non-negative finite values.
    flavor : str
        One of :data:`cevns.sources.base.FLAVORS`.
    normalization : float
        Non-negative multiplicative factor (e.g. exposure, 1/(4 pi L^2)).
    n_energy : int or None
        Number of uniform resampling nodes (>= 2), or ``None`` to keep the table nodes.
    kind : {"density", "line"}

    Returns
    -------
    FluxComponent
    """
    if flavor not in FLAVORS:
        raise ValueError(f"unknown flavor {flavor!r}; expected one of {FLAVORS}")
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; expected one of {KINDS}")
    e = np.asarray(energies_mev, dtype=float)
    v = np.asarray(values, dtype=float)
    if e.ndim != 1 or v.shape != e.shape or e.size == 0:
        raise ValueError("energies_mev and values must be non-empty 1-D arrays of the same length")
    if not (np.all(np.isfinite(e)) and np.all(np.isfinite(v))):
        raise ValueError("energies_mev and values must be finite (no NaN or infinity)")
    if np.any(e < 0):
        raise ValueError("energies_mev must be non-negative")
    if np.any(v < 0):
        raise ValueError("values must be non-negative")
    if e.size > 1 and np.any(np.diff(e) <= 0):
        raise ValueError("energies_mev must be strictly ascending")
    norm = float(normalization)
    if not math.isfinite(norm) or norm < 0:
        raise ValueError(f"normalization must be finite and non-negative, got {normalization!r}")
    if kind == "line":
        if e.size != 1:
            raise ValueError("a line (kind='line') takes exactly one energy and one value")
        if n_energy is not None:
            raise ValueError("n_energy does not apply to a line")
        return FluxComponent(flavor, e, v * norm, is_line=True)
    if e.size < 2:
        raise ValueError("a continuous spectrum (kind='density') needs at least two nodes")
    if n_energy is not None:
        if int(n_energy) != n_energy or n_energy < 2:
            raise ValueError(f"n_energy must be an integer >= 2, got {n_energy!r}")
        grid = np.linspace(e[0], e[-1], int(n_energy))
        v = np.interp(grid, e, v)
        e = grid
    return FluxComponent(flavor, e, v * norm)
