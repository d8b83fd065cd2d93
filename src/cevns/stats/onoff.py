"""On/off Poisson term: a background measured in a signal-free (off) window, profiled per bin.

For one bin, ``n`` counts are seen in the on window, whose expectation is ``a + b`` (``a`` = signal +
other backgrounds, ``b`` = the steady-state background), and ``m`` counts in the off window (for
COHERENT: the anti-coincidence window), whose expectation is ``tau b`` (``tau`` = off/on exposure
ratio, 1 for equal windows). The Baker-Cousins statistic of both Poisson measurements is

    chi2(a, b) = 2 [a + b - n + n ln(n / (a + b))] + 2 [tau b - m + m ln(m / (tau b))].

``b`` is profiled in closed form: d chi2 / d b = 0 is the quadratic

    (1 + tau) b^2 + [(1 + tau) a - n - m] b - m a = 0,

whose non-negative root is ``b_hat`` (Rolke, Lopez & Conrad, Nucl. Instrum. Meth. A 551 (2005) 493,
Sec. 2; Li & Ma, Astrophys. J. 272 (1983) 317 for the same likelihood). The profiled
``g(a) = chi2(a, b_hat(a))`` has (envelope theorem)

    g'(a) = 2 (1 - n / (a + b_hat)),    g''(a) = 2 n m / (n b_hat^2 + m (a + b_hat)^2),

(``g'' = 2 n / a^2`` where ``m = 0`` and ``b_hat = 0``), so it enters Newton profiling of other
nuisances bin by bin, vectorised. In the Gaussian limit, ``g = (n - m/tau - a)^2 / (n + m/tau^2)``: the
background-subtracted count ``n - m`` with variance ``n + m`` (tau = 1), i.e. the ``N_meas + 2 B_ss``
of the single-bin chi^2 (:mod:`cevns.stats.pulls`).
"""

from __future__ import annotations

import numpy as np
from scipy.special import xlogy

__all__ = ["profile_off_background", "onoff_chi2", "onoff_derivatives"]


def profile_off_background(a, n, m, tau=1.0):
    """Profiled steady-state background ``b_hat`` (counts in the on window) of an on/off bin.

    Parameters
    ----------
    a : array_like
        Expected on-window counts other than the steady-state background (>= 0).
    n, m : array_like
        On- and off-window counts (>= 0, need not be integers).
    tau : float or array_like
        Off/on exposure ratio (> 0).

    Returns
    -------
    numpy.ndarray
        ``b_hat >= 0``, broadcast shape.
    """
    a, n, m = (np.asarray(v, dtype=float) for v in (a, n, m))
    k = 1.0 + np.asarray(tau, dtype=float)
    big_b = k * a - n - m
    disc = np.sqrt(np.maximum(big_b * big_b + 4.0 * k * m * a, 0.0))
    # the two algebraically equal forms of the positive root, each free of cancellation on its side
    with np.errstate(divide="ignore", invalid="ignore"):
        pos = np.where(big_b + disc > 0, 2.0 * m * a / np.where(big_b + disc > 0, big_b + disc, 1.0), 0.0)
    return np.where(big_b <= 0, (disc - big_b) / (2.0 * k), pos)


def onoff_chi2(a, n, m, tau=1.0):
    """Profiled on/off chi^2 ``g(a) = min_b chi2(a, b)`` of each bin (module docstring).

    ``g(a) = chi2(a, b_hat(a))`` with the Baker-Cousins on/off statistic and ``b_hat`` of
    :func:`profile_off_background` (Rolke, Lopez & Conrad, Nucl. Instrum. Meth. A 551 (2005) 493).

    Parameters
    ----------
    a : array_like
        Expected on-window counts other than the steady-state background [events] (>= 0).
    n, m : array_like
        On- and off-window counts [events] (>= 0).
    tau : float or array_like, optional
        Off/on exposure ratio (dimensionless, > 0).

    Returns
    -------
    numpy.ndarray
        Per-bin values (broadcast shape); ``inf`` where ``a + b_hat = 0 < n``.

    Examples
    --------
    With ``a = 5``, ``n = 10``, ``m = 5`` the quadratic ``2 b^2 - 5 b - 25 = 0`` gives ``b_hat = 5``,
    a perfect fit. Without signal, ``n = 20`` on and ``m = 10`` off counts give ``b_hat = 15`` and
    ``g = 2 [-5 + 20 ln(4/3)] + 2 [5 + 10 ln(2/3)] = 3.398``, close to the Gaussian
    ``(n - m)^2 / (n + m) = 3.33``:

    >>> float(profile_off_background(5.0, 10.0, 5.0)), float(onoff_chi2(5.0, 10.0, 5.0))
    (5.0, 0.0)
    >>> float(profile_off_background(0.0, 20.0, 10.0)), round(float(onoff_chi2(0.0, 20.0, 10.0)), 3)
    (15.0, 3.398)
    """
    a, n, m = (np.asarray(v, dtype=float) for v in (a, n, m))
    tau = np.asarray(tau, dtype=float)
    b = profile_off_background(a, n, m, tau)
    mu = a + b
    with np.errstate(divide="ignore", invalid="ignore"):
        on = 2.0 * (mu - n + xlogy(n, n) - xlogy(n, np.where(mu > 0, mu, 1.0)))
        off = 2.0 * (tau * b - m + xlogy(m, m) - xlogy(m, np.where(b > 0, tau * b, 1.0)))
    on = np.where((mu <= 0) & (n > 0), np.inf, on)
    off = np.where((b <= 0) & (m > 0), np.inf, off)
    return on + off


def onoff_derivatives(a, n, m, tau=1.0):
    """First and second derivative of :func:`onoff_chi2` with respect to ``a`` (per bin).

    ``g'(a) = 2 (1 - n / (a + b_hat))`` and ``g''(a) = 2 n m / (n b_hat^2 + m (a + b_hat)^2)`` (envelope
    theorem; module docstring).

    Parameters
    ----------
    a : array_like
        Expected on-window counts other than the steady-state background [events] (>= 0).
    n, m : array_like
        On- and off-window counts [events] (>= 0).
    tau : float or array_like, optional
        Off/on exposure ratio (dimensionless, > 0).

    Returns
    -------
    d1, d2 : numpy.ndarray
        ``g'(a)`` [1/events] and ``g''(a)`` [1/events^2], broadcast shape.
    """
    a, n, m = (np.asarray(v, dtype=float) for v in (a, n, m))
    b = profile_off_background(a, n, m, tau)
    mu = a + b
    safe_mu = np.where(mu > 0, mu, 1.0)
    d1 = np.where(mu > 0, 2.0 * (1.0 - n / safe_mu), 2.0)
    denom = n * b * b + m * mu * mu
    with np.errstate(divide="ignore", invalid="ignore"):
        d2 = np.where(denom > 0, 2.0 * n * m / np.where(denom > 0, denom, 1.0), 0.0)
        no_off = (m == 0) & (b <= 0) & (a > 0)
        d2 = np.where(no_off, 2.0 * n / np.where(a > 0, a, 1.0) ** 2, d2)
    return d1, d2
