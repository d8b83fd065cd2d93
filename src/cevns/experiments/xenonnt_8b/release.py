"""The XENONnT solar-8B CEvNS data release: reader of the published files and of the shipped derived form.

Release: github.com/XENONnT/cevns_data_release @ 60d230dd7a5646fd4aa2368c5fdfba575ee0cb88
(Zenodo 10.5281/zenodo.20576156, CC-BY-4.0), used in PRL 133, 191002 (2024) (arXiv:2408.02877) and
arXiv:2604.06002. Per science run (sr0, sr1, sr2) it holds

* ``data/<run>.csv``: the post-selection events (cS2, S2-shadow quantile, S1 BDT score, S2 BDT score);
* ``binning/<run>.yaml``: 4 edges per observable -> 3 x 3 x 3 x 3 = 81 analysis bins;
* ``templates/<run>/{ac,er}/...h5``: accidental-coincidence and electronic-recoil templates [events / t / yr];
* ``templates/<run>/rg/...tly_<a>_tqy_<b>.h5``: the neutron ("radiogenic") template [events / t / yr] on the
  7 x 7 grid of the light-yield and charge-yield nuisances tly, tqy in {-3, ..., 3} (in sigma);
* ``templates/<run>/mono/..._mono_<E>_cevns_tly_<a>_tqy_<b>.h5``: dimensionless detection efficiency per
  bin of a mono-energetic nuclear recoil of E = 0.5, 0.6, ..., 5.0 keV, on the same grid.

The HDF5 files follow the ``inference_interface`` layout (datasets ``bins/0..3`` with attribute ``name`` and
``templates/template`` of shape (3, 3, 3, 3)). The exposures are not in the files; they are those of the
release's example notebook (``plot.ipynb``), recorded in :data:`EXPOSURE_T_YR`.

The package ships only a compact derived form (``data/xenonnt_8b_templates.npz``, written by
``make_derived.py`` from the release) and can read a user's own copy of the release with
:func:`read_release` (needs ``h5py``).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...errors import CevnsError

DATA_DIR = Path(__file__).resolve().parent / "data"
DERIVED_FILE = DATA_DIR / "xenonnt_8b_templates.npz"
RUNS = ("sr0", "sr1", "sr2")
#: Exposure of each science run [tonne x year] (release example notebook; SR0 + SR1 = 3.51 t yr as in
#: PRL 133, 191002).
EXPOSURE_T_YR = {"sr0": 1.174398, "sr1": 2.342593, "sr2": 3.249665}
OBSERVABLES = ("cs2", "s2_shadow_s2_time_shadow_quantile", "s1_bdt_score", "s2_bdt_score")
#: Nuisance grid nodes (in units of sigma) of tly and tqy.
YIELD_GRID = np.arange(-3.0, 4.0, 1.0)
#: Energies [keVnr] of the mono-energetic templates.
MONO_ENERGIES_KEV = np.round(np.arange(0.5, 5.0001, 0.1), 3)


class ReleaseError(CevnsError):
    """A missing or malformed file of the XENONnT release, or an unknown science-run name."""


def check_runs(runs) -> tuple:
    """Validate science-run names (``"sr0"``, ``"sr1"``, ``"sr2"``).

    Parameters
    ----------
    runs : str or sequence of str
        Run name(s).

    Returns
    -------
    tuple of str

    Raises
    ------
    ReleaseError
        If none is given or a name is unknown.
    """
    if isinstance(runs, str):
        runs = (runs,)
    runs = tuple(runs)
    if not runs:
        raise ReleaseError("no science run given; expected some of " + ", ".join(RUNS))
    for r in runs:
        if r not in RUNS:
            raise ReleaseError(f"unknown XENONnT science run {r!r}; expected one of {', '.join(RUNS)}")
    return runs


@dataclass(frozen=True, eq=False)
class RunTemplates:
    """Binned data and templates of one science run (81 bins as a (3, 3, 3, 3) array).

    Attributes
    ----------
    name : str
    exposure_t_yr : float
    bin_edges : tuple of 4 ndarray
        Edges of cS2 [PE], S2-shadow quantile, S1 BDT score, S2 BDT score.
    observed : ndarray (3, 3, 3, 3)
        Observed events per bin.
    ac, er : ndarray (3, 3, 3, 3)
        Background rates [events / t / yr].
    neutron : ndarray (7, 7, 3, 3, 3, 3)
        Neutron rate [events / t / yr] on the (tly, tqy) grid :data:`YIELD_GRID`.
    mono : ndarray (46, 7, 7, 3, 3, 3, 3)
        Detection efficiency of a recoil at :data:`MONO_ENERGIES_KEV` on the (tly, tqy) grid.
    """

    name: str
    exposure_t_yr: float
    bin_edges: tuple
    observed: np.ndarray
    ac: np.ndarray
    er: np.ndarray
    neutron: np.ndarray
    mono: np.ndarray

    def neutron_at(self, tly: float, tqy: float) -> np.ndarray:
        """Neutron rate [events / t / yr] per bin, bilinear in (tly, tqy)."""
        return interpolate_grid(self.neutron, tly, tqy, axis=0)

    def mono_at(self, tly: float, tqy: float) -> np.ndarray:
        """Mono-energetic efficiencies, shape (46, 3, 3, 3, 3), bilinear in (tly, tqy)."""
        return interpolate_grid(self.mono, tly, tqy, axis=1)


def interpolate_grid(values: np.ndarray, tly: float, tqy: float, axis: int = 0) -> np.ndarray:
    """Bilinear interpolation of ``values`` whose axes ``axis, axis + 1`` are the (tly, tqy) grid.

    At grid nodes (integers in [-3, 3]) the node's array is returned exactly.

    Raises
    ------
    ReleaseError
        For tly or tqy outside [-3, 3] or not finite.
    """
    out = []
    for name, x in (("tly", tly), ("tqy", tqy)):
        x = float(x)
        if not (math.isfinite(x) and YIELD_GRID[0] <= x <= YIELD_GRID[-1]):
            raise ReleaseError(f"{name} = {x} is outside the template grid [-3, 3]")
        i = min(int(math.floor(x - YIELD_GRID[0])), YIELD_GRID.size - 2)
        out.append((i, x - YIELD_GRID[i]))
    (i, u), (j, v) = out
    g = np.moveaxis(values, (axis, axis + 1), (0, 1))
    if u == 0.0 and v == 0.0:
        return g[i, j].copy()
    return ((1 - u) * (1 - v)) * g[i, j] + (u * (1 - v)) * g[i + 1, j] + ((1 - u) * v) * g[i, j + 1] \
        + (u * v) * g[i + 1, j + 1]


# ---------------------------------------------------------------------------------------------- reading
def _need(path: Path) -> Path:
    if not path.is_file():
        raise ReleaseError(f"XENONnT release file missing: {path}")
    return path


def _read_edges(path: Path) -> tuple:
    """Parse the release's binning yaml (``name:`` followed by ``- value`` lines)."""
    edges: dict[str, list] = {}
    current = None
    for lineno, raw in enumerate(_need(path).read_text().splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith(":"):
            current = line[:-1].strip()
            edges[current] = []
        elif line.startswith("-") and current is not None:
            try:
                edges[current].append(float(line[1:]))
            except ValueError:
                raise ReleaseError(f"{path}, line {lineno}: cannot read {line!r} as a bin edge") from None
        else:
            raise ReleaseError(f"{path}, line {lineno}: unexpected content {line!r}")
    missing = [o for o in OBSERVABLES if o not in edges]
    if missing:
        raise ReleaseError(f"{path}: no bin edges for {', '.join(missing)}")
    out = []
    for o in OBSERVABLES:
        e = np.asarray(edges[o])
        if e.size != 4 or np.any(np.diff(e) <= 0):
            raise ReleaseError(f"{path}: {o} needs 4 ascending edges, got {e.tolist()}")
        out.append(e)
    return tuple(out)


def _read_events(path: Path, edges: tuple) -> np.ndarray:
    lines = _need(path).read_text().splitlines()
    header = [h.strip() for h in lines[0].split(",")]
    try:
        cols = [header.index(o) for o in OBSERVABLES]
    except ValueError:
        raise ReleaseError(f"{path}: header must name {', '.join(OBSERVABLES)}; got {lines[0]!r}") from None
    rows = []
    for lineno, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        tok = line.split(",")
        try:
            rows.append([float(tok[c]) for c in cols])
        except (ValueError, IndexError):
            raise ReleaseError(f"{path}, line {lineno}: malformed event row {line!r}") from None
    x = np.asarray(rows, dtype=float).reshape(-1, 4)
    counts, _ = np.histogramdd(x, bins=list(edges))
    if counts.sum() != x.shape[0]:
        raise ReleaseError(f"{path}: {x.shape[0] - int(counts.sum())} events fall outside the binning")
    return counts


def _read_template(h5py, path: Path, edges: tuple) -> np.ndarray:
    try:
        with h5py.File(_need(path), "r") as fh:
            t = np.asarray(fh["templates/template"][()], dtype=float)
            file_edges = [np.asarray(fh[f"bins/{k}"][()], dtype=float) for k in range(4)]
    except (OSError, KeyError) as exc:
        raise ReleaseError(f"{path}: not a readable template file ({exc})") from None
    if t.shape != (3, 3, 3, 3):
        raise ReleaseError(f"{path}: template shape {t.shape}, expected (3, 3, 3, 3)")
    for k in range(4):
        if not np.allclose(file_edges[k], edges[k], rtol=1e-9, atol=0):
            raise ReleaseError(f"{path}: bin edges of axis {k} differ from the binning file")
    return t


def _grid_name(x: float) -> str:
    return f"{x:.1f}"


def read_release(folder, runs=RUNS) -> dict:
    """Read science runs from a copy of the XENONnT release folder (requires ``h5py``).

    Parameters
    ----------
    folder : path-like
        The release's top folder (holding ``data/``, ``binning/``, ``templates/``).
    runs : sequence of str

    Returns
    -------
    dict run name -> RunTemplates

    Raises
    ------
    ReleaseError
        Unknown run name, missing or malformed file (the message names it).
    """
    import h5py  # optional dependency

    runs = check_runs(runs)
    base = Path(folder)
    if not base.is_dir():
        raise ReleaseError(f"XENONnT release folder not found: {base}")
    out = {}
    for run in runs:
        edges = _read_edges(base / "binning" / f"{run}.yaml")
        observed = _read_events(base / "data" / f"{run}.csv", edges)
        tdir = base / "templates" / run
        ac = _read_template(h5py, tdir / "ac" / f"template_XENONnT_{run}_ac_cevns.h5", edges)
        er = _read_template(h5py, tdir / "er" / f"template_XENONnT_{run}_er_cevns.h5", edges)
        n = YIELD_GRID.size
        neutron = np.empty((n, n, 3, 3, 3, 3))
        mono = np.empty((MONO_ENERGIES_KEV.size, n, n, 3, 3, 3, 3))
        for i, a in enumerate(YIELD_GRID):
            for j, b in enumerate(YIELD_GRID):
                suffix = f"tly_{_grid_name(a)}_tqy_{_grid_name(b)}.h5"
                neutron[i, j] = _read_template(h5py, tdir / "rg" / f"template_XENONnT_{run}_rg_cevns_{suffix}", edges)
                for k, e in enumerate(MONO_ENERGIES_KEV):
                    name = f"template_XENONnT_{run}_mono_{e:.3f}_cevns_{suffix}"
                    mono[k, i, j] = _read_template(h5py, tdir / "mono" / name, edges)
        out[run] = RunTemplates(run, EXPOSURE_T_YR[run], edges, observed, ac, er, neutron, mono)
    return out


def write_derived(runs: dict, path=DERIVED_FILE) -> str:
    """Write runs to a compressed ``.npz`` (float64, lossless); return its sha256.

    Parameters
    ----------
    runs : dict of str to RunTemplates
        The runs to store.
    path : str or pathlib.Path, optional
        Output file.

    Returns
    -------
    str
        Hex sha256 of the written file.
    """
    arrays = {"mono_energies_kev": MONO_ENERGIES_KEV, "yield_grid": YIELD_GRID}
    for run, t in runs.items():
        for k in range(4):
            arrays[f"{run}/edges{k}"] = t.bin_edges[k]
        arrays[f"{run}/exposure_t_yr"] = np.array(t.exposure_t_yr)
        arrays[f"{run}/observed"] = t.observed
        arrays[f"{run}/ac"] = t.ac
        arrays[f"{run}/er"] = t.er
        arrays[f"{run}/neutron"] = t.neutron
        arrays[f"{run}/mono"] = t.mono
    path = Path(path)
    with open(path, "wb") as fh:
        np.savez_compressed(fh, **arrays)
    return sha256_of(path)


def sha256_of(path) -> str:
    """Hex sha256 of a file.

    Parameters
    ----------
    path : str or pathlib.Path
        The file.

    Returns
    -------
    str
    """
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_derived(runs=RUNS, path=DERIVED_FILE) -> dict:
    """Read runs from the shipped derived ``.npz`` (see :func:`write_derived`).

    Parameters
    ----------
    runs : str or sequence of str, optional
        Science runs to read.
    path : str or pathlib.Path, optional
        The derived ``.npz`` file.

    Returns
    -------
    dict of str to RunTemplates

    Raises
    ------
    ReleaseError
        If the file is missing or lacks a run.
    """
    runs = check_runs(runs)
    path = Path(path)
    if not path.is_file():
        raise ReleaseError(f"derived XENONnT template file missing: {path}")
    out = {}
    with np.load(path) as z:
        for run in runs:
            if f"{run}/ac" not in z:
                raise ReleaseError(f"{path}: holds no science run {run!r}")
            out[run] = RunTemplates(
                run, float(z[f"{run}/exposure_t_yr"]), tuple(z[f"{run}/edges{k}"] for k in range(4)),
                z[f"{run}/observed"], z[f"{run}/ac"], z[f"{run}/er"], z[f"{run}/neutron"], z[f"{run}/mono"])
    return out


def load_runs(runs=("sr0", "sr1"), release=None) -> dict:
    """Science runs from a user's release folder (``release``) or else from the shipped derived form."""
    if release is not None:
        return read_release(release, runs)
    return load_derived(runs)

