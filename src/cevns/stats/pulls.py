"""Single-bin chi^2 with pull terms (COHERENT CsI 2017 style).

The COHERENT 2017 counting analysis, as used by Papoulias & Kosmas (arXiv:1711.09773, Eq. 6) and
described in the COHERENT supplement (arXiv:1708.01294), compares one number of measured events with
a prediction scaled by two normalisation pulls,

    chi2(theta) = min_{alpha, beta} [ (N_meas - N_th (1 + alpha) - B_on (1 + beta))^2 / sigma_stat^2
                                      + (alpha / sigma_alpha)^2 + (beta / sigma_beta)^2 ],
    sigma_stat^2 = N_meas + 2 B_ss + B_on.

The bracket is quadratic in (alpha, beta), so the minimum is found in closed form (see
:func:`chi2_single_bin_pulls`).
"""

from __future__ import annotations

import numpy as np

__all__ = ["chi2_single_bin_pulls", "chi2_single_bin_stat_only", "sigma_stat_squared"]


def _as_float_array(value, name: str, *, allow_negative: bool = False) -> np.ndarray:
    arr = np.asarray(value, dtype=float)
    if np.any(np.isnan(arr)):
        raise ValueError(f"{name} contains NaN")
    if np.any(np.isinf(arr)):
        raise ValueError(f"{name} must be finite")
    if not allow_negative and np.any(arr < 0):
        raise ValueError(f"{name} must be non-negative, got minimum {arr.min()}")
    return arr


def sigma_stat_squared(n_meas, b_on, b_ss):
    """Statistical variance of the background-subtracted single-bin count.

    ``sigma_stat^2 = N_meas + 2 B_ss + B_on`` (COHERENT 2017, arXiv:1708.01294 supplement;
    Papoulias & Kosmas arXiv:1711.09773 Eq. 6). ``N_meas`` is the steady-state-subtracted number of
    events, so the subtracted steady-state count ``B_ss`` enters twice.

    Parameters
    ----------
    n_meas, b_on, b_ss : array_like
        Measured (background-subtracted) events, beam-on background and steady-state background
        (numbers of events, non-negative).

    Returns
    -------
    numpy.ndarray
        ``sigma_stat^2`` (events^2), broadcast over the inputs.
    """
    n_meas = _as_float_array(n_meas, "n_meas")
    b_on = _as_float_array(b_on, "b_on")
    b_ss = _as_float_array(b_ss, "b_ss")
    var = n_meas + 2.0 * b_ss + b_on
    if np.any(var <= 0):
        raise ValueError("sigma_stat^2 = N_meas + 2 B_ss + B_on must be positive")
    return var


def chi2_single_bin_stat_only(n_th, n_meas, b_on, b_ss):
    """Single-bin chi^2 without pull terms.

    ``chi2 = (N_meas - N_th - B_on)^2 / sigma_stat^2`` with ``sigma_stat^2 = N_meas + 2 B_ss + B_on``:
    the "more simplistic" comparison of Papoulias & Kosmas (arXiv:1711.09773). It is the
    ``sigma_alpha, sigma_beta -> 0`` limit of :func:`chi2_single_bin_pulls`.

    Parameters
    ----------
    n_th : array_like
        Predicted signal events (any shape, non-negative).
    n_meas, b_on, b_ss : array_like
        Measured events, beam-on background and steady-state background (broadcast with ``n_th``).

    Returns
    -------
    numpy.ndarray
        chi^2, with the broadcast shape of the inputs.
    """
    n_th = _as_float_array(n_th, "n_th")
    var = sigma_stat_squared(n_meas, b_on, b_ss)
    resid = np.asarray(n_meas, dtype=float) - n_th - np.asarray(b_on, dtype=float)
    return resid**2 / var


def chi2_single_bin_pulls(n_th, n_meas, b_on, b_ss, sigma_alpha, sigma_beta, return_pulls=False):
    """Single-bin chi^2 with signal and background pulls, minimised in closed form.

    Minimises over (alpha, beta)

        (N_meas - N_th (1 + alpha) - B_on (1 + beta))^2 / sigma_stat^2
            + (alpha / sigma_alpha)^2 + (beta / sigma_beta)^2

    (Papoulias & Kosmas arXiv:1711.09773 Eq. 6; COHERENT arXiv:1708.01294). With
    ``r = N_meas - N_th - B_on`` and ``D = sigma_stat^2 + N_th^2 sigma_alpha^2 + B_on^2 sigma_beta^2``
    the stationarity conditions (a 2x2 linear system) give

        alpha_hat = sigma_alpha^2 N_th r / D,   beta_hat = sigma_beta^2 B_on r / D,
        chi2_min  = r^2 / D,

    i.e. the pulls add the normalisation uncertainties in quadrature to the statistical variance.

    Parameters
    ----------
    n_th : array_like
        Predicted CEvNS events for each parameter point (any shape, non-negative).
    n_meas : array_like
        Measured (steady-state subtracted) events, e.g. 142 for COHERENT CsI 2017.
    b_on : array_like
        Beam-on (prompt neutron) background events, e.g. 6.
    b_ss : array_like
        Steady-state background events, e.g. 405.
    sigma_alpha, sigma_beta : array_like
        Fractional uncertainties of the signal and beam-on background normalisations
        (e.g. 0.28 and 0.25); 0 fixes the corresponding pull at 0.
    return_pulls : bool, optional
        Also return the minimising ``alpha_hat`` and ``beta_hat``.

    Returns
    -------
    chi2 : numpy.ndarray
        Minimum chi^2 for each point (broadcast shape of the inputs).
    alpha_hat, beta_hat : numpy.ndarray
        Only if ``return_pulls``: the minimising pulls.

    Examples
    --------
    With ``N_th = 100``, ``N_meas = 130``, ``B_on = 10``, ``B_ss = 5``: ``r = 20`` and
    ``sigma_stat^2 = 130 + 10 + 10 = 150``. A 10 % signal pull gives ``D = 150 + (100 * 0.1)^2 = 250``,
    ``chi2 = 20^2 / 250 = 1.6`` and ``alpha_hat = 0.01 * 100 * 20 / 250 = 0.08``:

    >>> chi2, alpha, beta = chi2_single_bin_pulls(100.0, 130.0, 10.0, 5.0, 0.1, 0.0, return_pulls=True)
    >>> round(float(chi2), 12), round(float(alpha), 12), round(float(beta), 12)
    (1.6, 0.08, 0.0)
    >>> float(chi2_single_bin_stat_only(100.0, 130.0, 10.0, 5.0))  # no pulls: 400 / 150
    2.666...
    """
    n_th = _as_float_array(n_th, "n_th")
    b_on_a = _as_float_array(b_on, "b_on")
    s_a = _as_float_array(sigma_alpha, "sigma_alpha")
    s_b = _as_float_array(sigma_beta, "sigma_beta")
    var = sigma_stat_squared(n_meas, b_on, b_ss)
    resid = np.asarray(n_meas, dtype=float) - n_th - b_on_a
    denom = var + (n_th * s_a) ** 2 + (b_on_a * s_b) ** 2
    chi2 = resid**2 / denom
    if not return_pulls:
        return chi2
    alpha = s_a**2 * n_th * resid / denom
    beta = s_b**2 * b_on_a * resid / denom
    chi2, alpha, beta = np.broadcast_arrays(chi2, alpha, beta)
    return chi2, np.array(alpha), np.array(beta)
