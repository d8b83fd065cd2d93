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


#: Key public functions whose docstrings must keep a runnable, checked example.
KEY_EXAMPLES = [
    "cevns.physics.kinematics.t_max_mev", "cevns.physics.kinematics.e_min_mev",
    "cevns.physics.kinematics.momentum_transfer_mev", "cevns.physics.form_factors.helm",
    "cevns.physics.form_factors.form_factor", "cevns.physics.couplings.sm_vector_couplings",
    "cevns.physics.couplings.charge_radius_shift", "cevns.physics.couplings.nsi_charges",
    "cevns.physics.nuclei.element_isotopes", "cevns.physics.nuclei.target_nuclei",
    "cevns.physics.cross_sections.dsigma_dt_vector",
    "cevns.physics.cross_sections.total_cross_section_unity_ff_cm2",
    "cevns.sources.spallation.michel_nu_e_pdf", "cevns.sources.spallation.fluence_per_flavor_cm2",
    "cevns.sources.spallation.spallation_flux", "cevns.engine.rates.RateEngine",
]


@pytest.mark.parametrize("qualname", KEY_EXAMPLES)
def test_key_functions_have_examples(qualname):
    module_name, name = qualname.rsplit(".", 1)
    obj = getattr(importlib.import_module(module_name), name)
    examples = doctest.DocTestParser().get_examples(obj.__doc__ or "")
    assert examples, f"{qualname}: the docstring lost its Examples section"
    assert any(e.want.strip() for e in examples), f"{qualname}: no example output is checked"
