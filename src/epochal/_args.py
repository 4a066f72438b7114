"""Checks of ``fit``/``evaluate``/``predict`` arguments, with Keras-style messages."""

from __future__ import annotations

from typing import Any

from epochal.callbacks.base import Callback
from epochal.errors import ArgumentError, ArgumentTypeError

__all__ = ["check_callbacks", "check_positive_int", "check_validation_freq", "check_verbose"]


def check_positive_int(name: str, value: Any, *, allow_none: bool = True) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ArgumentError(f"Expected `{name}` to be a positive int. Received: {name}={value!r}")


def check_verbose(verbose: Any) -> int:
    if verbose == "auto":
        return 1
    if isinstance(verbose, bool) or verbose not in (0, 1, 2):
        raise ArgumentError(
            f"Expected `verbose` to be 0, 1, 2 or 'auto'. Received: verbose={verbose!r}"
        )
    return int(verbose)


def check_callbacks(callbacks: Any) -> list[Callback]:
    if callbacks is None:
        return []
    if isinstance(callbacks, Callback):
        callbacks = [callbacks]
    if not isinstance(callbacks, (list, tuple)):
        raise ArgumentTypeError(
            f"Expected `callbacks` to be a list of Callback instances. Received: {type(callbacks).__name__}"
        )
    for cb in callbacks:
        if not isinstance(cb, Callback):
            raise ArgumentTypeError(
                "Expected every entry of `callbacks` to be an epochal Callback instance. "
                f"Received: {cb!r} of type {type(cb).__name__}"
            )
    return list(callbacks)


def check_validation_freq(freq: Any) -> int | list[int]:
    if isinstance(freq, int) and not isinstance(freq, bool) and freq > 0:
        return freq
    if isinstance(freq, (list, tuple)) and all(
        isinstance(f, int) and not isinstance(f, bool) and f > 0 for f in freq
    ):
        return list(freq)
    raise ArgumentError(
        "Expected `validation_freq` to be a positive int or a list of positive ints (1-based "
        f"epochs). Received: validation_freq={freq!r}"
    )
