"""`keras.utils` data utilities: PyDataset, pad_sequences, timeseries windows, split_dataset."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import Subset, TensorDataset

import epochal as ep
from epochal.errors import ArgumentError, ArgumentTypeError
from epochal.keras.utils import (
    PyDataset,
    pad_sequences,
    split_dataset,
    timeseries_dataset_from_array,
)


class _Batches(PyDataset):
    def __init__(self, x, y, batch_size, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y, self.batch_size = x, y, batch_size
        self.epochs_ended = 0
        self.order = np.arange(len(x))

    def __len__(self):
        return math.ceil(len(self.x) / self.batch_size)

    def __getitem__(self, i):
        idx = self.order[i * self.batch_size : (i + 1) * self.batch_size]
        return self.x[idx], self.y[idx]

    def on_epoch_end(self):
        self.epochs_ended += 1


def _data(n=64):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 4)).astype("float32")
    y = (x[:, :1] > 0).astype("float32")
    return x, y


def _model(seed=0):
    torch.manual_seed(0)
    model = ep.Model(nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1)))
    model.compile(optimizer="adam", loss="bce", metrics=["accuracy"], seed=seed)
    return model


def test_py_dataset_trains_like_the_same_batches_in_memory():
    x, y = _data()
    ds = _Batches(x, y, 16, workers=4, use_multiprocessing=True)
    a = _model()
    history = a.fit(ds, epochs=3, verbose=0)
    assert len(history.history["loss"]) == 3
    assert ds.epochs_ended == 3
    b = _model()
    b.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
    for pa, pb in zip(a.module.parameters(), b.module.parameters(), strict=True):
        assert torch.equal(pa, pb)
    assert a.evaluate(ds, verbose=0)["loss"] == pytest.approx(b.evaluate(x, y, verbose=0)["loss"])
    assert a.predict(ds, verbose=0).shape == (64, 1)


def test_py_dataset_arguments_are_checked():
    with pytest.raises(ArgumentError, match="workers"):
        _Batches(*_data(), 8, workers=0)
    with pytest.raises(ArgumentTypeError, match="use_multiprocessing"):
        _Batches(*_data(), 8, use_multiprocessing="yes")
    ds = _Batches(*_data(), 8)
    assert (ds.workers, ds.use_multiprocessing, ds.max_queue_size) == (1, False, 10)
    assert ds.num_batches == 8


def test_endless_py_dataset_needs_steps_per_epoch():
    x, y = _data()

    class Endless(PyDataset):
        def __getitem__(self, i):
            j = (i * 8) % 64
            return x[j : j + 8], y[j : j + 8]

    ds = Endless()
    assert ds.num_batches is None
    model = _model()
    history = model.fit(ds, epochs=2, steps_per_epoch=5, verbose=0)
    assert model.run.step == 10
    assert len(history.history["loss"]) == 2


def test_pad_sequences_pre_and_post():
    seqs = [[1, 2, 3], [4], []]
    np.testing.assert_array_equal(pad_sequences(seqs), [[1, 2, 3], [0, 0, 4], [0, 0, 0]])
    np.testing.assert_array_equal(
        pad_sequences(seqs, padding="post"), [[1, 2, 3], [4, 0, 0], [0, 0, 0]]
    )
    np.testing.assert_array_equal(pad_sequences(seqs, maxlen=2), [[2, 3], [0, 4], [0, 0]])
    np.testing.assert_array_equal(
        pad_sequences(seqs, maxlen=2, truncating="post", value=-1), [[1, 2], [-1, 4], [-1, -1]]
    )
    assert pad_sequences(seqs).dtype == np.int32
    assert pad_sequences([[0.5, 1.5]], maxlen=3, dtype="float32")[0].tolist() == [0, 0.5, 1.5]


def test_pad_sequences_keeps_feature_axes():
    seqs = [np.ones((2, 3)), np.zeros((1, 3))]
    out = pad_sequences(seqs, dtype="float32")
    assert out.shape == (2, 2, 3)
    assert out[1, 0].tolist() == [0, 0, 0]


def test_pad_sequences_bad_arguments():
    with pytest.raises(ArgumentError, match="padding"):
        pad_sequences([[1]], padding="middle")
    with pytest.raises(ArgumentError, match="maxlen"):
        pad_sequences([[1]], maxlen=0)
    with pytest.raises(ArgumentTypeError, match="index 1"):
        pad_sequences([[1], 5])
    with pytest.raises(ArgumentError, match="shape"):
        pad_sequences([np.ones((1, 2)), np.ones((1, 3))])


def test_timeseries_windows_and_targets_follow_keras():
    data = np.arange(10)
    ds = timeseries_dataset_from_array(
        data, data * 10, sequence_length=3, sequence_stride=2, sampling_rate=1, batch_size=2
    )
    batches = list(ds)
    windows = torch.cat([b[0] for b in batches]).tolist()
    targets = torch.cat([b[1] for b in batches]).tolist()
    assert windows == [[0, 1, 2], [2, 3, 4], [4, 5, 6], [6, 7, 8]]
    assert targets == [0, 20, 40, 60]
    assert len(ds) == 2


def test_timeseries_sampling_rate_and_index_range():
    data = np.arange(20, dtype="float32")[:, None]
    ds = timeseries_dataset_from_array(
        data,
        None,
        sequence_length=3,
        sampling_rate=2,
        batch_size=None,
        start_index=5,
        end_index=12,
    )
    windows = [w[:, 0].tolist() for w in ds]
    assert windows == [[5, 7, 9], [6, 8, 10], [7, 9, 11]]


def test_timeseries_shuffle_with_seed_is_a_permutation_that_repeats_by_seed():
    data = np.arange(30)
    kwargs = {"sequence_length": 2, "batch_size": 4, "shuffle": True, "seed": 3}
    a = [w.tolist() for b in timeseries_dataset_from_array(data, data, **kwargs) for w in b[0]]
    b = [w.tolist() for b in timeseries_dataset_from_array(data, data, **kwargs) for w in b[0]]
    assert a == b
    assert sorted(a) == [[i, i + 1] for i in range(29)]
    assert a != sorted(a)


def test_timeseries_trains_a_model():
    t = np.linspace(0, 20, 300).astype("float32")
    series = np.stack([np.sin(t), np.cos(t)], axis=1)
    ds = timeseries_dataset_from_array(series[:-5], series[5:, 0], sequence_length=5, batch_size=32)
    module = nn.Sequential(nn.Flatten(), nn.Linear(10, 1))
    model = ep.Model(module)
    model.compile(optimizer="adam", loss="mse", seed=0)
    history = model.fit(ds, epochs=3, verbose=0)
    assert len(history.history["loss"]) == 3


def test_timeseries_bad_arguments():
    with pytest.raises(ArgumentError, match="sequence_length"):
        timeseries_dataset_from_array(np.arange(5), None, sequence_length=0)
    with pytest.raises(ArgumentError, match="targets"):
        timeseries_dataset_from_array(np.arange(5), np.arange(4), sequence_length=2)
    with pytest.raises(ArgumentError, match="end_index"):
        timeseries_dataset_from_array(np.arange(5), None, sequence_length=2, end_index=9)


def test_split_dataset_arrays_fractions_and_counts():
    x = np.arange(10, dtype="float32")[:, None]
    y = np.arange(10)
    left, right = split_dataset((x, y), left_size=0.8)
    assert isinstance(left, TensorDataset) and (len(left), len(right)) == (8, 2)
    assert right.tensors[1].tolist() == [8, 9]
    left, right = split_dataset(x, right_size=3)
    assert (len(left), len(right)) == (7, 3)
    left, right = split_dataset(x)
    assert (len(left), len(right)) == (5, 5)


def test_split_dataset_shuffle_is_fixed_by_seed_and_disjoint():
    x = np.arange(20)
    a_left, a_right = split_dataset(x, left_size=0.5, shuffle=True, seed=1)
    b_left, _ = split_dataset(x, left_size=0.5, shuffle=True, seed=1)
    assert a_left.tensors[0].tolist() == b_left.tensors[0].tolist()
    together = sorted(a_left.tensors[0].tolist() + a_right.tensors[0].tolist())
    assert together == list(range(20))


def test_split_dataset_of_a_torch_dataset_gives_subsets_fit_accepts():
    x, y = _data()
    ds = TensorDataset(torch.from_numpy(x), torch.from_numpy(y))

    class Plain(torch.utils.data.Dataset):
        def __len__(self):
            return len(ds)

        def __getitem__(self, i):
            return ds[i]

    left, right = split_dataset(Plain(), left_size=48)
    assert isinstance(left, Subset) and (len(left), len(right)) == (48, 16)
    model = _model()
    model.fit(left, epochs=1, validation_data=right, verbose=0)
    assert "val_loss" in model.history.history


def test_split_dataset_bad_sizes():
    x = np.arange(10)
    with pytest.raises(ArgumentError, match="left_size"):
        split_dataset(x, left_size=1.5)
    with pytest.raises(ArgumentError, match="add up"):
        split_dataset(x, left_size=6, right_size=6)
    with pytest.raises(ArgumentError, match="common length"):
        split_dataset((np.arange(3), np.arange(4)))
    with pytest.raises(ArgumentTypeError, match="right_size"):
        split_dataset(x, right_size="half")
