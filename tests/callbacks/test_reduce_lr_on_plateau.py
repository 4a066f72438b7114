"""ReduceLROnPlateau: Keras 3 semantics, argument checks and run-owned state."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from epochal.callbacks.reduce_lr_on_plateau import ReduceLROnPlateau
from epochal.errors import ArgumentError, ArgumentTypeError


def start(callback, model, params, state=None):
    """What the callback list does at the start of a fit call."""
    callback.set_model(model)
    callback.set_params(params)
    if state is None:
        callback.reset_state()
    else:
        callback.load_state_dict(state)
    callback.on_train_begin()
    return callback


def feed(callback, model, values, first_epoch=0, monitor="val_loss"):
    """Run epoch ends with ``monitor`` taking ``values``; return the lr after each epoch."""
    rates = []
    for offset, value in enumerate(values):
        callback.on_epoch_end(first_epoch + offset, {"loss": 1.0, monitor: value})
        rates.append(model.lrs[0])
    return rates


# -- Keras semantics ----------------------------------------------------------
def test_reduces_after_patience_epochs_without_improvement(model, params):
    cb = start(ReduceLROnPlateau(factor=0.5, patience=2), model, params)
    assert feed(cb, model, [1.0, 1.0, 1.0, 1.0, 1.0]) == [0.1, 0.1, 0.05, 0.05, 0.025]


def test_improvement_resets_the_wait_count(model, params):
    cb = start(ReduceLROnPlateau(factor=0.5, patience=2), model, params)
    assert feed(cb, model, [1.0, 1.0, 0.5, 0.5, 0.5]) == [0.1, 0.1, 0.1, 0.1, 0.05]
    assert cb.best == 0.5


def test_logs_the_rate_the_epoch_trained_with(model, params):
    cb = start(ReduceLROnPlateau(factor=0.5, patience=1), model, params)
    seen = []
    for epoch in range(3):
        logs = {"val_loss": 1.0}
        cb.on_epoch_end(epoch, logs)
        seen.append(logs["learning_rate"])
    assert seen == [0.1, 0.1, 0.05]
    assert all(type(rate) is float for rate in seen)


def test_cooldown_keeps_the_wait_count_at_zero(model, params):
    # Keras: the epoch that ends the cooldown counts again, so with patience=1
    # and cooldown=2 the reductions are two epochs apart.
    cb = start(ReduceLROnPlateau(factor=0.5, patience=1, cooldown=2), model, params)
    rates = feed(cb, model, [1.0] * 6)
    assert rates == [0.1, 0.05, 0.05, 0.025, 0.025, 0.0125]


def test_without_cooldown_reductions_follow_every_patience_epochs(model, params):
    cb = start(ReduceLROnPlateau(factor=0.5, patience=1), model, params)
    assert feed(cb, model, [1.0] * 4) == [0.1, 0.05, 0.025, 0.0125]


def test_improvement_during_cooldown_updates_best(model, params):
    cb = start(ReduceLROnPlateau(factor=0.5, patience=1, cooldown=3), model, params)
    feed(cb, model, [1.0, 1.0])  # reduction at epoch 1, cooldown 3
    feed(cb, model, [0.2], first_epoch=2)
    assert cb.best == 0.2
    assert cb.wait == 0
    assert cb.cooldown_counter == 2


def test_min_lr_is_a_floor_and_stops_reductions(model, params, capsys):
    cb = start(ReduceLROnPlateau(factor=0.1, patience=1, min_lr=0.005, verbose=1), model, params)
    rates = feed(cb, model, [1.0] * 4)
    assert rates == pytest.approx([0.1, 0.01, 0.005, 0.005])
    out = capsys.readouterr().out
    assert out.count("ReduceLROnPlateau reducing learning rate") == 2


def test_verbose_message(model, params, capsys):
    cb = start(ReduceLROnPlateau(factor=0.5, patience=1, verbose=1), model, params)
    feed(cb, model, [1.0, 1.0])
    assert capsys.readouterr().out == "Epoch 2: ReduceLROnPlateau reducing learning rate to 0.05.\n"


def test_quiet_by_default(model, params, capsys):
    cb = start(ReduceLROnPlateau(factor=0.5, patience=1), model, params)
    feed(cb, model, [1.0, 1.0])
    assert capsys.readouterr().out == ""


def test_every_parameter_group_is_scaled(make_model, params):
    model = make_model(lr=[0.1, 0.01])
    cb = start(ReduceLROnPlateau(factor=0.5, patience=1, min_lr=0.006), model, params)
    feed(cb, model, [1.0, 1.0])
    assert model.lrs == pytest.approx([0.05, 0.006])


@pytest.mark.parametrize("min_delta", [0.1, -0.1])
def test_min_delta_is_a_margin_in_min_mode(model, params, min_delta):
    cb = start(ReduceLROnPlateau(patience=5, min_delta=min_delta, mode="min"), model, params)
    feed(cb, model, [1.0, 0.95])  # better, but by less than the margin
    assert (cb.best, cb.wait) == (1.0, 1)
    feed(cb, model, [0.85], first_epoch=2)
    assert (cb.best, cb.wait) == (0.85, 0)


@pytest.mark.parametrize("min_delta", [0.1, -0.1])
def test_min_delta_is_a_margin_in_max_mode(model, params, min_delta):
    cb = start(ReduceLROnPlateau(patience=5, min_delta=min_delta, mode="max"), model, params)
    feed(cb, model, [0.5, 0.55])
    assert (cb.best, cb.wait) == (0.5, 1)
    feed(cb, model, [0.65], first_epoch=2)
    assert (cb.best, cb.wait) == (0.65, 0)


def test_auto_mode_takes_the_metric_direction(model, params):
    cb = ReduceLROnPlateau(monitor="val_accuracy", factor=0.5, patience=1)
    start(cb, model, params)
    rising = feed(cb, model, [0.5, 0.6, 0.7], monitor="val_accuracy")
    assert rising == [0.1, 0.1, 0.1]
    assert feed(cb, model, [0.6], first_epoch=3, monitor="val_accuracy") == [0.05]


def test_auto_mode_minimizes_losses(model, params):
    cb = start(ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=1), model, params)
    assert feed(cb, model, [1.0, 0.9, 0.8]) == [0.1, 0.1, 0.1]


def test_explicit_mode_overrides_the_metric_direction(model, params):
    cb = ReduceLROnPlateau(monitor="val_accuracy", factor=0.5, patience=1, mode="min")
    start(cb, model, params)
    assert feed(cb, model, [0.5, 0.6], monitor="val_accuracy") == [0.1, 0.05]


def test_auto_mode_with_an_unknown_direction_raises_at_train_begin(model, params):
    cb = ReduceLROnPlateau(monitor="val_custom")
    with pytest.raises(ArgumentError, match=r"monitor='val_custom'.*mode='min' or mode='max'"):
        start(cb, model, params)


def test_nan_counts_as_no_improvement(model, params):
    cb = start(ReduceLROnPlateau(factor=0.5, patience=2), model, params)
    feed(cb, model, [1.0, math.nan])
    assert (cb.best, cb.wait) == (1.0, 1)


def test_missing_monitor_warns_once_and_still_logs_the_rate(model, params):
    cb = start(ReduceLROnPlateau(monitor="val_loss", patience=1), model, {**params, "metrics": []})
    logs = {"loss": 1.0}
    with pytest.warns(
        RuntimeWarning, match=r"monitor=.val_loss.*Available keys: learning_rate, loss\.$"
    ):
        cb.on_epoch_end(0, logs)
    assert logs["learning_rate"] == 0.1
    cb.on_epoch_end(1, {"loss": 1.0})  # a second warning would fail: warnings are errors
    assert (cb.best, cb.wait) == (None, 0)
    assert model.lrs == [0.1]


def test_announced_key_absent_this_epoch_does_not_warn(model, params):
    # validation every few epochs: val_loss is in params["metrics"] but not in these logs
    cb = start(ReduceLROnPlateau(monitor="val_loss", patience=1), model, params)
    cb.on_epoch_end(0, {"loss": 1.0})
    assert cb.wait == 0


# -- arguments ----------------------------------------------------------------
def test_keras_defaults():
    cb = ReduceLROnPlateau()
    assert (cb.monitor, cb.factor, cb.patience, cb.verbose) == ("val_loss", 0.1, 10, 0)
    assert (cb.mode, cb.min_delta, cb.cooldown, cb.min_lr) == ("auto", 1e-4, 0, 0.0)


def test_keras_positional_order():
    cb = ReduceLROnPlateau("loss", 0.5, 3, 1)
    assert (cb.monitor, cb.factor, cb.patience, cb.verbose) == ("loss", 0.5, 3, 1)


def test_factor_of_one_or_more_is_refused():
    with pytest.raises(
        ArgumentError,
        match=r"^ReduceLROnPlateau: expected `factor` to be < 1\.0\. Received: factor=1\.5$",
    ):
        ReduceLROnPlateau(factor=1.5)
    with pytest.raises(ArgumentError, match=r"factor=1\.0$"):
        ReduceLROnPlateau(factor=1.0)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"mode": "up"}, ArgumentError, r"`mode` to be one of 'auto', 'min', 'max'.*mode='up'"),
        ({"factor": -0.5}, ArgumentError, r"`factor` to be >= 0\.0.*factor=-0\.5"),
        ({"factor": "0.5"}, ArgumentTypeError, r"`factor` to be a float.*factor='0\.5'"),
        ({"factor": math.nan}, ArgumentError, r"`factor` to be a finite number"),
        ({"patience": -1}, ArgumentError, r"`patience` to be >= 0.*patience=-1"),
        ({"patience": 2.5}, ArgumentTypeError, r"`patience` to be an int.*patience=2\.5"),
        ({"cooldown": True}, ArgumentTypeError, r"`cooldown` to be an int.*cooldown=True"),
        ({"verbose": -1}, ArgumentError, r"`verbose` to be >= 0"),
        ({"min_lr": -1e-3}, ArgumentError, r"`min_lr` to be >= 0\.0.*min_lr=-0\.001"),
        ({"min_delta": math.inf}, ArgumentError, r"`min_delta` to be a finite number"),
        ({"monitor": 3}, ArgumentTypeError, r"`monitor` to be a str.*monitor=3"),
        ({"monitor": ""}, ArgumentError, r"`monitor` to be a log key"),
    ],
)
def test_invalid_arguments(kwargs, error, message):
    with pytest.raises(error, match=f"^ReduceLROnPlateau: expected {message}"):
        ReduceLROnPlateau(**kwargs)


def test_errors_are_also_builtin_exceptions():
    with pytest.raises(ValueError):
        ReduceLROnPlateau(mode="up")
    with pytest.raises(TypeError):
        ReduceLROnPlateau(patience="3")


def test_verbose_accepts_a_bool():
    assert ReduceLROnPlateau(verbose=True).verbose == 1


# -- run-owned state ----------------------------------------------------------
def test_train_begin_does_not_reset_the_state(model, params):
    cb = start(ReduceLROnPlateau(factor=0.5, patience=3), model, params)
    feed(cb, model, [1.0, 1.0])
    cb.on_train_end()
    cb.on_train_begin()
    assert (cb.best, cb.wait) == (1.0, 1)
    feed(cb, model, [1.0, 1.0], first_epoch=2)
    assert model.lrs == [0.05]


def test_reset_state_starts_a_fresh_run(model, params):
    cb = start(ReduceLROnPlateau(factor=0.5, patience=1, cooldown=2), model, params)
    feed(cb, model, [1.0, 1.0])
    assert cb.state_dict() == {"best": 1.0, "wait": 0, "cooldown_counter": 2}
    cb.reset_state()
    assert cb.state_dict() == {"best": None, "wait": 0, "cooldown_counter": 0}


def test_state_is_json_compatible(model, params):
    cb = start(ReduceLROnPlateau(patience=5), model, params)
    feed(cb, model, [math.inf, math.inf])  # never beats Keras's +inf start in min mode
    assert json.loads(json.dumps(cb.state_dict())) == {
        "best": None,
        "wait": 2,
        "cooldown_counter": 0,
    }
    feed(cb, model, [2.0, 3.0], first_epoch=2)
    assert json.loads(json.dumps(cb.state_dict())) == {
        "best": 2.0,
        "wait": 1,
        "cooldown_counter": 0,
    }


def test_infinite_best_survives_json(model, params):
    cb = start(ReduceLROnPlateau(patience=5, mode="max"), model, params)
    feed(cb, model, [math.inf])
    state = json.loads(json.dumps(cb.state_dict()))
    fresh = start(ReduceLROnPlateau(patience=5, mode="max"), model, params, state)
    assert fresh.best == math.inf


def test_load_state_dict_restores_decisions(model, params):
    cb = start(ReduceLROnPlateau(factor=0.5, patience=2), model, params)
    cb.load_state_dict({"best": 1.0, "wait": 1, "cooldown_counter": 0})
    assert feed(cb, model, [1.0]) == [0.05]


values = st.lists(
    st.sampled_from([0.1, 0.2, 0.3, 0.30005, 0.5, 1.0, math.nan]), min_size=1, max_size=25
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    values=values,
    patience=st.integers(0, 3),
    cooldown=st.integers(0, 3),
    mode=st.sampled_from(["min", "max"]),
    fresh_instances=st.booleans(),
)
def test_one_epoch_fit_calls_reduce_at_the_same_epochs_as_one_fit(
    make_model, params, values, patience, cooldown, mode, fresh_instances
):
    kwargs = {"factor": 0.5, "patience": patience, "cooldown": cooldown, "mode": mode}
    kwargs["min_lr"] = 0.01

    whole = make_model()
    cb = start(ReduceLROnPlateau(**kwargs), whole, params)
    expected = feed(cb, whole, values)

    split = make_model()
    cb = ReduceLROnPlateau(**kwargs)
    state = None
    got = []
    for epoch, value in enumerate(values):
        if fresh_instances:
            cb = ReduceLROnPlateau(**kwargs)
        start(cb, split, params, state)
        got += feed(cb, split, [value], first_epoch=epoch)
        cb.on_train_end()
        state = json.loads(json.dumps(cb.state_dict()))
    assert got == expected
