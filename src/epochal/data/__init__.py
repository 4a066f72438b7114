"""Data adapters: user inputs -> batch sources (see `_sources`)."""

from epochal.data._adapters import (
    apply_class_weight,
    fit_sources,
    looks_like_batches,
    make_source,
    split_arrays,
    validation_source,
)
from epochal.data._sources import ArraySource, Batch, IterableSource, Source

__all__ = [
    "ArraySource",
    "Batch",
    "IterableSource",
    "Source",
    "apply_class_weight",
    "fit_sources",
    "looks_like_batches",
    "make_source",
    "split_arrays",
    "validation_source",
]
