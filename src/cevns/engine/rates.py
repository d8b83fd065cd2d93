"""The rate engine: precomputed kernels -> expected counts for many physics points at once.

Expected counts in observed bin b for flux component f (PHYSICS.md section 6)::

    N_fb = sum_x n_x  int dT  R_xb(T)  int_{E_min(T)} dE  dPhi_f/dE P_f(E)  dsigma_x/dT(E, T)

Every cross section is ``(c0 + c1/E + c2/E^2) |Q|^2`` (:func:`cevns.physics.cross_sections.energy_coefficients`),
so the energy integral is a sum of flux moments (:mod:`cevns.engine.kernels`). The recoil integral uses
composite Gauss-Legendre nodes between break points (every line's T_max, the response's discontinuities).

The physics comes from the registered models (:mod:`cevns.physics.models`): for each flavour, each model
returns kernel terms ``kin_kind(E, T) |sum_i (Z F_Z c_z,i + N F_N c_n,i) s_i(T)|^2`` and flux modifiers
``P(E) = 1 - A D(E)``. The counts are then a quadratic form in the coefficients (c_z, c_n) per point,

    N_f = sum_pairs c_j c_l K_jl - sum_modifiers A (sum_pairs c_j c_l K^osc_jl),

with kernels ``K`` that depend only on the *shape values* of the point (neutron radii, mediator masses,
dm41^2). Points are grouped by those values, each distinct set's kernels are computed once and kept in
a bounded cache on the engine (across calls and chunks, independent of the order of the points), and
each group is evaluated as a matrix product. When nothing shape-changing varies, there is one group.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from ..physics import form_factors, kinematics, nuclei
from ..physics.constants import HBARC2_MEV2_CM2
from ..physics.cross_sections import energy_coefficients
from ..physics.oscillation import averaged_sin2
from ..physics.parameters import PhysicsPoint
from ..physics.settings import PhysicsSettings, default_baseline_spread_m
from ..sources.base import FluxComponent
from .kernels import ComponentMoments, IsotopeKernel, gauss_legendre_grid, tail_integration_weights
from .quadratic import NO_SHAPE, Block, flavor_plan, group_points, quadratic_form, quadratic_form_rows

__all__ = ["Prediction", "RateEngine", "Target", "averaged_sin2", "gauss_legendre_grid",
           "tail_integration_weights"]

#: Bound on the number of cached kernels per block signature (each a few hundred bytes).
KERNEL_CACHE_SIZE = 20000
#: Distinct shape values whose kernels are computed together (bounds the temporary arrays).
KERNEL_BATCH = 128


@dataclass(frozen=True)
class Target:
    """A target isotope and its number of nuclei in the detector.

    Attributes
    ----------
    isotope : Isotope
        The target nucleus.
    n_nuclei : float
        Number of nuclei in the detector (dimensionless).
    """

    isotope: "nuclei.Isotope"
    n_nuclei: float


@dataclass
class Prediction:
    """Expected counts for a set of physics points.

    Attributes
    ----------
    counts : ndarray, shape (n_points, n_flavors, n_bins)
    flavors : list of str
    bin_edges : ndarray, shape (n_bins + 1,)
    """

    counts: np.ndarray
    flavors: list
    bin_edges: np.ndarray

    @property
    def per_bin(self) -> np.ndarray:
        """Counts summed over flavours, shape (n_points, n_bins)."""
        return self.counts.sum(axis=1)

    @property
    def total(self) -> np.ndarray:
        """Counts summed over flavours and bins, shape (n_points,)."""
        return self.counts.sum(axis=(1, 2))

    def by_flavor(self) -> dict:
        """Flavour -> counts summed over bins, shape (n_points,)."""
        return {f: self.counts[:, i, :].sum(axis=1) for i, f in enumerate(self.flavors)}


class RateEngine:
    """Precomputed kernels of one detector + source; evaluates counts for arrays of physics points.

    Parameters
    ----------
    targets : list of Target
    fluxes : list of FluxComponent
        Fluence of each flavour over the whole exposure.
    response : object
        Detector response with ``matrix(t_kevnr, z) -> (n_bins, n_t)``, ``bin_edges``,
        ``breakpoints_kevnr(z, t_max_kevnr)`` and ``threshold_kevnr(z)``
        (:class:`cevns.detectors.response.DetectorResponse`).
    settings : PhysicsSettings
    baseline_m : float
        Mean source-detector distance [m] (for oscillations).
    n_t : int
        Approximate number of recoil-energy nodes per isotope.
    defaults : mapping
        Experiment-level parameter defaults (e.g. ``{"sin2_theta_w": 0.2312}``).
    source_kind : str, optional
        ``"spallation"``, ``"reactor"`` ...: selects the default baseline spread of the source
        (:func:`cevns.physics.settings.default_baseline_spread_m`) when the settings leave it unset.

    Examples
    --------
    A tiny experiment: 1e28 Ar40 nuclei, a 30 MeV nu_mu line of fluence 1e14 cm^-2, one bin taking every
    recoil, point nucleus. The engine's count equals ``N Phi sigma`` with the closed-form cross section:

    >>> import numpy as np
    >>> from cevns.detectors.response import DetectorResponse
    >>> from cevns.physics.couplings import sm_vector_couplings
    >>> from cevns.physics.cross_sections import total_cross_section_unity_ff_cm2
    >>> from cevns.physics.nuclei import element_isotopes
    >>> from cevns.sources.base import FluxComponent
    >>> ar40 = max(element_isotopes("Ar"), key=lambda i: i.abundance)
    >>> line = FluxComponent("nu_mu", np.array([30.0]), np.array([1e14]), is_line=True)
    >>> all_recoils = DetectorResponse(None, "kevnr", None, "none", {}, None, np.array([0.0, 1000.0]))
    >>> engine = RateEngine([Target(ar40, 1e28)], [line], all_recoils,
    ...                     settings=PhysicsSettings(form_factor="unity", kinematics="seed"), n_t=200)
    >>> counts = engine.total({"sin2_theta_w": 0.2312})
    >>> g_p, g_n = sm_vector_couplings(0.2312)
    >>> sigma = total_cross_section_unity_ff_cm2(30.0, ar40.mass_mev, ar40.z * g_p + ar40.n * g_n)
    >>> f"{counts[0]:.4g} events, ratio {counts[0] / (1e28 * 1e14 * sigma):.5f}"
    '1617 events, ratio 1.00000'

    Arrays of parameter values are evaluated in one call, one row per point:

    >>> engine.predict({"sin2_theta_w": [0.2312, 0.25]}).per_bin.shape
    (2, 1)
    """

    def __init__(self, targets: Sequence[Target], fluxes: Sequence[FluxComponent], response,
                 settings: PhysicsSettings | None = None, baseline_m: float = 20.0, n_t: int = 400,
                 defaults: Mapping | None = None, source_kind: str | None = None):
        if not targets:
            raise ValueError("an experiment needs at least one target isotope")
        if not fluxes:
            raise ValueError("an experiment needs at least one flux component")
        self.targets = list(targets)
        self.fluxes = list(fluxes)
        self.response = response
        self.settings = settings or PhysicsSettings()
        self.baseline_m = float(baseline_m)
        self.source_kind = source_kind
        s = self.settings
        self.baseline_spread_m = float(s.baseline_spread_m if s.baseline_spread_m is not None
                                       else default_baseline_spread_m(source_kind))
        self.detector_spread_m = float(s.detector_spread_m)
        self.n_t = int(n_t)
        self.defaults = dict(defaults or {})
        self.flavors = list(dict.fromkeys(c.flavor for c in self.fluxes))
        self._comp_index = {f: [i for i, c in enumerate(self.fluxes) if c.flavor == f] for f in self.flavors}
        self.bin_edges = np.asarray(response.bin_edges, dtype=float)
        self.isotope_kernels = tuple(self._prepare_isotope(t) for t in self.targets)
        self._fn_cache: dict = {}
        self._kin_cache: dict = {}
        self._kernel_cache: dict = {}

    def __getstate__(self) -> dict:
        """Pickle without the caches (they are rebuilt on demand in the receiving process)."""
        state = dict(self.__dict__)
        state["_fn_cache"], state["_kin_cache"], state["_kernel_cache"] = {}, {}, {}
        return state

    # ------------------------------------------------------------------ preparation
    def _prepare_isotope(self, target: Target) -> IsotopeKernel:
        iso = target.isotope
        m = iso.mass_mev
        e_tops = [c.e_max_mev for c in self.fluxes]
        t_top_kev = 1e3 * float(kinematics.t_max_mev(max(e_tops), m))
        lo = max(float(self.response.threshold_kevnr(iso.z)), 1e-7 * t_top_kev)
        bps = [1e3 * float(kinematics.t_max_mev(c.energies_mev[0], m)) for c in self.fluxes if c.is_line]
        bps += [1e3 * float(kinematics.t_max_mev(e, m)) for e in e_tops]
        bps += list(np.atleast_1d(self.response.breakpoints_kevnr(iso.z, t_top_kev)))
        bps = sorted(b for b in set(bps) if lo < b < t_top_kev)
        if lo >= t_top_kev:
            t_kev, w_kev = np.array([t_top_kev]), np.array([0.0])
        else:
            t_kev, w_kev = gauss_legendre_grid([lo] + bps + [t_top_kev], self.n_t)
        t = 1e-3 * t_kev
        w = 1e-3 * w_kev
        resp = np.asarray(self.response.matrix(t_kev, iso.z), dtype=float)  # (n_bins, n_t)
        e_min = kinematics.e_min_mev(t, m)
        q = kinematics.momentum_transfer_mev(t, m, exact=self.settings.exact_momentum_transfer)
        rp = self._proton_rms(iso)
        return IsotopeKernel(
            isotope=iso, n_nuclei=target.n_nuclei, mass_mev=m, t_mev=t, q_mev=q,
            response_weights=(resp * w[None, :]).T * (target.n_nuclei * HBARC2_MEV2_CM2),
            proton_rms_fm=rp, f_z=self.form_factor(q, rp),
            components=tuple(ComponentMoments.build(c, e_min) for c in self.fluxes))

    def _proton_rms(self, iso) -> float:
        s = self.settings
        if s.proton_radius == "charge":
            return float(nuclei.proton_rms_radius_fm(iso))
        r = 1.2 * iso.a ** (1.0 / 3.0)
        a = s.shape_fm
        extra = {"helm": 0.0, "klein_nystrand": 6 * a**2, "symmetrized_fermi": 1.4 * np.pi**2 * a**2,
                 "unity": 0.0}[s.form_factor]
        return float(np.sqrt(0.6 * r**2 + extra))

    def form_factor(self, q_mev, rms_fm: float) -> np.ndarray:
        """The settings' nuclear form factor at momentum transfers ``q_mev`` for an rms radius [fm].

        Parameters
        ----------
        q_mev : float or ndarray
            Momentum transfer |q| [MeV].
        rms_fm : float
            rms radius [fm].
        """
        s = self.settings
        q_mev = np.asarray(q_mev, dtype=float)
        if s.form_factor == "unity":
            return np.ones_like(q_mev)
        kw = {"helm": "s_fm", "klein_nystrand": "a_fm", "symmetrized_fermi": "a_fm"}[s.form_factor]
        return form_factors.form_factor(s.form_factor, q_mev, rms_fm, **{kw: s.shape_fm})

    def neutron_form_factor(self, index: int, rn_fm: float | None) -> np.ndarray:
        """F_N (dimensionless) at the nodes of isotope ``index`` for neutron rms radius ``rn_fm`` [fm] (None: the
        proton radius)."""
        k = self.isotope_kernels[index]
        if rn_fm is None or float(rn_fm) == k.proton_rms_fm:
            return k.f_z
        key = (index, float(rn_fm))
        out = self._fn_cache.get(key)
        if out is None:
            if len(self._fn_cache) > 4096:
                self._fn_cache.clear()
            out = self._fn_cache[key] = self.form_factor(k.q_mev, float(rn_fm))
        return out

    # ------------------------------------------------------------------ public API
    @property
    def n_bins(self) -> int:
        """Number of observable bins (``len(bin_edges) - 1``)."""
        return self.bin_edges.size - 1

    def resolved_settings(self) -> dict:
        """The physics settings with every default filled in (including the baseline spread in use)."""
        d = self.settings.resolved()
        d["baseline_spread_m"] = self.baseline_spread_m
        d["detector_spread_m"] = self.detector_spread_m
        return d

    def point(self, params: Mapping | PhysicsPoint | None = None) -> PhysicsPoint:
        """Validate a parameter mapping into a :class:`PhysicsPoint` with this engine's defaults.

        Parameters
        ----------
        params : mapping or PhysicsPoint, optional
            Parameter name -> value (scalar or array of points).
        """
        if isinstance(params, PhysicsPoint):
            return params
        return PhysicsPoint(params or {}, defaults=self.defaults)

    def predict(self, params: Mapping | PhysicsPoint | None = None, chunk_size: int = 1024) -> Prediction:
        """Expected counts for one or many physics points.

        Parameters
        ----------
        params : mapping name -> float or 1-D array (see :mod:`cevns.physics.parameters`)
        chunk_size : int
            Kept for compatibility: memory no longer grows with the recoil grid times the points.

        Returns
        -------
        Prediction
        """
        pt = self.point(params)
        return Prediction(self._counts(pt, total=False), self.flavors, self.bin_edges)

    def total(self, params: Mapping | PhysicsPoint | None = None, chunk_size: int = 1024) -> np.ndarray:
        """Counts summed over bins and flavours, shape (n_points,) (kernels are summed first).

        Parameters
        ----------
        params : mapping or PhysicsPoint, optional
            Parameter name -> value (scalar or array of points).
        chunk_size : int, optional
            Points evaluated at once (memory bound).
        """
        pt = self.point(params)
        return self._counts(pt, total=True)

    def needs_general_path(self, pt: PhysicsPoint) -> bool:
        """Whether ``pt`` changes the spectrum shape (varying neutron radii, light mediators, sterile mixing)."""
        pt = self.point(pt)
        if any(self._rn_values(pt, i)[0] == "varies" for i in range(len(self.isotope_kernels))):
            return True
        for f in self.flavors:
            blocks, mods = flavor_plan(pt, f, self.settings)
            if mods or any(s is not None for b in blocks for s in b.shapes):
                return True
        return False

    # ------------------------------------------------------------------ terms of the models
    def _rn_values(self, pt: PhysicsPoint, index: int):
        """("none" | "fixed" | "varies", value) of the neutron radius of isotope ``index``."""
        v = pt.get(f"rn_{self.isotope_kernels[index].name}")
        if v is None:
            return "none", None
        arr = np.atleast_1d(np.asarray(v, dtype=float))
        if arr.size == 1 or np.all(arr == arr[0]):
            return "fixed", float(arr[0])
        return "varies", arr

    # ------------------------------------------------------------------ evaluation
    def _groups(self, pt: PhysicsPoint, plans: dict, total: bool):
        """Shape-value groups of the points (:func:`cevns.engine.quadratic.group_points`)."""
        rn = [(("rn", i), self._rn_values(pt, i)) for i in range(len(self.isotope_kernels))]
        return group_points(pt.size, rn, plans, total)

    def _counts(self, pt: PhysicsPoint, total: bool) -> np.ndarray:
        """Counts (n, n_flavors, n_bins), or with ``total`` the sum over flavours and bins, shape (n,)."""
        n = pt.size
        nb = 1 if total else self.n_bins
        plans = {f: flavor_plan(pt, f, self.settings) for f in self.flavors}
        static, names, keys, index, ginv = self._groups(pt, plans, total)
        groups = (static, names, keys)
        # per flavour contiguous (n_flavors, n, n_bins); returned as the (n, n_flavors, n_bins) view
        out = np.zeros(n) if total else np.zeros((len(self.flavors), n, nb))
        const = 0.0  # total: contributions that are the same for every point
        for fi, f in enumerate(self.flavors):
            blocks, mods = plans[f]
            amps = [np.asarray(m.amplitude, dtype=float) for m in mods]
            for b in blocks:
                cs = [np.asarray(c, dtype=float) for pair in b.coeffs for c in pair]
                k0 = self._kernel_getter(fi, b, None, total)
                kmods = [self._kernel_getter(fi, b, m, total) for m in mods]
                if total and ginv is not None:
                    # many groups: gather each point's kernel row, one vectorised quadratic form
                    rows = np.stack([k[:, 0] for k in k0.many(*groups)])[ginv]
                    val = quadratic_form_rows(cs, rows)
                    for km, a in zip(kmods, amps):
                        rows = np.stack([k[:, 0] for k in km.many(*groups)])[ginv]
                        val = val - a * quadratic_form_rows(cs, rows)
                    out += val
                    continue
                kern0 = k0.many(*groups)
                kerns = [km.many(*groups) for km in kmods]
                for gi, idx in enumerate(index):
                    val = quadratic_form(cs, kern0[gi], idx, total)
                    for kms, a in zip(kerns, amps):
                        osc = quadratic_form(cs, kms[gi], idx, total)
                        am = a if a.size == 1 or isinstance(idx, slice) else a[idx]
                        val = val - (am if total or am.ndim == 0 else am.reshape(-1, 1)) * osc
                    if total:
                        if np.ndim(val) == 0:
                            const += float(val)
                        else:
                            out += val
                    else:
                        out[fi, idx, :] += val
        return out + const if total else out.transpose(1, 0, 2)

    def _kinematic(self, ki: int, ci: int, kind: str, moments: np.ndarray | None) -> np.ndarray:
        """sum_k c_k(T) M_k(T) for isotope ki, component ci (moments None: the unmodified flux)."""
        k = self.isotope_kernels[ki]
        coeff_key = (ki, kind)
        coeffs = self._kin_cache.get(coeff_key)
        if coeffs is None:
            coeffs = self._kin_cache[coeff_key] = np.stack(
                energy_coefficients(kind, k.t_mev, k.mass_mev, self.settings.kinematics))
        if moments is None:
            key = (ki, ci, kind)
            kin = self._kin_cache.get(key)
            if kin is None:
                kin = self._kin_cache[key] = np.einsum("kt,kt->t", coeffs, k.components[ci].moments)
            return kin
        return np.einsum("kt,...kt->...t", coeffs, moments)

    def _kernel_getter(self, fi: int, block: Block, modifier, total: bool) -> "_KernelStore":
        """The cached kernels ``values -> K`` (n_pairs, n_bins) of one block (see :class:`_KernelStore`)."""
        sig = (fi, block.kind, total,
               tuple(None if s is None else (s.name, _function_key(s.function)) for s in block.shapes),
               None if modifier is None else (modifier.name, _function_key(modifier.function)))
        names = [("rn", i) for i in range(len(self.isotope_kernels))]
        names += [(s.name, None) for s in block.shapes if s is not None]
        if modifier is not None:
            names.append((modifier.name, None))
        return _KernelStore(self, self._kernel_cache.setdefault(sig, {}), names, fi, block, modifier, total)

    def _block_kernels(self, fi: int, block: Block, values_list: list, modifier, total: bool) -> np.ndarray:
        """K (G, n_pairs, n_bins) of a block for G sets of shape values, computed together.

        ``K_jl = sum_iso sum_comp sum_t kin(T) b_j(T) b_l(T) w_jl rw(T)`` with the basis functions
        ``b = (Z F_Z s_1, N F_N s_1, Z F_Z s_2, ...)`` of the block's slots and the kinematic factor of
        its kind from the flux moments (modified by ``modifier`` when given).
        """
        g = len(values_list)
        n_slots = len(block.shapes)
        j_idx = [(j, k) for j in range(2 * n_slots) for k in range(j, 2 * n_slots)]
        weights = np.array([1.0 if j == k else 2.0 for j, k in j_idx])
        kern = np.zeros((g, len(j_idx), 1 if total else self.n_bins))
        mod_values = None if modifier is None else [v[(modifier.name, None)] for v in values_list]
        for ki, k in enumerate(self.isotope_kernels):
            nt = k.t_mev.size
            fz = k.f_z[None, :]
            fn = np.stack([self.neutron_form_factor(ki, v.get(("rn", ki))) for v in values_list])
            basis = []
            for s in block.shapes:
                if s is None:
                    sv = 1.0
                else:
                    sv = np.stack([np.zeros(nt) if v[(s.name, None)] == NO_SHAPE else
                                   np.broadcast_to(np.asarray(s.function(v[(s.name, None)], k.q2_mev2), dtype=float),
                                                   (nt,)) for v in values_list])
                basis += [k.isotope.z * fz * sv, k.isotope.n * fn * sv]
            kin = 0.0
            for ci in self._comp_index[self.flavors[fi]]:
                if modifier is None:
                    kin = kin + self._kinematic(ki, ci, block.kind, None)[None, :]
                    continue
                comp = k.components[ci]
                d = np.stack([np.zeros(comp.energies_mev.size) if mv == NO_SHAPE else np.asarray(modifier.function(
                    mv, comp.energies_mev, self.baseline_m, self.baseline_spread_m, self.detector_spread_m),
                    dtype=float) for mv in mod_values])  # (G, n_e)
                osc = np.stack([d @ comp.operators[m] for m in range(3)], axis=1)  # (G, 3, n_t)
                kin = kin + self._kinematic(ki, ci, block.kind, osc)
            rw = k.response_total() if total else k.response_weights
            prods = np.stack([np.broadcast_to(kin * basis[j] * basis[l], (g, nt)) for j, l in j_idx], axis=1)
            kern += prods @ rw
        kern *= weights[None, :, None]
        return kern

def _function_key(fn) -> tuple:
    """A process-independent identity of a shape / modifier function (module, qualified name)."""
    return getattr(fn, "__module__", None), getattr(fn, "__qualname__", repr(fn))


class _KernelStore:
    """Kernels of one block keyed by its shape values, stored in the engine's bounded cache."""

    def __init__(self, engine: RateEngine, cache: dict, names: list, fi, block, modifier, total):
        self.engine, self.cache, self.names = engine, cache, names
        self.args = (fi, block, modifier, total)

    def many(self, static: dict, names: list, keys: list) -> list:
        """Kernels for the groups with shape values ``static`` + ``zip(names, key)`` for each key.

        The missing ones are computed in batches of :data:`KERNEL_BATCH`.
        """
        columns = list(zip(*keys)) if names else []
        pos = {nm: i for i, nm in enumerate(names)}
        cols = [columns[pos[nm]] if nm in pos else [static.get(nm)] * len(keys) for nm in self.names]
        own = list(zip(*cols)) if cols else [()] * len(keys)
        got = [self.cache.get(k) for k in own]
        missing = {}
        for k, kern, key in zip(own, got, keys):
            if kern is None and k not in missing:
                values = dict(static)
                values.update(zip(names, key))
                missing[k] = values
        if not missing:
            return got
        items = list(missing.items())
        fi, block, modifier, total = self.args
        fresh = {}
        for start in range(0, len(items), KERNEL_BATCH):
            batch = items[start:start + KERNEL_BATCH]
            kerns = self.engine._block_kernels(fi, block, [v for _, v in batch], modifier, total)
            for (k, _), kern in zip(batch, kerns):
                fresh[k] = kern
                if len(self.cache) >= KERNEL_CACHE_SIZE:
                    self.cache.pop(next(iter(self.cache)))
                self.cache[k] = kern
        return [kern if kern is not None else fresh[k] for k, kern in zip(own, got)]

    def __call__(self, values: dict) -> np.ndarray:
        """The kernel for one set of shape values."""
        return self.many(values, [], [()])[0]
