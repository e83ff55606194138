"""Confidence intervals: a mean with its 95% CI and n, never NaN, plain or clustered.

`mean_with_ci` takes plain values (Wilson for 0/1 values, Student's t otherwise);
`metric_value` wraps it as a `MetricValue`; `clustered_metric` averages each cluster first
(the repeats of one question) and takes the CI over clusters. The run's aggregates
(`qa.evals.metrics`) and each eval task's own metrics (`qa.evals.tasks`) are built from these.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence

from pydantic import BaseModel, ConfigDict

from qa.errors import EvalError

__all__ = ["MetricValue", "clustered_metric", "mean_with_ci", "metric_value"]

_Z95 = 1.959963984540054
_T95 = (
    12.706,
    4.303,
    3.182,
    2.776,
    2.571,
    2.447,
    2.365,
    2.306,
    2.262,
    2.228,
    2.201,
    2.179,
    2.160,
    2.145,
    2.131,
    2.120,
    2.110,
    2.101,
    2.093,
    2.086,
    2.080,
    2.074,
    2.069,
    2.064,
    2.060,
    2.056,
    2.052,
    2.048,
    2.045,
    2.042,
)  # two-sided 95% Student t, df = 1..30


def mean_with_ci(values: Iterable[float | None]) -> tuple[float | None, float | None, float | None, int]:
    """(mean, low, high, n) with a 95% confidence interval; None values (unscored) are left out.

    0/1 values use the Wilson score interval. Other values use Student's t (normal beyond
    30 degrees of freedom), clipped to [0, 1] when every value lies in [0, 1]; with one
    continuous value the bounds are None. n = 0 gives (None, None, None, 0), never NaN.
    """
    xs = [float(v) for v in values if v is not None]
    if any(not math.isfinite(x) for x in xs):
        raise EvalError("mean_with_ci got a NaN or infinite value; score it as unscored instead")
    n = len(xs)
    if n == 0:
        return None, None, None, 0
    mean = sum(xs) / n
    if all(x in (0.0, 1.0) for x in xs):
        z2 = _Z95 * _Z95
        centre = (mean + z2 / (2 * n)) / (1 + z2 / n)
        half = _Z95 * math.sqrt(mean * (1 - mean) / n + z2 / (4 * n * n)) / (1 + z2 / n)
        return mean, max(0.0, centre - half), min(1.0, centre + half), n
    if n == 1:
        return mean, None, None, 1
    sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1))
    t = _T95[n - 2] if n - 1 <= len(_T95) else _Z95
    low, high = mean - t * sd / math.sqrt(n), mean + t * sd / math.sqrt(n)
    if all(0.0 <= x <= 1.0 for x in xs):
        low, high = max(0.0, low), min(1.0, high)
    return mean, low, high, n


class MetricValue(BaseModel):
    """One aggregate: its mean, a 95% confidence interval and how many units it covers."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    value: float | None
    """Mean (0..1), or None when nothing could be scored."""
    low: float | None
    """Lower bound of the 95% CI (None when n < 2 for continuous values, or n = 0)."""
    high: float | None
    """Upper bound of the 95% CI."""
    n: int
    """Units averaged: questions (clustered over repeats) or summary cases."""


def metric_value(values: Iterable[float | None]) -> MetricValue:
    """The mean of `values` with its 95% CI and n (None values left out)."""
    value, low, high, n = mean_with_ci(values)
    return MetricValue(value=value, low=low, high=high, n=n)


def clustered_metric(pairs: Sequence[tuple[str, float | None]]) -> MetricValue:
    """Average the values of each cluster, then the CI over clusters."""
    clusters: dict[str, list[float]] = defaultdict(list)
    for cluster, value in pairs:
        if value is not None:
            clusters[cluster].append(value)
    return metric_value(sum(vs) / len(vs) for vs in clusters.values())
