"""Per-term shifts of physics parameters: a term that sees ``p + delta`` when the likelihood is at ``p``.

A combined fit shares a parameter between experiments by name. When the experiments are sensitive to
the parameter at different scales -- ``sin^2(theta_W)`` measured at different momentum transfers -- the
shared parameter is the value at a reference scale and each term sees it moved by a fixed amount, the
Standard-Model running between the reference and its own scale (``[running]`` in analysis files,
:mod:`cevns.analysis.running`)::

    p_term = p + delta_term            (p given at the point)
    p_term = default + delta_term      (p not given: ``default`` is the reference-scale value)

A :class:`~cevns.stats.likelihood.Term` carries its shifts in ``parameter_shifts`` (empty: the point is
passed on unchanged, the very same mapping); :class:`~cevns.stats.likelihood.Likelihood` applies them
with :func:`shifted_point` before asking the term for its signal.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

from ..physics.parameters import canonical_name

__all__ = ["ParameterShift", "shifted_point"]


@dataclass(frozen=True)
class ParameterShift:
    """A fixed additive shift of one physics parameter seen by one term.

    Attributes
    ----------
    name : str
        The parameter (any alias; matched by canonical name).
    delta : float
        Added to the value of the point (units of the parameter).
    default : float
        Value used (before the shift) when the point does not give the parameter.
    """

    name: str
    delta: float
    default: float

    def __post_init__(self):
        if not (math.isfinite(self.delta) and math.isfinite(self.default)):
            raise ValueError(f"shift of {self.name!r}: delta and default must be finite, got {self.delta}, "
                             f"{self.default}")


def shifted_point(flat: Mapping, shifts: Sequence[ParameterShift]) -> Mapping:
    """The physics point a term with ``shifts`` sees: each shifted parameter moved by its ``delta``.

    Parameters
    ----------
    flat : mapping of str to float or numpy.ndarray
        Physics parameters of the points (scalars or flat (n,) arrays, any alias names).
    shifts : sequence of ParameterShift
        The term's shifts (empty: ``flat`` itself is returned).

    Returns
    -------
    mapping
        ``flat`` if there are no shifts, else a new dict with ``value + delta`` for each shifted parameter
        (``default + delta`` under the canonical name if the point does not give it).
    """
    if not shifts:
        return flat
    out = dict(flat)
    keys = {canonical_name(k): k for k in out}
    for s in shifts:
        key = keys.get(canonical_name(s.name))
        if key is None:
            out[canonical_name(s.name)] = s.default + s.delta
        else:
            out[key] = out[key] + s.delta
    return out
