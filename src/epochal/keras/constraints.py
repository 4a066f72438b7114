"""Keras's weight constraints: `MaxNorm`, `NonNeg`, `UnitNorm`, `MinMaxNorm`.

A constraint is a callable ``weight -> constrained weight``. Given to a layer
(``Dense(64, kernel_constraint=keras.constraints.MaxNorm(3))``) it is applied
to the weight after every optimizer step, as Keras applies it. ``axis`` counts
the axes of Keras's kernel layout (``(inputs, units)`` for ``Dense``,
``(*kernel_size, in_channels, filters)`` for a convolution), whatever the
layout torch stores the weight in.

Example:
    >>> import torch
    >>> from epochal.keras import constraints
    >>> constraints.NonNeg()(torch.tensor([-1.0, 2.0]))
    tensor([0., 2.])
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from epochal.errors import ArgumentError, ArgumentTypeError
from epochal.keras._unavailable import unavailable

__all__ = ["Constraint", "MaxNorm", "MinMaxNorm", "NonNeg", "UnitNorm", "get"]

_EPSILON = 1e-7  # Keras's backend epsilon


def _number(owner: str, name: str, value: object, *, low: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ArgumentTypeError(
            f"{owner}: expected `{name}` to be a number >= {low:g}. "
            f"Received: {name}={value!r} of type {type(value).__name__}"
        )
    if not math.isfinite(value) or value < low:
        raise ArgumentError(
            f"{owner}: expected `{name}` to be a number >= {low:g}. Received: {name}={value!r}"
        )
    return float(value)


def _axis(owner: str, axis: object) -> int | tuple[int, ...]:
    if isinstance(axis, int) and not isinstance(axis, bool):
        return axis
    if (
        isinstance(axis, (list, tuple))
        and axis
        and all(isinstance(a, int) and not isinstance(a, bool) for a in axis)
    ):
        return tuple(axis)
    raise ArgumentTypeError(
        f"{owner}: expected `axis` to be an int or a list of ints. Received: axis={axis!r}"
    )


def _norms(w: Tensor, axis: int | tuple[int, ...]) -> Tensor:
    return torch.sqrt(w.square().sum(dim=axis, keepdim=True))


class Constraint:
    """Base class: subclass and implement ``__call__(w) -> w`` (and ``get_config``)."""

    def __call__(self, w: Tensor) -> Tensor:
        return w

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments, JSON-able."""
        return {}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Constraint:
        """A constraint from ``get_config``'s output."""
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class MaxNorm(Constraint):
    """Scales the weights whose norm along ``axis`` exceeds ``max_value`` down to it.

    Args:
        max_value: the largest norm (Keras's default 2).
        axis: the axis (or axes) the norm is taken over, in Keras's kernel layout
            (0 for a ``Dense`` kernel: one norm per unit; ``[0, 1, 2]`` for a ``Conv2D``
            kernel: one norm per filter).

    Example:
        >>> MaxNorm(1.0)(torch.tensor([[3.0], [4.0]]))
        tensor([[0.6000],
                [0.8000]])
    """

    def __init__(self, max_value: float = 2.0, axis: int | list[int] | tuple[int, ...] = 0) -> None:
        self.max_value = _number("MaxNorm", "max_value", max_value)
        self.axis = _axis("MaxNorm", axis)

    def __call__(self, w: Tensor) -> Tensor:
        norms = _norms(w, self.axis)
        desired = norms.clamp(0.0, self.max_value)
        return w * (desired / (_EPSILON + norms))

    def get_config(self) -> dict[str, Any]:
        return {
            "max_value": self.max_value,
            "axis": list(self.axis) if isinstance(self.axis, tuple) else self.axis,
        }


class NonNeg(Constraint):
    """Sets negative weights to zero.

    Example:
        >>> NonNeg()(torch.tensor([-1.0, 1.0]))
        tensor([0., 1.])
    """

    def __call__(self, w: Tensor) -> Tensor:
        return w.clamp(min=0.0)


class UnitNorm(Constraint):
    """Scales the weights to norm 1 along ``axis`` (Keras kernel layout, default 0).

    Example:
        >>> UnitNorm()(torch.tensor([[3.0], [4.0]]))
        tensor([[0.6000],
                [0.8000]])
    """

    def __init__(self, axis: int | list[int] | tuple[int, ...] = 0) -> None:
        self.axis = _axis("UnitNorm", axis)

    def __call__(self, w: Tensor) -> Tensor:
        return w / (_EPSILON + _norms(w, self.axis))

    def get_config(self) -> dict[str, Any]:
        return {"axis": list(self.axis) if isinstance(self.axis, tuple) else self.axis}


class MinMaxNorm(Constraint):
    """Moves the norms along ``axis`` into ``[min_value, max_value]``, a fraction ``rate`` of the way.

    Args:
        min_value: the smallest norm.
        max_value: the largest norm.
        rate: 1.0 enforces the bounds exactly; less moves part of the way per step.
        axis: the axis (or axes) of Keras's kernel layout the norm is taken over.

    Example:
        >>> MinMaxNorm(0.0, 1.0)(torch.tensor([[3.0], [4.0]]))
        tensor([[0.6000],
                [0.8000]])
    """

    def __init__(
        self,
        min_value: float = 0.0,
        max_value: float = 1.0,
        rate: float = 1.0,
        axis: int | list[int] | tuple[int, ...] = 0,
    ) -> None:
        self.min_value = _number("MinMaxNorm", "min_value", min_value)
        self.max_value = _number("MinMaxNorm", "max_value", max_value, low=self.min_value)
        self.rate = _number("MinMaxNorm", "rate", rate)
        self.axis = _axis("MinMaxNorm", axis)

    def __call__(self, w: Tensor) -> Tensor:
        norms = _norms(w, self.axis)
        desired = self.rate * norms.clamp(self.min_value, self.max_value) + (1 - self.rate) * norms
        return w * (desired / (_EPSILON + norms))

    def get_config(self) -> dict[str, Any]:
        axis = list(self.axis) if isinstance(self.axis, tuple) else self.axis
        return {
            "min_value": self.min_value,
            "max_value": self.max_value,
            "rate": self.rate,
            "axis": axis,
        }


_NAMES: dict[str, type[Constraint]] = {
    "max_norm": MaxNorm,
    "MaxNorm": MaxNorm,
    "non_neg": NonNeg,
    "NonNeg": NonNeg,
    "unit_norm": UnitNorm,
    "UnitNorm": UnitNorm,
    "min_max_norm": MinMaxNorm,
    "MinMaxNorm": MinMaxNorm,
}


def get(identifier: Any) -> Constraint | Any | None:
    """The constraint for a name (``"max_norm"``, ``"non_neg"``, ...), a config dict, a callable, or None.

    Raises:
        ArgumentError: an unknown name.
        ArgumentTypeError: anything else.

    Example:
        >>> get("non_neg")
        NonNeg()
    """
    if identifier is None:
        return None
    if isinstance(identifier, str):
        if identifier not in _NAMES:
            raise ArgumentError(
                "expected a constraint name, one of 'max_norm', 'min_max_norm', 'non_neg', "
                f"'unit_norm'. Received: {identifier!r}"
            )
        return _NAMES[identifier]()
    if isinstance(identifier, dict) and identifier.get("class_name") in _NAMES:
        return _NAMES[identifier["class_name"]].from_config(dict(identifier.get("config", {})))
    if callable(identifier):
        return identifier
    raise ArgumentTypeError(
        "expected a constraint: a name, a keras.constraints object, a callable or None. "
        f"Received: {identifier!r} of type {type(identifier).__name__}"
    )


NOT_AVAILABLE: dict[str, str] = dict.fromkeys(
    ["serialize", "deserialize"],
    "write a function weight -> constrained weight (or a keras.constraints.Constraint subclass with __call__) and pass it as the constraint",
)


def __getattr__(name: str) -> object:
    if name in NOT_AVAILABLE:
        raise unavailable("keras.constraints", name, NOT_AVAILABLE[name])
    raise AttributeError(f"module 'epochal.keras.constraints' has no attribute {name!r}")
