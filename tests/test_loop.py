"""The epoch loop: a steps_per_epoch walk continues over the data, as in Keras."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import Dataset

import epochal as ep
from _util import make_binary, state_equal
from epochal.errors import ArgumentError

X, Y = make_binary(n=80, features=4, seed=8)


class Logged(Dataset):
    def __init__(self) -> None:
        self.reads: list[int] = []

    def __len__(self) -> int:
        return len(X)

    def __getitem__(self, i: int):
        self.reads.append(i)
        return torch.from_numpy(X[i]), torch.tensor(Y[i])


def build(seed: int = 1) -> ep.Model:
    torch.manual_seed(0)
    model = ep.Model(nn.Sequential(nn.Linear(4, 1), nn.Sigmoid()), device="cpu")
    model.compile(optimizer="sgd", loss="bce", learning_rate=0.1, seed=seed)
    return model


def test_steps_per_epoch_walks_on_through_the_data_across_epochs_and_calls():
    data = Logged()
    model = build()
    model.fit(data, epochs=2, steps_per_epoch=2, batch_size=16, shuffle=False, verbose=0)
    model.fit(data, epochs=1, steps_per_epoch=2, batch_size=16, shuffle=False, verbose=0)
    # Each call first reads samples 0 and 1 for its checks; then 3 epochs x 2 steps x 16
    # samples walk through the first pass (80 samples) and into the second.
    probe = [0, 1]
    assert data.reads == probe + list(range(64)) + probe + list(range(64, 80)) + list(range(16))
    assert model.run.data_position == (1, 1)


@pytest.mark.parametrize("kind", ["arrays", "dataset"])
def test_a_steps_per_epoch_walk_is_split_invariant_and_saved_with_the_run(tmp_path, kind):
    def data():
        return (X, Y) if kind == "arrays" else (Logged(), None)

    whole = build()
    whole.fit(*data(), epochs=7, steps_per_epoch=3, batch_size=16, verbose=0)
    split = build()
    split.fit(*data(), epochs=3, steps_per_epoch=3, batch_size=16, verbose=0)
    split.save(tmp_path / "m")
    loaded = ep.Model.load(tmp_path / "m", module=nn.Sequential(nn.Linear(4, 1), nn.Sigmoid()))
    assert loaded.run.data_position == (1, 4)
    loaded.fit(*data(), epochs=4, steps_per_epoch=3, batch_size=16, verbose=0)
    assert state_equal(whole.module.state_dict(), loaded.module.state_dict())
    assert whole.history.history == loaded.history.history


def test_an_iterable_walked_with_steps_per_epoch_keeps_its_iterator_across_calls():
    batches = [(X[i : i + 16], Y[i : i + 16]) for i in range(0, 80, 16)]
    seen: list[float] = []

    class Stream:
        def __iter__(self):
            for xb, yb in batches:
                seen.append(float(xb[0, 0]))
                yield xb, yb

    stream = Stream()
    model = build()
    model.fit(stream, epochs=1, steps_per_epoch=2, verbose=0)
    model.fit(stream, epochs=1, steps_per_epoch=2, verbose=0)
    firsts = [float(b[0][0, 0]) for b in batches]
    assert seen[-2:] == firsts[2:4]  # the second call read batches 3 and 4, not 1 and 2 again


def test_persistent_dataloader_workers_are_refused_with_a_clear_error():
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.from_numpy(X), torch.from_numpy(Y)),
        batch_size=16,
        num_workers=1,
        persistent_workers=True,
    )
    model = build()
    with pytest.raises(ArgumentError, match="persistent_workers=True"):
        model.fit(loader, epochs=1, verbose=0)
    assert model.run.epoch == 0


def _augmenting_dataset(kind: str) -> Dataset:
    import random

    class Noisy(Dataset):
        def __len__(self) -> int:
            return len(X)

        def __getitem__(self, i: int):
            noise = np.random.normal() if kind == "numpy" else random.gauss(0.0, 1.0)
            return torch.from_numpy(X[i]) + float(noise) * 0.1, torch.tensor(Y[i])

    return Noisy()


@pytest.mark.parametrize("kind", ["numpy", "random"])
def test_numpy_and_random_augmentation_belong_to_the_run(kind):
    import random

    whole = build()
    whole.fit(_augmenting_dataset(kind), epochs=4, batch_size=16, verbose=0)
    split = build()
    for _ in range(4):
        split.fit(_augmenting_dataset(kind), epochs=1, batch_size=16, verbose=0)
        np.random.normal(size=5)  # the user's own draws between calls change nothing
        random.random()
    assert state_equal(whole.module.state_dict(), split.module.state_dict())


def test_fit_gives_the_user_their_numpy_and_random_state_back():
    import random

    np.random.seed(3)
    random.seed(3)
    expected = (np.random.normal(), random.random())
    np.random.seed(3)
    random.seed(3)
    build().fit(_augmenting_dataset("numpy"), epochs=1, batch_size=16, verbose=0)
    assert (np.random.normal(), random.random()) == expected
