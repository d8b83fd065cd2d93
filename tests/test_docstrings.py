"""Every public function, class and method of the package has a numpydoc docstring.

Walks every module of ``cevns`` (``pkgutil.walk_packages``) and, for each public object *defined in that
module* (name without a leading underscore; functions, classes and the public methods/properties of those
classes), checks:

* a docstring exists;
* a callable with parameters (other than ``self``/``cls``/``*args``/``**kwargs``) names every one of them in
  its docstring: in a numpydoc ``Parameters`` section (``x, y : float`` entries count for both), or in the
  prose of a short docstring (a class may document its constructor arguments in the class docstring, its
  ``__init__`` docstring or an ``Attributes`` section);
* in the physics-computing packages (``cevns.physics``, ``cevns.sources``, ``cevns.detectors``,
  ``cevns.engine``), a function whose name or one of whose parameters ends in a unit suffix (``_mev``,
  ``_kev``, ``_fm``, ``_cm2``, ...) names a unit in its docstring (a unit token such as MeV, keV, fm, cm, s,
  us, or ``dimensionless``/``unitless``);
* in the modules that hold formulas (``FORMULA_MODULES``), every public function cites where its formula
  comes from (an arXiv id, ``PHYSICS.md``, a paper and year, or a cross-reference to the function or module
  docstring that does).

Known offenders in packages other sessions are editing are listed in
``tests/data/docstring_allowlist.txt`` (one qualified name per line, ``#`` comments); anything not listed there
is held to the rule, and an allow-list entry that no longer fails is reported so the list only shrinks.
The failure message prints the full list.
"""

import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import cevns

ALLOWLIST_FILE = Path(__file__).parent / "data" / "docstring_allowlist.txt"
MODULES = sorted(m.name for m in pkgutil.walk_packages(cevns.__path__, prefix="cevns.")
                 if not m.name.endswith("__main__"))
PHYSICS_PACKAGES = ("cevns.physics", "cevns.sources", "cevns.detectors", "cevns.engine")
UNIT_SUFFIX = re.compile(r"_(mev|kev|gev|ev|kevnr|kevee|mevnr|mevee|fm|cm2|cm3|cm|m|s|us|ns|kg|ev2|mev2|gev2|deg|bohr)$")
UNIT_TOKEN = re.compile(r"\b(MeV|keV|GeV|eV|keVnr|keVee|MeVee|MeVnr|PE|degrees?|Bohr|fm|cm|cm\^?2|cm²|m|s|us|µs|μs|ns|kg|ton|tonne|day|year|"
                        r"GeV\^-?2|dimensionless|unitless)\b")
SKIP_PARAMS = {"self", "cls"}
#: Modules that hold formulas: every public function there cites where its formula comes from.
FORMULA_MODULES = ("cevns.physics.kinematics", "cevns.physics.cross_sections", "cevns.physics.form_factors",
                   "cevns.physics.couplings", "cevns.physics.oscillation", "cevns.sources.spallation",
                   "cevns.sources.solar", "cevns.detectors.csi_2021")
REFERENCE = re.compile(r"arXiv|hep-ph/|PHYSICS\.md|et al\.|\b(19|20)\d\d\b|Eq\.|:func:|:data:|:mod:|:class:|"
                       r":meth:|module docstring")


def _read_allowlist():
    entries = set()
    for line in ALLOWLIST_FILE.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            entries.add(line.split(":", 1)[0].strip())
    return entries


def _parameter_names(obj):
    """Named parameters of a callable, without self/cls/*args/**kwargs."""
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        return []
    return [p.name for p in signature.parameters.values()
            if p.name not in SKIP_PARAMS
            and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)]


def _documented_parameters(obj, doc, extra_doc=""):
    """Names of ``obj``'s parameters that its docstring (or ``extra_doc``) never mentions."""
    names = _parameter_names(obj)
    text = doc + "\n" + extra_doc
    return [n for n in names if not re.search(rf"\b{re.escape(n)}\b", text)]


def _problems_for_callable(qualname, obj, module_name, extra_doc=""):
    doc = inspect.getdoc(obj) or ""
    problems = []
    if not doc.strip():
        return [f"{qualname}: no docstring"]
    missing = _documented_parameters(obj, doc, extra_doc)
    if missing:
        problems.append(f"{qualname}: parameters not documented: {', '.join(missing)}")
    is_module_function = qualname.count(".") == module_name.count(".") + 1
    if module_name in FORMULA_MODULES and is_module_function and not REFERENCE.search(doc):
        problems.append(f"{qualname}: a formula module's function cites no reference (arXiv, PHYSICS.md, ...)")
    short = qualname.rsplit(".", 1)[-1]
    if module_name.startswith(PHYSICS_PACKAGES) and not UNIT_TOKEN.search(doc):
        if UNIT_SUFFIX.search(short):
            problems.append(f"{qualname}: name has a unit suffix but the docstring names no unit")
        elif any(UNIT_SUFFIX.search(p) for p in _parameter_names(obj)):
            problems.append(f"{qualname}: parameters carry units but the docstring names no unit")
    return problems


def _own_members(cls):
    for name, value in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(value, property):
            yield name, value.fget, True
        elif isinstance(value, (staticmethod, classmethod)):
            yield name, value.__func__, False
        elif inspect.isfunction(value):
            yield name, value, False


def _inherits_doc(cls, name):
    for base in cls.__mro__[1:]:
        member = base.__dict__.get(name)
        if member is not None and inspect.getdoc(member):
            return True
    return False


def _problems_in_module(module_name):
    module = importlib.import_module(module_name)
    problems = []
    if not (module.__doc__ or "").strip():
        problems.append(f"{module_name}: module has no docstring")
    for name, obj in vars(module).items():
        if name.startswith("_") or getattr(obj, "__module__", None) != module_name:
            continue
        qualname = f"{module_name}.{name}"
        if inspect.isclass(obj):
            class_doc = inspect.getdoc(obj) or ""
            if not class_doc.strip():
                problems.append(f"{qualname}: no docstring")
            init = obj.__dict__.get("__init__")
            init_doc = (inspect.getdoc(init) or "") if init is not None else ""
            if init is not None and inspect.isfunction(init) and class_doc.strip():
                missing = _documented_parameters(init, class_doc, init_doc)
                if missing:
                    problems.append(f"{qualname}: constructor parameters not documented: {', '.join(missing)}")
            for member_name, member, is_property in _own_members(obj):
                member_qualname = f"{qualname}.{member_name}"
                if not (inspect.getdoc(member) or "").strip() and _inherits_doc(obj, member_name):
                    continue  # an override of a documented base-class method
                if is_property:
                    if not (inspect.getdoc(member) or "").strip():
                        problems.append(f"{member_qualname}: no docstring")
                else:
                    problems.extend(_problems_for_callable(member_qualname, member, module_name))
        elif inspect.isfunction(obj):
            problems.extend(_problems_for_callable(qualname, obj, module_name))
    return problems


def _all_problems():
    problems = []
    for module_name in MODULES:
        problems.extend(_problems_in_module(module_name))
    return problems


def test_every_public_object_has_a_numpydoc_docstring():
    allowed = _read_allowlist()
    problems = _all_problems()
    failing = [p for p in problems if p.split(":", 1)[0] not in allowed]
    assert not failing, "Docstring problems (fix them; see tests/test_docstrings.py):\n" + "\n".join(failing)


def test_allowlist_only_lists_current_offenders():
    offenders = {p.split(":", 1)[0] for p in _all_problems()}
    stale = sorted(_read_allowlist() - offenders)
    assert not stale, ("These tests/data/docstring_allowlist.txt entries are now documented; "
                       "delete them:\n" + "\n".join(stale))


def test_check_catches_an_undocumented_function():
    """The checker must be able to fail: an undocumented function and an unnamed unit are reported."""
    def energy_mev(x):
        return x

    def documented(x):
        """Double ``x`` (dimensionless)."""
        return 2 * x

    assert _problems_for_callable("t.energy_mev", energy_mev, "cevns.physics.t") == ["t.energy_mev: no docstring"]
    energy_mev.__doc__ = "Return the input.\n\nParameters\n----------\ny : float\n    A value."
    assert _problems_for_callable("t.energy_mev", energy_mev, "cevns.physics.t") == [
        "t.energy_mev: parameters not documented: x",
        "t.energy_mev: name has a unit suffix but the docstring names no unit"]
    energy_mev.__doc__ = "Return x.\n\nParameters\n----------\nx : float\n    A value."
    assert _problems_for_callable("t.energy_mev", energy_mev, "cevns.physics.t") == [
        "t.energy_mev: name has a unit suffix but the docstring names no unit"]
    assert _problems_for_callable("t.documented", documented, "cevns.physics.t") == []
    documented.__doc__ = "Double a number."
    assert _problems_for_callable("t.documented", documented, "cevns.physics.t") == [
        "t.documented: parameters not documented: x"]


def test_check_catches_a_unitless_docstring_of_a_unit_parameter():
    def yield_at(t_kevnr):
        """Light yield at ``t_kevnr``."""
        return t_kevnr

    assert _problems_for_callable("t.yield_at", yield_at, "cevns.detectors.t") == [
        "t.yield_at: parameters carry units but the docstring names no unit"]
    assert _problems_for_callable("t.yield_at", yield_at, "cevns.stats.t") == []  # checked in physics packages only
    yield_at.__doc__ = "Light yield at the recoil energy ``t_kevnr`` [keVnr]."
    assert _problems_for_callable("t.yield_at", yield_at, "cevns.detectors.t") == []


def test_check_catches_a_formula_without_reference():
    def rate(x):
        """Rate ``2 x`` (dimensionless)."""
        return 2 * x

    assert _problems_for_callable("cevns.physics.kinematics.rate", rate, "cevns.physics.kinematics") == [
        "cevns.physics.kinematics.rate: a formula module's function cites no reference (arXiv, PHYSICS.md, ...)"]
    rate.__doc__ = "Rate ``2 x`` (dimensionless; PHYSICS.md section 1)."
    assert _problems_for_callable("cevns.physics.kinematics.rate", rate, "cevns.physics.kinematics") == []
