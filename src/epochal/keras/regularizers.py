"""Keras's weight regularizers: `L1`, `L2`, `L1L2` (``l1``, ``l2``, ``l1_l2``).

A regularizer is a callable ``weight -> scalar penalty``. Given to a layer
(``Dense(64, kernel_regularizer=keras.regularizers.l2(1e-4))``) its penalty
is added to the training loss at every step, as Keras adds it; an
``activity_regularizer`` takes the layer's output instead of a weight (the
penalty of the whole batch, not divided by the batch size, as in Keras 3).
The logged ``loss`` includes the penalties, as Keras's does.

Example:
    >>> import torch
    >>> from epochal.keras import regularizers
    >>> float(regularizers.l2(0.1)(torch.ones(2, 3)))
    0.6000000238418579
"""

from __future__ import annotations

import math
from typing import Any

from torch import Tensor

from epochal.errors import ArgumentError, ArgumentTypeError
from epochal.keras._unavailable import unavailable

__all__ = ["L1", "L1L2", "L2", "Regularizer", "get", "l1", "l1_l2", "l2"]


def _factor(owner: str, name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ArgumentTypeError(
            f"{owner}: expected `{name}` to be a non-negative number. "
            f"Received: {name}={value!r} of type {type(value).__name__}"
        )
    if not math.isfinite(value) or value < 0:
        raise ArgumentError(
            f"{owner}: expected `{name}` to be a non-negative number. Received: {name}={value!r}"
        )
    return float(value)


class Regularizer:
    """Base class: subclass and implement ``__call__(x) -> scalar tensor`` (and ``get_config``)."""

    def __call__(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments, JSON-able."""
        return {}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Regularizer:
        """A regularizer from ``get_config``'s output."""
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class L1L2(Regularizer):
    """``l1 * sum(|x|) + l2 * sum(x ** 2)``.

    Args:
        l1: the L1 factor (non-negative).
        l2: the L2 factor (non-negative).

    Example:
        >>> float(L1L2(l1=0.5, l2=0.25)(torch.tensor([-2.0, 2.0])))
        4.0
    """

    def __init__(self, l1: float = 0.0, l2: float = 0.0) -> None:
        self.l1 = _factor(type(self).__name__, "l1", l1)
        self.l2 = _factor(type(self).__name__, "l2", l2)

    def __call__(self, x: Tensor) -> Tensor:
        penalty = x.new_zeros(())
        if self.l1:
            penalty = penalty + self.l1 * x.abs().sum()
        if self.l2:
            penalty = penalty + self.l2 * x.square().sum()
        return penalty

    def get_config(self) -> dict[str, Any]:
        return {"l1": self.l1, "l2": self.l2}


class L1(Regularizer):
    """``l1 * sum(|x|)`` (Keras's default factor 0.01).

    Example:
        >>> float(L1(0.5)(torch.tensor([-2.0, 2.0])))
        2.0
    """

    def __init__(self, l1: float = 0.01) -> None:
        self.l1 = _factor("L1", "l1", l1)

    def __call__(self, x: Tensor) -> Tensor:
        return self.l1 * x.abs().sum()

    def get_config(self) -> dict[str, Any]:
        return {"l1": self.l1}


class L2(Regularizer):
    """``l2 * sum(x ** 2)`` (Keras's default factor 0.01; no 1/2, as in Keras).

    Example:
        >>> float(L2(0.5)(torch.tensor([-2.0, 2.0])))
        4.0
    """

    def __init__(self, l2: float = 0.01) -> None:
        self.l2 = _factor("L2", "l2", l2)

    def __call__(self, x: Tensor) -> Tensor:
        return self.l2 * x.square().sum()

    def get_config(self) -> dict[str, Any]:
        return {"l2": self.l2}


# Keras's lowercase aliases are the classes themselves.
l1 = L1
l2 = L2
l1_l2 = L1L2

_NAMES: dict[str, type[Regularizer]] = {
    "l1": L1,
    "l2": L2,
    "l1_l2": L1L2,
    "L1": L1,
    "L2": L2,
    "L1L2": L1L2,
}


def get(identifier: Any) -> Regularizer | Any | None:
    """The regularizer for a name (``"l1"``, ``"l2"``, ``"l1_l2"``), a config dict, a callable, or None.

    Args:
        identifier: a name, ``{"class_name": ..., "config": {...}}``, a
            `Regularizer` or any callable ``tensor -> scalar``, or None.

    Returns:
        The regularizer, or None.

    Raises:
        ArgumentError: an unknown name.
        ArgumentTypeError: anything else.

    Example:
        >>> get("l2")
        L2(l2=0.01)
    """
    if identifier is None:
        return None
    if isinstance(identifier, str):
        if identifier not in _NAMES:
            raise ArgumentError(
                f"expected a regularizer name, one of 'l1', 'l2', 'l1_l2'. Received: {identifier!r}"
            )
        return _NAMES[identifier]()
    if isinstance(identifier, dict) and identifier.get("class_name") in _NAMES:
        return _NAMES[identifier["class_name"]].from_config(dict(identifier.get("config", {})))
    if callable(identifier):
        return identifier
    raise ArgumentTypeError(
        "expected a regularizer: a name, a keras.regularizers object, a callable or None. "
        f"Received: {identifier!r} of type {type(identifier).__name__}"
    )


NOT_AVAILABLE: dict[str, str] = dict.fromkeys(
    ["OrthogonalRegularizer", "serialize", "deserialize"],
    "write a function weight -> scalar penalty (or a keras.regularizers.Regularizer subclass with __call__) and pass it as the regularizer",
)


def __getattr__(name: str) -> object:
    if name in NOT_AVAILABLE:
        raise unavailable("keras.regularizers", name, NOT_AVAILABLE[name])
    raise AttributeError(f"module 'epochal.keras.regularizers' has no attribute {name!r}")
