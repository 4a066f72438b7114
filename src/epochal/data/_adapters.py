"""User inputs -> batch sources, with every data check (see `_sources`)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, TensorDataset

from epochal._tree import Tree
from epochal.data._convert import as_tensor_tree, check_finite, is_array_tree, tree_length
from epochal.data._sources import ArraySource, IterableSource, Source
from epochal.data._tables import resolve_table
from epochal.errors import ArgumentError, ArgumentTypeError, DataError


def looks_like_batches(data: Any) -> bool:
    """A list of ``(x, y[, sample_weight])`` tuples: batches, not a multi-input list of arrays."""
    return isinstance(data, list) and len(data) > 0 and all(isinstance(b, tuple) for b in data)


def _is_iterable_data(x: Any) -> bool:
    if isinstance(x, (Dataset, DataLoader)) or looks_like_batches(x):
        return True
    if isinstance(x, (str, bytes, Mapping, list)) or is_array_tree(x):
        return False  # a plain list is array data (nested numbers), as in Keras
    return isinstance(x, Iterable)


def arrays_from(
    x: Any,
    y: Any,
    sample_weight: Any,
    *,
    names: tuple[str, str, str] = ("x", "y", "sample_weight"),
    require_y: bool = True,
) -> tuple[Tree, Tree | None, torch.Tensor | None, int]:
    """Convert and check in-memory arrays; returns (x, y, sample_weight, n)."""
    xn, yn, swn = names
    xt = as_tensor_tree(x, xn)
    n = tree_length(xt, xn)
    if n == 0:
        raise DataError(f"Expected `{xn}` to hold at least one sample. Received an empty array.")
    yt = None
    if y is None:
        if require_y:
            raise ArgumentError(
                f"Expected `{yn}` (the targets) for in-memory `{xn}`. Received: {yn}=None"
            )
    else:
        yt = as_tensor_tree(y, yn)
        ny = tree_length(yt, yn)
        if ny != n:
            raise DataError(
                f"Expected `{xn}` and `{yn}` to have the same number of samples. "
                f"Received: {xn} with {n} samples, {yn} with {ny} samples"
            )
    swt = None
    if sample_weight is not None:
        swt = as_tensor_tree(sample_weight, swn)
        if not isinstance(swt, torch.Tensor):
            raise ArgumentTypeError(
                f"Expected `{swn}` to be a 1-D array. Received a {type(sample_weight).__name__}"
            )
        if swt.ndim == 2 and swt.shape[1] == 1:
            swt = swt[:, 0]
        if swt.ndim != 1 or swt.shape[0] != n:
            raise DataError(
                f"Expected `{swn}` to have shape ({n},), one weight per sample. "
                f"Received shape {tuple(swt.shape)}"
            )
        swt = swt.to(torch.float32)
    return xt, yt, swt, n


def make_source(
    x: Any,
    y: Any = None,
    sample_weight: Any = None,
    *,
    device: torch.device,
    batch_size: int,
    names: tuple[str, str, str] = ("x", "y", "sample_weight"),
    require_y: bool = True,
    check_finite_values: bool = True,
) -> Source:
    """Build a batch source from any supported input, raising clear errors for bad input."""
    xn, yn, swn = names
    if x is None:
        raise ArgumentError(f"Expected `{xn}` to be data. Received: {xn}=None")
    x, y = resolve_table(x, y, names)  # a table with y naming its target column(s)
    if isinstance(x, TensorDataset) and y is None and sample_weight is None:
        tensors = x.tensors
        if not 1 <= len(tensors) <= 3:
            raise DataError(
                f"Expected `{xn}` (a TensorDataset) to hold x, (x, y) or (x, y, sample_weight). "
                f"Received {len(tensors)} tensors"
            )
        x, y, sample_weight = (*tensors, None, None)[:3]
    if _is_iterable_data(x):
        for value, arg in ((y, yn), (sample_weight, swn)):
            if value is not None:
                raise ArgumentError(
                    f"`{arg}` must not be given when `{xn}` is a {type(x).__name__}: the batches "
                    f"carry it as (x, y[, sample_weight]). Received: {arg} of type "
                    f"{type(value).__name__}"
                )
        if isinstance(x, Dataset) and not isinstance(x, DataLoader):
            try:
                if len(x) == 0:  # type: ignore[arg-type]
                    raise DataError(
                        f"Expected `{xn}` to hold at least one sample. Received an empty Dataset."
                    )
            except TypeError:
                pass  # IterableDataset without a length
        return IterableSource(x, device, batch_size=batch_size, name=xn)
    if isinstance(x, (str, bytes)) or not (is_array_tree(x) or isinstance(x, (list, tuple))):
        raise ArgumentTypeError(
            f"Expected `{xn}` to be a numpy array, torch tensor, pandas DataFrame, a tuple/dict of "
            f"those, a Dataset, a DataLoader or an iterable of batches. Received: {xn} of type "
            f"{type(x).__name__}"
        )
    xt, yt, swt, _ = arrays_from(x, y, sample_weight, names=names, require_y=require_y)
    if check_finite_values:
        check_finite(xt, xn)
        if yt is not None:
            check_finite(yt, yn)
        if swt is not None:
            check_finite(swt, swn)
    return ArraySource(xt, yt, swt, device)


def split_arrays(source: Source, validation_split: float) -> tuple[ArraySource, ArraySource]:
    """Keras's split: the last ``validation_split`` fraction, taken before shuffling."""
    if not isinstance(source, ArraySource):
        raise ArgumentError(
            "`validation_split` is only supported for in-memory arrays (numpy, tensors, pandas). "
            "Received x as a Dataset/DataLoader/iterable: pass validation_data instead"
        )
    split_at = math.ceil(source.n * (1.0 - validation_split))
    if split_at <= 0 or split_at >= source.n:
        raise DataError(
            f"validation_split={validation_split} leaves "
            f"{'no training' if split_at <= 0 else 'no validation'} samples out of {source.n}. "
            "Use more data or another validation_split"
        )
    return source.select(slice(0, split_at)), source.select(slice(split_at, source.n))


def apply_class_weight(source: Source, class_weight: Mapping[Any, float]) -> None:
    """Turn ``class_weight`` into per-sample weights on an in-memory source (Keras semantics)."""
    if not isinstance(class_weight, Mapping):
        raise ArgumentTypeError(
            "Expected `class_weight` to be a dict mapping class index to weight. "
            f"Received: class_weight of type {type(class_weight).__name__}"
        )
    if not isinstance(source, ArraySource) or not isinstance(source.y, torch.Tensor):
        raise ArgumentError(
            "`class_weight` is supported for in-memory arrays with a single target array; "
            "for other inputs give each batch a sample_weight"
        )
    y = source.y
    if y.ndim == 2 and y.shape[1] > 1:
        classes = y.argmax(dim=1)
    elif y.ndim <= 1 or (y.ndim == 2 and y.shape[1] == 1):
        classes = y.reshape(-1).round().long()
    else:
        raise DataError(
            "`class_weight` needs targets of shape (n,), (n, 1) or one-hot (n, classes). "
            f"Received y of shape {tuple(y.shape)}"
        )
    present = torch.unique(classes).tolist()
    try:
        keys = {int(k): float(v) for k, v in class_weight.items()}
    except (TypeError, ValueError) as exc:
        raise ArgumentError(
            f"Expected `class_weight` keys to be class indices and values numbers. Received: {class_weight!r}"
        ) from exc
    missing = [c for c in present if c not in keys]
    if missing:
        raise ArgumentError(
            f"`class_weight` has no weight for classes {missing} present in y. "
            f"Received keys: {sorted(keys)}"
        )
    table = torch.zeros(max(max(keys), max(present)) + 1, dtype=torch.float32)
    for k, v in keys.items():
        if k >= 0:
            table[k] = v
    source.sample_weight = table.to(y.device)[classes]


def validation_source(
    data: Any, device: torch.device, batch_size: int, check_finite: bool
) -> Source:
    if isinstance(data, (tuple, list)) and not looks_like_batches(data):
        if len(data) not in (2, 3):
            raise ArgumentError(
                "Expected `validation_data` to be (x_val, y_val) or (x_val, y_val, sample_weight). "
                f"Received a {type(data).__name__} of length {len(data)}"
            )
        return make_source(
            *data,
            device=device,
            batch_size=batch_size,
            names=("validation_data x", "validation_data y", "validation_data sample_weight"),
            check_finite_values=check_finite,
        )
    return make_source(
        data,
        device=device,
        batch_size=batch_size,
        names=("validation_data", "validation_data y", "validation_data sample_weight"),
    )


def fit_sources(
    x: Any,
    y: Any,
    sample_weight: Any,
    *,
    device: torch.device,
    batch_size: int,
    batch_size_given: bool,
    validation_data: Any,
    validation_split: float,
    validation_batch_size: int,
    class_weight: Mapping[Any, float] | None,
    check_finite: bool,
    step_checkpoints: bool,
) -> tuple[Source, Source | None]:
    """The training and validation sources of a ``fit`` call, with every data check."""
    if isinstance(x, DataLoader) and x.num_workers > 0 and x.persistent_workers:
        raise ArgumentError(
            "fit cannot own the random state of persistent DataLoader workers: they keep their "
            "numpy/random/torch generators across epochs and fit calls, so a split or resumed "
            "run would draw other augmentations. Received: a DataLoader with "
            f"num_workers={x.num_workers} and persistent_workers=True. Pass "
            "persistent_workers=False (workers are then seeded from the run every epoch)"
        )
    train = make_source(
        x, y, sample_weight, device=device, batch_size=batch_size, check_finite_values=check_finite
    )
    if batch_size_given and isinstance(train, IterableSource) and not train.is_map_dataset:
        raise ArgumentError(
            f"`batch_size` cannot be set when x is a {type(x).__name__}: its batches are "
            f"already formed. Received: batch_size={batch_size}"
        )
    val: Source | None = None
    if validation_data is not None:
        val = validation_source(validation_data, device, validation_batch_size, check_finite)
    elif validation_split:
        train, val = split_arrays(train, float(validation_split))
    if class_weight is not None:
        apply_class_weight(train, class_weight)
    if step_checkpoints and isinstance(train, IterableSource) and not train.is_map_dataset:
        raise ArgumentError(
            "`checkpoint_steps` needs in-memory data or a map-style Dataset, which can resume "
            f"at a batch without reading the ones before; x is a {type(x).__name__}. Use "
            "epoch checkpoints (checkpoint_dir alone) for it"
        )
    return train, val
