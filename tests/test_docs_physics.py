"""docs/physics.md must not drift from the code and the test suite.

* every ``tests/<file>.py::<test>`` the page cites exists (the file, and a ``def <test>(`` in it);
* every ``src/cevns/...`` path it cites exists;
* every physics parameter and every physics setting (with each allowed value) is documented.
"""

import re
from pathlib import Path
from typing import get_args

import pytest

from cevns.physics.parameters import PARAMETERS
from cevns.physics.settings import PhysicsSettings

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "physics.md"
TEST_REF = re.compile(r"\btests/((?:[\w-]+/)*test_\w+\.py)::(\w+)")
SRC_REF = re.compile(r"\bsrc/cevns/[\w/.-]*\w")
#: The package's own parameters, taken at collection time (before any test registers a toy model).
BUILTIN_PARAMETERS = tuple(PARAMETERS)


def _doc() -> str:
    return DOC.read_text(encoding="utf-8")


def _test_refs() -> list[tuple[str, str]]:
    return sorted(set(TEST_REF.findall(_doc())))


def test_doc_cites_many_tests():
    # guards the parser itself: a format change of the page must not make the checks below vacuous
    refs = _test_refs()
    assert len(refs) >= 80, f"only {len(refs)} test references found in {DOC}"
    assert len({f for f, _ in refs}) >= 15


@pytest.mark.parametrize("path, name", _test_refs())
def test_cited_test_exists(path, name):
    file = ROOT / "tests" / path
    assert file.is_file(), f"docs/physics.md cites tests/{path}, which does not exist"
    text = file.read_text(encoding="utf-8")
    assert re.search(rf"^\s*def {name}\(", text, re.MULTILINE), (
        f"docs/physics.md cites tests/{path}::{name}, but tests/{path} defines no function {name}")


def test_cited_source_paths_exist():
    missing = sorted({p for p in SRC_REF.findall(_doc()) if not (ROOT / p).exists()})
    assert not missing, f"docs/physics.md cites source paths that do not exist: {missing}"


def test_every_parameter_is_documented():
    doc = _doc()
    missing = []
    for name in BUILTIN_PARAMETERS:
        if name.startswith("eps_"):
            kind = name[-1]  # V or T
            if f"eps_<ab>_<q>{kind}" not in doc:
                missing.append(f"eps_<ab>_<q>{kind}")
        elif f"`{name}`" not in doc:
            missing.append(name)
    assert not missing, f"parameters missing from docs/physics.md: {sorted(set(missing))}"


def test_every_setting_and_value_is_documented():
    doc = _doc()
    missing = []
    for name, field in PhysicsSettings.model_fields.items():
        if f"`{name}`" not in doc:
            missing.append(name)
        for value in get_args(field.annotation):
            if isinstance(value, str) and f"`{value}`" not in doc:
                missing.append(f"{name}={value}")
    assert not missing, f"settings missing from docs/physics.md: {missing}"


def test_seed_citation_is_not_misattributed():
    # arXiv:1806.07424 is Aristizabal Sierra et al.; the seed is Papoulias & Kosmas, arXiv:1711.09773
    doc = _doc()
    assert "1711.09773" in doc
    for m in re.finditer(r"1806\.07424", doc):
        context = doc[max(0, m.start() - 200): m.end() + 200]
        assert "Aristizabal" in context, f"arXiv:1806.07424 cited without naming its authors: {context!r}"
