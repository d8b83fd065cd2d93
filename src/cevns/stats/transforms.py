"""Transforms of the y axis of 2D scans (for plots and exclusion curves).

``sin2_2theta``: a scan in the active-sterile mixing ``u = |U_e4|^2`` (or ``|U_mu4|^2``) is shown as the
effective mixing angle of a two-flavour disappearance probability, ``sin^2 2theta = 4 u (1 - u)``
(e.g. Kopp et al., JHEP 05 (2013) 050, arXiv:1303.3011, Eq. 2.3 for the 3+1 short-baseline limit).
The map is monotonic on ``0 <= u <= 0.5``, which is why scans using it must stay in that range.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError

__all__ = ["Y_TRANSFORMS", "y_transform"]

#: Optional transforms of the y axis of 2D scans: name -> (domain where it is monotonic, axis label).
Y_TRANSFORMS = {"sin2_2theta": ((0.0, 0.5), r"$\sin^2 2\theta$")}


def y_transform(name: str | None, y):
    """Apply a y-axis transform.

    Parameters
    ----------
    name : str or None
        ``None`` (identity) or a key of :data:`Y_TRANSFORMS`; ``"sin2_2theta"`` is ``4 u (1 - u)``.
    y : array_like
        Values of the scanned y parameter (dimensionless mixing).

    Returns
    -------
    numpy.ndarray
    """
    y = np.asarray(y, dtype=float)
    if name is None:
        return y
    if name == "sin2_2theta":
        return 4.0 * y * (1.0 - y)
    raise ConfigError(f"unknown y_transform {name!r}; known: {', '.join(Y_TRANSFORMS)}")
