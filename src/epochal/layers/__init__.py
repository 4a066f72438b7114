"""Keras-style layers as ``torch.nn.Module``s, on Keras's channels-last data.

Argument names and defaults follow Keras. Layers with weights are lazy unless
given an ``input_shape``: they create their parameters on the first call, from
the input's channel count. Layers with an ``activation`` expose
``activation_name`` and ``forward_preactivation(x)``, which the training loop
uses to hand logits to a loss that wants them instead of applying a final
sigmoid/softmax twice.

Example:
    >>> import torch
    >>> from epochal import layers
    >>> net = layers.SequentialModule([
    ...     layers.Dense(64, activation="relu", input_shape=(20,)),
    ...     layers.Dropout(0.2),
    ...     layers.Dense(1, activation="sigmoid"),
    ... ])
    >>> net(torch.zeros(8, 20)).shape
    torch.Size([8, 1])
"""

from epochal.layers._conv import Conv1D, Conv2D
from epochal.layers._core import Activation, Dense, Dropout, Embedding, Flatten, Input, InputLayer
from epochal.layers._dryrun import is_built
from epochal.layers._normalization import BatchNormalization
from epochal.layers._pooling import (
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    MaxPooling1D,
    MaxPooling2D,
)
from epochal.layers._recurrent import GRU, LSTM
from epochal.layers._sequential import SequentialModule, ensure_built

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
    "MaxPooling1D",
    "MaxPooling2D",
    "SequentialModule",
    "ensure_built",
    "is_built",
]
