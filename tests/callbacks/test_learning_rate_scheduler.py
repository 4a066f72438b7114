"""LearningRateScheduler: schedule(epoch, lr) with the run's epoch index."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from epochal.callbacks.learning_rate_scheduler import LearningRateScheduler
from epochal.errors import ArgumentError, ArgumentTypeError, NotCompiledError


def attach(callback, model, params):
    callback.set_model(model)
    callback.set_params(params)
    callback.reset_state()
    callback.on_train_begin()
    return callback


def test_sets_the_scheduled_rate_at_epoch_begin(model, params):
    calls = []

    def schedule(epoch, lr):
        calls.append((epoch, lr))
        return lr * 0.5

    cb = attach(LearningRateScheduler(schedule), model, params)
    cb.on_epoch_begin(0)
    assert model.lrs == [0.05]
    cb.on_epoch_begin(1)
    assert model.lrs == [0.025]
    assert calls == [(0, 0.1), (1, 0.05)]


def test_sets_every_parameter_group_and_reads_the_first(make_model, params):
    model = make_model(lr=[0.2, 0.01])
    seen = []
    cb = attach(LearningRateScheduler(lambda epoch, lr: seen.append(lr) or 0.3), model, params)
    cb.on_epoch_begin(0)
    assert seen == [0.2]
    assert model.lrs == [0.3, 0.3]


def test_a_later_fit_call_gets_the_runs_epoch_index(model, params):
    # The loop numbers epochs on across fit calls; a new callback object with
    # the run's (empty) state schedules epoch 3 as epoch 3.
    epochs = []
    first = attach(
        LearningRateScheduler(lambda e, lr: epochs.append(e) or 0.1 / (e + 1)), model, params
    )
    for epoch in range(3):
        first.on_epoch_begin(epoch)
    second = LearningRateScheduler(lambda e, lr: epochs.append(e) or 0.1 / (e + 1))
    second.set_model(model)
    second.load_state_dict(first.state_dict())
    second.on_train_begin()
    second.on_epoch_begin(3)
    assert epochs == [0, 1, 2, 3]
    assert model.lrs == [0.025]


def test_writes_the_rate_to_the_epoch_logs(model, params):
    cb = attach(LearningRateScheduler(lambda epoch, lr: 0.01 * (epoch + 1)), model, params)
    cb.on_epoch_begin(4)
    logs = {"loss": 1.0}
    cb.on_epoch_end(4, logs)
    assert logs == {"loss": 1.0, "learning_rate": 0.05}
    assert type(logs["learning_rate"]) is float


def test_one_argument_schedules_are_accepted(model, params):
    cb = attach(LearningRateScheduler(lambda epoch: 0.5**epoch), model, params)
    cb.on_epoch_begin(2)
    assert model.lrs == [0.25]


def test_a_type_error_inside_the_schedule_is_not_swallowed(model, params):
    def schedule(epoch, lr):
        raise TypeError("bug in schedule")

    cb = attach(LearningRateScheduler(schedule), model, params)
    with pytest.raises(TypeError, match="bug in schedule"):
        cb.on_epoch_begin(0)


@pytest.mark.parametrize(
    "value",
    [np.float32(0.5), np.float64(0.5), 1, torch.tensor(0.5), np.array(0.5)],
    ids=["np.float32", "np.float64", "int", "tensor", "0-d array"],
)
def test_numeric_returns_are_taken_as_floats(model, params, value):
    cb = attach(LearningRateScheduler(lambda epoch, lr: value), model, params)
    cb.on_epoch_begin(0)
    assert model.lrs == [float(value)]
    assert type(model.optimizer.param_groups[0]["lr"]) is float


@pytest.mark.parametrize("value", [None, "0.1", [0.1], torch.tensor([0.1, 0.2]), True], ids=repr)
def test_a_non_float_return_is_a_clear_error(model, params, value):
    cb = attach(LearningRateScheduler(lambda epoch, lr: value), model, params)
    with pytest.raises(
        ArgumentTypeError,
        match=r"^LearningRateScheduler: expected `schedule` to return a float\. Received: .* "
        r"for epoch=0$",
    ):
        cb.on_epoch_begin(0)
    assert model.lrs == [0.1]


@pytest.mark.parametrize("value", [-0.1, math.nan, math.inf])
def test_a_negative_or_non_finite_rate_is_refused(model, params, value):
    cb = attach(LearningRateScheduler(lambda epoch, lr: value), model, params)
    with pytest.raises(ArgumentError, match="finite learning rate >= 0"):
        cb.on_epoch_begin(0)
    assert model.lrs == [0.1]


def test_a_tensor_learning_rate_is_updated_in_place(make_model, params):
    model = make_model()
    rate = torch.tensor(0.1)
    model.optimizer.param_groups[0]["lr"] = rate
    cb = attach(LearningRateScheduler(lambda epoch, lr: 0.02), model, params)
    cb.on_epoch_begin(0)
    assert model.optimizer.param_groups[0]["lr"] is rate
    assert rate.item() == pytest.approx(0.02)


def test_verbose_message(model, params, capsys):
    cb = attach(LearningRateScheduler(lambda epoch, lr: 0.05, verbose=1), model, params)
    cb.on_epoch_begin(2)
    assert (
        capsys.readouterr().out == "Epoch 3: LearningRateScheduler setting learning rate to 0.05.\n"
    )


def test_quiet_by_default(model, params, capsys):
    cb = attach(LearningRateScheduler(lambda epoch, lr: 0.05), model, params)
    cb.on_epoch_begin(0)
    assert capsys.readouterr().out == ""


def test_an_epoch_begun_again_after_a_resume_is_not_scheduled_twice(model, params):
    """A mid-epoch resume calls on_epoch_begin again; schedule(epoch, lr) must apply once."""
    cb = attach(LearningRateScheduler(lambda epoch, lr: lr * 0.5), model, params)
    cb.on_epoch_begin(0)
    saved = cb.state_dict()
    assert saved == {"applied_epoch": 0}
    resumed = attach(LearningRateScheduler(lambda epoch, lr: lr * 0.5), model, params)
    resumed.load_state_dict(saved)
    resumed.on_epoch_begin(0)
    assert model.optimizer.param_groups[0]["lr"] == pytest.approx(0.5 * 0.1)
    resumed.on_epoch_begin(1)
    assert model.optimizer.param_groups[0]["lr"] == pytest.approx(0.25 * 0.1)


def test_without_a_model_the_error_says_how_to_attach_it():
    cb = LearningRateScheduler(lambda epoch, lr: lr)
    with pytest.raises(NotCompiledError, match=r"model\.fit\(callbacks="):
        cb.on_epoch_begin(0)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"schedule": 0.1}, ArgumentTypeError, r"`schedule` to be a callable.*schedule=0\.1"),
        ({"schedule": lambda: 0.1}, ArgumentTypeError, r"`schedule` to take \(epoch, lr\)"),
        (
            {"schedule": lambda a, b, c: 0.1},
            ArgumentTypeError,
            r"`schedule` to take \(epoch, lr\)",
        ),
        (
            {"schedule": lambda e, lr: lr, "verbose": "1"},
            ArgumentTypeError,
            r"`verbose` to be an int",
        ),
        ({"schedule": lambda e, lr: lr, "verbose": -1}, ArgumentError, r"`verbose` to be >= 0"),
    ],
)
def test_invalid_arguments(kwargs, error, message):
    with pytest.raises(error, match=f"^LearningRateScheduler: expected {message}"):
        LearningRateScheduler(**kwargs)


def test_builtin_schedules_without_a_signature_are_called_with_epoch_and_lr(model, params):
    cb = attach(LearningRateScheduler(max), model, params)  # max(epoch, lr)
    cb.on_epoch_begin(0)
    assert model.lrs == [0.1]
