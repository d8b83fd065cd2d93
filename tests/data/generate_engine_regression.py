"""Generate tests/data/engine_regression.json from the engine of commit f4e87a4 + the charge-radius fix (commit 73275f8, branch h1).

Run with PYTHONPATH pointing at that tree. The CsI settings got detector_spread_m = 0.0 afterwards (the
setting did not exist then; 0 reproduces the old behaviour); see the "note" in the JSON file.
"""
import json, sys
import numpy as np
from cevns.experiments import load_experiment

POINTS = {
    "sm": {},
    "weak_angle": {"sin2_theta_w": [0.22, 0.2312, 0.245]},
    "vector_nsi": {"eps_ee_uV": [0.1, -0.3, 0.0], "eps_mumu_dV": [0.05, 0.0, 0.2], "eps_emu_uV": [0.0, 0.1, 0.3],
                   "eps_etau_dV": [0.02, 0.0, -0.1]},
    "tensor_nsi": {"eps_ee_uT": [0.1, 0.0, 0.3], "eps_mumu_dT": [0.0, 0.2, -0.1], "eps_emu_uT": [0.05, 0.0, 0.0]},
    "magnetic_moment": {"mu_nu": [1e-9, 5e-9, 0.0], "mu_nu_e": [0.0, 2e-9, 3e-9]},
    "charge_radius": {"r2_nu_e": [1e-32, -3e-32, 0.0], "r2_nu_mu": [0.0, 2e-32, -1e-32]},
    "neutron_radius": {"rn": [4.5, 5.5, 6.2]},
    "sterile": {"u_e4_sq": [0.1, 0.0, 0.3], "u_mu4_sq": [0.05, 0.2, 0.0], "dm41_sq": [0.5, 3.0, 700.0]},
    "zprime": {"zprime_coupling": [1e-5, -2e-5, 0.0], "zprime_mass": [10.0, 50.0, 1000.0]},
    "scalar": {"scalar_coupling": [1e-5, 3e-6, 0.0], "scalar_mass": [5.0, 30.0, 100.0]},
    "mixed": {"sin2_theta_w": 0.238, "eps_ee_dV": [0.1, 0.2, 0.0], "rn": [5.0, 5.0, 5.6], "mu_nu_mu": 1e-9,
              "eps_mumu_uT": 0.05, "zprime_coupling": [1e-5, 0.0, 2e-5], "zprime_mass": 20.0,
              "scalar_coupling": [0.0, 1e-5, 1e-5], "scalar_mass": 10.0, "u_mu4_sq": [0.0, 0.1, 0.1],
              "dm41_sq": 2.0, "r2_nu_e": 1e-32},
}
EXPERIMENTS = {
    "csi_nospread": ("coherent-csi-2017", {"baseline_spread_m": 0.0}),
    "csi_spread": ("coherent-csi-2017", {"baseline_spread_m": 0.7, "sterile_treatment": "nc_appearance"}),
    "conus_nospread": ("conus", {"baseline_spread_m": 0.0}),
    "nai_nospread": ("coherent-nai", {"baseline_spread_m": 0.0, "kinematics": "full"}),
}
out = {"generated_by": "engine of commit f4e87a4 with the charge-radius fix (issue 8 item 1)", "points": POINTS,
       "experiments": {k: list(v) for k, v in EXPERIMENTS.items()}, "counts": {}}
for ek, (name, settings) in EXPERIMENTS.items():
    exp = load_experiment(name, settings=settings)
    for pk, p in POINTS.items():
        out["counts"][f"{ek}/{pk}"] = exp.engine.predict(p).counts.tolist()
json.dump(out, open(sys.argv[1], "w"))
