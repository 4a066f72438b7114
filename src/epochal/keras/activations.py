"""Keras's activations: epochal's, under the same names (``relu``, ``sigmoid``, ``softmax``, ...).

Example:
    >>> from epochal.keras import activations, layers
    >>> layers.Dense(8, activation=activations.relu)
"""

from epochal.activations import (
    ActivationFn,
    elu,
    exponential,
    gelu,
    get,
    hard_sigmoid,
    hard_silu,
    hard_swish,
    leaky_relu,
    linear,
    log_softmax,
    mish,
    name_of,
    relu,
    relu6,
    selu,
    sigmoid,
    silu,
    softmax,
    softplus,
    softsign,
    swish,
    tanh,
)

__all__ = [
    "ActivationFn",
    "elu",
    "exponential",
    "gelu",
    "get",
    "hard_sigmoid",
    "hard_silu",
    "hard_swish",
    "leaky_relu",
    "linear",
    "log_softmax",
    "mish",
    "name_of",
    "relu",
    "relu6",
    "selu",
    "sigmoid",
    "silu",
    "softmax",
    "softplus",
    "softsign",
    "swish",
    "tanh",
]


# Keras names this module does not have raise an error saying what to do instead.
from epochal.keras._missing import module_getattr

__getattr__ = module_getattr("keras.activations")
