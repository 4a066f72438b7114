"""Keras's layers: epochal's channels-last layers under Keras's names.

Images are ``(N, height, width, channels)`` and sequences ``(N, steps,
features)``, as in Keras; arguments and defaults follow Keras. Layers are
``torch.nn.Module``s, so they also work inside any torch model.

Example:
    >>> from epochal import keras
    >>> from epochal.keras import layers
    >>> model = keras.Sequential([
    ...     keras.Input(shape=(28, 28, 1)),
    ...     layers.Conv2D(16, 3, activation="relu"),
    ...     layers.MaxPooling2D(),
    ...     layers.Flatten(),
    ...     layers.Dense(10, activation="softmax"),
    ... ])
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from epochal.errors import ArgumentError, ArgumentTypeError
from epochal.keras._layer import Layer
from epochal.layers import (
    GRU,
    LSTM,
    Activation,
    BatchNormalization,
    Conv1D,
    Conv2D,
    Dense,
    Dropout,
    Embedding,
    Flatten,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    InputLayer,
    MaxPooling1D,
    MaxPooling2D,
)

__all__ = [
    "Activation",
    "BatchNormalization",
    "Conv1D",
    "Conv2D",
    "Dense",
    "Dropout",
    "Embedding",
    "Flatten",
    "GRU",
    "GlobalAveragePooling1D",
    "GlobalAveragePooling2D",
    "GlobalMaxPooling1D",
    "GlobalMaxPooling2D",
    "Input",
    "InputLayer",
    "LSTM",
    "Layer",
    "MaxPooling1D",
    "MaxPooling2D",
]

_DTYPES: dict[str, torch.dtype] = {
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "float32": torch.float32,
    "float64": torch.float64,
    "int8": torch.int8,
    "uint8": torch.uint8,
    "int16": torch.int16,
    "int32": torch.int32,
    "int64": torch.int64,
    "bool": torch.bool,
}


def Input(
    shape: Sequence[int | None] | None = None,
    batch_size: int | None = None,
    dtype: str | torch.dtype | None = None,
    name: str | None = None,
    batch_shape: Sequence[int | None] | None = None,
) -> InputLayer:
    """Keras's ``Input``: declares the input shape as the first entry of a ``Sequential`` list.

    Args:
        shape: the input shape without the batch axis, e.g. ``(784,)``.
        batch_size: accepted for Keras compatibility (batches may have any size).
        dtype: a Keras dtype name (``"float32"``, ``"int32"``, ...) or a torch dtype;
            integer dtypes make the build dry run feed integer ids (for ``Embedding``).
        name: the input's name.
        batch_shape: Keras's alternative to ``shape``: the shape with the batch axis first.

    Returns:
        An `InputLayer`, which a sequential model reads and does not run.

    Raises:
        ArgumentError: neither or both of ``shape`` and ``batch_shape``, or an unknown dtype name.

    Example:
        >>> Input(shape=(100,), dtype="int32").dtype
        torch.int32
    """
    if (shape is None) == (batch_shape is None):
        raise ArgumentError(
            "Input: expected exactly one of `shape` and `batch_shape`. "
            f"Received: shape={shape!r}, batch_shape={batch_shape!r}"
        )
    dims = tuple(shape) if shape is not None else tuple(batch_shape or ())[1:]
    if batch_size is not None and (
        isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0
    ):
        raise ArgumentError(
            f"Input: expected `batch_size` to be a positive int or None. Received: batch_size={batch_size!r}"
        )
    torch_dtype: torch.dtype | None
    if isinstance(dtype, str):
        if dtype not in _DTYPES:
            raise ArgumentError(
                f"Input: unknown dtype {dtype!r}. Expected one of: {', '.join(_DTYPES)}, "
                "or a torch.dtype"
            )
        torch_dtype = _DTYPES[dtype]
    elif dtype is None or isinstance(dtype, torch.dtype):
        torch_dtype = dtype
    else:
        raise ArgumentTypeError(
            f"Input: expected `dtype` to be a dtype name or a torch.dtype. Received: dtype={dtype!r}"
        )
    return InputLayer(dims, dtype=torch_dtype, name=name)
