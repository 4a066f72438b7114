"""Keras loss classes and functions: equal to epochal's named losses, and from_logits respected."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from _util import make_binary, make_multiclass
from epochal import keras
from epochal import losses as epochal_losses
from epochal.errors import ArgumentError
from epochal.keras import layers, losses

N = 6


def _data(kind: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(y_true, y_pred) for a loss kind, y_pred being probabilities or regression outputs."""
    g = torch.Generator().manual_seed(0)
    if kind == "binary":
        return torch.randint(0, 2, (N, 1), generator=g).float(), torch.rand(N, 1, generator=g)
    if kind == "categorical":
        labels = torch.randint(0, 4, (N,), generator=g)
        probs = torch.softmax(torch.randn(N, 4, generator=g), dim=-1)
        return torch.nn.functional.one_hot(labels, 4).float(), probs
    if kind == "sparse":
        return torch.randint(0, 4, (N,), generator=g), torch.softmax(
            torch.randn(N, 4, generator=g), dim=-1
        )
    if kind == "positive":
        return torch.rand(N, 3, generator=g) + 0.1, torch.rand(N, 3, generator=g) + 0.1
    if kind == "distribution":
        a, b = torch.rand(N, 3, generator=g), torch.rand(N, 3, generator=g)
        return a / a.sum(-1, keepdim=True), b / b.sum(-1, keepdim=True)
    return torch.randn(N, 3, generator=g), torch.randn(N, 3, generator=g)


CASES = [
    (losses.BinaryCrossentropy, losses.binary_crossentropy, "binary_crossentropy", "binary"),
    (
        losses.CategoricalCrossentropy,
        losses.categorical_crossentropy,
        "categorical_crossentropy",
        "categorical",
    ),
    (
        losses.SparseCategoricalCrossentropy,
        losses.sparse_categorical_crossentropy,
        "sparse_categorical_crossentropy",
        "sparse",
    ),
    (losses.MeanSquaredError, losses.mean_squared_error, "mse", "regression"),
    (losses.MeanAbsoluteError, losses.mean_absolute_error, "mae", "regression"),
    (
        losses.MeanAbsolutePercentageError,
        losses.mean_absolute_percentage_error,
        "mape",
        "regression",
    ),
    (
        losses.MeanSquaredLogarithmicError,
        losses.mean_squared_logarithmic_error,
        "msle",
        "positive",
    ),
    (losses.Huber, losses.huber, "huber", "regression"),
    (losses.LogCosh, losses.log_cosh, "log_cosh", "regression"),
    (losses.Poisson, losses.poisson, "poisson", "positive"),
    (losses.KLDivergence, losses.kl_divergence, "kl_divergence", "distribution"),
    (losses.Hinge, losses.hinge, "hinge", "regression"),
    (losses.SquaredHinge, losses.squared_hinge, "squared_hinge", "regression"),
    (losses.CosineSimilarity, losses.cosine_similarity, "cosine_similarity", "regression"),
]


def _epochal_value(name: str, y_true, y_pred, *, logits=False, sample_weight=None, **params):
    spec = epochal_losses.get(name)
    if params:
        spec = epochal_losses.LossSpec(spec.name, spec.kind, spec.from_logits, params=params)
    y = epochal_losses.prepare_targets(spec, y_true, y_pred)
    return epochal_losses.build_loss(spec, logits=logits)(y_pred, y, sample_weight)


@pytest.mark.parametrize(("cls", "fn", "name", "kind"), CASES, ids=[c[2] for c in CASES])
def test_class_function_and_epochal_named_loss_agree(cls, fn, name, kind):
    y_true, y_pred = _data(kind)
    spec = cls()._epochal_loss_spec
    expected_spec = epochal_losses.get(name, from_logits=spec.from_logits)
    if cls is losses.Huber:
        expected_spec = dataclasses.replace(expected_spec, params={"delta": 1.0})
    assert spec == expected_spec
    expected = _epochal_value(name, y_true, y_pred)
    torch.testing.assert_close(cls()(y_true, y_pred), expected)
    per_sample = fn(y_true, y_pred)
    assert per_sample.shape == (N,)
    torch.testing.assert_close(per_sample.mean(), expected)
    weights = torch.linspace(0.0, 2.0, N)
    torch.testing.assert_close(
        cls()(y_true, y_pred, sample_weight=weights),
        _epochal_value(name, y_true, y_pred, sample_weight=weights),
    )


@pytest.mark.parametrize(
    ("cls", "name", "kind"),
    [
        (losses.BinaryCrossentropy, "binary_crossentropy", "binary"),
        (losses.CategoricalCrossentropy, "categorical_crossentropy", "categorical"),
        (losses.SparseCategoricalCrossentropy, "sparse_categorical_crossentropy", "sparse"),
    ],
)
def test_from_logits_matches_epochals_logits_form(cls, name, kind):
    y_true, _ = _data(kind)
    logits = torch.randn(
        N, 1 if kind == "binary" else 4, generator=torch.Generator().manual_seed(3)
    )
    loss = cls(from_logits=True)
    assert loss._epochal_loss_spec.from_logits is True
    assert cls()._epochal_loss_spec.from_logits is False
    torch.testing.assert_close(
        loss(y_true, logits), _epochal_value(name, y_true, logits, logits=True)
    )


def test_known_values():
    torch.testing.assert_close(
        losses.binary_crossentropy([[1.0], [0.0]], [[0.9], [0.2]]),
        torch.tensor([-math.log(0.9), -math.log(0.8)]),
    )
    torch.testing.assert_close(
        losses.sparse_categorical_crossentropy([2], [[0.1, 0.2, 0.7]]),
        torch.tensor([-math.log(0.7)]),
    )
    # Huber with delta 0.5 on an error of 2: linear part, delta * (|e| - delta / 2).
    torch.testing.assert_close(losses.Huber(delta=0.5)([[0.0]], [[2.0]]), torch.tensor(0.875))
    assert losses.mse is losses.mean_squared_error


def test_huber_delta_goes_to_the_compiled_loss():
    spec = losses.Huber(delta=0.5)._epochal_loss_spec
    assert spec.params == {"delta": 0.5}
    y_true, y_pred = _data("regression")
    y_pred = y_pred * 3
    torch.testing.assert_close(
        losses.Huber(delta=0.5)(y_true, y_pred),
        _epochal_value("huber", y_true, y_pred, delta=0.5),
    )
    assert not torch.allclose(
        losses.Huber(delta=0.5)(y_true, y_pred), losses.Huber()(y_true, y_pred)
    )


def test_reductions():
    y_true, y_pred = _data("regression")
    per_sample = losses.mean_squared_error(y_true, y_pred)
    torch.testing.assert_close(
        losses.MeanSquaredError(reduction="none")(y_true, y_pred), per_sample
    )
    torch.testing.assert_close(
        losses.MeanSquaredError(reduction="sum")(y_true, y_pred), per_sample.sum()
    )
    weights = torch.tensor([1.0, 0.0, 0.0, 0.0, 0.0, 1.0])
    torch.testing.assert_close(
        losses.MeanSquaredError(reduction="mean_with_sample_weight")(y_true, y_pred, weights),
        (per_sample[0] + per_sample[-1]) / 2,
    )
    with pytest.raises(ArgumentError, match="`reduction`"):
        losses.MeanSquaredError(reduction="average")


def test_options_compile_cannot_honour_raise_at_compile():
    smoothing = losses.BinaryCrossentropy(label_smoothing=0.2)
    torch.testing.assert_close(
        smoothing([[1.0]], [[0.9]]), losses.binary_crossentropy([[0.9]], [[0.9]])[0]
    )
    model = keras.Sequential([layers.Dense(1, activation="sigmoid", input_shape=(10,))])
    with pytest.raises(ArgumentError, match="`label_smoothing` is not supported by compile"):
        model.compile(optimizer="adam", loss=smoothing)
    with pytest.raises(ArgumentError, match="reduction='sum_over_batch_size'"):
        model.compile(optimizer="adam", loss=losses.MeanSquaredError(reduction="sum"))
    with pytest.raises(ArgumentError, match="`ignore_class` is not supported"):
        losses.SparseCategoricalCrossentropy(ignore_class=0)


def _binary_model(final: str | None, seed: int = 0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [layers.Dense(16, activation="relu", input_shape=(10,)), layers.Dense(1, activation=final)]
    )


def test_sigmoid_model_with_default_binary_crossentropy_is_not_activated_twice():
    x, y = make_binary(300)
    model = _binary_model("sigmoid")
    loss = losses.BinaryCrossentropy()
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=0.01), loss=loss, metrics=["accuracy"]
    )
    model.fit(x, y, epochs=15, verbose=0)
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    probabilities = model.predict(x, verbose=0)
    assert probabilities.min() >= 0.0 and probabilities.max() <= 1.0
    manual = -np.mean(
        y * np.log(np.clip(probabilities[:, 0], 1e-7, 1 - 1e-7))
        + (1 - y) * np.log(np.clip(1 - probabilities[:, 0], 1e-7, 1 - 1e-7))
    )
    assert logs["loss"] == pytest.approx(manual, rel=1e-3)
    assert logs["loss"] == pytest.approx(float(loss(y, probabilities)), rel=1e-3)
    # A second sigmoid would squash every probability into [0.5, 0.73].
    double = float(loss(y, torch.sigmoid(torch.as_tensor(probabilities))))
    assert abs(logs["loss"] - double) > 0.1
    assert logs["accuracy"] > 0.9


def test_logits_model_with_from_logits_true_trains():
    x, y = make_binary(300)
    model = _binary_model(None)
    loss = losses.BinaryCrossentropy(from_logits=True)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=0.01), loss=loss, metrics=["accuracy"]
    )
    history = model.fit(x, y, epochs=15, verbose=0)
    logits = model.predict(x, verbose=0)
    assert logits.min() < 0.0 < logits.max(), "the model outputs logits"
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    assert logs["loss"] == pytest.approx(float(loss(y, logits)), rel=1e-3)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert logs["accuracy"] > 0.9


def test_softmax_model_with_sparse_categorical_crossentropy_trains():
    x, y = make_multiclass(300)
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            layers.Dense(32, activation="relu", input_shape=(8,)),
            layers.Dense(3, activation="softmax"),
        ]
    )
    loss = losses.SparseCategoricalCrossentropy()
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=0.01), loss=loss, metrics=["accuracy"]
    )
    model.fit(x, y, epochs=20, verbose=0)
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    assert logs["loss"] == pytest.approx(float(loss(y, model.predict(x, verbose=0))), rel=1e-3)
    assert logs["accuracy"] > 0.85


def test_keras_order_custom_losses_compile_in_keras_order():
    def under_prediction(y_true, y_pred):  # asymmetric: swapping arguments changes it
        return torch.relu(y_true - y_pred).mean(dim=-1)

    class UnderPrediction(losses.Loss):
        def call(self, y_true, y_pred):
            return under_prediction(y_true, y_pred)

    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3)).astype(np.float32)
    y = (x.sum(axis=1, keepdims=True) + 5.0).astype(np.float32)
    for loss in (losses.LossFunctionWrapper(under_prediction), UnderPrediction()):
        keras.utils.set_random_seed(0)
        model = keras.Sequential([layers.Dense(1, input_shape=(3,))])
        model.compile(optimizer="sgd", loss=loss)
        logs = model.evaluate(x, y, verbose=0, return_dict=True)
        prediction = torch.as_tensor(model.predict(x, verbose=0))
        expected = under_prediction(torch.as_tensor(y), prediction).mean()
        assert logs["loss"] == pytest.approx(float(expected), rel=1e-5)
        assert (
            float(expected) > 1.0
            and float(under_prediction(prediction, torch.as_tensor(y)).mean()) < 0.5
        )
    assert losses.LossFunctionWrapper(under_prediction).name == "under_prediction"
