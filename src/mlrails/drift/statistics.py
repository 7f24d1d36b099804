"""The statistics the drift measures use, in numpy alone: the drift check's Lambda ships numpy
and pandas but not SciPy (SciPy would not fit beside pyarrow under Lambda's 250 MB), so the
few formulas SciPy would give (JS distance, chi-square survival and its noncentral form, the
Kolmogorov tail, 1-D Wasserstein) are written out here and tested against SciPy
(tests/unit/test_drift.py, tests/unit/test_drift_power.py).

The power functions answer "what is the smallest effect this window could detect": the
effect at which the test, at level ``alpha``, rejects with probability ``power``.

- Kolmogorov–Smirnov (:func:`ks_detectable`). The test rejects when D > λ_α / k(n_e), with
  n_e = n·m / (n + m), k(n_e) = √n_e + 0.12 + 0.11 / √n_e (Stephens' correction, as
  :func:`kolmogorov_sf`) and λ_α the Kolmogorov distribution's upper α point (≈ √(−ln(α/2)/2)).
  Under an alternative whose CDFs differ by D at some x₀, the statistic is at least the gap
  at x₀, whose estimate is about normal with mean D and standard deviation
  √(F(1−F)/m + G(1−G)/n) ≤ 1 / (2√n_e). So P(reject) ≥ Φ(2√n_e · (D − λ_α / k(n_e))), and
  D_min = λ_α / k(n_e) + z_power / (2√n_e) is enough for the power: a bound that holds
  whatever the shapes, conservative by the worst-case variance and by looking at one point.
- Chi-square (:func:`chi2_detectable`). With Cohen's w as the effect, the homogeneity
  statistic under the alternative is noncentral chi-square with ``dof`` degrees of freedom
  and noncentrality λ = n_e · w² (the statistic over n_e is w², by the definition the report
  uses); λ_min is where its tail beyond the central critical value reaches ``power``, and
  w_min = √(λ_min / n_e). λ_min depends on neither n nor m, so it is computed once per
  (dof, α, power).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache
from statistics import NormalDist

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
    return _kolmogorov_tail(_stephens(effective_n) * statistic)


def _stephens(effective_n: float) -> float:
    root = math.sqrt(effective_n)
    return root + 0.12 + 0.11 / root


def _kolmogorov_tail(lam: float) -> float:
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
    """Earth mover's distance between counts on a shared grid: the integral of the CDF gap.

    Where the reference has mass, each bin's mass sits at its left edge, as
    ``scipy.stats.wasserstein_distance(points, points, reference, current)`` (exact for
    discrete data whose values are grid points). Where it has none and its CDF is flat at 0
    or 1 (beyond its range), the window's mass is spread evenly across each bin, the open ends
    out to the window's extremes ``low`` and ``high``: a window lying mostly outside the
    reference range is transported the distance it really is, not to each bin's near edge."""
    points = np.concatenate([[min(low, edges[0])], edges, [max(high, edges[-1])]])
    widths = np.diff(points)  # bin i spans points[i]..points[i + 1]
    ref_cum = np.cumsum(reference)  # counts compare exactly where proportions would round
    ref_cdf = np.concatenate([[0.0], ref_cum / reference.sum()])  # [i + 1]: through bin i
    cur_cdf = np.concatenate([[0.0], np.cumsum(current) / current.sum()])
    stepped = np.abs(ref_cdf[1:] - cur_cdf[1:]) * widths
    spread = np.abs(ref_cdf[1:] - (cur_cdf[:-1] + cur_cdf[1:]) / 2) * widths
    flat = (reference == 0) & ((ref_cum == 0) | (ref_cum == ref_cum[-1]))
    return float(np.sum(np.where(flat, spread, stepped)))


# --- power: the smallest effect a window could detect (module docstring) -------------------


@lru_cache
def _kolmogorov_isf(alpha: float) -> float:
    """λ where the Kolmogorov tail falls to ``alpha`` (``scipy.stats.kstwobign.isf``)."""
    return _bisect(lambda lam: _kolmogorov_tail(lam) > alpha, 0.0, 10.0)


def ks_detectable(n: float, m: float, alpha: float, power: float) -> float:
    """The smallest KS distance a window of ``n`` values tested against ``m`` reference values
    detects with probability ``power`` at level ``alpha``."""
    effective_n = n * m / (n + m)
    critical = _kolmogorov_isf(alpha) / _stephens(effective_n)
    return critical + NormalDist().inv_cdf(power) / (2 * math.sqrt(effective_n))


def chi2_isf(alpha: float, dof: int) -> float:
    """The chi-square critical value at level ``alpha`` (``scipy.stats.chi2.isf``)."""
    return _bisect(lambda x: chi2_sf(x, dof) > alpha, 0.0, dof + 50 * math.sqrt(dof) + 100)


def ncx2_sf(statistic: float, dof: int, noncentrality: float) -> float:
    """Upper tail of the noncentral chi-square (``scipy.stats.ncx2.sf``): the Poisson mixture
    of central tails, Σ_j Poisson(j; λ/2) · Q(dof + 2j), over the j that weigh anything."""
    mean = noncentrality / 2
    if mean == 0:
        return chi2_sf(statistic, dof)
    spread = 10 * math.sqrt(mean) + 10
    total = 0.0
    for j in range(max(0, int(mean - spread)), int(mean + spread) + 1):
        weight = math.exp(-mean + j * math.log(mean) - math.lgamma(j + 1))
        total += weight * chi2_sf(statistic, dof + 2 * j)
    return min(total, 1.0)


@lru_cache
def _chi2_detectable_noncentrality(dof: int, alpha: float, power: float) -> float:
    critical = chi2_isf(alpha, dof)
    high = 1.0
    while ncx2_sf(critical, dof, high) < power:
        high *= 2
    return _bisect(lambda nc: ncx2_sf(critical, dof, nc) < power, 0.0, high)


def chi2_detectable(n: float, m: float, dof: int, alpha: float, power: float) -> float:
    """The smallest Cohen's w a chi-square test of homogeneity (``dof`` degrees of freedom,
    ``n`` window and ``m`` reference values) detects with probability ``power`` at ``alpha``."""
    return math.sqrt(_chi2_detectable_noncentrality(dof, alpha, power) * (n + m) / (n * m))


def _bisect(below: Callable[[float], bool], low: float, high: float) -> float:
    """The point in [low, high] where the monotone condition ``below`` stops holding."""
    for _ in range(200):
        middle = (low + high) / 2
        low, high = (middle, high) if below(middle) else (low, middle)
        if high - low <= 1e-12 * max(1.0, high):
            break
    return (low + high) / 2
