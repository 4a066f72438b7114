"""``epochal.keras``: a namespace shaped like ``tf.keras``, training PyTorch models.

A typical Keras script runs with only its imports changed::

    from epochal import keras
    from epochal.keras import layers
    from epochal.keras.callbacks import EarlyStopping

    model = keras.Sequential([layers.Dense(128, activation="relu", input_shape=(10,)),
                              layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.001),
                  loss=keras.losses.BinaryCrossentropy(), metrics=["accuracy"])
    history = model.fit(x_train, y_train, epochs=100, validation_data=(x_val, y_val),
                        callbacks=[EarlyStopping(patience=10, restore_best_weights=True)])

Where epochal deliberately differs from Keras (continuing runs, callback
state, argument order of custom losses, ...) is listed in
``docs/coming_from_keras.md``.
"""

from epochal.keras import (
    activations,
    callbacks,
    config,
    constraints,
    initializers,
    layers,
    losses,
    metrics,
    models,
    ops,
    optimizers,
    random,
    regularizers,
    saving,
    utils,
)
from epochal.keras._symbolic import Input, KerasTensor
from epochal.keras.models import Model, Sequential

__all__ = [
    "Input",
    "KerasTensor",
    "Model",
    "Sequential",
    "activations",
    "callbacks",
    "config",
    "constraints",
    "initializers",
    "layers",
    "losses",
    "metrics",
    "models",
    "ops",
    "optimizers",
    "random",
    "regularizers",
    "saving",
    "utils",
]

# Keras names epochal.keras does not have raise an error saying what to do instead.
from epochal.keras._missing import module_getattr

__getattr__ = module_getattr("keras")
