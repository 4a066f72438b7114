"""The ``epochal.keras`` namespace: its names, Sequential/Input, and the issue's script."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import torch

import epochal
from _util import make_binary
from epochal import keras
from epochal.errors import ArgumentError, ArgumentTypeError
from epochal.keras import layers

MODULES = {
    "epochal.keras": {
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
    },
    "epochal.keras.layers": {
        "Activation",
        "ActivityRegularization",
        "Add",
        "AdditiveAttention",
        "Attention",
        "Average",
        "AveragePooling1D",
        "AveragePooling2D",
        "AveragePooling3D",
        "AvgPool1D",
        "AvgPool2D",
        "AvgPool3D",
        "BatchNormalization",
        "Bidirectional",
        "CategoryEncoding",
        "Concatenate",
        "Conv1D",
        "Conv1DTranspose",
        "Conv2D",
        "Conv2DTranspose",
        "Conv3D",
        "Conv3DTranspose",
        "Convolution1D",
        "Convolution1DTranspose",
        "Convolution2D",
        "Convolution2DTranspose",
        "Convolution3D",
        "Convolution3DTranspose",
        "Cropping1D",
        "Cropping2D",
        "Dense",
        "DepthwiseConv1D",
        "DepthwiseConv2D",
        "Dot",
        "Dropout",
        "ELU",
        "Embedding",
        "Flatten",
        "GRU",
        "GaussianDropout",
        "GaussianNoise",
        "GlobalAveragePooling1D",
        "GlobalAveragePooling2D",
        "GlobalAveragePooling3D",
        "GlobalAvgPool1D",
        "GlobalAvgPool2D",
        "GlobalAvgPool3D",
        "GlobalMaxPool1D",
        "GlobalMaxPool2D",
        "GlobalMaxPool3D",
        "GlobalMaxPooling1D",
        "GlobalMaxPooling2D",
        "GlobalMaxPooling3D",
        "GroupNormalization",
        "Identity",
        "Input",
        "InputLayer",
        "LSTM",
        "Lambda",
        "Layer",
        "LayerNormalization",
        "LeakyReLU",
        "Masking",
        "MaxPool1D",
        "MaxPool2D",
        "MaxPool3D",
        "MaxPooling1D",
        "MaxPooling2D",
        "MaxPooling3D",
        "Maximum",
        "Minimum",
        "MultiHeadAttention",
        "Multiply",
        "Normalization",
        "PReLU",
        "Permute",
        "ReLU",
        "RepeatVector",
        "Rescaling",
        "Reshape",
        "Resizing",
        "SeparableConv1D",
        "SeparableConv2D",
        "SeparableConvolution1D",
        "SeparableConvolution2D",
        "SimpleRNN",
        "Softmax",
        "SpatialDropout1D",
        "SpatialDropout2D",
        "SpatialDropout3D",
        "Subtract",
        "TimeDistributed",
        "TorchModuleWrapper",
        "UnitNormalization",
        "UpSampling1D",
        "UpSampling2D",
        "ZeroPadding1D",
        "ZeroPadding2D",
        "add",
        "average",
        "concatenate",
        "dot",
        "maximum",
        "minimum",
        "multiply",
        "subtract",
    },
    "epochal.keras.models": {
        "Model",
        "Sequential",
        "clone_model",
        "load_model",
        "model_from_json",
        "save_model",
    },
    "epochal.keras.utils": {
        "PyDataset",
        "normalize",
        "pad_sequences",
        "set_random_seed",
        "split_dataset",
        "timeseries_dataset_from_array",
        "to_categorical",
    },
}


@pytest.mark.parametrize(
    "module_name",
    [
        "epochal.keras",
        "epochal.keras.activations",
        "epochal.keras.callbacks",
        "epochal.keras.config",
        "epochal.keras.initializers",
        "epochal.keras.layers",
        "epochal.keras.losses",
        "epochal.keras.metrics",
        "epochal.keras.models",
        "epochal.keras.optimizers",
        "epochal.keras.regularizers",
        "epochal.keras.constraints",
        "epochal.keras.schedules",
        "epochal.keras.utils",
    ],
)
def test_all_is_sorted_and_every_name_exists(module_name):
    module = importlib.import_module(module_name)
    assert module.__all__ == sorted(module.__all__)
    assert len(set(module.__all__)) == len(module.__all__)
    for name in module.__all__:
        assert hasattr(module, name), name
    if module_name in MODULES:
        assert set(module.__all__) == MODULES[module_name]


def test_model_is_a_torch_module_with_the_training_face_and_callbacks_are_epochals():
    assert issubclass(keras.Model, torch.nn.Module)
    assert issubclass(keras.Sequential, keras.Model)
    for method in ("compile", "fit", "evaluate", "predict", "save", "summary", "get_weights"):
        assert callable(getattr(keras.Model, method)), method
    assert keras.callbacks.EarlyStopping is epochal.EarlyStopping
    expected = {
        "BackupAndRestore",
        "CSVLogger",
        "Callback",
        "EarlyStopping",
        "History",
        "LambdaCallback",
        "LearningRateScheduler",
        "ProgbarLogger",
        "ReduceLROnPlateau",
        "TensorBoard",
        "TerminateOnNaN",
    }
    if hasattr(epochal.callbacks, "ModelCheckpoint"):
        expected.add("ModelCheckpoint")
        assert keras.callbacks.ModelCheckpoint is epochal.callbacks.ModelCheckpoint
    assert set(keras.callbacks.__all__) == expected


def test_activations_and_initializers_reexport_epochals():
    assert keras.activations.relu is epochal.activations.relu
    assert set(epochal.activations.__all__) <= set(keras.activations.__all__)
    assert keras.initializers.glorot_uniform is epochal.initializers.glorot_uniform


def test_sequential_with_input_builds_at_once_and_takes_a_name():
    model = keras.Sequential(
        [keras.Input(shape=(10,)), layers.Dense(4, activation="relu"), layers.Dense(1)],
        "classifier",
    )
    assert isinstance(model, keras.Model) and isinstance(model, torch.nn.Module)
    assert isinstance(model.native, epochal.Model) and model.native.module is model
    shapes = [tuple(p.shape) for p in model.module.parameters()]
    assert shapes == [(4, 10), (4,), (1, 4), (1,)]
    assert model.module.name == "classifier"
    assert [name for name, _ in model.module.named_children()] == ["dense", "dense_1"]


def test_sequential_rejects_a_non_string_name():
    with pytest.raises(ArgumentTypeError, match="`name`"):
        keras.Sequential([layers.Dense(1)], name=3)  # type: ignore[arg-type]


def test_input_maps_keras_dtype_names_and_batch_shape():
    assert keras.Input(shape=(5,), dtype="int32").dtype == torch.int32
    assert keras.Input(batch_shape=(None, 7)).shape == (None, 7)
    assert keras.Input(shape=(7,), batch_size=4).shape == (4, 7)
    with pytest.raises(ArgumentError, match="unknown dtype 'float128'"):
        keras.Input(shape=(5,), dtype="float128")
    with pytest.raises(ArgumentError, match="exactly one of `shape` and `batch_shape`"):
        keras.Input()


def test_input_with_integer_dtype_builds_an_embedding_model():
    model = keras.Sequential(
        [
            keras.Input(shape=(6,), dtype="int64"),
            layers.Embedding(20, 4),
            layers.Flatten(),
            layers.Dense(1),
        ]
    )
    assert tuple(model.module[-1].weight.shape) == (1, 24)


def test_the_issue_script_runs_with_only_its_imports_changed():
    # The script from the issue, verbatim but for the imports and the data.
    from epochal import keras
    from epochal.keras import layers
    from epochal.keras.callbacks import EarlyStopping

    x, y = make_binary(n=600, seed=1)
    X_train, y_train, X_val, y_val = x[:480], y[:480], x[480:], y[480:]
    keras.utils.set_random_seed(0)

    model = keras.Sequential(
        [
            layers.Dense(128, activation="relu", input_shape=(10,)),
            layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=0.001),
        loss=keras.losses.BinaryCrossentropy(),
        metrics=["accuracy"],
    )
    early_stopping = EarlyStopping(monitor="val_loss", patience=10, restore_best_weights=True)
    val_losses = []
    for _ in range(15):
        history = model.fit(
            X_train,
            y_train,
            epochs=1,
            verbose=0,
            validation_data=(X_val, y_val),
            callbacks=[early_stopping],
        )
        val_loss = history.history["val_loss"][0]
        val_losses.append(val_loss)
    assert all(isinstance(v, float) for v in val_losses)
    assert val_losses[-1] < val_losses[0]
    assert history.history["val_accuracy"][0] > 0.9
    predictions = model.predict(X_val, verbose=0)
    assert isinstance(predictions, np.ndarray) and predictions.shape == (120, 1)
    assert ((predictions[:, 0] > 0.5) == (y_val > 0.5)).mean() > 0.9


def test_a_keras_conv2d_script_on_channels_last_images():
    rng = np.random.default_rng(0)
    images = rng.random((64, 28, 28, 1), dtype=np.float32)
    labels = (images[:, :14].mean(axis=(1, 2, 3)) > images[:, 14:].mean(axis=(1, 2, 3))).astype(
        np.int64
    )
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            layers.Conv2D(4, (3, 3), activation="relu", input_shape=(28, 28, 1)),
            layers.MaxPooling2D((2, 2)),
            layers.Flatten(),
            layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(images, labels, epochs=2, batch_size=16, verbose=0)
    assert len(history.history["loss"]) == 2
    probabilities = model.predict(images, verbose=0)
    assert probabilities.shape == (64, 2)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
