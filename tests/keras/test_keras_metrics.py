"""Keras metric classes: logged under their names, computed by epochal's metrics."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from _util import make_binary
from epochal import keras
from epochal import metrics as epochal_metrics
from epochal.errors import ArgumentError
from epochal.keras import layers, metrics

DEFAULT_NAMES = [
    (metrics.Accuracy, "accuracy"),
    (metrics.BinaryAccuracy, "binary_accuracy"),
    (metrics.CategoricalAccuracy, "categorical_accuracy"),
    (metrics.SparseCategoricalAccuracy, "sparse_categorical_accuracy"),
    (metrics.AUC, "auc"),
    (metrics.Precision, "precision"),
    (metrics.Recall, "recall"),
    (metrics.F1Score, "f1_score"),
    (metrics.MeanSquaredError, "mean_squared_error"),
    (metrics.RootMeanSquaredError, "root_mean_squared_error"),
    (metrics.MeanAbsoluteError, "mean_absolute_error"),
    (metrics.MeanAbsolutePercentageError, "mean_absolute_percentage_error"),
    (metrics.R2Score, "r2_score"),
]


@pytest.mark.parametrize(("cls", "name"), DEFAULT_NAMES, ids=[n for _, n in DEFAULT_NAMES])
def test_each_class_names_an_epochal_metric_and_a_log_name(cls, name):
    metric = cls()
    assert metric.name == name
    assert metric._epochal_metric == (name, name)
    request = epochal_metrics.request(metric)
    assert (request.name, request.key) == (name, name)
    renamed = epochal_metrics.request(cls(name="custom"))
    assert (renamed.name, renamed.key) == ("custom", name)


def test_classification_metrics_log_under_their_names():
    x, y = make_binary(300)
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            layers.Dense(16, activation="relu", input_shape=(10,)),
            layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=0.01),
        loss="binary_crossentropy",
        metrics=[
            metrics.BinaryAccuracy(),
            metrics.AUC(name="roc"),
            metrics.Precision(),
            metrics.Recall(),
            metrics.F1Score(),
        ],
    )
    history = model.fit(x[:240], y[:240], epochs=10, verbose=0, validation_data=(x[240:], y[240:]))
    names = ["binary_accuracy", "roc", "precision", "recall", "f1_score"]
    assert set(history.history) == {
        "loss",
        "val_loss",
        *names,
        *(f"val_{n}" for n in names),
    }
    for name in names:
        assert 0.85 < history.history[f"val_{name}"][-1] <= 1.0, name
    probabilities = model.predict(x[240:], verbose=0)[:, 0]
    assert history.history["val_roc"][-1] == pytest.approx(roc_auc_score(y[240:], probabilities))
    assert history.history["val_binary_accuracy"][-1] == pytest.approx(
        np.mean((probabilities > 0.5) == (y[240:] > 0.5))
    )


def test_regression_metrics_log_exact_values():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(128, 4)).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5, 3.0], dtype=np.float32))[:, None]
    keras.utils.set_random_seed(0)
    model = keras.Sequential([layers.Dense(1, input_shape=(4,))])
    model.compile(
        optimizer="sgd",
        loss=keras.losses.MeanSquaredError(),
        metrics=[
            metrics.MeanSquaredError(),
            metrics.RootMeanSquaredError(name="rmse"),
            metrics.MeanAbsoluteError(),
        ],
    )
    history = model.fit(x, y, epochs=3, verbose=0, validation_data=(x, y))
    logs = {k: v[-1] for k, v in history.history.items()}
    assert logs["val_mean_squared_error"] == pytest.approx(logs["val_loss"], rel=1e-5)
    assert logs["val_rmse"] == pytest.approx(logs["val_loss"] ** 0.5, rel=1e-5)
    error = model.predict(x, verbose=0) - y
    assert logs["val_mean_absolute_error"] == pytest.approx(np.abs(error).mean(), rel=1e-5)


def test_standalone_update_state_result_and_reset():
    accuracy = metrics.BinaryAccuracy()
    accuracy.update_state([0, 1, 1, 0], [0.2, 0.8, 0.4, 0.1])
    assert float(accuracy.result()) == pytest.approx(0.75)
    accuracy.update_state([1, 1], [0.9, 0.9])
    assert float(accuracy.result()) == pytest.approx(5 / 6)
    accuracy.reset_state()
    assert float(accuracy([1], [0.1])) == 0.0

    y_true = np.array([0, 0, 1, 1, 1, 0])
    scores = np.array([0.1, 0.6, 0.35, 0.8, 0.7, 0.2], dtype=np.float32)
    auc = metrics.AUC()
    auc.update_state(y_true, scores)
    assert float(auc.result()) == pytest.approx(roc_auc_score(y_true, scores))

    sparse = metrics.SparseCategoricalAccuracy()
    sparse.update_state(torch.tensor([2, 0]), torch.tensor([[0.1, 0.2, 0.7], [0.3, 0.6, 0.1]]))
    assert float(sparse.result()) == pytest.approx(0.5)
    with pytest.raises(ArgumentError, match="no data yet"):
        metrics.Recall().result()
    with pytest.raises(ArgumentError, match="`sample_weight` is not supported"):
        metrics.Recall().update_state([1], [0.9], sample_weight=[2.0])


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: metrics.BinaryAccuracy(threshold=0.7), "`threshold` is not supported"),
        (lambda: metrics.AUC(curve="PR"), "`curve` is not supported"),
        (lambda: metrics.AUC(multi_label=True), "`multi_label` is not supported"),
        (lambda: metrics.Precision(top_k=1), "`top_k` is not supported"),
        (lambda: metrics.Recall(class_id=2), "`class_id` is not supported"),
        (lambda: metrics.F1Score(average="micro"), "`average` is not supported"),
    ],
)
def test_unsupported_keras_options_raise(make, message):
    with pytest.raises(ArgumentError, match=message):
        make()
