"""Plain per-point numerical integration of expected counts (the slow, independent reference).

For one physics point, integrates ``n_x dPhi/dE R(T) dsigma/dT`` with adaptive ``scipy.integrate.quad``
over the recoil energy and the neutrino energy, calling the cross sections of
:mod:`cevns.physics.cross_sections` directly. It shares no code with the kernel engine of
:mod:`cevns.engine.rates` beyond the flux nodes, the response function and the physics functions, and is used by
the tests and ``benchmarks/`` to check the engine and to measure its speed-up.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
from scipy import integrate

from ..physics import cross_sections as xs
from ..physics import kinematics
from ..physics.couplings import charge_radius_shift, nsi_charges, sm_vector_couplings
from ..physics.parameters import LEPTONS, PhysicsPoint
from ..sources.base import flavor_index


def _f(v) -> float:
    return float(np.atleast_1d(v)[0])


def total_counts_quad(experiment, params: Mapping | None = None, epsabs: float = 0.0, epsrel: float = 1e-6) -> float:
    """Total expected counts (all bins, all flavours) for one point by nested adaptive quadrature.

    Supports the SM, flavour-diagonal vector NSI, charge radii and magnetic moments (the parameters of
    the seed's counting analyses). Raises ``NotImplementedError`` for shape parameters it does not cover.

    Parameters
    ----------
    experiment : Experiment
        A loaded experiment.
    params : mapping, optional
        Physics parameters (scalars).
    epsabs, epsrel : float, optional
        Absolute [counts] and relative tolerances of :func:`scipy.integrate.quad`.
    """
    eng = experiment.engine
    pt = PhysicsPoint(params or {}, defaults=eng.defaults)
    if pt.size != 1:
        raise ValueError("the reference integrates one point at a time")
    for n in ("zprime_coupling", "scalar_coupling", "u_e4_sq", "u_mu4_sq", "u_tau4_sq"):
        if pt.nonzero(n):
            raise NotImplementedError(f"reference integration does not cover {n}")
    total = 0.0
    for k in eng.isotope_kernels:
        iso, m = k.isotope, k.mass_mev
        rp = k.proton_rms_fm
        rn = pt.get(f"rn_{iso.name}")
        rn = rp if rn is None else float(np.atleast_1d(rn)[0])
        resp_cache = {}

        def response(t_mev):
            key = float(t_mev)
            if key not in resp_cache:
                resp_cache[key] = float(eng.response.matrix(np.array([1e3 * t_mev]), iso.z).sum())
            return resp_cache[key]

        t_lo = 1e-3 * max(float(eng.response.threshold_kevnr(iso.z)), 1e-9)
        for comp in eng.fluxes:
            a = LEPTONS[flavor_index(comp.flavor)]
            gp, gn = sm_vector_couplings(_f(pt.get("sin2_theta_w")), eng.settings.coupling_scheme)
            dz, dn = nsi_charges(_f(pt.get(f"eps_{a}{a}_uV")), _f(pt.get(f"eps_{a}{a}_dV")))
            gp = float(gp + dz + charge_radius_shift(_f(pt.get(f"r2_nu_{a}"))))
            gn = float(gn + dn)
            mu = _f(pt.get(f"mu_nu_{a}"))

            def dsigma(e, t):
                q = kinematics.momentum_transfer_mev(t, m, exact=eng.settings.exact_momentum_transfer)
                fz = float(eng.form_factor(np.array([q]), rp)[0])
                fn = float(eng.form_factor(np.array([q]), rn)[0])
                val = xs.dsigma_dt_sm(e, t, m, iso.z, iso.n, gp, gn, fz, fn, eng.settings.kinematics)
                if mu:
                    val = val + xs.dsigma_dt_magnetic(e, t, m, iso.z, mu, fz)
                return float(val)

            bps = sorted(1e-3 * b for b in np.atleast_1d(eng.response.breakpoints_kevnr(iso.z, 1e6)))
            if comp.is_line:
                e0 = comp.energies_mev[0]
                t_hi = float(kinematics.t_max_mev(e0, m))
                pts = [b for b in bps if t_lo < b < t_hi]
                val, _ = integrate.quad(lambda t: response(t) * dsigma(e0, t), t_lo, t_hi, points=pts or None,
                                        limit=400, epsabs=epsabs, epsrel=epsrel)
                total += k.n_nuclei * comp.values[0] * val
                continue
            energies, values = comp.energies_mev, comp.values

            def inner(e):
                t_hi = float(kinematics.t_max_mev(e, m))
                if t_hi <= t_lo:
                    return 0.0
                pts = [b for b in bps if t_lo < b < t_hi]
                val, _ = integrate.quad(lambda t: response(t) * dsigma(e, t), t_lo, t_hi, points=pts or None,
                                        limit=200, epsabs=epsabs, epsrel=epsrel)
                return float(np.interp(e, energies, values)) * val

            e_lo = float(kinematics.e_min_mev(t_lo, m))
            val, _ = integrate.quad(inner, max(e_lo, energies[0]), energies[-1], limit=200, epsabs=epsabs,
                                    epsrel=epsrel)
            total += k.n_nuclei * val
    return total
