"""Physics models as a registry: one module per model (see :mod:`cevns.physics.models.base`).

Built-in models, registered in this order: the SM, vector NSI, tensor NSI, magnetic moment, charge
radius, 3+1 sterile mixing, light vector mediator, light scalar mediator. A new model is a new module
defining a :class:`PhysicsModel` subclass and calling :func:`register`.
"""

from .base import (
    PARAMETER_TABLE,
    Amplitude,
    FluxModifier,
    KernelTerm,
    PhysicsModel,
    Shape,
    model_of,
    register,
    registered_models,
    unregister,
)
from . import standard_model, vector_nsi, tensor_nsi, magnetic_moment, charge_radius  # noqa: F401,E402
from . import sterile, light_vector, light_scalar  # noqa: F401,E402

__all__ = ["PARAMETER_TABLE", "Amplitude", "FluxModifier", "KernelTerm", "PhysicsModel", "Shape", "model_of",
           "register", "registered_models", "unregister"]
