"""Finding, reading and merging experiment files; turning schema errors into one line per problem."""

from __future__ import annotations

import copy
import os
import tomllib
from pathlib import Path
from typing import Any, Mapping

import numpy as np
from pydantic import BaseModel, ValidationError

from ..errors import ConfigError, UnknownExperimentError

__all__ = [
    "BUILTIN_DIR",
    "error_text",
    "builtin_experiments",
    "experiment_path",
    "format_validation_error",
    "list_experiments",
    "merge_overrides",
    "plain",
    "read_toml",
]

BUILTIN_DIR = Path(__file__).resolve().parent

#: Clearer wording of pydantic's messages, by error type.
_MESSAGES = {
    "float_type": "expected a number",
    "float_parsing": "expected a number",
    "finite_number": "expected a finite number (inf and nan are not allowed here)",
    "int_type": "expected a whole number",
    "int_from_float": "expected a whole number",
    "bool_type": "expected true or false",
    "string_type": "expected a text string",
    "extra_forbidden": "unknown key (not part of the experiment schema; check the spelling)",
    "missing": "required key is missing",
    "dict_type": "expected a table",
    "model_type": "expected a table",
    "list_type": "expected a list",
    "tuple_type": "expected a list",
}
_SOURCE_KINDS = ("spallation", "reactor", "tabulated")


def builtin_experiments() -> dict[str, Path]:
    """Built-in experiments: name -> path of its ``experiment.toml`` (sorted by name)."""
    out = {}
    for p in sorted(BUILTIN_DIR.iterdir()):
        f = p / "experiment.toml"
        if p.is_dir() and f.exists():
            out[p.name.replace("_", "-")] = f
    return out


def read_toml(path: Path) -> dict:
    """Parse a TOML file, raising :class:`ConfigError` with the file name on any problem.

    Parameters
    ----------
    path : pathlib.Path
        The TOML file.

    Returns
    -------
    dict
    """
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: malformed TOML: {exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a UTF-8 text file") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder, not a TOML file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None


def list_experiments() -> list[dict]:
    """Built-in experiments: ``[{"name", "title", "references", "path"}]``."""
    rows = []
    for name, path in builtin_experiments().items():
        raw = read_toml(path)
        rows.append({"name": raw.get("name", name), "title": raw.get("title", ""),
                     "references": raw.get("references", []), "path": str(path)})
    return rows


def experiment_path(name_or_path: str | os.PathLike) -> Path:
    """Resolve a built-in experiment name or a path to an ``experiment.toml`` (or its folder).

    Parameters
    ----------
    name_or_path : str or os.PathLike
        Built-in experiment name, an ``experiment.toml`` path or its folder.

    Returns
    -------
    pathlib.Path
        The experiment file.

    Raises
    ------
    UnknownExperimentError
        For anything that is not a string or path, an unknown name, a missing file, a folder without
        ``experiment.toml`` or a file that is not ``.toml``.
    """
    if isinstance(name_or_path, bytes) or not isinstance(name_or_path, (str, os.PathLike)):
        raise UnknownExperimentError(
            f"an experiment is a built-in name or a path to an experiment .toml file, got {name_or_path!r} "
            f"({type(name_or_path).__name__})")
    folders = builtin_experiments()
    key = os.fspath(name_or_path)
    if not isinstance(key, str):
        raise UnknownExperimentError(f"an experiment path must be text, got {key!r}")
    if key in folders:
        return folders[key]
    hint = f"built-in experiments: {', '.join(folders)} (or give a path to a .toml file)"
    if not key.strip():
        raise UnknownExperimentError(f"empty experiment name; {hint}")
    p = Path(key)
    if p.is_dir():
        if (p / "experiment.toml").is_file():
            return p / "experiment.toml"
        raise UnknownExperimentError(f"folder {key!r} has no experiment.toml")
    if p.exists() and p.suffix != ".toml":
        raise UnknownExperimentError(f"{key!r} is not an experiment file (expected a .toml file)")
    if p.suffix == ".toml":
        if p.is_file():
            return p
        raise UnknownExperimentError(f"experiment file {key!r} not found")
    raise UnknownExperimentError(f"unknown experiment {key!r}; {hint}")


def plain(value: Any, where: str = "overrides") -> Any:
    """A copy of a nested mapping with numpy scalars/arrays as Python numbers/lists.

    Raises :class:`ConfigError` for a non-string key (naming where it is).

    Parameters
    ----------
    value : object
        Nested mappings, lists, tuples and numpy values.
    where : str, optional
        Location of ``value`` for messages.

    Returns
    -------
    object
    """
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise ConfigError(f"{where}: keys must be strings, got {k!r} ({type(k).__name__})")
            out[k] = plain(v, f"{where}.{k}")
        return out
    if isinstance(value, np.ndarray):
        return [plain(v, where) for v in value.tolist()]
    if isinstance(value, (list, tuple)):
        return [plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def merge_overrides(base: dict, overrides: Mapping | None) -> dict:
    """Merge nested ``overrides`` into a deep copy of ``base``.

    Tables merge key by key and other values replace, except: ``None`` removes a key; a different
    ``model`` (quenching, smearing, efficiency) or ``kind`` (source, background) replaces the whole
    table (the old model's parameters would not apply); giving ``edges`` removes ``start``/``stop``/
    ``width`` and vice versa.

    Raises :class:`ConfigError` if ``overrides`` is not a mapping with string keys.
    """
    out = copy.deepcopy(base)
    if overrides is None:
        return out
    if not isinstance(overrides, Mapping):
        raise ConfigError(f"overrides must be a mapping (nested dict), got {type(overrides).__name__}")
    return _merge(out, plain(overrides))


#: Keys of one table that exclude each other: overriding one group removes the other.
_EXCLUSIVE = (frozenset({"edges"}), frozenset({"start", "stop", "width"}))
#: Keys that select a model; overriding them with another value replaces the whole table.
_SELECTORS = ("model", "kind")


def _merge(base: dict, upd: Mapping) -> dict:
    """Nested update; ``None`` removes a key; a new model/kind or the other bin form replaces."""
    for k, v in upd.items():
        if v is None:
            base.pop(k, None)
        elif isinstance(v, Mapping) and isinstance(base.get(k), dict):
            b = base[k]
            if any(s in v and s in b and v[s] != b[s] for s in _SELECTORS):
                b = base[k] = {}
            for group in _EXCLUSIVE:
                if group & v.keys():
                    for other in _EXCLUSIVE:
                        if other is not group:
                            for o in other:
                                b.pop(o, None)
            _merge(b, v)
        elif isinstance(v, Mapping):
            base[k] = _merge({}, v)
        else:
            base[k] = copy.deepcopy(v)
    return base


def _location(loc) -> str:
    parts: list[str] = []
    for i, x in enumerate(loc):
        s = str(x)
        if s.startswith("function-") or (i > 0 and loc[i - 1] == "source" and s in _SOURCE_KINDS):
            continue
        if "[" in s or s.startswith("literal"):  # union branch labels of pydantic
            continue
        if isinstance(x, int):
            parts.append(f"[{x}]")
        elif s == "[key]":
            parts.append(" (key)")
        else:
            parts.append(("." if parts else "") + s)
    return "".join(parts) or "(top level)"


def error_text(e: dict) -> str:
    """One pydantic error (an item of ``ValidationError.errors()``) as ``message (got value)``.

    Parameters
    ----------
    e : dict
        One entry of ``ValidationError.errors()``.

    Returns
    -------
    str
    """
    kind = e["type"]
    ctx = e.get("ctx") or {}
    if kind == "union_tag_invalid":
        msg = f"unknown {ctx.get('discriminator', 'kind')} {ctx.get('tag')!r}; expected one of {ctx.get('expected_tags')}"
    elif kind == "union_tag_not_found":
        msg = f"required key {ctx.get('discriminator', 'kind')} is missing"
    else:
        msg = _MESSAGES.get(kind, e["msg"].removeprefix("Value error, "))
        msg = msg.replace("Input should be", "expected" if kind in ("literal_error", "enum") else "must be")
    got = e.get("input")
    if kind not in ("missing", "union_tag_not_found", "union_tag_invalid") and not isinstance(got, (dict, BaseModel)) \
            and len(repr(got)) < 80:
        msg += f" (got {_toml_repr(got)})"
    return msg


def format_validation_error(path, err: ValidationError) -> str:
    """One line per problem: ``file: key.path: message (got value)``.

    Parameters
    ----------
    path : str or pathlib.Path
        The file (or label) the error is about.
    err : pydantic.ValidationError
        The validation error.

    Returns
    -------
    str
        Unique lines, in order.
    """
    lines = [f"{path}: {_location(e['loc'])}: {error_text(e)}" for e in err.errors()]
    return "\n".join(dict.fromkeys(lines))


def _toml_repr(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v != v:
        return "nan"
    if isinstance(v, float) and v in (float("inf"), float("-inf")):
        return "inf" if v > 0 else "-inf"
    return repr(v)
