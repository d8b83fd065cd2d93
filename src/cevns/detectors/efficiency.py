"""Detection / analysis efficiency as a function of the observable x (PE, keVee or keVnr).

The efficiency multiplies the probability that an event is observed with value x. COHERENT CsI 2017
(data release arXiv:1804.09459, ``coherent_parameters.yaml``) gives

    eps(x) = a / (1 + exp(-k (x - x0))) * H(x),   x in PE,
    H = 0 for x < 5, 1/2 for 5 <= x < 6, 1 for x >= 6,

"evaluated at the center of the 1-PE bin" (0.5 for the 1-PE bin, 1.5 for the 2-PE bin, ...). Here this is
``Efficiency("logistic", {"a": .6655, "k": .4942, "x0": 10.8507}, zero_below=5, steps=[(5, 6, 0.5)],
evaluate_at="unit_bin_center")``. COHERENT CsI 2021 (arXiv:2110.07730) adds an offset d to the logistic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
from scipy.special import expit

__all__ = [
    "EFFICIENCY_MODELS",
    "EVALUATE_AT",
    "logistic_efficiency",
    "step_weights",
    "tabulated_efficiency",
    "unit_bin_center",
    "Efficiency",
]

EFFICIENCY_MODELS = ("unity", "logistic", "tabulated", "step")
EVALUATE_AT = ("value", "unit_bin_center")


def _observable(x) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    if np.any(np.isnan(x)):
        raise ValueError("efficiency: observable x contains NaN")
    return x


def _finite(name: str, value) -> float:
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"efficiency parameter {name} must be finite, got {value}")
    return value


def logistic_efficiency(x, a: float, k: float, x0: float, d: float = 0.0) -> np.ndarray:
    """Logistic efficiency eps(x) = a / (1 + exp(-k (x - x0))) + d, clipped to [0, 1].

    COHERENT CsI 2017 release (arXiv:1804.09459): a = 0.6655, k = 0.4942 /PE, x0 = 10.8507 PE, d = 0.
    COHERENT CsI 2021 (arXiv:2110.07730): a = 1.32045, k = 0.285979, x0 = 10.8646, d = -0.333322; the
    clipping sets the (unphysical) negative values at small x to zero.

    Parameters
    ----------
    x : array_like
        Observable (units of the analysis, e.g. PE).
    a, k, x0, d : float
        Plateau, steepness (1/units of x), midpoint (units of x) and additive offset.
    """
    x = _observable(x)
    a, k, x0, d = (_finite(n, v) for n, v in (("a", a), ("k", k), ("x0", x0), ("d", d)))
    return np.clip(a * expit(k * (x - x0)) + d, 0.0, 1.0)


def _normalise_steps(steps) -> tuple[tuple[float, float, float], ...]:
    out = []
    for step in steps or ():
        if len(step) != 3:
            raise ValueError(f"efficiency step must be (x_low, x_high, weight), got {step!r}")
        lo, hi, w = (float(v) for v in step)
        if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
            raise ValueError(f"efficiency step needs finite x_low < x_high, got {step!r}")
        if not (0.0 <= w <= 1.0):
            raise ValueError(f"efficiency step weight must be in [0, 1], got {w}")
        out.append((lo, hi, w))
    return tuple(out)


def step_weights(x, steps: Sequence = (), zero_below: float | None = None) -> np.ndarray:
    """Piecewise-constant threshold factor.

    Returns 0 for x < ``zero_below`` (if given); on each step's half-open interval [x_low, x_high) the
    factor is multiplied by its weight; elsewhere 1. The COHERENT 2017 modified Heaviside function
    H(x - 5) (0 below 5, 1/2 on [5, 6), 1 above) is ``steps=[(5, 6, 0.5)], zero_below=5``.

    Parameters
    ----------
    x : array_like
        Observable.
    steps : sequence of (x_low, x_high, weight)
        Weights in [0, 1].
    zero_below : float, optional
        Hard threshold.
    """
    x = _observable(x)
    out = np.ones_like(x)
    for lo, hi, w in _normalise_steps(steps):
        out = np.where((x >= lo) & (x < hi), out * w, out)
    if zero_below is not None:
        out = np.where(x < _finite("zero_below", zero_below), 0.0, out)
    return out


def tabulated_efficiency(x, xs, ys) -> np.ndarray:
    """Linearly interpolated efficiency table.

    Between the nodes: linear interpolation; below ``xs[0]``: 0 (nothing is accepted below the
    table); above ``xs[-1]``: ``ys[-1]`` (the plateau continues). The result is clipped to [0, 1].

    Parameters
    ----------
    x : array_like
        Observable.
    xs : array_like
        Strictly ascending nodes (units of x).
    ys : array_like
        Efficiency at the nodes.
    """
    x = _observable(x)
    xs, ys = _check_table(xs, ys)
    return np.clip(np.interp(x, xs, ys, left=0.0, right=ys[-1]), 0.0, 1.0)


def _check_table(xs, ys) -> tuple[np.ndarray, np.ndarray]:
    xs = np.asarray(xs, dtype=float)
    ys = np.asarray(ys, dtype=float)
    if xs.ndim != 1 or xs.shape != ys.shape or xs.size < 1:
        raise ValueError("tabulated efficiency: xs and ys must be 1-D arrays of the same, non-zero length")
    if not (np.all(np.isfinite(xs)) and np.all(np.isfinite(ys))):
        raise ValueError("tabulated efficiency: xs and ys must be finite")
    if np.any(np.diff(xs) <= 0):
        raise ValueError("tabulated efficiency: xs must be strictly ascending")
    return xs, ys


def unit_bin_center(x) -> np.ndarray:
    """Center of the 1-unit bin (n-1, n] holding x: ceil(x) - 0.5.

    COHERENT prescription: an event with n PE (x in (n-1, n], including exactly x = n) is given the
    efficiency evaluated at n - 0.5.
    """
    return np.ceil(_observable(x)) - 0.5


_PARAMS = {
    "unity": (set(), set()),
    "step": (set(), set()),
    "logistic": ({"a", "k", "x0"}, {"a", "k", "x0", "d"}),
    "tabulated": ({"xs", "ys"}, {"xs", "ys"}),
}


@dataclass(frozen=True)
class Efficiency:
    """Efficiency in the observable: a base model times an optional threshold/step factor.

    Parameters
    ----------
    model : {"unity", "logistic", "tabulated", "step"}
        Base curve: 1, :func:`logistic_efficiency` (params a, k, x0, optional d) or
        :func:`tabulated_efficiency` (params xs, ys); "step" is a pure threshold (base 1) and needs
        ``zero_below`` and/or ``steps``.
    params : dict
        Parameters of the base curve.
    zero_below : float, optional
        The efficiency is 0 for x < zero_below.
    steps : sequence of (x_low, x_high, weight)
        Extra factors on [x_low, x_high) (see :func:`step_weights`).
    evaluate_at : {"value", "unit_bin_center"}
        "value": eps(x). "unit_bin_center": eps(ceil(x) - 0.5), the COHERENT 1-PE-bin-center rule.
    """

    model: str = "unity"
    params: Mapping[str, Any] = field(default_factory=dict)
    zero_below: float | None = None
    steps: Sequence = ()
    evaluate_at: str = "value"

    def __post_init__(self):
        if self.model not in EFFICIENCY_MODELS:
            raise ValueError(
                f"unknown efficiency model {self.model!r}; valid models: {', '.join(EFFICIENCY_MODELS)}"
            )
        if self.evaluate_at not in EVALUATE_AT:
            raise ValueError(
                f"efficiency evaluate_at must be one of {', '.join(EVALUATE_AT)}, got {self.evaluate_at!r}"
            )
        params = dict(self.params or {})
        required, allowed = _PARAMS[self.model]
        if required - params.keys():
            raise ValueError(f"efficiency model {self.model!r} needs params {sorted(required - params.keys())}")
        if params.keys() - allowed:
            raise ValueError(
                f"efficiency model {self.model!r} got unknown params {sorted(params.keys() - allowed)}; "
                f"allowed: {sorted(allowed)}"
            )
        if self.model == "tabulated":
            xs, ys = _check_table(params["xs"], params["ys"])
            params = {"xs": tuple(xs.tolist()), "ys": tuple(ys.tolist())}
        else:
            params = {key: _finite(key, value) for key, value in params.items()}
        object.__setattr__(self, "params", params)
        object.__setattr__(self, "steps", _normalise_steps(self.steps))
        if self.zero_below is not None:
            object.__setattr__(self, "zero_below", _finite("zero_below", self.zero_below))
        has_threshold = self.zero_below is not None or bool(self.steps)
        if self.model == "step" and not has_threshold:
            raise ValueError("efficiency model 'step' needs zero_below and/or steps")
        if self.model == "unity" and has_threshold:
            raise ValueError("efficiency model 'unity' takes no zero_below/steps; use model 'step'")

    @property
    def is_unity(self) -> bool:
        """True if the efficiency is identically 1."""
        return self.model == "unity"

    @property
    def piecewise_constant(self) -> bool:
        """True if the efficiency is constant between the points of :meth:`discontinuities`."""
        return self.evaluate_at == "unit_bin_center" or self.model in ("unity", "step")

    def _base(self, x: np.ndarray) -> np.ndarray:
        if self.model == "logistic":
            return logistic_efficiency(x, **self.params)
        if self.model == "tabulated":
            return tabulated_efficiency(x, self.params["xs"], self.params["ys"])
        return np.ones_like(x)

    def __call__(self, x) -> np.ndarray:
        """Efficiency at observable x (array_like), in [0, 1]."""
        x = _observable(x)
        if self.evaluate_at == "unit_bin_center":
            x = unit_bin_center(x)
        out = self._base(x)
        if self.steps or self.zero_below is not None:
            out = out * step_weights(x, self.steps, self.zero_below)
        return out

    def _value_threshold(self) -> float:
        """x_thr with eps_value(x) == 0 for all x < x_thr (-inf if none is known)."""
        thresholds = [-np.inf]
        if self.zero_below is not None:
            thresholds.append(self.zero_below)
        p = self.params
        if self.model == "tabulated":
            ys = np.asarray(p["ys"])
            first = int(np.argmax(ys > 0)) if np.any(ys > 0) else len(ys) - 1
            thresholds.append(p["xs"][max(first - 1, 0)] if np.any(ys > 0) else np.inf)
        elif self.model == "logistic":
            a, k, x0, d = p["a"], p["k"], p["x0"], p.get("d", 0.0)
            if d < 0 and k > 0:  # a*expit(k(x-x0)) + d <= 0 below x0 - ln(a/(-d) - 1)/k
                thresholds.append(x0 - np.log(a / -d - 1.0) / k if a > -d else np.inf)
        return max(thresholds)

    def threshold(self) -> float:
        """Observable value below which the efficiency is identically zero (-inf if none).

        With ``evaluate_at="unit_bin_center"`` the efficiency is also zero *at* the returned value
        (it is constant on (n-1, n]); e.g. COHERENT 2017 (zero below 5 PE at the bin center) gives 5:
        events with <= 5 PE are rejected.
        """
        thr = self._value_threshold()
        if self.evaluate_at == "unit_bin_center" and np.isfinite(thr):
            return float(np.ceil(thr + 0.5) - 1.0)
        return float(thr)

    def discontinuities(self, x_min: float, x_max: float) -> np.ndarray:
        """Sorted observable values in [x_min, x_max] where the efficiency may jump.

        "value": zero_below, the step limits and a non-zero start of a table. "unit_bin_center":
        every integer (the function is constant on each (n-1, n]).
        """
        if self.evaluate_at == "unit_bin_center" and not self.is_unity:
            lo = np.ceil(x_min) if np.isfinite(x_min) else None
            hi = np.floor(x_max) if np.isfinite(x_max) else None
            if lo is None or hi is None:
                raise ValueError("unit_bin_center efficiency discontinuities need a finite range")
            return np.arange(lo, hi + 1.0)
        points = [s[0] for s in self.steps] + [s[1] for s in self.steps]
        if self.zero_below is not None:
            points.append(self.zero_below)
        if self.model == "tabulated" and self.params["ys"][0] > 0:
            points.append(self.params["xs"][0])
        points = np.unique(np.asarray(points, dtype=float))
        return points[(points >= x_min) & (points <= x_max)]
