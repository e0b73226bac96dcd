"""Small-sample statistics for `seqlab compare --group`: mean, a Student t interval, Welch's test.

Written with the standard library only (scipy is no dependency of seqlab): Student's t
distribution through the regularized incomplete beta function,
P(|T| > t) = I_{df/(df+t^2)}(df/2, 1/2), evaluated by its continued fraction (Lentz's method).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

CONFIDENCE = 0.95


def betainc(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b), for a, b > 0 and 0 <= x <= 1."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):  # the continued fraction converges fast here ...
        return front * _beta_fraction(a, b, x) / a
    return 1.0 - front * _beta_fraction(b, a, 1.0 - x) / b  # ... and by symmetry everywhere else


def _beta_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of I_x(a, b), by the modified Lentz method."""
    tiny = 1e-300

    def nonzero(v: float) -> float:
        return tiny if abs(v) < tiny else v

    c, d = 1.0, 1.0 / nonzero(1.0 - (a + b) * x / (a + 1.0))
    result = d
    for m in range(1, 1000):
        even = m * (b - m) * x / ((a + 2 * m - 1.0) * (a + 2 * m))
        d, c = 1.0 / nonzero(1.0 + even * d), nonzero(1.0 + even / c)
        result *= d * c
        odd = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1.0))
        d, c = 1.0 / nonzero(1.0 + odd * d), nonzero(1.0 + odd / c)
        result *= d * c
        if abs(d * c - 1.0) < 1e-15:
            break
    return result


def t_two_sided(t: float, df: float) -> float:
    """P(|T| >= |t|) for Student's T with `df` degrees of freedom (fractional allowed)."""
    if math.isinf(t):
        return 0.0
    return betainc(df / 2.0, 0.5, df / (df + t * t))


def t_quantile(q: float, df: float) -> float:
    """The t with P(T <= t) = q, for 0.5 <= q < 1 (by bisection on the two-sided tail)."""
    tail = 2.0 * (1.0 - q)
    if tail >= 1.0:
        return 0.0
    lo, hi = 0.0, 1.0
    while t_two_sided(hi, df) > tail:
        lo, hi = hi, hi * 2.0
    for _ in range(200):
        mid = (lo + hi) / 2.0
        lo, hi = (mid, hi) if t_two_sided(mid, df) > tail else (lo, mid)
        if hi - lo <= 1e-13 * hi:
            break
    return (lo + hi) / 2.0


@dataclass(frozen=True)
class Summary:
    """The mean of n values, their sample standard deviation (n - 1) and the half-width of the
    Student t interval at CONFIDENCE; std and half-width are None for fewer than two values."""

    n: int
    mean: float
    std: float | None
    half_width: float | None


def summarize(values: list[float]) -> Summary:
    n = len(values)
    mean = statistics.fmean(values)
    if n < 2:
        return Summary(n, mean, None, None)
    std = statistics.stdev(values)
    return Summary(n, mean, std, t_quantile(0.5 + CONFIDENCE / 2.0, n - 1) * std / math.sqrt(n))


def welch_p(a: list[float], b: list[float]) -> float | None:
    """Two-sided p-value of Welch's t-test (unequal variances, Welch-Satterthwaite degrees of
    freedom) that the means of `a` and `b` are equal; None when it is undefined (fewer than
    two values on a side, or no spread at all)."""
    if len(a) < 2 or len(b) < 2:
        return None
    va, vb = statistics.variance(a) / len(a), statistics.variance(b) / len(b)
    if va + vb == 0.0:
        return None
    t = (statistics.fmean(a) - statistics.fmean(b)) / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    return t_two_sided(t, df)
