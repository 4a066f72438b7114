"""EarlyStopping: Keras 3 semantics on hand-made sequences, run-owned state, restoring."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import epochal as ep
from _util import make_binary, mlp, state_equal
from epochal.callbacks import Callback, EarlyStopping


class Stub:
    """Just enough of a Model for EarlyStopping: a module, a run, stop_training, directions."""

    def __init__(self) -> None:
        self.module = torch.nn.Linear(1, 1, bias=False)
        self.stop_training = False
        self.shown: dict | None = None
        self.run = type("Run", (), {"events": {}})()

    def metric_direction(self, name: str):
        return {"accuracy": "max", "mae": "min"}.get(name)

    def show_weights(self, weights) -> None:
        self.shown = weights


def drive(es: EarlyStopping, values: list[float], key: str = "val_loss") -> tuple[Stub, list[int]]:
    """Feed one value per epoch; epoch i sets the weight to i so restores are traceable."""
    model = Stub()
    es.set_model(model)  # type: ignore[arg-type]
    es.set_params({"metrics": [key]})
    es.reset_state()
    es.on_train_begin()
    ran = []
    for epoch, value in enumerate(values):
        with torch.no_grad():
            model.module.weight.fill_(epoch)
        es.on_epoch_end(epoch, {key: value})
        ran.append(epoch)
        if model.stop_training:
            break
    es.on_train_end()
    return model, ran


def restored_epoch(model: Stub) -> int | None:
    return None if model.shown is None else int(model.shown["weight"].item())


def test_issue_example_min_mode_patience_two():
    es = EarlyStopping(patience=2, restore_best_weights=True)
    model, ran = drive(es, [0.2, 0.15, 0.1, 0.11, 0.12, 0.05])
    assert ran == [0, 1, 2, 3, 4]  # stops after epoch index 4
    assert es.stopped_epoch == 4
    assert restored_epoch(model) == 2
    assert model.run.events == {"stopped_epoch": 4, "best_epoch": 2, "restored_epoch": 2}


def test_patience_zero_and_one_behave_alike():
    for patience in (0, 1):
        es = EarlyStopping(patience=patience)
        _, ran = drive(es, [0.5, 0.4, 0.45, 0.3])
        assert ran == [0, 1, 2], patience


def test_never_stops_while_improving():
    es = EarlyStopping(patience=1)
    _, ran = drive(es, [1.0, 0.9, 0.8, 0.7, 0.6])
    assert ran == [0, 1, 2, 3, 4] and es.stopped_epoch == 0


def test_min_delta_is_a_magnitude_in_both_modes():
    es = EarlyStopping(patience=1, min_delta=0.05)
    _, ran = drive(es, [1.0, 0.97, 0.9])  # 0.97 is not 0.05 better than 1.0
    assert ran == [0, 1]
    es = EarlyStopping(monitor="val_accuracy", patience=1, min_delta=-0.05, mode="max")
    _, ran = drive(es, [0.5, 0.53, 0.9], key="val_accuracy")
    assert ran == [0, 1]


def test_mode_auto_uses_metric_direction():
    es = EarlyStopping(monitor="val_accuracy", patience=1)
    _, ran = drive(es, [0.5, 0.6, 0.7, 0.65], key="val_accuracy")
    assert ran == [0, 1, 2, 3]
    es = EarlyStopping(monitor="val_accuracy", patience=1)
    _, ran = drive(es, [0.7, 0.6, 0.5], key="val_accuracy")
    assert ran == [0, 1]


def test_baseline_never_beaten_stops_after_patience_and_restores_best_of_those():
    es = EarlyStopping(patience=3, baseline=0.1, restore_best_weights=True)
    model, ran = drive(es, [0.5, 0.4, 0.45, 0.3, 0.2])
    assert ran == [0, 1, 2]  # wait counts 1, 2, 3 although values improve
    assert restored_epoch(model) == 1


def test_baseline_beaten_resets_wait():
    es = EarlyStopping(patience=2, baseline=0.5)
    _, ran = drive(es, [0.6, 0.4, 0.3, 0.35, 0.36, 0.2])
    assert ran == [0, 1, 2, 3, 4]


def test_start_from_epoch_ignores_warm_up():
    es = EarlyStopping(patience=1, start_from_epoch=3, restore_best_weights=True)
    model, ran = drive(es, [0.1, 0.9, 0.95, 0.5, 0.6, 0.7])
    assert ran == [0, 1, 2, 3, 4]
    assert restored_epoch(model) == 3  # the warm-up epochs never count as best


def test_restore_without_stopping_restores_best():
    es = EarlyStopping(patience=10, restore_best_weights=True)
    model, ran = drive(es, [0.5, 0.2, 0.3])
    assert ran == [0, 1, 2] and restored_epoch(model) == 1


def test_no_restore_by_default():
    es = EarlyStopping(patience=0)
    model, _ = drive(es, [0.5, 0.6])
    assert model.shown is None


def test_missing_monitor_key_warns_once_and_lists_keys():
    es = EarlyStopping(monitor="val_los")
    model = Stub()
    es.set_model(model)  # type: ignore[arg-type]
    es.set_params({"metrics": ["loss", "val_loss"]})
    with pytest.warns(
        RuntimeWarning,
        match=r"monitor='val_los', which is not in the logs\. Available keys: loss, val_loss\.",
    ) as rec:
        es.on_train_begin()
        for epoch in range(3):
            es.on_epoch_end(epoch, {"loss": 0.5, "val_loss": 0.4})
    assert len(rec) == 1
    assert not model.stop_training


def test_missing_key_in_fit_warns_before_training_with_the_runs_keys():
    model = fit_model()
    with pytest.warns(
        RuntimeWarning, match=r"Available keys: learning_rate, loss, val_loss\."
    ) as rec:
        model.fit(
            X,
            Y,
            epochs=3,
            validation_data=(XV, YV),
            verbose=0,
            callbacks=[EarlyStopping(monitor="val_acc", patience=0)],
        )
    assert len(rec) == 1 and model.run.epoch == 3


def test_expected_key_missing_this_epoch_is_silent():
    """With validation_freq, val_loss is absent on some epochs: no warning, no counting."""
    es = EarlyStopping(patience=1)
    model = Stub()
    es.set_model(model)  # type: ignore[arg-type]
    es.set_params({"metrics": ["loss", "val_loss"]})
    es.on_train_begin()
    es.on_epoch_end(0, {"loss": 1.0})
    es.on_epoch_end(1, {"loss": 1.0, "val_loss": 0.5})
    es.on_epoch_end(2, {"loss": 1.0})
    assert es.wait == 0 and not model.stop_training


def test_state_round_trip_and_reset():
    es = EarlyStopping(patience=5, restore_best_weights=True)
    drive(es, [0.3, 0.2, 0.25])
    state = es.state_dict()
    other = EarlyStopping(patience=5, restore_best_weights=True)
    other.load_state_dict(state)
    assert (other.wait, other.best, other.best_epoch) == (1, 0.2, 1)
    other.reset_state()
    assert (other.wait, other.best, other.best_weights) == (0, None, None)


def test_bad_arguments():
    with pytest.raises(
        ep.errors.ArgumentError,
        match=r"expected `patience` to be an int >= 0\. Received: patience=-1",
    ):
        EarlyStopping(patience=-1)
    with pytest.raises(ep.errors.ArgumentTypeError, match=r"expected `min_delta` to be a number"):
        EarlyStopping(min_delta="0.1")  # type: ignore[arg-type]


# -- with real training -------------------------------------------------------

_X, _Y = make_binary(n=300, seed=3)
X, Y, XV, YV = _X[:200], _Y[:200], _X[200:], _Y[200:]


def fit_model(seed: int = 0) -> ep.Model:
    model = ep.Model(mlp(hidden=64, seed=seed), device="cpu")
    model.compile(optimizer="adam", loss="bce", learning_rate=0.05, seed=seed)
    return model


def test_fit_restores_best_weights_at_end():
    model = fit_model()
    es = EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)
    history = model.fit(X, Y, epochs=40, validation_data=(XV, YV), callbacks=[es], verbose=0)
    val = history.history["val_loss"]
    best = int(np.argmin(val))
    assert es.best_epoch == best
    assert model.evaluate(XV, YV, verbose=0)["loss"] == pytest.approx(val[best], rel=1e-5)
    if es.stopped_epoch:
        assert len(val) == es.stopped_epoch + 1


def test_one_fit_and_a_loop_of_fit_one_stop_at_the_same_epoch_with_the_same_weights():
    """Run-owned state: the loop stops where the long fit stops, with the same restored weights."""
    long = fit_model()
    es = EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    long.fit(X, Y, epochs=60, validation_data=(XV, YV), callbacks=[es], verbose=0)
    assert es.stopped_epoch > 0, "the data must make this run stop early"

    looped = fit_model()
    es_loop = EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    calls = 0
    while not looped.stop_training and calls < 60:
        looped.fit(X, Y, epochs=1, validation_data=(XV, YV), callbacks=[es_loop], verbose=0)
        calls += 1
    assert calls == es.stopped_epoch + 1
    assert looped.history.history == long.history.history
    assert state_equal(looped.module.state_dict(), long.module.state_dict())


def test_a_new_instance_each_call_continues_the_runs_state():
    """The common Keras mistake (a new EarlyStopping per fit call) works on epochal."""
    long = fit_model()
    long.fit(
        X,
        Y,
        epochs=60,
        validation_data=(XV, YV),
        verbose=0,
        callbacks=[EarlyStopping(patience=2, restore_best_weights=True)],
    )
    looped = fit_model()
    for _ in range(60):
        looped.fit(
            X,
            Y,
            epochs=1,
            validation_data=(XV, YV),
            verbose=0,
            callbacks=[EarlyStopping(patience=2, restore_best_weights=True)],
        )
        if looped.stop_training:
            break
    assert looped.history.epoch == long.history.epoch
    assert state_equal(looped.module.state_dict(), long.module.state_dict())


def test_callback_reused_on_another_model_starts_fresh():
    es = EarlyStopping(monitor="loss", patience=1)
    first = fit_model()
    first.fit(X, Y, epochs=3, callbacks=[es], verbose=0)
    assert es.best is not None
    second = fit_model(seed=1)
    second.fit(X, Y, epochs=1, callbacks=[es], verbose=0)
    assert es.best == pytest.approx(second.history.history["loss"][0])
    assert es.wait == 0


def test_new_phase_starts_fresh_early_stopping():
    model = fit_model()
    es = EarlyStopping(monitor="val_loss", patience=1, restore_best_weights=True)
    model.fit(X, Y, epochs=60, validation_data=(XV, YV), callbacks=[es], verbose=0)
    stopped_at = model.run.epoch
    assert model.stop_training
    model.new_phase()
    history = model.fit(X, Y, epochs=2, validation_data=(XV, YV), callbacks=[es], verbose=0)
    assert history.epoch == [stopped_at, stopped_at + 1]
    assert es.best == pytest.approx(min(history.history["val_loss"]))


def test_changed_weights_between_calls_are_respected():
    """After a call restored best weights, weights the user loads are trained on, not replaced."""
    model = fit_model()
    es = EarlyStopping(monitor="val_loss", patience=50, restore_best_weights=True)
    model.fit(X, Y, epochs=3, validation_data=(XV, YV), callbacks=[es], verbose=0)
    fresh = {k: torch.zeros_like(v) for k, v in model.module.state_dict().items()}
    model.module.load_state_dict(fresh)
    seen: list[float] = []

    class FirstBatch(Callback):
        def on_train_batch_begin(self, batch, logs=None):
            if not seen:
                seen.append(float(next(self.model.module.parameters()).detach().abs().sum()))

    model.fit(X, Y, epochs=1, validation_data=(XV, YV), callbacks=[es, FirstBatch()], verbose=0)
    assert seen == [0.0]


def test_verbose_messages(capsys):
    es = EarlyStopping(patience=1, verbose=1, restore_best_weights=True)
    drive(es, [0.3, 0.2, 0.4])
    out = capsys.readouterr().out
    assert "Epoch 3: early stopping" in out
    assert "Restoring model weights from the end of the best epoch: 2." in out
