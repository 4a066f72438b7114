"""`ReduceLROnPlateau`: lower the learning rate when a monitored quantity stops improving."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any, Literal

from epochal.callbacks._lr import (
    get_learning_rate,
    optimizer_of,
    refuse_schedule,
    set_learning_rate,
)
from epochal.callbacks._monitor import (
    Mode,
    check_mode,
    initial_best,
    is_improvement,
    monitor_value,
    resolve_mode,
)
from epochal.callbacks.base import Callback, Logs
from epochal.errors import ArgumentError, ArgumentTypeError

__all__ = ["ReduceLROnPlateau"]

_OWNER = "ReduceLROnPlateau"


def _check_real(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ArgumentTypeError(
            f"{_OWNER}: expected `{name}` to be a float. Received: {name}={value!r}"
        )
    number = float(value)
    if not math.isfinite(number):
        raise ArgumentError(
            f"{_OWNER}: expected `{name}` to be a finite number. Received: {name}={value!r}"
        )
    return number


def _check_count(name: str, value: object, *, allow_bool: bool = False) -> int:
    if (isinstance(value, bool) and not allow_bool) or not isinstance(value, int):
        raise ArgumentTypeError(
            f"{_OWNER}: expected `{name}` to be an int. Received: {name}={value!r}"
        )
    if value < 0:
        raise ArgumentError(f"{_OWNER}: expected `{name}` to be >= 0. Received: {name}={value}")
    return int(value)


class ReduceLROnPlateau(Callback):
    """Reduce the learning rate when ``monitor`` has stopped improving for ``patience`` epochs.

    Keras semantics: a value improves on the best so far when it beats it by
    more than ``min_delta``. Each epoch without improvement adds one to a wait
    count; when it reaches ``patience`` every parameter group's rate becomes
    ``max(lr * factor, min_lr)`` (groups already at ``min_lr`` or below are
    left alone), the wait count restarts and ``cooldown`` epochs follow during
    which the wait count stays 0. The rate the epoch trained with is written
    to ``logs["learning_rate"]`` at every epoch end.

    The best value, the wait count and the cooldown counter belong to the
    training run: a loop of ``fit(epochs=1)`` calls reduces the rate at the
    same epochs as one long ``fit``. ``on_train_begin`` does not reset them
    (Keras does); the run resets them for a new run.

    Args:
        monitor: the log key to watch, e.g. ``"val_loss"``.
        factor: the rate is multiplied by this; ``0 <= factor < 1``.
        patience: epochs without improvement before the rate is reduced.
        verbose: 0 is quiet; 1 prints a message when the rate is reduced.
        mode: ``"min"``, ``"max"``, or ``"auto"`` to infer the direction from
            ``monitor`` (losses go down; a compiled metric uses its direction,
            e.g. ``val_accuracy`` goes up). Unlike Keras, an unknown mode or an
            undecidable ``"auto"`` raises instead of falling back.
        min_delta: the margin a value must beat the best by to count as an
            improvement; taken as a magnitude, whatever its sign.
        cooldown: epochs after a reduction during which no waiting is counted.
        min_lr: the lower bound of the learning rate; ``>= 0``.

    Raises:
        ArgumentTypeError: an argument has the wrong type.
        ArgumentError: an argument has an invalid value (``factor >= 1``,
            negative ``patience``, unknown ``mode``, ...).

    Example:
        >>> reduce_lr = ReduceLROnPlateau(monitor="val_loss", factor=0.2, patience=5,
        ...                               min_lr=1e-5)
        >>> model.fit(x, y, validation_split=0.2, epochs=100, callbacks=[reduce_lr])
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        factor: float = 0.1,
        patience: int = 10,
        verbose: int = 0,
        *,
        mode: Literal["auto", "min", "max"] = "auto",
        min_delta: float = 1e-4,
        cooldown: int = 0,
        min_lr: float = 0.0,
    ) -> None:
        super().__init__()
        if not isinstance(monitor, str):
            raise ArgumentTypeError(
                f"{_OWNER}: expected `monitor` to be a str. Received: monitor={monitor!r}"
            )
        if not monitor:
            raise ArgumentError(
                f"{_OWNER}: expected `monitor` to be a log key such as 'val_loss'. "
                "Received: monitor=''"
            )
        self.factor = _check_real("factor", factor)
        if self.factor >= 1.0:
            raise ArgumentError(
                f"{_OWNER}: expected `factor` to be < 1.0. Received: factor={factor}"
            )
        if self.factor < 0.0:
            raise ArgumentError(
                f"{_OWNER}: expected `factor` to be >= 0.0. Received: factor={factor}"
            )
        self.monitor = monitor
        self.patience = _check_count("patience", patience)
        self.verbose = _check_count("verbose", verbose, allow_bool=True)
        if not isinstance(mode, str):
            raise ArgumentTypeError(
                f"{_OWNER}: expected `mode` to be a str. Received: mode={mode!r}"
            )
        check_mode(_OWNER, mode)
        self.mode = mode
        self.min_delta = _check_real("min_delta", min_delta)
        self.cooldown = _check_count("cooldown", cooldown)
        self.min_lr = _check_real("min_lr", min_lr)
        if self.min_lr < 0.0:
            raise ArgumentError(
                f"{_OWNER}: expected `min_lr` to be >= 0.0. Received: min_lr={min_lr}"
            )
        # Resolved against the model at each fit call: "auto" needs its metrics.
        self._direction: Mode | None = None
        self._warned: set[str] = set()
        self.reset_state()

    # -- run-owned state ------------------------------------------------------
    def reset_state(self) -> None:
        # None stands for Keras's +/-inf start, whose sign depends on the mode,
        # which is only known once the callback sees the model.
        self.best: float | None = None
        self.wait = 0
        self.cooldown_counter = 0

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "wait": self.wait, "cooldown_counter": self.cooldown_counter}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        best = state["best"]
        self.best = None if best is None else float(best)
        self.wait = int(state["wait"])
        self.cooldown_counter = int(state["cooldown_counter"])

    def in_cooldown(self) -> bool:
        """Whether the callback is in the cooldown that follows a reduction."""
        return self.cooldown_counter > 0

    # -- hooks ----------------------------------------------------------------
    def on_train_begin(self, logs: Logs | None = None) -> None:
        # Only the direction is settled here; the state was loaded or reset by the run.
        refuse_schedule(_OWNER, self.model)
        self._direction = resolve_mode(_OWNER, self.monitor, self.mode, self.model)

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        optimizer = optimizer_of(_OWNER, self.model)
        old_lr = get_learning_rate(optimizer)
        if logs is not None:
            logs["learning_rate"] = old_lr
        current = monitor_value(_OWNER, self.monitor, logs, self._warned, self.params)
        if current is None:
            return
        if self._direction is None:
            self._direction = resolve_mode(_OWNER, self.monitor, self.mode, self.model)

        # The order below is Keras's: a cooldown epoch first counts down,
        # then an improvement still updates the best value.
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        reference = initial_best(self._direction) if self.best is None else self.best
        if is_improvement(current, reference, self._direction, self.min_delta):
            self.best = current
            self.wait = 0
            return
        if self.in_cooldown():
            return
        self.wait += 1
        if self.wait < self.patience or old_lr <= self.min_lr:
            return
        for index, group in enumerate(optimizer.param_groups):
            group_lr = float(group["lr"])
            if group_lr > self.min_lr:
                set_learning_rate(optimizer, max(group_lr * self.factor, self.min_lr), index)
        if self.verbose > 0:
            new_lr = get_learning_rate(optimizer)
            print(f"Epoch {epoch + 1}: {_OWNER} reducing learning rate to {new_lr}.")
        self.cooldown_counter = self.cooldown
        self.wait = 0
