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
    """The :class:`TemplateFit` of an analysis (file, mapping or spec) with physics parameters ``pois`` free."""
    spec = load_analysis(analysis)
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
    """Fit an analysis: the result dict of :meth:`TemplateFit.run` (plus ``"analysis"``), without the Minuit
    object; with ``keep``, ``(result, fit object, Minuit)``."""
    tf = template_fit(analysis, pois)
    res = tf.run()
    m = res.pop("minuit", None)
    res["analysis"] = tf.spec.name
    return (res, tf, m) if keep else res
