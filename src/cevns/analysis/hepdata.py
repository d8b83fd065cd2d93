"""Export a scan output folder as a HEPData submission (``cevns export-hepdata RESULTS_DIR --out DIR``).

Every result of a results folder (:mod:`cevns.analysis.results_folder`) becomes HEPData tables written
with ``hepdata_lib`` (optional dependency, ``pip install cevns[hepdata]``):

* 1D scans: ``<scan> profile`` (Delta chi2 against the parameter), ``<scan> intervals`` (allowed
  intervals per confidence level, flags for ends at the scan boundary), ``<scan> best fit``;
* 2D scans: ``<scan> contour CL<pct>`` (boundary of the allowed region, one row per contour point, the
  column ``contour segment`` numbers the separate lines), ``<scan> exclusion CL<pct>`` (exclusion
  curves), ``<scan> grid`` (Delta chi2 on the grid; above ``max_grid_points`` the grid file is attached
  instead, HEPData data files are limited to 10 MB), ``<scan> best fit``.

Each dependent variable carries the qualifiers ``Result`` (what the table holds), ``Analysis``,
``Scan``, ``Experiments`` (label, experiment, likelihood, data), ``CL`` and ``Delta chi2 threshold``
(= ``scipy.stats.chi2.ppf(CL, dof)``, Wilks' theorem) and ``dof``; units are those of
``cevns parameters``. Values keep full double precision (17 significant digits) so that
:func:`cevns.analysis.hepdata_read.read_hepdata` returns the contours and curves exactly. The resolved
analysis documents and ``results.json`` are attached as additional resources, scan plots as images.

Output: ``DIR/submission/`` (``submission.yaml``, one YAML file per table, resources) and
``DIR/submission.tar.gz`` (the archive hepdata_lib packs, checked with ``hepdata_validator``).
"""

from __future__ import annotations

import contextlib
import re
import tempfile
from pathlib import Path

from .. import __version__
from ..errors import CevnsError, ConfigError
from .hepdata_tables import (DIGITS, RESULT_KINDS, TableBuilder, cl_key_from_percent, cl_percent, experiments_text,
                             scan_tag)
from .results_folder import ScanRecord, read_results_folder

__all__ = ["RESULT_KINDS", "DIGITS", "MAX_GRID_POINTS", "export_hepdata", "validate_hepdata", "cl_percent",
           "cl_key_from_percent", "SUBMISSION_FOLDER", "ARCHIVE_NAME"]

#: Largest 2D grid written as a table by default; larger grids are attached as their grid file. A grid
#: table takes about 60 bytes of YAML and 2 ms (writing + validating, pure-Python YAML) per point;
#: HEPData limits a data file to 10 MB (about 150,000 points) and does not draw very large tables.
MAX_GRID_POINTS = 2_500
SUBMISSION_FOLDER = "submission"
ARCHIVE_NAME = "submission.tar.gz"


def _hepdata_lib():
    try:
        import hepdata_lib
    except ModuleNotFoundError:
        raise CevnsError("the HEPData export needs hepdata_lib: pip install 'cevns[hepdata]' "
                         "(hepdata-lib>=0.14, hepdata-validator>=0.3)") from None
    return hepdata_lib


def _validator():
    try:
        from hepdata_validator.full_submission_validator import FullSubmissionValidator
    except ModuleNotFoundError:
        raise CevnsError("validating HEPData needs hepdata_validator: pip install 'cevns[hepdata]'") from None
    return FullSubmissionValidator



def _reference_url(ref: str) -> str | None:
    """A link for ``arXiv:ID``, ``doi:DOI`` or an http(s) URL; None for other references."""
    ref = ref.strip()
    m = re.fullmatch(r"arXiv:\s*(\S+)", ref, flags=re.IGNORECASE)
    if m:
        return f"https://arxiv.org/abs/{m.group(1)}"
    m = re.fullmatch(r"doi:\s*(\S+)", ref, flags=re.IGNORECASE)
    if m:
        return f"https://doi.org/{m.group(1)}"
    return ref if re.fullmatch(r"https?://\S+", ref) and len(ref) <= 256 else None


def _check_out(out: Path) -> Path:
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file; give a folder for the HEPData submission")
    sub = out / SUBMISSION_FOLDER
    if sub.exists() and (not sub.is_dir() or (any(sub.iterdir()) and not (sub / "submission.yaml").exists())):
        raise ConfigError(f"{sub} exists and is not a HEPData submission folder; refusing to overwrite it")
    if (out / ARCHIVE_NAME).is_dir():
        raise ConfigError(f"{out / ARCHIVE_NAME} is a folder; refusing to overwrite it")
    return sub


def export_hepdata(results_dir, out_dir, images: bool = True, max_grid_points: int = MAX_GRID_POINTS,
                   validate: bool = True) -> dict:
    """Write the results of a scan output folder as a HEPData submission.

    Parameters
    ----------
    results_dir : str or Path
        Folder written by ``cevns scan`` (or an analysis / paper folder of ``cevns reproduce``).
    out_dir : str or Path
        Output folder (created): ``submission/`` and ``submission.tar.gz`` are (re)written in it.
    images : bool
        Attach the scan plots (``<scan>.png``) and thumbnails to the tables.
    max_grid_points : int
        2D grids with more points are attached as their grid file instead of a table.
    validate : bool
        Check the archive with ``hepdata_validator`` (a failure raises CevnsError).

    Returns
    -------
    dict
        ``{"folder", "archive", "tables": [{"name", "kind", "scan", "analysis"}, ...], "analyses"}``.

    Raises
    ------
    ConfigError
        Not a results folder, malformed ``results.json``/grid files, ``out_dir`` a file.
    CevnsError
        hepdata_lib / hepdata_validator missing, or the written submission does not validate.
    """
    out = Path(out_dir)
    sub_dir = _check_out(out)
    results, records = read_results_folder(results_dir)
    hd = _hepdata_lib()
    analyses: dict[str, ScanRecord] = {}
    for rec in records:
        analyses.setdefault(rec.analysis, rec)
    with tempfile.TemporaryDirectory(prefix="cevns-hepdata-") as tmp:
        b = TableBuilder(hd, Path(tmp), images, int(max_grid_points))
        resolved_names = {}
        for name, rec in analyses.items():
            if rec.resolved_file is not None:
                fname = b.stage_file(rec.resolved_file, f"{scan_tag(name)}.analysis.resolved.json")
                resolved_names[name] = fname
                b.sub.additional_resources.append({"description": f"Resolved analysis document of {name}: every "
                                                   f"setting, experiment and nuisance (cevns {__version__})",
                                                   "location": fname})
        rfile = b.stage_file(Path(results_dir) / "results.json", "results.json")
        b.sub.additional_resources.append({"description": "results.json of the scans (cevns, "
                                           "docs/analysis-format.md)", "location": rfile})
        tags = set()
        for rec in records:
            tag = scan_tag(rec.name)  # scan names are unique in results.json
            while tag.lower() in tags:
                tag += "_"
            tags.add(tag.lower())
            b.add_scan(rec, tag, resolved_names.get(rec.analysis))
        refs = []
        for rec in analyses.values():
            for ref in ((rec.resolved or {}).get("analysis") or {}).get("references") or []:
                if isinstance(ref, str) and ref not in refs:
                    refs.append(ref)
        for ref in refs:
            url = _reference_url(ref)
            if url is not None:  # other references are named in the comment only
                b.sub.add_link(f"Reference: {ref}", url)
        titles = "; ".join(f"{n}" + (f" ({r.title})" if r.title else "") for n, r in analyses.items())
        exps = "; ".join(dict.fromkeys(experiments_text(r) for r in analyses.values()))
        b.sub.comment = (f"Confidence intervals, allowed regions and exclusion limits from CEvNS data (observed, or "
                         f"Asimov for projections: see the Experiments qualifier), computed "
                         f"with the cevns toolkit {__version__} (Delta chi2 profiles of chi2 = -2 ln L, Wilks' "
                         f"theorem). Analyses: {titles}. Experiments: {exps}."
                         + (f" References: {', '.join(refs)}." if refs else "")
                         + (f" Reproduction of: {results['reference']}." if isinstance(results.get("reference"), str)
                            else ""))
        try:
            out.mkdir(parents=True, exist_ok=True)
            target = str(sub_dir.resolve())  # before the chdir: --out may be relative
            with contextlib.chdir(out):  # hepdata_lib packs submission.tar.gz into the working directory
                b.sub.create_files(target, validate=False, remove_old=True)
        except OSError as exc:
            raise ConfigError(f"cannot write the HEPData submission to {out}: {exc.strerror or exc}") from None
    archive = out / ARCHIVE_NAME
    if validate:  # the archive holds every file of the folder (and is what one uploads)
        msgs = validate_hepdata(archive)
        if msgs:
            raise CevnsError(f"the HEPData submission written to {archive} does not validate: {'; '.join(msgs)}")
    return {"folder": str(sub_dir), "archive": str(archive), "tables": b.tables, "analyses": list(analyses)}


def validate_hepdata(path) -> list[str]:
    """Check a HEPData submission folder or archive with ``hepdata_validator``.

    Parameters
    ----------
    path : str or pathlib.Path
        A submission folder or a ``.tar.gz``/``.zip`` archive.

    Returns
    -------
    list of str
        The validator's messages (``file: message``); empty when the submission is valid.
    """
    p = Path(path)
    v = _validator()()
    ok = v.validate(archive=str(p)) if p.is_file() else v.validate(directory=str(p))
    if ok:
        return []
    return [f"{f}: {m.message}" for f, ms in v.get_messages().items() for m in ms] or ["invalid submission"]
