"""Callback base: user callbacks declare their run-owned state in one line."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import epochal as ep
from _util import make_binary
from epochal.callbacks.base import CallbackContext
from epochal.errors import ArgumentTypeError

X, Y = make_binary(n=64, features=5, seed=4)


def build() -> ep.Model:
    torch.manual_seed(0)
    model = ep.Model(nn.Sequential(nn.Linear(5, 1), nn.Sigmoid()), device="cpu")
    model.compile(optimizer="sgd", loss="bce", learning_rate=0.1, seed=1)
    return model


class CountBest(ep.Callback):
    """A user callback: keeps the best loss and how many epochs since."""

    state_attributes = ("best", "since", "seen")

    def __init__(self) -> None:
        super().__init__()
        self.best = float("inf")
        self.since = 0
        self.seen: list[int] = []

    def on_epoch_end(self, epoch, logs=None):
        self.seen.append(epoch)
        if logs["loss"] < self.best:
            self.best, self.since = logs["loss"], 0
        else:
            self.since += 1


def test_declared_state_belongs_to_the_run_across_fresh_instances():
    whole = build()
    one = CountBest()
    whole.fit(X, Y, epochs=5, verbose=0, callbacks=[one])
    split = build()
    for n in (2, 3):
        fresh = CountBest()
        split.fit(X, Y, epochs=n, verbose=0, callbacks=[fresh])
    assert (fresh.best, fresh.since, fresh.seen) == (one.best, one.since, one.seen)
    assert fresh.seen == [0, 1, 2, 3, 4]


def test_declared_state_is_saved_and_loaded_with_the_run(tmp_path):
    model = build()
    model.fit(X, Y, epochs=3, verbose=0, callbacks=[CountBest()])
    model.save(tmp_path / "m")
    loaded = ep.Model.load(tmp_path / "m", module=nn.Sequential(nn.Linear(5, 1), nn.Sigmoid()))
    cb = CountBest()
    loaded.fit(X, Y, epochs=1, verbose=0, callbacks=[cb])
    assert cb.seen == [0, 1, 2, 3]


def test_a_new_run_resets_declared_state_to_its_first_values():
    cb = CountBest()
    model = build()
    model.fit(X, Y, epochs=2, verbose=0, callbacks=[cb])
    model.compile(optimizer="sgd", loss="bce", seed=2)
    model.fit(X, Y, epochs=1, verbose=0, callbacks=[cb])
    assert cb.seen == [0]


class Unsaveable(ep.Callback):
    state_attributes = ("when",)

    def __init__(self) -> None:
        super().__init__()
        self.when = np.float32(1.5)


class Undeclared(ep.Callback):
    state_attributes = ("missing",)


@pytest.mark.parametrize(
    ("callback", "match"),
    [(Unsaveable(), r"Unsaveable\.when is a float32"), (Undeclared(), r"names 'missing'")],
)
def test_state_a_checkpoint_cannot_hold_is_refused_before_training(callback, match):
    model = build()
    before = [t.clone() for t in model.module.state_dict().values()]
    with pytest.raises(ArgumentTypeError, match=match):
        model.fit(X, Y, epochs=1, verbose=0, callbacks=[callback])
    assert model.run.epoch == 0 and model.optimizer is None
    assert all(
        torch.equal(a, b) for a, b in zip(before, model.module.state_dict().values(), strict=True)
    )


def test_the_model_satisfies_the_callback_context():
    assert isinstance(build(), CallbackContext)
