"""Read back a scan output folder (``cevns scan`` / ``cevns reproduce``, docs/analysis-format.md).

A *results folder* holds ``results.json`` and, per scan, the Delta-chi2 grid (``<scan>.npz`` or
``<scan>.csv``), the plot (``<scan>.png``) and ``analysis.resolved.json``. The paper folders of
``cevns reproduce`` (``<paper>/results.json`` with scans named ``<stem>.<scan>``) are read too: their
grids and resolved analyses live in ``<paper>/scans/<stem>/``. Unknown keys (e.g. ``best_fits``) are
kept. Every problem is a :class:`~cevns.errors.ConfigError` naming the file and key.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from ..errors import ConfigError

__all__ = ["ScanRecord", "read_results_folder", "read_scan_grid"]


@dataclass
class ScanRecord:
    """One scan of a results folder.

    Attributes
    ----------
    analysis : str
        Name of the analysis the scan belongs to.
    result : dict
        The scan's entry of ``results.json`` (checked: ``name``, ``parameter`` or ``parameters``, ...).
    grid : dict or None
        ``{"x", "delta_chi2"}`` (1D) or ``{"x", "y", "delta_chi2"}`` with ``delta_chi2`` of shape
        (ny, nx); None when the folder holds no grid file for the scan.
    grid_file, image, resolved_file : Path or None
        The grid file read, the scan's PNG plot and the ``analysis.resolved.json`` of its analysis.
    resolved : dict or None
        The content of ``resolved_file``.
    title : str
        Title of the analysis.
    """

    analysis: str
    result: dict
    grid: Optional[dict]
    grid_file: Optional[Path]
    image: Optional[Path]
    resolved_file: Optional[Path]
    resolved: Optional[dict]
    title: str = ""

    @property
    def name(self) -> str:
        """The scan's name (``results.json`` entry ``name``)."""
        return self.result["name"]

    @property
    def ndim(self) -> int:
        """Number of scanned parameters: 1 or 2."""
        return 1 if "parameter" in self.result else 2


def _read_json(path: Path) -> object:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a UTF-8 text file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: malformed JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None


def _is_num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _check_cl_keys(where: str, mapping) -> None:
    if not isinstance(mapping, dict):
        raise ConfigError(f"{where}: expected a mapping of confidence levels, got {type(mapping).__name__}")
    for k in mapping:
        try:
            cl = float(k)
        except ValueError:
            raise ConfigError(f"{where}: confidence level key {k!r} is not a number") from None
        if not 0.0 < cl < 1.0:
            raise ConfigError(f"{where}: confidence level {k!r} is not in (0, 1)")


def _check_scan(where: str, s) -> None:
    """Check the keys of one results.json scan entry used by the exporter (docs/analysis-format.md)."""
    if not isinstance(s, dict):
        raise ConfigError(f"{where}: expected an object, got {type(s).__name__}")
    if not isinstance(s.get("name"), str) or not s["name"]:
        raise ConfigError(f"{where}.name: missing or not a string")
    where = f"{where} ({s['name']!r})"
    if not _is_num(s.get("chi2_min")):
        raise ConfigError(f"{where}.chi2_min: missing or not a finite number")
    _check_cl_keys(f"{where}.threshold", s.get("threshold"))
    for k, t in s["threshold"].items():
        if not _is_num(t):
            raise ConfigError(f"{where}.threshold[{k!r}]: not a finite number")
    if "dof" in s and not (isinstance(s["dof"], int) and not isinstance(s["dof"], bool) and s["dof"] >= 1):
        raise ConfigError(f"{where}.dof: expected a positive integer, got {s['dof']!r}")
    for key in ("exclusion_method", "y_transform"):
        if s.get(key) is not None and not isinstance(s[key], str):
            raise ConfigError(f"{where}.{key}: expected a string, got {s[key]!r}")
    point = _is_num if "parameter" in s else (lambda p: isinstance(p, list) and len(p) == 2 and all(map(_is_num, p)))
    if "best_fits" in s and not (isinstance(s["best_fits"], list) and all(map(point, s["best_fits"]))):
        raise ConfigError(f"{where}.best_fits: expected a list of best-fit points")
    if "parameter" in s:
        if not isinstance(s["parameter"], str) or not _is_num(s.get("best_fit")):
            raise ConfigError(f"{where}: a 1D scan needs 'parameter' (string) and 'best_fit' (number)")
        _check_cl_keys(f"{where}.intervals", s.get("intervals"))
        for k, pairs in s["intervals"].items():
            if not isinstance(pairs, list) or not all(isinstance(p, list) and len(p) == 2 and all(map(_is_num, p))
                                                      for p in pairs):
                raise ConfigError(f"{where}.intervals[{k!r}]: expected a list of [low, high] number pairs")
        opens = s.get("open_ends", {})
        ok = isinstance(opens, dict) and all(
            isinstance(v, list) and all(isinstance(f, list) and len(f) == 2 and all(isinstance(b, bool) for b in f)
                                        for f in v) for v in opens.values())
        if not ok:
            raise ConfigError(f"{where}.open_ends: expected {{CL: [[bool, bool], ...]}}")
        return
    pars = s.get("parameters")
    if not (isinstance(pars, list) and len(pars) == 2 and all(isinstance(p, str) for p in pars)):
        raise ConfigError(f"{where}: needs 'parameter' (1D scan) or 'parameters' (two names, 2D scan)")
    bf = s.get("best_fit")
    if not (isinstance(bf, list) and len(bf) == 2 and all(map(_is_num, bf))):
        raise ConfigError(f"{where}.best_fit: expected [x, y] numbers")
    _check_cl_keys(f"{where}.contours", s.get("contours"))
    for k, lines in s["contours"].items():
        ok = isinstance(lines, list) and all(
            isinstance(ln, list) and all(isinstance(p, list) and len(p) == 2 and all(map(_is_num, p)) for p in ln)
            for ln in lines)
        if not ok:
            raise ConfigError(f"{where}.contours[{k!r}]: expected a list of lines of [x, y] number pairs")
    if "exclusion" in s:
        _check_cl_keys(f"{where}.exclusion", s["exclusion"])
        for k, c in s["exclusion"].items():
            ok = (isinstance(c, dict) and isinstance(c.get("x"), list) and isinstance(c.get("y"), list)
                  and len(c["x"]) == len(c["y"]) and all(map(_is_num, c["x"]))
                  and all(v is None or _is_num(v) for v in c["y"]))
            if not ok:
                raise ConfigError(f"{where}.exclusion[{k!r}]: expected {{'x': [numbers], 'y': [numbers or null]}} "
                                  f"of equal length")


def read_scan_grid(path) -> dict:
    """Read a scan grid: ``<scan>.npz`` (arrays ``x``, [``y``], ``delta_chi2``) or ``<scan>.csv``.

    Parameters
    ----------
    path : str or pathlib.Path
        The ``.npz`` or ``.csv`` grid file of a scan.

    Returns
    -------
    dict
        ``{"x", "delta_chi2"}`` or ``{"x", "y", "delta_chi2"}`` (``delta_chi2`` of shape (ny, nx)).

    Raises
    ------
    ConfigError
        Unreadable file, wrong columns, or a 2D CSV that is not a rectangular grid with x running fastest.
    """
    path = Path(path)
    if path.suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as z:
                out = {k: np.asarray(z[k], dtype=float) for k in ("x", "y", "delta_chi2") if k in z.files}
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{path}: not a readable .npz grid: {exc}") from None
        if "x" not in out or "delta_chi2" not in out:
            raise ConfigError(f"{path}: needs arrays 'x' and 'delta_chi2'")
        shape = (out["y"].size, out["x"].size) if "y" in out else (out["x"].size,)
        if out["delta_chi2"].shape != shape:
            raise ConfigError(f"{path}: delta_chi2 has shape {out['delta_chi2'].shape}, expected {shape}")
        return out
    try:
        with open(path, encoding="utf-8") as fh:
            header = fh.readline().strip()
            arr = np.loadtxt(fh, delimiter=",", ndmin=2)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not a readable scan CSV: {exc}") from None
    if header == "x,delta_chi2" and arr.shape[1] == 2:
        return {"x": arr[:, 0], "delta_chi2": arr[:, 1]}
    if header != "x,y,delta_chi2" or arr.shape[1] != 3 or arr.shape[0] == 0:
        raise ConfigError(f"{path}: expected the header 'x,delta_chi2' or 'x,y,delta_chi2' and matching rows")
    y0 = arr[0, 1]
    nx = int(np.argmax(arr[:, 1] != y0)) if np.any(arr[:, 1] != y0) else arr.shape[0]
    ny = arr.shape[0] // nx
    x, y = arr[:nx, 0], arr[::nx, 1]
    if nx * ny != arr.shape[0] or not (np.array_equal(arr[:, 0], np.tile(x, ny))
                                       and np.array_equal(arr[:, 1], np.repeat(y, nx))):
        raise ConfigError(f"{path}: not a rectangular grid with x running fastest")
    return {"x": x, "y": y, "delta_chi2": arr[:, 2].reshape(ny, nx)}


def _scan_folder(root: Path, s: dict) -> tuple[Path, str]:
    """Folder and file stem of a scan's grid/plot: the folder itself, or ``scans/<stem>/`` of a paper."""
    name = s["name"]
    if (root / f"{name}.csv").exists() or (root / f"{name}.npz").exists():
        return root, name
    if isinstance(s.get("scan"), str) and "." in name:
        stem = name[: -len(s["scan"]) - 1] if name.endswith("." + s["scan"]) else name.split(".", 1)[0]
        sub = root / "scans" / stem
        if sub.is_dir():
            return sub, s["scan"]
    return root, name


def read_results_folder(path) -> tuple[dict, list[ScanRecord]]:
    """Read and check a results folder.

    Parameters
    ----------
    path : str or Path
        A folder written by ``cevns scan`` (or an analysis / paper folder of ``cevns reproduce``).

    Returns
    -------
    results : dict
        The content of ``results.json``.
    scans : list of ScanRecord
        One per scan, in the order of ``results.json``, with grids and resolved analyses attached.

    Raises
    ------
    ConfigError
        A path that is not a folder, no ``results.json``, malformed JSON, or scan entries without
        the keys of docs/analysis-format.md.
    """
    root = Path(path)
    if not root.exists():
        raise ConfigError(f"results folder {root} does not exist")
    if not root.is_dir():
        raise ConfigError(f"{root} is not a folder (expected a results folder written by `cevns scan`)")
    rpath = root / "results.json"
    if not rpath.is_file():
        inside = sorted(str(p.parent.relative_to(root)) for p in root.glob("*/results.json"))
        hint = (f"; results folders inside it: {', '.join(inside)}" if inside
                else f" (run `cevns scan ANALYSIS --out {root}`)")
        raise ConfigError(f"{root} is not a results folder: no results.json{hint}")
    results = _read_json(rpath)
    if not isinstance(results, dict) or not isinstance(results.get("scans"), list):
        raise ConfigError(f"{rpath}: expected an object with a 'scans' list (docs/analysis-format.md)")
    if not results["scans"]:
        raise ConfigError(f"{rpath}: no scans to export")
    top_name = str(results.get("analysis", root.name))
    names = set()
    records = []
    resolved_cache: dict[Path, Optional[dict]] = {}
    for i, s in enumerate(results["scans"]):
        _check_scan(f"{rpath}: scans[{i}]", s)
        if s["name"] in names:
            raise ConfigError(f"{rpath}: scans[{i}]: duplicate scan name {s['name']!r}")
        names.add(s["name"])
        folder, stem = _scan_folder(root, s)
        grid_file = next((p for p in (folder / f"{stem}.npz", folder / f"{stem}.csv") if p.is_file()), None)
        grid = read_scan_grid(grid_file) if grid_file is not None else None
        if grid is not None and ("y" in grid) != ("parameters" in s):
            raise ConfigError(f"{grid_file}: a {'2D' if 'y' in grid else '1D'} grid for the "
                              f"{'2D' if 'parameters' in s else '1D'} scan {s['name']!r}")
        rfile = folder / "analysis.resolved.json"
        if rfile not in resolved_cache:
            doc = _read_json(rfile) if rfile.is_file() else None
            if doc is not None and not isinstance(doc, dict):
                raise ConfigError(f"{rfile}: expected an object")
            resolved_cache[rfile] = doc
        resolved = resolved_cache[rfile]
        analysis = s.get("analysis") if isinstance(s.get("analysis"), str) else top_name
        image = folder / f"{stem}.png"
        records.append(ScanRecord(analysis=analysis, result=s, grid=grid, grid_file=grid_file,
                                  image=image if image.is_file() else None,
                                  resolved_file=rfile if resolved is not None else None, resolved=resolved,
                                  title=str(s.get("title", results.get("title", "")))))
    return results, records
