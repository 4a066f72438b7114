"""The Keras face: evaluate's return forms, callables' argument order, log keys, the optimizer."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import epochal as ep
from epochal import keras
from epochal.errors import ArgumentError, ArgumentTypeError
from epochal.keras import layers
from epochal.keras._face import keras_order, keras_result


def data(n: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    y = (x.sum(axis=1, keepdims=True) > 0).astype(np.float32)
    return x, y


def classifier(dropout: float = 0.0, seed: int = 0) -> keras.Model:
    torch.manual_seed(seed)
    stack = [layers.Dense(8, activation="relu", input_shape=(4,))]
    if dropout:
        stack.append(layers.Dropout(dropout))
    stack.append(layers.Dense(1, activation="sigmoid"))
    return keras.Sequential(stack)


# -- evaluate -------------------------------------------------------------------------
def test_evaluate_idiom_unpacks_loss_and_accuracy():
    x, y = data()
    model = classifier()
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"], seed=0)
    model.fit(x, y, epochs=1, verbose=0)
    test_loss, test_acc = model.evaluate(x, y, verbose=0)
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    assert isinstance(test_loss, float) and isinstance(test_acc, float)
    assert logs == {"loss": test_loss, "accuracy": test_acc}
    assert model.metrics_names == ["loss", "accuracy"]


def test_evaluate_without_metrics_is_the_loss_alone():
    x, y = data()
    model = classifier()
    model.compile(optimizer="adam", loss="mse", seed=0)
    loss = model.evaluate(x, y, verbose=0)
    assert isinstance(loss, float)
    assert model.evaluate(x, y, verbose=0, return_dict=True) == {"loss": loss}


def test_evaluate_list_follows_metrics_names_order():
    x, y = data()
    model = classifier()
    model.compile(optimizer="adam", loss="mse", metrics=["mae", "accuracy", "mse"], seed=0)
    values = model.evaluate(x, y, verbose=0)
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    assert model.metrics_names == ["loss", "mae", "accuracy", "mse"]
    assert values == [logs[k] for k in model.metrics_names]


def test_native_face_keeps_its_dict():
    x, y = data()
    model = ep.Model(nn.Sequential(nn.Linear(4, 1), nn.Sigmoid()))
    model.compile(optimizer="adam", loss="bce", metrics=["accuracy"], seed=0)
    assert set(model.evaluate(x, y, verbose=0)) == {"loss", "accuracy"}


def test_keras_result_forms():
    logs = {"loss": 1.0, "acc": 0.5}
    assert keras_result(logs, ["loss", "acc"], False) == [1.0, 0.5]
    assert keras_result({"loss": 1.0}, ["loss"], False) == 1.0
    assert keras_result(logs, ["loss", "acc"], True) == logs


# -- argument order of callables ------------------------------------------------------
def contrastive(y_true, y_pred):
    """Keras's contrastive loss: pulls similar pairs (y=1) to 0, pushes others past the margin."""
    margin = 1.0
    return (y_true * y_pred**2 + (1 - y_true) * torch.relu(margin - y_pred) ** 2).mean(dim=-1)


def distances(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(32, 4)).astype(np.float32)
    y = rng.integers(0, 2, size=(32, 1)).astype(np.float32)
    return x, y


def regressor(seed: int = 0) -> keras.Model:
    torch.manual_seed(seed)
    return keras.Sequential([layers.Dense(1, input_shape=(4,))])


def test_plain_callable_loss_is_called_y_true_first():
    x, y = distances()
    model = regressor()
    model.compile(optimizer="sgd", loss=contrastive, seed=0)
    pred = model(x)
    expected = float(contrastive(torch.from_numpy(y), pred).mean())
    swapped = float(contrastive(pred, torch.from_numpy(y)).mean())
    assert expected != pytest.approx(swapped)
    assert model.evaluate(x, y, verbose=0) == pytest.approx(expected, rel=1e-6)


def test_plain_callable_metric_is_called_y_true_first():
    x, y = distances()
    model = regressor()
    model.compile(optimizer="sgd", loss="mse", metrics=[contrastive], seed=0)
    pred = model(x)
    expected = float(contrastive(torch.from_numpy(y), pred).mean())
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    assert logs["contrastive"] == pytest.approx(expected, rel=1e-6)


def test_training_with_a_keras_order_loss_minimizes_it():
    x, y = distances()
    model = regressor()
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss=contrastive, seed=0)
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=20, verbose=0)
    assert model.evaluate(x, y, verbose=0) < before


def test_native_face_keeps_torch_order():
    x, y = distances()
    torch.manual_seed(0)
    model = ep.Model(nn.Linear(4, 1))
    model.compile(optimizer="sgd", loss=contrastive, seed=0)
    pred = model.module(torch.from_numpy(x)).detach()
    swapped = float(contrastive(pred, torch.from_numpy(y)).mean())
    assert model.evaluate(x, y, verbose=0)["loss"] == pytest.approx(swapped, rel=1e-6)


def test_keras_functions_and_torch_losses_in_the_keras_face():
    x, y = data()
    model = classifier()
    model.compile(optimizer="adam", loss=keras.losses.binary_crossentropy, seed=0)
    pred = model(x)
    expected = float(keras.losses.binary_crossentropy(torch.from_numpy(y), pred).mean())
    assert model.evaluate(x, y, verbose=0) == pytest.approx(expected, rel=1e-5)
    torch_loss = classifier()
    torch_loss.compile(optimizer="adam", loss=nn.BCELoss(), seed=0)  # torch's (input, target)
    pred = torch_loss(x)
    expected = float(nn.BCELoss()(pred, torch.from_numpy(y)))
    assert torch_loss.evaluate(x, y, verbose=0) == pytest.approx(expected, rel=1e-5)


def test_keras_order_walks_structures_and_keeps_names_and_objects():
    loss_object = keras.losses.MeanSquaredError()
    wrapped = keras_order({"a": contrastive, "b": ["mse", loss_object, nn.MSELoss()]})
    assert wrapped["a"].__name__ == "contrastive"
    assert wrapped["a"](torch.ones(1), torch.zeros(1)) == contrastive(torch.zeros(1), torch.ones(1))
    assert wrapped["b"][0] == "mse" and wrapped["b"][1] is loss_object
    assert isinstance(wrapped["b"][2], nn.MSELoss)
    metric = keras.metrics.Mean()
    assert keras_order([metric])[0] is metric


def test_named_callable_metric_keeps_its_log_name():
    x, y = distances()
    model = regressor()

    def fn(y_true, y_pred):
        return (y_pred - y_true).abs().mean(dim=-1)

    fn.name = "abs_err"  # type: ignore[attr-defined]
    model.compile(optimizer="sgd", loss="mse", metrics=[fn], seed=0)
    assert set(model.evaluate(x, y, verbose=0, return_dict=True)) == {"loss", "abs_err"}


# -- log keys -------------------------------------------------------------------------
class Seen(keras.callbacks.Callback):
    def __init__(self) -> None:
        super().__init__()
        self.logs: list[dict] = []

    def on_epoch_end(self, epoch, logs=None):
        self.logs.append(dict(logs))


def test_logs_have_no_learning_rate_without_a_schedule():
    x, y = data()
    model = classifier()
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"], seed=0)
    seen = Seen()
    history = model.fit(x, y, epochs=2, validation_split=0.25, callbacks=[seen], verbose=0)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert "learning_rate" not in seen.logs[-1]
    assert "learning_rate" not in seen.params["metrics"]


def test_lr_callbacks_and_schedules_log_learning_rate():
    x, y = data()
    model = classifier()
    model.compile(optimizer="sgd", loss="binary_crossentropy", seed=0)
    scheduler = keras.callbacks.LearningRateScheduler(lambda epoch, lr: lr * 0.5)
    history = model.fit(x, y, epochs=2, callbacks=[scheduler], verbose=0)
    assert history.history["learning_rate"] == pytest.approx([0.005, 0.0025])
    model = classifier()
    model.compile(optimizer="sgd", loss="binary_crossentropy", seed=0)
    plateau = keras.callbacks.ReduceLROnPlateau(monitor="loss", patience=5)
    assert "learning_rate" in model.fit(x, y, epochs=1, callbacks=[plateau], verbose=0).history
    model = classifier()
    decay = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=1, decay_rate=0.5)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=decay), loss="mse", seed=0)
    seen = Seen()
    model.fit(x, y, epochs=1, batch_size=32, callbacks=[seen], verbose=0)
    assert seen.logs[-1]["learning_rate"] == pytest.approx(0.1 * 0.5**2)


def test_native_face_logs_learning_rate():
    x, y = data()
    model = ep.Model(nn.Sequential(nn.Linear(4, 1), nn.Sigmoid()))
    model.compile(optimizer="adam", loss="bce", seed=0)
    assert "learning_rate" in model.fit(x, y, epochs=1, verbose=0).history


# -- the optimizer --------------------------------------------------------------------
def test_optimizer_learning_rate_before_and_after_the_first_fit():
    x, y = data()
    model = classifier()
    assert model.optimizer is None
    model.compile(optimizer="adam", loss="binary_crossentropy", seed=0)
    assert model.optimizer.learning_rate == pytest.approx(0.001)
    assert model.optimizer.iterations == 0
    model.optimizer.learning_rate = 0.01
    assert model.optimizer.lr == pytest.approx(0.01)
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    opt = model.optimizer
    assert isinstance(opt, torch.optim.Adam) and opt is model.native.optimizer
    assert opt.learning_rate == pytest.approx(0.01) and opt.param_groups[0]["lr"] == 0.01
    assert opt.iterations == 4
    opt.learning_rate = 0.02
    assert all(g["lr"] == 0.02 for g in opt.param_groups)
    opt.lr = 0.03
    opt.learning_rate.assign(0.04)
    assert opt.learning_rate == pytest.approx(0.04)
    config = opt.get_config()
    assert config["name"] == "adam" and config["learning_rate"] == pytest.approx(0.04)
    assert config["beta_1"] == 0.9 and "epsilon" in config
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    assert opt.iterations == 8
    opt.zero_grad()  # still the torch optimizer
    assert "state" in opt.state_dict()


def test_optimizer_rejects_a_bad_learning_rate():
    x, y = data()
    model = classifier()
    model.compile(optimizer="adam", loss="mse", seed=0)
    with pytest.raises(ArgumentTypeError, match="learning_rate"):
        model.optimizer.learning_rate = "fast"
    model.fit(x, y, epochs=1, verbose=0)
    with pytest.raises(ArgumentError, match="learning_rate"):
        model.optimizer.learning_rate = -1.0
    assert model.optimizer.learning_rate == pytest.approx(0.001)


def test_optimizer_instance_and_keras_factory_before_fit():
    model = classifier()
    model.build((None, 4))
    sgd = torch.optim.SGD(model.parameters(), lr=0.5)
    model.compile(optimizer=sgd, loss="mse", seed=0)
    assert model.optimizer is sgd and sgd.learning_rate == 0.5
    model = classifier()
    model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=0.003), loss="mse", seed=0)
    assert model.optimizer.learning_rate == pytest.approx(0.003)
    assert model.optimizer.get_config()["learning_rate"] == pytest.approx(0.003)


def test_callbacks_see_the_keras_model():
    x, y = data()
    model = classifier()
    model.compile(optimizer="sgd", loss="mse", seed=0)
    seen = []

    class Halve(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            seen.append(self.model)
            self.model.optimizer.learning_rate = self.model.optimizer.learning_rate / 2

    model.fit(x, y, epochs=2, callbacks=[Halve()], verbose=0)
    assert seen[0] is model
    assert model.optimizer.learning_rate == pytest.approx(0.0025)


def test_stop_evaluating_from_a_callback_of_the_keras_model():
    x, y = data()
    model = classifier()
    model.compile(optimizer="sgd", loss="mse", seed=0)
    batches = []

    class StopAfterOne(keras.callbacks.Callback):
        def on_test_batch_end(self, batch, logs=None):
            batches.append(batch)
            self.model.stop_evaluating = True

    model.evaluate(x, y, batch_size=8, callbacks=[StopAfterOne()], verbose=0)
    assert batches == [0]


# -- model(x) -------------------------------------------------------------------------
def test_call_is_inference_mode_by_default():
    x, _ = data()
    model = classifier(dropout=0.5)
    out = model(x)
    assert isinstance(out, torch.Tensor) and out.shape == (64, 1)
    assert not out.requires_grad  # numpy in: pure inference
    assert torch.equal(out, model(x)) and torch.equal(out, model(torch.from_numpy(x)))
    assert not model.training
    trained = model(x, training=True)
    assert trained.requires_grad and not model.training  # one call in training mode
    assert not torch.equal(model(x, training=True), trained)  # dropout on


def test_fit_leaves_the_mode_as_found_and_train_switches_it():
    x, y = data()
    model = classifier(dropout=0.5)
    model.compile(optimizer="adam", loss="binary_crossentropy", seed=0)
    model.fit(x, y, epochs=1, verbose=0)
    model.train_on_batch(x[:8], y[:8])
    assert not model.training and torch.equal(model(x), model(x))
    model.train()  # torch's way: later calls train (dropout on, autograd)
    out = model(torch.from_numpy(x))
    assert out.requires_grad and not torch.equal(out, model(torch.from_numpy(x)))
    model.fit(x, y, epochs=1, verbose=0)
    assert model.training


def test_a_torch_loop_trains_a_keras_model():
    x, y = data()
    model = classifier()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    before = nn.functional.binary_cross_entropy(model(xt), yt).item()
    for _ in range(20):
        loss = nn.functional.binary_cross_entropy(model(xt), yt)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < before


def test_call_keeps_grad_for_inputs_that_require_it():
    x, _ = data()
    model = classifier()
    inputs = torch.from_numpy(x).requires_grad_()
    model(inputs).sum().backward()  # saliency, as Keras programs compute it
    assert inputs.grad is not None and inputs.grad.abs().sum() > 0


def test_call_with_training_false_and_float64_numpy():
    model = classifier(dropout=0.5)
    out = model(np.ones((2, 4)), training=False)
    assert out.dtype == torch.float32 and torch.equal(out, model(np.ones((2, 4))))


def test_a_keras_model_inside_others_trains():
    x, y = data()
    inner = keras.Sequential([layers.Dense(4, activation="relu", input_shape=(4,))])
    outer = keras.Sequential([inner, layers.Dense(1, activation="sigmoid")])
    before = [p.detach().clone() for p in inner.parameters()]
    outer.compile(optimizer="adam", loss="binary_crossentropy", seed=0)
    outer.fit(x, y, epochs=1, verbose=0)
    assert not any(torch.equal(a, b) for a, b in zip(before, inner.parameters(), strict=True))
    torch_parent = ep.Model(nn.Sequential(inner, nn.Linear(4, 1)))
    torch_parent.compile(optimizer="adam", loss="mse", seed=0)
    before = [p.detach().clone() for p in inner.parameters()]
    torch_parent.fit(x, y, epochs=1, verbose=0)
    assert not any(torch.equal(a, b) for a, b in zip(before, inner.parameters(), strict=True))


# -- layers, weights, trainable ---------------------------------------------------------
def test_layers_weights_and_counts():
    model = classifier()
    assert [type(layer).__name__ for layer in model.layers] == ["Dense", "Dense"]
    assert model.get_layer(index=1) is model.layers[1]
    assert len(model.weights) == 4 and len(model.trainable_weights) == 4
    assert model.non_trainable_weights == []
    assert model.count_params() == 4 * 8 + 8 + 8 + 1
    last = model.pop()
    assert type(last).__name__ == "Dense" and len(model.layers) == 1


def test_frozen_layer_keeps_its_weights_and_unfreezes_later():
    x, y = data()
    model = classifier()
    first = model.layers[0]
    first.trainable = False
    assert not first.trainable and len(model.trainable_weights) == 2
    assert len(model.non_trainable_weights) == 2 and len(first.non_trainable_weights) == 2
    model.compile(optimizer="adam", loss="binary_crossentropy", seed=0)
    frozen = [p.detach().clone() for p in first.parameters()]
    head = [p.detach().clone() for p in model.layers[1].parameters()]
    model.fit(x, y, epochs=1, verbose=0)
    assert all(torch.equal(a, b) for a, b in zip(frozen, first.parameters(), strict=True))
    assert not any(
        torch.equal(a, b) for a, b in zip(head, model.layers[1].parameters(), strict=True)
    )
    first.trainable = True
    model.fit(x, y, epochs=1, verbose=0)
    assert not any(torch.equal(a, b) for a, b in zip(frozen, first.parameters(), strict=True))


def test_frozen_before_a_lazy_build_stays_frozen():
    x, y = data()
    model = keras.Sequential([layers.Dense(8, activation="relu"), layers.Dense(1)])
    model.layers[0].trainable = False
    model.compile(optimizer="adam", loss="mse", seed=0)
    model.fit(x, y, epochs=1, verbose=0)
    weights = [p.detach().clone() for p in model.layers[0].parameters()]
    model.fit(x, y, epochs=1, verbose=0)
    assert all(
        torch.equal(a, b) for a, b in zip(weights, model.layers[0].parameters(), strict=True)
    )


def test_fully_frozen_model_fits_without_update_then_trains_when_unfrozen():
    x, y = data()
    model = classifier()
    model.trainable = False
    assert not model.trainable and model.trainable_weights == []
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"], seed=0)
    before = [p.detach().clone() for p in model.parameters()]
    history = model.fit(x, y, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2
    assert history.history["loss"][0] == pytest.approx(history.history["loss"][1])
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    model.trainable = True
    assert len(model.trainable_weights) == 4
    model.fit(x, y, epochs=1, verbose=0)
    assert not all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def test_freezing_a_nested_model():
    x, y = data()
    base = keras.Sequential([layers.Dense(4, activation="relu", input_shape=(4,))])
    model = keras.Sequential([base, layers.Dense(1)])
    base.trainable = False
    model.compile(optimizer="adam", loss="mse", seed=0)
    before = [p.detach().clone() for p in base.parameters()]
    model.fit(x, y, epochs=1, verbose=0)
    assert len(model.trainable_weights) == 2  # the head's, built by the first batch
    assert all(torch.equal(a, b) for a, b in zip(before, base.parameters(), strict=True))


# -- non-finite data ------------------------------------------------------------------
def test_nan_targets_reach_terminate_on_nan():
    x, y = data()
    y[5] = np.nan
    model = classifier()
    model.compile(optimizer="sgd", loss="mse", seed=0)
    history = model.fit(
        x, y, epochs=3, batch_size=8, callbacks=[keras.callbacks.TerminateOnNaN()], verbose=0
    )
    assert model.stop_training
    assert len(history.history["loss"]) == 1 and np.isnan(history.history["loss"][0])
    assert np.isnan(model.evaluate(x, y, verbose=0))


def test_native_face_still_checks_non_finite_targets():
    x, y = data()
    y[5] = np.nan
    model = ep.Model(nn.Linear(4, 1))
    model.compile(optimizer="sgd", loss="mse", seed=0)
    with pytest.raises(ep.errors.DataError):
        model.fit(x, y, epochs=1, verbose=0)


def test_a_scheduled_learning_rate_is_not_settable():
    x, y = data()
    model = classifier()
    decay = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=1, decay_rate=0.5)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=decay), loss="mse", seed=0)
    model.fit(x, y, epochs=1, batch_size=32, verbose=0)
    assert model.optimizer.learning_rate == pytest.approx(0.025)
    with pytest.raises(ArgumentError, match="schedule"):
        model.optimizer.learning_rate = 0.5
    assert model.optimizer.learning_rate == pytest.approx(0.025)
    assert model.optimizer.iterations.numpy() == 2


def test_model_checkpoint_to_a_keras_file_inside_fit(tmp_path):
    x, y = data()
    model = classifier()
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"], seed=0)
    path = tmp_path / "best.keras"
    checkpoint = keras.callbacks.ModelCheckpoint(path, monitor="loss", save_best_only=True)
    model.fit(x, y, epochs=2, callbacks=[checkpoint], verbose=0)
    loaded = keras.models.load_model(path)
    assert loaded.evaluate(x, y, verbose=0) == pytest.approx(model.evaluate(x, y, verbose=0))


def test_call_casts_float64_tensors_like_numpy():
    model = classifier()
    double = torch.ones((3, 4), dtype=torch.float64)
    assert torch.equal(model(double), model(np.ones((3, 4), dtype=np.float32)))


def test_call_keeps_float64_for_a_double_model():
    model = classifier()
    model.double()
    assert model(np.ones((2, 4))).dtype == torch.float64


def test_count_params_of_an_unbuilt_model_says_so():
    model = keras.Sequential([layers.Dense(2)])
    with pytest.raises(ArgumentError, match="not built"):
        model.count_params()
    model.build((None, 3))
    assert model.count_params() == 8


def test_an_optimizer_kept_from_before_fit_follows_the_built_one():
    x, y = data()
    model = classifier()
    model.compile(optimizer="sgd", loss="mse", seed=0)
    opt = model.optimizer
    assert opt.name == "sgd" and opt.get_config()["learning_rate"] == pytest.approx(0.01)
    model.fit(x, y, epochs=1, batch_size=32, verbose=0)
    assert opt.iterations == 2
    opt.learning_rate = 0.5
    assert model.optimizer.param_groups[0]["lr"] == 0.5
    assert opt.get_config()["momentum"] == 0.0
    decayed = classifier()
    decay = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=1, decay_rate=0.5)
    decayed.compile(optimizer=keras.optimizers.SGD(learning_rate=decay), loss="mse", seed=0)
    assert decayed.optimizer.learning_rate == pytest.approx(0.1)
    with pytest.raises(ArgumentError, match="schedule"):
        decayed.optimizer.learning_rate = 0.3


@keras.saving.register_keras_serializable(package="face_tests")
def under_prediction(y_true, y_pred):
    """Asymmetric: swapping the arguments changes it."""
    return torch.relu(y_true - y_pred).mean(dim=-1)


def test_a_loaded_keras_file_keeps_the_keras_face(tmp_path):
    x, y = distances()
    y = y + 3.0
    model = regressor()
    model.compile(optimizer="sgd", loss=under_prediction, metrics=["mae"], seed=0)
    model.fit(x, y, epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    loss, _mae = loaded.evaluate(x, y, verbose=0)
    expected = float(under_prediction(torch.from_numpy(y), loaded(x)).mean())
    assert loss == pytest.approx(expected, rel=1e-6)
    seen = []
    history = loaded.fit(
        x,
        y,
        epochs=1,
        verbose=0,
        callbacks=[
            keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(dict(logs)))
        ],
    )
    assert "learning_rate" not in history.history and "learning_rate" not in seen[0]


def test_freezing_everything_after_training_started_stops_updates():
    x, y = data()
    model = classifier()
    model.compile(optimizer="adam", loss="binary_crossentropy", seed=0)
    model.fit(x, y, epochs=1, verbose=0)
    model.trainable = False
    before = [p.detach().clone() for p in model.parameters()]
    model.fit(x, y, epochs=1, verbose=0)
    model.train_on_batch(x[:8], y[:8])
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
