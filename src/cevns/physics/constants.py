"""Physical constants in natural units (hbar = c = 1), energies in MeV.

Values: CODATA 2018 / PDG 2022 (see ``shared/PHYSICS.md`` section "Units").
"""

import scipy.constants as _sc

#: Fermi constant G_F [MeV^-2] (PDG: 1.1663787e-5 GeV^-2).
G_F_MEV2 = 1.1663787e-11
#: Fine-structure constant alpha (CODATA 2018).
ALPHA = 1.0 / 137.035999084
#: Electron mass [MeV].
M_E_MEV = 0.51099895
#: Charged-pion mass [MeV] (PDG).
M_PI_MEV = 139.57039
#: Muon mass [MeV] (PDG).
M_MU_MEV = 105.6583755
#: Proton mass [MeV].
M_P_MEV = 938.27208816
#: Neutron mass [MeV].
M_N_MEV = 939.56542052
#: Atomic mass unit [MeV] (CODATA 2018: 931.49410242 MeV).
AMU_MEV = 931.49410242
#: hbar*c [MeV fm].
HBARC_MEV_FM = 197.3269804
#: hbar*c [MeV cm].
HBARC_MEV_CM = HBARC_MEV_FM * 1e-13
#: (hbar*c)^2 [MeV^2 cm^2]: multiply a cross section in MeV^-2 by this to get cm^2.
HBARC2_MEV2_CM2 = HBARC_MEV_CM**2
#: Avogadro constant [1/mol].
N_AVOGADRO = _sc.Avogadro
#: Muon lifetime [us] (PDG).
MU_LIFETIME_US = 2.1969811
#: Proton rms charge radius [fm] (CODATA 2018, muonic hydrogen).
PROTON_RMS_RADIUS_FM = 0.8409
#: Seconds per day.
SECONDS_PER_DAY = 86400.0
#: Seconds per (Julian) year.
SECONDS_PER_YEAR = 365.25 * 86400.0
#: Oscillation phase constant: phase = OSC_PHASE * dm2[eV^2] * L[m] / E[MeV].
OSC_PHASE = 1.26693
#: MeV per joule, for reactor power -> fission rate.
MEV_PER_JOULE = 1.0 / (_sc.e * 1e6)
