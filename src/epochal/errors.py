"""The exceptions epochal raises.

Every error epochal raises on purpose derives from :class:`EpochalError`, so
``except epochal.errors.EpochalError`` catches all of them. Each one also
derives from the built-in exception a Python user would expect, so existing
``except ValueError`` / ``except TypeError`` code keeps working:

- :class:`ArgumentError` (``ValueError``): an argument has a wrong value.
- :class:`ArgumentTypeError` (``TypeError``): an argument has a wrong type.
- :class:`DataError` (``ValueError``): the data is unusable (lengths differ, empty,
  NaN/Inf, shape or dtype that does not fit the loss).
- :class:`NotCompiledError` (``RuntimeError``): ``fit``/``evaluate`` before ``compile``.
- :class:`CheckpointError` (``RuntimeError``): a checkpoint cannot be written or read.
- :class:`NonFiniteLossError` (``RuntimeError``): the loss became NaN/Inf
  (``TerminateOnNaN(raise_error=True)``).

Messages name the argument, what was received and what was expected.
"""

from __future__ import annotations

__all__ = [
    "ArgumentError",
    "ArgumentTypeError",
    "CheckpointError",
    "DataError",
    "EpochalError",
    "NonFiniteLossError",
    "NotCompiledError",
]


class EpochalError(Exception):
    """Base class of every error epochal raises on purpose."""


class ArgumentError(EpochalError, ValueError):
    """An argument has a value epochal cannot use."""


class ArgumentTypeError(EpochalError, TypeError):
    """An argument has a type epochal cannot use."""


class DataError(ArgumentError):
    """The data passed in cannot be trained on as given."""


class NotCompiledError(EpochalError, RuntimeError):
    """The model was used for training or evaluation before ``compile``."""


class CheckpointError(EpochalError, RuntimeError):
    """A checkpoint could not be written, or no intact checkpoint could be read."""


class NonFiniteLossError(EpochalError, RuntimeError):
    """The training loss became NaN or infinite (``TerminateOnNaN(raise_error=True)``)."""
