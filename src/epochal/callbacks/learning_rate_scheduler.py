"""`LearningRateScheduler`: set the learning rate from a function of the epoch."""

from __future__ import annotations

import inspect
import math
import numbers
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from epochal.callbacks._lr import (
    get_learning_rate,
    optimizer_of,
    refuse_schedule,
    set_learning_rate,
)
from epochal.callbacks.base import Callback, Logs
from epochal.errors import ArgumentError, ArgumentTypeError

if TYPE_CHECKING:
    pass

__all__ = ["LearningRateScheduler"]

Schedule = Callable[[int, float], float] | Callable[[int], float]


def _schedule_takes_lr(schedule: Callable[..., Any]) -> bool:
    """Whether ``schedule`` is called as ``schedule(epoch, lr)`` (else ``schedule(epoch)``).

    Keras still accepts one-argument schedules; deciding here from the
    signature, rather than by retrying after a TypeError as Keras does, keeps
    a TypeError raised inside the schedule from being mistaken for the old API.
    """
    try:
        signature = inspect.signature(schedule)
    except (TypeError, ValueError):  # builtins without a signature: assume the current API
        return True
    try:
        signature.bind(0, 0.0)
        return True
    except TypeError:
        pass
    try:
        signature.bind(0)
        return False
    except TypeError:
        raise ArgumentTypeError(
            "LearningRateScheduler: expected `schedule` to take (epoch, lr). "
            f"Received: schedule={schedule!r} with signature {signature}"
        ) from None


def _as_learning_rate(value: object, epoch: int) -> float:
    """Check a value returned by a schedule and turn it into a float."""
    if isinstance(value, (torch.Tensor, np.ndarray)) and value.ndim == 0:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ArgumentTypeError(
            "LearningRateScheduler: expected `schedule` to return a float. "
            f"Received: {value!r} (type {type(value).__name__}) for epoch={epoch}"
        )
    lr = float(value)
    if not math.isfinite(lr) or lr < 0:
        raise ArgumentError(
            "LearningRateScheduler: expected `schedule` to return a finite learning rate >= 0. "
            f"Received: {lr!r} for epoch={epoch}"
        )
    return lr


class LearningRateScheduler(Callback):
    """Set the learning rate at the start of every epoch from ``schedule(epoch, lr)``.

    ``epoch`` is the run's 0-based epoch index: a second ``fit`` call of a run
    that stands at epoch 3 calls ``schedule(3, lr)``, so a schedule gives the
    same rates however the run is split into ``fit`` calls. ``lr`` is the
    current learning rate of the optimizer's first parameter group; the
    returned rate is set on every parameter group. At the end of each epoch
    the rate is written to ``logs["learning_rate"]``.

    The callback has no state of its own: the learning rate lives in the
    optimizer, which the run saves and restores.

    Args:
        schedule: a function ``(epoch: int, lr: float) -> float``. A function
            of the epoch alone (Keras's older API) is accepted too.
        verbose: 0 is quiet; 1 prints a message each time the rate is set.

    Raises:
        ArgumentTypeError: ``schedule`` is not callable or takes neither
            ``(epoch, lr)`` nor ``(epoch)``; ``verbose`` is not an int. During
            training, ``schedule`` returned something other than a number.
        ArgumentError: ``verbose`` is negative. During training, ``schedule``
            returned a negative or non-finite rate.

    Example:
        >>> def schedule(epoch, lr):
        ...     return lr if epoch < 10 else lr * 0.9
        >>> model.fit(x, y, epochs=15, callbacks=[LearningRateScheduler(schedule)])
    """

    def __init__(self, schedule: Schedule, verbose: int = 0) -> None:
        super().__init__()
        if not callable(schedule):
            raise ArgumentTypeError(
                "LearningRateScheduler: expected `schedule` to be a callable (epoch, lr) -> float. "
                f"Received: schedule={schedule!r}"
            )
        if not isinstance(verbose, int):
            raise ArgumentTypeError(
                "LearningRateScheduler: expected `verbose` to be an int. "
                f"Received: verbose={verbose!r}"
            )
        if verbose < 0:
            raise ArgumentError(
                f"LearningRateScheduler: expected `verbose` to be >= 0. Received: verbose={verbose}"
            )
        self.schedule = schedule
        self.verbose = verbose
        self._takes_lr = _schedule_takes_lr(schedule)
        self.reset_state()

    # The epoch whose rate was last set: an epoch resumed from a mid-epoch
    # checkpoint begins again, and must not apply ``schedule(epoch, lr)`` twice.
    def reset_state(self) -> None:
        self.applied_epoch: int | None = None

    def state_dict(self) -> dict[str, Any]:
        return {"applied_epoch": self.applied_epoch}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.applied_epoch = state["applied_epoch"]

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        if self.applied_epoch == epoch:
            return
        optimizer = optimizer_of("LearningRateScheduler", self.model)
        refuse_schedule("LearningRateScheduler", self.model)
        self.applied_epoch = epoch
        if self._takes_lr:
            value = self.schedule(epoch, get_learning_rate(optimizer))  # type: ignore[call-arg]
        else:
            value = self.schedule(epoch)  # type: ignore[call-arg]
        lr = _as_learning_rate(value, epoch)
        set_learning_rate(optimizer, lr)
        if self.verbose > 0:
            print(f"Epoch {epoch + 1}: LearningRateScheduler setting learning rate to {lr}.")

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        if logs is not None:
            logs["learning_rate"] = get_learning_rate(
                optimizer_of("LearningRateScheduler", self.model)
            )
