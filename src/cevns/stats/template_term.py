"""The ``template_poisson`` likelihood kind: a binned template likelihood with every nuisance profiled.

For experiments that provide templates (``template_inputs(params, n)``, e.g. the ``coherent-template``
kind of COHERENT CsI 2021 and LAr 2020), the chi2 of physics points is the binned Poisson likelihood of
:mod:`cevns.stats.template_profile` (CEvNS template at the point + backgrounds + on/off steady state),
minimised over all nuisances by vectorised Newton steps over the points at once, warm-started from the
best fit at the analysis' fixed point. :meth:`TemplatePoisson.minuit_chi2` is the independent iminuit
path (MIGRAD on :class:`cevns.stats.binned_templates.TemplateLikelihood`, one minimisation per point).
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
from iminuit import Minuit

from ..errors import ConfigError
from .binned_templates import TemplateLikelihood
from .likelihood import Term, register_likelihood
from .template_joint import joint_term_chi2
from .template_profile import THETA_MAX, TemplateArrays, profile_templates, variation_terms

__all__ = ["TemplatePoisson", "template_arrays"]


def template_arrays(inputs: Mapping, observed=None, n: int = 1) -> TemplateArrays:
    """:class:`TemplateArrays` of an experiment's ``template_inputs`` dict.

    Each component's shape variations become the log-space coefficients of :func:`variation_terms`;
    nuisances shared by several components (same name) are one parameter.

    Parameters
    ----------
    inputs : mapping
        ``template_inputs`` dict: ``observed``, ``components`` (``name``, ``nominal``, ``sigma``,
        ``systematics``) and optional ``onoff`` (``off_counts``, ``membership``, ``ratio_sigma``).
    observed : array_like, optional
        Counts per bin replacing ``inputs["observed"]`` (e.g. Asimov data).
    n : int, optional
        Number of points (unused: the per-point arrays keep their own rows; kept for the interface).

    Returns
    -------
    TemplateArrays
    """
    obs = np.asarray(inputs["observed"] if observed is None else observed, dtype=float).ravel()
    names, nominal, sigma, nuis, variations = [], [], [], [], []
    for c, comp in enumerate(inputs["components"]):
        names.append(comp["name"])
        h0 = np.asarray(comp["nominal"], dtype=float)
        nominal.append(h0)
        sigma.append(comp.get("sigma"))
        for key, (up, dn) in comp.get("systematics", {}).items():
            if key not in nuis:
                nuis.append(key)
            variations.append((c, nuis.index(key), *variation_terms(h0, up, dn)))
    oo = inputs.get("onoff")
    if oo is None:
        return TemplateArrays(obs, names, nominal, sigma, nuis, variations)
    return TemplateArrays(obs, names, nominal, sigma, nuis, variations, np.asarray(oo["off_counts"], float),
                          np.asarray(oo["membership"], float), float(oo["ratio_sigma"]))


def _likelihood_inputs(inputs: Mapping, observed=None, point: int = 0) -> dict:
    """Plain-array inputs of :class:`TemplateLikelihood` at one point of a ``template_inputs`` dict."""
    comps = []
    for comp in inputs["components"]:
        pick = (lambda a: np.asarray(a)[point] if np.ndim(a) == 2 else np.asarray(a))  # noqa: E731
        comps.append({"name": comp["name"], "nominal": pick(comp["nominal"]), "sigma": comp.get("sigma"),
                      "systematics": {k: (pick(u), pick(d)) for k, (u, d) in comp.get("systematics", {}).items()}})
    onoff = None
    oo = inputs.get("onoff")
    if oo is not None:
        m = np.asarray(oo["membership"])
        onoff = {"off_counts": oo["off_counts"], "ratio_sigma": oo["ratio_sigma"], "groups": m.argmax(axis=1),
                 "weights": m.max(axis=1)}
    return {"observed": inputs["observed"] if observed is None else observed, "components": comps, "onoff": onoff}


@register_likelihood
class TemplatePoisson(Term):
    """Binned Poisson template likelihood of a template experiment (module docstring).

    Parameters
    ----------
    experiment : object
        With ``template_inputs(params, n)``, ``observed``, ``name`` (e.g. the ``coherent-template`` kind).
    label, dataset : str
        Term label and data-set name (prefix of the nuisance names in ``chi2_of_signal`` details).
    observed : ndarray, optional
        Data replacing the experiment's (Asimov data).
    fixed : mapping, optional
        Physics parameters of the warm start and of the fixed point.
    parameters : sequence of str, optional
        Physics parameters exposed as cost parameters.
    shared : mapping, optional
        ``{own nuisance: (global name, sigma or None)}`` from ``[[correlations]]``: the term is then
        profiled jointly with the other template terms sharing the global name
        (:mod:`cevns.stats.template_joint`). The only own nuisance is ``flux_norm`` (:meth:`correlatable`).
    """

    kind = "template_poisson"
    signal_shape = "spectrum"
    data_kinds = ("observed", "asimov")

    def __init__(self, experiment, label, dataset, observed=None, fixed=None, parameters=(), shared=None):
        super().__init__(experiment, label, dataset, parameters=parameters, fixed=fixed)
        if not hasattr(experiment, "template_inputs"):
            raise ConfigError(f"experiment {experiment.name!r} provides no templates; the template_poisson "
                              "likelihood needs a template experiment (kind = \"coherent-template\")")
        self.shared = dict(shared or {})
        bad = sorted(set(self.shared) - self.correlatable(experiment))
        if bad:
            raise ConfigError(f"experiment {experiment.name!r} ({self.kind}): cannot correlate {bad}; its shareable "
                              f"nuisances are {sorted(self.correlatable(experiment))}")
        self.data = "observed" if observed is None else "asimov"
        self.observed = np.asarray(experiment.observed if observed is None else observed, float).ravel()
        self._warm: np.ndarray | None = None

    @classmethod
    def from_experiment(cls, experiment, *, label, dataset, asimov=None, fixed=None, **options):
        """The term on the observed data or, with ``asimov`` (expected counts per bin), on Asimov data.

        Parameters
        ----------
        experiment : object
            A template experiment (``template_inputs``).
        label, dataset : str
            Term label and data-set name.
        asimov : array_like, optional
            Asimov data (expected counts per bin) replacing the observed counts.
        fixed : mapping, optional
            Fixed physics parameters.
        **options
            Analysis options; ``nuisances`` must be empty.

        Returns
        -------
        TemplatePoisson

        Raises
        ------
        ConfigError
            Analysis ``[[systematics]]`` given (the nuisances come from the experiment).
        """
        nuis = options.get("nuisances") or []
        if nuis:
            raise ConfigError("the template_poisson likelihood takes its nuisances from the experiment; "
                              "analysis [[systematics]] do not apply")
        return cls(experiment, label, dataset, observed=asimov, fixed=fixed, shared=options.get("correlations"))

    @classmethod
    def correlatable(cls, experiment) -> set:
        """Names of the experiment's nuisances a ``[[correlations]]`` entry can share: ``{"flux_norm"}`` (the
        neutrino-flux part of the CEvNS normalisation prior) when the experiment gives ``flux_norm_sigma``
        and CEvNS has a prior; else empty.

        Parameters
        ----------
        experiment : object
            A template experiment.

        Returns
        -------
        set of str
        """
        ok = getattr(experiment, "flux_norm_sigma", None) is not None and \
            getattr(experiment, "cevns_sigma", None) is not None
        return {"flux_norm"} if ok else set()

    def shared_norm(self, own: str) -> tuple[str, float]:
        """The component a shareable nuisance scales and its width: ``("cevns", flux_norm_sigma)``.

        Parameters
        ----------
        own : str
            The own nuisance name (``"flux_norm"``).

        Returns
        -------
        (str, float)
        """
        if own not in self.correlatable(self.experiment):
            raise ConfigError(f"{self.label}: no shareable nuisance {own!r}")
        return "cevns", float(self.experiment.flux_norm_sigma)

    @staticmethod
    def joint_chi2(terms, signals: Mapping, details: bool = False):
        """Joint profile of template terms sharing nuisances (:func:`cevns.stats.template_joint.joint_term_chi2`).

        Parameters
        ----------
        terms : list of TemplatePoisson
            Terms with :attr:`shared` nuisances.
        signals : mapping
            Dataset key -> :meth:`signal` of each term.
        details : bool, optional
            Also return fitted nuisances.

        Returns
        -------
        chi2 : ndarray (n,)
        per_term : dict of str to ndarray
        nuisances : dict of str to ndarray
        """
        return joint_term_chi2(terms, signals, details)

    def nuisance_table(self) -> dict:
        """The shared nuisances (``[[correlations]]``): global name -> ``{"sigma", "applies_to"}``.

        The experiment's own nuisances are profiled inside the term and not listed.

        Returns
        -------
        dict
        """
        out = {}
        for own, (name, sigma) in self.shared.items():
            comp, width = self.shared_norm(own)
            out[name] = {"sigma": width if sigma is None else float(sigma), "applies_to": [f"{self.label}/{comp}"]}
        return out

    def warm_start(self) -> np.ndarray:
        """Best-fit parameter vector at the fixed point (the Newton steps' warm start).

        Returns
        -------
        ndarray, shape (n_par,)
        """
        return self._start()

    @classmethod
    def asimov_signal(cls, experiment, params: Mapping) -> np.ndarray:
        """Expected counts per bin (CEvNS at ``params`` + backgrounds + steady state) at nominal nuisances.

        ``mu_b = sum_c h0_cb + sum_g M_bg m_g`` (every scale 1, every theta 0, r = 1, k_g = off counts m_g).

        Parameters
        ----------
        experiment : object
            A template experiment (``template_inputs``).
        params : mapping
            Physics parameters of one point.

        Returns
        -------
        ndarray, shape (n_bins,)
        """
        inp = experiment.template_inputs(dict(params), 1)
        mu = sum(np.asarray(c["nominal"], float).reshape(-1, inp["observed"].size)[0] for c in inp["components"])
        oo = inp.get("onoff")
        if oo is not None:
            mu = mu + oo["membership"] @ oo["off_counts"]
        return mu

    # ------------------------------------------------------------------ evaluation
    def signal(self, flat: Mapping, n: int):
        """The ``n`` physics points, evaluated lazily: :meth:`chi2_of_signal` builds the templates chunk by
        chunk (:attr:`chunk_elements` bounds the arrays); :meth:`templates` gives them at once.

        Parameters
        ----------
        flat : mapping of str to float or ndarray
            Physics parameters (scalars or arrays of length ``n``).
        n : int
            Number of points.

        Returns
        -------
        dict
            ``{"points": dict(flat), "n": n}``.
        """
        return {"points": dict(flat), "n": int(n)}

    #: Points x parameters x bins per chunk of :meth:`chi2_of_signal`: sets how many points are built and profiled
    #: together (the templates and their variations of one chunk, ~10^7 numbers; the Newton kernel itself works
    #: on blocks of 64 points, :mod:`cevns.stats.template_kernel`).
    chunk_elements: int = 10_000_000

    def templates(self, flat: Mapping, n: int) -> dict:
        """Templates at ``n`` physics points (the experiment's ``template_inputs`` dict).

        Parameters
        ----------
        flat : mapping of str to float or ndarray
            Physics parameters (scalars or arrays of length ``n``).
        n : int
            Number of points.

        Returns
        -------
        dict
        """
        return self.experiment.template_inputs(flat, n)

    def arrays(self, params: Mapping | None = None, n: int = 1) -> TemplateArrays:
        """:class:`TemplateArrays` at ``n`` physics points on this term's data.

        Parameters
        ----------
        params : mapping, optional
            Physics parameters, over this term's ``fixed``.
        n : int, optional
            Number of points.

        Returns
        -------
        TemplateArrays
        """
        return template_arrays(self.experiment.template_inputs({**self.fixed, **dict(params or {})}, n),
                               self.observed)

    def _parameter_names(self) -> list[str]:
        if getattr(self, "_names", None) is None:
            self._names = self.arrays().parameters
        return self._names

    def _start(self) -> np.ndarray:
        if self._warm is None:
            res = profile_templates(self.arrays(), 1)
            self._warm = res.values[0]
        return self._warm

    def profile(self, inputs: Mapping, n: int, fixed: Mapping | None = None):
        """Profiled fit of every nuisance at ``n`` points of a ``template_inputs`` dict (a
        :class:`~cevns.stats.template_profile.ProfileResult`), Newton steps warm-started from the best fit
        at the fixed point.

        Parameters
        ----------
        inputs : mapping
            ``template_inputs`` dict (per-point arrays with ``n`` rows).
        n : int
            Number of points.
        fixed : mapping name -> value, optional
            Profiled parameters held fixed (e.g. ``{"s_cevns": 0.0}``).

        Returns
        -------
        ProfileResult
        """
        t = template_arrays(inputs, self.observed)
        return profile_templates(t, n, start=self._start(), fixed=fixed)

    def chi2_of_signal(self, signal, details: bool = False):
        """Profiled chi2 and, if ``details``, the fitted nuisances by name.

        Parameters
        ----------
        signal : dict
            :meth:`signal` (templates built chunk by chunk) or a :meth:`templates` dict.
        details : bool, optional
            Also return the fitted nuisances.

        Returns
        -------
        chi2 : ndarray, shape (n,)
        nuisances : dict of str to ndarray
            ``{"<dataset>:<name>": (n,)}`` (the on/off means ``k_g`` left out); empty without ``details``.
        """
        if "points" not in signal:
            n = np.shape(signal["components"][0]["nominal"])[0]
            res = self.profile(signal, n)
            chi2, values, names = res.chi2, res.values, res.parameters
        else:
            flat, n = signal["points"], signal["n"]
            names = self._parameter_names()
            step = max(64, int(self.chunk_elements // (len(names) * self.observed.size)))
            chi2, parts = np.empty(n), []
            for lo in range(0, n, step):
                hi = min(n, lo + step)
                sub = {k: (v if np.ndim(v) == 0 else np.asarray(v)[lo:hi]) for k, v in flat.items()}
                res = self.profile(self.templates(sub, hi - lo), hi - lo)
                chi2[lo:hi] = res.chi2
                if details:
                    parts.append(res.values)
            values = np.concatenate(parts) if details else None
        nuis = {}
        if details:
            nuis = {f"{self.dataset}:{k}": values[:, i] for i, k in enumerate(names) if not k.startswith("k_")}
        return chi2, nuis

    def minuit_chi2(self, params: Mapping | None = None, warm: bool = True, simplex: bool = True) -> float:
        """Reference: chi2 at one physics point minimised by iminuit (MIGRAD) over every nuisance.

        The independent implementation :class:`TemplateLikelihood` (its on/off means profiled inside),
        started from the same warm start as the vectorised profile (``warm``) or from the nominal values;
        ``simplex``: SIMPLEX before MIGRAD (MIGRAD alone can stop in a secondary minimum of the shape
        nuisances far from the best fit).

        Parameters
        ----------
        params : mapping, optional
            Physics parameters of the point, over this term's ``fixed``.
        warm : bool, optional
            Start from the warm start (else the nominal values).
        simplex : bool, optional
            Run SIMPLEX before MIGRAD.

        Returns
        -------
        float
            Minimum chi2 found.
        """
        like = self.minuit_likelihood(params)
        start = self._start()[:len(like.parameters)] if warm else like.defaults()
        m = Minuit(lambda x: float(like.chi2(x[None, :])[0]), start, name=like.parameters)
        m.errordef = Minuit.LEAST_SQUARES
        for name in like.parameters:
            if name.startswith("s_") or name == "r_onoff":
                m.limits[name] = (0.0, None)
            elif name in like.nuisances:
                m.limits[name] = (-THETA_MAX, THETA_MAX)
        if simplex:
            m.simplex()
        m.migrad()
        if not m.valid:
            m.migrad()
        return float(m.fval)

    def minuit_likelihood(self, params: Mapping | None = None) -> TemplateLikelihood:
        """The iminuit-usable :class:`TemplateLikelihood` at one physics point.

        Parameters
        ----------
        params : mapping, optional
            Physics parameters of the point, over this term's ``fixed``.

        Returns
        -------
        TemplateLikelihood
            With the ``"exp-quadratic"`` interpolation and this term's data.
        """
        inputs = self.experiment.template_inputs({**self.fixed, **dict(params or {})}, 1)
        return TemplateLikelihood.from_inputs(_likelihood_inputs(inputs, self.observed), method="exp-quadratic")

    def describe(self) -> dict:
        """Label, kind, data kind and the experiment summary."""
        return {**super().describe(), "data": self.data, "observed_events": float(self.observed.sum()),
                "experiment_summary": self.experiment.describe()}
