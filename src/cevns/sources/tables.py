"""The one reader of numeric text tables (fluxes, efficiencies, arrival-time PDFs, observed counts).

Every data file an experiment reads goes through :func:`read_table`, which checks each line and
raises :class:`DataFileError` naming the file, the line and (where it applies) the column for:
a missing, unreadable, binary or empty file; non-numeric or empty cells; NaN or infinity; rows with
a different number of columns than the first data row (ragged rows); negative values in a column
that must not be negative; duplicate or unsorted values in a column that must be strictly
ascending; duplicate keys (e.g. the same (PE, time) cell listed twice).

Format: one row per line; blank lines and everything after the comment marker are ignored; cells
are separated by ``delimiter`` or, by default, by commas if the line has one and by whitespace
otherwise. A header line of column names (every cell non-numeric) may come first when
``header="optional"``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from ..errors import ConfigError

__all__ = ["DataFileError", "read_table", "read_two_columns"]

HEADERS = ("none", "optional")


class DataFileError(ConfigError, ValueError):
    """A data file (table) that cannot be used: names the file, the line and the problem.

    A :class:`~cevns.errors.ConfigError` (so the CLI reports it as one line) and a ``ValueError``
    (what the physics-level loaders always raised).
    """


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def _split(line: str, delimiter: str | None) -> list[str]:
    if delimiter is None:
        if "," in line:
            return [t.strip() for t in line.split(",")]
        return line.split()
    if delimiter.strip() == "":
        return line.split()
    return [t.strip() for t in line.split(delimiter)]


def _read_text(path: Path) -> str:
    if path.is_dir():
        raise DataFileError(f"{path}: is a folder, not a data file")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataFileError(f"{path}: data file not found") from None
    except OSError as exc:
        raise DataFileError(f"{path}: cannot read data file: {exc.strerror or exc}") from None
    if b"\x00" in data:
        raise DataFileError(f"{path}: not a text table (binary content)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataFileError(f"{path}: not a UTF-8 text table (byte {exc.start} cannot be decoded)") from None


def _column_label(names: Sequence[str] | None, k: int) -> str:
    if names is not None and k < len(names) and names[k]:
        return f"column {k + 1} ({names[k]})"
    return f"column {k + 1}"


def read_table(
    path,
    n_columns: int | None = None,
    *,
    min_columns: int = 1,
    delimiter: str | None = None,
    comments: str | Sequence[str] | None = "#",
    header: str = "none",
    names: Sequence[str] | None = None,
    nonnegative: Sequence[int] = (),
    ascending: int | None = None,
    unique: Sequence[int] | None = None,
    maximum: Mapping[int, float] | None = None,
    min_rows: int = 1,
) -> np.ndarray:
    """Read and validate a numeric text table.

    Parameters
    ----------
    path : str or path-like
        The text file.
    n_columns : int, optional
        Exact number of columns every data row must have. ``None``: every row must have the same
        number of columns as the first data row, at least ``min_columns``.
    min_columns : int
        Minimum number of columns (used when ``n_columns`` is None).
    delimiter : str or None
        Cell separator; ``None``: commas if the line has one, whitespace otherwise.
    comments : str, sequence of str or None
        Comment markers: the rest of a line after any of them is ignored.
    header : {"none", "optional"}
        ``"optional"``: a first data line whose cells are all non-numeric is taken as column names.
    names : sequence of str, optional
        Column names for the messages (e.g. ``("energy [MeV]", "dPhi/dE")``).
    nonnegative : sequence of int
        Zero-based columns whose values must be >= 0.
    ascending : int, optional
        Zero-based column whose values must be strictly ascending (no duplicates).
    unique : sequence of int, optional
        Zero-based columns that together must not repeat (e.g. (PE, time) of a count table).
    maximum : mapping int -> float, optional
        Largest allowed value of some columns (e.g. 1 for an efficiency).
    min_rows : int
        Minimum number of data rows.

    Returns
    -------
    ndarray, shape (n_rows, n_columns)
        Finite values.

    Raises
    ------
    DataFileError
        Naming the file and line (and column) of the first problem.
    """
    if header not in HEADERS:
        raise ValueError(f"header must be one of {HEADERS}, got {header!r}")
    path = Path(path)
    text = _read_text(path)
    if not text.strip():
        raise DataFileError(f"{path}: empty file (expected a table of numbers)")
    markers = (comments,) if isinstance(comments, str) else tuple(comments or ())
    rows: list[list[float]] = []
    lines: list[int] = []
    width = n_columns
    header_allowed = header == "optional"
    seen_keys: dict[tuple, int] = {}
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw
        for m in markers:
            line = line.split(m, 1)[0]
        line = line.strip()
        if not line:
            continue
        where = f"{path}, line {lineno}"
        tokens = _split(line, delimiter)
        if header_allowed and not rows and not any(_is_number(t) for t in tokens if t):
            header_allowed = False
            continue
        header_allowed = False
        if width is None:
            if len(tokens) < min_columns:
                raise DataFileError(f"{where}: expected at least {min_columns} columns, found {len(tokens)}")
            width = len(tokens)
        if len(tokens) != width:
            first = f"the first data row (line {lines[0]})" if lines else "the table"
            raise DataFileError(
                f"{where}: ragged row: found {len(tokens)} columns, expected {width} as in {first}")
        values = []
        for k, tok in enumerate(tokens):
            label = _column_label(names, k)
            if tok == "":
                raise DataFileError(f"{where}, {label}: empty cell")
            try:
                v = float(tok)
            except ValueError:
                raise DataFileError(f"{where}, {label}: cannot read {tok!r} as a number") from None
            if not math.isfinite(v):
                raise DataFileError(f"{where}, {label}: NaN or infinite value {tok!r} (numbers must be finite)")
            if k in nonnegative and v < 0:
                what = names[k] if names is not None and k < len(names) and names[k] else "value"
                raise DataFileError(f"{where}, {label}: negative {what} {tok} (must be >= 0)")
            if maximum and k in maximum and v > maximum[k]:
                raise DataFileError(f"{where}, {label}: value {tok} is above the maximum {maximum[k]:g}")
            values.append(v)
        if ascending is not None and rows:
            prev = rows[-1][ascending]
            now = values[ascending]
            label = _column_label(names, ascending)
            if now == prev:
                raise DataFileError(
                    f"{where}, {label}: duplicate value {now:g} (also on line {lines[-1]}); "
                    "values must be strictly ascending")
            if now < prev:
                raise DataFileError(
                    f"{where}, {label}: {now:g} is not above the previous value {prev:g} (line {lines[-1]}); "
                    "values must be strictly ascending")
        if unique:
            key = tuple(values[k] for k in unique)
            if key in seen_keys:
                cols = ", ".join(_column_label(names, k) for k in unique)
                raise DataFileError(f"{where}: duplicate row for {cols} = {key} (also on line {seen_keys[key]})")
            seen_keys[key] = lineno
        rows.append(values)
        lines.append(lineno)
    if len(rows) < min_rows:
        what = "no data lines (only comments or a header)" if not rows else f"only {len(rows)} data rows"
        raise DataFileError(f"{path}: {what}; at least {min_rows} needed")
    return np.array(rows, dtype=float).reshape(len(rows), width)


def read_two_columns(path, columns=(0, 1), delimiter=None, comments="#", x_name="energy"):
    """Read two numeric columns (x, y) of a text table with :func:`read_table`.

    Parameters
    ----------
    path : str or path-like
        Text file. Blank lines and everything after ``comments`` on a line are ignored.
    columns : tuple of two int
        Zero-based indices of the x and y columns (the table may have more columns).
    delimiter : str or None
        Column separator. ``None``: commas if the line has one, whitespace otherwise.
    comments : str or None
        Comment marker.
    x_name : str
        Name of the x quantity used in error messages (``"energy"``, ``"time"``, ``"observable"``).

    Returns
    -------
    x, y : ndarray
        x strictly ascending and >= 0, y finite and >= 0.

    Raises
    ------
    DataFileError
        Naming the file and line, for a missing or empty file, a missing column, an unreadable
        number, NaN or infinity, a ragged row, a negative x or y, or non-ascending x.
    """
    if (
        not isinstance(columns, (tuple, list))
        or len(columns) != 2
        or any(isinstance(c, bool) or not isinstance(c, (int, np.integer)) or c < 0 for c in columns)
        or columns[0] == columns[1]
    ):
        raise ValueError(f"columns must be two different non-negative column indices, got {columns!r}")
    ix, iy = int(columns[0]), int(columns[1])
    names = [""] * (max(ix, iy) + 1)
    names[ix], names[iy] = x_name, "value"
    table = read_table(path, min_columns=max(ix, iy) + 1, delimiter=delimiter, comments=comments, names=names,
                       nonnegative=(ix, iy), ascending=ix)
    return table[:, ix].copy(), table[:, iy].copy()
