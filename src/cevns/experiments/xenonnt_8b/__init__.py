"""XENONnT solar-8B CEvNS: the published data release (reader, derived templates) and the expected counts.

The likelihood fit is in :mod:`cevns.stats.template_fit` (the statistics layer sits above experiments).
"""
