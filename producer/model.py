"""The compact clickstream model: what the walker needs, in a numpy .npz that loads in seconds.

A full English month is tens of millions of rows (~1.5 GB of text); parsing it takes minutes, so it
is done once, streaming, by build_model. Arrays in the file:

  title_blob, title_offsets   every article title, UTF-8, concatenated (title i is blob[off[i]:off[i+1]])
  link_indptr, link_dst,      CSR adjacency of the `link` rows: the links out of article i are
  link_cum                    link_dst[indptr[i]:indptr[i+1]], with running sums of their n in link_cum
  entry_referrer, entry_curr, the rows whose prev is an other-* referrer (where sessions start),
  entry_type, entry_cum       with running sums of their n
  p_continue                  per article: the chance that a reader clicks on, min(out link n / in n, cap)
  meta                        JSON: source file, row counts, synthetic flag, the cap

Memory while building grows with the distinct titles and the link rows (about 16 bytes a row), not
with the size of the file.
"""

from __future__ import annotations

import json
import os
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from tqdm import tqdm

from producer.clickstream import ClickstreamError, ParseReport, iter_rows
from producer.errors import ProducerError
from wikistream.events import LINK_TYPES, REFERRER_CLASSES

MODEL_FORMAT = 1
REFERRERS: tuple[str, ...] = tuple(REFERRER_CLASSES)
# Pairs with 10 clicks or fewer are not published, so out/in can exceed 1 for an article whose readers
# arrive through many small, unpublished referrers: the cap keeps sessions short on average.
DEFAULT_CONTINUE_CAP = 0.9
SYNTHETIC_MARK = "synthetic"


class ModelError(ProducerError):
    """The model file is missing, unreadable or of another format."""


def is_synthetic_name(path: Path) -> bool:
    """Synthetic datasets are labelled in their file name; this is the one place that reads the label."""
    return SYNTHETIC_MARK in path.name.lower()


@dataclass(frozen=True)
class ClickstreamModel:
    title_blob: bytes
    title_offsets: npt.NDArray[Any]
    link_indptr: npt.NDArray[Any]
    link_dst: npt.NDArray[Any]
    link_cum: npt.NDArray[Any]
    entry_referrer: npt.NDArray[Any]
    entry_curr: npt.NDArray[Any]
    entry_type: npt.NDArray[Any]
    entry_cum: npt.NDArray[Any]
    p_continue: npt.NDArray[Any]
    meta: dict[str, Any]

    @property
    def articles(self) -> int:
        return len(self.title_offsets) - 1

    @property
    def synthetic(self) -> bool:
        return bool(self.meta["synthetic"])

    def title(self, article: int) -> str:
        return self.title_blob[self.title_offsets[article] : self.title_offsets[article + 1]].decode()

    def describe(self) -> str:
        label = "SYNTHETIC clickstream (generated, not real Wikipedia data)" if self.synthetic else "clickstream"
        return (
            f"{label} {self.meta['source_name']}: {self.articles} articles, "
            f"{len(self.link_dst)} link rows, {len(self.entry_curr)} entry rows"
        )


class _Interner:
    """Article title -> dense id, with the UTF-8 titles and per-article click totals kept alongside."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.blob = bytearray()
        self.offsets = array("q", [0])
        self.in_n = array("q")
        self.out_link_n = array("q")

    def id(self, title: str) -> int:
        article = self.ids.get(title)
        if article is None:
            article = self.ids[title] = len(self.ids)
            self.blob += title.encode()
            self.offsets.append(len(self.blob))
            self.in_n.append(0)
            self.out_link_n.append(0)
        return article


def build_model(
    clickstream: Path, out: Path, continue_cap: float = DEFAULT_CONTINUE_CAP, progress: bool = True
) -> ParseReport:
    """Stream a clickstream file into a model file; returns what the read found."""
    if not 0.0 <= continue_cap < 1.0:
        raise ProducerError(f"the continue cap must be in [0, 1), got {continue_cap}")
    report = ParseReport(clickstream)
    titles = _Interner()
    link_src, link_dst, link_n = array("i"), array("i"), array("q")
    entry_ref, entry_curr, entry_type, entry_n = array("b"), array("i"), array("b"), array("q")
    referrer_index = {name: i for i, name in enumerate(REFERRERS)}
    type_index = {name: i for i, name in enumerate(LINK_TYPES)}

    size = clickstream.stat().st_size if clickstream.is_file() else None
    with tqdm(total=size, unit="B", unit_scale=True, desc=f"reading {clickstream.name}", disable=not progress) as bar:

        def show(done: int) -> None:
            bar.update(done - bar.n)

        for prev, curr, link_type, n in iter_rows(clickstream, report, show):
            target = titles.id(curr)
            titles.in_n[target] += n
            referrer = referrer_index.get(prev)
            if referrer is not None:
                entry_ref.append(referrer)
                entry_curr.append(target)
                entry_type.append(type_index[link_type])
                entry_n.append(n)
            elif link_type == "link":
                source = titles.id(prev)
                titles.out_link_n[source] += n
                link_src.append(source)
                link_dst.append(target)
                link_n.append(n)
            # An article prev with type external/other is a click we cannot follow (no link on the
            # page): it counts towards curr's incoming clicks only.
        bar.update((size or 0) - bar.n)

    if not entry_n:
        raise ClickstreamError(f"no entry rows (prev other-*) in {clickstream}: sessions could not start")

    articles = len(titles.ids)
    src = np.frombuffer(link_src, dtype=np.int32)
    order = np.argsort(src, kind="stable")
    link_indptr = np.zeros(articles + 1, dtype=np.int64)
    np.cumsum(np.bincount(src, minlength=articles), out=link_indptr[1:])
    in_n = np.frombuffer(titles.in_n, dtype=np.int64).astype(np.float64)
    out_n = np.frombuffer(titles.out_link_n, dtype=np.int64)
    ratio = np.divide(out_n, in_n, out=np.zeros(articles), where=in_n > 0)
    stat = clickstream.stat()
    meta = {
        "format": MODEL_FORMAT,
        "source_name": clickstream.name,
        "source_size": stat.st_size,
        "source_mtime_ns": stat.st_mtime_ns,
        "synthetic": is_synthetic_name(clickstream),
        "rows": report.rows,
        "malformed": report.malformed,
        "continue_cap": continue_cap,
    }
    arrays = {
        "title_blob": np.frombuffer(titles.blob, dtype=np.uint8),
        "title_offsets": np.frombuffer(titles.offsets, dtype=np.int64),
        "link_indptr": link_indptr,
        "link_dst": np.frombuffer(link_dst, dtype=np.int32)[order],
        "link_cum": np.cumsum(np.frombuffer(link_n, dtype=np.int64)[order]),
        "entry_referrer": np.frombuffer(entry_ref, dtype=np.int8),
        "entry_curr": np.frombuffer(entry_curr, dtype=np.int32),
        "entry_type": np.frombuffer(entry_type, dtype=np.int8),
        "entry_cum": np.cumsum(np.frombuffer(entry_n, dtype=np.int64)),
        "p_continue": np.minimum(ratio, continue_cap).astype(np.float32),
        "meta": np.array(json.dumps(meta)),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    # A name of our own, then an atomic rename: an interrupted build, or two producers building the
    # same model at once, never leave a half-written file under the final name.
    partial = out.with_name(f"{out.name}.{os.getpid()}.part")
    with partial.open("wb") as handle:
        np.savez(handle, **arrays)
    partial.replace(out)
    return report


def load_model(path: Path) -> ClickstreamModel:
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except (OSError, ValueError, KeyError) as error:
        raise ModelError(f"cannot read model file {path}: {error}") from error
    meta = json.loads(str(arrays.pop("meta")))
    if meta.get("format") != MODEL_FORMAT:
        raise ModelError(f"{path} is a model of format {meta.get('format')}, expected {MODEL_FORMAT}: rebuild it")
    return ClickstreamModel(title_blob=arrays.pop("title_blob").tobytes(), meta=meta, **arrays)


def model_is_current(model_path: Path, clickstream: Path) -> bool:
    """Whether model_path was built from clickstream as it is now (same name, size and mtime)."""
    if not model_path.exists():
        return False
    try:
        with np.load(model_path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
        stat = clickstream.stat()
    except (OSError, ValueError, KeyError):
        return False
    return meta.get("format") == MODEL_FORMAT and (
        meta.get("source_name"),
        meta.get("source_size"),
        meta.get("source_mtime_ns"),
    ) == (clickstream.name, stat.st_size, stat.st_mtime_ns)
