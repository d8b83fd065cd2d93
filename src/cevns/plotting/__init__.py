"""Figures: spectra, 1D profiles, 2D regions and exclusion curves (explicit ``Figure`` objects, no pyplot)."""

from .figures import new_figure
from .spectrum import plot_spectrum

__all__ = ["new_figure", "plot_spectrum"]
