"""The typical momentum transfer of a built experiment, whatever its kind.

Engine-based experiments (the default kind and the COHERENT template kind) give the event-weighted mean
``<|q|>`` of the SM prediction of their (nominal) rate engine and the quantiles of the same distribution
(:mod:`cevns.engine.momentum`: ``q = sqrt(2 M_x T)`` weighted by the SM CEvNS rate of isotope ``x`` folded
with the flux and the detector response). Plug-in kinds that are not one rate engine (``xenonnt-8b``,
``solar-summary``) provide a ``momentum_transfer_mev()`` method that does the same over their detected
recoil spectrum. This is the scale at which an experiment measures ``sin^2(theta_W)``: the point of the
weak-mixing-angle figure and the scale of the ``[running]`` option of analysis files.
"""

from __future__ import annotations

from typing import Mapping

from ..engine.momentum import mean_momentum_transfer_mev, momentum_transfer_quantiles_mev
from ..errors import ConfigError

__all__ = ["experiment_momentum_transfer_mev"]


def experiment_momentum_transfer_mev(experiment, quantiles=(0.16, 0.84),
                                     params: Mapping | None = None) -> tuple[float, float, float]:
    """Event-weighted mean |q| of an experiment's SM prediction and two quantiles of it [MeV].

    ``<q> = sum_x int dT q_x(T) dN_x/dT / sum_x int dT dN_x/dT`` (:mod:`cevns.engine.momentum`); the
    quantiles interpolate the cumulative event weight in sorted ``q``.

    Parameters
    ----------
    experiment : Experiment or plug-in experiment
        A built experiment: one with a ``momentum_transfer_mev(quantiles, params)`` method (plug-in kinds),
        else one with a rate ``engine``.
    quantiles : pair of float in [0, 1], optional
        Quantiles of the |q| distribution (default: the 68% range 16-84%).
    params : mapping, optional
        Only ``sin2_theta_w`` is used (default: the experiment's default); it changes ``<q>`` only
        through the relative weight of the isotopes.

    Returns
    -------
    (mean, low, high) : tuple of float
        ``<|q|>`` and the two quantiles [MeV].

    Raises
    ------
    ConfigError
        If the experiment has neither a momentum-transfer method nor a rate engine, or predicts no
        CEvNS events.
    """
    name = getattr(experiment, "name", type(experiment).__name__)
    method = getattr(experiment, "momentum_transfer_mev", None)
    try:
        if callable(method):
            mean, low, high = method(quantiles, params)
            return float(mean), float(low), float(high)
        engine = getattr(experiment, "engine", None)
        if engine is None or not hasattr(engine, "isotope_kernels"):
            raise ConfigError(f"experiment {name!r}: no rate engine and no momentum_transfer_mev() method, "
                              "so no typical momentum transfer")
        mean = mean_momentum_transfer_mev(engine, params)
        low, high = momentum_transfer_quantiles_mev(engine, quantiles, params)
    except ValueError as exc:
        raise ConfigError(f"experiment {name!r}: {exc}") from None
    return float(mean), float(low), float(high)
