"""Nuclear form factors F(q), parametrised by the rms radius of the density (``shared/PHYSICS.md`` s. 3).

Every form factor takes the momentum transfer ``q_mev`` [MeV] (converted to fm^-1 with
hbar c = HBARC_MEV_FM) and the rms radius ``rms_radius_fm`` [fm] of the (point-nucleon) density,
broadcasts them against each other, and is normalised to F(0) = 1. The rms radius fixes the
small-q behaviour F = 1 - q^2 <r^2> / 6 + O(q^4).
"""

from __future__ import annotations

import inspect

import numpy as np

from cevns.physics.constants import HBARC_MEV_FM

__all__ = [
    "helm",
    "klein_nystrand",
    "symmetrized_fermi",
    "unity",
    "helm_rms_from_radius",
    "papoulias_helm_rms_fm",
    "FORM_FACTORS",
    "form_factor",
]


def _out(arr: np.ndarray):
    """numpy scalar for 0-d results, the array otherwise."""
    arr = np.asarray(arr)
    return arr[()] if arr.ndim == 0 else arr


def _q_fm(q_mev) -> np.ndarray:
    q = np.asarray(q_mev, dtype=float)
    if not np.all(np.isfinite(q)) or np.any(q < 0):
        raise ValueError(f"q_mev must be finite and >= 0, got {q_mev!r}")
    return q / HBARC_MEV_FM


def _radius(r, name: str = "rms_radius_fm") -> np.ndarray:
    arr = np.asarray(r, dtype=float)
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(f"{name} must be finite and > 0, got {r!r}")
    return arr


def _shape(x, name: str, *, allow_zero: bool) -> float:
    x = float(x)
    if not np.isfinite(x) or x < 0 or (x == 0 and not allow_zero):
        raise ValueError(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {x!r}")
    return x


def _inner_radius(rms2: np.ndarray, subtract: float, model: str, shape: str) -> np.ndarray:
    """sqrt(5/3 (rms^2 - subtract)); ValueError if the rms radius is too small for the shape."""
    diff = rms2 - subtract
    if np.any(diff <= 0):
        raise ValueError(
            f"{model}: rms radius too small for {shape} (need rms^2 > {subtract:.4g} fm^2, "
            f"got rms = {np.sqrt(np.min(rms2)):.4g} fm)"
        )
    return np.sqrt(5.0 / 3.0 * diff)


def _sphere(x: np.ndarray) -> np.ndarray:
    """3 j1(x) / x = 3 (sin x - x cos x) / x^3, the uniform-sphere form factor; series for x < 0.3."""
    x = np.asarray(x, dtype=float)
    small = x < 0.3
    xs = np.where(small, 1.0, x)
    direct = 3.0 * (np.sin(xs) - xs * np.cos(xs)) / xs**3
    x2 = x * x
    series = 1.0 + x2 * (-1.0 / 10 + x2 * (1.0 / 280 + x2 * (-1.0 / 15120 + x2 / 1330560)))
    return np.where(small, series, direct)


def helm(q_mev, rms_radius_fm, s_fm: float = 0.9):
    """Helm form factor (uniform sphere R0 folded with a Gaussian of width s).

    ``F(q) = 3 j1(q R0) / (q R0) * exp(-q^2 s^2 / 2)``, ``R0 = sqrt(5/3 (<r^2> - 3 s^2))``
    (R. H. Helm, Phys. Rev. 104, 1466 (1956); J. D. Lewin and P. F. Smith, Astropart. Phys. 6, 87
    (1996), s = 0.9 fm).

    Parameters
    ----------
    q_mev : array_like
        Momentum transfer [MeV], >= 0.
    rms_radius_fm : array_like
        rms radius of the density [fm]; must satisfy rms^2 > 3 s^2.
    s_fm : float
        Surface thickness (Gaussian width) [fm], >= 0.

    Examples
    --------
    F(0) = 1 for any radius; at q = 100 MeV (0.51 fm^-1) a Cs-like nucleus is already resolved:

    >>> float(helm(0.0, 4.8))
    1.0
    >>> f"{helm(100.0, 4.8):.4f}"
    '0.3196'
    """
    q = _q_fm(q_mev)
    s = _shape(s_fm, "s_fm", allow_zero=True)
    r0 = _inner_radius(_radius(rms_radius_fm) ** 2, 3.0 * s * s, "helm", f"s_fm={s}")
    return _out(_sphere(q * r0) * np.exp(-0.5 * (q * s) ** 2))


def helm_rms_from_radius(r_fm, s_fm):
    """rms radius [fm] of a Helm density given by the "effective radius" R [fm] and s [fm].

    Convention of Papoulias & Kosmas (arXiv:1711.09773): ``R0^2 = R^2 - 5 s^2``; then
    ``<r^2> = 3/5 R0^2 + 3 s^2 = 3/5 R^2``. Requires R^2 > 5 s^2.

    Parameters
    ----------
    r_fm : float
        Helm effective radius R [fm].
    s_fm : float
        Helm surface thickness s [fm].

    Examples
    --------
    ``<r^2> = 3/5 R^2`` whatever s is:

    >>> f"{helm_rms_from_radius(5.0, 0.9) ** 2 / 5.0 ** 2:.4f}"
    '0.6000'
    """
    r = _radius(r_fm, "r_fm")
    s = _shape(s_fm, "s_fm", allow_zero=True)
    if np.any(r**2 <= 5.0 * s * s):
        raise ValueError(f"helm_rms_from_radius: need r_fm^2 > 5 s_fm^2, got r_fm={r_fm!r}, s_fm={s}")
    return _out(np.sqrt(3.0 / 5.0 * (r**2 - 5.0 * s * s) + 3.0 * s * s))


def papoulias_helm_rms_fm(a):
    """rms radius [fm] of the Helm density with R = 1.2 A^(1/3) fm, s = 0.5 fm (arXiv:1711.09773).

    Parameters
    ----------
    a : int or float
        Mass number A.
    """
    a_arr = _radius(a, "mass number a")
    return helm_rms_from_radius(1.2 * np.cbrt(a_arr), 0.5)


def klein_nystrand(q_mev, rms_radius_fm, a_fm: float = 0.7):
    """Klein-Nystrand form factor (hard sphere R_A folded with a Yukawa of range a).

    ``F(q) = 3 j1(q R_A) / (q R_A) / (1 + q^2 a^2)``, with ``<r^2> = 3/5 R_A^2 + 6 a^2``
    (S. Klein and J. Nystrand, Phys. Rev. C 60, 014903 (1999), arXiv:hep-ph/9902259; a = 0.7 fm).

    Parameters
    ----------
    q_mev : array_like
        Momentum transfer [MeV], >= 0.
    rms_radius_fm : array_like
        rms radius [fm]; must satisfy rms^2 > 6 a^2.
    a_fm : float
        Yukawa range [fm], >= 0.
    """
    q = _q_fm(q_mev)
    a = _shape(a_fm, "a_fm", allow_zero=True)
    r_a = _inner_radius(_radius(rms_radius_fm) ** 2, 6.0 * a * a, "klein_nystrand", f"a_fm={a}")
    return _out(_sphere(q * r_a) / (1.0 + (q * a) ** 2))


def _y_over_sinh(y: np.ndarray) -> np.ndarray:
    """y / sinh(y) for y >= 0, without overflow or 0/0."""
    big = y > 1.0
    yb = np.where(big, y, 1.0)
    ys = np.where(big, 1.0, y)
    small_val = np.where(ys < 1e-8, 1.0 - ys * ys / 6.0, ys / np.sinh(np.maximum(ys, 1e-300)))
    big_val = 2.0 * yb * np.exp(-yb) / (1.0 - np.exp(-2.0 * yb))
    return np.where(big, big_val, small_val)


def _coth_term(y: np.ndarray) -> np.ndarray:
    """3 (y coth y - 1) / y^2 (-> 1 at y = 0); series for y < 0.1."""
    small = y < 0.1
    ys = np.where(small, 1.0, y)
    direct = 3.0 * (ys / np.tanh(ys) - 1.0) / ys**2
    y2 = y * y
    series = 1.0 + y2 * (-1.0 / 15 + y2 * (2.0 / 315 + y2 * (-1.0 / 1575 + y2 * 2.0 / 31185)))
    return np.where(small, series, direct)


def symmetrized_fermi(q_mev, rms_radius_fm, a_fm: float = 0.52):
    """Symmetrized Fermi form factor (exact Fourier transform of the symmetrized Fermi density).

    Density ``rho(r) ~ sinh(c/a) / (cosh(r/a) + cosh(c/a))``; ``<r^2> = 3/5 c^2 + 7/5 pi^2 a^2``.
    Closed form (D. W. L. Sprung and J. Martorell, J. Phys. A 30, 6525 (1997); J. Piekarewicz,
    A. R. Linero, P. Giuliani, E. Chicken, arXiv:1604.07799):

    ``F(q) = 3 / (qc ((qc)^2 + (pi q a)^2)) * (pi q a / sinh(pi q a))
    * (pi q a coth(pi q a) sin(qc) - qc cos(qc))``,

    evaluated here in the algebraically equivalent, cancellation-free form
    ``F = (y / sinh y) [c^2 S(qc) + pi^2 a^2 G(y) sin(qc)/(qc)] / (c^2 + pi^2 a^2)``,
    ``y = pi q a``, ``S(x) = 3 j1(x)/x``, ``G(y) = 3 (y coth y - 1) / y^2``.

    Parameters
    ----------
    q_mev : array_like
        Momentum transfer [MeV], >= 0.
    rms_radius_fm : array_like
        rms radius [fm]; must satisfy rms^2 > 7/5 pi^2 a^2.
    a_fm : float
        Diffuseness [fm], > 0.
    """
    q = _q_fm(q_mev)
    a = _shape(a_fm, "a_fm", allow_zero=False)
    pa2 = (np.pi * a) ** 2
    c = _inner_radius(_radius(rms_radius_fm) ** 2, 7.0 / 5.0 * pa2, "symmetrized_fermi", f"a_fm={a}")
    z = q * c
    y = np.pi * q * a
    sinc = np.sinc(z / np.pi)  # sin(z)/z, = 1 at z = 0
    return _out(_y_over_sinh(y) * (c**2 * _sphere(z) + pa2 * _coth_term(y) * sinc) / (c**2 + pa2))


def unity(q_mev, rms_radius_fm=1.0, **_ignored):
    """F = 1 (point nucleus, dimensionless), broadcast to the shape of ``q_mev`` [MeV] and ``rms_radius_fm`` [fm].

    The q -> 0 limit of every form factor (PHYSICS.md section 3).
    """
    q = _q_fm(q_mev)
    return _out(np.ones(np.broadcast(q, np.asarray(rms_radius_fm, dtype=float)).shape))


#: Form factors by name; each is called as ``f(q_mev, rms_radius_fm, **shape)``.
FORM_FACTORS = {
    "helm": helm,
    "klein_nystrand": klein_nystrand,
    "symmetrized_fermi": symmetrized_fermi,
    "unity": unity,
}


def form_factor(name: str, q_mev, rms_radius_fm, **shape):
    """Evaluate the form factor ``name`` (a key of :data:`FORM_FACTORS`).

    ``shape`` holds the model's shape parameter (``s_fm`` for helm, ``a_fm`` for klein_nystrand and
    symmetrized_fermi). Unknown names or parameters raise ValueError.

    Parameters
    ----------
    name : str
        Form-factor model, a key of :data:`FORM_FACTORS`.
    q_mev : float or ndarray
        Momentum transfer |q| [MeV].
    rms_radius_fm : float
        rms radius of the nucleon distribution [fm].
    **shape
        Shape parameter of the model [fm].

    Returns
    -------
    ndarray
        F(q), dimensionless (F(0) = 1).

    Examples
    --------
    >>> float(form_factor("klein_nystrand", 0.0, 4.8))
    1.0
    >>> float(form_factor("helm", 100.0, 4.8, s_fm=0.9)) == float(helm(100.0, 4.8, s_fm=0.9))
    True
    """
    func = FORM_FACTORS.get(name) if isinstance(name, str) else None
    if func is None:
        raise ValueError(f"unknown form factor {name!r}; valid names: {', '.join(sorted(FORM_FACTORS))}")
    if func is not unity:
        allowed = set(inspect.signature(func).parameters) - {"q_mev", "rms_radius_fm"}
        unknown = set(shape) - allowed
        if unknown:
            raise ValueError(
                f"form factor {name!r}: unknown shape parameter(s) {sorted(unknown)}; "
                f"allowed: {sorted(allowed)}"
            )
    return func(q_mev, rms_radius_fm, **shape)
