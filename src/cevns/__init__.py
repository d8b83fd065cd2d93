"""cevns: coherent elastic neutrino-nucleus scattering toolkit.

Physics (``cevns.physics``) is pure functions; sources, detectors and experiments build
precomputed kernels; ``cevns.rates`` evaluates expected counts for many parameter points at once;
``cevns.stats`` turns counts into likelihoods, profiles and contours.
"""

__version__ = "0.1.0"

__all__ = ["__version__", "load_experiment", "list_experiments"]


def __getattr__(name):  # lazy: no import-time side effects or heavy imports
    if name in ("load_experiment", "list_experiments"):
        from . import experiments

        return getattr(experiments, name)
    raise AttributeError(name)
