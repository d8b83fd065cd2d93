"""Figures: spectra, 1D profiles, 2D regions and exclusion curves."""

from .spectrum import plot_spectrum

__all__ = ["plot_spectrum"]
