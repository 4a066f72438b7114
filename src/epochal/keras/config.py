"""``keras.config``: the global settings Keras programs read and set.

epochal runs on PyTorch, so `backend` is ``"torch"`` and the image layout is
channels-last (as Keras's default). `set_max_epochs` and
`set_max_steps_per_epoch` cap every later ``fit`` call, as in Keras (meant for
quick test runs of a full script).

Example:
    >>> from epochal import keras
    >>> keras.config.backend()
    'torch'
    >>> keras.config.set_max_epochs(2)     # every fit now trains at most 2 epochs
"""

from epochal._config import (
    backend,
    epsilon,
    floatx,
    image_data_format,
    max_epochs,
    max_steps_per_epoch,
    set_epsilon,
    set_floatx,
    set_image_data_format,
    set_max_epochs,
    set_max_steps_per_epoch,
)

__all__ = [
    "backend",
    "epsilon",
    "floatx",
    "image_data_format",
    "max_epochs",
    "max_steps_per_epoch",
    "set_epsilon",
    "set_floatx",
    "set_image_data_format",
    "set_max_epochs",
    "set_max_steps_per_epoch",
]
