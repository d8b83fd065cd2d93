"""Grid scaling of analysis files: smaller grids for smoke runs (``cevns reproduce --quick``)."""

from __future__ import annotations

import copy
import math
from typing import Mapping

from ..errors import ConfigError

__all__ = ["QUICK_SCALE", "MIN_POINTS_1D", "MIN_POINTS_2D", "MIN_POINTS_PROFILE", "scaled_analysis"]

#: Grid scale of ``quick=True`` (each axis' number of points times this, with the minima below).
QUICK_SCALE = 0.3
MIN_POINTS_1D = 41
MIN_POINTS_2D = 21
MIN_POINTS_PROFILE = 5


def _scaled_points(n: int, scale: float, minimum: int) -> int:
    if scale >= 1.0 or n <= minimum:
        return int(n)
    m = max(minimum, int(round(n * scale)))
    if n % 2 == 1 and m % 2 == 0:  # keep an odd count (keeps the centre of symmetric ranges)
        m += 1
    return min(m, int(n))


def scaled_analysis(raw: Mapping, grid_scale: float = 1.0) -> dict:
    """A copy of a parsed analysis file with every grid shrunk by ``grid_scale`` (<= 1).

    Each axis keeps at least :data:`MIN_POINTS_1D` (1D scans), :data:`MIN_POINTS_2D` (each axis of 2D
    scans) or :data:`MIN_POINTS_PROFILE` (profiled dimensions) points; an odd count stays odd.

    Parameters
    ----------
    raw : mapping
        The parsed analysis file.
    grid_scale : float, optional
        Factor applied to every number of grid points (<= 1 for quick runs).

    Returns
    -------
    dict

    Raises
    ------
    ConfigError
        If ``grid_scale`` is not a positive finite number.
    """
    try:
        scale = float(grid_scale)
    except (TypeError, ValueError):
        raise ConfigError(f"grid_scale must be a positive number, got {grid_scale!r}") from None
    if not (math.isfinite(scale) and scale > 0):
        raise ConfigError(f"grid_scale must be a positive number, got {grid_scale!r}")
    out = copy.deepcopy(dict(raw))
    for s in out.get("scans", []):
        minimum = MIN_POINTS_1D if len(s.get("parameters", [])) == 1 else MIN_POINTS_2D
        s["points"] = [_scaled_points(int(p), scale, minimum) for p in s.get("points", [])]
        for pr in s.get("profile", []):
            pr["points"] = _scaled_points(int(pr["points"]), scale, MIN_POINTS_PROFILE)
    return out
