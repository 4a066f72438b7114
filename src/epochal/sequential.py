"""`Sequential`: a Keras-style stack of layers, returned as a `Model`."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from epochal.errors import ArgumentTypeError
from epochal.layers import SequentialModule
from epochal.model import Model

__all__ = ["Sequential"]


def Sequential(
    layers: Sequence[nn.Module] | None = None,
    *,
    device: str | torch.device | None = None,
) -> Model:
    """A `Model` running ``layers`` one after the other.

    ``input_shape`` on the first layer is optional: without it the layers
    are built on the first batch.

    Example:
        >>> model = Sequential([layers.Dense(128, activation="relu", input_shape=(10,)),
        ...                     layers.Dense(1, activation="sigmoid")])
        >>> model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    """
    if layers is None:
        layers = []
    if isinstance(layers, nn.Module) or not isinstance(layers, (list, tuple)):
        raise ArgumentTypeError(
            f"Expected `layers` to be a list of layers. Received: {type(layers).__name__}"
        )
    return Model(SequentialModule(list(layers)), device=device)
