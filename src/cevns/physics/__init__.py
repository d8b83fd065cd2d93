"""Pure physics functions: constants, nuclei, kinematics, form factors, couplings, cross sections,
oscillations, and the registry of physics models (:mod:`cevns.physics.models`)."""
