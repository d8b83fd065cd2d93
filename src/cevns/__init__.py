"""cevns: coherent elastic neutrino-nucleus scattering toolkit.

Physics (``cevns.physics``) is pure functions; sources, detectors and experiments build
precomputed kernels; ``cevns.engine`` evaluates expected counts for many parameter points at once;
``cevns.stats`` turns counts into likelihoods, profiles and contours; ``cevns.cli`` is the ``cevns``
command (also ``python -m cevns``). Formulas, units and sources: ``docs/physics.md``.
"""

__version__ = "0.1.0"

__all__ = ["__version__", "load_experiment", "list_experiments"]


def __getattr__(name):  # PEP 562 lazy attribute: ``import cevns.errors`` must not load numpy/scipy
    if name in ("load_experiment", "list_experiments"):
        from . import experiments

        return getattr(experiments, name)
    raise AttributeError(name)
