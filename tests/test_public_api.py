"""The exported names are exactly the intended ones (private modules stay private)."""

from __future__ import annotations

import epochal
import epochal.callbacks
import epochal.errors
import epochal.keras


def test_top_level_names():
    assert epochal.__all__ == sorted(epochal.__all__)
    assert set(epochal.__all__) == {
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
    }
    for name in epochal.__all__:
        assert hasattr(epochal, name)


def test_callbacks_and_errors_names():
    assert set(epochal.callbacks.__all__) == {
        "BackupAndRestore",
        "CSVLogger",
        "Callback",
        "CallbackList",
        "EarlyStopping",
        "History",
        "LambdaCallback",
        "LearningRateScheduler",
        "MLflowLogger",
        "ModelCheckpoint",
        "ProgbarLogger",
        "ReduceLROnPlateau",
        "TensorBoard",
        "TerminateOnNaN",
    }
    assert set(epochal.errors.__all__) == {
        "ArgumentError",
        "ArgumentTypeError",
        "CheckpointError",
        "DataError",
        "EpochalError",
        "NonFiniteLossError",
        "NotCompiledError",
    }
    for name in epochal.errors.__all__:
        assert issubclass(getattr(epochal.errors, name), epochal.errors.EpochalError)


def test_keras_namespace_has_the_tf_keras_shape():
    for name in (
        "Sequential",
        "Model",
        "Input",
        "layers",
        "optimizers",
        "losses",
        "metrics",
        "callbacks",
        "activations",
        "initializers",
        "utils",
    ):
        assert hasattr(epochal.keras, name), name
