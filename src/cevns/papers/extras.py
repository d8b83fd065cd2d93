"""Paper-specific computations that are not grid scans, run after a paper's analysis files.

``PAPER_EXTRAS[key](folder, log=None)`` returns ``{"results": {...}, "figures": [...]}``: the results are
merged into the paper's ``results.json``, the figures (``{"stem", "title", "caption", "files"}``) listed with
the composed ones.
"""

from __future__ import annotations

from typing import Callable

from .xenonnt_8b.headline import reproduce_headline

__all__ = ["PAPER_EXTRAS"]

#: Paper key -> extra computation.
PAPER_EXTRAS: dict[str, Callable] = {"xenonnt-8b": reproduce_headline}
