"""The numbers of ``cevns reproduce --quick`` in a compact, comparable form (regression reference).

``digest(results)`` keeps, per scan of a paper's results.json: best_fit, chi2_min, thresholds, dof,
intervals, exclusion curves and the bounding box and count of the contour lines. The stored reference
is ``tests/data/reproduce_quick_reference.json``; regenerate it (after a deliberate physics change, with
the reason in the commit message) with::

    CEVNS_UPDATE_REFERENCE=1 PYTHONPATH=src python -m pytest tests/test_reproduce.py -k reference
"""

import math

import numpy as np

REFERENCE_NAME = "reproduce_quick_reference.json"
KEYS = ("best_fit", "chi2_min", "threshold", "dof", "intervals", "exclusion")


def _box(lines):
    if not lines:
        return {"n": 0}
    pts = np.concatenate([np.asarray(ln, dtype=float) for ln in lines])
    return {"n": len(lines), "x": [float(pts[:, 0].min()), float(pts[:, 0].max())],
            "y": [float(pts[:, 1].min()), float(pts[:, 1].max())]}


def digest(results: dict) -> dict:
    """``{scan name: {...}}`` of one paper's results.json."""
    out = {}
    for s in results["scans"]:
        d = {k: s[k] for k in KEYS if k in s}
        if "contours" in s:
            d["contours"] = {cl: _box(lines) for cl, lines in s["contours"].items()}
        out[s["name"]] = d
    return out


def compare(ref, new, path="", rel=1e-9, abs_=1e-12) -> list[str]:
    """Differences between two digests (numbers within ``rel`` relative / ``abs_`` absolute)."""
    diffs = []
    if isinstance(ref, dict):
        if not isinstance(new, dict) or set(ref) != set(new):
            return [f"{path}: keys differ: {sorted(set(ref) ^ set(new or {}))}"]
        for k in ref:
            diffs += compare(ref[k], new[k], f"{path}.{k}", rel, abs_)
    elif isinstance(ref, list):
        if not isinstance(new, list) or len(ref) != len(new):
            return [f"{path}: length {len(ref)} vs {len(new) if isinstance(new, list) else new!r}"]
        for i, (a, b) in enumerate(zip(ref, new)):
            diffs += compare(a, b, f"{path}[{i}]", rel, abs_)
    elif isinstance(ref, (int, float)) and not isinstance(ref, bool) and isinstance(new, (int, float)):
        if not math.isclose(ref, new, rel_tol=rel, abs_tol=abs_):
            diffs.append(f"{path}: {ref!r} vs {new!r}")
    elif ref != new:
        diffs.append(f"{path}: {ref!r} vs {new!r}")
    return diffs
