"""Write the compact derived form of the XENONnT 8B release shipped with the package.

Usage (from a checkout, with h5py installed)::

    PYTHONPATH=src python -m cevns.experiments.xenonnt_8b.make_derived /path/to/cevns_data_release [out.npz]

Reads every science run with :func:`cevns.experiments.xenonnt_8b.release.read_release` (the published
HDF5 / CSV / YAML files, unchanged) and stores them losslessly (float64, ``numpy.savez_compressed``).
Prints the sha256 of the output and a digest of the release files it read, for ``data/PROVENANCE.md``.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

from .release import DERIVED_FILE, RUNS, read_release, sha256_of, write_derived


def release_digest(folder) -> tuple:
    """sha256 over the sorted lines ``<sha256>  <relative path>`` of the release's data files.

    Parameters
    ----------
    folder : str or pathlib.Path
        The release folder (its ``data``, ``binning`` and ``templates`` subfolders are read).

    Returns
    -------
    digest : str
        Hex sha256.
    n_files : int
        Number of files.
    """
    base = Path(folder)
    lines = []
    for sub in ("data", "binning", "templates"):
        for p in sorted((base / sub).rglob("*")):
            if p.is_file():
                lines.append(f"{sha256_of(p)}  {p.relative_to(base).as_posix()}\n")
    return hashlib.sha256("".join(sorted(lines, key=lambda s: s[66:])).encode()).hexdigest(), len(lines)


def main(argv=None) -> int:
    """Command-line entry point (module docstring).

    Parameters
    ----------
    argv : list of str, optional
        ``RELEASE_FOLDER [OUT.npz]`` (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status: 0 on success, 2 without arguments (prints the usage).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        print(__doc__)
        return 2
    folder = Path(argv[0])
    out = Path(argv[1]) if len(argv) > 1 else DERIVED_FILE
    runs = read_release(folder, RUNS)
    sha = write_derived(runs, out)
    digest, n = release_digest(folder)
    print(f"wrote {out} ({out.stat().st_size} bytes) sha256 {sha}")
    print(f"release files read: {n}, digest sha256 {digest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
