"""The package's layering: each layer imports only those below it (import-linter contract in pyproject.toml),
and no module imports inside functions except optional dependencies."""

from __future__ import annotations

import ast
from pathlib import Path

import cevns

PACKAGE = Path(cevns.__file__).resolve().parent
#: Imports allowed inside functions: optional dependencies only (not installed by a plain ``pip install .``).
OPTIONAL = {"dask", "distributed", "h5py", "hepdata_lib", "hepdata_validator"}


def test_import_linter_contracts_are_kept():
    from importlinter.cli import lint_imports

    config = Path(__file__).resolve().parents[1] / "pyproject.toml"
    assert config.exists(), "the contracts live in the project's pyproject.toml"
    assert lint_imports(config_filename=str(config)) == 0


def _function_imports(path: Path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if path == PACKAGE / "__init__.py" and getattr(node, "name", "") == "__getattr__":
            continue  # the top-level package's lazy attributes: ``import cevns.errors`` stays light (PEP 562)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for sub in ast.walk(node):
                if isinstance(sub, ast.Import):
                    for alias in sub.names:
                        yield sub.lineno, alias.name
                elif isinstance(sub, ast.ImportFrom):
                    yield sub.lineno, ("." * sub.level) + (sub.module or "")


def test_no_imports_inside_functions_except_optional_dependencies():
    bad = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for line, name in _function_imports(path):
            if name.split(".")[0] not in OPTIONAL:
                bad.append(f"{path.relative_to(PACKAGE)}:{line}: {name}")
    assert not bad, "imports inside functions:\n" + "\n".join(bad)
