"""Every batch is safe: targets and weights of each iterable batch checked before its step."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

import epochal as ep
from _util import make_binary, make_multiclass, mlp, state_equal
from epochal.errors import ArgumentError, DataError

X, Y = make_binary(n=64, features=4)
XM, YM = make_multiclass(n=64, features=4, classes=3)


def batches(x, y, size=16, sw=None):
    xs, ys = torch.from_numpy(x), torch.from_numpy(y)
    out = []
    for i in range(0, len(x), size):
        item = (xs[i : i + size], ys[i : i + size])
        if sw is not None:
            item = (*item, torch.as_tensor(sw[i : i + size]))
        out.append(item)
    return out


def binary_model() -> ep.Model:
    m = ep.Model(mlp(features=4, hidden=8), device="cpu")
    m.compile(optimizer="sgd", loss="bce", seed=0)
    return m


def sparse_model() -> ep.Model:
    m = ep.Model(mlp(features=4, hidden=8, out=3), device="cpu")
    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", seed=0)
    return m


def bad_at(y: np.ndarray, index: int, value, size: int = 16) -> np.ndarray:
    y = y.copy()
    y[index * size + 3] = value
    return y


# -- point 4 ----------------------------------------------------------------------------------


def test_bce_targets_of_7_in_the_second_batch_stop_before_its_step():
    m = binary_model()
    with pytest.raises(DataError, match=r"`x batch 1 y` in \[0, 1\].*\[0, 7\]"):
        m.fit(batches(X, bad_at(Y, 1, 7.0)), epochs=1, verbose=0)
    assert m.run.step == 1  # batch 0 trained, batch 1 never stepped on


def test_the_weights_after_a_refused_batch_are_those_after_the_good_ones():
    good = binary_model()
    good.fit(batches(X, Y)[:1], epochs=1, verbose=0)
    m = binary_model()
    with pytest.raises(DataError):
        m.fit(batches(X, bad_at(Y, 1, 7.0)), epochs=1, verbose=0)
    assert state_equal(good.module.state_dict(), m.module.state_dict())


@pytest.mark.parametrize("label", [3, -1, 100])
def test_an_out_of_range_sparse_label_in_a_later_batch_is_a_data_error(label):
    m = sparse_model()
    with pytest.raises(
        DataError, match=r"`x batch 2 y` holds labels in .*Expected labels in \[0, 2\]"
    ):
        m.fit(batches(XM, bad_at(YM, 2, label)), epochs=1, verbose=0)
    assert m.run.step == 2


def test_non_integer_sparse_labels_in_a_later_batch_are_refused():
    m = sparse_model()
    y = bad_at(YM.astype(np.float32), 1, 1.5)
    with pytest.raises(DataError, match="batch 1 y"):
        m.fit(batches(XM, y), epochs=1, verbose=0)


def test_nan_bce_targets_in_a_later_batch_are_refused():
    m = binary_model()
    with pytest.raises(DataError, match="batch 3 y"):
        m.fit(batches(X, bad_at(Y, 3, np.nan)), epochs=1, verbose=0)


def test_a_batch_of_the_wrong_target_shape_is_named():
    data = batches(X, Y)
    data[2] = (data[2][0], torch.ones(16, 2))
    m = binary_model()
    with pytest.raises(DataError, match=r"`x batch 2 y` of shape \(N, 2\)"):
        m.fit(data, epochs=1, verbose=0)


def test_a_batch_without_targets_is_named():
    data = batches(X, Y)
    data[1] = (data[1][0],)
    m = binary_model()
    with pytest.raises(DataError, match="Batch 1 has no targets"):
        m.fit(data, epochs=1, verbose=0)


def test_a_generator_is_checked_batch_by_batch():
    def gen():
        yield from batches(X, bad_at(Y, 2, 2.0))

    m = binary_model()
    with pytest.raises(DataError, match="batch 2 y"):
        m.fit(gen(), epochs=1, verbose=0)


class Labels(Dataset):
    """A map-style Dataset with one bad label."""

    def __init__(self, bad: int) -> None:
        self.y = YM.copy()
        self.y[bad] = 9

    def __len__(self) -> int:
        return len(XM)

    def __getitem__(self, i: int):
        return torch.from_numpy(XM[i]), int(self.y[i])


class GoodLabels(Dataset):
    def __len__(self) -> int:
        return len(XM)

    def __getitem__(self, i: int):
        return torch.from_numpy(XM[i]), int(YM[i])


def test_a_map_style_dataset_is_checked_batch_by_batch():
    m = sparse_model()
    with pytest.raises(DataError, match=r"batch \d y` holds labels in \[0, 9\]"):
        m.fit(Labels(bad=40), batch_size=16, epochs=1, verbose=0, shuffle=False)
    assert m.run.step == 2


def test_a_dataloader_is_checked_batch_by_batch():
    m = sparse_model()
    with pytest.raises(DataError, match=r"`x batch 2 y`"):
        m.fit(DataLoader(Labels(bad=40), batch_size=16), epochs=1, verbose=0)


def test_validation_batches_are_checked_and_named():
    m = binary_model()
    with pytest.raises(DataError, match=r"`validation_data batch 1 y`"):
        m.fit(X, Y, validation_data=batches(X, bad_at(Y, 1, 5.0)), epochs=1, verbose=0)


def test_evaluate_checks_every_batch():
    m = sparse_model()
    m.fit(XM, YM, epochs=1, verbose=0)
    with pytest.raises(DataError, match="batch 3 y"):
        m.evaluate(batches(XM, bad_at(YM, 3, 7)), verbose=0)


@pytest.mark.parametrize("weight", [np.nan, np.inf, -1.0])
def test_bad_sample_weights_in_a_later_batch_are_refused(weight):
    sw = np.ones(64, np.float32)
    sw[20] = weight
    m = binary_model()
    with pytest.raises(DataError, match=r"`x batch 1 sample_weight`"):
        m.fit(batches(X, Y, sw=sw), epochs=1, verbose=0)
    assert m.run.step == 1


def test_a_batch_sample_weight_of_the_wrong_length_is_refused():
    data = batches(X, Y, sw=np.ones(64, np.float32))
    data[1] = (*data[1][:2], torch.ones(5))
    with pytest.raises(DataError, match=r"batch 1 sample_weight` to have shape \(16,\)"):
        binary_model().fit(data, epochs=1, verbose=0)


def test_good_iterables_train_as_before_with_integer_batch_weights():
    m = binary_model()
    m.fit(batches(X, Y, sw=np.ones(64, np.int64)), epochs=2, verbose=0)
    assert m.run.step == 8


# -- point 5 ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "class_weight",
    [
        {0: float("nan"), 1: 1.0},
        {0: 1.0, 1: float("inf")},
        {0: -0.5, 1: 1.0},
        {0: 1.0, 1: "heavy"},
        {"zero": 1.0, 1: 1.0},
        {0: np.float32("nan"), 1: 1.0},
    ],
)
def test_bad_class_weight_is_refused_before_training(class_weight):
    m = binary_model()
    before = {k: v.clone() for k, v in m.module.state_dict().items()}
    with pytest.raises(ArgumentError, match="class_weight"):
        m.fit(X, Y, class_weight=class_weight, epochs=1, verbose=0)
    assert state_equal(before, m.module.state_dict())
    assert m.run.step == 0


def test_numpy_class_weights_are_accepted():
    m = binary_model()
    m.fit(X, Y, class_weight={np.int64(0): np.float32(1.0), 1: 2}, epochs=1, verbose=0)


@pytest.mark.parametrize("weight", [np.nan, np.inf, -np.inf, -1.0])
@pytest.mark.parametrize("check_finite", [True, False])
def test_bad_in_memory_sample_weight_is_refused(weight, check_finite):
    sw = np.ones(64, np.float32)
    sw[7] = weight
    m = binary_model()
    with pytest.raises(DataError, match="`sample_weight`"):
        m.fit(X, Y, sample_weight=sw, epochs=1, verbose=0, check_finite=check_finite)
    assert m.run.step == 0


def test_bad_validation_sample_weight_is_refused():
    sw = -np.ones(64, np.float32)
    with pytest.raises(DataError, match="`validation_data sample_weight`"):
        binary_model().fit(X, Y, validation_data=(X, Y, sw), epochs=1, verbose=0)


def test_bad_evaluate_sample_weight_is_refused():
    m = binary_model()
    with pytest.raises(DataError, match="`sample_weight`"):
        m.evaluate(X, Y, sample_weight=np.full(64, np.nan, np.float32), verbose=0)


def test_zero_weights_are_allowed():
    binary_model().fit(X, Y, sample_weight=np.zeros(64, np.float32), epochs=1, verbose=0)


def ran_out(record) -> list[str]:
    return [str(w.message) for w in record if "ran out of data" in str(w.message)]


def test_steps_per_epoch_beyond_in_memory_data_warns_once():
    m = binary_model()
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        m.fit(X, Y, batch_size=16, steps_per_epoch=10, epochs=3, verbose=0)
    messages = ran_out(record)
    assert len(messages) == 1
    assert "steps_per_epoch=10" in messages[0] and "4 batches" in messages[0]
    assert m.run.step == 12  # the batches there are, each epoch


def test_steps_per_epoch_beyond_a_dataset_warns_once():
    m = sparse_model()
    with pytest.warns(RuntimeWarning, match="ran out of data"):
        m.fit(GoodLabels(), batch_size=32, steps_per_epoch=5, epochs=1, verbose=0)


def test_validation_steps_beyond_the_data_warn():
    with pytest.warns(RuntimeWarning, match="validation_steps=9"):
        binary_model().fit(
            X, Y, validation_data=(X, Y), validation_steps=9, batch_size=32, epochs=1, verbose=0
        )


def test_steps_within_the_data_do_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        binary_model().fit(X, Y, batch_size=16, steps_per_epoch=4, epochs=2, verbose=0)


def test_evaluate_steps_beyond_the_data_warn():
    m = binary_model()
    with pytest.warns(RuntimeWarning, match="steps=5"):
        m.evaluate(X, Y, batch_size=32, steps=5, verbose=0)


def test_a_module_with_int_targets_for_mse_still_works():
    m = ep.Model(nn.Sequential(nn.Linear(4, 1)), device="cpu")
    m.compile(optimizer="sgd", loss="mse", seed=0)
    m.fit(batches(X, Y.astype(np.int64)), epochs=1, verbose=0)


def test_a_batch_whose_x_and_y_lengths_differ_is_named():
    data = batches(X, Y)
    data[1] = (data[1][0], data[1][1][:5])
    m = binary_model()
    with pytest.raises(DataError, match=r"`x batch 1` x and y to have the same number of samples"):
        m.fit(data, epochs=1, verbose=0)
    with pytest.raises(DataError, match="batch 0"):
        m.evaluate([(torch.ones(3, 4), torch.ones(1))], verbose=0)


def test_steps_per_epoch_beyond_a_list_of_batches_warns_that_it_is_read_again():
    m = binary_model()
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        m.fit(batches(X, Y), steps_per_epoch=6, epochs=2, verbose=0)
    messages = ran_out(record)
    assert len(messages) == 1 and "read again" in messages[0]
    assert m.run.step == 12


def test_validation_steps_beyond_a_list_of_batches_warn():
    m = binary_model()
    with pytest.warns(RuntimeWarning, match=r"validation_steps=9.*only 4 steps run"):
        m.fit(X, Y, validation_data=batches(X, Y), validation_steps=9, epochs=1, verbose=0)
