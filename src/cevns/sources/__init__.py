"""Neutrino sources: spallation (pion decay at rest) with its beam timing, reactors, the Sun and tabulated
fluxes, as fluences [cm^-2] on energy nodes [MeV]."""
