"""A run is one continuous thing: any split of N epochs into fit calls gives the same bits."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn
from torch.utils.data import DataLoader, Dataset

import epochal as ep
from _util import make_binary, state_equal

_X, _Y = make_binary(n=144, features=6, seed=11)
X, Y, XV, YV = _X[:96], _Y[:96], _X[96:], _Y[96:]


def build(seed: int, *, dropout: bool, scheduler: bool, plateau: bool) -> ep.Model:
    torch.manual_seed(seed)
    layers: list[nn.Module] = [nn.Linear(6, 16), nn.ReLU()]
    if dropout:
        layers.append(nn.Dropout(0.3))
    layers += [nn.Linear(16, 1), nn.Sigmoid()]
    model = ep.Model(nn.Sequential(*layers), device="cpu")
    model.compile(
        optimizer="adam",
        loss="binary_crossentropy",
        metrics=["accuracy"],
        learning_rate=0.03,
        seed=seed,
        scheduler=(lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.7))
        if scheduler
        else None,
    )
    return model


def callbacks(early: bool, plateau: bool) -> list[ep.Callback]:
    out: list[ep.Callback] = []
    if early:
        out.append(ep.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True))
    if plateau:
        out.append(ep.ReduceLROnPlateau(monitor="val_loss", patience=1, factor=0.5))
    return out


def train(
    model: ep.Model,
    chunks: list[int],
    *,
    validation: bool,
    shuffle: bool,
    early: bool,
    plateau: bool,
    fresh_callbacks: bool,
) -> None:
    shared = callbacks(early, plateau)
    for n in chunks:
        model.fit(
            X,
            Y,
            epochs=n,
            batch_size=16,
            verbose=0,
            shuffle=shuffle,
            validation_data=(XV, YV) if validation else None,
            callbacks=callbacks(early, plateau) if fresh_callbacks else shared,
        )
        torch.rand(7)  # the user's own random draws between calls change nothing
        if model.stop_training:
            break


def assert_same_run(a: ep.Model, b: ep.Model) -> None:
    assert state_equal(a.module.state_dict(), b.module.state_dict())
    assert a.history.history == b.history.history
    assert a.history.epoch == b.history.epoch
    assert a.run.step == b.run.step and a.run.stopped == b.run.stopped
    sa, sb = a.optimizer.state_dict(), b.optimizer.state_dict()
    assert sa["param_groups"] == sb["param_groups"]
    for key in sa["state"]:
        for name, value in sa["state"][key].items():
            assert torch.equal(torch.as_tensor(value), torch.as_tensor(sb["state"][key][name]))


def splits(total: int) -> st.SearchStrategy[list[int]]:
    """Random compositions of ``total`` into positive parts."""
    return st.lists(st.booleans(), min_size=total - 1, max_size=total - 1).map(
        lambda cuts: np.diff([0, *[i + 1 for i, c in enumerate(cuts) if c], total]).tolist()
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    chunks=splits(7),
    seed=st.integers(0, 2**16),
    validation=st.booleans(),
    shuffle=st.booleans(),
    dropout=st.booleans(),
    early=st.booleans(),
    plateau=st.booleans(),
    scheduler=st.booleans(),
    fresh_callbacks=st.booleans(),
)
def test_any_split_equals_one_fit(
    chunks, seed, validation, shuffle, dropout, early, plateau, scheduler, fresh_callbacks
):
    early = early and validation
    plateau = plateau and validation
    options = dict(validation=validation, shuffle=shuffle, early=early, plateau=plateau)
    whole = build(seed, dropout=dropout, scheduler=scheduler, plateau=plateau)
    train(whole, [7], fresh_callbacks=False, **options)
    split = build(seed, dropout=dropout, scheduler=scheduler, plateau=plateau)
    train(split, chunks, fresh_callbacks=fresh_callbacks, **options)
    assert_same_run(whole, split)


def test_fit_one_loop_with_early_stopping_stops_like_one_fit():
    """The issue's case spelled out: N x fit(epochs=1) with one EarlyStopping instance."""
    es_whole = ep.EarlyStopping(monitor="val_loss", patience=1, restore_best_weights=True)
    whole = build(3, dropout=True, scheduler=False, plateau=False)
    whole.fit(
        X, Y, epochs=40, batch_size=16, verbose=0, validation_data=(XV, YV), callbacks=[es_whole]
    )
    assert es_whole.stopped_epoch > 0
    es_loop = ep.EarlyStopping(monitor="val_loss", patience=1, restore_best_weights=True)
    looped = build(3, dropout=True, scheduler=False, plateau=False)
    for _ in range(40):
        looped.fit(
            X, Y, epochs=1, batch_size=16, verbose=0, validation_data=(XV, YV), callbacks=[es_loop]
        )
        if looped.stop_training:
            break
    assert es_loop.stopped_epoch == es_whole.stopped_epoch
    assert es_loop.best_epoch == es_whole.best_epoch
    assert_same_run(whole, looped)


# -- every kind of input, saves in between, user callbacks with declared state --------------
class Augmented(Dataset):
    """A map-style Dataset adding numpy or Python random noise to every sample it gives."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def __len__(self) -> int:
        return len(X)

    def __getitem__(self, i: int):
        noise = np.random.normal() if self.kind == "numpy" else random.gauss(0.0, 1.0)
        return torch.from_numpy(X[i]) + 0.1 * float(noise), torch.tensor(Y[i])


class Batches:
    """A re-iterable of batches (not indexable): walked with steps_per_epoch."""

    def __iter__(self):
        for i in range(0, len(X), 16):
            yield X[i : i + 16], Y[i : i + 16]


class HalveOnce(ep.Callback):
    """A user callback whose declared state changes training: halves the rate after 3 epochs."""

    state_attributes = ("epochs_seen", "losses")

    def __init__(self) -> None:
        super().__init__()
        self.epochs_seen = 0
        self.losses: list[float] = []

    def on_epoch_end(self, epoch, logs=None):
        self.epochs_seen += 1
        self.losses.append(logs["loss"])
        if self.epochs_seen == 3:
            for group in self.model.optimizer.param_groups:
                group["lr"] *= 0.5


def _data(kind: str) -> tuple[dict, dict]:
    """(data arguments, fit options) for an input kind."""
    if kind in ("numpy", "random"):
        return {"x": Augmented(kind)}, {"batch_size": 16}
    if kind == "loader-workers":
        loader = DataLoader(Augmented("numpy"), batch_size=16, shuffle=True, num_workers=2)
        return {"x": loader}, {}
    if kind == "iterable-steps":
        return {"x": Batches()}, {"steps_per_epoch": 4}
    return {"x": X, "y": Y}, {"batch_size": 16, "steps_per_epoch": 4}


def _module(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Dropout(0.2), nn.Linear(8, 1), nn.Sigmoid())


def _compiled(seed: int) -> ep.Model:
    model = ep.Model(_module(seed), device="cpu")
    model.compile(optimizer="adam", loss="bce", learning_rate=0.02, seed=seed)
    return model


@pytest.mark.slow  # DataLoader workers start processes every epoch
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    chunks=splits(5),
    seed=st.integers(0, 2**16),
    kind=st.sampled_from(["numpy", "random", "loader-workers", "iterable-steps", "arrays-steps"]),
    reload=st.booleans(),
    declared=st.booleans(),
)
def test_any_split_equals_one_fit_for_every_input_kind(
    tmp_path_factory, chunks, seed, kind, reload, declared
):
    reload = reload and kind != "iterable-steps"  # a reloaded run restarts an iterable
    data, options = _data(kind)
    whole = _compiled(seed)
    whole_cb = HalveOnce()
    whole.fit(**data, epochs=5, verbose=0, callbacks=[whole_cb] if declared else [], **options)

    tmp = tmp_path_factory.mktemp("saves")
    split = _compiled(seed)
    for n in chunks:
        data, options = _data(kind) if kind != "iterable-steps" else (data, options)
        cbs: list[ep.Callback] = [HalveOnce()] if declared else []
        if reload:
            cbs.append(ep.ModelCheckpoint(str(tmp / "e{epoch}")))
        split.fit(**data, epochs=n, verbose=0, callbacks=cbs, **options)
        np.random.normal(size=3)  # the user's own draws between calls change nothing
        random.random()
        torch.rand(2)
        if reload:  # continue from ModelCheckpoint's last save, in a fresh model
            split = ep.Model.load(tmp / f"e{split.run.epoch}", module=_module(seed + 1))
    assert state_equal(whole.module.state_dict(), split.module.state_dict())
    assert whole.history.history == split.history.history
    if declared:
        assert cbs[0].state_dict() == whole_cb.state_dict()


@pytest.mark.parametrize("kind", ["numpy", "arrays-steps", "loader-workers"])
def test_a_split_and_reloaded_run_equals_one_fit(tmp_path, kind):
    """One fixed case of the property test above, fast enough for every run of the suite."""
    data, options = _data(kind)
    whole = _compiled(7)
    whole.fit(**data, epochs=3, verbose=0, callbacks=[HalveOnce()], **options)
    split = _compiled(7)
    split.fit(**data, epochs=2, verbose=0, callbacks=[HalveOnce()], **options)
    split.save(tmp_path / "m")
    loaded = ep.Model.load(tmp_path / "m", module=_module(8))
    data, options = _data(kind)
    loaded.fit(**data, epochs=1, verbose=0, callbacks=[HalveOnce()], **options)
    assert state_equal(whole.module.state_dict(), loaded.module.state_dict())
    assert whole.history.history == loaded.history.history
