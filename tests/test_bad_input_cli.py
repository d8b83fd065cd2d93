"""A corpus of command-line mistakes: every one exits 2 with one ``error:`` line (after the usage line for usage
mistakes), never a traceback, never exit 0 with a wrong or non-finite number, never a hang; Ctrl-C exits 130."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cevns.cli import run
from cevns.experiments import experiment_path
from cevns.io import LOCK_NAME, TEMP_PREFIX, out_dir_lock

CSI = "coherent-csi-2017"
SRC = str(Path(__file__).resolve().parents[1] / "src")
TIMEOUT_S = 120

SMALL_ANALYSIS = """schema_version = 1
name = "small"
title = "small scan"

[[experiments]]
experiment = "coherent-csi-2017"
likelihood = "single_bin_stat"
data = "observed"

[[scans]]
name = "s2w"
parameters = ["sin2_theta_w"]
ranges = [[0.1, 0.4]]
points = [31]
confidence_levels = [0.9]
"""


class Hang(Exception):
    pass


@pytest.fixture(autouse=True)
def no_hang():
    """Fail (instead of hanging) if one case runs longer than TIMEOUT_S."""
    def _alarm(signum, frame):
        raise Hang(f"no answer within {TIMEOUT_S} s")

    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(TIMEOUT_S)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


@pytest.fixture
def files(tmp_path, monkeypatch):
    """A working folder with good and bad inputs; paths in the cases are relative to it."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a_file").write_text("not a folder\n")
    (tmp_path / "empty_dir").mkdir()
    (tmp_path / "analysis.toml").write_text(SMALL_ANALYSIS)
    (tmp_path / "empty.toml").write_text("")
    (tmp_path / "garbage.toml").write_text("this is = = not toml [\n")
    (tmp_path / "binary.toml").write_bytes(b"\x00\xff\xfe\x80garbage")
    (tmp_path / "notes.md").write_text("# hello\n")
    (tmp_path / "list.toml").write_text("scans = 3\n")
    (tmp_path / "nan.toml").write_text(SMALL_ANALYSIS.replace("ranges = [[0.1, 0.4]]", "ranges = [[nan, 0.4]]"))
    (tmp_path / "inf_points.toml").write_text(SMALL_ANALYSIS.replace("points = [31]", "points = [inf]"))
    (tmp_path / "unknown_param.toml").write_text(SMALL_ANALYSIS.replace('["sin2_theta_w"]', '["sin2_thetaw"]'))
    (tmp_path / "no_scans.toml").write_text(SMALL_ANALYSIS.split("[[scans]]")[0])
    (tmp_path / "bad_exp.toml").write_text(SMALL_ANALYSIS.replace('"coherent-csi-2017"', '"no-such-exp"'))
    exp = tmp_path / "exp"
    shutil.copytree(experiment_path(CSI).parent, exp)
    (tmp_path / "exp_bad_mass.toml").write_text(
        (exp / "experiment.toml").read_text().replace("mass_kg = 14.57", "mass_kg = nan"))
    return tmp_path


def _sets(*items):
    return [a for s in items for a in ("--set", s)]


USAGE = [  # (args, needle in the error line)
    ([], "missing command"),
    (["nosuch"], "no such command"),
    (["predcit", CSI], "no such command"),
    (["--bogus"], "no such option"),
    (["-x"], "no such option"),
    (["--version=yes"], None),
    (["experiments", "extra"], "unexpected extra argument"),
    (["experiments", "--jsn"], "no such option"),
    (["parameters", "extra"], "unexpected extra argument"),
    (["parameters", "--bogus"], "no such option"),
    (["predict"], "missing argument"),
    (["predict", CSI, "extra"], "unexpected extra argument"),
    (["predict", CSI, "--bogus"], "no such option"),
    (["predict", CSI, "--set"], "requires an argument"),
    (["predict", CSI, "--jsn"], "no such option"),
    (["predict", CSI, "--json=yes"], None),
    (["plot-spectrum", CSI], "missing option"),
    (["plot-spectrum"], "missing"),
    (["plot-spectrum", CSI, "--out"], "requires an argument"),
    (["plot-spectrum", CSI, "--out", "f.png", "--low", "abc"], "--low"),
    (["plot-spectrum", CSI, "--out", "f.png", "--high", "ten"], "--high"),
    (["plot-spectrum", CSI, "--out", "f.png", "--low"], "requires an argument"),
    (["plot-spectrum", CSI, "--out", "f.png", "--low", ""], "--low"),
    (["scan"], "missing"),
    (["scan", "analysis.toml"], "missing option"),
    (["scan", "analysis.toml", "--out"], "requires an argument"),
    (["scan", "analysis.toml", "--out", "o", "--dask-local", "two"], "--dask-local"),
    (["scan", "analysis.toml", "--out", "o", "--dask-local", "0"], "--dask-local"),
    (["scan", "analysis.toml", "--out", "o", "--dask-local", "-3"], "--dask-local"),
    (["scan", "analysis.toml", "--out", "o", "--dask-local", "1.5"], "--dask-local"),
    (["scan", "analysis.toml", "--out", "o", "--bogus"], "no such option"),
    (["scan", "analysis.toml", "extra", "--out", "o"], "unexpected extra argument"),
    (["reproduce"], "missing option"),
    (["reproduce", "--out"], "requires an argument"),
    (["reproduce", "--out", "o", "--quick=no"], None),
    (["reproduce", "canas", "extra", "--out", "o"], "unexpected extra argument"),
]

BAD_SETS = [  # --set items that must be refused (by predict and plot-spectrum)
    ("sin2_theta_w", "NAME=VALUE"),
    ("=0.2", "name before '='"),
    ("sin2_theta_w=", "value after '='"),
    ("sin2_thetaw=0.2", "unknown parameter"),
    ("SIN2_THETA_W=0.2", "unknown parameter"),
    ("nosuch=1", "unknown parameter"),
    ("sin2_theta_w=abc", "needs a number"),
    ("sin2_theta_w=0.2.3", "needs a number"),
    ("sin2_theta_w=1,5", "needs a number"),
    ("sin2_theta_w=0x10", "needs a number"),
    ("sin2_theta_w=nan", "must be finite"),
    ("sin2_theta_w=NaN", "must be finite"),
    ("sin2_theta_w=inf", "must be finite"),
    ("sin2_theta_w=-inf", "must be finite"),
    ("sin2_theta_w=1e999", "must be finite"),
    ("sin2_theta_w=0", "outside its physical domain"),
    ("sin2_theta_w=1", "outside its physical domain"),
    ("sin2_theta_w=1.5", "outside its physical domain"),
    ("sin2_theta_w=-0.2", "outside its physical domain"),
    ("mu_nu=-1e-10", "outside its physical domain"),
    ("mu_nu=nan", "must be finite"),
    ("mu_nu_e=-1", "outside its physical domain"),
    ("dm41_sq=-1", "outside its physical domain"),
    ("dm41_sq=inf", "must be finite"),
    ("u_e4_sq=2", "outside its physical domain"),
    ("u_e4_sq=-0.1", "outside its physical domain"),
    ("u_mu4_sq=nan", "must be finite"),
    ("rn=-1", "outside its physical domain"),
    ("rn=0", "outside its physical domain"),
    ("rn=abc", "needs a number"),
    ("rn_Cs133=-4", "outside its physical domain"),
    ("rn_Xx999=4", "not a known isotope"),
    ("rn_Cs999=4", "not a known isotope"),
    ("zprime_mass=-5", "outside its physical domain"),
    ("zprime_mass=0", "outside its physical domain"),
    ("scalar_mass=-1", "outside its physical domain"),
    ("eps_ee_uV=inf", "must be finite"),
    ("eps_ee_uV=one", "needs a number"),
    ("eps_xx_uV=0.1", "unknown parameter"),
    ("eps_ee_sV=0.1", "unknown parameter"),
    ("r2_nu_e=nan", "must be finite"),
    ("form_factor=gaussian", "allowed: helm"),
    ("form_factor=HELM", "allowed: helm"),
    ("form_factor=1", "allowed: helm"),
    ("kinematics=exact", "allowed: full"),
    ("coupling_scheme=loop", "allowed: tree"),
    ("proton_radius=measured", "allowed: charge"),
    ("sterile_treatment=none", "allowed: survival"),
    ("baseline_spread_m=-1", "allowed: a finite number >= 0"),
    ("baseline_spread_m=abc", "allowed"),
    ("baseline_spread_m=nan", "allowed"),
    ("baseline_spread_m=inf", "allowed"),
    ("form_factor_shape_fm=-0.1", "allowed"),
    ("form_factor_shape_fm=inf", "allowed"),
    ("form_factor_shape_fm=nan", "allowed"),
    ("exact_momentum_transfer=maybe", "allowed: true, false"),
    ("exact_momentum_transfer=2", "allowed: true, false"),
]

PREDICT = [  # (args, needle)
    (["predict", "no-such-experiment"], "unknown experiment"),
    (["predict", ""], "empty experiment name"),
    (["predict", "missing.toml"], "not found"),
    (["predict", "empty_dir"], "has no experiment.toml"),
    (["predict", "a_file"], "not an experiment file"),
    (["predict", "notes.md"], "not an experiment file"),
    (["predict", "empty.toml"], "empty.toml"),
    (["predict", "garbage.toml"], "malformed TOML"),
    (["predict", "binary.toml"], "binary.toml"),
    (["predict", "analysis.toml"], "analysis.toml"),
    (["predict", "exp_bad_mass.toml"], "mass_kg"),
    (["predict", CSI] + _sets("sin2_theta_w=0.2", "sin2_theta_w=0.3"), "given twice"),
    (["predict", CSI] + _sets("mu_nu=1e300"), "not finite"),
    (["predict", CSI] + _sets("eps_ee_uT=1e300"), "not finite"),
    (["predict", CSI] + _sets("r2_nu_e=1e300"), "not finite"),
    (["predict", CSI] + _sets("rn=1e300"), "not finite"),
    (["predict", CSI] + _sets("rn=1e-300"), "cannot evaluate"),
    (["predict", CSI] + _sets("u_e4_sq=1", "u_mu4_sq=1"), "must not exceed 1"),
    (["predict", "conus", "--no-time-cut"], "no time window"),
    (["predict", "connie", "--no-time-cut"], "no time window"),
]

PLOT = [  # (args, needle); each also gets --out unless it has one
    (["plot-spectrum", CSI, "--out", "empty_dir"], "unknown image format"),
    (["plot-spectrum", CSI, "--out", "fig.txt"], "unknown image format"),
    (["plot-spectrum", CSI, "--out", "fig"], "unknown image format"),
    (["plot-spectrum", CSI, "--out", "a_file/fig.png"], "a_file is a file"),
    (["plot-spectrum", CSI, "--out", "a_file/sub/fig.png"], "a_file is a file"),
    (["plot-spectrum", CSI, "--out", "f.png", "--low", "20", "--high", "10"], "must be below --high"),
    (["plot-spectrum", CSI, "--out", "f.png", "--low", "10", "--high", "10"], "must be below --high"),
    (["plot-spectrum", CSI, "--out", "f.png", "--low", "nan"], "--low must be a finite number"),
    (["plot-spectrum", CSI, "--out", "f.png", "--high", "inf"], "--high must be a finite number"),
    (["plot-spectrum", CSI, "--out", "f.png", "--low", "-5"], "--low must be a finite number >= 0"),
    (["plot-spectrum", CSI, "--out", "f.png", "--low", "10", "--high", "11"], "narrower than one bin"),
    (["plot-spectrum", "no-such-experiment", "--out", "f.png"], "unknown experiment"),
    (["plot-spectrum", CSI, "--out", "f.png"] + _sets("mu_nu=1e300"), "not finite"),
    (["plot-spectrum", CSI, "--out", "f.png"] + _sets("dm41_sq=-1"), "outside its physical domain"),
]

SCAN = [  # (args, needle)
    (["scan", "missing.toml", "--out", "o"], "missing.toml"),
    (["scan", "empty_dir", "--out", "o"], "empty_dir"),
    (["scan", "garbage.toml", "--out", "o"], "malformed TOML"),
    (["scan", "binary.toml", "--out", "o"], "binary.toml"),
    (["scan", "empty.toml", "--out", "o"], "empty.toml"),
    (["scan", "list.toml", "--out", "o"], "list.toml"),
    (["scan", "notes.md", "--out", "o"], "notes.md"),
    (["scan", "exp/experiment.toml", "--out", "o"], "experiment.toml"),
    (["scan", "unknown_param.toml", "--out", "o"], "sin2_thetaw"),
    (["scan", "no_scans.toml", "--out", "o"], "scans"),
    (["scan", "bad_exp.toml", "--out", "o"], "no-such-exp"),
    (["scan", "nan.toml", "--out", "o"], "nan.toml"),
    (["scan", "inf_points.toml", "--out", "o"], "inf_points.toml"),
    (["scan", "analysis.toml", "--out", "a_file"], "is a file, not a folder"),
    (["scan", "analysis.toml", "--out", "a_file/sub"], "a_file is a file"),
    (["scan", "analysis.toml", "--out", ""], "empty"),
    (["scan", "analysis.toml", "--out", "o", "--dask-local", "2", "--dask-scheduler", "tcp://x:1"], "not both"),
    (["scan", "analysis.toml", "--out", "o", "--dask-scheduler", "garbage address"], "dask"),
    (["scan", "analysis.toml", "--out", "o", "--max-memory", "lots"], "--max-memory"),
    (["scan", "analysis.toml", "--out", "o", "--max-memory", "0"], "--max-memory"),
    (["scan", "analysis.toml", "--out", "o", "--max-memory", "-4GB"], "--max-memory"),
    (["scan", "analysis.toml", "--out", "o", "--max-memory", "nan"], "--max-memory"),
    (["scan", "analysis.toml", "--out", "o", "--max-memory", "4XB"], "--max-memory"),
    (["scan", "analysis.toml", "--out", "o", "--max-memory", ""], "--max-memory"),
    (["scan", "analysis.toml", "--out", "o", "--max-memory", "1e999GB"], "--max-memory"),
    (["reproduce", "nosuch-paper", "--out", "o"], "unknown paper"),
    (["reproduce", "--out", "a_file"], "is a file, not a folder"),
    (["reproduce", "--out", "a_file/sub"], "a_file is a file"),
    (["reproduce", "canas", "--out", "o", "--max-memory", "big"], "--max-memory"),
]


def _run(args, capsys):
    code = run(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def _assert_clean(code, out, err, needle, usage=False):
    assert code == 2, f"exit {code}\nstdout: {out[:500]}\nstderr: {err[:2000]}"
    assert "Traceback" not in err and "Traceback" not in out
    lines = err.strip().splitlines()
    assert lines, "no error message"
    if usage:
        assert len(lines) == 2 and lines[0].startswith("Usage: cevns"), err
    assert lines[-1].startswith("error: ") or lines[0].startswith("error: "), err
    assert "internal error" not in err, err
    assert "nan" not in out.lower() and "infinity" not in out.lower()
    if needle is not None:
        assert needle in err, err


@pytest.mark.parametrize("args, needle", USAGE, ids=[" ".join(a) or "(none)" for a, _ in USAGE])
def test_usage_mistake(files, capsys, args, needle):
    _assert_clean(*_run(args, capsys), needle, usage=True)


@pytest.mark.parametrize("command", ["predict", "plot-spectrum"])
@pytest.mark.parametrize("item, needle", BAD_SETS, ids=[s for s, _ in BAD_SETS])
def test_bad_set(files, capsys, command, item, needle):
    args = [command, CSI, "--set", item] + (["--out", "f.png"] if command == "plot-spectrum" else [])
    code, out, err = _run(args, capsys)
    _assert_clean(code, out, err, needle)
    assert len(err.strip().splitlines()) == 1
    assert not (files / "f.png").exists()


@pytest.mark.parametrize("args, needle", PREDICT, ids=[" ".join(a) for a, _ in PREDICT])
def test_bad_predict(files, capsys, args, needle):
    _assert_clean(*_run(args, capsys), needle)


@pytest.mark.parametrize("args, needle", PLOT, ids=[" ".join(a) for a, _ in PLOT])
def test_bad_plot_spectrum(files, capsys, args, needle):
    _assert_clean(*_run(args, capsys), needle)
    assert not list(files.glob("f.png")) and not list(files.rglob(f"{TEMP_PREFIX}*"))


@pytest.mark.parametrize("args, needle", SCAN, ids=[" ".join(a) for a, _ in SCAN])
def test_bad_scan_or_reproduce(files, capsys, args, needle):
    before = sorted(p.name for p in files.iterdir())
    _assert_clean(*_run(args, capsys), needle)
    # refused up front: nothing written, no output folder created
    assert sorted(p.name for p in files.iterdir()) == before


@pytest.mark.parametrize("command", [["scan", "analysis.toml"], ["reproduce", "canas"]])
def test_second_run_into_a_locked_folder_refuses(files, capsys, command):
    out = files / "o"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    with out_dir_lock(out):
        code, stdout, err = _run(command + ["--out", str(out)], capsys)
        _assert_clean(code, stdout, err, f"in use by another cevns run (pid {os.getpid()}")
        assert sorted(p.name for p in out.iterdir()) == [LOCK_NAME, "keep.txt"]


@pytest.mark.skipif(not os.path.isdir("/sys/kernel"), reason="needs a read-only /sys")
@pytest.mark.parametrize("command", [["scan", "analysis.toml"], ["reproduce"]])
def test_out_where_the_os_refuses(files, capsys, command):
    _assert_clean(*_run(command + ["--out", "/sys/cevns-test-out"], capsys), "cannot create output folder")


def test_rerun_after_a_killed_run_removes_leftovers(files, capsys):
    out = files / "o"
    (out / ".partial").mkdir(parents=True)
    leftovers = [out / f"{TEMP_PREFIX}results.dead.json", out / ".partial" / f"{TEMP_PREFIX}chunk.dead.npz"]
    for p in leftovers:
        p.write_text("half")
    (out / LOCK_NAME).write_text("999999999\n")  # lock file of a process that no longer exists
    code, stdout, err = _run(["scan", "analysis.toml", "--out", str(out), "--no-progress"], capsys)
    assert code == 0, err
    assert not any(p.exists() for p in leftovers) and not (out / LOCK_NAME).exists()
    assert (out / "results.json").exists()


# ----------------------------------------------------------------------------- real processes
def _cli(args, **kw):
    env = dict(os.environ, PYTHONPATH=SRC)
    return subprocess.run([sys.executable, "-m", "cevns"] + args, capture_output=True, text=True, env=env,
                          timeout=TIMEOUT_S, **kw)


@pytest.mark.parametrize("args, code", [([], 2), (["--bogus"], 2), (["predict"], 2), (["--version"], 0),
                                        (["predict", CSI, "--set", "mu_nu=1e300", "--json"], 2)])
def test_python_m_cevns_exit_codes(args, code):
    p = _cli(args)
    assert p.returncode == code, p.stderr
    assert "Traceback" not in p.stderr
    if code == 2:
        assert p.stderr.strip().splitlines()[-1].startswith("error: ")


SLOW_ANALYSIS = SMALL_ANALYSIS.replace('["sin2_theta_w"]', '["dm41_sq", "u_mu4_sq"]').replace(
    "ranges = [[0.1, 0.4]]", "ranges = [[0.1, 1.0e4], [1.0e-3, 0.5]]").replace(
    "points = [31]", "points = [121, 121]\nlog = [true, true]")


def test_ctrl_c_exits_130_keeps_chunks_and_resumes(tmp_path):
    (tmp_path / "slow.toml").write_text(SLOW_ANALYSIS)
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=SRC)
    proc = subprocess.Popen([sys.executable, "-m", "cevns", "scan", "slow.toml", "--out", str(out), "--no-progress"],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + TIMEOUT_S
        while time.monotonic() < deadline and proc.poll() is None:
            if any(p.suffix == ".npz" and not p.name.startswith(".") for p in (out / ".partial").rglob("*")):
                break
            time.sleep(0.02)
        assert proc.poll() is None, "the scan finished before it could be interrupted"
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=TIMEOUT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("interrupted: ") and "kept in" in lines[0], stderr
    assert "Traceback" not in stderr
    assert not list(out.rglob(f"{TEMP_PREFIX}*")) and not (out / LOCK_NAME).exists()
    assert not (out / "results.json").exists()
    kept = sorted(p.name for p in (out / ".partial").rglob("*.npz"))
    assert kept
    p = _cli(["scan", "slow.toml", "--out", str(out), "--no-progress"], cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert (out / "results.json").exists() and not (out / ".partial").exists()


def test_ctrl_c_in_predict_exits_130(files, capsys, monkeypatch):
    import cevns.cli.predict as predict_mod

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(predict_mod, "load_experiment", interrupted)
    code, out, err = _run(["predict", CSI], capsys)
    assert code == 130 and err.strip() == "interrupted" and out == ""


def test_ctrl_c_in_scan_says_what_was_kept(files, capsys, monkeypatch):
    import cevns.cli.scan as scan_mod

    def interrupted(spec, out_dir, **kw):
        chunk = Path(out_dir) / ".partial" / "s2w-0123456789abcdef" / "chunk-00000.npz"
        chunk.parent.mkdir(parents=True)
        chunk.write_bytes(b"x")
        (chunk.parent / f"{TEMP_PREFIX}chunk-00001.half.npz").write_bytes(b"x")  # as if killed mid-write
        raise KeyboardInterrupt

    monkeypatch.setattr(scan_mod, "run_analysis", interrupted)
    code, out, err = _run(["scan", "analysis.toml", "--out", "o", "--no-progress"], capsys)
    assert code == 130
    assert err.strip().splitlines() == ["interrupted: 1 finished chunk kept in o; rerun the same command to resume"]
    assert not (files / "o" / LOCK_NAME).exists()
