"""The seed-style network end to end: Keras-style building, a fit(1) loop, EarlyStopping."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

import epochal as ep
from epochal import layers
from epochal.demo import run_demo

rng = np.random.default_rng(0)
X = rng.normal(size=(1000, 10)).astype(np.float32)
Y = (X[:, :3].sum(axis=1) > 0).astype(np.float32)
X_TRAIN, Y_TRAIN, X_VAL, Y_VAL = X[:800], Y[:800], X[800:], Y[800:]


def seed_model() -> ep.Model:
    torch.manual_seed(0)
    model = ep.Sequential(
        [
            layers.Dense(128, activation="relu", input_shape=(10,)),
            layers.Dense(1, activation="sigmoid"),
        ],
        device="cpu",
    )
    model.compile(
        optimizer="adam",
        loss="binary_crossentropy",
        metrics=["accuracy"],
        learning_rate=1e-3,
        seed=0,
    )
    return model


def test_a_loop_of_one_epoch_fits_reaches_high_accuracy():
    model = seed_model()
    val_losses = []
    for _ in range(15):
        history = model.fit(
            X_TRAIN, Y_TRAIN, epochs=1, batch_size=32, verbose=0, validation_data=(X_VAL, Y_VAL)
        )
        assert set(history.history) == {
            "loss",
            "accuracy",
            "val_loss",
            "val_accuracy",
            "learning_rate",
        }
        assert all(len(v) == 1 for v in history.history.values())
        val_losses.append(history.history["val_loss"][0])
    assert model.history.epoch == list(range(15))
    assert len(model.history.history["val_loss"]) == 15
    assert val_losses[-1] < val_losses[0]
    assert model.evaluate(X_VAL, Y_VAL, verbose=0)["accuracy"] > 0.95


def test_one_fit_with_early_stopping():
    model = seed_model()
    es = ep.EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)
    history = model.fit(
        X_TRAIN,
        Y_TRAIN,
        epochs=200,
        batch_size=32,
        verbose=0,
        validation_data=(X_VAL, Y_VAL),
        callbacks=[es],
    )
    n = len(history.epoch)
    assert es.stopped_epoch > 0 and n == es.stopped_epoch + 1 < 200
    assert all(len(v) == n for v in history.history.values())
    best = int(np.argmin(history.history["val_loss"]))
    assert es.best_epoch == best
    logs = model.evaluate(X_VAL, Y_VAL, verbose=0)
    assert logs["loss"] == pytest.approx(history.history["val_loss"][best], rel=1e-6)
    assert logs["accuracy"] > 0.97


def test_summary_lists_layers_shapes_and_parameters(capsys):
    model = seed_model()
    text = model.summary()
    assert "dense" in text and "dense_1" in text
    assert "1,408" in text and "129" in text and "1,537" in text  # 10*128+128, 128+1
    assert text in capsys.readouterr().out


def test_input_shape_is_optional():
    torch.manual_seed(0)
    model = ep.Sequential(
        [
            layers.Dense(16, activation="relu"),
            layers.Dropout(0.1),
            layers.Flatten(),
            layers.Dense(1),
            layers.Activation("sigmoid"),
        ],
        device="cpu",
    )
    model.compile(optimizer="adam", loss="bce", metrics=["accuracy"], seed=0)
    model.fit(X_TRAIN, Y_TRAIN, epochs=3, verbose=0)
    assert model.predict(X_VAL[:4], verbose=0).shape == (4, 1)
    assert model.count_params() == 10 * 16 + 16 + 17


def test_model_add_builds_a_sequential_model():
    model = ep.Sequential(device="cpu")
    model.add(layers.Dense(8, activation="relu", input_shape=(10,)))
    model.add(layers.Dense(1, activation="sigmoid"))
    model.compile(optimizer="adam", loss="bce", seed=0)
    model.fit(X_TRAIN, Y_TRAIN, epochs=1, verbose=0)
    assert model.predict(X_VAL[:2], verbose=0).shape == (2, 1)


def test_demo_trains_to_high_test_accuracy():
    result = run_demo(verbose=0)
    assert result.test_accuracy > 0.93
    assert 1 <= result.best_epoch <= result.epochs_run < 200


def test_demo_command_line():
    out = subprocess.run(
        [sys.executable, "-m", "epochal", "demo", "--verbose", "2"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout
    assert "Epoch 1/200" in out and "early stopping" in out
    for label in ("epochs run:", "best epoch:", "test accuracy:"):
        assert label in out
