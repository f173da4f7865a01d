"""A chi-square goodness-of-fit check without scipy."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

# z of the 0.999 quantile: a correct sampler fails a test once in a thousand seeds; the tests use fixed seeds.
Z_999 = 3.090232


def chi_square(observed: Mapping[object, int], weights: Mapping[object, float]) -> tuple[float, int]:
    """Pearson's statistic of observed counts against expected proportions, and its degrees of freedom."""
    total = sum(observed.values())
    weight_sum = sum(weights.values())
    unexpected = set(observed) - set(weights)
    assert not unexpected, f"outcomes with zero weight were drawn: {sorted(map(str, unexpected))[:5]}"
    statistic = 0.0
    for outcome, weight in weights.items():
        expected = total * weight / weight_sum
        statistic += (observed.get(outcome, 0) - expected) ** 2 / expected
    return statistic, len(weights) - 1


def chi_square_critical(degrees: int) -> float:
    """The 0.999 quantile of chi-square (Wilson-Hilferty approximation, good from a few degrees up)."""
    k = float(degrees)
    return k * (1 - 2 / (9 * k) + Z_999 * math.sqrt(2 / (9 * k))) ** 3


def assert_follows(observed: Mapping[object, int], weights: Mapping[object, float]) -> None:
    statistic, degrees = chi_square(observed, weights)
    assert statistic < chi_square_critical(degrees), f"chi-square {statistic:.1f} with {degrees} degrees of freedom"


def binomial_within(successes: int, trials: int, p: float, z: float = 4.0) -> bool:
    """Whether a count is within z standard deviations of its binomial expectation."""
    return abs(successes - trials * p) <= z * math.sqrt(trials * p * (1 - p))


def quantile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[int(q * (len(ordered) - 1))]
