"""Examples in docstrings (``>>>`` lines) are run as doctests, for every module of the package.

Equivalent to ``pytest --doctest-modules src/cevns`` but part of the normal test run (it costs only the
imports). Output comparison uses ELLIPSIS and NORMALIZE_WHITESPACE, so an example may end a long float
with ``...``.
"""

import doctest
import importlib
import pkgutil

import pytest

import cevns

MODULES = sorted(m.name for m in pkgutil.walk_packages(cevns.__path__, prefix="cevns.")
                 if not m.name.endswith("__main__"))
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    for test in finder.find(module, name):
        if test.examples:
            runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{name}: {result.failed} of {result.attempted} docstring examples failed"
