"""keras.Model: one torch-module class with the training face (Sequential, functional, subclasses)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import epochal
from epochal import keras
from epochal.errors import ArgumentError, ArgumentTypeError
from epochal.keras import layers


def data(n=48, features=5, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, features), dtype=np.float32)
    y = (x.sum(axis=1) > features / 2).astype(np.float32)[:, None]
    return x, y


class TwoLayers(keras.Model):
    def __init__(self, units=8, name=None):
        super().__init__(name=name)
        self.hidden = layers.Dense(units, activation="relu")
        self.out = layers.Dense(1, activation="sigmoid")

    def call(self, inputs, training=None):
        return self.out(self.hidden(inputs))


class RecordsTraining(keras.Model):
    def __init__(self):
        super().__init__()
        self.seen: list[object] = []

    def call(self, inputs, training=None):
        self.seen.append(training)
        return inputs


def test_everything_keras_builds_is_one_torch_module_class():
    inputs = keras.Input(shape=(5,))
    built = [
        keras.Sequential([layers.Dense(1)]),
        keras.Model(inputs, layers.Dense(1)(inputs)),
        TwoLayers(),
    ]
    for model in built:
        assert isinstance(model, keras.Model) and isinstance(model, nn.Module)
        assert isinstance(model.native, epochal.Model)
        # The trainer holds the model without the model holding it as a submodule.
        assert all(not isinstance(m, type(model.native)) for m in model.modules())


def test_sequential_keeps_keras_names_and_its_stack():
    model = keras.Sequential([keras.Input(shape=(4,)), layers.Dense(3), layers.Dense(1)])
    assert isinstance(model, keras.Sequential)
    assert model.name == "sequential"
    assert [n for n, _ in model.named_children()] == ["dense", "dense_1"]
    assert list(model.state_dict()) == [
        "dense.weight",
        "dense.bias",
        "dense_1.weight",
        "dense_1.bias",
    ]
    assert model.module[-1] is model.layers[-1]
    assert model.input_shape == (None, 4)
    assert model.built


def test_sequential_add_and_pop():
    model = keras.Sequential([keras.Input(shape=(4,))])
    model.add(layers.Dense(2))
    model.add(layers.Dense(1))
    assert model(torch.zeros(3, 4)).shape == (3, 1)
    popped = model.pop()
    assert isinstance(popped, layers.Dense) and len(model.layers) == 1
    with pytest.raises(ArgumentTypeError, match=r"torch.nn.Module"):
        model.add("dense")  # type: ignore[arg-type]


def test_sequential_cannot_grow_after_training_started():
    x, y = data()
    model = keras.Sequential([layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="bce", seed=0)
    model.fit(x, y, epochs=1, verbose=0)
    with pytest.raises(ArgumentError, match="after training started"):
        model.add(layers.Dense(1))
    with pytest.raises(ArgumentError, match="after training started"):
        model.pop()


def test_sequential_rejects_bad_layers():
    with pytest.raises(ArgumentTypeError, match="list of layers"):
        keras.Sequential(layers.Dense(1))  # type: ignore[arg-type]
    x = keras.Input(shape=(3,))
    with pytest.raises(ArgumentTypeError, match=r"keras.Input first"):
        keras.Sequential([x + 1])


def test_subclassed_model_builds_on_first_call_and_trains():
    x, y = data()
    model = TwoLayers(name="two")
    assert not model.built
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"], seed=0)
    history = model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    assert model.built and len(history.history["loss"]) == 2
    assert model.predict(x[:3], verbose=0).shape == (3, 1)
    assert model.name == "two"
    assert [type(layer).__name__ for layer in model.layers] == ["Dense", "Dense"]
    assert model.get_layer("hidden") is model.hidden


def test_subclass_default_name_and_call_receives_the_mode():
    model = RecordsTraining()
    assert model.name == "records_training"
    model.train()
    model(torch.zeros(1))
    model.eval()
    model(torch.zeros(1))
    model(torch.zeros(1), training=True)
    model(torch.zeros(1), training=False)
    assert model.seen == [True, False, True, False]
    assert model.training is False  # a call with training= leaves the mode as it was
    fresh = RecordsTraining()
    fresh(torch.zeros(1))  # Keras's default: inference mode
    assert fresh.seen == [False]


def test_subclass_without_call_says_so():
    class Empty(keras.Model):
        pass

    with pytest.raises(NotImplementedError, match="call"):
        Empty()(torch.zeros(1))


def test_model_arguments_are_checked():
    class Stray(keras.Model):
        def __init__(self):
            super().__init__(3)

    with pytest.raises(ArgumentError, match=r"keras.Model subclasses take `name`"):
        Stray()
    with pytest.raises(ArgumentTypeError, match="`name`"):
        keras.Sequential([layers.Dense(1)], name=3)  # type: ignore[arg-type]


def test_models_are_layers_of_other_models():
    inner = keras.Sequential([layers.Dense(4, activation="relu"), layers.Dense(2)])
    sub = TwoLayers()
    outer = keras.Sequential([keras.Input(shape=(3,)), inner, sub])
    assert outer(torch.zeros(5, 3)).shape == (5, 1)
    x, y = data(features=3)
    outer.compile(optimizer="adam", loss="bce", seed=0)
    before = [p.detach().clone() for p in inner.parameters()]
    outer.fit(x, y, epochs=1, verbose=0)
    assert any(not torch.equal(a, b) for a, b in zip(before, inner.parameters(), strict=True))


def test_fit_in_two_calls_equals_one_call():
    x, y = data()

    def run(splits):
        torch.manual_seed(0)
        model = keras.Sequential([keras.Input(shape=(5,)), layers.Dense(4), layers.Dense(1)])
        model.compile(optimizer="adam", loss="mse", seed=3)
        for epochs in splits:
            model.fit(x, y, epochs=epochs, batch_size=8, verbose=0)
        return model.history.history["loss"], [p.detach().clone() for p in model.parameters()]

    (loss_a, weights_a), (loss_b, weights_b) = run([4]), run([1, 3])
    assert loss_a == loss_b
    assert all(torch.equal(a, b) for a, b in zip(weights_a, weights_b, strict=True))


def test_weights_round_trip_and_count():
    model = keras.Sequential([keras.Input(shape=(3,)), layers.Dense(2)])
    weights = model.get_weights()
    assert [w.shape for w in weights] == [(2, 3), (2,)]
    model.set_weights([np.ones((2, 3)), np.zeros(2)])
    assert torch.equal(model(torch.ones(1, 3)), torch.full((1, 2), 3.0))
    assert model.count_params() == 8


def test_stop_training_and_history_come_from_the_run():
    x, y = data()
    model = TwoLayers()
    model.compile(optimizer="adam", loss="bce", seed=0)

    class Stop(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            self.model.stop_training = True

    model.fit(x, y, epochs=5, verbose=0, callbacks=[Stop()])
    assert model.stop_training and len(model.history.history["loss"]) == 1
    assert model.metrics_names == ["loss"]


def test_sequential_and_subclass_summaries(capsys):
    seq = keras.Sequential([keras.Input(shape=(4,)), layers.Dense(3)])
    assert 'Model: "sequential"' in seq.summary()
    sub = TwoLayers(name="mine")
    text = sub.summary()
    assert 'Model: "mine"' in text and "hidden (Dense)" in text
    capsys.readouterr()


def test_layer_output_without_a_symbolic_call_is_a_clear_error():
    with pytest.raises(ArgumentError, match=r"not called on a keras.Input"):
        layers.Dense(2).output  # noqa: B018


def test_sequential_with_a_known_input_has_a_symbolic_graph():
    model = keras.Sequential(
        [
            keras.Input(shape=(6,)),
            layers.Dense(4, activation="relu", name="hidden"),
            layers.Dense(1),
        ]
    )
    assert model.inputs[0].shape == (None, 6) and model.output.shape == (None, 1)
    assert model.output_shape == (None, 1)
    features = keras.Model(model.inputs, model.get_layer("hidden").output)
    data = torch.randn(3, 6)
    assert torch.equal(features(data), model.get_layer("hidden")(data))
    model.add(layers.Dense(2))
    assert model.output.shape == (None, 2)
    model.pop()
    assert model.output.shape == (None, 1)


def test_sequential_graph_after_fit_and_its_absence_before():
    x, y = data()
    model = keras.Sequential([layers.Dense(3), layers.Dense(1)])
    with pytest.raises(ArgumentError, match="no defined inputs"):
        model.inputs  # noqa: B018
    model.compile(optimizer="adam", loss="mse", seed=0)
    model.fit(x, y, epochs=1, verbose=0)
    assert model.inputs[0].shape == (None, 5) and model.layers[0].output.shape == (None, 3)


def test_sequential_with_a_plain_torch_module_works_without_a_graph():
    model = keras.Sequential([keras.Input(shape=(4,)), nn.Linear(4, 2)])
    assert model(torch.zeros(1, 4)).shape == (1, 2)
    with pytest.raises(ArgumentError, match="no defined inputs"):
        model.inputs  # noqa: B018
