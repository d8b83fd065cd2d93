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
import shutil
import tempfile
from decimal import Decimal
from pathlib import Path

from .. import __version__
from ..errors import CevnsError, ConfigError, ParameterError
from ..physics.parameters import spec_for
from .results_folder import ScanRecord, read_results_folder

try:  # thumbnails of the scan plots (Pillow comes with matplotlib)
    from PIL import Image as _PILImage
except ModuleNotFoundError:  # pragma: no cover
    _PILImage = None

__all__ = ["RESULT_KINDS", "DIGITS", "MAX_GRID_POINTS", "export_hepdata", "validate_hepdata", "cl_percent",
           "cl_key_from_percent", "SUBMISSION_FOLDER", "ARCHIVE_NAME"]

#: ``Result`` qualifier value of each kind of table.
RESULT_KINDS = {"profile": "Delta chi2 profile", "intervals": "allowed intervals", "contour": "allowed region boundary",
                "exclusion": "exclusion limit", "grid": "Delta chi2 grid", "best_fit": "best fit"}
#: Significant digits written (17: every double round-trips exactly).
DIGITS = 17
#: Largest 2D grid written as a table by default; larger grids are attached as their grid file. A grid
#: table takes about 60 bytes of YAML and 2 ms (writing + validating, pure-Python YAML) per point;
#: HEPData limits a data file to 10 MB (about 150,000 points) and does not draw very large tables.
MAX_GRID_POINTS = 2_500
SUBMISSION_FOLDER = "submission"
ARCHIVE_NAME = "submission.tar.gz"
_REACTION = "NU NUCLEUS --> NU NUCLEUS"
_PHRASES = ["Coherent elastic neutrino-nucleus scattering", "CEvNS", "Neutrino", "Confidence level"]


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


def cl_percent(key: str) -> str:
    """Confidence level ``"0.9"`` (a results.json key) as a percent string ``"90"`` (exact, decimal)."""
    return format((Decimal(str(key)) * 100).normalize(), "f")


def cl_key_from_percent(pct) -> str:
    """Inverse of :func:`cl_percent`: ``"90"`` or ``90.0`` -> the results.json key ``"0.9"``."""
    return str(float(Decimal(str(pct)) / 100))


def _unit(name: str) -> str:
    try:
        u = spec_for(name).unit
    except ParameterError:
        return ""
    return "" if u == "-" else u


def _describe_param(name: str) -> str:
    try:
        return f"{name} ({spec_for(name).description})"
    except ParameterError:
        return name


def _experiments(rec: ScanRecord) -> str:
    """``label (experiment; likelihood, data)`` of every experiment of the scan's analysis."""
    doc = rec.resolved or {}
    entries = (doc.get("analysis") or {}).get("experiments") or []
    described = doc.get("experiments") or []
    out = []
    for i, e in enumerate(entries):
        if not isinstance(e, dict):
            continue
        name = str(e.get("experiment", "?"))
        if i < len(described) and isinstance(described[i], dict) and described[i].get("experiment"):
            name = str(described[i]["experiment"])
        if "/" in name:
            name = Path(name).parent.name or Path(name).stem
        out.append(f"{e.get('label') or name} ({name}; {e.get('likelihood', '?')} likelihood, "
                   f"{e.get('data', '?')} data)")
    return "; ".join(out) if out else "not recorded (no analysis.resolved.json)"


def _safe(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", s).strip("_") or "scan"


class _Builder:
    """Collects the tables of a submission with unique names and data-file names."""

    def __init__(self, hd, stage: Path, images: bool, max_grid_points: int):
        self.hd, self.stage, self.images, self.max_grid_points = hd, stage, images, max_grid_points
        self.sub = hd.Submission()
        self.names: set[str] = set()
        self.files: set[str] = set()
        self.tables: list[dict] = []

    # -- naming and files ------------------------------------------------------------------
    def unique_file(self, name: str) -> str:
        base, n = name, 2
        while name.lower() in self.files:
            stem, dot, suf = base.partition(".")
            name = f"{stem}-{n}{dot}{suf}"
            n += 1
        self.files.add(name.lower())
        return name

    def stage_file(self, src: Path, name: str) -> str:
        name = self.unique_file(name)
        shutil.copyfile(src, self.stage / name)
        self.sub.files_to_copy.append(str(self.stage / name))  # copied into the submission folder
        return name

    def table(self, scan: str, what: str):
        suffix = f" {what}"
        name = scan[: 64 - len(suffix)] + suffix
        n = 2
        while name.lower().replace(" ", "_") in self.names:
            tag = f" #{n}"
            name = scan[: 64 - len(suffix) - len(tag)] + suffix + tag
            n += 1
        self.names.add(name.lower().replace(" ", "_"))
        t = self.hd.Table(name)
        self.sub.add_table(t)
        return t

    def var(self, name, values, units="", independent=False, quals=()):
        v = self.hd.Variable(name, is_independent=independent, is_binned=False, units=units)
        v.values = list(values)
        v.digits = DIGITS
        for q in quals:
            v.add_qualifier(*q)
        return v

    # -- one scan ----------------------------------------------------------------------------
    def add_scan(self, rec: ScanRecord, tag: str, resolved_name: str | None):
        r = rec.result
        base = [("Analysis", rec.analysis), ("Scan", rec.name), ("Experiments", _experiments(rec)),
                ("dof", int(r.get("dof") or (1 if rec.ndim == 1 else 2)))]
        thresholds = [(f"Delta chi2 threshold at {cl_percent(k)}% CL", float(t)) for k, t in r["threshold"].items()]
        where = f"cevns scan, analysis {rec.analysis}: scan {rec.name}"
        title = f" ({rec.title})" if rec.title else ""
        resources = []
        if resolved_name:
            resources.append((f"Resolved analysis document of {rec.analysis} (cevns)", resolved_name))
        if self.images and rec.image is not None and _PILImage is not None:
            png = self.stage_file(rec.image, f"{tag}.png")
            thumb = self.unique_file(f"thumb_{tag}.png")
            with _PILImage.open(self.stage / png) as im:
                im.thumbnail((240, 179))
                im.save(self.stage / thumb)
            self.sub.files_to_copy.append(str(self.stage / thumb))
            resources += [("Image file", png), ("Thumbnail image file", thumb)]
        notes = " ".join(str(w) for w in r.get("warnings", []) if isinstance(w, str))
        extra = f" Warnings: {notes}" if notes else ""
        exp_text = f" Experiments: {_experiments(rec)}."

        def finish(t, kind, description, variables, phrases=()):
            t.description = description + exp_text + extra
            t.location = where[:256]
            t.keywords["reactions"] = [_REACTION]
            t.keywords["phrases"] = _PHRASES + list(phrases)
            if kind in ("profile", "grid"):
                t.keywords["observables"] = ["Delta chi2"]
            for v in variables:
                t.add_variable(v)
            for desc, loc in resources:
                t.add_additional_resource(desc, loc)
            self.tables.append({"name": t.name, "kind": kind, "scan": rec.name, "analysis": rec.analysis})

        if rec.ndim == 1:
            self._scan_1d(rec, base, thresholds, finish, title)
        else:
            self._scan_2d(rec, tag, base, thresholds, finish, title)

    def _best_fit(self, rec, base, finish, title):
        r = rec.result
        pars = [r["parameter"]] if rec.ndim == 1 else list(r["parameters"])
        best = [r["best_fit"]] if rec.ndim == 1 else list(r["best_fit"])
        rows = r.get("best_fits") if isinstance(r.get("best_fits"), list) and r["best_fits"] else [r["best_fit"]]
        rows = [[v] if rec.ndim == 1 else list(v) for v in rows]
        thresholds = [(f"Delta chi2 threshold at {cl_percent(k)}% CL", float(t)) for k, t in r["threshold"].items()]
        quals = base + [("Result", RESULT_KINDS["best_fit"]), ("chi2 at the best fit", float(r["chi2_min"]))]
        quals += thresholds
        prof = r.get("profiled_at_best_fit") or {}
        quals += [(f"profiled at the best fit: {k}", float(v)) for k, v in prof.items() if isinstance(v, (int, float))]
        t = self.table(rec.name, "best fit")
        variables = [self.var("best-fit point", range(1, len(rows) + 1), independent=True)]
        for j, p in enumerate(pars):
            variables.append(self.var(p, [row[j] for row in rows], _unit(p),
                                      quals=quals + [("best fit", float(best[j]))]))
        finish(t, "best_fit", f"Best fit{title} of {', '.join(_describe_param(p) for p in pars)}: the global "
               f"minimum of chi2 = -2 ln L (qualifier 'best fit') and every grid minimum degenerate with it "
               f"(rows).", variables)
        return t

    def _scan_1d(self, rec, base, thresholds, finish, title):
        r = rec.result
        p = r["parameter"]
        unit = _unit(p)
        self._best_fit(rec, base, finish, title)
        if rec.grid is not None:
            t = self.table(rec.name, "profile")
            quals = base + [("Result", RESULT_KINDS["profile"]), ("chi2 at the best fit", float(r["chi2_min"]))]
            finish(t, "profile", f"Profile Delta chi2 = chi2 - chi2_min of {_describe_param(p)}{title}, the other "
                   f"parameters fixed or profiled as in the analysis; allowed where Delta chi2 is below the "
                   f"threshold qualifiers.",
                   [self.var(p, rec.grid["x"].tolist(), unit, independent=True),
                    self.var("Delta chi2", rec.grid["delta_chi2"].tolist(), quals=quals + thresholds)])
        cls, lo, hi, lo_open, hi_open = [], [], [], [], []
        opens = r.get("open_ends") if isinstance(r.get("open_ends"), dict) else {}
        for k, pairs in r["intervals"].items():
            flags = opens.get(k) if isinstance(opens.get(k), list) and len(opens.get(k)) == len(pairs) else None
            for j, (a, b) in enumerate(pairs):
                cls.append(float(cl_percent(k)))
                lo.append(a)
                hi.append(b)
                f = flags[j] if flags is not None else [False, False]
                lo_open.append(int(bool(f[0])))
                hi_open.append(int(bool(f[1])))
        quals = base + [("Result", RESULT_KINDS["intervals"])] + thresholds
        t = self.table(rec.name, "intervals")
        finish(t, "intervals", f"Allowed intervals of {_describe_param(p)}{title} at the given confidence levels "
               f"(Delta chi2 below chi2.ppf(CL, dof), Wilks); several rows at one CL are a union of intervals; "
               f"an end flagged 1 lies at the edge of the scanned range (not a bound).",
               [self.var("CL", cls, "%", independent=True),
                self.var(f"{p} lower end", lo, unit, quals=quals), self.var(f"{p} upper end", hi, unit, quals=quals),
                self.var("lower end at the scan boundary", lo_open, quals=quals),
                self.var("upper end at the scan boundary", hi_open, quals=quals)])

    def _scan_2d(self, rec, tag, base, thresholds, finish, title):
        r = rec.result
        px, py = r["parameters"]
        ux, uy = _unit(px), _unit(py)
        pdesc = f"({_describe_param(px)}, {_describe_param(py)})"
        best_table = self._best_fit(rec, base, finish, title)
        for k, lines in r["contours"].items():
            if not lines:
                continue
            pct = cl_percent(k)
            quals = base + [("Result", RESULT_KINDS["contour"]), ("CL", f"{pct}%"),
                            ("Delta chi2 threshold", float(r["threshold"][k]))]
            xs = [pt[0] for ln in lines for pt in ln]
            ys = [pt[1] for ln in lines for pt in ln]
            seg = [i + 1 for i, ln in enumerate(lines) for _ in ln]
            t = self.table(rec.name, f"contour CL{pct}")
            finish(t, "contour", f"Boundary of the {pct}% CL allowed region{title} in the plane {pdesc}: "
                   f"Delta chi2 = {float(r['threshold'][k]):.6g} ({r.get('dof', 2)} dof); {len(lines)} line(s), "
                   f"points in order along each line, numbered by 'contour segment'.",
                   [self.var(px, xs, ux, independent=True), self.var(py, ys, uy, quals=quals),
                    self.var("contour segment", seg, quals=quals)], ["Allowed region"])
        transform = r.get("y_transform")
        for k, c in (r.get("exclusion") or {}).items():
            pct = cl_percent(k)
            quals = base + [("Result", RESULT_KINDS["exclusion"]), ("CL", f"{pct}%"),
                            ("Delta chi2 threshold", float(r["threshold"][k])),
                            ("exclusion method", str(r.get("exclusion_method", "global")))]
            yname, yunit = py, uy
            if transform:
                quals.append(("y transform", str(transform)))
                yname, yunit = f"{transform}({py})", ""
            t = self.table(rec.name, f"exclusion CL{pct}")
            method = ("Delta chi2 to the minimum at each x" if r.get("exclusion_method") == "raster"
                      else "Delta chi2 to the global minimum")
            tr = f", y reported as {transform} = 4 y (1 - y)" if transform else ""
            finish(t, "exclusion", f"{pct}% CL exclusion limit{title} in the plane {pdesc}{tr}: for each {px} the "
                   f"value above which everything is excluded ({method}); '-' where nothing is excluded.",
                   [self.var(px, c["x"], ux, independent=True),
                    self.var(yname, ["-" if v is None else v for v in c["y"]], yunit, quals=quals)],
                   ["Exclusion limit"])
        g = rec.grid
        if g is None:
            return
        n = g["delta_chi2"].size
        quals = base + [("Result", RESULT_KINDS["grid"]), ("chi2 at the best fit", float(r["chi2_min"]))] + thresholds
        if n <= self.max_grid_points:
            nx, ny = g["x"].size, g["y"].size
            t = self.table(rec.name, "grid")
            finish(t, "grid", f"Delta chi2 = chi2 - chi2_min{title} on the scan grid in {pdesc}, {px} running "
                   f"fastest ({nx} x {ny} points).",
                   [self.var(px, g["x"].tolist() * ny, ux, independent=True),
                    self.var(py, [v for v in g["y"].tolist() for _ in range(nx)], uy, independent=True),
                    self.var("Delta chi2", g["delta_chi2"].reshape(-1).tolist(), quals=quals)])
        else:
            name = self.stage_file(rec.grid_file, f"{tag}.grid{rec.grid_file.suffix}")
            desc = (f"Delta chi2 grid of scan {rec.name} of {rec.analysis} ({n} points, {rec.grid_file.suffix} "
                    f"as written by cevns scan, docs/analysis-format.md)")
            self.sub.additional_resources.append({"description": desc, "location": name})
            best_table.add_additional_resource(desc, name)


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
        b = _Builder(hd, Path(tmp), images, int(max_grid_points))
        resolved_names = {}
        for name, rec in analyses.items():
            if rec.resolved_file is not None:
                fname = b.stage_file(rec.resolved_file, f"{_safe(name)}.analysis.resolved.json")
                resolved_names[name] = fname
                b.sub.additional_resources.append({"description": f"Resolved analysis document of {name}: every "
                                                   f"setting, experiment and nuisance (cevns {__version__})",
                                                   "location": fname})
        rfile = b.stage_file(Path(results_dir) / "results.json", "results.json")
        b.sub.additional_resources.append({"description": "results.json of the scans (cevns, "
                                           "docs/analysis-format.md)", "location": rfile})
        tags = set()
        for rec in records:
            tag = _safe(rec.name if len(analyses) == 1 else f"{rec.analysis}.{rec.name}")
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
            m = re.fullmatch(r"arXiv:(\S+)", ref.strip())
            b.sub.add_link(f"Reference: {ref}", f"https://arxiv.org/abs/{m.group(1)}" if m else ref)
        titles = "; ".join(f"{n}" + (f" ({r.title})" if r.title else "") for n, r in analyses.items())
        exps = "; ".join(dict.fromkeys(_experiments(r) for r in analyses.values()))
        b.sub.comment = (f"Confidence intervals, allowed regions and exclusion limits from CEvNS data, computed "
                         f"with the cevns toolkit {__version__} (Delta chi2 profiles of chi2 = -2 ln L, Wilks' "
                         f"theorem). Analyses: {titles}. Experiments: {exps}."
                         + (f" References: {', '.join(refs)}." if refs else ""))
        try:
            out.mkdir(parents=True, exist_ok=True)
            with contextlib.chdir(out):  # hepdata_lib packs submission.tar.gz into the working directory
                b.sub.create_files(str(sub_dir.resolve()), validate=False, remove_old=True)
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
