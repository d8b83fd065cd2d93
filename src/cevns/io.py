"""File output that never leaves a half-written file, and output folders that two runs cannot share.

* :func:`atomic_path` / :func:`write_text` / :func:`write_json` / :func:`save_figure`: write to a
  temporary file ``.cevns-tmp.<name>.<random><suffix>`` in the target folder, then rename it onto the
  target. On any exception, ``KeyboardInterrupt`` included, the temporary file is removed; files left by
  a killed process are removed by :func:`remove_stale_temp_files` on the next run. Output files get the
  permissions of a normally created file (``0o666`` minus the process umask), not ``tempfile``'s 0600.
* :func:`prepare_out_dir`: check (and create) an output folder before any work, with one clear
  :class:`~cevns.errors.OutputError` per problem.
* :func:`out_dir_lock`: an exclusive lock file ``.cevns.lock`` (holding the owner's pid) in an output
  folder, so that a second run into the same folder refuses instead of mixing files. The lock is an
  advisory ``flock`` where available (released by the kernel when its owner dies, so a stale lock file
  is simply taken over), else an exclusive-create file whose dead owner's pid is detected.
"""

from __future__ import annotations

import json
import math
import os
import secrets
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np

from .errors import OutputError

try:  # POSIX advisory locks; optional (not on Windows)
    import fcntl
except ImportError:  # pragma: no cover - non-POSIX platforms
    fcntl = None

#: Name prefix of the temporary files of :func:`atomic_path` (and of leftovers to remove).
TEMP_PREFIX = ".cevns-tmp."
#: Name of the lock file of :func:`out_dir_lock` inside an output folder.
LOCK_NAME = ".cevns.lock"

__all__ = ["TEMP_PREFIX", "LOCK_NAME", "current_umask", "atomic_path", "write_text", "write_json", "json_clean",
           "save_figure", "remove_stale_temp_files", "prepare_out_dir", "out_dir_lock"]


def current_umask() -> int:
    """The process umask (read without changing it where the OS allows)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # fallback: set and restore
    os.umask(mask)
    return mask


def _describe_os_error(exc: OSError) -> str:
    return exc.strerror or str(exc)


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` only if the block succeeds.

    The temporary file is created in the target folder (same file system, so the final
    ``os.replace`` is atomic) and removed on any exception, ``KeyboardInterrupt`` included. The final
    file has mode ``0o666 & ~umask``.

    Raises
    ------
    OutputError
        If the folder cannot be created or the file cannot be written (with the path and the reason).
    """
    path = Path(path)
    tmp = None
    try:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.parent / f"{TEMP_PREFIX}{path.stem}.{secrets.token_hex(4)}{path.suffix}"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.close(fd)
            os.chmod(tmp, 0o666 & ~current_umask())
        except OSError as exc:
            raise OutputError(f"cannot write {path}: {_describe_os_error(exc)}") from None
        try:
            yield tmp
            os.replace(tmp, path)
        except OSError as exc:
            raise OutputError(f"cannot write {path}: {_describe_os_error(exc)}") from None
    finally:
        if tmp is not None and os.path.lexists(tmp):
            try:
                os.unlink(tmp)
            except OSError:
                pass


def write_text(path: str | Path, text: str) -> None:
    """Atomically write a text file (UTF-8).

    Parameters
    ----------
    path : str or Path
        Destination (parent directories are created).
    text : str
        Content.
    """
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def json_clean(obj):
    """A JSON-serialisable copy of ``obj``: numpy scalars/arrays to Python, NaN and infinities to ``None``."""
    if isinstance(obj, dict):
        return {str(k): json_clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_clean(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return json_clean(obj.tolist())
    if isinstance(obj, (np.floating, float)):
        f = float(obj)
        return f if math.isfinite(f) else None
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


_clean = json_clean  # compatible alias (used by cevns.analysis)


def write_json(path: str | Path, obj) -> None:
    """Atomically write JSON (indented; NaN and infinities written as ``null``).

    Parameters
    ----------
    path : str or Path
        Destination (parent directories are created).
    obj : object
        JSON-serialisable data (numpy scalars and arrays allowed).
    """
    write_text(path, json.dumps(json_clean(obj), indent=2, allow_nan=False) + "\n")


def save_figure(fig, path: str | Path, **kw) -> None:
    """Atomically save a matplotlib figure (format from the suffix).

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure.
    path : str or Path
        Destination; the suffix (``.png``, ``.pdf``) selects the format.
    **kw
        Passed to ``Figure.savefig``.
    """
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=path.suffix.lstrip(".") or "png", **kw)


def remove_stale_temp_files(folder: str | Path) -> int:
    """Remove the temporary files (:data:`TEMP_PREFIX`) an interrupted or killed run left under ``folder``.

    Call it only while holding :func:`out_dir_lock` on ``folder`` (a running writer's temporary
    files look the same). Returns the number of files removed.
    """
    root = Path(folder)
    if not root.is_dir():
        return 0
    n = 0
    for p in root.rglob(f"{TEMP_PREFIX}*"):
        try:
            if p.is_file() or p.is_symlink():
                p.unlink()
                n += 1
        except OSError:
            pass
    return n


def prepare_out_dir(path: str | Path, create: bool = True) -> Path:
    """Check that ``path`` can be used as an output folder and create it; call before any work.

    Parameters
    ----------
    path : str or Path
    create : bool
        Create the folder (and its parents); ``False`` only checks.

    Returns
    -------
    Path
        The folder.

    Raises
    ------
    OutputError
        One line naming the problem: an empty path, ``path`` is a file, a parent of ``path`` is a
        file, or the folder (or the nearest existing parent) is not writable or cannot be created.
    """
    if path is None or str(path).strip() == "":
        raise OutputError("the output folder (--out) is empty; give a folder name")
    p = Path(path).expanduser()
    if p.exists() and not p.is_dir():
        raise OutputError(f"output folder {p} is a file, not a folder; choose another --out")
    existing = p
    while not existing.exists() and existing != existing.parent:
        if existing.is_symlink():
            raise OutputError(f"cannot create output folder {p}: {existing} is a broken symbolic link")
        existing = existing.parent
    if not existing.is_dir():
        raise OutputError(f"cannot create output folder {p}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        if existing == p:
            raise OutputError(f"output folder {p} is not writable")
        raise OutputError(f"cannot create output folder {p}: {existing} is not writable")
    if not create:
        return p
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create output folder {p}: {_describe_os_error(exc)}") from None
    return p


def _read_pid(path: Path) -> int | None:
    try:
        text = path.read_text().split()
        return int(text[0]) if text else None
    except (OSError, ValueError):
        return None


def _pid_alive(pid: int | None) -> bool:
    if pid is None or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def _busy(folder: Path, pid: int | None) -> OutputError:
    who = f"pid {pid}" if pid is not None else "another process"
    return OutputError(f"output folder {folder} is in use by another cevns run ({who}, lock file "
                       f"{folder / LOCK_NAME}); wait for it to finish or choose another --out")


def _lock_flock(folder: Path, lock: Path):
    for _ in range(100):
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666 & ~current_umask())
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise _busy(folder, _read_pid(lock)) from None
        except OSError:  # file system without flock support: fall back to the pid file
            os.close(fd)
            return None
        try:  # the file we locked must still be the lock file (its owner may have just removed it)
            same = os.stat(lock).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if not same:
            os.close(fd)
            continue
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        return fd
    raise _busy(folder, _read_pid(lock))


def _lock_pidfile(folder: Path, lock: Path) -> int:
    for _ in range(100):
        try:
            fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666 & ~current_umask())
        except FileExistsError:
            pid = _read_pid(lock)
            if _pid_alive(pid):  # includes this process holding it already
                raise _busy(folder, pid) from None
            try:  # stale: its owner is gone
                lock.unlink()
            except FileNotFoundError:
                pass
            continue
        os.write(fd, f"{os.getpid()}\n".encode())
        return fd
    raise _busy(folder, _read_pid(lock))


@contextmanager
def out_dir_lock(path: str | Path) -> Iterator[Path]:
    """Hold an exclusive lock on an output folder for the duration of the block.

    A second holder (another process, or the same process twice) gets an :class:`OutputError`
    naming the pid recorded in the lock file. A lock file left by a process that died is taken over.
    The lock file is removed when the block ends (normally or by an exception).

    Yields
    ------
    Path
        The lock file ``path/.cevns.lock``.
    """
    folder = Path(path)
    lock = folder / LOCK_NAME
    try:
        fd = _lock_flock(folder, lock) if fcntl is not None else None
        if fd is None:
            fd = _lock_pidfile(folder, lock)
    except OutputError:
        raise
    except OSError as exc:
        raise OutputError(f"cannot lock output folder {folder}: {_describe_os_error(exc)}") from None
    try:
        yield lock
    finally:
        try:
            lock.unlink()
        except OSError:
            pass
        os.close(fd)
