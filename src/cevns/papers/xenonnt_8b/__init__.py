"""The ``xenonnt-8b`` paper: XENONnT solar-8B CEvNS, flux measurement and vector NSI with COHERENT.

Reproduces XENON, PRL 133, 191002 (2024), arXiv:2408.02877 (SR0+SR1) and extends it to SR0-SR2
(arXiv:2604.06002) with the collaboration's data release. The folder holds the paper's ``figures.toml``
(format: :mod:`cevns.papers.registry`), its analysis files (``nsi_xenonnt.toml``, ``nsi_coherent.toml``,
``nsi_combined.toml``: 90% CL vector-NSI regions) and :mod:`cevns.papers.xenonnt_8b.headline`, the 8B flux
fits run after the analyses (registered in :data:`cevns.papers.extras.PAPER_EXTRAS`).
"""
