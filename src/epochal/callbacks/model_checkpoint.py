"""`ModelCheckpoint`: save the model (or its weights) during training, as Keras does."""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from typing import Any, Literal

from epochal.callbacks import _monitor
from epochal.callbacks.base import Callback, Logs
from epochal.errors import ArgumentError, ArgumentTypeError

__all__ = ["ModelCheckpoint"]


class ModelCheckpoint(Callback):
    """Save the model at some frequency, or only when ``monitor`` improves (Keras 3 arguments).

    Each save is an epochal checkpoint directory (atomic, checksummed; see
    `epochal.checkpoint`): the whole run by default, loadable with
    ``Model.load(path, module=...)`` and trainable on; only the weights with
    ``save_weights_only=True``, loadable with ``model.load_weights(path)``.

    ``filepath`` may hold ``{epoch}`` (1-based, as in Keras), ``{batch}``
    (1-based, for ``save_freq=N`` saves) and any log key, for example
    ``"ckpt/epoch{epoch:02d}-{val_loss:.3f}"``. The best value seen so far
    belongs to the run, so a loop of short ``fit`` calls saves exactly what one
    long call saves. As in Keras, with ``save_best_only`` a ``monitor`` missing
    from the logs is warned about and the model saved; an unknown ``mode`` is
    warned about and taken as ``"auto"``.

    Args:
        filepath: where to save; formatted with ``epoch`` and the logs.
        monitor: the log key compared when ``save_best_only``.
        verbose: 1 prints a line at each save decision.
        save_best_only: save only when ``monitor`` improves on the best so far.
        save_weights_only: save the weights alone instead of the whole run.
        mode: ``"auto"``, ``"min"`` or ``"max"``, as in `EarlyStopping`.
        save_freq: ``"epoch"``, or an int: save every that many batches.
        initial_value_threshold: the value ``monitor`` must beat for the first save.

    Example:
        >>> ckpt = ModelCheckpoint("runs/best", monitor="val_loss", save_best_only=True)
        >>> model.fit(x, y, epochs=20, validation_split=0.2, callbacks=[ckpt])
    """

    def __init__(
        self,
        filepath: str | os.PathLike[str],
        monitor: str = "val_loss",
        verbose: int = 0,
        save_best_only: bool = False,
        save_weights_only: bool = False,
        mode: Literal["auto", "min", "max"] = "auto",
        save_freq: Literal["epoch"] | int = "epoch",
        initial_value_threshold: float | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(filepath, (str, os.PathLike)):
            raise ArgumentTypeError(
                f"ModelCheckpoint: expected `filepath` to be a path. Received: {filepath!r}"
            )
        if save_freq != "epoch" and (
            isinstance(save_freq, bool) or not isinstance(save_freq, int) or save_freq <= 0
        ):
            raise ArgumentError(
                "ModelCheckpoint: expected `save_freq` to be 'epoch' or a positive int. "
                f"Received: save_freq={save_freq!r}"
            )
        if initial_value_threshold is not None and not isinstance(
            initial_value_threshold, (int, float)
        ):
            raise ArgumentTypeError(
                "ModelCheckpoint: expected `initial_value_threshold` to be a number. "
                f"Received: initial_value_threshold={initial_value_threshold!r}"
            )
        if mode not in _monitor.MODES:
            warnings.warn(
                f"ModelCheckpoint: mode {mode!r} is unknown, falling back to 'auto' "
                "(expected 'auto', 'min' or 'max')",
                RuntimeWarning,
                stacklevel=2,
            )
            mode = "auto"
        self.filepath = os.fspath(filepath)
        self.monitor = monitor
        self.verbose = verbose
        self.save_best_only = bool(save_best_only)
        self.save_weights_only = bool(save_weights_only)
        self.mode = mode
        self.save_freq = save_freq
        self.initial_value_threshold = initial_value_threshold
        self._warned: set[str] = set()
        self._direction: _monitor.Mode | None = None
        self.reset_state()

    # -- run-owned state ------------------------------------------------------
    def reset_state(self) -> None:
        self.best: float | None = (
            None if self.initial_value_threshold is None else float(self.initial_value_threshold)
        )
        self.batches_since_save = 0

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "batches_since_save": self.batches_since_save}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.best = None if state["best"] is None else float(state["best"])
        self.batches_since_save = int(state["batches_since_save"])

    # -- hooks ----------------------------------------------------------------
    def wants_hook(self, hook: str) -> bool:
        # Per-batch work only when saving every N batches.
        return hook == "on_train_batch_end" and self.save_freq != "epoch"

    def on_train_begin(self, logs: Logs | None = None) -> None:
        if self.save_best_only:
            self._direction = _monitor.resolve_mode(
                "ModelCheckpoint", self.monitor, self.mode, self.model
            )

    def on_train_batch_end(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        if self.save_freq == "epoch":
            return
        self.batches_since_save += 1
        if self.batches_since_save >= self.save_freq:
            self.batches_since_save = 0
            assert self.model is not None
            self._save(self.model.run.epoch, dict(logs or {}), batch)

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        if self.save_freq == "epoch":
            self._save(epoch, dict(logs or {}), None)

    def _save(self, epoch: int, logs: dict[str, Any], batch: int | None) -> None:
        assert self.model is not None
        path = self._format(epoch, logs, batch)
        current = None
        if self.save_best_only:
            current = _monitor.monitor_value(
                "ModelCheckpoint", self.monitor, logs, self._warned, self.params
            )
            if current is None and self.monitor in (self.params.get("metrics") or ()):
                return  # logged on other epochs (validation_freq): nothing to compare now
            # Otherwise a monitor missing from the logs was warned about; save, as Keras does.
        if current is not None:
            assert self._direction is not None
            if not _monitor.is_improvement(current, self.best, self._direction, 0.0):
                if self.verbose > 0:
                    print(f"Epoch {epoch + 1}: {self.monitor} did not improve from {self.best:.5f}")
                return
            if self.verbose > 0:
                previous = "inf" if self.best is None else f"{self.best:.5f}"
                print(
                    f"Epoch {epoch + 1}: {self.monitor} improved from {previous} to "
                    f"{current:.5f}, saving model to {path}"
                )
            self.best = current
        elif self.verbose > 0:
            print(f"Epoch {epoch + 1}: saving model to {path}")
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)

    def _format(self, epoch: int, logs: Mapping[str, Any], batch: int | None) -> str:
        values = {**logs, "epoch": epoch + 1}
        if batch is not None:
            values["batch"] = batch + 1
        try:
            return self.filepath.format(**values)
        except KeyError as exc:
            raise ArgumentError(
                f"ModelCheckpoint: `filepath` {self.filepath!r} names {exc.args[0]!r}, which is "
                f"not in the logs. Available keys: {', '.join(sorted(values))}"
            ) from None
