"""Keras 3's callback contract: logs are {} (never None), batch-begin logs are empty, the
legacy on_batch_* hooks are called, stop_evaluating / stop_predicting stop those loops."""

from __future__ import annotations

import numpy as np
import pytest
from torch import nn

import epochal as ep


def _model():
    model = ep.Model(nn.Sequential(nn.Linear(3, 1)))
    model.compile(optimizer="sgd", loss="mse", seed=0)
    return model


def _data(n=20):
    x = np.random.default_rng(0).normal(size=(n, 3)).astype("float32")
    return x, x[:, :1]


class Everything(ep.Callback):
    """Overrides every hook, recording the logs each receives."""

    def __init__(self):
        super().__init__()
        self.logs = {}

    def _keep(self, hook, logs):
        self.logs.setdefault(hook, []).append(logs if logs is None else dict(logs))


for _hook in (
    "on_train_begin",
    "on_train_end",
    "on_test_begin",
    "on_test_end",
    "on_predict_begin",
    "on_predict_end",
):
    setattr(Everything, _hook, lambda self, logs=None, _h=_hook: self._keep(_h, logs))
for _hook in (
    "on_epoch_begin",
    "on_epoch_end",
    "on_train_batch_begin",
    "on_train_batch_end",
    "on_test_batch_begin",
    "on_test_batch_end",
    "on_predict_batch_begin",
    "on_predict_batch_end",
):
    setattr(Everything, _hook, lambda self, i, logs=None, _h=_hook: self._keep(_h, logs))


def test_no_hook_ever_receives_none_and_batch_begin_logs_are_empty():
    x, y = _data()
    cb = Everything()
    model = _model()
    model.fit(x, y, batch_size=8, epochs=2, validation_split=0.2, callbacks=[cb], verbose=0)
    model.evaluate(x, y, callbacks=[cb], verbose=0)
    model.predict(x, callbacks=[cb], verbose=0)
    for hook, received in cb.logs.items():
        assert all(logs is not None for logs in received), hook
    for hook in ("on_train_batch_begin", "on_test_batch_begin", "on_predict_batch_begin"):
        assert cb.logs[hook] and all(logs == {} for logs in cb.logs[hook]), hook
    assert all("loss" in logs for logs in cb.logs["on_train_batch_end"])
    assert cb.logs["on_train_begin"] == [{}]


def test_legacy_batch_hooks_are_called_as_train_batch_aliases():
    x, y = _data()
    seen = []

    class Legacy(ep.Callback):
        def on_batch_begin(self, batch, logs=None):
            seen.append(("begin", batch))

        def on_batch_end(self, batch, logs=None):
            seen.append(("end", batch, round(logs["loss"], 6) >= 0))

    model = _model()
    model.fit(x, y, batch_size=10, epochs=1, callbacks=[Legacy()], verbose=0)
    assert seen == [("begin", 0), ("end", 0, True), ("begin", 1), ("end", 1, True)]
    model.evaluate(x, y, batch_size=10, callbacks=[Legacy()], verbose=0)
    assert len(seen) == 4  # the legacy names are training hooks only


@pytest.mark.parametrize("what", ["evaluate", "predict"])
def test_stop_flags_stop_evaluation_and_prediction(what):
    x, y = _data(40)
    batches = []

    class Stopper(ep.Callback):
        def on_test_batch_end(self, batch, logs=None):
            batches.append(batch)
            if batch == 1:
                self.model.stop_evaluating = True

        def on_predict_batch_end(self, batch, logs=None):
            batches.append(batch)
            if batch == 2:
                self.model.stop_predicting = True

    model = _model()
    if what == "evaluate":
        model.evaluate(x, y, batch_size=5, callbacks=[Stopper()], verbose=0)
        assert batches == [0, 1]
        batches.clear()
        model.evaluate(x, y, batch_size=5, callbacks=[Stopper()], verbose=0)
        assert batches == [0, 1]  # the flag is cleared at the next evaluation's start
    else:
        out = model.predict(x, batch_size=5, callbacks=[Stopper()], verbose=0)
        assert batches == [0, 1, 2] and out.shape == (15, 1)
