"""The named physics parameters of one physics point: the public interface of every model.

A *physics point* is a mapping ``name -> value`` where each value is a float or a 1-D array (many
points at once; arrays broadcast against each other). Names, units, defaults and domains are listed in
:data:`PARAMETERS` (and in the README). Patterned names:

* ``rn_<Isotope>`` (e.g. ``rn_Cs133``): neutron rms radius of one isotope [fm]; ``rn`` sets all.
* ``eps_<ab>_<q><V|T>`` with ``a, b`` in ``e, mu, tau`` and ``q`` in ``u, d``: vector / tensor NSI.
  ``eps_mue_uV`` is the same parameter as ``eps_emu_uV`` (real, symmetric couplings).
"""

from __future__ import annotations

import difflib
import math
import re
from functools import lru_cache
from typing import Mapping

import numpy as np
import periodictable

from ..errors import ParameterError
from .models import PARAMETER_TABLE, registered_models
from .parameter_spec import LEPTONS, QUARKS, ParameterSpec

__all__ = ["LEPTONS", "QUARKS", "PARAMETERS", "ParameterSpec", "PhysicsPoint", "canonical_name", "is_parameter",
           "spec_for", "shape_parameters"]

#: Every fixed-name parameter, collected from the registered physics models (:mod:`cevns.physics.models`;
#: a live view: registering a model adds its parameters). ``rn_<Isotope>`` names are accepted in addition
#: (see :func:`spec_for`).
PARAMETERS: dict[str, ParameterSpec] = PARAMETER_TABLE


def shape_parameters() -> set[str]:
    """Names of the parameters that change the spectral shape (``rn_<Isotope>`` are shape parameters too)."""
    return {n for m in registered_models() for n in m.shape_parameters}


_RN_ISO = re.compile(r"^rn_([A-Z][a-z]?)(\d{1,3})$")
_EPS = re.compile(r"^eps_(e|mu|tau)(e|mu|tau)_([ud])([VT])$")


@lru_cache(maxsize=4096)
def canonical_name(name: str) -> str:
    """Map an accepted alias to its canonical parameter name (``eps_mue_uV`` -> ``eps_emu_uV``)."""
    m = _EPS.match(name)
    if m:
        a, b, q, kind = m.groups()
        if LEPTONS.index(a) > LEPTONS.index(b):
            a, b = b, a
        return f"eps_{a}{b}_{q}{kind}"
    return name


def spec_for(name: str) -> ParameterSpec:
    """The :class:`ParameterSpec` of a (possibly patterned) parameter name.

    Raises :class:`ParameterError` with close matches for an unknown name.
    """
    cname = canonical_name(name)
    if cname in PARAMETERS:
        return PARAMETERS[cname]
    m = _RN_ISO.match(name)
    if m:
        sym, a = m.group(1), int(m.group(2))
        el = getattr(periodictable, sym, None)
        if el is None or not hasattr(el, "isotopes") or a not in el.isotopes:
            raise ParameterError(f"unknown parameter {name!r}: {sym}{a} is not a known isotope")
        return ParameterSpec(name, None, "fm", f"neutron rms radius of {sym}{a}", "PHYSICS.md 3",
                             0.0, math.inf, False)
    hint = difflib.get_close_matches(name, list(PARAMETERS) + ["rn_Cs133"], n=3)
    extra = f"; did you mean {', '.join(hint)}?" if hint else ""
    raise ParameterError(f"unknown parameter {name!r}{extra} (see `cevns parameters`)")


def is_parameter(name: str) -> bool:
    """True if ``name`` is a valid physics parameter name."""
    try:
        spec_for(name)
    except ParameterError:
        return False
    return True


_MISSING = object()


class PhysicsPoint:
    """Validated physics parameters for one or many points.

    Values are stored as numpy arrays broadcast to a common 1-D length ``size``; parameters that
    were not given return their default (a Python float) from :meth:`get`.

    Parameters
    ----------
    values : mapping name -> float or array-like
    defaults : mapping, optional
        Experiment-level defaults that replace the built-in defaults (e.g. ``sin2_theta_w``).
    """

    def __init__(self, values: Mapping | None = None, defaults: Mapping | None = None):
        self._given: dict[str, np.ndarray] = {}
        self._nonzero: dict[str, bool] = {}
        self._memo: dict = {}
        self._defaults: dict[str, float] = {}
        for source, target in ((defaults or {}, self._defaults), (values or {}, self._given)):
            for name, val in source.items():
                spec = spec_for(name)
                try:
                    arr = np.atleast_1d(np.asarray(val, dtype=float))
                except (TypeError, ValueError):
                    raise ParameterError(f"parameter {name!r} must be a number, got {val!r}") from None
                if arr.ndim != 1:
                    raise ParameterError(f"parameter {name!r} must be a scalar or a 1-D array")
                spec.check(arr)
                key = canonical_name(name)
                if key in target:
                    raise ParameterError(f"parameter {name!r} given twice (also as {key!r} or an alias of it)")
                if target is self._defaults:
                    if arr.size != 1:
                        raise ParameterError(f"default of {name!r} must be a scalar")
                    target[key] = float(arr[0])
                else:
                    target[key] = arr
        sizes = {a.size for a in self._given.values() if a.size != 1}
        if len(sizes) > 1:
            raise ParameterError(f"parameter arrays have incompatible lengths {sorted(sizes)}")
        self.size = sizes.pop() if sizes else 1
        self._check_joint()

    def _check_joint(self):
        total = sum(np.asarray(self.get(f"u_{a}4_sq")) for a in LEPTONS)
        if np.any(np.asarray(total) > 1.0 + 1e-12):
            raise ParameterError("sterile mixing: u_e4_sq + u_mu4_sq + u_tau4_sq must not exceed 1")

    def get(self, name: str, fallback: float | None = None):
        """Value (array of length ``size`` or scalar) of a parameter, with defaults applied.

        Parameters
        ----------
        name : str
            Parameter name (see ``cevns parameters``).
        fallback : float, optional
            Value used when the parameter is not set and has no registered default.
        """
        memo = self._memo.get((name, fallback), _MISSING)
        if memo is not _MISSING:
            return memo
        value = self._memo[(name, fallback)] = self._lookup(name, fallback)
        return value

    def _lookup(self, name: str, fallback):
        key = canonical_name(name)
        if key in self._given:
            return self._given[key]
        if key in self._defaults:
            return self._defaults[key]
        if key.startswith("mu_nu_"):
            return self.get("mu_nu")
        if key.startswith("rn_"):
            return self.get("rn", fallback)
        spec = spec_for(key)
        return spec.default if spec.default is not None else fallback

    def is_given(self, name: str) -> bool:
        """Whether ``name`` was given (or has an experiment default)."""
        key = canonical_name(name)
        return key in self._given or key in self._defaults

    def varies(self, name: str) -> bool:
        """Whether ``name`` takes more than one value across the points."""
        v = self._given.get(canonical_name(name))
        return v is not None and v.size > 1 and np.ptp(v) > 0

    def nonzero(self, name: str) -> bool:
        """Whether ``name`` is non-zero at any point (memoised: points are not modified after validation)."""
        hit = self._nonzero.get(name)
        if hit is None:
            v = self.get(name)
            if v is None or isinstance(v, float):
                hit = v is not None and v != 0.0
            else:
                hit = bool(np.any(np.asarray(v, dtype=float) != 0.0))
            self._nonzero[name] = hit
        return hit

    def given_names(self) -> frozenset:
        """Canonical names given explicitly or as experiment defaults (a frozenset, memoised)."""
        names = self._memo.get("__given_names__")
        if names is None:
            names = self._memo["__given_names__"] = frozenset(self._given) | frozenset(self._defaults)
        return names

    def names(self) -> list[str]:
        """Names that were given explicitly or as experiment defaults."""
        return sorted(set(self._given) | set(self._defaults))

    def resolved(self) -> dict:
        """Given and default-overridden values as Python floats/lists (for result files)."""
        out = {}
        for k in self.names():
            v = self.get(k)
            arr = np.atleast_1d(v)
            out[k] = float(arr[0]) if arr.size == 1 else arr.tolist()
        return out
