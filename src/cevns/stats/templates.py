"""Shape-template interpolation (HistFactory "histosys"), vectorised over many nuisance points.

For a nominal histogram ``h0`` and +-1 sigma variants ``h+_s``, ``h-_s`` of nuisances s (Cranmer et al.,
HistFactory, CERN-OPEN-2012-016, interpolation codes 0 and 1)::

    piecewise-linear (code 0):       h(theta) = h0 + sum_s I_lin(theta_s; h0, h+_s, h-_s)
        I_lin = theta (h+ - h0)  for theta >= 0,   theta (h0 - h-)  for theta < 0
    piecewise-exponential (code 1):  h(theta) = h0 prod_s I_exp(theta_s; h0, h+_s, h-_s)
        I_exp = (h+ / h0)^theta  for theta >= 0,   (h- / h0)^(-theta)  for theta < 0
    quadratic (code 2):              h(theta) = h0 + sum_s [theta_s B_s + q(theta_s) A_s],
        B = (h+ - h-) / 2,  A = h+ + h- - 2 h0,  q = theta^2 / 2 for |theta| <= 1, |theta| - 1/2 beyond
        (the parabola through h-, h0, h+ continued linearly: smooth at 0, which Newton steps need)
    exp-quadratic:                   h(theta) = h0 exp(sum_s [theta_s b_s + q(theta_s) a_s]),
        b = (ln(h+/h0) - ln(h-/h0)) / 2,  a = ln(h+/h0) + ln(h-/h0) (ratios limited to [1e-3, 1e3];
        bins with h0 = 0 do not vary): the same in log space, positive without clipping

Linear results are clipped at 0 (a histogram cannot go negative); the exponential form is positive
by construction (bins where h0 or a variant is 0 stay at the linear value, clipped). A one-sided
variation is mirrored: ``h- = 2 h0 - h+``.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError

__all__ = ["METHODS", "mirror", "interpolate"]

METHODS = ("linear", "exponential", "quadratic", "exp-quadratic")


def mirror(nominal, up) -> np.ndarray:
    """The symmetric down variation of a one-sided systematic: ``2 h0 - h+`` (clipped at 0).

    HistFactory convention (Cranmer et al., CERN-OPEN-2012-016).

    Parameters
    ----------
    nominal : array_like
        Nominal histogram ``h0`` [events].
    up : array_like
        The +1 sigma variation ``h+`` [events].

    Returns
    -------
    numpy.ndarray
        ``max(2 h0 - h+, 0)`` [events].
    """
    return np.clip(2.0 * np.asarray(nominal, float) - np.asarray(up, float), 0.0, None)


def interpolate(nominal, up, down, theta, method: str = "linear") -> np.ndarray:
    """Histograms at nuisance values ``theta`` (see module docstring).

    Parameters
    ----------
    nominal : array_like, shape (n_bins,)
    up, down : array_like, shape (n_sys, n_bins)
        +1 and -1 sigma histograms of each nuisance.
    theta : array_like, shape (n_points, n_sys) or (n_sys,)
        Nuisance values in units of their sigma.
    method : {"linear", "exponential", "quadratic", "exp-quadratic"}

    Returns
    -------
    ndarray, shape (n_points, n_bins) (or (n_bins,) for 1-D ``theta``)
    """
    if method not in METHODS:
        raise ConfigError(f"template interpolation method must be one of {METHODS}, got {method!r}")
    h0 = np.asarray(nominal, dtype=float)
    hu = np.atleast_2d(np.asarray(up, dtype=float))
    hd = np.atleast_2d(np.asarray(down, dtype=float))
    th = np.asarray(theta, dtype=float)
    single = th.ndim == 1
    th = np.atleast_2d(th)
    if h0.ndim != 1 or hu.shape != hd.shape or hu.shape[1:] != h0.shape:
        raise ConfigError(f"templates: nominal {h0.shape}, up {hu.shape} and down {hd.shape} do not match")
    if th.shape[1] != hu.shape[0]:
        raise ConfigError(f"templates: {th.shape[1]} nuisance values given for {hu.shape[0]} variations")
    if not np.all(np.isfinite(th)):
        raise ConfigError("templates: nuisance values must be finite")
    pos = th >= 0  # (P, S)
    if method == "exp-quadratic":
        ok = h0 > 0
        safe = np.where(ok, h0, 1.0)
        lu = np.where(ok, np.log(np.clip(hu / safe, 1e-3, 1e3)), 0.0)
        ld = np.where(ok, np.log(np.clip(hd / safe, 1e-3, 1e3)), 0.0)
        q = np.where(np.abs(th) <= 1.0, 0.5 * th * th, np.abs(th) - 0.5)
        out = h0 * np.exp(th @ (0.5 * (lu - ld)) + q @ (lu + ld))
    elif method == "quadratic":
        q = np.where(np.abs(th) <= 1.0, 0.5 * th * th, np.abs(th) - 0.5)
        out = np.clip(h0 + th @ (0.5 * (hu - hd)) + q @ (hu + hd - 2.0 * h0), 0.0, None)
    elif method == "linear":
        d_up = hu - h0
        d_dn = h0 - hd
        shift = np.where(pos, th, 0.0) @ d_up + np.where(pos, 0.0, th) @ d_dn
        out = np.clip(h0 + shift, 0.0, None)
    else:
        ok = (h0 > 0) & np.all(hu > 0, axis=0) & np.all(hd > 0, axis=0)
        safe0 = np.where(ok, h0, 1.0)
        log_up = np.log(np.where(ok, hu, 1.0) / safe0)
        log_dn = np.log(np.where(ok, hd, 1.0) / safe0)
        expo = np.where(pos, th, 0.0) @ log_up - np.where(pos, 0.0, th) @ log_dn
        lin = interpolate(h0, hu, hd, th, "linear")
        out = np.where(ok, h0 * np.exp(expo), lin)
    return out[0] if single else out
