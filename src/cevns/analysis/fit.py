"""Full iminuit fits of the template experiments of an analysis file (``cevns fit``, reproductions).

The analysis' ``template_poisson`` terms are fitted jointly by :class:`cevns.stats.template_minuit.TemplateFit`
(MIGRAD, HESSE, MINOS); physics parameters named in ``pois`` are freed, starting from the analysis' ``[fixed]``.
Free a component's normalisation in the analysis file with ``overrides = { fit = { free = ["cevns"] } }``.
"""

from __future__ import annotations

from ..errors import ConfigError
from ..physics.parameters import spec_for
from ..stats.template_minuit import TemplateFit
from ..stats.template_term import TemplatePoisson
from .build import build_likelihood
from .resolve import load_analysis

__all__ = ["fit_analysis", "template_fit"]


def template_fit(analysis, pois=()) -> TemplateFit:
    """The :class:`TemplateFit` of an analysis (file, mapping or spec) with physics parameters ``pois`` free.

    Parameters
    ----------
    analysis : str, pathlib.Path, mapping or AnalysisSpec
        The analysis (see :func:`cevns.analysis.load_analysis`); every likelihood term must be of kind
        ``template_poisson``.
    pois : sequence of str, optional
        Physics parameters of interest left free in the fit (start values from the analysis' ``[fixed]``).

    Returns
    -------
    TemplateFit
        The configured fit (not yet run), with the resolved analysis as its ``spec`` attribute.

    Raises
    ------
    ConfigError
        A likelihood term that is not ``template_poisson``, no template term, or an unknown parameter name.
    """
    spec = load_analysis(analysis)
    if spec.running is not None:
        raise ConfigError(f"{spec.source}: [running] applies to scans (cevns run); the template fit does not "
                          "support it: remove [running] to fit")
    like = build_likelihood(spec)
    terms = [t for t in like.terms if isinstance(t, TemplatePoisson)]
    others = [t.label for t in like.terms if not isinstance(t, TemplatePoisson)]
    if others:
        raise ConfigError(f"{spec.source}: a template fit handles template_poisson experiments only; not {others}")
    if not terms:
        raise ConfigError(f"{spec.source}: no template_poisson experiment to fit")
    for p in pois:
        spec_for(p)
    tf = TemplateFit(terms, pois=list(pois), start=dict(spec.fixed))
    tf.spec = spec
    return tf


def fit_analysis(analysis, pois=(), keep: bool = False):
    """Fit an analysis with MIGRAD, HESSE and MINOS (:meth:`TemplateFit.run`, :mod:`cevns.stats.template_minuit`).

    Parameters
    ----------
    analysis : str, pathlib.Path, mapping or AnalysisSpec
        The analysis (see :func:`template_fit`).
    pois : sequence of str, optional
        Physics parameters of interest left free.
    keep : bool, optional
        Also return the fit object and the :class:`iminuit.Minuit` object.

    Returns
    -------
    dict or tuple
        The result dict of :meth:`TemplateFit.run` without its ``"minuit"`` entry, plus ``"analysis"``
        (the analysis name); with ``keep``, ``(result, TemplateFit, Minuit)``.

    Raises
    ------
    ConfigError
        As :func:`template_fit`.
    """
    tf = template_fit(analysis, pois)
    res = tf.run()
    m = res.pop("minuit", None)
    res["analysis"] = tf.spec.name
    return (res, tf, m) if keep else res
