"""Output files of an analysis run: per-scan CSV and ``.npz`` grids, ``analysis.resolved.json``.

CSV: ``x,delta_chi2`` (1D) or ``x,y,delta_chi2`` (2D, x running fastest), ``%.12g``; written in
blocks of rows with one formatting operation per block into a temporary file that is renamed at the
end (never half-written). ``.npz``: the same grid as arrays (``x``, ``y``, ``delta_chi2`` with shape
(ny, nx), ``chi2_min``), the fast way to read large scans back.
"""

from __future__ import annotations


import numpy as np

from ..io import atomic_path, json_clean
from ..stats.scan import ScanData

__all__ = ["SCHEMA_VERSION", "write_scan_csv", "write_scan_npz", "resolved_document", "json_clean"]

SCHEMA_VERSION = 1
#: Rows formatted at once when writing a CSV.
CSV_BLOCK_ROWS = 1 << 16


def write_scan_csv(path, data: ScanData, dchi2: np.ndarray, block_rows: int = CSV_BLOCK_ROWS) -> None:
    """``x,delta_chi2`` (1D) or ``x,y,delta_chi2`` (2D, x running fastest), written atomically.

    Every value is ``%.12g``. The grid coordinates are formatted once per axis value (not once per
    row) into a row template, so a block of rows costs one float formatting per grid point.

    Parameters
    ----------
    path : str or pathlib.Path
        The CSV file.
    data : ScanData
        The evaluated scan (its grid gives the coordinates).
    dchi2 : numpy.ndarray
        Delta chi^2 on the grid, shape (nx,) or (ny, nx).
    block_rows : int, optional
        x values formatted per block of rows.
    """
    grid = data.grid
    dchi2 = np.asarray(dchi2, dtype=float).reshape(-1)
    xs = ["%.12g" % v for v in np.asarray(grid.axes[0], dtype=float).tolist()]
    nx, step = len(xs), max(1, int(block_rows))
    if len(grid.names) == 1:
        header, cell, ys = "x,delta_chi2\n", "{},%.12g\n", [None]
    else:
        header, cell = "x,y,delta_chi2\n", "{},\x00,%.12g\n"  # \x00 (never in a number) is replaced by y
        ys = ["%.12g" % v for v in np.asarray(grid.axes[1], dtype=float).tolist()]
    pieces = [(i0, min(nx, i0 + step), "".join(cell.format(x) for x in xs[i0:i0 + step]))
              for i0 in range(0, nx, step)]
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(header)
            parts, values, count = [], [], 0
            for j, y in enumerate(ys):
                for i0, i1, tpl in pieces:
                    parts.append(tpl if y is None else tpl.replace("\x00", y))
                    values.append(dchi2[j * nx + i0:j * nx + i1])
                    count += i1 - i0
                    if count >= step:
                        fh.write("".join(parts) % tuple(np.concatenate(values).tolist()))
                        parts, values, count = [], [], 0
            if parts:
                fh.write("".join(parts) % tuple(np.concatenate(values).tolist()))


def write_scan_npz(path, data: ScanData, dchi2: np.ndarray, chi2_min: float) -> None:
    """The scan grid as arrays: ``x`` (and ``y``), ``delta_chi2`` (grid shape), ``chi2_min``, ``names``.

    Parameters
    ----------
    path : str or pathlib.Path
        The ``.npz`` file (written atomically).
    data : ScanData
        The evaluated scan (its grid gives the axes).
    dchi2 : numpy.ndarray
        Delta chi^2 on the grid, shape (nx,) or (ny, nx).
    chi2_min : float
        The global minimum chi^2.
    """
    grid = data.grid
    arrays = {"x": np.asarray(grid.axes[0], dtype=float), "delta_chi2": np.asarray(dchi2, dtype=float),
              "chi2_min": np.float64(chi2_min), "names": np.array(list(grid.names))}
    if len(grid.axes) == 2:
        arrays["y"] = np.asarray(grid.axes[1], dtype=float)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)


def resolved_document(spec, likelihood=None) -> dict:
    """The content of ``analysis.resolved.json``: the resolved analysis plus, per experiment, every
    physics/detector setting in use and the nuisance parameters of the likelihood.

    Parameters
    ----------
    spec : AnalysisSpec
        The resolved analysis.
    likelihood : Likelihood, optional
        Its likelihood (adds the ``experiments`` and ``nuisances`` entries).

    Returns
    -------
    dict
    """
    doc = {"schema_version": SCHEMA_VERSION, "source": spec.source, "analysis": spec.to_dict()}
    if likelihood is not None:
        doc["experiments"] = likelihood.describe()
        doc["nuisances"] = likelihood.nuisance_table()
    return doc
