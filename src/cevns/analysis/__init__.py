"""Analysis files: load and validate, resolve, run the scans and write the results."""

from .core import *  # noqa: F401,F403
from .core import __all__  # noqa: F401
