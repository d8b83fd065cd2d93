"""Tests of table-based fluxes (cevns.sources.tabulated)."""

import math

import numpy as np
import pytest

from cevns.errors import ConfigError
from cevns.sources.tables import DataFileError, read_table
from cevns.sources.tabulated import load_flux_table, tabulated_flux

E0 = 3.0  # MeV, scale of the analytic test spectrum


def _analytic(e):
    """dPhi/dE = E exp(-E/E0); integral over [0, inf) = E0^2, over [0, a]: E0^2 (1 - (1 + a/E0) e^(-a/E0))."""
    return e * np.exp(-e / E0)


def _analytic_integral(a):
    return E0**2 * (1 - (1 + a / E0) * math.exp(-a / E0))


def test_table_round_trip_against_analytic_spectrum(tmp_path):
    e = np.linspace(0.0, 40.0, 801)
    path = tmp_path / "spectrum.txt"
    rows = (f"{x:.10g}  {y:.12g}  # node {i}" for i, (x, y) in enumerate(zip(e, _analytic(e))))
    lines = ["# E [MeV]  dPhi/dE", "", *rows]
    path.write_text("\n".join(lines) + "\n")
    energies, values = load_flux_table(path)
    assert np.allclose(energies, e) and np.allclose(values, _analytic(e), rtol=1e-10)
    comp = tabulated_flux(energies, values, "nu_e", normalization=2.5e10)
    # trapezoid error: -(h^2/12) [f'(40) - f'(0)] ~ 2e-4 absolute on a 0.05 MeV grid, 2e-5 relative
    assert comp.total_fluence_cm2() == pytest.approx(2.5e10 * _analytic_integral(40.0), rel=1e-3)


def test_resampling_converges_to_table_integral():
    e = np.linspace(0.0, 20.0, 41)
    v = _analytic(e)
    table_integral = np.trapezoid(v, e)
    # resampling a piecewise-linear table on a finer uniform grid that contains the table nodes is exact
    fine = tabulated_flux(e, v, "nu_mu", n_energy=401)
    assert fine.energies_mev.size == 401
    assert fine.total_fluence_cm2() == pytest.approx(table_integral, rel=1e-12)
    # a grid not aligned with the nodes converges as it is refined
    err = [
        abs(tabulated_flux(e, v, "nu_mu", n_energy=n).total_fluence_cm2() - table_integral)
        for n in (57, 113, 225)
    ]
    assert err[2] < err[1] < err[0] and err[2] / table_integral < 1e-3


def test_comma_and_column_selection(tmp_path):
    path = tmp_path / "three_cols.csv"
    path.write_text("# a, E, phi\n9, 1.0, 0.5\n9, 2.0, 0.25\n9, 3.0, 0.0\n")
    e, v = load_flux_table(path, columns=(1, 2))
    assert e.tolist() == [1.0, 2.0, 3.0] and v.tolist() == [0.5, 0.25, 0.0]
    e2, _ = load_flux_table(path, columns=(1, 2), delimiter=",")
    assert e2.tolist() == [1.0, 2.0, 3.0]


def test_line_component():
    comp = tabulated_flux([29.79], [3.0e14], "nu_mu", normalization=0.5, kind="line")
    assert comp.is_line and comp.total_fluence_cm2() == pytest.approx(1.5e14)


@pytest.mark.parametrize(
    "content, message",
    [
        ("1.0 0.5\n2.0 abc\n", "line 2"),
        ("1.0 0.5\n2.0\n", "line 2"),
        ("1.0 0.5\n2.0 nan\n", "line 2.*NaN"),
        ("1.0 0.5\n0.5 0.2\n", "line 2.*ascending"),
        ("1.0 0.5\n1.0 0.2\n", "line 2.*ascending"),
        ("-1.0 0.5\n2.0 0.2\n", "line 1.*negative energy"),
        ("1.0 0.5\n# comment\n2.0 -0.2\n", "line 3.*negative value"),
        ("# only comments\n\n", "no data"),
    ],
)
def test_malformed_tables_raise_naming_file_and_line(tmp_path, content, message):
    path = tmp_path / "bad_table.txt"
    path.write_text(content)
    with pytest.raises(ValueError, match=message) as exc:
        load_flux_table(path)
    assert "bad_table.txt" in str(exc.value)


def test_missing_file_raises(tmp_path):
    with pytest.raises(ValueError, match="nope.txt"):
        load_flux_table(tmp_path / "nope.txt")


@pytest.mark.parametrize(
    "args, kwargs, word",
    [
        (([1.0, 2.0], [1.0, 1.0], "nu_x"), {}, "flavor"),
        (([1.0, 2.0], [1.0, 1.0], "nu_e"), {"kind": "box"}, "kind"),
        (([2.0, 1.0], [1.0, 1.0], "nu_e"), {}, "ascending"),
        (([-1.0, 1.0], [1.0, 1.0], "nu_e"), {}, "non-negative"),
        (([1.0, 2.0], [1.0, np.nan], "nu_e"), {}, "finite"),
        (([1.0, 2.0], [1.0, -1.0], "nu_e"), {}, "non-negative"),
        (([1.0, 2.0], [1.0], "nu_e"), {}, "same length"),
        (([1.0, 2.0], [1.0, 1.0], "nu_e"), {"normalization": -2.0}, "normalization"),
        (([1.0, 2.0], [1.0, 1.0], "nu_e"), {"n_energy": 1}, "n_energy"),
        (([1.0, 2.0], [1.0, 1.0], "nu_e"), {"kind": "line"}, "exactly one"),
        (([1.0], [1.0], "nu_e"), {}, "at least two"),
    ],
)
def test_tabulated_flux_bad_input(args, kwargs, word):
    with pytest.raises(ValueError, match=word):
        tabulated_flux(*args, **kwargs)


# ------------------------------------------------------------------ the shared table reader
def test_read_table_header_unique_maximum_and_error_type(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("PE, time, counts\n1, 0.25, 2  # comment\n\n1, 0.75, 0\n2, 0.25, 1\n")
    arr = read_table(path, 3, header="optional", unique=(0, 1))
    assert arr.tolist() == [[1, 0.25, 2], [1, 0.75, 0], [2, 0.25, 1]]
    with pytest.raises(DataFileError, match="line 1.*'PE'"):  # a header is refused unless allowed
        read_table(path, 3)
    path.write_text("1 0.5\n2 0.7\n")
    with pytest.raises(DataFileError, match="line 2.*above the maximum 0.6"):
        read_table(path, 2, maximum={1: 0.6})
    assert issubclass(DataFileError, ConfigError) and issubclass(DataFileError, ValueError)


@pytest.mark.parametrize(
    "content, message",
    [
        ("1.0, 0.5\n2.0, 0.5, 1\n", "line 2.*ragged"),
        ("1.0,,0.5\n", "line 1.*empty cell"),
        ("1.0 0.5\n2.0 inf\n", "line 2.*infinite"),
        ("", "empty file"),
        ("   \n\t\n", "empty file"),
    ],
)
def test_read_table_rejects(tmp_path, content, message):
    path = tmp_path / "bad.txt"
    path.write_text(content)
    with pytest.raises(DataFileError, match=message) as exc:
        read_table(path)
    assert "bad.txt" in str(exc.value)


def test_read_table_folder_and_binary(tmp_path):
    with pytest.raises(DataFileError, match="folder"):
        read_table(tmp_path)
    (tmp_path / "b.bin").write_bytes(b"1 2\n\x00\x00")
    with pytest.raises(DataFileError, match="binary"):
        read_table(tmp_path / "b.bin")
