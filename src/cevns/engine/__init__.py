"""Rate engine: precomputed kernels -> expected counts for many physics points at once."""

from .rates import Prediction, RateEngine, Target

__all__ = ["Prediction", "RateEngine", "Target"]
