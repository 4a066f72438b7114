"""epochal: a PyTorch training library with a Keras-familiar face.

import epochal as ep
model = ep.Model(module)
model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"], seed=0)
history = model.fit(x, y, epochs=100, validation_split=0.2,
                    callbacks=[ep.EarlyStopping(patience=10, restore_best_weights=True)])
"""

from epochal import activations, callbacks, errors, initializers, layers
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
from epochal.model import Model
from epochal.sequential import Sequential

__version__ = "0.1.0"

__all__ = [
    "BackupAndRestore",
    "CSVLogger",
    "Callback",
    "EarlyStopping",
    "History",
    "LambdaCallback",
    "LearningRateScheduler",
    "Model",
    "ModelCheckpoint",
    "ProgbarLogger",
    "ReduceLROnPlateau",
    "Sequential",
    "TensorBoard",
    "TerminateOnNaN",
    "__version__",
    "activations",
    "callbacks",
    "errors",
    "initializers",
    "layers",
]
