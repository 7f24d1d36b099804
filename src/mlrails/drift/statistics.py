"""The statistics the drift measures use, in numpy alone: the drift check's Lambda ships numpy
and pandas but not SciPy (SciPy would not fit beside pyarrow under Lambda's 250 MB), so the
few formulas SciPy would give (JS distance, chi-square survival, the Kolmogorov tail, 1-D
Wasserstein) are written out here and tested against SciPy (tests/unit/test_drift.py)."""

from __future__ import annotations

import math

import numpy as np

_EPSILON = 1e-4  # floor for empty bins: PSI is undefined at zero, and a tiny floor keeps it finite


def psi(reference: np.ndarray, current: np.ndarray) -> float:
    """Population Stability Index of two count (or proportion) vectors over the same bins."""
    ref = np.clip(reference / max(reference.sum(), 1), _EPSILON, None)
    cur = np.clip(current / max(current.sum(), 1), _EPSILON, None)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def jensenshannon(reference: np.ndarray, current: np.ndarray) -> float:
    """Jensen–Shannon distance (base 2: 0 identical, 1 disjoint) of two count vectors,
    as ``scipy.spatial.distance.jensenshannon(reference, current, base=2)``."""
    p, q = reference / reference.sum(), current / current.sum()
    m = (p + q) / 2
    divergence = (_kl(p, m) + _kl(q, m)) / (2 * math.log(2))
    return float(math.sqrt(max(divergence, 0.0)))


def _kl(p: np.ndarray, m: np.ndarray) -> float:
    support = p > 0
    return float(np.sum(p[support] * np.log(p[support] / m[support])))


def chi2_sf(statistic: float, dof: int) -> float:
    """Upper tail of the chi-square distribution, ``scipy.stats.chi2.sf``: the regularized
    upper incomplete gamma Q(dof/2, statistic/2) by its series or continued fraction."""
    a, x = dof / 2, statistic / 2
    if x <= 0:
        return 1.0
    log_front = -x + a * math.log(x) - math.lgamma(a)
    if x < a + 1:  # series for P(a, x), then Q = 1 - P
        term = total = 1 / a
        for n in range(1, 10_000):
            term *= x / (a + n)
            total += term
            if abs(term) < abs(total) * 1e-15:
                break
        return float(max(0.0, 1 - total * math.exp(log_front)))
    # Lentz's continued fraction for Q(a, x)
    tiny = 1e-300
    b, c, d = x + 1 - a, 1 / tiny, 1 / (x + 1 - a)
    h = d
    for n in range(1, 10_000):
        an = -n * (n - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        h *= d * c
        if abs(d * c - 1) < 1e-15:
            break
    return float(math.exp(log_front) * h)


def kolmogorov_sf(statistic: float, effective_n: float) -> float:
    """Asymptotic p-value of a two-sample KS statistic at ``effective_n = n·m / (n + m)``:
    the Kolmogorov distribution with Stephens' small-sample correction (Numerical Recipes),
    within a few percent of ``scipy.stats.ks_2samp(method="asymp")`` where it matters."""
    root = math.sqrt(effective_n)
    lam = (root + 0.12 + 0.11 / root) * statistic
    if lam < 0.2:
        return 1.0
    k = np.arange(1, 101)
    return float(np.clip(2 * np.sum((-1.0) ** (k - 1) * np.exp(-2 * k**2 * lam**2)), 0.0, 1.0))


def chi2_homogeneity(reference: np.ndarray, current: np.ndarray) -> tuple[float, float, float]:
    """Chi-square test that two count vectors come from one distribution, as
    ``scipy.stats.chi2_contingency([reference, current], correction=False)``.

    Returns (statistic, p-value, Cohen's w = sqrt(statistic / n_eff)); bins empty in both
    are left out."""
    keep = (reference + current) > 0
    if keep.sum() < 2:
        return 0.0, 1.0, 0.0
    observed = np.vstack([reference[keep], current[keep]]).astype(float)
    expected = observed.sum(axis=1, keepdims=True) * observed.sum(axis=0) / observed.sum()
    statistic = float(np.sum((observed - expected) ** 2 / expected))
    n, m = current.sum(), reference.sum()
    return statistic, chi2_sf(statistic, int(keep.sum()) - 1), float(math.sqrt(statistic * (n + m) / (n * m)))


def ks_on_grid(reference: np.ndarray, current: np.ndarray) -> tuple[float, float]:
    """Two-sample KS statistic from counts on a shared grid (the largest CDF gap at the grid
    points), and its p-value (:func:`kolmogorov_sf`)."""
    m, n = reference.sum(), current.sum()
    statistic = float(np.max(np.abs(np.cumsum(reference) / m - np.cumsum(current) / n)))
    return statistic, kolmogorov_sf(statistic, m * n / (m + n))


def wasserstein_on_grid(
    edges: np.ndarray, reference: np.ndarray, current: np.ndarray, low: float, high: float
) -> float:
    """Earth mover's distance between counts on a shared grid, each bin's mass at its left
    edge, the open ends halfway to the window's extremes ``low`` and ``high``: the integral
    of the CDF gap, as ``scipy.stats.wasserstein_distance(points, points, reference, current)``."""
    points = np.concatenate([[(low + edges[0]) / 2 if low < edges[0] else edges[0]], edges])
    if high > edges[-1]:
        points[-1] = (edges[-1] + high) / 2
    gap = np.abs(np.cumsum(reference) / reference.sum() - np.cumsum(current) / current.sum())
    return float(np.sum(gap[:-1] * np.diff(points)))
