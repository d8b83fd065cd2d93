"""Statistics on plain arrays and already-built experiments.

Cost functions and likelihood terms (:mod:`cevns.stats.cost`, :mod:`cevns.stats.likelihood`,
:mod:`cevns.stats.terms`), binned chi^2 with profiled nuisances (:mod:`cevns.stats.binned`,
:mod:`cevns.stats.profiling`, :mod:`cevns.stats.onoff`), the single-bin pull chi^2
(:mod:`cevns.stats.pulls`), template fits (:mod:`cevns.stats.binned_templates`,
:mod:`cevns.stats.template_fit`), grid scans and their executors (:mod:`cevns.stats.scan`,
:mod:`cevns.stats.executors`) and intervals, contours and exclusion curves from Delta chi^2 scans
(:mod:`cevns.stats.intervals`). Nothing here reads files or draws figures.
"""
