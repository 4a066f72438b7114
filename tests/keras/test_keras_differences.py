"""Each deliberate difference from Keras that docs/coming_from_keras.md states, checked."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from _util import make_binary
from epochal import keras
from epochal.errors import ArgumentError
from epochal.keras import layers
from epochal.keras.callbacks import EarlyStopping

X, Y = make_binary(200, seed=3)
X_TRAIN, Y_TRAIN, X_VAL, Y_VAL = X[:150], Y[:150], X[150:], Y[150:]


def _model(final: str | None = "sigmoid", lr: float = 0.05):
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            layers.Dense(8, activation="relu", input_shape=(10,)),
            layers.Dropout(0.1),
            layers.Dense(1, activation=final),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=lr),
        loss="binary_crossentropy",
        metrics=["accuracy"],
        seed=0,
    )
    return model


def _fit(model, **kwargs):
    kwargs.setdefault("verbose", 0)
    return model.fit(X_TRAIN, Y_TRAIN, validation_data=(X_VAL, Y_VAL), **kwargs)


def _same_weights(a, b) -> bool:
    return all(np.array_equal(u, v) for u, v in zip(a.get_weights(), b.get_weights(), strict=True))


def test_epochs_are_numbered_on_and_model_history_is_the_whole_run():
    model = _model()
    assert _fit(model, epochs=2).epoch == [0, 1]
    second = _fit(model, epochs=2)
    assert second.epoch == [2, 3] and len(second.history["loss"]) == 2
    assert model.history.epoch == [0, 1, 2, 3]
    # Keras's idiom for its own numbering trains the epoch it names.
    before = model.get_weights()
    assert _fit(model, initial_epoch=4, epochs=5).epoch == [4]
    assert not all(np.array_equal(a, b) for a, b in zip(before, model.get_weights(), strict=True))
    # Renumbering a run backwards is refused with a clear message.
    with pytest.raises(ArgumentError, match=r"initial_epoch=0 is behind the run"):
        _fit(model, initial_epoch=0, epochs=1)


def test_early_stopping_in_a_loop_of_one_epoch_fits_stops_as_one_long_fit():
    looped = _model()
    es = EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    calls = 0
    while not looped.stop_training and calls < 100:
        _fit(looped, epochs=1, callbacks=[es])
        calls += 1
    single = _model()
    es_single = EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    history = _fit(single, epochs=100, callbacks=[es_single])
    assert calls == len(history.history["loss"]) < 100
    assert es.stopped_epoch == es_single.stopped_epoch
    assert looped.history.history == single.history.history
    assert _same_weights(looped, single)


def test_a_stopped_run_stays_stopped_until_new_phase():
    model = _model()
    _fit(model, epochs=1)
    model.stop_training = True
    with pytest.warns(RuntimeWarning, match="new_phase"):
        history = _fit(model, epochs=3)
    assert history.epoch == [] and model.history.epoch == [0]
    model.new_phase()
    assert _fit(model, epochs=1).epoch == [1]


def test_restore_best_weights_shows_the_best_but_the_run_continues_its_trajectory():
    split = _model()
    es = EarlyStopping(monitor="val_loss", patience=100, restore_best_weights=True)
    for _ in range(3):
        _fit(split, epochs=3, callbacks=[es])
    whole = _model()
    _fit(whole, epochs=9, callbacks=[EarlyStopping(patience=100, restore_best_weights=True)])
    assert split.history.history == whole.history.history
    assert _same_weights(split, whole)
    best_val = min(split.history.history["val_loss"])
    assert split.evaluate(X_VAL, Y_VAL, verbose=0, return_dict=True)["loss"] == pytest.approx(
        best_val
    )


def test_compile_starts_a_new_run_and_keeps_the_weights():
    model = _model()
    _fit(model, epochs=2)
    weights = model.get_weights()
    model.compile(optimizer="adam", loss="binary_crossentropy")
    assert _same_weights_list(weights, model.get_weights())
    assert _fit(model, epochs=1).epoch == [0]
    assert model.history.epoch == [0]


def _same_weights_list(a, b) -> bool:
    return all(np.array_equal(u, v) for u, v in zip(a, b, strict=True))


def test_plain_custom_losses_are_called_in_keras_order():
    seen = []

    def loss(first, second):
        seen.append((first.shape, second.shape, first.requires_grad))
        return torch.nn.functional.mse_loss(first, second)

    model = keras.Sequential([layers.Dense(1, input_shape=(10,))])
    model.compile(optimizer="sgd", loss=loss)
    model.fit(X_TRAIN, Y_TRAIN[:, None], epochs=1, batch_size=150, verbose=0)
    assert seen[-1][2] is False, "the first argument is the target (y_true), as in Keras"
    assert seen[-1][1][1] == 1


def test_evaluate_returns_keras_list_unless_return_dict_is_true():
    model = _model()
    logs = model.evaluate(X_VAL, Y_VAL, verbose=0, return_dict=True)
    assert set(logs) == {"loss", "accuracy"}
    assert model.evaluate(X_VAL, Y_VAL, verbose=0) == [
        logs["loss"],
        logs["accuracy"],
    ]


def test_an_unknown_mode_raises_instead_of_falling_back():
    with pytest.raises(ArgumentError, match="`mode`"):
        EarlyStopping(mode="minimum")  # type: ignore[arg-type]


def test_string_crossentropy_on_a_logits_model_uses_the_logits_and_metrics_see_probabilities():
    model = _model(final=None, lr=0.001)
    logits = model.predict(X_VAL, verbose=0)[:, 0]
    logs = model.evaluate(X_VAL, Y_VAL, verbose=0, return_dict=True)
    expected_loss = torch.nn.functional.binary_cross_entropy_with_logits(
        torch.as_tensor(logits), torch.as_tensor(Y_VAL)
    )
    assert logs["loss"] == pytest.approx(float(expected_loss), rel=1e-5)
    on_probabilities = np.mean((logits > 0.0) == (Y_VAL > 0.5))
    on_raw_outputs = np.mean((logits > 0.5) == (Y_VAL > 0.5))
    assert on_probabilities != on_raw_outputs, "the data must tell the two apart"
    assert logs["accuracy"] == pytest.approx(on_probabilities)


def test_optimizer_names_use_keras_defaults_and_model_optimizer_is_torchs():
    expected = {
        "adam": {"eps": 1e-7, "lr": 0.001},
        "rmsprop": {"alpha": 0.9, "eps": 1e-7},
        "adagrad": {"initial_accumulator_value": 0.1, "eps": 1e-7},
        "adamw": {"weight_decay": 0.004},
        "sgd": {"lr": 0.01},
    }
    for name, values in expected.items():
        model = keras.Sequential([layers.Dense(1, input_shape=(10,))])
        model.compile(optimizer=name, loss="mse")
        model.evaluate(X_VAL, Y_VAL, verbose=0)
        assert isinstance(model.optimizer, torch.optim.Optimizer)
        group = model.optimizer.param_groups[0]
        for key, value in values.items():
            assert group[key] == value, (name, key)


def test_layers_built_on_the_first_batch_draw_from_the_compile_seed():
    weights = []
    for global_seed in (1, 2):
        torch.manual_seed(global_seed)
        model = keras.Sequential([layers.Dense(3), layers.Dense(1)])
        model.compile(optimizer="adam", loss="mse", seed=5)
        model.evaluate(X_VAL, Y_VAL, verbose=0)
        weights.append(model.get_weights())
    assert _same_weights_list(*weights)
