"""Experiment kinds as plug-ins: an ``experiment.toml`` with a top-level ``kind = "<name>"``.

The default kind, ``"spectrum"`` (no ``kind`` key), is the schema of :mod:`cevns.experiments.schema`:
source -> targets -> response -> observed bins, built into a
:class:`~cevns.experiments.experiment.Experiment`. Data sets that need more than that (an energy x
time x pulse-shape template likelihood, a published data release read as templates) register a
builder for their own kind::

    @register_experiment_kind("my-kind")
    def build(raw: dict, path: Path):
        ...  # validate ``raw`` (the TOML content with overrides merged), read the data beside ``path``
        return MyExperiment(...)

The object a builder returns must have ``name`` (str), ``files`` (the data files it read, for the
per-process cache), ``describe()`` (a JSON-able dict) and ``copy()``; analyses use it through a
likelihood kind (:mod:`cevns.stats.likelihood`) whose ``from_experiment`` accepts it. A builder raises
:class:`~cevns.errors.ConfigError` naming the file and key for bad input.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..errors import ConfigError

__all__ = ["DEFAULT_KIND", "EXPERIMENT_KINDS", "register_experiment_kind", "experiment_kind", "kind_builder",
           "PluginStatistics", "PluginDetector"]

DEFAULT_KIND = "spectrum"
#: Registered experiment kinds: name -> builder(raw: dict, path: Path) -> experiment object.
EXPERIMENT_KINDS: dict[str, Callable] = {}


def register_experiment_kind(name: str):
    """Decorator registering ``builder(raw, path)`` for experiment files with ``kind = name``."""
    if not isinstance(name, str) or not name or name == DEFAULT_KIND:
        raise ValueError(f"an experiment kind needs a new, non-empty name (got {name!r})")

    def wrap(builder: Callable) -> Callable:
        EXPERIMENT_KINDS[name] = builder
        return builder

    return wrap


def experiment_kind(raw: dict, path: Path) -> str:
    """The kind named by an experiment file (``"spectrum"`` when it has no ``kind`` key).

    Parameters
    ----------
    raw : dict
        The parsed experiment file.
    path : pathlib.Path
        The file, for messages.

    Returns
    -------
    str

    Raises
    ------
    ConfigError
        If ``kind`` is not a string or not a known kind.
    """
    kind = raw.get("kind", DEFAULT_KIND)
    if not isinstance(kind, str):
        raise ConfigError(f"{path}: kind: expected a string, got {kind!r}")
    if kind != DEFAULT_KIND and kind not in EXPERIMENT_KINDS:
        known = ", ".join([DEFAULT_KIND, *EXPERIMENT_KINDS])
        raise ConfigError(f"{path}: kind: unknown experiment kind {kind!r}; known: {known}")
    return kind


def kind_builder(kind: str) -> Callable:
    """The builder registered for ``kind``."""
    return EXPERIMENT_KINDS[kind]


@dataclass(frozen=True)
class PluginStatistics:
    """The ``spec.statistics`` an analysis reads from a plug-in experiment.

    Attributes
    ----------
    spectral : str
        Name of the likelihood kind the experiment is fitted with by default.
    single_bin : object, optional
        Single-bin statistics section (None: the experiment has no single-bin counting analysis).
    """

    spectral: str
    single_bin: object = None


@dataclass(frozen=True)
class PluginDetector:
    """The ``spec.detector`` an analysis reads from a plug-in experiment.

    Attributes
    ----------
    observable : str
        What one bin of the experiment counts (for tables and plots).
    """

    observable: str
