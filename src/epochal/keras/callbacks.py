"""Keras's callbacks: epochal's, whose state belongs to the training run.

The names, arguments and defaults follow Keras 3. What differs: a callback's
state (EarlyStopping's best value, wait count and best weights, ...) is kept
by the model's run, so a loop of ``fit(epochs=1, callbacks=[early_stopping])``
behaves as one long ``fit``; ``model.new_phase()`` starts it fresh.

Example:
    >>> from epochal.keras.callbacks import EarlyStopping
    >>> es = EarlyStopping(monitor="val_loss", patience=10, restore_best_weights=True)
"""

from __future__ import annotations

from epochal.callbacks import (
    BackupAndRestore,
    Callback,
    CSVLogger,
    EarlyStopping,
    History,
    LambdaCallback,
    LearningRateScheduler,
    ModelCheckpoint,
    ProgbarLogger,
    ReduceLROnPlateau,
    TensorBoard,
    TerminateOnNaN,
)

__all__ = [
    "BackupAndRestore",
    "CSVLogger",
    "Callback",
    "EarlyStopping",
    "History",
    "LambdaCallback",
    "LearningRateScheduler",
    "ModelCheckpoint",
    "ProgbarLogger",
    "ReduceLROnPlateau",
    "TensorBoard",
    "TerminateOnNaN",
]


# Keras names this module does not have raise an error saying what to do instead.
from epochal.keras._missing import module_getattr

__getattr__ = module_getattr("keras.callbacks")
