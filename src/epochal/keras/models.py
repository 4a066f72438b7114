"""Keras's model constructors: `Sequential` and `Model`.

``Sequential`` returns an `epochal.Model` (``compile``, ``fit``, ``evaluate``,
``predict``, ``get_weights``, ...) around a stack of layers. ``Model`` is
`epochal.Model`: it wraps any ``torch.nn.Module`` (Keras's functional
``Model(inputs, outputs)`` and ``call``-subclassing have no counterpart; write
a ``torch.nn.Module`` and wrap it).

Example:
    >>> from epochal import keras
    >>> from epochal.keras import layers
    >>> model = keras.Sequential([layers.Dense(64, activation="relu", input_shape=(10,)),
    ...                           layers.Dense(1, activation="sigmoid")], name="classifier")
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from epochal import sequential as _sequential
from epochal.errors import ArgumentTypeError
from epochal.layers import SequentialModule
from epochal.model import Model

__all__ = ["Model", "Sequential"]


def Sequential(
    layers: Sequence[nn.Module] | None = None,
    name: str | None = None,
    *,
    device: str | torch.device | None = None,
) -> Model:
    """A `Model` running ``layers`` one after the other, as Keras's ``Sequential``.

    The first entry may be ``keras.Input(shape=...)`` (or the first layer may
    take ``input_shape=``): the layers are then built at once; otherwise they
    are built on the first batch.

    Args:
        layers: the layers, first to last (any ``torch.nn.Module`` may be one).
        name: the model's name (shown by ``summary``).
        device: where to train; defaults to CUDA when available.

    Returns:
        An `epochal.Model`.

    Raises:
        ArgumentTypeError: ``layers`` is not a list of modules, or ``name`` not a str.

    Example:
        >>> model = Sequential([keras.Input(shape=(10,)), layers.Dense(1, activation="sigmoid")])
        >>> model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    """
    if name is not None and not isinstance(name, str):
        raise ArgumentTypeError(
            f"Sequential: expected `name` to be a str or None. Received: name={name!r}"
        )
    model = _sequential.Sequential(layers, device=device)
    module = model.module
    if name is not None and isinstance(module, SequentialModule):
        module.name = name
    return model


# Keras names this module does not have raise an error saying what to do instead.
from epochal.keras._missing import module_getattr  # noqa: E402

__getattr__ = module_getattr("keras.models")
