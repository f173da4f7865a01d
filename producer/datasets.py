"""Which clickstream the producer walks: a given file (built into a cached model) or the synthetic default."""

from __future__ import annotations

import logging
from pathlib import Path

from producer.model import ClickstreamModel, build_model, load_model, model_is_current
from producer.synthetic import default_dataset_path, write_synthetic_clickstream

log = logging.getLogger(__name__)
MODEL_SUFFIX = ".model.npz"


def model_path_for(clickstream: Path, directory: Path) -> Path:
    name = clickstream.name.removesuffix(".gz").removesuffix(".tsv")
    return directory / f"{name}{MODEL_SUFFIX}"


def ensure_model(clickstream: Path, model_path: Path) -> ClickstreamModel:
    """The model of clickstream, built first if missing or older than the file."""
    if not model_is_current(model_path, clickstream):
        log.info("building the model of %s into %s (once per file)", clickstream, model_path)
        report = build_model(clickstream, model_path)
        log.info("%s", report.summary())
    return load_model(model_path)


def resolve_model(clickstream: Path | None, data_dir: Path) -> ClickstreamModel:
    """A .npz model as is; a clickstream file via its cached model; none: the synthetic dataset."""
    if clickstream is not None and clickstream.name.endswith(".npz"):
        return load_model(clickstream)
    if clickstream is None:
        clickstream = default_dataset_path(data_dir)
        if not clickstream.exists():
            summary = write_synthetic_clickstream(clickstream)
            log.info(
                "no --clickstream given: generated the SYNTHETIC dataset %s (%d articles, %d rows; not real data)",
                clickstream,
                summary.articles,
                summary.rows,
            )
    return ensure_model(clickstream, model_path_for(clickstream, data_dir))
