"""Checks of the arguments of the Python API (``load_experiment``, ``Experiment.predict`` ...).

Wrong types give a :class:`~cevns.errors.CevnsError` with a message naming the argument, never a
``TypeError``/``AttributeError`` from deep inside numpy or the engine.
"""

from __future__ import annotations

import numbers
from typing import Any, Mapping

import numpy as np

from ..errors import ConfigError, ParameterError
from ..physics.parameters import PhysicsPoint

__all__ = ["check_chunk_size", "check_edges", "check_mapping", "check_params"]


def check_mapping(value: Any, what: str) -> dict | None:
    """``None`` or a mapping with string keys (returned as a dict); :class:`ConfigError` otherwise.

    Parameters
    ----------
    value : object
        The value to check.
    what : str
        What it is, for the message (e.g. ``"overrides"``).

    Returns
    -------
    dict or None

    Raises
    ------
    ConfigError
        If ``value`` is not a mapping with string keys.
    """
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ConfigError(f"{what} must be a mapping (dict) or None, got {type(value).__name__} {_short(value)}")
    for k in value:
        if not isinstance(k, str):
            raise ConfigError(f"{what}: keys must be strings, got {k!r} ({type(k).__name__})")
    return dict(value)


def _short(v: Any) -> str:
    r = repr(v)
    return r if len(r) <= 60 else r[:57] + "..."


def _check_value(name: str, value: Any) -> np.ndarray:
    if value is None or isinstance(value, (bool, np.bool_, str, bytes)):
        raise ParameterError(f"parameter {name!r} must be a number or a 1-D array of numbers, got {_short(value)}")
    if isinstance(value, numbers.Number) and not isinstance(value, numbers.Real):
        raise ParameterError(f"parameter {name!r} must be a real number, got {_short(value)}")
    if isinstance(value, Mapping) or isinstance(value, (set, frozenset)):
        raise ParameterError(f"parameter {name!r} must be a number or a 1-D array of numbers, got "
                             f"{type(value).__name__} {_short(value)}")
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError):
        raise ParameterError(f"parameter {name!r} must be a number or a 1-D array of numbers, got "
                             f"{_short(value)}") from None
    if arr.dtype.kind not in "iuf":
        raise ParameterError(f"parameter {name!r} must hold real numbers, got {_short(value)}")
    if arr.ndim > 1:
        raise ParameterError(f"parameter {name!r} must be a number or a 1-D array, got shape {arr.shape}")
    if arr.size == 0:
        raise ParameterError(f"parameter {name!r} is an empty array")
    arr = arr.astype(float)
    if not np.all(np.isfinite(arr)):
        raise ParameterError(f"parameter {name!r} must be finite, got {arr[~np.isfinite(arr)][0]}")
    return arr if arr.ndim == 1 else arr.reshape(())


def check_params(params: Any) -> dict | PhysicsPoint:
    """Check physics parameters passed to ``predict``: a mapping ``name -> number or 1-D array``.

    Returns a plain dict of float arrays (or the given :class:`PhysicsPoint`). Names and domains are
    checked afterwards by :class:`PhysicsPoint`.

    Parameters
    ----------
    params : mapping or PhysicsPoint or None
        Physics parameter values by name (None for the defaults).

    Raises
    ------
    ParameterError
        For a non-mapping, a non-string name, or a value that is not a finite real number / 1-D
        array of them (booleans, strings, None, complex, nested lists, empty arrays).
    """
    if params is None:
        return {}
    if isinstance(params, PhysicsPoint):
        return params
    if not isinstance(params, Mapping):
        raise ParameterError(
            f"physics parameters must be a mapping name -> value (e.g. {{'sin2_theta_w': 0.238}}), got "
            f"{type(params).__name__} {_short(params)}")
    out = {}
    for name, value in params.items():
        if not isinstance(name, str):
            raise ParameterError(f"parameter names must be strings, got {name!r} ({type(name).__name__})")
        out[name] = _check_value(name, value)
    return out


def check_chunk_size(chunk_size: Any) -> int:
    """A positive whole number of points evaluated together.

    Parameters
    ----------
    chunk_size : int
        Number of physics points evaluated together.

    Returns
    -------
    int

    Raises
    ------
    ParameterError
        If it is not a positive integer (booleans are rejected).
    """
    if isinstance(chunk_size, (bool, np.bool_)) or not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1:
        raise ParameterError(f"chunk_size must be a positive whole number, got {_short(chunk_size)}")
    return int(chunk_size)


def check_edges(edges: Any) -> list[float]:
    """Bin edges: at least two finite, strictly ascending numbers."""
    if isinstance(edges, (str, bytes, Mapping)) or edges is None:
        raise ConfigError(f"bin edges must be a list of numbers, got {_short(edges)}")
    try:
        arr = np.asarray(edges)
    except (TypeError, ValueError):
        raise ConfigError(f"bin edges must be a list of numbers, got {_short(edges)}") from None
    if arr.dtype.kind not in "iuf" or arr.ndim != 1:
        raise ConfigError(f"bin edges must be a 1-D list of numbers, got {_short(edges)}")
    arr = arr.astype(float)
    if arr.size < 2 or not np.all(np.isfinite(arr)) or np.any(np.diff(arr) <= 0):
        raise ConfigError(f"bin edges must be at least two finite, strictly ascending numbers, got {_short(edges)}")
    return arr.tolist()
