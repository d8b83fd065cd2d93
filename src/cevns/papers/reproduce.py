"""Reproduce the seed papers with one call (compatibility facade; the work is split by responsibility).

Papers (``PAPERS``, each a folder with its analysis files and ``figures.toml``):

* ``"papoulias-kosmas"``: D.K. Papoulias, T.S. Kosmas, "Constraining new physics from the first
  observation of coherent elastic neutrino-nucleus scattering", HNPS proceedings (full paper:
  Phys. Rev. D 97, 033003 (2018), arXiv:1711.09773): COHERENT CsI 2017, weak mixing angle, vector and
  tensor NSI, magnetic moment, charge radius, 3+1 sterile, light mediators.
* ``"canas"``: B.C. Canas et al., ICHEP2020 proceeding (full analysis arXiv:1911.09831): CONUS / CONNIE
  NSI projections and the (R_n, eps_ee^dV) plane.

Modules: :mod:`~cevns.papers.registry` (papers and figures.toml), :mod:`~cevns.papers.grids` (grid
scaling), :mod:`~cevns.papers.results` (in-memory scan results), :mod:`~cevns.papers.tables` (bounds
tables), :mod:`~cevns.papers.composers` (figures), :mod:`~cevns.papers.run` (orchestration, resume),
:mod:`~cevns.papers.index_html` (index.html).
"""

from __future__ import annotations

from .composers import COMPOSERS, compose_figure
from .grids import QUICK_SCALE, scaled_analysis
from .index_html import write_index
from .registry import PAPERS, Paper, analysis_files, load_paper
from .results import ScanOutput
from .run import reproduce, run_paper, scans_folder_name
from .tables import bounds_rows, write_tables

__all__ = ["PAPERS", "Paper", "QUICK_SCALE", "COMPOSERS", "ScanOutput", "analysis_files", "load_paper",
           "scaled_analysis", "bounds_rows", "write_tables", "compose_figure", "run_paper", "reproduce",
           "scans_folder_name", "write_index"]
