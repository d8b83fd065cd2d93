"""Read a HEPData submission written by :func:`cevns.analysis.hepdata.export_hepdata` back into results.

:func:`read_hepdata` parses ``submission.yaml`` and the table files (plain YAML, no hepdata_lib needed)
and rebuilds, per scan, the entries of ``results.json`` (docs/analysis-format.md): ``best_fit``,
``best_fits``, ``chi2_min``, ``dof``, ``threshold``, ``intervals`` / ``open_ends`` (1D), ``contours``
and ``exclusion`` (2D), plus the Delta-chi2 ``profile`` (1D) or ``grid`` (2D) as arrays. Tables are
recognised by the ``Result``, ``Analysis`` and ``Scan`` qualifiers of their dependent variables;
tables of other origin are listed under ``other_tables``.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

import numpy as np

from ..errors import CevnsError, ConfigError
from .hepdata import RESULT_KINDS, cl_key_from_percent
from .results_folder import read_scan_grid

try:  # PyYAML (installed with hepdata_lib)
    import yaml
except ModuleNotFoundError:  # pragma: no cover
    yaml = None

__all__ = ["read_hepdata"]

_KIND = {v: k for k, v in RESULT_KINDS.items()}
_THRESHOLD = re.compile(r"^Delta chi2 threshold at ([0-9.]+)% CL$")
_ARCHIVES = (".tar.gz", ".tgz", ".tar", ".zip")


def _load_yaml(path: Path, all_docs: bool = False):
    try:
        with open(path, encoding="utf-8") as fh:
            return [d for d in yaml.safe_load_all(fh)] if all_docs else yaml.safe_load(fh)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: malformed YAML: {str(exc).splitlines()[0]}") from None


def _submission_file(root: Path) -> Path:
    for cand in (root / "submission.yaml", root / "submission" / "submission.yaml"):
        if cand.is_file():
            return cand
    found = sorted(root.rglob("submission.yaml"))
    if len(found) == 1:
        return found[0]
    raise ConfigError(f"{root}: no HEPData submission.yaml found (expected a folder written by "
                      f"`cevns export-hepdata`, its submission/ folder or submission.tar.gz)")


def _values(var: dict) -> list:
    return [None if v.get("value") == "-" else v.get("value") for v in var.get("values", [])]


def _quals(var: dict) -> dict:
    return {q.get("name"): q.get("value") for q in var.get("qualifiers", []) or [] if isinstance(q, dict)}


def _thresholds(q: dict) -> dict:
    out = {}
    for name, v in q.items():
        m = _THRESHOLD.match(str(name))
        if m:
            out[cl_key_from_percent(m.group(1))] = float(v)
    return out


def _cl_key(q: dict) -> str:
    return cl_key_from_percent(str(q["CL"]).rstrip("%").strip())


def _grid_2d(x, y, z) -> dict:
    x, y, z = (np.asarray(a, dtype=float) for a in (x, y, z))
    nx = int(np.argmax(y != y[0])) if np.any(y != y[0]) else y.size
    ny = y.size // nx
    return {"x": x[:nx], "y": y[::nx], "delta_chi2": z.reshape(ny, nx)}


def _read_table(scan: dict, kind: str, table: dict, q: dict) -> None:
    ind = table.get("independent_variables") or []
    dep = table.get("dependent_variables") or []
    scan.setdefault("threshold", {}).update(_thresholds(q))
    if "dof" in q:
        scan["dof"] = int(q["dof"])
    if "chi2 at the best fit" in q:
        scan["chi2_min"] = float(q["chi2 at the best fit"])
    if kind == "best_fit":
        names = [d["header"]["name"] for d in dep]
        cols = [_values(d) for d in dep]
        best = [float(_quals(d)["best fit"]) for d in dep]
        if len(names) == 1:
            scan.update(parameter=names[0], best_fit=best[0], best_fits=[float(v) for v in cols[0]])
        else:
            scan.update(parameters=names, best_fit=best, best_fits=[[float(a), float(b)] for a, b in zip(*cols)])
        prof = {k.split(": ", 1)[1]: float(v) for k, v in q.items() if str(k).startswith("profiled at the best fit: ")}
        if prof:
            scan["profiled_at_best_fit"] = prof
    elif kind == "profile":
        scan["profile"] = {"x": np.asarray(_values(ind[0]), dtype=float),
                           "delta_chi2": np.asarray(_values(dep[0]), dtype=float)}
    elif kind == "intervals":
        ints, opens = scan.setdefault("intervals", {}), scan.setdefault("open_ends", {})
        lo, hi, flo, fhi = (_values(d) for d in dep[:4])
        for cl, a, b, fa, fb in zip(_values(ind[0]), lo, hi, flo, fhi):
            key = cl_key_from_percent(cl)
            ints.setdefault(key, []).append([float(a), float(b)])
            opens.setdefault(key, []).append([bool(fa), bool(fb)])
    elif kind == "contour":
        xs, ys, seg = _values(ind[0]), _values(dep[0]), _values(dep[1])
        lines: dict[int, list] = {}
        for x, y, s in zip(xs, ys, seg):
            lines.setdefault(int(s), []).append([float(x), float(y)])
        scan.setdefault("contours", {})[_cl_key(q)] = [lines[k] for k in sorted(lines)]
        scan.setdefault("threshold", {})[_cl_key(q)] = float(q["Delta chi2 threshold"])
    elif kind == "exclusion":
        scan.setdefault("exclusion", {})[_cl_key(q)] = {
            "x": [float(v) for v in _values(ind[0])],
            "y": [None if v is None else float(v) for v in _values(dep[0])]}
        scan["exclusion_method"] = str(q.get("exclusion method", "global"))
        if q.get("y transform"):
            scan["y_transform"] = str(q["y transform"])
    elif kind == "grid":
        scan["grid"] = _grid_2d(_values(ind[0]), _values(ind[1]), _values(dep[0]))


def _finish(scan: dict) -> dict:
    keys = list(scan.get("threshold", {}))
    if "parameter" in scan:
        ints = scan.get("intervals", {})
        opens = scan.get("open_ends", {})
        scan["intervals"] = {k: ints.get(k, []) for k in keys} | {k: v for k, v in ints.items() if k not in keys}
        scan["open_ends"] = {k: opens.get(k, []) for k in scan["intervals"]}
    elif "parameters" in scan:
        cont = scan.get("contours", {})
        scan["contours"] = {k: cont.get(k, []) for k in keys} | {k: v for k, v in cont.items() if k not in keys}
    return scan


def read_hepdata(path) -> dict:
    """Read a HEPData submission written by ``cevns export-hepdata``.

    Parameters
    ----------
    path : str or Path
        The ``--out`` folder of ``cevns export-hepdata``, its ``submission/`` folder, or the archive
        ``submission.tar.gz`` (also ``.tgz``, ``.tar``, ``.zip``).

    Returns
    -------
    dict
        ``{"comment", "resources", "analyses": [names], "scans": [...], "tables": [names],
        "other_tables": [names]}``; each scan holds ``analysis``, ``name`` and the results.json keys
        (``parameter``/``parameters``, ``best_fit``, ``best_fits``, ``chi2_min``, ``dof``,
        ``threshold``, ``intervals`` + ``open_ends`` or ``contours`` [+ ``exclusion``,
        ``exclusion_method``, ``y_transform``]) plus ``profile`` / ``grid`` arrays when exported.

    Raises
    ------
    ConfigError
        No submission found, unreadable YAML or a table whose columns do not match its ``Result``.
    """
    if yaml is None:  # pragma: no cover
        raise CevnsError("reading HEPData needs PyYAML: pip install 'cevns[hepdata]'")
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"HEPData submission {p} does not exist")
    if p.is_file():
        if not p.name.lower().endswith(_ARCHIVES):
            raise ConfigError(f"{p}: expected a folder or a .tar.gz/.zip archive of a HEPData submission")
        with tempfile.TemporaryDirectory(prefix="cevns-hepdata-read-") as tmp:
            try:
                shutil.unpack_archive(str(p), tmp)
            except (shutil.ReadError, OSError, EOFError, ValueError) as exc:
                raise ConfigError(f"{p}: cannot unpack the archive: {exc}") from None
            return _read_folder(Path(tmp), str(p))
    return _read_folder(p, str(p))


def _read_folder(root: Path, label: str) -> dict:
    sfile = _submission_file(root)
    docs = [d for d in _load_yaml(sfile, all_docs=True) if isinstance(d, dict)]
    out = {"comment": "", "resources": [], "analyses": [], "scans": [], "tables": [], "other_tables": []}
    scans: dict[tuple[str, str], dict] = {}
    for doc in docs:
        if "data_file" not in doc:
            out["comment"] = str(doc.get("comment", ""))
            out["resources"] = list(doc.get("additional_resources") or [])
            continue
        name = str(doc.get("name", doc["data_file"]))
        table = _load_yaml(sfile.parent / str(doc["data_file"]))
        dep = (table or {}).get("dependent_variables") or [] if isinstance(table, dict) else []
        q = _quals(dep[0]) if dep and isinstance(dep[0], dict) else {}
        kind = _KIND.get(q.get("Result"))
        if kind is None or "Analysis" not in q or "Scan" not in q:
            out["other_tables"].append(name)
            continue
        key = (str(q["Analysis"]), str(q["Scan"]))
        if key[0] not in out["analyses"]:
            out["analyses"].append(key[0])
        scan = scans.setdefault(key, {"analysis": key[0], "name": key[1]})
        try:
            _read_table(scan, kind, table, q)
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise ConfigError(f"{label}: table {name!r} ({doc['data_file']}) does not have the columns of a "
                              f"cevns '{RESULT_KINDS[kind]}' table: {exc!r}") from None
        for res in doc.get("additional_resources") or []:  # a large grid attached as its file
            loc = str(res.get("location", "")) if isinstance(res, dict) else ""
            if kind == "best_fit" and re.search(r"\.grid\.(csv|npz)$", loc) and "/" not in loc:
                scan["grid"] = read_scan_grid(sfile.parent / loc)
        out["tables"].append(name)
    out["scans"] = [_finish(s) for s in scans.values()]
    return out
