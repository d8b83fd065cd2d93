"""Pure physics functions: constants, nuclei, kinematics, form factors, couplings, cross sections."""
