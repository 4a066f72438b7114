"""The global settings of ``keras.config`` (kept here so that ``fit`` can read them).

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

from __future__ import annotations

import torch

from epochal.errors import ArgumentError, ArgumentTypeError

__all__ = [
    "backend",
    "capped_epochs",
    "capped_steps",
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

_FLOATS = {
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "float32": torch.float32,
    "float64": torch.float64,
}
_settings: dict[str, object] = {"epsilon": 1e-7, "max_epochs": None, "max_steps_per_epoch": None}


def backend() -> str:
    """The backend's name: always ``"torch"``."""
    return "torch"


def floatx() -> str:
    """The default float type's name (torch's default dtype), e.g. ``"float32"``."""
    return str(torch.get_default_dtype()).removeprefix("torch.")


def set_floatx(value: str) -> None:
    """Set the default float type of new weights (``torch.set_default_dtype``).

    Raises:
        ArgumentError: not one of float16, bfloat16, float32, float64.
    """
    if value not in _FLOATS:
        raise ArgumentError(f"set_floatx: expected one of {sorted(_FLOATS)}. Received: {value!r}")
    torch.set_default_dtype(_FLOATS[value])


def epsilon() -> float:
    """The fuzz factor Keras code reads (``1e-7`` by default)."""
    value = _settings["epsilon"]
    assert isinstance(value, float)
    return value


def set_epsilon(value: float) -> None:
    """Set the value `epsilon` returns (epochal's own losses keep their own constants)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ArgumentError(f"set_epsilon: expected a positive number. Received: {value!r}")
    _settings["epsilon"] = float(value)


def image_data_format() -> str:
    """The image layout of epochal's layers: ``"channels_last"``."""
    return "channels_last"


def set_image_data_format(data_format: str) -> None:
    """Only ``"channels_last"`` is supported by epochal's layers.

    Raises:
        ArgumentError: any other value.
    """
    if data_format != "channels_last":
        raise ArgumentError(
            "set_image_data_format: epochal.keras layers are channels-last only. "
            f"Received: {data_format!r}; transpose your images to (batch, height, width, channels)"
        )


def _cap(name: str, value: int | None) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise ArgumentTypeError(f"set_{name}: expected a positive int or None. Received: {value!r}")
    if value is not None and value <= 0:
        raise ArgumentError(f"set_{name}: expected a positive int or None. Received: {value!r}")
    _settings[name] = value


def set_max_epochs(max_epochs: int | None) -> None:
    """Cap the epochs of every later ``fit`` call (None removes the cap)."""
    _cap("max_epochs", max_epochs)


def max_epochs() -> int | None:
    """The cap set by `set_max_epochs`, or None."""
    value = _settings["max_epochs"]
    return value if isinstance(value, int) else None


def set_max_steps_per_epoch(max_steps_per_epoch: int | None) -> None:
    """Cap the steps of every later epoch of ``fit`` (None removes the cap)."""
    _cap("max_steps_per_epoch", max_steps_per_epoch)


def max_steps_per_epoch() -> int | None:
    """The cap set by `set_max_steps_per_epoch`, or None."""
    value = _settings["max_steps_per_epoch"]
    return value if isinstance(value, int) else None


def capped_epochs(epochs: int, initial_epoch: int | None) -> int:
    """``fit``'s ``epochs`` under the `set_max_epochs` cap (the final index with ``initial_epoch``)."""
    cap = max_epochs()
    if cap is None:
        return epochs
    if initial_epoch is None:
        return min(epochs, cap)
    return min(epochs, initial_epoch + cap)


def capped_steps(steps_per_epoch: int | None, data_steps: int | None) -> int | None:
    """``steps_per_epoch`` under the `set_max_steps_per_epoch` cap."""
    cap = max_steps_per_epoch()
    if cap is None:
        return steps_per_epoch
    if steps_per_epoch is not None:
        return min(steps_per_epoch, cap)
    if data_steps is not None and data_steps <= cap:
        return None
    return cap
