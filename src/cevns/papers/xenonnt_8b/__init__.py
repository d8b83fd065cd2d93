"""XENONnT solar-8B CEvNS reproduction (``cevns reproduce xenonnt-8b``): analysis files, figures.toml and the
flux-measurement headline (:mod:`cevns.papers.xenonnt_8b.headline`)."""
