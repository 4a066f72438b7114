"""Keras's utilities: `to_categorical`, `set_random_seed`, `normalize`, and the data
utilities `PyDataset`, `pad_sequences`, `timeseries_dataset_from_array`, `split_dataset`.

Example:
    >>> from epochal.keras.utils import to_categorical
    >>> to_categorical([0, 2, 1])
    array([[1., 0., 0.],
           [0., 0., 1.],
           [0., 1., 0.]], dtype=float32)
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch

from epochal.errors import ArgumentError, ArgumentTypeError
from epochal.keras._data_utils import (
    PyDataset,
    pad_sequences,
    split_dataset,
    timeseries_dataset_from_array,
)

__all__ = [
    "PyDataset",
    "normalize",
    "pad_sequences",
    "set_random_seed",
    "split_dataset",
    "timeseries_dataset_from_array",
    "to_categorical",
]


def to_categorical(y: Any, num_classes: int | None = None) -> Any:
    """One-hot encode integer class labels, as Keras does.

    Args:
        y: integer labels, any shape (a trailing axis of size 1 is dropped).
            A torch tensor gives a tensor back; anything else a numpy array.
        num_classes: the number of classes; default ``max(y) + 1``.

    Returns:
        float32 one-hot values of shape ``y.shape + (num_classes,)``.

    Raises:
        ArgumentError: labels that are not integers, negative, or not below
            ``num_classes``; ``num_classes`` not positive.
        ArgumentTypeError: ``num_classes`` is not an int.

    Example:
        >>> to_categorical([1, 0], num_classes=3)
        array([[0., 1., 0.],
               [1., 0., 0.]], dtype=float32)
    """
    as_tensor = isinstance(y, torch.Tensor)
    labels = y.detach().cpu().numpy() if isinstance(y, torch.Tensor) else np.asarray(y)
    if labels.dtype.kind == "f":
        if not np.all(np.isfinite(labels)) or not np.all(labels == np.round(labels)):
            raise ArgumentError(
                "to_categorical: expected integer class labels in `y`. Received non-integer values"
            )
    elif labels.dtype.kind not in "iub":
        raise ArgumentError(
            f"to_categorical: expected integer class labels in `y`. Received dtype {labels.dtype}"
        )
    labels = labels.astype(np.int64)
    if labels.ndim > 1 and labels.shape[-1] == 1:
        labels = labels.reshape(labels.shape[:-1])
    if num_classes is not None:
        if isinstance(num_classes, bool) or not isinstance(num_classes, int):
            raise ArgumentTypeError(
                "to_categorical: expected `num_classes` to be a positive int or None. "
                f"Received: num_classes={num_classes!r} of type {type(num_classes).__name__}"
            )
        if num_classes <= 0:
            raise ArgumentError(
                "to_categorical: expected `num_classes` to be a positive int or None. "
                f"Received: num_classes={num_classes!r}"
            )
    low = int(labels.min()) if labels.size else 0
    high = int(labels.max()) if labels.size else -1
    classes = num_classes if num_classes is not None else high + 1
    if low < 0 or high >= classes:
        raise ArgumentError(
            f"to_categorical: expected labels in [0, {classes - 1}]. "
            f"Received labels in [{low}, {high}]"
            + (f" with num_classes={num_classes}" if num_classes is not None else "")
        )
    one_hot = np.eye(max(classes, 0), dtype=np.float32)[labels]
    if as_tensor:
        return torch.from_numpy(one_hot).to(y.device)
    return one_hot


def set_random_seed(seed: int) -> None:
    """Seed Python's ``random``, numpy's global RNG and torch (CPU and CUDA).

    Weights drawn afterwards (layers created later) and runs compiled
    without a ``seed`` then repeat from one program run to the next.

    Args:
        seed: a non-negative int.

    Raises:
        ArgumentTypeError: ``seed`` is not an int.
        ArgumentError: ``seed`` is negative.
    """
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ArgumentTypeError(
            f"set_random_seed: expected `seed` to be an int. Received: seed={seed!r} "
            f"of type {type(seed).__name__}"
        )
    if seed < 0:
        raise ArgumentError(f"set_random_seed: expected `seed` >= 0. Received: seed={seed}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def normalize(x: Any, axis: int = -1, order: int = 2) -> Any:
    """Scale ``x`` to unit ``order``-norm along ``axis`` (zero vectors stay zero).

    Args:
        x: an array or tensor (returned as the same kind).
        axis: the axis along which to normalize.
        order: the norm's order (2 for Euclidean).

    Returns:
        The normalized values.
    """
    if isinstance(x, torch.Tensor):
        norm = torch.linalg.vector_norm(x, ord=order, dim=axis, keepdim=True)
        return x / torch.where(norm == 0, torch.ones_like(norm), norm)
    values = np.asarray(x)
    norm = np.linalg.norm(values, ord=order, axis=axis, keepdims=True)
    return values / np.where(norm == 0, 1, norm)


# Keras names this module does not have raise an error saying what to do instead.
from epochal.keras._missing import module_getattr  # noqa: E402

__getattr__ = module_getattr("keras.utils")
