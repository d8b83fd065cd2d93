"""The contract of a physics model and the registry the rate engine loops over.

A *physics model* (the SM, vector NSI, a light mediator, sterile mixing ...) is one module of
:mod:`cevns.physics.models` holding one :class:`PhysicsModel` subclass. It declares

* its parameters (:class:`~cevns.physics.parameter_spec.ParameterSpec`: name, unit, domain, default,
  reference) and which of them change the spectral shape (``shape_parameters``);
* its *kernel terms* for an incoming flavour: :class:`KernelTerm` objects, each a squared charge
  ``|sum_i (Z F_Z c_z,i + N F_N c_n,i) s_i(T)|^2`` times the kinematic factor of one interaction kind of
  :func:`cevns.physics.cross_sections.energy_coefficients`. Coherent ``vector`` terms add to the SM
  amplitude (they interfere); other terms add incoherently;
* optionally *flux modifiers* (:class:`FluxModifier`): a survival probability ``P(E) = 1 - A D(E)``.

The coefficients ``c_z, c_n, A`` are arrays over physics points (or scalars) and are constant in the
recoil energy T; everything T- or E-dependent is a :class:`Shape` (``s(T)``) or the modifier's
``D(E)``, which depends on one value per point (a mediator mass, dm41^2). The engine groups points by
those values, computes each shape once per distinct value and evaluates the counts as a quadratic form in
the coefficients. A new model is one new module calling :func:`register`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from ...errors import ParameterError
from ..parameter_spec import ParameterSpec


@dataclass(frozen=True)
class Shape:
    """A T-dependent factor ``s(T) = function(value, q2_mev2)`` shared by the points with equal ``value``.

    Attributes
    ----------
    name : str
        Identifies the shape (e.g. ``"zprime_mass"``); two amplitudes with the same name share values.
    values : float or ndarray (n_points,)
        The shape parameter per point. Points whose amplitude is zero may carry any value.
    function : callable (value: float, q2_mev2: ndarray) -> ndarray
        ``s(T)`` on the recoil nodes, given q^2 = 2 M T [MeV^2].
    """

    name: str
    values: object
    function: Callable[[float, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Amplitude:
    """``Z F_Z c_z + N F_N c_n`` (times ``shape.function(value, q^2)`` if a shape is given)."""

    c_z: object
    c_n: object = 0.0
    shape: Shape | None = None


@dataclass(frozen=True)
class KernelTerm:
    """One squared charge times the kinematic factor of ``kind`` (vector, tensor, magnetic, scalar).

    ``coherent=True`` (vector only) adds the amplitudes to the SM vector amplitude inside the square.
    """

    kind: str
    amplitudes: tuple
    coherent: bool = False


@dataclass(frozen=True)
class FluxModifier:
    """A survival probability ``P(E) = 1 - amplitude * D(E)`` of one flavour.

    ``function(value, energies_mev, baseline_m, spread_m, detector_spread_m) -> D`` at the flux nodes;
    ``values`` (one per point) select D, ``amplitude`` (one per point) scales it.

    Parameters
    ----------
    name : str
        Label of the modifier (the model that made it).
    amplitude : float or ndarray
        Amplitude A, one per point (dimensionless).
    values : float or ndarray
        Model parameter values, one per point, passed to ``function``.
    function : callable
        ``function(value, energies_mev, baseline_m, spread_m, detector_spread_m) -> D`` (dimensionless).
    """

    name: str
    amplitude: object
    values: object
    function: Callable


class PhysicsModel:
    """Base class of a registered physics model (see the module docstring).

    Subclasses set the class attributes and override :meth:`terms` and/or :meth:`flux_modifiers`.

    Attributes
    ----------
    name, description, reference : str
    parameters : tuple of ParameterSpec
        The fixed-name parameters the model declares (patterned names such as ``rn_<Isotope>`` are
        resolved by :func:`cevns.physics.parameters.spec_for`).
    shape_parameters : tuple of str
        Parameters whose values change the spectral shape (not a quadratic form in couplings).
    always_active : bool
        False: the model is skipped at points where none of its parameters is given (its defaults must
        then leave the rate unchanged); True: always asked for terms (the SM).
    """

    always_active: bool = False
    name: str = ""
    description: str = ""
    reference: str = ""
    parameters: tuple = ()
    shape_parameters: tuple = ()

    @property
    def parameter_names(self) -> frozenset:
        """Names of the declared parameters."""
        names = self.__dict__.get("_names")
        if names is None:
            names = self.__dict__["_names"] = frozenset(p.name for p in self.parameters)
        return names

    def is_active(self, given_names) -> bool:
        """Whether the model can change the rate at a point where ``given_names`` were given."""
        return self.always_active or not self.parameter_names.isdisjoint(given_names)

    @property
    def changes_shape(self) -> bool:
        """Whether some parameter of this model changes the spectral shape."""
        return bool(self.shape_parameters)

    def terms(self, pt, flavor: str, settings) -> Sequence[KernelTerm]:
        """Kernel terms for incoming ``flavor`` (e.g. ``"nu_mu_bar"``) at the points ``pt``.

        Parameters
        ----------
        pt : PhysicsPoint
            The physics points (parameters as arrays of length ``pt.size``).
        flavor : str
            Incoming flux label.
        settings : PhysicsSettings
            The physics settings (form factors, kinematics, treatments).
        """
        return ()

    def flux_modifiers(self, pt, flavor: str, settings) -> Sequence[FluxModifier]:
        """Survival probabilities applied to the flux of ``flavor``.

        Parameters
        ----------
        pt : PhysicsPoint
            The physics points.
        flavor : str
            Flux label such as ``"nu_e"``.
        settings : PhysicsSettings
            The physics settings.
        """
        return ()

    def __repr__(self) -> str:
        return f"<physics model {self.name!r}: {', '.join(p.name for p in self.parameters)}>"


_REGISTRY: dict[str, PhysicsModel] = {}
#: every fixed-name parameter of every registered model (live: :func:`register` adds to it)
PARAMETER_TABLE: dict[str, ParameterSpec] = {}
_OWNER: dict[str, str] = {}


def register(model: PhysicsModel) -> PhysicsModel:
    """Add ``model`` (and its parameters) to the registry; returns it.

    Raises :class:`ParameterError` if the model name or one of its parameter names is already taken.
    """
    if not model.name:
        raise ParameterError("a physics model needs a name")
    if model.name in _REGISTRY:
        raise ParameterError(f"physics model {model.name!r} is already registered")
    for p in model.parameters:
        if p.name in PARAMETER_TABLE:
            raise ParameterError(
                f"parameter {p.name!r} of model {model.name!r} is already declared by model {_OWNER[p.name]!r}")
    for p in model.parameters:
        PARAMETER_TABLE[p.name] = p
        _OWNER[p.name] = model.name
    for s in model.shape_parameters:
        if s not in {p.name for p in model.parameters}:
            raise ParameterError(f"shape parameter {s!r} of model {model.name!r} is not one of its parameters")
    _REGISTRY[model.name] = model
    return model


def unregister(name: str) -> None:
    """Remove a registered model and its parameters (for plug-in tests).

    Parameters
    ----------
    name : str
        Name of a registered model.
    """
    model = _REGISTRY.pop(name, None)
    if model is None:
        raise ParameterError(f"no physics model {name!r} is registered")
    for p in model.parameters:
        PARAMETER_TABLE.pop(p.name, None)
        _OWNER.pop(p.name, None)


def registered_models() -> list[PhysicsModel]:
    """The registered models, in registration order (the SM first)."""
    return list(_REGISTRY.values())


def model_of(parameter: str) -> str:
    """Name of the model declaring a fixed-name parameter (``KeyError`` if none)."""
    return _OWNER[parameter]
