"""Rate engine: precomputed kernels -> expected counts for many physics points at once."""

from .kernels import ComponentMoments, IsotopeKernel
from .rates import Prediction, RateEngine, Target

__all__ = ["ComponentMoments", "IsotopeKernel", "Prediction", "RateEngine", "Target"]
