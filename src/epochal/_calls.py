"""Whether epochal's own machinery is calling the model (a training or evaluation step).

A model of `epochal.keras` called by the user runs in inference mode by
default, as in Keras; called by the run's owner (a training step, the probe
that builds lazy layers), it runs as the loop set it. The loop marks its
calls with `engine_calls`; `in_engine` tells the model which case it is.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["engine_calls", "in_engine"]

_ENGINE: ContextVar[bool] = ContextVar("epochal_engine_calls", default=False)


@contextmanager
def engine_calls() -> Iterator[None]:
    """Marks the calls made inside the block as the engine's."""
    token = _ENGINE.set(True)
    try:
        yield
    finally:
        _ENGINE.reset(token)


def in_engine() -> bool:
    """Whether the current call comes from the engine (see `engine_calls`)."""
    return _ENGINE.get()
