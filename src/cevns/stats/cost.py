"""Cost functions (chi^2 = -2 ln L + const) with named parameters that add up, for iminuit.

A :class:`Cost` is a callable ``cost(*values) -> float`` whose parameter names are exposed through the
``_parameters`` dict (name -> limits or None) that :func:`iminuit.util.describe` reads first, and which
carries ``errordef = 1`` (:attr:`iminuit.Minuit.LEAST_SQUARES`: a chi^2, so a 1-sigma interval is where
the cost rises by 1). Costs add: ``cost1 + cost2`` is a :class:`CostSum` whose parameters are the ordered
union of the names, a name present in both being one shared parameter, so that
``iminuit.Minuit(cost1 + cost2, **start)`` fits them jointly. The design follows ``iminuit.cost``
(H. Dembinski et al., https://scikit-hep.org/iminuit) without depending on its internals.

All costs are also vectorised: :meth:`Cost.evaluate` accepts arrays (broadcast) and returns an array.
"""

from __future__ import annotations

import abc
import keyword
from typing import Callable, Mapping, Sequence

import numpy as np

__all__ = ["Cost", "CostSum", "FunctionCost", "GaussianPrior"]


def _check_names(names) -> tuple[str, ...]:
    names = (names,) if isinstance(names, str) else tuple(names)
    for n in names:
        if not isinstance(n, str) or not n.isidentifier() or keyword.iskeyword(n):
            raise ValueError(f"parameter names must be valid Python identifiers, got {n!r}")
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate parameter names in {names}")
    return names


def _check_limits(names, limits) -> dict:
    params = {n: None for n in names}
    for key, lim in dict(limits or {}).items():
        if key not in params:
            raise ValueError(f"limits given for unknown parameter '{key}'")
        if lim is None:
            continue
        lo, hi = (float(v) for v in lim)
        if np.isnan(lo) or np.isnan(hi) or not lo < hi:
            raise ValueError(f"limits of '{key}' must satisfy lo < hi, got {lim}")
        params[key] = (lo, hi)
    return params


class Cost(abc.ABC):
    """Base class: a chi^2-like function of named parameters.

    Subclasses implement :meth:`_value`, which receives a tuple of (broadcastable) arrays in the
    order of :attr:`parameters` and returns the cost (an array). ``errordef = 1`` (chi^2).

    Parameters
    ----------
    parameters : sequence of str
        Parameter names (valid identifiers, unique), in call order.
    limits : mapping of str to (float, float) or None, optional
        Bounds ``(lo, hi)`` of some parameters (passed to iminuit); None leaves a parameter unbounded.

    Raises
    ------
    ValueError
        If a name is invalid or repeated, or limits name an unknown parameter or have ``lo >= hi``.
    """

    errordef = 1.0
    #: Whether :meth:`grad` is implemented (analytically).
    has_grad = False

    def __init__(self, parameters: Sequence[str], limits: Mapping[str, tuple] | None = None):
        self._parameters = _check_limits(_check_names(parameters), limits)

    @property
    def parameters(self) -> tuple[str, ...]:
        """Parameter names, in call order."""
        return tuple(self._parameters)

    @property
    def npar(self) -> int:
        """Number of parameters."""
        return len(self._parameters)

    @abc.abstractmethod
    def _value(self, args: tuple) -> np.ndarray:
        """Cost for the parameter values ``args`` (arrays, in the order of ``parameters``)."""

    def _args(self, args, kwargs) -> tuple:
        if args and kwargs:
            raise TypeError("pass parameter values either positionally or by name, not both")
        if kwargs:
            missing = [n for n in self._parameters if n not in kwargs]
            extra = [n for n in kwargs if n not in self._parameters]
            if missing or extra:
                raise TypeError(f"parameters {self.parameters}: missing {missing}, unexpected {extra}")
            args = tuple(kwargs[n] for n in self._parameters)
        if len(args) != self.npar:
            raise TypeError(f"expected {self.npar} parameter values {self.parameters}, got {len(args)}")
        return tuple(np.asarray(a, dtype=float) for a in args)

    def evaluate(self, *args, **kwargs) -> np.ndarray:
        """Vectorised cost: parameter values as broadcastable arrays (positional or by name)."""
        return np.asarray(self._value(self._args(args, kwargs)), dtype=float)

    def __call__(self, *args) -> float:
        """Cost at one parameter point (scalar values in the order of :attr:`parameters`)."""
        value = self.evaluate(*args)
        if value.size != 1:
            raise ValueError(f"cost returned {value.size} values for one point; use evaluate() for arrays")
        return float(value.reshape(()))

    def _grad(self, args: tuple) -> np.ndarray:
        """Gradient (n_par, ...) for the parameter values ``args`` (only if ``has_grad``)."""
        raise NotImplementedError(f"{type(self).__name__} has no analytic gradient")

    def grad(self, *args) -> np.ndarray:
        """Gradient of the cost at one point (values in the order of :attr:`parameters`)."""
        return np.asarray(self._grad(self._args(args, {})), dtype=float).reshape(self.npar)

    def __add__(self, other: "Cost") -> "CostSum":
        if not isinstance(other, Cost):
            return NotImplemented
        return CostSum(self, other)

    def __radd__(self, other):
        # lets builtin sum() start from 0
        if isinstance(other, (int, float)) and other == 0:
            return self
        return NotImplemented

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(self.parameters)})"


class CostSum(Cost):
    """Sum of costs; the parameters are the ordered union of the components' names.

    A name shared by several components is a single parameter. Each component's value is divided
    by its ``errordef`` so that the sum is a chi^2 (errordef 1) even if a component is a
    negative log-likelihood (errordef 0.5).
    """

    def __init__(self, *components: Cost):
        flat: list[Cost] = []
        for c in components:
            if not isinstance(c, Cost):
                raise TypeError(f"can only add Cost objects, got {type(c).__name__}")
            flat.extend(c._components if isinstance(c, CostSum) else [c])
        names: dict[str, object] = {}
        for c in flat:
            for name, lim in c._parameters.items():
                if name in names and names[name] is not None and lim is not None and names[name] != lim:
                    raise ValueError(f"shared parameter '{name}' has different limits {names[name]} and {lim}")
                if names.get(name) is None:
                    names[name] = lim
        super().__init__(list(names))
        self._parameters = names
        self._components = tuple(flat)
        pos = {n: i for i, n in enumerate(names)}
        self._index = tuple(tuple(pos[n] for n in c.parameters) for c in flat)

    @property
    def components(self) -> tuple[Cost, ...]:
        """The summed costs."""
        return self._components

    @property
    def has_grad(self) -> bool:  # type: ignore[override]
        return all(c.has_grad for c in self._components)

    def _grad(self, args):
        total = np.zeros(self.npar)
        for comp, idx in zip(self._components, self._index):
            g = np.asarray(comp._grad(tuple(args[i] for i in idx)), dtype=float).reshape(len(idx))
            total[list(idx)] += g / comp.errordef
        return total

    def _value(self, args):
        total = 0.0
        for comp, idx in zip(self._components, self._index):
            total = total + comp._value(tuple(args[i] for i in idx)) / comp.errordef
        return total


class FunctionCost(Cost):
    """Cost from a vectorised function of named parameters, ``f(**params) -> chi2``.

    Parameters
    ----------
    function : callable
        Called as ``function(name1=value1, ...)`` with scalars or broadcastable arrays; returns the
        chi^2 (array of the broadcast shape). This is how a likelihood scan function is handed to
        iminuit.
    parameters : sequence of str
        Parameter names (valid identifiers), in call order.
    limits : mapping of str -> (lo, hi), optional
        Parameter limits, passed to iminuit through ``_parameters``.
    errordef : float, optional
        1 for a chi^2 (default), 0.5 for a negative log-likelihood.
    """

    def __init__(self, function: Callable[..., np.ndarray], parameters: Sequence[str],
                 limits: Mapping[str, tuple] | None = None, errordef: float = 1.0):
        if not callable(function):
            raise TypeError("function must be callable")
        errordef = float(errordef)
        if not np.isfinite(errordef) or errordef <= 0:
            raise ValueError(f"errordef must be positive, got {errordef}")
        super().__init__(parameters, limits)
        self._function = function
        self.errordef = errordef

    def _value(self, args):
        return self._function(**dict(zip(self._parameters, args)))


class GaussianPrior(Cost):
    """Gaussian penalty ``((value - mean) / sigma)^2`` on one named parameter.

    Parameters
    ----------
    parameter : str
        Parameter name.
    mean : float
        Central value.
    sigma : float
        Width (> 0).
    """

    def __init__(self, parameter: str, mean: float, sigma: float):
        mean, sigma = float(mean), float(sigma)
        if not np.isfinite(mean):
            raise ValueError(f"prior mean must be finite, got {mean}")
        if not np.isfinite(sigma) or sigma <= 0:
            raise ValueError(f"prior sigma must be positive and finite, got {sigma}")
        super().__init__([parameter])
        self.mean = mean
        self.sigma = sigma

    has_grad = True

    def _value(self, args):
        return ((args[0] - self.mean) / self.sigma) ** 2

    def _grad(self, args):
        return np.array([2.0 * (float(args[0]) - self.mean) / self.sigma**2])
