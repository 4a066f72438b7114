"""Whether epochal's own machinery is calling the model (a training or evaluation step).

A model of `epochal.keras` called by the user runs in inference mode by
default, as in Keras; called by the run's owner (a training step, the probe
that builds lazy layers), it runs as the loop set it. The loop marks its
calls with `engine_calls`; `in_engine` tells the model which case it is.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, TypeVar

__all__ = ["call_marked", "engine_calls", "in_engine", "marked"]

F = TypeVar("F", bound=Callable[..., Any])

_ENGINE: ContextVar[bool] = ContextVar("epochal_engine_calls", default=False)


class engine_calls:  # a context manager, named as one
    """Marks the calls made inside the block as the engine's (a class: entered every predict)."""

    __slots__ = ("_token",)

    def __enter__(self) -> None:
        self._token = _ENGINE.set(True)

    def __exit__(self, *exc: object) -> None:
        _ENGINE.reset(self._token)


def in_engine() -> bool:
    """Whether the current call comes from the engine (see `engine_calls`)."""
    return _ENGINE.get()


def marked(fn: F) -> F:
    """``fn`` with the model calls it makes marked as the engine's (cheap: once per step)."""

    def engine_fn(*args: Any) -> Any:
        token = _ENGINE.set(True)
        try:
            return fn(*args)
        finally:
            _ENGINE.reset(token)

    return engine_fn  # type: ignore[return-value]


def call_marked(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)`` with the model calls inside marked (models within a model)."""
    token = _ENGINE.set(True)
    try:
        return fn(*args, **kwargs)
    finally:
        _ENGINE.reset(token)
