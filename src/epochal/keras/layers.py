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

from epochal.keras._layer import Layer
from epochal.keras._symbolic import Input
from epochal.keras._torch_module import TorchModuleWrapper
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
    "TorchModuleWrapper",
]
