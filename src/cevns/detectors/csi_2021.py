"""Response of the COHERENT CsI[Na] detector in the 2021 full-data analysis (arXiv:2110.07730).

Chain from a nuclear recoil T to an accepted event in a PE bin (release files scintRespCoefficients.txt
and effCoefficients.txt; supplement of arXiv:2110.07730)::

    E_ee [MeVee] = a x + b x^2 + c x^3 + d x^4,  x = T [MeVnr]          (scintillation response)
    PE ~ Gamma(k = 1 + beta, theta = 1 / (alpha (1 + beta))),
         alpha = 1 / (LY E_ee),  beta = beta_1 E_ee [keVee]               (LY = 13.35 PE/keVee, beta_1 = 9.56)
    eps_E(PE) = max(0, A / (1 + exp(-B (PE - C))) + D)                    (energy efficiency)
    eps_t(t)  = 1 for t < 0.52 us, exp(-0.0494 (t/us - 0.52)) above         (time efficiency)

The Gamma PE law has mean ``LY E_ee`` and variance ``(LY E_ee)^2 / (1 + beta)``. (COHERENT writes
alpha = 0.0749 / E_ee = 1 / (13.35 E_ee).)

The scintillation response carries two principal-component nuisances (theta_0, theta_1): each
coefficient moves piecewise-linearly from the nominal set to the +1 sigma set at theta = +1 and to the
-1 sigma set at theta = -1 (linear extrapolation beyond). The energy efficiency has one nuisance
(theta_E) interpolated the same way between its nominal and +-1 sigma curves (on the curve values).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.special import gammainc

from ..errors import ConfigError

__all__ = [
    "ScintillationResponse",
    "EnergyEfficiency",
    "scintillation_mevee",
    "gamma_pe_bin_probabilities",
    "gamma_pe_moments",
    "logistic_efficiency_pe",
    "time_efficiency",
    "CsI2021Response",
]


def _coeffs(values, name: str, n: int) -> np.ndarray:
    c = np.asarray(values, dtype=float)
    if c.shape != (n,) or not np.all(np.isfinite(c)):
        raise ConfigError(f"CsI 2021 response: {name} must be {n} finite numbers, got {values!r}")
    return c


def _interp(nominal: np.ndarray, up: np.ndarray, down: np.ndarray, theta: float) -> np.ndarray:
    """Piecewise-linear move from nominal to ``up`` (theta = +1) or ``down`` (theta = -1)."""
    t = float(theta)
    if not math.isfinite(t):
        raise ConfigError(f"CsI 2021 response: nuisance value must be finite, got {theta!r}")
    return nominal + t * (up - nominal) if t >= 0 else nominal - t * (down - nominal)


def scintillation_mevee(t_kevnr, coeffs) -> np.ndarray:
    """Electron-equivalent energy [MeVee] of a recoil T [keVnr]: ``sum_k c_k x^k`` (k = 1..4), x in MeVnr.

    Release scintRespCoefficients.txt of arXiv:2110.07730.

    Parameters
    ----------
    t_kevnr : float or ndarray
        Nuclear recoil energy T [keVnr].
    coeffs : sequence of 4 float
        (c_1, c_2, c_3, c_4) [MeVee / MeVnr^k].
    """
    x = 1e-3 * np.asarray(t_kevnr, dtype=float)
    a, b, c, d = _coeffs(coeffs, "scintillation coefficients", 4)
    return x * (a + x * (b + x * (c + x * d)))


@dataclass(frozen=True)
class ScintillationResponse:
    """Scintillation response E_ee(T) with its nominal and two principal-component +-1 sigma sets.

    Each set is ``(a, b, c, d)`` of :func:`scintillation_mevee` (release scintRespCoefficients.txt).

    Attributes
    ----------
    nominal, pc0_up, pc0_down, pc1_up, pc1_down : tuple of 4 float
        Coefficient sets of :func:`scintillation_mevee`: nominal and the +-1 sigma shifts along the two
        principal components.
    """

    nominal: tuple
    pc0_up: tuple
    pc0_down: tuple
    pc1_up: tuple
    pc1_down: tuple

    def coefficients(self, theta0: float = 0.0, theta1: float = 0.0) -> np.ndarray:
        """Coefficients at nuisance values (theta0, theta1); both shifts add (PCs are independent)."""
        nom = _coeffs(self.nominal, "nominal", 4)
        s0 = _interp(nom, _coeffs(self.pc0_up, "pc0_up", 4), _coeffs(self.pc0_down, "pc0_down", 4), theta0) - nom
        s1 = _interp(nom, _coeffs(self.pc1_up, "pc1_up", 4), _coeffs(self.pc1_down, "pc1_down", 4), theta1) - nom
        return nom + s0 + s1

    def mevee(self, t_kevnr, theta0: float = 0.0, theta1: float = 0.0) -> np.ndarray:
        """E_ee [MeVee] of recoils T [keVnr] at the given nuisance values.

        Parameters
        ----------
        t_kevnr : float or ndarray
            Nuclear recoil energy T [keVnr].
        theta0, theta1 : float
            Nuisances along the two principal components [sigma units]; 0 = nominal.
        """
        return scintillation_mevee(t_kevnr, self.coefficients(theta0, theta1))


def gamma_pe_moments(e_ee_kevee, light_yield_pe_per_kevee: float = 13.35, beta_per_kevee: float = 9.56):
    """Mean and variance of the Gamma PE law: ``LY E_ee`` and ``(LY E_ee)^2 / (1 + beta_1 E_ee)``.

    COHERENT CsI 2021, arXiv:2110.07730 (module docstring).

    Parameters
    ----------
    e_ee_kevee : float or ndarray
        Electron-equivalent energy E_ee [keVee].
    light_yield_pe_per_kevee : float, optional
        Light yield LY [PE/keVee].
    beta_per_kevee : float, optional
        Gamma shape parameter beta_1 [1/keVee].

    Returns
    -------
    mean_pe, variance_pe2 : ndarray
    """
    e = np.asarray(e_ee_kevee, dtype=float)
    mean = light_yield_pe_per_kevee * e
    return mean, mean**2 / (1.0 + beta_per_kevee * e)


def gamma_pe_bin_probabilities(e_ee_kevee, edges_pe, light_yield_pe_per_kevee: float = 13.35,
                               beta_per_kevee: float = 9.56) -> np.ndarray:
    """P(PE in [e_j, e_j+1)) for each E_ee under the Gamma law of the module docstring (arXiv:2110.07730).

    Parameters
    ----------
    e_ee_kevee : array_like, shape (n,)
        Electron-equivalent energies [keVee], >= 0 (0 gives no light: PE = 0 exactly).
    edges_pe : array_like, shape (m + 1,)
        Strictly ascending PE edges.
    light_yield_pe_per_kevee : float, optional
        Light yield LY [PE/keVee].
    beta_per_kevee : float, optional
        Gamma shape parameter beta_1 [1/keVee].

    Returns
    -------
    ndarray, shape (n, m)
    """
    e = np.asarray(e_ee_kevee, dtype=float)
    edges = np.asarray(edges_pe, dtype=float)
    if e.ndim != 1 or not np.all(np.isfinite(e)) or np.any(e < 0):
        raise ConfigError("CsI 2021 response: E_ee must be a 1-D array of finite non-negative values")
    if edges.ndim != 1 or edges.size < 2 or np.any(np.diff(edges) <= 0):
        raise ConfigError("CsI 2021 response: PE edges must be strictly ascending")
    safe = np.where(e > 0, e, 1.0)
    k = 1.0 + beta_per_kevee * safe
    theta = light_yield_pe_per_kevee * safe / k
    cdf = gammainc(k[:, None], np.maximum(edges, 0.0)[None, :] / theta[:, None])
    step = (edges[None, :] > 0).astype(float)  # point mass at PE = 0 for E_ee = 0
    cdf = np.where(e[:, None] > 0, cdf, step)
    return np.maximum(np.diff(cdf, axis=1), 0.0)


def logistic_efficiency_pe(pe, coeffs) -> np.ndarray:
    """Energy efficiency ``max(0, A / (1 + exp(-B (PE - C))) + D)`` with ``coeffs = (A, B, C, D)``.

    Release effCoefficients.txt of arXiv:2110.07730.

    Parameters
    ----------
    pe : float or ndarray
        Photoelectrons.
    coeffs : sequence of 4 float
        (A, B, C, D); B in 1/PE, C in PE, A and D dimensionless.
    """
    a, b, c, d = _coeffs(coeffs, "efficiency coefficients", 4)
    x = np.asarray(pe, dtype=float)
    return np.clip(a / (1.0 + np.exp(-b * (x - c))) + d, 0.0, None)


@dataclass(frozen=True)
class EnergyEfficiency:
    """Energy efficiency in PE, nominal and +-1 sigma curves, interpolated on the curve values.

    Attributes
    ----------
    nominal, up, down : tuple
        Coefficient sets of :func:`logistic_efficiency_pe` for the nominal and +-1 sigma curves.
    """

    nominal: tuple
    up: tuple
    down: tuple

    def __call__(self, pe, theta: float = 0.0) -> np.ndarray:
        nom = logistic_efficiency_pe(pe, self.nominal)
        return np.clip(_interp(nom, logistic_efficiency_pe(pe, self.up),
                               logistic_efficiency_pe(pe, self.down), theta), 0.0, None)


def time_efficiency(t_us, onset_us: float = 0.52, slope_per_us: float = 0.0494) -> np.ndarray:
    """CsI 2021 time efficiency: 1 below ``onset_us``, ``exp(-slope (t - onset))`` above.

    Parameters
    ----------
    t_us : float or ndarray
        Arrival time [us].
    onset_us : float, optional
        Onset of the exponential decay [us].
    slope_per_us : float, optional
        Decay slope [1/us].
    """
    t = np.asarray(t_us, dtype=float)
    return np.where(t < onset_us, 1.0, np.exp(-slope_per_us * (t - onset_us)))


@dataclass(frozen=True, eq=False)
class CsI2021Response:
    """Recoil -> accepted PE-bin response matrix, usable by :class:`cevns.engine.RateEngine`.

    ``R[b, T] = sum_{s in b} P_Gamma(s | E_ee(T)) eps_E(PE_s)`` over sub-bins s of width <= ``sub_width_pe``
    (efficiency at the sub-bin center).

    Parameters
    ----------
    scintillation : ScintillationResponse
    efficiency : EnergyEfficiency
    bin_edges : array_like
        PE bin edges, strictly ascending, >= 0.
    light_yield_pe_per_kevee, beta_per_kevee : float
        Gamma-law parameters (13.35, 9.56).
    theta_qf0, theta_qf1, theta_eff : float
        Nuisance values of the scintillation PCs and the efficiency.
    """

    scintillation: ScintillationResponse
    efficiency: EnergyEfficiency
    bin_edges: np.ndarray
    light_yield_pe_per_kevee: float = 13.35
    beta_per_kevee: float = 9.56
    theta_qf0: float = 0.0
    theta_qf1: float = 0.0
    theta_eff: float = 0.0
    sub_width_pe: float = field(default=0.25)

    def __post_init__(self):
        e = np.asarray(self.bin_edges, dtype=float)
        if e.ndim != 1 or e.size < 2 or not np.all(np.isfinite(e)) or np.any(np.diff(e) <= 0) or e[0] < 0:
            raise ConfigError(f"CsI 2021 response: PE bin edges must be ascending, finite and >= 0, got {self.bin_edges!r}")
        object.__setattr__(self, "bin_edges", e)
        for name in ("light_yield_pe_per_kevee", "beta_per_kevee", "sub_width_pe"):
            v = float(getattr(self, name))
            if not (math.isfinite(v) and v > 0):
                raise ConfigError(f"CsI 2021 response: {name} must be positive, got {v!r}")

    def _sub_edges(self) -> tuple[np.ndarray, np.ndarray]:
        subs, starts = [], []
        n = 0
        for a, b in zip(self.bin_edges[:-1], self.bin_edges[1:]):
            k = max(1, int(math.ceil((b - a) / self.sub_width_pe)))
            pts = np.linspace(a, b, k + 1)[:-1]
            starts.append(n)
            n += k
            subs.append(pts)
        return np.concatenate(subs + [self.bin_edges[-1:]]), np.array(starts)

    def electron_equivalent_kevee(self, t_kevnr) -> np.ndarray:
        """E_ee [keVee] at the response's QF nuisance values (clipped at 0).

        Parameters
        ----------
        t_kevnr : float or ndarray
            Nuclear recoil energy T [keVnr].
        """
        return np.clip(1e3 * self.scintillation.mevee(t_kevnr, self.theta_qf0, self.theta_qf1), 0.0, None)

    def matrix(self, t_kevnr, z=None) -> np.ndarray:
        """Response matrix, shape (n_bins, n_t).

        Parameters
        ----------
        t_kevnr : ndarray
            True nuclear recoil grid T [keVnr].
        z : int, optional
            Atomic number (unused: the response is for CsI).
        """
        sub, starts = self._sub_edges()
        prob = gamma_pe_bin_probabilities(self.electron_equivalent_kevee(t_kevnr), sub,
                                          self.light_yield_pe_per_kevee, self.beta_per_kevee)
        prob = prob * self.efficiency(0.5 * (sub[1:] + sub[:-1]), self.theta_eff)[None, :]
        return np.add.reduceat(prob, starts, axis=1).T

    def breakpoints_kevnr(self, z=None, t_max_kevnr: float = np.inf) -> np.ndarray:
        """No jumps in T (the Gamma smearing is smooth).

        Parameters
        ----------
        z : int, optional
            Atomic number (unused).
        t_max_kevnr : float, optional
            Upper end of the recoil range [keVnr].
        """
        return np.empty(0)

    def threshold_kevnr(self, z=None) -> float:
        """Threshold 0 keVnr: with smearing every recoil can be seen.

        Parameters
        ----------
        z : int, optional
            Atomic number (unused).
        """
        return 0.0
