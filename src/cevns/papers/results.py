"""In-memory results of a paper's scans, as handed to the tables and figure composers."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

__all__ = ["ScanOutput", "cl_key"]


def cl_key(mapping: Mapping, cl: float) -> str:
    """The key of ``mapping`` (keys like ``"0.9"``) equal to the confidence level ``cl``."""
    for k in mapping:
        if abs(float(k) - cl) < 1e-9:
            return k
    raise KeyError(f"confidence level {cl} not in {list(mapping)}")


@dataclass
class ScanOutput:
    """One scan of a paper's analysis file.

    Attributes
    ----------
    stem : str
        The analysis file's stem (``"fig2_weak_mixing"``).
    analysis : str
        The analysis ``name``.
    name : str
        The scan name within the analysis.
    result : dict
        The scan's ``results.json`` entry (``cevns.analysis.run_analysis``).
    grid : dict
        ``{"x", "dchi2"}`` (1D) or ``{"x", "y", "dchi2"}`` with dchi2 of shape (ny, nx): the
        in-memory arrays of the scan (``AnalysisResults.grids``).
    folder : Path
        The analysis file's output folder.
    running : dict or None
        The analysis' ``[running]`` summary (``results.json`` ``"running"``, with ``reference_q_mev``), if any.
    """

    stem: str
    analysis: str
    name: str
    result: dict
    grid: dict
    folder: Path
    running: dict | None = None

    @property
    def key(self) -> str:
        """``"<stem>.<scan>"``, the name of the scan in the paper's results.json and figures.toml."""
        return f"{self.stem}.{self.name}"

    def threshold(self, cl: float | None = None) -> float:
        """The Delta-chi^2 threshold at ``cl`` (default: the first confidence level of the scan)."""
        th = self.result["threshold"]
        key = next(iter(th)) if cl is None else cl_key(th, cl)
        return float(th[key])
