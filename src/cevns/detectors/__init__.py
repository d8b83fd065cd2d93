"""Detector models: quenching, efficiency, smearing and the response matrix from true recoil [keVnr] to
the observable bins (keVee, PE, ...)."""
