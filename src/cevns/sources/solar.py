"""Solar 8B and hep neutrinos at Earth: spectra, standard-solar-model fluxes, MSW flavour composition.

Spectrum shapes (normalised to 1 per MeV):

* 8B: the table of J. N. Bahcall et al., Phys. Rev. C 54, 411 (1996) (best, +3 sigma, -3 sigma shapes),
  shipped verbatim in ``data/solar/`` (see its PROVENANCE.md). Mean energy 6.735 MeV (same paper).
* hep (3He + p -> 4He + e+ + nu_e): no table is shipped; the allowed beta-decay shape with endpoint
  E_0 = 18.77 MeV is used (Bahcall, *Neutrino Astrophysics*, CUP 1989, sec. 6.1 and Table 6.5)::

      dN/dE  ~  E^2 W p F(2, W),   W = E_0 - E + m_e (positron total energy), p = sqrt(W^2 - m_e^2),

  with the non-relativistic Fermi function F(Z, W) = 2 pi eta / (1 - exp(-2 pi eta)),
  eta = -Z alpha W / p for a positron on the Z = 2 daughter.

Fluxes at 1 AU from the B16 standard solar models, N. Vinyoles et al., ApJ 835, 202 (2017),
arXiv:1611.09867, Table 6: B16-GS98 8B 5.46e6 (1 +- 0.12), hep 7.98e3 (1 +- 0.30); B16-AGSS09met
8B 4.50e6 (1 +- 0.12), hep 8.25e3 (1 +- 0.30) cm^-2 s^-1.

Flavour composition at Earth: three-flavour MSW in the adiabatic approximation. A nu_e produced at
radius r leaves the Sun as the incoherent mixture of mass states with weights |U^m_ei(r)|^2 (matter
mixing angles at the production point); at Earth

    P(nu_e -> nu_a) = sum_i |U^m_ei(r)|^2 |U_ai|^2,
    |U^m_e1|^2 = cos^2 th13m cos^2 th12m,  |U^m_e2|^2 = cos^2 th13m sin^2 th12m,  |U^m_e3|^2 = sin^2 th13m,
    cos 2 th12m = (cos 2 th12 - b12) / sqrt((cos 2 th12 - b12)^2 + sin^2 2 th12),  b12 = 2 E V cos^2 th13 / dm21^2,
    cos 2 th13m = (cos 2 th13 - b13) / sqrt((cos 2 th13 - b13)^2 + sin^2 2 th13),  b13 = 2 E V / dm31^2,

with V = sqrt(2) G_F n_e(r) (e.g. E. Akhmedov, hep-ph/9910433; Particle Data Group review "Neutrino
mixing", sec. 14.9). Limits: P_ee -> cos^4 th13 (1 - sin^2 2th12 / 2) + sin^4 th13 at low energy,
-> sin^2 th12 cos^4 th13 + sin^4 th13 (up to the th13 matter correction) at high energy.
Electron density: n_e(r) = 245 N_A cm^-3 exp(-10.54 r / R_sun) (Bahcall, *Neutrino Astrophysics*,
eq. 6.6). P is averaged over the production region, approximated by a Gaussian in r (truncated at
r >= 0): 8B centred at 0.045 R_sun, width 0.017 R_sun; hep centred at 0.10 R_sun, width 0.05 R_sun
(approximating the production profiles of Bahcall, Serenelli & Basu, ApJ 621, L85 (2005)).
The day/night (Earth-matter regeneration) effect is neglected (a ~3% effect on P_ee of 8B).
Oscillation parameters: NuFIT 5.0, normal ordering with SK atmospheric data, I. Esteban et al.,
JHEP 09 (2020) 178, arXiv:2007.14792.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from ..physics.constants import ALPHA, G_F_MEV2, HBARC_MEV_CM, M_E_MEV, N_AVOGADRO
from .base import FluxComponent

DATA_DIR = Path(__file__).parent / "data" / "solar"
B8_TABLE = DATA_DIR / "b8_spectrum_bahcall1996.txt"
#: Columns of the 8B table (after the energy column).
B8_SHAPES = {"best": 1, "plus3sigma": 2, "minus3sigma": 3}

#: Endpoint of the hep neutrino spectrum [MeV] (Bahcall 1989, Table 6.5).
HEP_ENDPOINT_MEV = 18.77
#: Published mean energies [MeV]: 8B Bahcall et al. PRC 54, 411 (1996); hep Bahcall 1989 Table 6.5.
PUBLISHED_MEAN_ENERGY_MEV = {"8B": 6.735, "hep": 9.628}

#: Fluxes at Earth [cm^-2 s^-1] and relative 1-sigma uncertainties, Vinyoles et al. 2017 Table 6.
SOLAR_MODELS = {
    "B16-GS98": {"8B": (5.46e6, 0.12), "hep": (7.98e3, 0.30)},
    "B16-AGSS09met": {"8B": (4.50e6, 0.12), "hep": (8.25e3, 0.30)},
}
COMPONENTS = ("8B", "hep")

#: Production-region Gaussian (centre, width) in units of R_sun (see module docstring).
PRODUCTION_REGION = {"8B": (0.045, 0.017), "hep": (0.10, 0.05)}

#: Astronomical unit [m] (for oscillation baselines).
AU_M = 1.495978707e11

#: sqrt(2) G_F n_e in eV for n_e = 1 cm^-3.
_V_EV_PER_CM3 = math.sqrt(2.0) * G_F_MEV2 * HBARC_MEV_CM**3 * 1e6


@dataclass(frozen=True)
class OscillationParameters:
    """Three-flavour oscillation parameters (angles as sin^2, mass splittings in eV^2, phase in degrees).

    Default: NuFIT 5.0 best fit, normal ordering, with SK atmospheric data (arXiv:2007.14792).

    Attributes
    ----------
    sin2_theta12, sin2_theta13, sin2_theta23 : float
        Mixing angles as sin^2 (dimensionless).
    delta_cp_deg : float
        CP phase [degrees].
    dm21_sq_ev2, dm31_sq_ev2 : float
        Mass splittings [eV^2].
    """

    sin2_theta12: float = 0.304
    sin2_theta13: float = 0.02219
    sin2_theta23: float = 0.573
    delta_cp_deg: float = 197.0
    dm21_sq_ev2: float = 7.42e-5
    dm31_sq_ev2: float = 2.517e-3

    def __post_init__(self):
        for name in ("sin2_theta12", "sin2_theta13", "sin2_theta23"):
            v = getattr(self, name)
            if not (math.isfinite(v) and 0.0 < v < 1.0):
                raise ConfigError(f"OscillationParameters.{name} must be in (0, 1), got {v}")
        for name in ("dm21_sq_ev2", "dm31_sq_ev2"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v > 0):
                raise ConfigError(f"OscillationParameters.{name} must be positive, got {v}")

    def pmns_abs2(self) -> np.ndarray:
        """|U_ai|^2, shape (3 flavours e, mu, tau; 3 mass states), standard PDG parametrisation."""
        s12, s13, s23 = (math.sqrt(x) for x in (self.sin2_theta12, self.sin2_theta13, self.sin2_theta23))
        c12, c13, c23 = (math.sqrt(1 - x) for x in (self.sin2_theta12, self.sin2_theta13, self.sin2_theta23))
        ed = complex(math.cos(math.radians(self.delta_cp_deg)), math.sin(math.radians(self.delta_cp_deg)))
        u = np.array([
            [c12 * c13, s12 * c13, s13 / ed],
            [-s12 * c23 - c12 * s23 * s13 * ed, c12 * c23 - s12 * s23 * s13 * ed, s23 * c13],
            [s12 * s23 - c12 * c23 * s13 * ed, -c12 * s23 - s12 * c23 * s13 * ed, c23 * c13],
        ])
        return np.abs(u) ** 2


NUFIT_5_0 = OscillationParameters()


def _check_component(component: str) -> str:
    if component not in COMPONENTS:
        raise ConfigError(f"unknown solar neutrino component {component!r}; expected one of {COMPONENTS}")
    return component


def b8_spectrum(shape: str = "best"):
    """The 8B neutrino spectrum shape of Bahcall et al. (1996), normalised to 1.

    Parameters
    ----------
    shape : {"best", "plus3sigma", "minus3sigma"}

    Returns
    -------
    energies_mev, pdf_per_mev : ndarray
        Table nodes (0 prepended) and dN/dE [MeV^-1] with trapezoidal integral 1.
    """
    if shape not in B8_SHAPES:
        raise ConfigError(f"unknown 8B spectrum shape {shape!r}; expected one of {tuple(B8_SHAPES)}")
    table = np.loadtxt(B8_TABLE)
    e = np.concatenate([[0.0], table[:, 0]])
    v = np.concatenate([[0.0], table[:, B8_SHAPES[shape]]])
    return e, v / np.trapezoid(v, e)


def hep_spectrum(n_energy: int = 800):
    """Allowed beta-spectrum shape of hep neutrinos (endpoint 18.77 MeV; Bahcall 1989), normalised to 1.

    dN/dE ~ E^2 W p F(2, W), W = E_0 - E + m_e, p = sqrt(W^2 - m_e^2), F the non-relativistic Fermi
    function for a positron (see module docstring).

    Parameters
    ----------
    n_energy : int, optional
        Number of uniform energy nodes from 0 to the endpoint.

    Returns
    -------
    energies_mev, pdf_per_mev : ndarray
    """
    e = np.linspace(0.0, HEP_ENDPOINT_MEV, int(n_energy))
    w = HEP_ENDPOINT_MEV - e + M_E_MEV
    p = np.sqrt(np.maximum(w**2 - M_E_MEV**2, 0.0))
    # F = 2 pi eta / (1 - exp(-2 pi eta)), 2 pi eta = x = -2 pi Z alpha W / p < 0 for a positron
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        x = -2.0 * math.pi * 2 * ALPHA * w / p
        fermi = np.where(p > 0, x / -np.expm1(-x), 0.0)
    v = e**2 * w * p * fermi
    v[-1] = 0.0
    return e, v / np.trapezoid(v, e)


def spectrum(component: str, shape: str = "best"):
    """Normalised spectrum (energies [MeV], dN/dE [MeV^-1]) of ``"8B"`` or ``"hep"``.

    8B: Bahcall et al. 1996 table; hep: :func:`hep_spectrum`.

    Parameters
    ----------
    component : {"8B", "hep"}
        Solar neutrino component.
    shape : str, optional
        8B shape variant (``"best"`` or a +-1 sigma variant); ignored for hep.
    """
    if _check_component(component) == "8B":
        return b8_spectrum(shape)
    return hep_spectrum()


def mean_energy_mev(component: str) -> float:
    """Mean neutrino energy [MeV] of the shipped spectrum shape (6.735 MeV for 8B, Bahcall et al. 1996).

    Parameters
    ----------
    component : {"8B", "hep"}
        Solar neutrino component.
    """
    e, v = spectrum(component)
    return float(np.trapezoid(e * v, e))


def ssm_flux(component: str, model: str = "B16-GS98"):
    """Total flux at Earth [cm^-2 s^-1] and its relative 1-sigma uncertainty (Vinyoles et al. 2017).

    Parameters
    ----------
    component : {"8B", "hep"}
        Solar neutrino component.
    model : str, optional
        Standard solar model, a key of :data:`SOLAR_MODELS`.

    Returns
    -------
    flux_per_cm2_s, relative_uncertainty : float

    Examples
    --------
    >>> ssm_flux("8B")
    (5460000.0, 0.12)
    """
    _check_component(component)
    if model not in SOLAR_MODELS:
        raise ConfigError(f"unknown solar model {model!r}; expected one of {tuple(SOLAR_MODELS)}")
    return SOLAR_MODELS[model][component]


def electron_density_per_cm3(r_over_rsun):
    """n_e(r) = 245 N_A exp(-10.54 r / R_sun) [cm^-3] (Bahcall 1989, eq. 6.6).

    Parameters
    ----------
    r_over_rsun : float or ndarray
        Radius in units of the solar radius (dimensionless).
    """
    return 245.0 * N_AVOGADRO * np.exp(-10.54 * np.asarray(r_over_rsun, dtype=float))


def _matter_cos2(cos2, sin2_2, beta):
    return (cos2 - beta) / np.sqrt((cos2 - beta) ** 2 + sin2_2)


def flavor_probabilities_at(energies_mev, n_e_per_cm3, osc: OscillationParameters = NUFIT_5_0):
    """P(nu_e -> nu_a), a = e, mu, tau, for nu_e produced at electron density n_e (adiabatic MSW).

    Formulas of the module docstring (Akhmedov, hep-ph/9910433).

    Parameters
    ----------
    energies_mev : array_like
        Neutrino energies [MeV].
    n_e_per_cm3 : float or array_like
        Electron density at production [cm^-3] (broadcast against the energies).
    osc : OscillationParameters

    Returns
    -------
    ndarray, shape (3,) + broadcast shape
        Probabilities for e, mu, tau; they sum to 1.
    """
    e_ev = np.asarray(energies_mev, dtype=float) * 1e6
    a_ev2 = 2.0 * e_ev * _V_EV_PER_CM3 * np.asarray(n_e_per_cm3, dtype=float)  # 2 E V [eV^2]
    s13, s12 = osc.sin2_theta13, osc.sin2_theta12
    c2_13m = _matter_cos2(1 - 2 * s13, 4 * s13 * (1 - s13), a_ev2 / osc.dm31_sq_ev2)
    c2_12m = _matter_cos2(1 - 2 * s12, 4 * s12 * (1 - s12), a_ev2 * (1 - s13) / osc.dm21_sq_ev2)
    c13m_sq, s13m_sq = 0.5 * (1 + c2_13m), 0.5 * (1 - c2_13m)
    c12m_sq, s12m_sq = 0.5 * (1 + c2_12m), 0.5 * (1 - c2_12m)
    w = np.stack([c13m_sq * c12m_sq, c13m_sq * s12m_sq, s13m_sq])  # |U^m_ei|^2
    u2 = osc.pmns_abs2()
    return np.tensordot(u2, w, axes=(1, 0))


def flavor_probabilities(energies_mev, component: str = "8B", osc: OscillationParameters = NUFIT_5_0,
                         n_radius: int = 64):
    """P(nu_e -> nu_a) at Earth averaged over the production region of ``component``.

    Adiabatic MSW of :func:`flavor_probabilities_at`, weighted by the production profile (Bahcall 1989).

    Parameters
    ----------
    energies_mev : array_like
        Neutrino energies [MeV].
    component : {"8B", "hep"}
    osc : OscillationParameters
    n_radius : int
        Radial quadrature nodes over centre +- 5 widths (truncated at r >= 0).

    Returns
    -------
    ndarray, shape (3, n_energy)
        Probabilities for e, mu, tau (sum to 1 at every energy).
    """
    r0, sig = PRODUCTION_REGION[_check_component(component)]
    r = np.linspace(max(0.0, r0 - 5 * sig), r0 + 5 * sig, int(n_radius))
    weight = np.exp(-0.5 * ((r - r0) / sig) ** 2)
    weight /= weight.sum()
    e = np.atleast_1d(np.asarray(energies_mev, dtype=float))
    p = flavor_probabilities_at(e[:, None], electron_density_per_cm3(r)[None, :], osc)  # (3, nE, nr)
    return p @ weight


def survival_probability(energies_mev, component: str = "8B", osc: OscillationParameters = NUFIT_5_0):
    """Production-averaged electron-neutrino survival probability P_ee(E) at Earth.

    The e-row of :func:`flavor_probabilities` (adiabatic MSW, module docstring).

    Parameters
    ----------
    energies_mev : float or ndarray
        Neutrino energy E [MeV].
    component : {"8B", "hep"}
        Component whose production region is averaged over.
    osc : OscillationParameters, optional
        Oscillation parameters (default NuFIT 5.0).

    Returns
    -------
    ndarray
        P_ee(E), dimensionless.
    """
    return flavor_probabilities(energies_mev, component, osc)[0]


def solar_flux(components=("8B",), model: str = "B16-GS98", exposure_s: float = 1.0,
               osc: OscillationParameters = NUFIT_5_0, flux_scale=None, shape: str = "best"):
    """Per-flavour solar neutrino fluence at Earth as :class:`FluxComponent` objects.

    Parameters
    ----------
    components : sequence of {"8B", "hep"}
    model : {"B16-GS98", "B16-AGSS09met"}
        Standard solar model of the total fluxes.
    exposure_s : float
        Live time [s]; the fluence is flux x exposure_s (1 s: the flux itself, in cm^-2 s^-1 MeV^-1).
    osc : OscillationParameters
    flux_scale : mapping component -> float, optional
        Multiplies the SSM flux of a component (a flux normalisation nuisance).
    shape : str
        8B spectrum shape (see :func:`b8_spectrum`).

    Returns
    -------
    list of FluxComponent
        For each component, nu_e, nu_mu and nu_tau (in this order). nu_mu + nu_tau carry
        (1 - P_ee) of the flux; for the Standard Model neutral current they act alike.
    """
    if not (math.isfinite(float(exposure_s)) and exposure_s > 0):
        raise ConfigError(f"exposure_s must be positive, got {exposure_s!r}")
    scale = dict(flux_scale or {})
    for k, v in scale.items():
        _check_component(k)
        if not (math.isfinite(float(v)) and v >= 0):
            raise ConfigError(f"flux_scale[{k!r}] must be finite and >= 0, got {v!r}")
    out = []
    for comp in components:
        _check_component(comp)
        e, pdf = spectrum(comp, shape)
        flux, _ = ssm_flux(comp, model)
        probs = flavor_probabilities(e, comp, osc)
        norm = flux * scale.get(comp, 1.0) * float(exposure_s)
        for i, fl in enumerate(("nu_e", "nu_mu", "nu_tau")):
            out.append(FluxComponent(fl, e, norm * pdf * probs[i]))
    return out
