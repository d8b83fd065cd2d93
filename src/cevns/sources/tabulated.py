"""Neutrino fluences given as tables (energy, value), e.g. digitised or published spectra.

A table of dPhi/dE [cm^-2 MeV^-1] at ascending energies becomes a :class:`FluxComponent`, integrated
by the rate engine with the trapezoidal rule on the nodes (i.e. the table is read as piecewise linear).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .base import FLAVORS, FluxComponent

KINDS = ("density", "line")


def _parse_number(token: str, where: str) -> float:
    try:
        return float(token)
    except ValueError:
        raise ValueError(f"{where}: cannot read {token!r} as a number") from None


def read_two_columns(path, columns=(0, 1), delimiter=None, comments="#", x_name="energy"):
    """Read two numeric columns (x, y) of a text table, checking every line.

    Parameters
    ----------
    path : str or path-like
        Text file. Blank lines and everything after ``comments`` on a line are ignored.
    columns : tuple of two int
        Zero-based indices of the x and y columns.
    delimiter : str or None
        Column separator. ``None``: any run of whitespace and/or commas.
    comments : str or None
        Comment marker.
    x_name : str
        Name of the x quantity used in error messages (``"energy"``, ``"time"``).

    Returns
    -------
    x, y : ndarray
        x strictly ascending and >= 0, y finite and >= 0.

    Raises
    ------
    ValueError
        Naming the file and line, for a missing file, a missing column, an unreadable number, NaN or
        infinity, a negative x or y, non-ascending x, or fewer than one data line.
    """
    path = Path(path)
    if len(columns) != 2 or any(int(c) != c or c < 0 for c in columns):
        raise ValueError(f"columns must be two non-negative column indices, got {columns!r}")
    ix, iy = int(columns[0]), int(columns[1])
    try:
        text = path.read_text()
    except OSError as exc:
        raise ValueError(f"cannot read table {str(path)!r}: {exc.strerror or exc}") from None
    xs: list[float] = []
    ys: list[float] = []
    last_line = 0
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.split(comments, 1)[0] if comments else raw
        line = line.strip()
        if not line:
            continue
        where = f"{path}, line {lineno}"
        if delimiter is None:
            tokens = line.replace(",", " ").split()
        else:
            tokens = [t.strip() for t in line.split(delimiter)]
        if max(ix, iy) >= len(tokens):
            raise ValueError(f"{where}: expected at least {max(ix, iy) + 1} columns, found {len(tokens)}")
        x = _parse_number(tokens[ix], where)
        y = _parse_number(tokens[iy], where)
        if not (math.isfinite(x) and math.isfinite(y)):
            raise ValueError(f"{where}: NaN or infinite value")
        if x < 0:
            raise ValueError(f"{where}: negative {x_name} {x}")
        if y < 0:
            raise ValueError(f"{where}: negative value {y}")
        if xs and x <= xs[-1]:
            raise ValueError(
                f"{where}: {x_name} {x} is not above the previous one ({xs[-1]} on line {last_line}); "
                f"{x_name}s must be strictly ascending"
            )
        xs.append(x)
        ys.append(y)
        last_line = lineno
    if not xs:
        raise ValueError(f"{path}: no data lines")
    return np.array(xs), np.array(ys)


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
    ValueError
        Naming the file and line for malformed content, NaN, negative or non-ascending energies.
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
