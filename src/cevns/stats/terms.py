"""The built-in likelihood kinds, one :class:`~cevns.stats.likelihood.Term` class each (registered by name).

* ``single_bin_pulls``: the COHERENT 2017 counting chi^2 (Papoulias & Kosmas arXiv:1711.09773 Eq. 6;
  COHERENT arXiv:1708.01294)
  ``min_{alpha,beta} [(N_meas - N_th (1 + alpha) - B_on (1 + beta))^2 / sigma_stat^2 + (alpha/sigma_alpha)^2
  + (beta/sigma_beta)^2]``, ``sigma_stat^2 = N_meas + 2 B_ss + B_on`` (closed form,
  :func:`cevns.stats.pulls.chi2_single_bin_pulls`).
* ``single_bin_stat``: the same without pulls.
* ``single_bin_sensitivity``: the expected-sensitivity statistic ``(N_th - N_SM)^2 / N_SM`` with the
  data replaced by the Standard-Model (Asimov) expectation ``N_SM`` and no background: the usual
  reading of "exclusion curves" of the first CEvNS phenomenology papers (e.g. Kosmas et al.,
  arXiv:1703.00054 Eq. 23 for the sensitivity chi^2 of a counting experiment).
* ``poisson``: binned Baker-Cousins chi^2 with normalisation nuisances; a subtracted steady-state
  background measured in an off window (COHERENT anti-coincidence) is fitted as a second Poisson data
  set with its per-bin level profiled (:mod:`cevns.stats.onoff`), so the binned fit keeps the
  statistical uncertainty of the subtraction (the ``2 B_ss`` of the single-bin chi^2).
* ``gaussian``: binned Gaussian chi^2 with normalisation nuisances; variance ``data + sideband`` per
  bin (= observed + 2 x sideband for subtracted data: the same ``2 B_ss``), or ``expectation +
  sideband`` with ``variance = "expected"``.

Data: ``asimov`` (Cowan et al. arXiv:1007.1727) = the given Asimov signal + backgrounds (+ sideband).
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from . import binned, pulls
from .likelihood import Term, register_likelihood

__all__ = ["SingleBinPulls", "SingleBinStat", "SingleBinSensitivity", "BinnedPoisson", "BinnedGaussian"]


def _sum(x) -> float:
    return float(np.sum(np.asarray(x, dtype=float)))


class _SingleBin(Term):
    """Counting terms on the bin-summed data of ``[statistics.single_bin]``."""

    signal_shape = "total"
    needs_single_bin = True

    def __init__(self, experiment, label, dataset, *, n_meas, b_on, b_ss, sigma_alpha=0.0, sigma_beta=0.0,
                 background_name="", data="observed", parameters=(), fixed=None):
        super().__init__(experiment, label, dataset, parameters=parameters, fixed=fixed)
        self.n_meas, self.b_on, self.b_ss = float(n_meas), float(b_on), float(b_ss)
        self.sigma_alpha, self.sigma_beta = float(sigma_alpha), float(sigma_beta)
        self.background_name = background_name
        self.data = data
        if self.n_meas + 2 * self.b_ss + self.b_on <= 0:
            raise ConfigError(f"{label}: single-bin sigma_stat^2 = N_meas + 2 B_ss + B_on is not positive")

    @classmethod
    def from_experiment(cls, experiment, *, label, dataset, asimov=None, fixed=None, **options):
        sb = experiment.spec.statistics.single_bin
        if sb is None:
            raise ConfigError(f"experiment {experiment.name!r} has no [statistics.single_bin]")
        if sb.background not in experiment.backgrounds:
            raise ConfigError(f"single-bin background {sb.background!r} not among {sorted(experiment.backgrounds)}")
        b_on = _sum(experiment.backgrounds[sb.background])
        b_ss = 0.0 if experiment.sideband is None else _sum(experiment.sideband)
        if asimov is None:
            if experiment.observed is None:
                raise ConfigError(f"experiment {experiment.name!r} has no observed data; use data = \"asimov\"")
            n_meas = _sum(experiment.observed)
        else:
            n_meas = _sum(asimov) + b_on
        return cls(experiment, label, dataset, n_meas=n_meas, b_on=b_on, b_ss=b_ss,
                   sigma_alpha=sb.sigma_signal, sigma_beta=sb.sigma_background, background_name=sb.background,
                   data="observed" if asimov is None else "asimov", fixed=fixed)

    def describe(self) -> dict:
        return {**super().describe(), "data": self.data,
                "single_bin": {"n_meas": self.n_meas, "b_on": self.b_on, "b_ss": self.b_ss,
                               "sigma_alpha": self.sigma_alpha, "sigma_beta": self.sigma_beta}}


@register_likelihood
class SingleBinPulls(_SingleBin):
    """Single-bin chi^2 with signal and background pulls (profiled in closed form)."""

    kind = "single_bin_pulls"

    def chi2_of_signal(self, signal, details=False):
        if not details:
            return pulls.chi2_single_bin_pulls(signal, self.n_meas, self.b_on, self.b_ss, self.sigma_alpha,
                                               self.sigma_beta), {}
        c, a, b = pulls.chi2_single_bin_pulls(signal, self.n_meas, self.b_on, self.b_ss, self.sigma_alpha,
                                              self.sigma_beta, return_pulls=True)
        return c, {f"{self.dataset}:alpha": a, f"{self.dataset}:beta": b}

    def nuisance_table(self) -> dict:
        return {f"{self.dataset}:alpha": {"sigma": self.sigma_alpha, "applies_to": [f"{self.label}/signal"]},
                f"{self.dataset}:beta": {"sigma": self.sigma_beta,
                                         "applies_to": [f"{self.label}/{self.background_name}"]}}


@register_likelihood
class SingleBinStat(_SingleBin):
    """Single-bin chi^2, statistical uncertainty only."""

    kind = "single_bin_stat"

    def chi2_of_signal(self, signal, details=False):
        return pulls.chi2_single_bin_stat_only(signal, self.n_meas, self.b_on, self.b_ss), {}


@register_likelihood
class SingleBinSensitivity(Term):
    """Expected sensitivity of a counting experiment: ``(N_th - N_SM)^2 / N_SM``, no background.

    ``N_SM`` is the bin-summed Asimov signal (the Standard-Model expectation at the analysis'
    ``[fixed]`` point unless ``asimov_parameters`` move it, times ``data_scale``).

    Parameters
    ----------
    experiment : Experiment
        The built experiment.
    label : str
        Name for tables and plots.
    dataset : str
        Unique key of the term inside a likelihood.
    n_sm : float
        Expected Standard-Model count ``N_SM`` [events], > 0.
    parameters : sequence of str, optional
        Physics parameters exposed as cost parameters.
    fixed : mapping, optional
        Values of the other physics parameters.

    Raises
    ------
    ConfigError
        If ``n_sm`` is not positive and finite.
    """

    kind = "single_bin_sensitivity"
    signal_shape = "total"
    data_kinds = ("asimov",)

    def __init__(self, experiment, label, dataset, *, n_sm, parameters=(), fixed=None):
        super().__init__(experiment, label, dataset, parameters=parameters, fixed=fixed)
        self.n_sm = float(n_sm)
        if not np.isfinite(self.n_sm) or self.n_sm <= 0:
            raise ConfigError(f"{label}: the sensitivity statistic needs a positive expected count N_SM, "
                              f"got {self.n_sm}")

    @classmethod
    def from_experiment(cls, experiment, *, label, dataset, asimov=None, fixed=None, **options):
        if asimov is None:
            raise ConfigError(f"{label}: single_bin_sensitivity uses the expected (Asimov) data; "
                              "set data = \"asimov\"")
        return cls(experiment, label, dataset, n_sm=_sum(asimov), fixed=fixed)

    def chi2_of_signal(self, signal, details=False):
        return (np.asarray(signal, dtype=float) - self.n_sm) ** 2 / self.n_sm, {}

    def describe(self) -> dict:
        return {**super().describe(), "data": "asimov", "single_bin": {"n_sm": self.n_sm}}


class _Binned(Term):
    """Binned spectral terms with fractional normalisation nuisances (profiled jointly in a sum)."""

    signal_shape = "spectrum"
    joint = True
    uses_systematics = True
    statistic = "poisson"

    def __init__(self, experiment, label, dataset, *, observed, backgrounds, nuisances=(), sideband=None,
                 data="observed", parameters=(), fixed=None):
        super().__init__(experiment, label, dataset, parameters=parameters, fixed=fixed)
        self.observed = np.asarray(observed, dtype=float)
        self.backgrounds = {k: np.asarray(v, dtype=float) for k, v in dict(backgrounds).items()}
        self.nuisances = list(nuisances)
        self.sideband = None if sideband is None else np.asarray(sideband, dtype=float)
        self.data = data
        try:  # validates shapes, counts and nuisance components now
            self.binned_dataset(np.zeros(self.observed.shape))
        except ValueError as exc:
            raise ConfigError(f"{label}: {exc}") from None

    @classmethod
    def _data(cls, experiment, asimov):
        """Raw (on-window) counts, backgrounds, sideband."""
        bkgs = {k: np.asarray(v, dtype=float) for k, v in experiment.backgrounds.items()}
        side = None if experiment.sideband is None else np.asarray(experiment.sideband, dtype=float)
        if asimov is None:
            if experiment.observed is None:
                raise ConfigError(f"experiment {experiment.name!r} has no observed data; use data = \"asimov\"")
            raw = np.asarray(experiment.observed, dtype=float) + (0.0 if side is None else side)
        else:
            raw = np.asarray(asimov, dtype=float) + sum(bkgs.values()) + (0.0 if side is None else side)
        if np.any(raw < 0):
            raise ConfigError(f"experiment {experiment.name!r}: negative raw counts {raw.min()} in the data")
        return raw, bkgs, side

    def nuisance_table(self) -> dict:
        return {nu.name: {"sigma": None if np.isinf(nu.sigma) else nu.sigma,
                          "applies_to": [f"{self.label}/{c}" for c in nu.applies_to]} for nu in self.nuisances}

    def describe(self) -> dict:
        return {**super().describe(), "data": self.data, "observed": self.observed.tolist(),
                "backgrounds": {k: v.tolist() for k, v in self.backgrounds.items()},
                **({} if self.sideband is None else {"sideband": self.sideband.tolist()})}


@register_likelihood
class BinnedPoisson(_Binned):
    """Baker-Cousins Poisson chi^2 per bin; a subtracted sideband is an on/off measurement (see module)."""

    kind = "poisson"

    @classmethod
    def from_experiment(cls, experiment, *, label, dataset, asimov=None, fixed=None, nuisances=(), **options):
        raw, bkgs, side = cls._data(experiment, asimov)
        return cls(experiment, label, dataset, observed=raw, backgrounds=bkgs, nuisances=nuisances, sideband=side,
                   data="observed" if asimov is None else "asimov", fixed=fixed)

    def binned_dataset(self, signal):
        return binned.BinnedDataset(name=self.dataset, observed=self.observed, backgrounds=self.backgrounds,
                                    statistic="poisson", nuisances=self.nuisances, off_counts=self.sideband)


@register_likelihood
class BinnedGaussian(_Binned):
    """Gaussian chi^2 per bin with a fixed variance (``"data"``: data + sideband; ``"expected"``:
    expectation + sideband); the sideband is a known background ``steady_state``."""

    kind = "gaussian"
    uses_variance = True

    def __init__(self, *args, variance="data", **kw):
        if variance not in ("data", "expected"):
            raise ConfigError(f"variance must be 'data' or 'expected', got {variance!r}")
        self.variance = variance
        super().__init__(*args, **kw)

    @classmethod
    def from_experiment(cls, experiment, *, label, dataset, asimov=None, fixed=None, nuisances=(),
                        variance="data", **options):
        raw, bkgs, side = cls._data(experiment, asimov)
        if side is not None:
            bkgs["steady_state"] = side
        return cls(experiment, label, dataset, observed=raw, backgrounds=bkgs, nuisances=nuisances, sideband=side,
                   data="observed" if asimov is None else "asimov", fixed=fixed, variance=variance or "data")

    def binned_dataset(self, signal):
        signal = np.asarray(signal, dtype=float)
        nominal = signal + sum(self.backgrounds.values()) if self.backgrounds else signal
        ss = 0.0 if self.sideband is None else self.sideband
        if self.variance == "expected":
            var = nominal + ss
        else:
            data_var = self.observed + ss
            var = np.where(data_var > 0, data_var, nominal + ss)
        return binned.BinnedDataset(name=self.dataset, observed=self.observed, backgrounds=self.backgrounds,
                                    statistic="gaussian", variance=var, nuisances=self.nuisances)
