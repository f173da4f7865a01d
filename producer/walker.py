"""One reader's session as a random walk over the clickstream graph.

A session enters through an entry row (prev an other-* referrer), chosen with probability proportional
to its n. After each click the reader goes on with the article's p_continue, following one of the
article's `link` rows chosen in proportion to its n; otherwise the session ends. Between two clicks
the reader dwells for a lognormal time (median ~30 s: most page views are short, a few are long).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

import numpy.typing as npt

from producer.model import REFERRERS, ClickstreamModel
from wikistream.events import LINK_TYPES


@dataclass(frozen=True)
class DwellTime:
    """Lognormal seconds between two clicks of a session."""

    median_s: float = 30.0
    sigma: float = 1.0

    @property
    def mean_s(self) -> float:
        return self.median_s * math.exp(self.sigma**2 / 2)


@dataclass(frozen=True, slots=True)
class Entry:
    referrer: str
    article: int
    type: str


def _weighted_index(cum: npt.NDArray[Any], lo: int, hi: int, rng: random.Random) -> int:
    """An index in [lo, hi) drawn in proportion to the weights whose running sums are cum.

    The draw is rng.randrange(span) spelled out (the same bits, so the same stream for a seed), and
    the search is the array's own method: the two wrappers cost half of a draw (producer profile).
    """
    base = int(cum[lo - 1]) if lo else 0
    span = int(cum[hi - 1]) - base
    bits = span.bit_length()
    offset = rng.getrandbits(bits)
    while offset >= span:
        offset = rng.getrandbits(bits)
    return lo + int(cum[lo:hi].searchsorted(base + offset, side="right"))


class Walker:
    def __init__(self, model: ClickstreamModel, rng: random.Random, dwell: DwellTime = DwellTime()) -> None:
        self.model = model
        self.rng = rng
        self._mu = math.log(dwell.median_s)
        self._sigma = dwell.sigma

    def enter(self) -> Entry:
        model = self.model
        row = _weighted_index(model.entry_cum, 0, len(model.entry_cum), self.rng)
        return Entry(
            REFERRERS[model.entry_referrer[row]], int(model.entry_curr[row]), LINK_TYPES[model.entry_type[row]]
        )

    def follow(self, article: int) -> int | None:
        """The next article, or None when the reader stops here."""
        model = self.model
        if self.rng.random() >= model.p_continue[article]:
            return None
        # p_continue > 0 only for articles with link rows, so the range is never empty.
        lo, hi = int(model.link_indptr[article]), int(model.link_indptr[article + 1])
        return int(model.link_dst[_weighted_index(model.link_cum, lo, hi, self.rng)])

    def dwell_s(self) -> float:
        return self.rng.lognormvariate(self._mu, self._sigma)
