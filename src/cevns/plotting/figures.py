"""Figure objects without pyplot: the backend of an interactive session is never touched.

Every figure of the package is a :class:`matplotlib.figure.Figure` with its own Agg canvas, so saving
works in any environment (no display needed) and nothing is registered with pyplot's global figure
manager (nothing to close, no memory kept after the figure goes out of scope).
"""

from __future__ import annotations

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = ["new_figure"]


def new_figure(figsize: tuple[float, float] = (6.4, 4.8), **kw) -> Figure:
    """A new :class:`~matplotlib.figure.Figure` (size in inches) attached to its own Agg canvas.

    ``kw`` are passed to ``Figure`` (e.g. ``layout="constrained"``).

    Parameters
    ----------
    figsize : tuple of float, optional
        (width, height) [inches].
    **kw
        Passed to ``Figure``.
    """
    fig = Figure(figsize=figsize, **kw)
    FigureCanvasAgg(fig)
    return fig
