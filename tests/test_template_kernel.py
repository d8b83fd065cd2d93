"""The fast template-chi2 kernel (cevns.stats.template_kernel) against the formula and finite differences."""

import numpy as np
import pytest

from cevns.stats.template_kernel import TemplateKernel
from cevns.stats.template_profile import TemplateArrays, profile_templates, variation_terms


def _model(n_points, rng, onoff=True):
    """Four components exercising every path: a per-point signal with per-point variations (nuisances 0, 1),
    a background sharing nuisance 1 and varied twice by nuisance 2 (summed), a fixed background and a
    per-point component without variations; empty bins in the varied ones; an on/off sample."""
    B = 30
    sig = rng.uniform(1, 20, (n_points, B))
    sig[:, :6] = 0.0
    bkg = rng.uniform(1, 10, B)
    bkg[20:] = 0.0
    flat = rng.uniform(0.5, 3, B)
    extra = rng.uniform(0.2, 2, (n_points, B))
    extra[:, 10:14] = 0.0

    def var(h, scale):
        up = h * np.exp(scale * rng.normal(size=h.shape))
        dn = h * np.exp(-scale * rng.normal(size=h.shape) * 0.7)
        return variation_terms(h, up, dn)

    variations = [(0, 0, *var(sig, 0.1)), (0, 1, *var(sig, 0.05)), (1, 1, *var(bkg, 0.08)),
                  (1, 2, *var(bkg, 0.1)), (1, 2, *var(bkg, 0.03))]
    mu0 = sig[0] + bkg + flat + extra[0]
    obs = rng.poisson(mu0).astype(float)
    obs[3] = 0.0
    if not onoff:
        return TemplateArrays(obs, ["sig", "bkg", "flat", "extra"], [sig, bkg, flat, extra],
                              [0.1, 0.3, None, 0.2], ["t0", "t1", "t2"], variations)
    groups = rng.integers(0, 3, B)
    membership = np.zeros((B, 3))
    membership[np.arange(B), groups] = rng.uniform(0.5, 1.5, B)
    off = np.array([12.0, 7.0, 20.0])
    return TemplateArrays(obs, ["sig", "bkg", "flat", "extra"], [sig, bkg, flat, extra], [0.1, 0.3, None, 0.2],
                          ["t0", "t1", "t2"], variations, off, membership, 0.05)


def _chi2_direct(t, p):
    """The chi2 of the template_profile docstring, written out point by point."""
    out = []
    nc, ns = len(t.names), len(t.nuisances)
    for i, row in enumerate(p):
        mu = np.zeros(t.observed.size)
        for c, h0 in enumerate(t.nominal):
            h0 = h0[i] if np.ndim(h0) == 2 else h0
            ln = np.zeros_like(h0)
            for cc, j, b, a in t.variations:
                if cc == c:
                    x = row[nc + j]
                    q = 0.5 * x * x if abs(x) <= 1 else abs(x) - 0.5
                    ln += x * (b[i] if np.ndim(b) == 2 else b) + q * (a[i] if np.ndim(a) == 2 else a)
            mu += row[c] * h0 * np.exp(ln)
        chi = 0.0
        if t.off_counts is not None:
            r, k = row[nc + ns], row[nc + ns + 1:]
            mu += r * t.membership @ k
            m = t.off_counts
            chi += 2 * np.sum(k - m + m * np.log(m / k)) + ((r - 1) / t.ratio_sigma) ** 2
        n = t.observed
        chi += 2 * np.sum(mu - n + np.where(n > 0, n * np.log(np.where(n > 0, n, 1) / mu), 0.0))
        chi += sum(((row[c] - 1) / s) ** 2 for c, s in enumerate(t.sigma) if s is not None)
        chi += np.sum(row[nc:nc + ns] ** 2)
        out.append(chi)
    return np.array(out)


def _points(t, n_points, rng):
    nc, ns = len(t.names), len(t.nuisances)
    p = np.ones((n_points, len(t.parameters)))
    p[:, :nc] = rng.uniform(0.6, 1.4, (n_points, nc))
    p[:, nc:nc + ns] = rng.uniform(-2.0, 2.0, (n_points, ns))    # inside and beyond +-1 sigma
    if t.off_counts is not None:
        p[:, nc + ns] = rng.uniform(0.9, 1.1, n_points)
        p[:, nc + ns + 1:] = t.off_counts * rng.uniform(0.8, 1.2, (n_points, t.off_counts.size))
    return p


@pytest.mark.parametrize("onoff", [True, False])
def test_chi2_matches_the_formula(onoff):
    rng = np.random.default_rng(3)
    t = _model(4, rng, onoff)
    p = _points(t, 4, rng)
    assert TemplateKernel(t, 4).chi2(p) == pytest.approx(_chi2_direct(t, p), rel=1e-12)


def test_gradient_and_hessian_match_finite_differences():
    rng = np.random.default_rng(5)
    t = _model(3, rng)
    p = _points(t, 3, rng)
    p[:, 4:7] = [[0.3, -0.4, 1.6], [-1.7, 0.2, -0.6], [0.5, 2.5, -0.1]]   # away from the |theta| = 1 seams
    k = TemplateKernel(t, 3)
    chi, g, H = k.grad_hess(p)
    assert chi == pytest.approx(k.chi2(p), rel=1e-13)
    eps = 1e-5
    for i in range(p.shape[1]):
        step = np.zeros_like(p)
        step[:, i] = eps * np.maximum(1.0, np.abs(p[:, i]))
        h = step[:, i]
        fd_g = (k.chi2(p + step) - k.chi2(p - step)) / (2 * h)
        assert g[:, i] == pytest.approx(fd_g, rel=1e-5, abs=1e-5)
        fd_h = (k.grad_hess(p + step)[1] - k.grad_hess(p - step)[1]) / (2 * h[:, None])
        assert H[:, i, :] == pytest.approx(fd_h, rel=1e-5, abs=1e-4)


def test_blocks_and_subsets_give_the_same_numbers():
    rng = np.random.default_rng(11)
    n = 2 * TemplateKernel.BLOCK + 7
    t = _model(n, rng)
    p = _points(t, n, rng)
    k = TemplateKernel(t, n)
    chi, g, H = k.grad_hess(p)
    idx = np.array([0, 5, n - 1])
    sub = k.take(idx)
    c2, g2, H2 = sub.grad_hess(p[idx])
    assert c2 == pytest.approx(chi[idx], rel=1e-13)
    assert g2 == pytest.approx(g[idx], rel=1e-10, abs=1e-10)
    assert H2 == pytest.approx(H[idx], rel=1e-10, abs=1e-10)
    assert k.chi2(p)[idx] == pytest.approx(_chi2_direct(t, p)[idx], rel=1e-12)


def test_profile_of_the_general_model_is_a_minimum():
    # every parameter moved by +-1e-3 from the profiled minimum raises the chi2 (no bound active here)
    rng = np.random.default_rng(2)
    t = _model(3, rng, onoff=False)
    res = profile_templates(t, 3)
    assert res.converged
    base = _chi2_direct(t, res.values)
    assert res.chi2 == pytest.approx(base, rel=1e-12)
    for i in range(res.values.shape[1]):
        for sign in (1, -1):
            q = res.values.copy()
            q[:, i] += sign * 1e-3
            assert np.all(_chi2_direct(t, q) >= base - 1e-9)
