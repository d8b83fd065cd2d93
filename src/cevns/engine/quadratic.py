"""Quadratic forms of the rate engine: the terms of the models per flavour, shape groups, evaluation.

For one flavour the registered models give *blocks* (one squared charge each, kind + amplitude slots)
and flux modifiers (:func:`flavor_plan`). With a kernel ``K`` per block the counts are
``sum_{j <= l} c_j c_l K_jl`` in the slot coefficients ``c = (c_z,1, c_n,1, c_z,2, ...)``
(:func:`quadratic_form`); the kernels depend only on the shape values of a point, which
:func:`group_points` collects.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..physics.models import registered_models
from ..physics.parameters import PhysicsPoint

#: Shape value of points where the shaped amplitude / modifier is zero (masses and dm41^2 are >= 0).
NO_SHAPE = -1.0


@dataclass
class Block:
    """One squared charge of one flavour: kind, amplitude slots (shape name or None), coefficients.

    Attributes
    ----------
    kind : str
        Interaction kind (see :data:`cevns.physics.cross_sections.KINDS`).
    shapes : list
        Per amplitude slot: a T-dependent shape or None.
    coeffs : list
        Per amplitude slot: (c_z, c_n), the coefficients of Z F_Z and N F_N (dimensionless).
    """

    kind: str
    shapes: list  # per slot: Shape or None
    coeffs: list  # per slot: (c_z, c_n)


def flavor_plan(pt: PhysicsPoint, flavor: str, settings):
    """Blocks (squared charges) and flux modifiers of ``flavor`` from the registered models.

    Parameters
    ----------
    pt : PhysicsPoint
        The physics points.
    flavor : str
        Flux label.
    settings : PhysicsSettings
        The physics settings.
    """
    coherent = Block("vector", [None], [[0.0, 0.0]])
    blocks = [coherent]
    mods = []
    given = pt.given_names()
    for model in registered_models():
        if not model.is_active(given):
            continue
        for term in model.terms(pt, flavor, settings):
            target = coherent if (term.coherent and term.kind == "vector") else Block(term.kind, [], [])
            for a in term.amplitudes:
                if a.shape is None and target.shapes and target.shapes[0] is None:
                    target.coeffs[0][0] = target.coeffs[0][0] + a.c_z
                    target.coeffs[0][1] = target.coeffs[0][1] + a.c_n
                else:
                    target.shapes.append(a.shape)
                    target.coeffs.append([a.c_z, a.c_n])
            if target is not coherent:
                blocks.append(target)
        mods.extend(model.flux_modifiers(pt, flavor, settings))
    return blocks, mods


def group_points(n: int, rn_values: list, plans: dict, total: bool):
    """Split ``n`` points by their shape values (neutron radii, mediator masses, dm41^2 ...).

    ``rn_values``: ``[(("rn", i), ("none" | "fixed" | "varies", value)), ...]`` per isotope; ``plans``:
    flavour -> (blocks, modifiers) of :func:`flavor_plan`. Shape values of points whose amplitude
    (modifier) is zero are replaced by :data:`NO_SHAPE`, so that they share one group.

    Returns ``(static, names, keys, index, inverse)``: the shape values common to all points (dict),
    the names of the varying ones, one tuple of their values per group, the points of each group (a
    list of index arrays, ``[slice(None)]`` for a single group, None with ``total``) and the group of
    each point (None for a single group).
    """
    static, columns = [], []
    for key, (kind, v) in rn_values:
        (columns if kind == "varies" else static).append((key, v))
    shape_vals: dict = {}

    def live_mask(key, values, live):
        entry = shape_vals.setdefault(key, [values, False])
        entry[1] = entry[1] | live

    for blocks, mods in plans.values():
        for b in blocks:
            for shape, (cz, cn) in zip(b.shapes, b.coeffs):
                if shape is not None:
                    live_mask(shape.name, shape.values, (np.asarray(cz) != 0) | (np.asarray(cn) != 0))
        for m in mods:
            live_mask(m.name, m.values, np.asarray(m.amplitude) != 0)
    for name, (values, live) in shape_vals.items():
        vals = np.where(live, np.asarray(values, dtype=float), NO_SHAPE)
        first = float(vals.flat[0])
        if vals.size == 1 or np.all(vals == first):
            static.append(((name, None), first))
        else:
            columns.append(((name, None), np.broadcast_to(vals, (n,))))
    if not columns:
        return dict(static), [], [()], [slice(None)], None
    uniques = []
    for _, vals in columns:
        uniques.append(np.unique(vals, return_inverse=True))
    if len(uniques) == 1:
        gvals, ginv = uniques[0][0][:, None], uniques[0][1]
    else:
        codes = np.zeros(n, dtype=np.int64)
        for u, inv in uniques:
            codes = codes * u.size + inv
        _, first_idx, ginv = np.unique(codes, return_index=True, return_inverse=True)
        gvals = np.stack([vals[first_idx] for _, vals in columns], axis=1)
    ginv = ginv.reshape(-1)
    keys = [tuple(row) for row in gvals.tolist()]
    if total:
        index = None
    else:
        order = np.argsort(ginv, kind="stable")
        bounds = np.concatenate([[0], np.cumsum(np.bincount(ginv, minlength=len(gvals)))])
        index = [order[bounds[g]:bounds[g + 1]] for g in range(len(gvals))]
    return dict(static), [c[0] for c in columns], keys, index, ginv


def quadratic_form(cs: list, kern: np.ndarray, idx, total: bool):
    """sum_{j <= l} c_j c_l K_jl for the points ``idx``: (m,) or a scalar (total), else (m or 1, n_bins).

    ``cs`` are 0-d or (n,) coefficient arrays, ``kern`` the (n_pairs, n_bins) kernel with pairs (j, l),
    j <= l, in row-major order and the factor 2 of j < l included.
    """
    if not isinstance(idx, slice):
        cs = [c if c.size == 1 else c[idx] for c in cs]
    if total:
        k = kern[:, 0]
        res, p = 0.0, 0
        for j, cj in enumerate(cs):
            if cj.size == 1 and cj.flat[0] == 0.0:
                p += len(cs) - j
                continue
            inner = 0.0
            for cl in cs[j:]:
                if k[p] != 0.0 and not (cl.size == 1 and cl.flat[0] == 0.0):
                    inner = inner + k[p] * cl
                p += 1
            res = res + cj * inner
        return res
    m = max(c.size for c in cs)
    prods = np.stack([np.broadcast_to(cs[j] * cl, (m,)) for j in range(len(cs)) for cl in cs[j:]], axis=1)
    return np.einsum("np,pb->nb", prods, kern)


def quadratic_form_rows(cs: list, rows: np.ndarray) -> np.ndarray:
    """sum_{j <= l} c_j c_l K[i, p(j, l)] with a kernel row per point ``rows`` (n, n_pairs) -> (n,).

    Parameters
    ----------
    cs : list of ndarray
        Coefficients c_j, each of shape (n,).
    rows : ndarray, shape (n, n_pairs)
        Kernel K[i, p(j, l)] for each point.
    """
    prods = [cs[j] * cl for j in range(len(cs)) for cl in cs[j:]]
    if all(p.size == 1 for p in prods):
        return rows @ np.array([float(p.flat[0]) for p in prods])
    out = 0.0
    for k, p in enumerate(prods):
        if not (p.size == 1 and p.flat[0] == 0.0):
            out = out + p * rows[:, k]
    return out
