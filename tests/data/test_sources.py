"""Batch sources: device-resident slicing, epoch order as a pure function, jumping to a batch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from epochal.callbacks.history import History
from epochal.data import ArraySource, make_source
from epochal.errors import DataError
from epochal.run import RunState, derive_seed


def source(n: int) -> ArraySource:
    x = torch.arange(n, dtype=torch.float32)[:, None]
    out = make_source(x, torch.arange(n), device=torch.device("cpu"), batch_size=4)
    assert isinstance(out, ArraySource)
    return out


@settings(max_examples=50, deadline=None)
@given(
    n=st.integers(1, 200),
    batch=st.integers(1, 64),
    seed=st.integers(0, 2**31),
    epoch=st.integers(0, 100),
    start=st.integers(0, 10),
)
def test_an_epoch_covers_every_sample_once_and_resumes_at_any_batch(n, batch, seed, epoch, start):
    src = source(n)
    run = RunState(seed=seed, history=History())
    order = run.epoch_order(epoch, n, torch.device("cpu"))
    assert torch.equal(order, run.epoch_order(epoch, n, torch.device("cpu")))  # pure function
    full = [b.x[:, 0].long() for b in src.batches(batch, order=order)]
    assert torch.equal(torch.cat(full).sort().values, torch.arange(n))
    assert [len(b) for b in full[:-1]] == [batch] * (len(full) - 1)
    start = min(start, len(full))
    tail = [b.x[:, 0].long() for b in src.batches(batch, order=order, start=start)]
    assert all(torch.equal(a, b) for a, b in zip(tail, full[start:], strict=True))


def test_orders_differ_by_epoch_and_seed():
    a = RunState(seed=1, history=History())
    b = RunState(seed=2, history=History())
    dev = torch.device("cpu")
    assert not torch.equal(a.epoch_order(0, 100, dev), a.epoch_order(1, 100, dev))
    assert not torch.equal(a.epoch_order(0, 100, dev), b.epoch_order(0, 100, dev))


def test_derive_seed_is_stable_across_processes():
    # A fixed value: the order of a run must not depend on Python's hash salt.
    assert derive_seed(0, "shuffle", 3) == 4635458866494331804
    assert derive_seed(0, "shuffle", 4) != derive_seed(0, "shuffle", 3)
    assert 0 <= derive_seed(123, "x") < 2**63


def test_unshuffled_batches_are_views_without_copies():
    src = source(10)
    first = next(src.batches(4))
    assert first.x.data_ptr() == src.x.data_ptr()


def test_float64_becomes_float32_and_integers_stay():
    src = make_source(
        np.zeros((3, 2)), np.array([0, 1, 2]), device=torch.device("cpu"), batch_size=2
    )
    assert src.x.dtype == torch.float32 and src.y.dtype == torch.int64


def test_lists_of_numbers_and_bools_are_accepted():
    src = make_source([[1, 2], [3, 4]], [True, False], device=torch.device("cpu"), batch_size=2)
    assert src.y.dtype == torch.float32


def test_scalar_input_is_a_clear_error():
    with pytest.raises(DataError, match="batch dimension"):
        make_source(np.array(1.0), np.array(1.0), device=torch.device("cpu"), batch_size=2)


@pytest.mark.parametrize(("device", "pinned"), [("cpu", False), ("cuda", True)])
def test_map_datasets_are_collated_into_pinned_memory_for_cuda(device: str, pinned: bool) -> None:
    # Only the loader's setting is read: this runs without a GPU.
    from torch.utils.data import TensorDataset

    from epochal.data import IterableSource

    data = TensorDataset(torch.zeros(10, 2), torch.zeros(10))
    source = IterableSource(data, torch.device(device), batch_size=4, name="x")
    loader = source._loader(None, 0)
    assert loader.pin_memory is pinned
