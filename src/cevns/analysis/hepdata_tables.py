"""The tables of a HEPData export (:mod:`cevns.analysis.hepdata`): one builder per submission.

Names (at most 64 characters, unique, also as data-file names), variables with units (``cevns
parameters``) and 17 significant digits, the qualifiers ``Result``, ``Analysis``, ``Scan``,
``Experiments``, ``dof``, ``CL`` and ``Delta chi2 threshold`` (``scipy.stats.chi2.ppf(CL, dof)``), and
the resources (resolved analysis, plots, thumbnails, large grid files) attached to each table.
"""

from __future__ import annotations

import re
import shutil
from decimal import Decimal
from pathlib import Path

from ..errors import ParameterError
from ..physics.parameters import spec_for
from .results_folder import ScanRecord

try:  # thumbnails of the scan plots (Pillow comes with matplotlib)
    from PIL import Image as _PILImage
except ModuleNotFoundError:  # pragma: no cover
    _PILImage = None

__all__ = ["RESULT_KINDS", "DIGITS", "cl_percent", "cl_key_from_percent", "TableBuilder", "scan_tag",
           "experiments_text"]

#: ``Result`` qualifier value of each kind of table.
RESULT_KINDS = {"profile": "Delta chi2 profile", "intervals": "allowed intervals", "contour": "allowed region boundary",
                "exclusion": "exclusion limit", "grid": "Delta chi2 grid", "best_fit": "best fit"}
#: Significant digits written (17: every double round-trips exactly).
DIGITS = 17
_REACTION = "NU NUCLEUS --> NU NUCLEUS"
_PHRASES = ["Coherent elastic neutrino-nucleus scattering", "CEvNS", "Neutrino", "Confidence level"]


def cl_percent(key: str) -> str:
    """Confidence level ``"0.9"`` (a results.json key) as a percent string ``"90"`` (exact, decimal)."""
    return format((Decimal(str(key)) * 100).normalize(), "f")


def cl_key_from_percent(pct) -> str:
    """Inverse of :func:`cl_percent`: ``"90"`` or ``90.0`` -> the results.json key ``"0.9"``.

    Parameters
    ----------
    pct : str or float
        Confidence level in percent.

    Returns
    -------
    str
        The confidence level as a fraction, formatted as in ``results.json``.
    """
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


def experiments_text(rec: ScanRecord) -> str:
    """``label (experiment; likelihood, data)`` of every experiment of the scan's analysis.

    Parameters
    ----------
    rec : ScanRecord
        A scan of a results folder (its resolved analysis document is used).

    Returns
    -------
    str
        Entries joined by ``"; "``, or a note that nothing was recorded.
    """
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


def scan_tag(s: str) -> str:
    """``s`` as a file-name stem: runs of characters other than letters, digits, ``._-`` become ``_``."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", s).strip("_") or "scan"


class TableBuilder:
    """Collects the tables of a submission with unique names and data-file names.

    Parameters
    ----------
    hd : module
        The ``hepdata_lib`` module.
    stage : pathlib.Path
        Staging folder for data files (images, resolved documents) copied into the submission.
    images : bool
        Attach each scan's PNG figure and a thumbnail to its tables.
    max_grid_points : int
        Largest 2D grid written as a full ``Delta chi^2`` table.
    """

    def __init__(self, hd, stage: Path, images: bool, max_grid_points: int):
        self.hd, self.stage, self.images, self.max_grid_points = hd, stage, images, max_grid_points
        self.sub = hd.Submission()
        self.names: set[str] = set()
        self.files: set[str] = set()
        self.tables: list[dict] = []

    # -- naming and files ------------------------------------------------------------------
    def unique_file(self, name: str) -> str:
        """A file name not used before in this submission (case-insensitive): ``name``, else ``stem-2.suffix``, ...

        Parameters
        ----------
        name : str
            Wanted file name.

        Returns
        -------
        str
            The name to use (recorded as taken).
        """
        base, n = name, 2
        while name.lower() in self.files:
            stem, dot, suf = base.partition(".")
            name = f"{stem}-{n}{dot}{suf}"
            n += 1
        self.files.add(name.lower())
        return name

    def stage_file(self, src: Path, name: str) -> str:
        """Copy a file into the staging folder under a unique name and list it for the submission.

        Parameters
        ----------
        src : pathlib.Path
            The file to copy.
        name : str
            Wanted file name in the submission.

        Returns
        -------
        str
            The file name used.
        """
        name = self.unique_file(name)
        shutil.copyfile(src, self.stage / name)
        self.sub.files_to_copy.append(str(self.stage / name))  # copied into the submission folder
        return name

    def table(self, scan: str, what: str):
        """A new table named ``"<scan> <what>"`` (at most 64 characters, made unique) added to the submission.

        Parameters
        ----------
        scan : str
            Scan name.
        what : str
            What the table holds (e.g. ``"best fit"``, ``"profile"``).

        Returns
        -------
        hepdata_lib.Table
        """
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
        """A HEPData variable (unbinned) with the submission's number of significant digits.

        Parameters
        ----------
        name : str
            Variable name (column header).
        values : iterable of float
            The values.
        units : str, optional
            Unit text (empty for dimensionless).
        independent : bool, optional
            Independent (x) rather than dependent (y) variable.
        quals : iterable of tuple, optional
            Qualifiers ``(name, value)`` added to the variable.

        Returns
        -------
        hepdata_lib.Variable
        """
        v = self.hd.Variable(name, is_independent=independent, is_binned=False, units=units)
        v.values = list(values)
        v.digits = DIGITS
        for q in quals:
            v.add_qualifier(*q)
        return v

    # -- one scan ----------------------------------------------------------------------------
    def add_scan(self, rec: ScanRecord, tag: str, resolved_name: str | None):
        """Add the tables of one scan: best fit, and the Delta chi^2 profile with intervals (1D) or the grid and
        contours (2D), each with the scan's qualifiers and resources.

        Parameters
        ----------
        rec : ScanRecord
            The scan (its ``results.json`` entry, grid and figure).
        tag : str
            File-name tag of the scan (data and image files).
        resolved_name : str or None
            File name of the analysis' resolved document in the submission, if staged.
        """
        r = rec.result
        base = [("Analysis", rec.analysis), ("Scan", rec.name), ("Experiments", experiments_text(rec)),
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
        exp_text = f" Experiments: {experiments_text(rec)}."

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
