"""Helpers shared by the ``cevns`` commands: ``--set`` and ``--max-memory`` parsing, the settings table,
a rich console that does not wrap piped output, and Ctrl-C handling of long runs."""

from __future__ import annotations

import inspect
import math
import re
import sys
import typing
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, List, Optional

import typer
from pydantic import ValidationError
from rich.console import Console

from ..errors import CommandLineError, ParameterError
from ..physics.parameters import spec_for
from ..physics.settings import DEFAULT_SHAPE_FM, SETTING_NAMES, PhysicsSettings

#: Where the formulas, units and sources of every setting and parameter are documented.
PHYSICS_DOC = "docs/physics.md"
#: Exit code of a run stopped by Ctrl-C (128 + SIGINT).
EXIT_INTERRUPTED = 130


def console(stderr: bool = False) -> Console:
    """A rich console; when the output is not a terminal (a pipe or a file) lines are never wrapped.

    Parameters
    ----------
    stderr : bool, optional
        Write to standard error instead of standard output.
    """
    stream = sys.stderr if stderr else sys.stdout
    tty = bool(getattr(stream, "isatty", lambda: False)())
    if tty:
        return Console(file=stream, stderr=stderr)
    return Console(file=stream, stderr=stderr, width=10_000, soft_wrap=True, no_color=True, highlight=False)


def warn(message: str) -> None:
    """Print one ``warning: ...`` line on stderr.

    Parameters
    ----------
    message : str
        Text after ``warning:``.
    """
    typer.echo(f"warning: {message}", err=True)


# ----------------------------------------------------------------------------- physics settings
def _settings_descriptions() -> dict[str, str]:
    """``name -> description`` from the Attributes section of :class:`PhysicsSettings`' docstring."""
    doc = inspect.getdoc(PhysicsSettings) or ""
    out: dict[str, str] = {}
    current = None
    for line in doc.splitlines():
        m = re.match(r"^(\w+) : (.*)$", line)
        if m and m.group(1) in SETTING_NAMES:
            current = m.group(1)
            out[current] = m.group(2).strip()
        elif current and line.startswith("    "):
            out[current] += " " + line.strip()
        else:
            current = None
    return out


def _allowed(annotation, field) -> tuple[list | None, str]:
    """(list of allowed values or None, human-readable description) of one settings field."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is typing.Literal:
        return list(args), ", ".join(str(a) for a in args)
    if annotation is bool:
        return [True, False], "true, false"
    optional = type(None) in args
    base = next((a for a in args if a is not type(None)), annotation)
    bounds = []
    for m in getattr(field, "metadata", []):
        for attr, op in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
            v = getattr(m, attr, None)
            if v is not None:
                bounds.append(f"{op} {v:g}")
    text = "a finite number" if base is float else getattr(base, "__name__", str(base))
    if bounds:
        text += " " + " and ".join(bounds)
    if optional:
        text += " or none (the model's default)"
    return None, text


def settings_table() -> list[dict]:
    """Every physics setting: ``name``, ``default``, ``allowed`` (list or None), ``values`` (text), ``description``."""
    desc = _settings_descriptions()
    rows = []
    for name, f in PhysicsSettings.model_fields.items():
        allowed, text = _allowed(f.annotation, f)
        default = f.default
        if name == "form_factor_shape_fm":
            text += " (" + ", ".join(f"{k} {v:g}" for k, v in DEFAULT_SHAPE_FM.items()) + ")"
        rows.append({"name": name, "default": default, "allowed": allowed, "values": text,
                     "description": desc.get(name, "")})
    return rows


def _setting_value(name: str, text: str):
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null", "default"):
        return None
    try:
        v = float(text)
    except ValueError:
        return text
    return v


def parse_sets(items: Optional[List[str]]) -> tuple[dict, dict]:
    """Split ``--set NAME=VALUE`` items into (physics parameters, physics settings), each value checked.

    Raises
    ------
    ParameterError
        Not ``NAME=VALUE``, a name given twice, an unknown name, a parameter that is not a finite number
        in its domain, or a setting value that is not allowed (the allowed values are named).
    """
    params, settings = {}, {}
    for item in items or []:
        if "=" not in item:
            raise ParameterError(f"--set expects NAME=VALUE, got {item!r}")
        name, value = (s.strip() for s in item.split("=", 1))
        if not name:
            raise ParameterError(f"--set {item!r}: the name before '=' is empty")
        if not value:
            raise ParameterError(f"--set {item!r}: the value after '=' is empty")
        if name in params or name in settings:
            raise ParameterError(f"--set {name} is given twice")
        if name in SETTING_NAMES:
            v = _setting_value(name, value)
            try:
                if isinstance(v, float) and not math.isfinite(v):
                    raise ValueError(v)
                PhysicsSettings.model_validate({name: v})
            except (ValidationError, ValueError):
                row = next(r for r in settings_table() if r["name"] == name)
                raise ParameterError(f"--set {name}={value}: not an allowed value; allowed: {row['values']}") from None
            settings[name] = v
            continue
        spec = spec_for(name)
        try:
            x = float(value)
        except ValueError:
            raise ParameterError(f"parameter {name!r} needs a number, got {value!r}") from None
        spec.check(x)
        params[name] = x
    return params, settings


def describe_inputs(items: Optional[List[str]]) -> str:
    """The ``--set`` items as ``a=1, b=2`` (or a note that the file's defaults were used)."""
    if not items:
        return "the experiment file's defaults (no --set)"
    return ", ".join(s.strip() for s in items)


# ----------------------------------------------------------------------------- sizes and runs
_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9, "gb": 10**9,
          "t": 10**12, "tb": 10**12, "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


def parse_memory(text: str) -> int:
    """A memory size such as ``4GB``, ``512MiB``, ``1.5e9`` -> bytes (GB = 1e9 B, GiB = 2^30 B).

    Raises
    ------
    CommandLineError
        If the text is not a positive finite size with a known unit.
    """
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([A-Za-z]*)\s*", str(text))
    unit = m.group(2).lower() if m else ""
    if not m or unit not in _UNITS:
        raise CommandLineError(f"--max-memory: expected a size such as 4GB, 512MB or 2GiB, got {text!r}")
    value = float(m.group(1)) * _UNITS[unit]
    if not math.isfinite(value) or value < 1:
        raise CommandLineError(f"--max-memory: the size must be positive and finite, got {text!r}")
    return int(value)


def accepted_kwargs(func, **kwargs) -> tuple[dict, list[str]]:
    """Split ``kwargs`` (``None`` values dropped) into those ``func`` accepts and the names it does not."""
    params = inspect.signature(func).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    ok, missing = {}, []
    for k, v in kwargs.items():
        if v is None:
            continue
        if takes_any or k in params:
            ok[k] = v
        else:
            missing.append(k)
    return ok, missing


def count_partial_chunks(out: Path) -> int:
    """Number of saved chunk files under every ``.partial`` folder of ``out``."""
    n = 0
    for d in Path(out).rglob(".partial"):
        if d.is_dir():
            n += sum(1 for p in d.rglob("*") if p.is_file() and not p.name.startswith("."))
    return n


class RunInterrupted(Exception):
    """Ctrl-C during a long run; the message says what was kept (the CLI prints it and exits with 130).

    Not a ``KeyboardInterrupt`` subclass, so that click/typer pass it through unchanged."""


@contextmanager
def interrupt_note(out: Path, what: str) -> Iterator[None]:
    """On Ctrl-C inside the block: raise :class:`RunInterrupted` saying what was kept in ``out``."""
    try:
        yield
    except KeyboardInterrupt:
        n = count_partial_chunks(out)
        kept = f"{n} finished chunk{'s' if n != 1 else ''} kept in {out}" if n else f"nothing half-written in {out}"
        raise RunInterrupted(f"interrupted: {kept}; {what}") from None
