"""`EarlyStopping`: stop a run when a monitored quantity stops improving."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import torch

from epochal.callbacks import _monitor
from epochal.callbacks.base import Callback, Logs
from epochal.errors import ArgumentError, ArgumentTypeError

__all__ = ["EarlyStopping"]


class EarlyStopping(Callback):
    """Stop training when ``monitor`` has stopped improving (Keras 3 semantics).

    At each epoch end the monitored value is compared with the best so far;
    after ``patience`` epochs without an improvement larger than
    ``min_delta`` the run stops. With ``restore_best_weights`` the model shows
    the best epoch's weights at the end of every ``fit`` call in which a best
    exists.

    What differs from Keras, on purpose: the state (best value, wait count,
    best weights) belongs to the training run, so a loop of
    ``fit(epochs=1, callbacks=[es])`` stops at the same epoch as one long
    ``fit`` with it; and after restoring the best weights at the end of a call
    that did not stop, the next ``fit`` call continues from the run's own last
    weights (unless you changed the weights in between), so splitting a run
    into calls never changes it. To start a fresh early-stopping phase on a
    continuing run, call ``model.new_phase()``.

    Args:
        monitor: the log key to watch. Defaults to ``"val_loss"``.
        min_delta: smallest change counted as an improvement (a magnitude).
        patience: epochs without improvement after which training stops.
        verbose: 1 prints a message when the callback stops or restores.
        mode: ``"min"``, ``"max"``, or ``"auto"`` (losses and errors down,
            accuracy-like metrics up).
        baseline: a value the monitored quantity must beat; until it does,
            the wait count keeps running.
        restore_best_weights: show the best epoch's weights at the end of a call.
        start_from_epoch: epochs to wait before monitoring starts.

    Example:
        >>> es = EarlyStopping(monitor="val_loss", patience=10, restore_best_weights=True)
        >>> model.fit(x, y, epochs=100, validation_split=0.2, callbacks=[es])
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        min_delta: float = 0.0,
        patience: int = 0,
        verbose: int = 0,
        mode: Literal["auto", "min", "max"] = "auto",
        baseline: float | None = None,
        restore_best_weights: bool = False,
        start_from_epoch: int = 0,
    ) -> None:
        super().__init__()
        if not isinstance(monitor, str) or not monitor:
            raise ArgumentTypeError(
                f"EarlyStopping: expected `monitor` to be a log key such as 'val_loss'. "
                f"Received: monitor={monitor!r}"
            )
        for arg, value in (("patience", patience), ("start_from_epoch", start_from_epoch)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ArgumentError(
                    f"EarlyStopping: expected `{arg}` to be an int >= 0. Received: {arg}={value!r}"
                )
        if isinstance(min_delta, bool) or not isinstance(min_delta, (int, float)):
            raise ArgumentTypeError(
                f"EarlyStopping: expected `min_delta` to be a number. Received: min_delta={min_delta!r}"
            )
        if baseline is not None and not isinstance(baseline, (int, float)):
            raise ArgumentTypeError(
                f"EarlyStopping: expected `baseline` to be a number or None. Received: baseline={baseline!r}"
            )
        _monitor.check_mode("EarlyStopping", mode)
        self.monitor = monitor
        self.min_delta = abs(float(min_delta))
        self.patience = patience
        self.verbose = verbose
        self.mode = mode
        self.baseline = None if baseline is None else float(baseline)
        self.restore_best_weights = bool(restore_best_weights)
        self.start_from_epoch = start_from_epoch
        self._warned: set[str] = set()
        self._direction: _monitor.Mode | None = None
        self.reset_state()

    # -- run-owned state ------------------------------------------------------
    def reset_state(self) -> None:
        self.wait = 0
        self.stopped_epoch = 0
        self.best: float | None = None
        self.best_epoch = 0
        self.best_weights: dict[str, torch.Tensor] | None = None

    def state_dict(self) -> dict[str, Any]:
        return {
            "wait": self.wait,
            "stopped_epoch": self.stopped_epoch,
            "best": self.best,
            "best_epoch": self.best_epoch,
            "best_weights": self.best_weights,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.wait = int(state["wait"])
        self.stopped_epoch = int(state["stopped_epoch"])
        self.best = None if state["best"] is None else float(state["best"])
        self.best_epoch = int(state["best_epoch"])
        self.best_weights = state["best_weights"]

    # -- hooks ----------------------------------------------------------------
    def on_train_begin(self, logs: Logs | None = None) -> None:
        expected = self.params.get("metrics")
        if expected is not None and self.monitor not in expected:
            # A typo or a key no callback produces: say so once, before training.
            _monitor.warn_missing("EarlyStopping", self.monitor, expected, self._warned)
            self._direction = None
        else:
            self._direction = self._resolve()

    def _resolve(self) -> _monitor.Mode:
        return _monitor.resolve_mode("EarlyStopping", self.monitor, self.mode, self.model)

    def _improves(self, value: float, reference: float | None) -> bool:
        if self._direction is None:
            self._direction = self._resolve()
        return _monitor.is_improvement(value, reference, self._direction, self.min_delta)

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        current = _monitor.monitor_value(
            "EarlyStopping", self.monitor, logs, self._warned, self.params
        )
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            # Until something improves, the first monitored epoch is the best.
            self.best_weights = self._snapshot()
            self.best_epoch = epoch
        self.wait += 1
        if self._improves(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self._snapshot()
            # The wait restarts only when the value beats the baseline too.
            if self.baseline is None or self._improves(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            assert self.model is not None
            self.model.stop_training = True

    def on_train_end(self, logs: Logs | None = None) -> None:
        assert self.model is not None
        run = self.model.run
        if self.stopped_epoch > 0:
            run.events["stopped_epoch"] = self.stopped_epoch
            if self.verbose > 0:
                print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.best is not None:
            run.events["best_epoch"] = self.best_epoch
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print(
                    "Restoring model weights from the end of the best epoch: "
                    f"{self.best_epoch + 1}."
                )
            self.model.show_weights(self.best_weights)
            run.events["restored_epoch"] = self.best_epoch

    def _snapshot(self) -> dict[str, torch.Tensor]:
        assert self.model is not None
        return {k: v.detach().clone() for k, v in self.model.module.state_dict().items()}
