"""LambdaCallback: plain functions as hooks; only the given hooks are overridden."""

from __future__ import annotations

import copy

import pytest

from epochal.callbacks.base import CallbackList
from epochal.callbacks.lambda_callback import LambdaCallback
from epochal.errors import ArgumentError, ArgumentTypeError

BATCH_HOOKS = (
    "on_train_batch_begin",
    "on_train_batch_end",
    "on_test_batch_begin",
    "on_test_batch_end",
    "on_predict_batch_begin",
    "on_predict_batch_end",
)


def test_calls_the_given_functions_with_the_hook_arguments():
    calls = []
    cb = LambdaCallback(
        on_epoch_begin=lambda epoch, logs: calls.append(("epoch_begin", epoch, logs)),
        on_epoch_end=lambda epoch, logs: calls.append(("epoch_end", epoch, logs)),
        on_train_begin=lambda logs: calls.append(("train_begin", logs)),
        on_train_end=lambda logs: calls.append(("train_end", logs)),
        on_train_batch_begin=lambda batch, logs: calls.append(("batch_begin", batch, logs)),
        on_train_batch_end=lambda batch, logs: calls.append(("batch_end", batch, logs)),
    )
    callbacks = CallbackList([cb])
    callbacks.on_train_begin({"a": 1})
    callbacks.on_epoch_begin(3, {})
    callbacks.batch_hook("on_train_batch_begin", 0, {"b": 2})
    callbacks.batch_hook("on_train_batch_end", 0, {"c": 3})
    callbacks.on_epoch_end(3, {"loss": 0.5})
    callbacks.on_train_end(None)
    assert calls == [
        ("train_begin", {"a": 1}),
        ("epoch_begin", 3, {}),
        ("batch_begin", 0, {}),  # Keras: batch-begin logs are empty
        ("batch_end", 0, {"c": 3}),
        ("epoch_end", 3, {"loss": 0.5}),
        ("train_end", {}),  # Keras: logs are {}, never None
    ]


def test_hooks_not_given_stay_free():
    callbacks = CallbackList([LambdaCallback(on_epoch_end=lambda epoch, logs: None)])
    for hook in BATCH_HOOKS:
        assert not callbacks.wants(hook), hook


def test_only_the_given_batch_hook_is_wanted():
    callbacks = CallbackList([LambdaCallback(on_train_batch_end=lambda batch, logs: None)])
    assert [hook for hook in BATCH_HOOKS if callbacks.wants(hook)] == ["on_train_batch_end"]


def test_instances_do_not_share_hooks():
    first = LambdaCallback(on_train_batch_end=lambda batch, logs: None)
    second = LambdaCallback(on_epoch_end=lambda epoch, logs: None)
    plain = LambdaCallback()
    assert CallbackList([first]).wants("on_train_batch_end")
    assert not CallbackList([second]).wants("on_train_batch_end")
    assert not CallbackList([plain]).wants("on_train_batch_end")
    assert "on_train_batch_end" not in vars(LambdaCallback)


def test_looks_like_a_lambda_callback():
    cb = LambdaCallback(on_epoch_end=lambda epoch, logs: None)
    assert isinstance(cb, LambdaCallback)
    assert type(cb).__name__ == "LambdaCallback"
    assert cb.state_key == "LambdaCallback"
    assert CallbackList([cb, LambdaCallback()]).state_keys() == [
        "LambdaCallback",
        "LambdaCallback#1",
    ]
    assert cb.state_dict() == {}


def test_can_be_deep_copied():
    calls = []
    cb = copy.deepcopy(LambdaCallback(on_epoch_end=lambda epoch, logs: calls.append(epoch)))
    cb.on_epoch_end(2, {})
    assert calls == [2]


def test_other_hooks_by_keyword():
    calls = []
    cb = LambdaCallback(
        on_test_end=lambda logs: calls.append(("test_end", logs)),
        on_predict_batch_end=lambda batch, logs: calls.append(("predict_batch_end", batch)),
    )
    cb.on_test_end({"loss": 1.0})
    cb.on_predict_batch_end(4, None)
    assert calls == [("test_end", {"loss": 1.0}), ("predict_batch_end", 4)]
    assert CallbackList([cb]).wants("on_predict_batch_end")


def test_keras_batch_aliases():
    calls = []
    cb = LambdaCallback(on_batch_end=lambda batch, logs: calls.append(batch))
    CallbackList([cb]).batch_hook("on_train_batch_end", 5, {})
    assert calls == [5]


def test_alias_and_name_together_are_refused():
    with pytest.raises(ArgumentError, match=r"`on_batch_end` and `on_train_batch_end` name the"):
        LambdaCallback(on_train_batch_end=print, on_batch_end=print)


def test_other_keywords_become_attributes_as_in_keras():
    cb = LambdaCallback(on_epoch_end=print, my_threshold=0.5, on_test_end=print)
    assert cb.my_threshold == 0.5
    assert cb.on_test_end is print
    assert not CallbackList([cb]).wants("on_test_batch_end")


def test_non_callable_is_refused():
    with pytest.raises(
        ArgumentTypeError,
        match=r"^LambdaCallback: expected `on_epoch_end` to be a callable\. "
        r"Received: on_epoch_end='print'$",
    ):
        LambdaCallback(on_epoch_end="print")


def test_none_means_not_given():
    callbacks = CallbackList([LambdaCallback(on_train_batch_end=None, on_test_batch_end=None)])
    assert not callbacks.wants("on_train_batch_end")
    assert not callbacks.wants("on_test_batch_end")
