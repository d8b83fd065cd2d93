"""File output (cevns.io): atomic writes, permissions, leftovers, output-folder checks and the folder lock."""

import json
import os
import stat
import subprocess
import sys

import pytest

from cevns.errors import CevnsError, OutputError
from cevns.io import (LOCK_NAME, TEMP_PREFIX, atomic_path, out_dir_lock, prepare_out_dir, remove_stale_temp_files,
                      write_json, write_text)


def _mode(p):
    return stat.S_IMODE(os.stat(p).st_mode)


@pytest.mark.parametrize("umask", [0o022, 0o027, 0o002])
def test_written_files_follow_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        write_text(tmp_path / "a.txt", "x")
        write_json(tmp_path / "sub" / "b.json", {"v": 1.0})
    finally:
        os.umask(old)
    assert _mode(tmp_path / "a.txt") == 0o666 & ~umask
    assert _mode(tmp_path / "sub" / "b.json") == 0o666 & ~umask
    assert _mode(tmp_path / "sub") == 0o777 & ~umask


def test_json_has_no_nan(tmp_path):
    write_json(tmp_path / "r.json", {"a": float("nan"), "b": [float("inf"), 1.5]})
    assert json.loads((tmp_path / "r.json").read_text()) == {"a": None, "b": [None, 1.5]}


@pytest.mark.parametrize("exc", [KeyboardInterrupt, RuntimeError])
def test_interrupted_write_leaves_no_temp_file_and_keeps_the_old_file(tmp_path, exc):
    target = tmp_path / "results.json"
    target.write_text("old")
    with pytest.raises(exc):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            assert tmp.name.startswith(TEMP_PREFIX)
            raise exc()
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.json"]


def test_remove_stale_temp_files_removes_only_leftovers(tmp_path):
    (tmp_path / ".partial" / "s-abc").mkdir(parents=True)
    left = [tmp_path / f"{TEMP_PREFIX}results.1234.json", tmp_path / ".partial" / "s-abc" / f"{TEMP_PREFIX}chunk.npz"]
    keep = [tmp_path / "results.json", tmp_path / ".partial" / "s-abc" / "chunk-00000.npz", tmp_path / ".hidden"]
    for p in left + keep:
        p.write_text("x")
    assert remove_stale_temp_files(tmp_path) == 2
    assert not any(p.exists() for p in left) and all(p.exists() for p in keep)


def test_write_into_a_file_parent_is_an_output_error(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(OutputError, match="cannot write"):
        write_text(tmp_path / "f" / "a.txt", "x")


# ----------------------------------------------------------------------------- prepare_out_dir
def test_prepare_out_dir_creates_nested(tmp_path):
    p = prepare_out_dir(tmp_path / "a" / "b")
    assert p.is_dir()
    assert prepare_out_dir(p) == p  # an existing folder is fine


def test_prepare_out_dir_check_only_creates_nothing(tmp_path):
    assert prepare_out_dir(tmp_path / "a" / "b", create=False) == tmp_path / "a" / "b"
    assert list(tmp_path.iterdir()) == []


def test_prepare_out_dir_rejects_a_file(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(OutputError, match="is a file, not a folder"):
        prepare_out_dir(tmp_path / "f")


def test_prepare_out_dir_rejects_a_file_parent(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(OutputError, match=r"cannot create output folder .*f is a file"):
        prepare_out_dir(tmp_path / "f" / "sub" / "out")
    assert (tmp_path / "f").read_text() == "x"


def test_prepare_out_dir_rejects_an_unwritable_folder(tmp_path, monkeypatch):
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, m, *a, **k: False if str(p) == str(tmp_path) else real(p, m))
    with pytest.raises(OutputError, match="is not writable"):
        prepare_out_dir(tmp_path)
    with pytest.raises(OutputError, match="is not writable"):
        prepare_out_dir(tmp_path / "new")


@pytest.mark.skipif(not os.path.isdir("/sys/kernel"), reason="needs a read-only /sys")
def test_prepare_out_dir_reports_os_refusal():
    with pytest.raises(OutputError, match="cannot create output folder"):
        prepare_out_dir("/sys/cevns-test-out")


def test_prepare_out_dir_rejects_empty():
    with pytest.raises(OutputError, match="empty"):
        prepare_out_dir("")


def test_output_error_is_a_cevns_error():
    assert issubclass(OutputError, CevnsError)


# ----------------------------------------------------------------------------- out_dir_lock
def test_second_lock_refuses_and_names_the_pid(tmp_path):
    with out_dir_lock(tmp_path) as lock:
        assert lock.read_text().strip() == str(os.getpid())
        with pytest.raises(OutputError, match=f"in use by another cevns run \\(pid {os.getpid()}"):
            with out_dir_lock(tmp_path):
                pass
    assert not (tmp_path / LOCK_NAME).exists()
    with out_dir_lock(tmp_path):  # free again
        pass


def test_lock_released_on_interrupt(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with out_dir_lock(tmp_path):
            raise KeyboardInterrupt
    assert not (tmp_path / LOCK_NAME).exists()


def test_stale_lock_of_a_dead_process_is_taken_over(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / LOCK_NAME).write_text(f"{dead.pid}\n")
    with out_dir_lock(tmp_path) as lock:
        assert lock.read_text().strip() == str(os.getpid())


def test_lock_held_by_another_process_refuses(tmp_path):
    code = ("import sys, time; from cevns.io import out_dir_lock\n"
            f"with out_dir_lock({str(tmp_path)!r}):\n    print('locked', flush=True); time.sleep(30)\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(OutputError, match=f"pid {holder.pid}"):
            with out_dir_lock(tmp_path):
                pass
    finally:
        holder.kill()
        holder.wait()
    with out_dir_lock(tmp_path):  # the dead holder's lock file is taken over
        pass


def test_pid_file_lock_without_flock(tmp_path, monkeypatch):
    """Where flock is unavailable the lock is an exclusive-create pid file with the same behaviour."""
    import cevns.io

    monkeypatch.setattr(cevns.io, "fcntl", None)
    with out_dir_lock(tmp_path) as lock:
        assert lock.read_text().strip() == str(os.getpid())
        with pytest.raises(OutputError, match=f"pid {os.getpid()}"):
            with out_dir_lock(tmp_path):
                pass
    assert not (tmp_path / LOCK_NAME).exists()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / LOCK_NAME).write_text(f"{dead.pid}\n")
    with out_dir_lock(tmp_path) as lock:
        assert lock.read_text().strip() == str(os.getpid())
