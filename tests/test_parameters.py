"""Tests of cevns.physics.parameters: names, aliases, domains, broadcasting."""

import math

import numpy as np
import pytest

from cevns.errors import ParameterError
from cevns.physics.parameters import PARAMETERS, PhysicsPoint, canonical_name, is_parameter, spec_for


def _v(x):
    return float(np.atleast_1d(x)[0])


def test_unknown_name_suggests():
    with pytest.raises(ParameterError, match="unknown parameter 'sin2_thetaw'.*did you mean sin2_theta_w"):
        PhysicsPoint({"sin2_thetaw": 0.23})
    with pytest.raises(ParameterError, match="eps_ee_uV"):
        spec_for("eps_ee_Uv")
    assert not is_parameter("mass_of_everything")


def test_flavour_changing_alias():
    assert canonical_name("eps_mue_uV") == "eps_emu_uV"
    assert canonical_name("eps_taue_dT") == "eps_etau_dT"
    pt = PhysicsPoint({"eps_mue_uV": 0.3})
    assert _v(pt.get("eps_emu_uV")) == 0.3
    assert _v(pt.get("eps_mue_uV")) == 0.3
    assert spec_for("eps_mue_uV") is spec_for("eps_emu_uV")
    # both spellings at once would silently drop one of them
    with pytest.raises(ParameterError, match="given twice"):
        PhysicsPoint({"eps_mue_uV": 0.3, "eps_emu_uV": 0.1})


@pytest.mark.parametrize("name,value,what", [
    ("dm41_sq", -1.0, "outside its physical domain"),
    ("zprime_mass", -5.0, "outside"),
    ("zprime_mass", 0.0, "outside"),
    ("scalar_mass", -1.0, "outside"),
    ("u_e4_sq", 1.5, "outside"),
    ("u_mu4_sq", -0.1, "outside"),
    ("rn", -4.0, "outside"),
    ("rn_Cs133", 0.0, "outside"),
    ("mu_nu", -1e-10, "outside"),
    ("sin2_theta_w", 1.0, "outside"),
    ("eps_ee_uV", math.nan, "finite"),
    ("eps_ee_uV", math.inf, "finite"),
    ("dm41_sq", np.array([1.0, math.nan]), "finite"),
])
def test_domain_errors(name, value, what):
    with pytest.raises(ParameterError, match=f"{name}.*{what}"):
        PhysicsPoint({name: value})


def test_domain_message_names_the_domain():
    with pytest.raises(ParameterError) as err:
        PhysicsPoint({"u_e4_sq": 1.2})
    msg = str(err.value)
    assert "u_e4_sq" in msg and "1.2" in msg and "[0, 1]" in msg


def test_sterile_mixing_sum():
    PhysicsPoint({"u_e4_sq": 0.5, "u_mu4_sq": 0.5})  # allowed: sum = 1
    with pytest.raises(ParameterError, match="must not exceed 1"):
        PhysicsPoint({"u_e4_sq": 0.6, "u_mu4_sq": 0.3, "u_tau4_sq": 0.2})
    with pytest.raises(ParameterError, match="must not exceed 1"):
        PhysicsPoint({"u_e4_sq": [0.1, 0.7], "u_mu4_sq": 0.4})


def test_isotope_radius_names():
    PhysicsPoint({"rn_Cs133": 5.5, "rn_I127": 5.3})
    assert is_parameter("rn_Ge76")
    for bad in ("rn_Xx999", "rn_Cs999", "rn_cs133"):
        with pytest.raises(ParameterError, match="unknown parameter"):
            PhysicsPoint({bad: 5.0})


def test_isotope_radius_falls_back_to_rn():
    pt = PhysicsPoint({"rn": 5.1, "rn_Cs133": 5.6})
    assert _v(pt.get("rn_Cs133")) == 5.6
    assert _v(pt.get("rn_I127")) == 5.1
    assert PhysicsPoint({}).get("rn_I127") is None


def test_array_lengths():
    pt = PhysicsPoint({"eps_ee_uV": np.linspace(0, 1, 5), "rn": 5.0, "dm41_sq": [2.0]})
    assert pt.size == 5
    with pytest.raises(ParameterError, match="incompatible lengths"):
        PhysicsPoint({"eps_ee_uV": np.zeros(5), "eps_ee_dV": np.zeros(4)})
    with pytest.raises(ParameterError, match="1-D"):
        PhysicsPoint({"eps_ee_uV": np.zeros((2, 2))})
    with pytest.raises(ParameterError, match="must be a number"):
        PhysicsPoint({"eps_ee_uV": "large"})


def test_defaults_and_experiment_defaults():
    pt = PhysicsPoint({}, defaults={"sin2_theta_w": 0.2387})
    assert pt.get("sin2_theta_w") == 0.2387
    assert PhysicsPoint({}).get("sin2_theta_w") == PARAMETERS["sin2_theta_w"].default
    # per-flavour magnetic moments default to the common one
    pt = PhysicsPoint({"mu_nu": 2e-10, "mu_nu_e": 5e-10})
    assert _v(pt.get("mu_nu_e")) == 5e-10 and _v(pt.get("mu_nu_mu")) == 2e-10
    with pytest.raises(ParameterError, match="scalar"):
        PhysicsPoint({}, defaults={"sin2_theta_w": [0.23, 0.24]})


def test_varies_and_nonzero_with_arrays():
    pt = PhysicsPoint({"zprime_coupling": [0.0, 1e-6, 0.0], "rn": [5.0, 5.0, 5.0], "u_e4_sq": [0.0, 0.0, 0.0]})
    assert pt.nonzero("zprime_coupling")
    assert not pt.nonzero("u_e4_sq")
    assert not pt.nonzero("scalar_coupling")
    assert not pt.varies("rn")
    assert PhysicsPoint({"rn": [5.0, 5.5]}).varies("rn")


def test_every_fixed_parameter_documented():
    for name, spec in PARAMETERS.items():
        assert spec.name == name
        assert spec.unit and spec.description and spec.reference
        assert spec.lower <= spec.upper
