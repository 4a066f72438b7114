"""`TerminateOnNaN`: stop training as soon as the loss becomes NaN or infinite."""

from __future__ import annotations

import math

from epochal.callbacks.base import Callback, Logs
from epochal.errors import ArgumentTypeError, NonFiniteLossError, NotCompiledError

__all__ = ["TerminateOnNaN"]


class TerminateOnNaN(Callback):
    """Stop training when the training loss becomes NaN or infinite.

    After each training batch the running loss is read from the batch logs;
    if it is NaN or infinite, ``model.stop_training`` is set, the current
    epoch ends and ``on_train_end`` runs as usual. Reading the loss waits for
    the device to finish the step, so this callback costs one device sync per
    batch.

    Args:
        raise_error: raise `NonFiniteLossError` (a ``RuntimeError``) at once
            instead of stopping gracefully; the other callbacks'
            ``on_train_end`` then does not run.

    Raises:
        ArgumentTypeError: ``raise_error`` is not a bool.

    Example:
        >>> model.fit(x, y, epochs=10, callbacks=[TerminateOnNaN()])
    """

    def __init__(self, *, raise_error: bool = False) -> None:
        super().__init__()
        if not isinstance(raise_error, bool):
            raise ArgumentTypeError(
                "TerminateOnNaN: expected `raise_error` to be a bool. "
                f"Received: raise_error={raise_error!r}"
            )
        self.raise_error = raise_error

    def on_train_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        # Only "loss" is read: every key of the batch logs is computed on demand.
        loss = None if logs is None else logs.get("loss")
        if loss is None or math.isfinite(float(loss)):
            return
        if self.raise_error:
            raise NonFiniteLossError(
                f"Batch {batch}: Invalid loss {float(loss)}, terminating training"
            )
        print(f"Batch {batch}: Invalid loss, terminating training")
        if self.model is None:
            raise NotCompiledError(
                "TerminateOnNaN is not attached to a model. "
                "Pass it to `model.fit(callbacks=[...])`."
            )
        self.model.stop_training = True
