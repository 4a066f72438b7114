"""Constructor-argument checks shared by the layers.

Each check returns the normalized value or raises with a message that names
the layer, the argument, what was expected and what was received:
``Dense: expected `units` to be a positive int. Received: units=0``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import TypeGuard

from epochal import activations, initializers
from epochal.errors import ArgumentError, ArgumentTypeError

Shape = tuple[int | None, ...]


def _received(name: str, value: object, *, with_type: bool = False) -> str:
    text = f"Received: {name}={value!r}"
    return f"{text} of type {type(value).__name__}" if with_type else text


def _is_int(value: object) -> TypeGuard[numbers.Integral]:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def positive_int(owner: str, name: str, value: object) -> int:
    """``value`` as an int >= 1."""
    expected = f"{owner}: expected `{name}` to be a positive int."
    if not _is_int(value):
        raise ArgumentTypeError(f"{expected} {_received(name, value, with_type=True)}")
    if int(value) < 1:
        raise ArgumentError(f"{expected} {_received(name, value)}")
    return int(value)


def optional_int(owner: str, name: str, value: object) -> int | None:
    """``value`` as an int, or ``None``."""
    if value is None:
        return None
    if not _is_int(value):
        raise ArgumentTypeError(
            f"{owner}: expected `{name}` to be an int or None. "
            f"{_received(name, value, with_type=True)}"
        )
    return int(value)


def int_tuple(owner: str, name: str, value: object, rank: int) -> tuple[int, ...]:
    """An int (repeated ``rank`` times) or a sequence of ``rank`` positive ints."""
    if rank == 1:
        expected = f"{owner}: expected `{name}` to be a positive int or a tuple of 1 positive int."
    else:
        expected = (
            f"{owner}: expected `{name}` to be a positive int or a tuple of {rank} positive ints."
        )
    if _is_int(value):
        items: tuple[object, ...] = (value,) * rank
    elif isinstance(value, (tuple, list)):
        items = tuple(value)
    else:
        raise ArgumentTypeError(f"{expected} {_received(name, value, with_type=True)}")
    ints = tuple(int(item) for item in items if _is_int(item))
    if len(ints) != rank or len(items) != rank or min(ints) < 1:
        raise ArgumentError(f"{expected} {_received(name, value)}")
    return ints


def choice(owner: str, name: str, value: object, choices: Sequence[str]) -> str:
    """``value`` if it is one of ``choices``."""
    if value not in choices:
        listed = ", ".join(repr(c) for c in choices)
        raise ArgumentError(
            f"{owner}: expected `{name}` to be one of {listed}. {_received(name, value)}"
        )
    return str(value)


def boolean(owner: str, name: str, value: object) -> bool:
    """``value`` if it is a bool."""
    if not isinstance(value, bool):
        raise ArgumentTypeError(
            f"{owner}: expected `{name}` to be a bool. {_received(name, value, with_type=True)}"
        )
    return value


def number_in(
    owner: str,
    name: str,
    value: object,
    low: float,
    high: float,
    *,
    include_low: bool = True,
    include_high: bool = True,
) -> float:
    """``value`` as a float in the interval between ``low`` and ``high``."""
    left, right = "[" if include_low else "(", "]" if include_high else ")"
    high_text = "inf" if math.isinf(high) else f"{high:g}"
    expected = f"{owner}: expected `{name}` to be a number in {left}{low:g}, {high_text}{right}."
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ArgumentTypeError(f"{expected} {_received(name, value, with_type=True)}")
    number = float(value)
    above = number > low if not include_low else number >= low
    below = number < high if not include_high else number <= high
    if not (above and below) or math.isnan(number):
        raise ArgumentError(f"{expected} {_received(name, value)}")
    return number


def layer_name(owner: str, value: object) -> str | None:
    """A layer name: ``None`` or a non-empty string without dots."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ArgumentTypeError(
            f"{owner}: expected `name` to be a string or None. "
            f"{_received('name', value, with_type=True)}"
        )
    if not value or "." in value:
        raise ArgumentError(
            f"{owner}: expected `name` to be a non-empty string without '.'. "
            f"{_received('name', value)}"
        )
    return value


def shape(owner: str, name: str, value: object, *, allow_scalar: bool = False) -> Shape | None:
    """An input shape without the batch dimension: a tuple of positive ints or None.

    ``allow_scalar`` accepts ``()``: one number per sample (Keras's ``Input(shape=())``).
    """
    if value is None:
        return None
    expected = (
        f"{owner}: expected `{name}` to be a tuple of positive ints (None for a "
        "variable size), without the batch dimension, e.g. (784,) or (28, 28, 1)."
    )
    if not isinstance(value, (tuple, list)):
        hint = f" Did you mean {name}=({value},)?" if _is_int(value) else ""
        raise ArgumentTypeError(f"{expected} {_received(name, value, with_type=True)}{hint}")
    if (not value and not allow_scalar) or not all(
        d is None or (_is_int(d) and int(d) >= 1) for d in value
    ):
        raise ArgumentError(f"{expected} {_received(name, value)}")
    return tuple(None if d is None else int(d) for d in value)


def activation(
    owner: str, value: str | activations.ActivationFn | None
) -> tuple[str | None, activations.ActivationFn | None]:
    """``(activation_name, function)``; the function is ``None`` for the identity."""
    try:
        fn = activations.get(value)
    except (ArgumentError, ArgumentTypeError) as error:
        raise type(error)(f"{owner}: {error}") from None
    name = activations.name_of(fn)
    return name, (None if fn is activations.linear else fn)


def initializer(
    owner: str, name: str, value: str | initializers.Initializer
) -> initializers.Initializer:
    """The initializer for ``value``; errors name the layer argument."""
    try:
        return initializers.get(value)
    except (ArgumentError, ArgumentTypeError) as error:
        message = (
            str(error).replace("`initializer`", f"`{name}`").replace("initializer=", f"{name}=")
        )
        raise type(error)(f"{owner}: {message}") from None
