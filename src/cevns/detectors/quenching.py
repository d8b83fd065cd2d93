"""Quenching factors: the electron-equivalent energy of a nuclear recoil.

A nuclear recoil of kinetic energy ``T`` (keVnr) produces the same visible signal (light or
ionisation) as an electron of energy ``E_ee = QF(T) * T`` (keVee). Three models are provided:

* ``constant``   : QF = qf (e.g. COHERENT CsI[Na] 2017: 0.0878, data release arXiv:1804.09459);
* ``polynomial`` : QF = sum_k c_k (T / t_scale)^k (e.g. COHERENT LAr 2020: 0.246 + 0.00078 T[keVnr],
  arXiv:2003.10630; COHERENT CsI 2021 gives E_ee(T) as a quartic in MeVnr, i.e. a cubic QF with
  ``t_scale_kevnr = 1000``, arXiv:2110.07730);
* ``lindhard``   : the Lindhard et al. (1963) semi-empirical model (Mat. Fys. Medd. Dan. Vid. Selsk. 33,
  no. 10), in the parameterisation used e.g. by arXiv:1608.03588 and arXiv:2202.03754.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

__all__ = [
    "QUENCHING_MODELS",
    "constant_qf",
    "polynomial_qf",
    "lindhard_qf",
    "Quenching",
]

QUENCHING_MODELS = ("constant", "polynomial", "lindhard")

#: Lindhard electronic-stopping constant k of the classical formula, k = 0.133 Z^(2/3) A^(-1/2);
#: 0.157 is the value commonly used for germanium.
LINDHARD_K_DEFAULT = 0.157


def _recoil_array(t_kevnr) -> np.ndarray:
    t = np.asarray(t_kevnr, dtype=float)
    if not np.all(np.isfinite(t)):
        raise ValueError("t_kevnr must be finite (got NaN or inf)")
    if np.any(t < 0):
        raise ValueError("t_kevnr must be non-negative (recoil kinetic energy in keVnr)")
    return t


def constant_qf(t_kevnr, qf: float) -> np.ndarray:
    """Energy-independent quenching factor.

    Parameters
    ----------
    t_kevnr : array_like
        Nuclear-recoil kinetic energy T in keVnr (only its shape is used).
    qf : float
        Quenching factor, 0 < qf <= 1.

    Returns
    -------
    ndarray
        QF(T) = qf, broadcast to the shape of ``t_kevnr``.
    """
    t = _recoil_array(t_kevnr)
    qf = float(qf)
    if not (np.isfinite(qf) and 0.0 < qf <= 1.0):
        raise ValueError(f"constant quenching factor qf must be in (0, 1], got {qf}")
    return np.full_like(t, qf)


def polynomial_qf(t_kevnr, coeffs, t_scale_kevnr: float = 1.0) -> np.ndarray:
    """Polynomial quenching factor QF(T) = sum_k c_k (T / t_scale)^k.

    Parameters
    ----------
    t_kevnr : array_like
        Nuclear-recoil kinetic energy T in keVnr.
    coeffs : sequence of float
        c_0, c_1, ... (lowest order first), for T measured in units of ``t_scale_kevnr``.
        COHERENT LAr 2020 (arXiv:2003.10630): ``[0.246, 0.00078]`` with the default scale.
    t_scale_kevnr : float, optional
        Energy unit of the polynomial variable in keVnr (1 = keVnr, 1000 = MeVnr).

    Returns
    -------
    ndarray
        QF(T), same shape as ``t_kevnr`` (no range check here; see :class:`Quenching`).
    """
    t = _recoil_array(t_kevnr)
    c = np.asarray(coeffs, dtype=float)
    if c.ndim != 1 or c.size == 0 or not np.all(np.isfinite(c)):
        raise ValueError("polynomial quenching coeffs must be a non-empty 1-D list of finite numbers")
    scale = float(t_scale_kevnr)
    if not (np.isfinite(scale) and scale > 0):
        raise ValueError(f"t_scale_kevnr must be positive, got {t_scale_kevnr}")
    u = t / scale
    out = np.zeros_like(u)
    for ck in c[::-1]:  # Horner over the (few) coefficients, vectorised over T
        out = out * u + ck
    return out


def lindhard_qf(t_kevnr, z, k: float = LINDHARD_K_DEFAULT) -> np.ndarray:
    """Lindhard quenching factor.

    eps = 11.5 Z^(-7/3) T[keV],  g(eps) = 3 eps^0.15 + 0.7 eps^0.6 + eps,
    QF = k g / (1 + k g)   (Lindhard et al. 1963; see e.g. arXiv:1608.03588 Eq. 1).

    Parameters
    ----------
    t_kevnr : array_like
        Nuclear-recoil kinetic energy T in keVnr.
    z : float or array_like
        Atomic number of the recoiling nucleus (broadcast against ``t_kevnr``).
    k : float, optional
        Electronic-stopping parameter (0.157 default, ~0.16-0.18 measured for Ge).

    Returns
    -------
    ndarray
        QF(T), in [0, 1); QF -> 0 as T -> 0.
    """
    t = _recoil_array(t_kevnr)
    z = np.asarray(z, dtype=float)
    if not np.all(np.isfinite(z)) or np.any(z <= 0):
        raise ValueError(f"atomic number z must be positive and finite, got {z}")
    k = float(k)
    if not (np.isfinite(k) and k > 0):
        raise ValueError(f"Lindhard k must be positive, got {k}")
    eps = 11.5 * z ** (-7.0 / 3.0) * t
    g = 3.0 * eps**0.15 + 0.7 * eps**0.6 + eps
    return k * g / (1.0 + k * g)


_ALLOWED_PARAMS = {
    "constant": ({"qf"}, {"qf"}),
    "polynomial": ({"coeffs"}, {"coeffs", "t_scale_kevnr"}),
    "lindhard": (set(), {"k"}),
}


@dataclass(frozen=True)
class Quenching:
    """A quenching model: ``model`` in {"constant", "polynomial", "lindhard"} with its ``params``.

    params: constant -> {"qf"}; polynomial -> {"coeffs", optional "t_scale_kevnr"};
    lindhard -> {optional "k" (default 0.157)}; the atomic number is passed to the methods.
    """

    model: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if self.model not in QUENCHING_MODELS:
            raise ValueError(
                f"unknown quenching model {self.model!r}; valid models: {', '.join(QUENCHING_MODELS)}"
            )
        params = dict(self.params or {})
        required, allowed = _ALLOWED_PARAMS[self.model]
        missing = required - params.keys()
        extra = params.keys() - allowed
        if missing:
            raise ValueError(f"quenching model {self.model!r} needs params {sorted(missing)}")
        if extra:
            raise ValueError(
                f"quenching model {self.model!r} got unknown params {sorted(extra)}; allowed: {sorted(allowed)}"
            )
        if "coeffs" in params:
            params["coeffs"] = tuple(float(c) for c in np.atleast_1d(params["coeffs"]))
        for key in ("qf", "k", "t_scale_kevnr"):
            if key in params:
                params[key] = float(params[key])
        object.__setattr__(self, "params", params)
        self.qf(np.empty(0), z=1.0)  # validates the parameter values (not their range)

    def qf(self, t_kevnr, z=None) -> np.ndarray:
        """Quenching factor QF(T) (dimensionless); ``z`` (atomic number) is needed for Lindhard.

        Raises ValueError where QF falls outside [0, 1] (E_ee > T or < 0 is unphysical, e.g. a
        polynomial fit evaluated outside its range).

        Parameters
        ----------
        t_kevnr : float or ndarray
            Nuclear recoil energy T [keVnr].
        z : int, optional
            Atomic number of the recoiling nucleus.
        """
        p = self.params
        if self.model == "constant":
            out = constant_qf(t_kevnr, p["qf"])
        elif self.model == "polynomial":
            out = polynomial_qf(t_kevnr, p["coeffs"], p.get("t_scale_kevnr", 1.0))
        else:
            if z is None:
                raise ValueError("the Lindhard quenching model needs the atomic number z")
            out = lindhard_qf(t_kevnr, z, p.get("k", LINDHARD_K_DEFAULT))
        bad = (out < 0) | (out > 1)
        if np.any(bad):
            t_bad = np.broadcast_to(np.asarray(t_kevnr, dtype=float), out.shape)[bad]
            raise ValueError(
                f"{self.model} quenching factor outside [0, 1] at T = {t_bad.ravel()[:3]} keVnr "
                f"(QF = {out[bad].ravel()[:3]}); check the parameters / range of validity"
            )
        return out

    def electron_equivalent_kevee(self, t_kevnr, z=None) -> np.ndarray:
        """Electron-equivalent energy E_ee = QF(T) * T in keVee.

        Parameters
        ----------
        t_kevnr : float or ndarray
            Nuclear recoil energy T [keVnr].
        z : int, optional
            Atomic number of the recoiling nucleus.
        """
        t = np.asarray(t_kevnr, dtype=float)
        return self.qf(t, z) * t

    def inverse_kevnr(self, e_kevee, z=None) -> np.ndarray:
        """Nuclear-recoil energy T (keVnr) whose electron-equivalent energy is ``e_kevee``.

        Solves QF(T) T = E by vectorised bisection (to machine precision), assuming E_ee(T) is
        increasing (true for the Lindhard model, positive constant QF and the published polynomial
        fits in their range). The bracket uses T >= E (QF <= 1). ``z`` must be a scalar here.
        """
        e = np.asarray(e_kevee, dtype=float)
        if not np.all(np.isfinite(e)) or np.any(e < 0):
            raise ValueError("e_kevee must be finite and non-negative")
        if self.model == "constant":
            return e / self.params["qf"]
        shape = e.shape
        e = e.ravel()
        out = np.zeros_like(e)
        pos = e > 0
        if not np.any(pos):
            return out.reshape(shape)
        target = e[pos]
        lo = target.copy()  # E_ee(T) <= T  =>  T >= E
        qf_lo = self.qf(lo, z)
        hi = np.where(qf_lo > 0, target / np.where(qf_lo > 0, qf_lo, 1.0), 2.0 * target)
        for _ in range(200):
            short = self.electron_equivalent_kevee(hi, z) < target
            if not np.any(short):
                break
            lo = np.where(short, hi, lo)
            hi = np.where(short, 2.0 * hi, hi)
        else:
            raise ValueError(f"no recoil energy found with E_ee = {target[short][:3]} keVee")
        for _ in range(1100):
            mid = 0.5 * (lo + hi)
            below = self.electron_equivalent_kevee(mid, z) < target
            lo = np.where(below, mid, lo)
            hi = np.where(below, hi, mid)
            if np.all((hi - lo) <= 4 * np.finfo(float).eps * hi):
                break
        out[pos] = 0.5 * (lo + hi)
        return out.reshape(shape)
