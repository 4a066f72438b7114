"""TerminateOnNaN: stop on a NaN/Inf loss, reading nothing but the loss."""

from __future__ import annotations

import math

import pytest

from epochal.callbacks.base import CallbackList
from epochal.callbacks.terminate_on_nan import TerminateOnNaN
from epochal.errors import ArgumentTypeError, EpochalError, NonFiniteLossError


def attach(callback, model, params):
    callback.set_model(model)
    callback.set_params(params)
    callback.reset_state()
    callback.on_train_begin()
    return callback


@pytest.mark.parametrize("loss", [math.nan, math.inf, -math.inf])
def test_invalid_loss_stops_training(model, params, lazy_logs, capsys, loss):
    cb = attach(TerminateOnNaN(), model, params)
    cb.on_train_batch_end(7, lazy_logs({"loss": loss}))
    assert model.stop_training is True
    assert capsys.readouterr().out == "Batch 7: Invalid loss, terminating training\n"


def test_finite_loss_goes_on(model, params, lazy_logs, capsys):
    cb = attach(TerminateOnNaN(), model, params)
    for batch in range(3):
        cb.on_train_batch_end(batch, lazy_logs({"loss": 1e30}))
    assert model.stop_training is False
    assert capsys.readouterr().out == ""


def test_reads_only_the_loss(model, params, lazy_logs):
    # Every read of a batch log is a device sync: the other keys stay unread.
    cb = attach(TerminateOnNaN(), model, params)
    logs = lazy_logs({"accuracy": 0.5, "loss": 0.3, "mae": 0.1})
    cb.on_train_batch_end(0, logs)
    assert logs.reads == ["loss"]


def test_missing_loss_is_ignored(model, params, lazy_logs):
    cb = attach(TerminateOnNaN(), model, params)
    cb.on_train_batch_end(0, lazy_logs({}))
    cb.on_train_batch_end(1, None)
    assert model.stop_training is False


def test_raise_error(model, params, lazy_logs):
    cb = attach(TerminateOnNaN(raise_error=True), model, params)
    with pytest.raises(NonFiniteLossError, match=r"^Batch 3: Invalid loss nan") as info:
        cb.on_train_batch_end(3, lazy_logs({"loss": math.nan}))
    assert isinstance(info.value, RuntimeError)
    assert isinstance(info.value, EpochalError)
    assert model.stop_training is False


def test_raise_error_must_be_a_bool():
    with pytest.raises(
        ArgumentTypeError,
        match=r"^TerminateOnNaN: expected `raise_error` to be a bool\. Received: raise_error=1$",
    ):
        TerminateOnNaN(raise_error=1)


def test_uses_the_training_batch_hook_only():
    callbacks = CallbackList([TerminateOnNaN()])
    assert callbacks.wants("on_train_batch_end")
    assert not callbacks.wants("on_train_batch_begin")
    assert not callbacks.wants("on_test_batch_end")


def test_no_state(model, params):
    assert attach(TerminateOnNaN(), model, params).state_dict() == {}
