"""The offline default: a small SYNTHETIC clickstream in the real dump format, generated from a seed.

Article names are invented from syllables and look like titles, but nothing here is Wikipedia data:
the file name always contains "synthetic", the model built from it is flagged synthetic, and the
producer's log says so. The shape imitates the real dumps: popularity follows a power law, most
readers arrive from search, popular articles collect links, and as in the published data no pair
has fewer than 11 clicks.
"""

from __future__ import annotations

import gzip
import os
import random
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path

from producer.errors import ProducerError
from producer.model import is_synthetic_name

DEFAULT_DATASET_SEED = 1
DEFAULT_ARTICLES = 3000
# The dumps drop pairs with 10 clicks or fewer.
MIN_PUBLISHED_N = 11

_SYLLABLES = [
    "var",
    "nel",
    "kor",
    "ash",
    "mir",
    "tol",
    "bre",
    "dun",
    "os",
    "qua",
    "rin",
    "sel",
    "thar",
    "ul",
    "ven",
    "zor",
    "lyn",
    "cas",
    "dor",
    "fen",
    "gal",
    "hal",
    "isk",
    "jor",
    "kel",
    "lum",
    "mor",
    "nor",
    "pel",
    "ras",
    "sten",
    "tiv",
    "ard",
    "bel",
    "cen",
    "dra",
    "eth",
    "fal",
    "gor",
    "han",
    "ivo",
    "kes",
    "lar",
    "mon",
]
# A few accented letters, so that the dataset exercises UTF-8 like a real wiki's titles do.
_ACCENTED = {"o": "ö", "e": "é", "a": "å", "n": "ñ", "u": "ü"}
_PLACE_KINDS = ("River", "Castle", "Cathedral", "Railway_station", "University", "Airport", "Lake", "Province")
_TOPIC_PATTERNS = (
    "{name}",
    "{name}",
    "{name}_{kind}",
    "Battle_of_{name}",
    "History_of_{name}",
    "{name}_(band)",
    "{name}_{surname}",
    "List_of_{name}_monarchs",
    "{name}_(film)",
    "{name}_Festival",
)
# Entry referrers: (prev, type, share of an article's outside arrivals).
_ENTRY_MIX = (
    ("other-search", "external", 0.62),
    ("other-empty", "other", 0.18),
    ("other-external", "external", 0.08),
    ("other-internal", "external", 0.05),
    ("other-other", "other", 0.02),
)


@dataclass(frozen=True)
class SyntheticSummary:
    path: Path
    articles: int
    rows: int


def _word(rng: random.Random) -> str:
    word = "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 3)))
    if rng.random() < 0.06:
        letter = rng.choice([c for c in word if c in _ACCENTED] or [word[0]])
        word = word.replace(letter, _ACCENTED.get(letter, letter), 1)
    return word.capitalize()


def _titles(count: int, rng: random.Random) -> list[str]:
    titles: list[str] = []
    seen: set[str] = set()
    while len(titles) < count:
        pattern = rng.choice(_TOPIC_PATTERNS)
        title = pattern.format(name=_word(rng), surname=_word(rng), kind=rng.choice(_PLACE_KINDS))
        if title not in seen:
            seen.add(title)
            titles.append(title)
    return titles


def _rows(articles: int, rng: random.Random) -> list[tuple[str, str, str, int]]:
    titles = _titles(articles, rng)
    # Zipf-like popularity: monthly outside arrivals of the article ranked r ~ 2,000,000 / r.
    arrivals = [2_000_000 / rank**1.05 * rng.uniform(0.6, 1.4) for rank in range(1, articles + 1)]
    rows: list[tuple[str, str, str, int]] = []
    for title, arriving in zip(titles, arrivals, strict=True):
        for prev, link_type, share in _ENTRY_MIX:
            n = round(arriving * share * rng.uniform(0.5, 1.5))
            if n >= MIN_PUBLISHED_N:
                rows.append((prev, title, link_type, n))
    population = range(articles)
    cumulative = list(accumulate(arrivals))
    for source in population:
        # Readers click on from a fraction of an article's arrivals, spread over its links; links
        # point mostly at popular articles (preferential attachment).
        clicking_on = arrivals[source] * rng.uniform(0.2, 0.9)
        targets = {t for t in rng.choices(population, cum_weights=cumulative, k=rng.randint(3, 25)) if t != source}
        shares = [rng.paretovariate(1.5) for _ in targets]
        for target, share in zip(sorted(targets), shares, strict=True):
            n = round(clicking_on * share / sum(shares))
            if n >= MIN_PUBLISHED_N:
                rows.append((titles[source], titles[target], "link", n))
        if rng.random() < 0.3:
            # A click from an article to a page it does not link to (type other), as in the dumps.
            target = rng.randrange(articles)
            n = round(clicking_on * 0.02)
            if target != source and n >= MIN_PUBLISHED_N:
                rows.append((titles[source], titles[target], "other", n))
    rng.shuffle(rows)
    return rows


def write_synthetic_clickstream(
    path: Path, seed: int = DEFAULT_DATASET_SEED, articles: int = DEFAULT_ARTICLES
) -> SyntheticSummary:
    """Write the dataset (gzipped if path ends in .gz); the same seed gives the same bytes."""
    if not is_synthetic_name(path):
        raise ProducerError(f"a synthetic dataset's file name must contain 'synthetic', got {path.name}")
    if articles < 2:
        raise ProducerError("a synthetic dataset needs at least 2 articles")
    rows = _rows(articles, random.Random(seed))
    data = "".join(f"{prev}\t{curr}\t{link_type}\t{n}\n" for prev, curr, link_type, n in rows).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{os.getpid()}.part")  # see build_model
    with partial.open("wb") as raw:
        if path.suffix == ".gz":
            # mtime=0 and no embedded file name: the gzip header is the same on every run.
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as packed:
                packed.write(data)
        else:
            raw.write(data)
    partial.replace(path)
    return SyntheticSummary(path, articles, len(rows))


def default_dataset_path(data_dir: Path, seed: int = DEFAULT_DATASET_SEED) -> Path:
    return data_dir / f"clickstream-synthetic-seed{seed}.tsv.gz"
