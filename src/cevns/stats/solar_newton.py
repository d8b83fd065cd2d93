"""Active-set projected Newton minimisation of the XENONnT template chi^2, all physics points at once.

Used by :class:`cevns.stats.solar_templates.TemplateProfiler` (this class is its base; it supplies
``_gradient_hessian``, ``_chi2``, ``_bounds``, ``grid``, ``components``, ``names``). Per iteration and point:

* cells: the chi^2 is smooth inside one cell of the bilinear (tly, tqy) yield grid and has kinks at its
  nodes, so each step stays inside the current cell (its edges act as bounds); a yield nuisance on a node
  continues into the cell it was moving towards, and one held on a node counts as converged only once
  chi^2 rises into the cells on both sides;
* step: Bertsekas' projected Newton direction (SIAM J. Control Optim. 20, 221 (1982)): nuisances within
  ``eps`` of a bound whose gradient points outward are held there (diagonally scaled gradient), the
  Newton system is solved for the others with the exact Hessian where the last step was taken in full and
  that Hessian is positive definite, else the Gauss-Newton one;
* line search: step halving along the projected arc with the Armijo condition;
* convergence: Newton decrement (plus the first-order gain of moving held nuisances) below
  :data:`TOL_CHI2`, or a decrease below it by a step that did not stop at a cell edge.

After convergence, points whose tly or tqy ended just beside an interior node where chi^2 also decreases
into the neighbouring cell (a concave kink: a local minimum on each side) are minimised again from across
the node, keeping the lower chi^2.

Before this iteration the profile projected full Gauss-Newton steps on the bounds; with tly at -3 and the
signal factor at 0.5 that direction need not descend and the iteration stalled up to 4.5 above the minimum
(issue 12).
"""

from __future__ import annotations

import numpy as np

__all__ = ["BoxNewton", "bilinear_weights", "MAX_ITER", "TOL_CHI2"]

#: Newton iterations and convergence tolerance on chi^2.
MAX_ITER = 60
TOL_CHI2 = 1e-7
#: Step halvings of the line search, its sufficient-decrease (Armijo) factor, and the largest distance to a
#: bound at which a nuisance whose gradient points outward is held there (:meth:`BoxNewton._newton_step`).
MAX_HALVINGS = 20
ARMIJO = 1e-4
EPS_ACTIVE = 1e-3
#: Distance from an interior node of the yield grid [grid steps] within which a converged yield nuisance is
#: tried again from across the node, and how far across it starts (:meth:`BoxNewton._across_nodes`).
NODE_CHECK = 0.1
NODE_OFFSET = 0.01


def bilinear_weights(t, grid: np.ndarray):
    """Cell index and fractional position of values ``t`` on an equally spaced ``grid``.

    A value between the nodes ``grid[index]`` and ``grid[index + 1]`` is interpolated as
    ``(1 - frac) f[index] + frac f[index + 1]``.

    Parameters
    ----------
    t : float or array_like
        Values (e.g. yield nuisances [sigma]); clipped to ``[grid[0], grid[-1]]``.
    grid : ndarray
        Equally spaced, increasing nodes (at least two).

    Returns
    -------
    index : ndarray of int
        Lower node, in ``[0, len(grid) - 2]``.
    frac : ndarray
        ``(t - grid[index]) / step`` in [0, 1] (t clipped to the grid).
    """
    t = np.clip(np.asarray(t, dtype=float), grid[0], grid[-1])
    step = grid[1] - grid[0]
    idx = np.minimum(np.floor((t - grid[0]) / step).astype(int), grid.size - 2)
    return idx, (t - grid[idx]) / step


class BoxNewton:
    """Vectorised bounded Newton minimiser of the template chi^2 (module docstring); a base class."""

    def _cells_gradient_hessian(self, sig_grids, theta, observed, free, heading):
        """Grid cells of (tly, tqy) for the next step, with the gradient and Hessians in them.

        The chi^2 is smooth inside a cell of the bilinear yield grid, but its derivatives jump at the
        nodes. A yield nuisance on an interior node is taken in the cell on the side of ``heading`` (n, 2:
        the sign of its last move, :meth:`_minimise`). Without one (a start on a node), in the cell above
        unless chi^2 decreases downwards there (positive derivative), then in the cell below if it also
        decreases downwards in that one. Where the derivative in the chosen cell points back to the node
        (a kink with its minimum there), the nuisance sits on the cell edge with an outward gradient and is
        held by :meth:`_newton_step`. (The derivatives of mu along one yield nuisance on a node of the
        other are the same in both cells of the other, so both can be probed at once.)
        """
        nc, g = len(self.components), self.grid.size
        step = self.grid[1] - self.grid[0]
        cells, undecided = [], []
        for k in range(2):
            t = theta[:, nc + k]
            node = np.clip(np.rint((t - self.grid[0]) / step).astype(int), 0, g - 1)
            on_node = (np.abs(t - self.grid[node]) <= 1e-9 * step) & (node > 0) & (node < g - 1)
            cell = np.where(on_node, np.where(heading[:, k] < 0, node - 1, node), bilinear_weights(t, self.grid)[0])
            cells.append(cell)
            undecided.append(on_node & (heading[:, k] == 0) & free[nc + k])
        probe = np.flatnonzero(undecided[0] | undecided[1])
        if probe.size:
            sub = [{c: (gr[c] if gr[c].shape[0] == 1 else gr[c][probe]) for c in gr} for gr in sig_grids]
            th = theta[probe]
            up = self._gradient_hessian(sub, th, observed, [c[probe] for c in cells], hessian=False)[0]
            down_cells = [c[probe] - 1 for c in cells]
            try_down = [undecided[k][probe] & (up[:, nc + k] > 0) for k in range(2)]
            if try_down[0].any() or try_down[1].any():
                below = self._gradient_hessian(sub, th, observed, down_cells, hessian=False)[0]
                for k in range(2):
                    go = try_down[k] & (below[:, nc + k] > 0)
                    cells[k][probe[go]] = down_cells[k][go]
        grad, hess = self._gradient_hessian(sig_grids, theta, observed, cells)
        return cells, grad, hess

    @staticmethod
    def _newton_step(theta, grad, hessians, free, lo, hi, exact_ok):
        """Active-set projected Newton direction (Bertsekas, SIAM J. Control Optim. 20, 221 (1982)).

        A free nuisance within ``eps`` of a bound whose gradient points out of the box is *held*: its
        direction is the diagonally scaled gradient (projected onto the bound by the line search), and it is
        taken out of the Newton system, which is solved for the others only. ``eps`` = min(1e-3, norm of
        the projected-gradient step) per point, so that the held set is the set of active bounds at a
        solution. With this choice the projected arc ``clip(theta + lam step)`` decreases chi^2 for small
        ``lam`` at every non-stationary point, which a plain projection of the full Newton step need not.
        """
        w = np.where(free, theta - np.clip(theta - grad, lo, hi), 0.0)
        eps = np.minimum(EPS_ACTIVE, np.sqrt((w * w).sum(axis=1)))[:, None]
        out = ((theta <= lo + eps) & (grad > 0)) | ((theta >= hi - eps) & (grad < 0))
        held = out | ~free
        keep = ~held
        p = theta.shape[1]
        both = keep[:, :, None] & keep[:, None, :]
        hess, exact = hessians
        diag = hess[:, np.arange(p), np.arange(p)]
        h = np.where(both, hess, 0.0)
        h[:, np.arange(p), np.arange(p)] = np.where(keep, diag * (1.0 + 1e-12) + 1e-9, 1.0)
        hx = np.where(both, exact, 0.0)
        hx[:, np.arange(p), np.arange(p)] = np.where(keep, exact[:, np.arange(p), np.arange(p)] + 1e-9, 1.0)
        # the exact Hessian where it is safely positive definite on the free block, else Gauss-Newton
        scale = np.maximum(np.abs(diag).max(axis=1), 1.0)
        definite = exact_ok & (np.linalg.eigvalsh(hx)[:, 0] > 1e-6 * scale)
        h = np.where(definite[:, None, None], hx, h)
        step = -np.linalg.solve(h, np.where(keep, grad, 0.0)[..., None])[..., 0]
        scaled = -grad / np.maximum(diag, 1e-12)
        return np.where(keep, step, np.where(out & free, scaled, 0.0)), keep

    def _line_search(self, sig_grids, theta, chi2, grad, step, observed, lo, hi):
        """Step-halving along the projected arc ``clip(theta + lam step)`` with the Armijo condition.

        Returns the new nuisances, their chi^2, whether a step was accepted, whether the accepted step
        was cut short by a bound it reached and whether it was the full step (per point).
        """
        lam = np.ones(theta.shape[0])
        new_theta, new_chi2 = theta.copy(), chi2.copy()
        accepted = np.zeros(theta.shape[0], dtype=bool)
        edge = np.zeros(theta.shape[0], dtype=bool)
        for _ in range(MAX_HALVINGS):
            free_step = theta + lam[:, None] * step
            trial = np.clip(free_step, lo, hi)
            c = self._chi2(sig_grids, trial, observed)
            descent = np.minimum((grad * (trial - theta)).sum(axis=1), 0.0)
            ok = (c <= chi2 + ARMIJO * descent) & ~accepted
            new_theta[ok], new_chi2[ok] = trial[ok], c[ok]
            edge[ok] = np.any((trial != theta) & (trial != free_step), axis=1)[ok]
            accepted |= ok
            if accepted.all():
                break
            lam = np.where(accepted, lam, 0.5 * lam)
        return new_theta, new_chi2, accepted, edge, accepted & (lam == 1.0)

    def _minimise(self, sig_grids, theta, free, obs):
        """Active-set projected Newton iteration from ``theta`` (n, P); returns theta, chi^2, converged."""
        nc = len(self.components)
        lo, hi = self._bounds()
        theta = np.clip(theta, lo, hi)
        chi2 = self._chi2(sig_grids, theta, obs)
        converged = np.zeros(theta.shape[0], dtype=bool)
        trusted = np.zeros(theta.shape[0], dtype=bool)   # last step taken in full: the exact Hessian is used
        heading = np.zeros((theta.shape[0], 2))            # sign of the last move of tly, tqy (0: none yet)
        for _ in range(MAX_ITER):
            act = np.flatnonzero(~converged)
            if act.size == 0:
                break
            sg = [{c: (g[c] if g[c].shape[0] == 1 else g[c][act]) for c in g} for g in sig_grids]
            th, old = theta[act], chi2[act]
            cells, grad, hessians = self._cells_gradient_hessian(sg, th, obs, free, heading[act])
            lo_c, hi_c = np.tile(lo, (act.size, 1)), np.tile(hi, (act.size, 1))
            for k, c in enumerate(cells):
                lo_c[:, nc + k], hi_c[:, nc + k] = self.grid[c], self.grid[c + 1]
            step, kept = self._newton_step(th, grad, hessians, free, lo_c, hi_c, trusted[act])
            # Newton decrement g.H^-1.g of the free nuisances + first-order gain of moving the held ones to
            # their bounds: below the tolerance, the point has converged
            gain = np.where(kept, -grad * step, -grad * (np.clip(th + step, lo_c, hi_c) - th)).sum(axis=1)
            done = gain < TOL_CHI2
            done &= ~self._escapes_node(sg, th, obs, cells, kept, free, done)
            converged[act[done]] = True
            act, keep = act[~done], ~done
            if act.size == 0:
                break
            sg = [{c: (g[c] if g[c].shape[0] == 1 else g[c][keep]) for c in g} for g in sg]
            th_new, chi2_new, accepted, edge, full = self._line_search(sg, th[keep], old[keep], grad[keep], step[keep],
                                                                      obs, lo_c[keep], hi_c[keep])
            moved = th_new[:, nc:nc + 2] - th[keep][:, nc:nc + 2]
            heading[act] = np.where(moved != 0, np.sign(moved), -np.sign(grad[keep][:, nc:nc + 2]))
            theta[act], chi2[act], trusted[act] = th_new, chi2_new, full
            # a step cut at a cell edge is not a sign of convergence: the next one may enter the next cell
            stop = ((old[keep] - chi2_new < TOL_CHI2) & ~edge) | ~accepted
            stop &= ~self._escapes_node(sg, th_new, obs, [c[keep] for c in cells], kept[keep], free, stop)
            converged[act] = stop
        return theta, chi2, converged

    def _escapes_node(self, sig_grids, theta, observed, cells, kept, free, mask):
        """Points (among ``mask``) with a yield nuisance held on an interior node where chi^2 decreases into
        the cell on its other side, which the iteration has not looked at: such a point has not converged.
        """
        nc, g = len(self.components), self.grid.size
        step = self.grid[1] - self.grid[0]
        escape = np.zeros(theta.shape[0], dtype=bool)
        nodes, held = [], []
        for k in range(2):
            node = np.clip(np.rint((theta[:, nc + k] - self.grid[0]) / step).astype(int), 0, g - 1)
            on = np.abs(theta[:, nc + k] - self.grid[node]) <= 1e-9 * step
            nodes.append(node)
            held.append(mask & on & (node > 0) & (node < g - 1) & ~kept[:, nc + k] & free[nc + k])
        cand = np.flatnonzero(held[0] | held[1])
        if cand.size == 0:
            return escape
        other = [np.where(held[k][cand], np.where(cells[k][cand] == nodes[k][cand], nodes[k][cand] - 1,
                                                   nodes[k][cand]), cells[k][cand]) for k in range(2)]
        sub = [{c: (gr[c] if gr[c].shape[0] == 1 else gr[c][cand]) for c in gr} for gr in sig_grids]
        slope = self._gradient_hessian(sub, theta[cand], observed, other, hessian=False)[0]
        for k in range(2):
            below = other[k] < cells[k][cand]
            into = held[k][cand] & np.where(below, slope[:, nc + k] > 0, slope[:, nc + k] < 0)
            escape[cand[into]] = True
        return escape

    def _across_nodes(self, sig_grids, theta, chi2, converged, free, obs):
        """Restart points whose tly or tqy ended near an interior node of the yield grid from across it.

        The bilinear interpolation has kinks at the nodes; where a kink is concave, the cells on both
        sides can each hold a local minimum a short way from the node. A point that converged within
        :data:`NODE_CHECK` grid steps of an interior node, where chi^2 decreases from the node into the
        cell across it, is minimised again from just across it (other nuisances kept); the lower chi^2 is
        kept.
        """
        nc, g = len(self.components), self.grid.size
        step = self.grid[1] - self.grid[0]
        for k in range(2):
            if not free[nc + k]:
                continue
            t = theta[:, nc + k]
            node = np.clip(np.rint((t - self.grid[0]) / step).astype(int), 0, g - 1)
            d = t - self.grid[node]
            near = np.flatnonzero((node > 0) & (node < g - 1) & (np.abs(d) < NODE_CHECK * step) & (d != 0))
            if near.size == 0:
                continue
            # the cell across the node; worth a restart only if chi^2 decreases into it from the node
            at_node = theta[near].copy()
            at_node[:, nc + k] = self.grid[node[near]]
            across = [bilinear_weights(at_node[:, nc + kk], self.grid)[0] for kk in range(2)]
            across[k] = np.where(d[near] > 0, node[near] - 1, node[near])
            sub = [{c: (gr[c] if gr[c].shape[0] == 1 else gr[c][near]) for c in gr} for gr in sig_grids]
            slope = self._gradient_hessian(sub, at_node, obs, across, hessian=False)[0][:, nc + k]
            into = np.where(d[near] > 0, slope > 0, slope < 0)
            near = near[into]
            if near.size == 0:
                continue
            start = at_node[into]
            start[:, nc + k] -= np.sign(d[near]) * NODE_OFFSET * step
            sub = [{c: (gr[c] if gr[c].shape[0] == 1 else gr[c][near]) for c in gr} for gr in sig_grids]
            th2, c2, conv2 = self._minimise(sub, start, free, obs)
            lower = c2 < chi2[near]
            better = near[lower]
            theta[better], chi2[better], converged[better] = th2[lower], c2[lower], conv2[lower]
        return theta, chi2, converged
