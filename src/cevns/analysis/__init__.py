"""Analysis files: load and validate (:mod:`.resolve`), the schema (:mod:`.schema`), build the likelihood
(:mod:`.build`), run the scans in resumable chunks (:mod:`.run`, :mod:`.chunks`) and write the outputs
(:mod:`.outputs`)."""

from .build import build_likelihood, make_grid, scan_inputs
from .chunks import compute_scan, remove_partials, scan_hash
from .outputs import resolved_document, write_scan_csv, write_scan_npz
from .resolve import clear_experiment_cache, get_experiment, load_analysis
from .run import (MemoryBudgetError, check_memory, default_memory_budget, estimate_memory, run_analysis,
                  run_scan)
from .schema import (LIKELIHOODS, SCHEMA_VERSION, Y_TRANSFORMS, AnalysisSpec, ExperimentEntry, ProfileSpec,
                     ScanSpec, SystematicEntry, likelihood_kinds, profile_axes, scan_axes, y_transform)

__all__ = [
    "SCHEMA_VERSION", "LIKELIHOODS", "Y_TRANSFORMS", "AnalysisSpec", "ExperimentEntry", "ScanSpec", "ProfileSpec",
    "SystematicEntry", "load_analysis", "run_analysis", "run_scan", "scan_axes", "profile_axes", "y_transform",
    "likelihood_kinds", "build_likelihood", "make_grid", "scan_inputs", "compute_scan", "remove_partials",
    "scan_hash", "resolved_document", "write_scan_csv", "write_scan_npz", "get_experiment",
    "clear_experiment_cache", "estimate_memory", "check_memory", "default_memory_budget", "MemoryBudgetError",
]
