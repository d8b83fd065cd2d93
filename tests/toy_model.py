"""A toy physics model living outside the package: a universal vector charge with a Gaussian form.

``delta g^p = delta g^n = toy_g exp(-q^2 / toy_scale_mev^2)`` for every flavour, interfering with the SM.
For ``toy_scale_mev -> infinity`` it is the vector NSI ``eps^uV = eps^dV = toy_g / 3`` of every flavour;
for ``toy_scale_mev -> 0`` it vanishes. Used by ``tests/test_models.py`` to show that a new model is one
new module: it is registered by :func:`register_toy` (no registration at import).
"""

import math

import numpy as np

from cevns.physics.models import Amplitude, KernelTerm, PhysicsModel, Shape, register, unregister
from cevns.physics.parameter_spec import ParameterSpec


def gaussian_suppression(scale_mev, q2_mev2):
    """exp(-q^2 / Lambda^2)."""
    return np.exp(-np.asarray(q2_mev2) / float(scale_mev) ** 2)


class ToyUniversalVector(PhysicsModel):
    name = "toy_universal_vector"
    description = "toy: universal vector charge with a Gaussian momentum dependence"
    reference = "tests/toy_model.py"
    parameters = (
        ParameterSpec("toy_g", 0.0, "-", "toy vector charge per nucleon", "tests/toy_model.py"),
        ParameterSpec("toy_scale_mev", 1.0e3, "MeV", "toy momentum scale", "tests/toy_model.py", 0.0, math.inf,
                      False),
    )
    shape_parameters = ("toy_scale_mev",)

    def terms(self, pt, flavor, settings):
        if not pt.nonzero("toy_g"):
            return ()
        g = pt.get("toy_g")
        shape = Shape("toy_scale_mev", pt.get("toy_scale_mev"), gaussian_suppression)
        return (KernelTerm("vector", (Amplitude(g, g, shape),), coherent=True),)


def register_toy():
    return register(ToyUniversalVector())


def unregister_toy():
    unregister(ToyUniversalVector.name)
