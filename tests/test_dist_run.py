"""epochal._dist_run in one process: shares, loss scale, rank-0 filtering, refusals."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import epochal as ep
from epochal import _dist_run
from epochal import distributed as d
from epochal.callbacks.progress import ProgbarLogger
from epochal.data import Batch
from epochal.errors import ArgumentError


def _state(rank: int, size: int) -> _dist_run.DistStep:
    return _dist_run.DistStep(world=d.World(rank=rank, size=size), ddp=nn.Identity())


def test_each_rank_takes_its_contiguous_share_and_scale():
    x = torch.arange(10.0).reshape(5, 2)
    y = torch.arange(5.0)
    state = _state(1, 2)
    (batch,) = _dist_run.shard_batches(iter([Batch(x, y, None, 5)]), state)
    assert batch.size == 2
    assert torch.equal(batch.x, x[3:5]) and torch.equal(batch.y, y[3:5])
    assert state.scale == pytest.approx(2 * 2 / 5)


def test_an_empty_share_carries_one_row_with_zero_scale():
    x = torch.ones(1, 3)
    state = _state(1, 2)
    (batch,) = _dist_run.shard_batches(iter([Batch(x, {"a": x}, torch.ones(1), 1)]), state)
    assert batch.size == 0 and batch.x.shape == (1, 3) and batch.y["a"].shape == (1, 3)
    assert state.scale == 0.0


@pytest.mark.parametrize("rows,size", [(8, 2), (5, 2), (7, 3), (1, 2), (2, 4)])
@pytest.mark.parametrize("weighted", [False, True])
def test_averaged_scaled_gradients_equal_the_global_batch_gradient(rows, size, weighted):
    """What DDP averages over the ranks is the one-process gradient of the batch mean."""
    torch.manual_seed(0)
    layer = nn.Linear(3, 1)
    x, y = torch.randn(rows, 3), torch.randn(rows, 1)
    sw = torch.rand(rows) if weighted else None
    loss_fn = ep.losses.build_loss(ep.losses.get("mse"), logits=False)
    loss_fn(layer(x), y, sw).backward()
    expected = layer.weight.grad.clone()
    total = torch.zeros_like(expected)
    for rank in range(size):
        layer.zero_grad()
        state = _state(rank, size)
        (b,) = _dist_run.shard_batches(iter([Batch(x, y, sw, rows)]), state)
        loss = _dist_run._GradScale.apply(loss_fn(layer(b.x), b.y, b.sample_weight), state.scale)
        loss.backward()
        total += layer.weight.grad
    torch.testing.assert_close(total / size, expected)


def test_the_scaled_loss_keeps_its_value():
    loss = torch.tensor(0.123456789, requires_grad=True)
    out = _dist_run._GradScale.apply(loss, 0.25)
    assert out.item() == loss.item()
    out.backward()
    assert loss.grad.item() == 0.25


def test_ranks_but_zero_drop_the_callbacks_that_print_or_write(monkeypatch, tmp_path):
    keep = ep.EarlyStopping(monitor="loss")
    cbs = [ep.CSVLogger(str(tmp_path / "a.csv")), keep, ProgbarLogger(1)]
    assert _dist_run.rank_zero_only(cbs) == cbs
    monkeypatch.setattr(d, "world", lambda: d.World(rank=1, size=2))
    assert _dist_run.rank_zero_only(cbs) == [keep]


def test_fit_on_several_processes_refuses_an_iterable_of_batches(monkeypatch):
    model = ep.Model(nn.Linear(2, 1), device="cpu")
    model.compile(optimizer="sgd", loss="mse", seed=0)
    batches = [(torch.randn(4, 2), torch.randn(4, 1)) for _ in range(3)]
    monkeypatch.setattr(d, "world", lambda: d.World(rank=0, size=2))
    with pytest.raises(ArgumentError, match="map-style Dataset"):
        model.fit(batches, epochs=1, verbose=0)
    assert model.run.step == 0


def test_sync_batchnorm_converts_the_module_and_keeps_its_keys():
    module = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 1))
    keys = list(module.state_dict())
    model = ep.Model(module, device="cpu", sync_batchnorm=True)
    assert isinstance(model.module[1], nn.SyncBatchNorm)
    assert list(model.module.state_dict()) == keys
    model.compile(optimizer="sgd", loss="mse", seed=0)
    model.fit(torch.randn(16, 3), torch.randn(16, 1), epochs=1, batch_size=8, verbose=0)
    assert model.run.step == 2


def test_sync_batchnorm_on_several_cpu_processes_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(d, "world", lambda: d.World(rank=0, size=2))
    with pytest.raises(ArgumentError, match="needs CUDA"):
        ep.Model(nn.BatchNorm1d(3), device="cpu", sync_batchnorm=True)
    with pytest.raises(ep.errors.ArgumentTypeError, match="sync_batchnorm"):
        ep.Model(nn.BatchNorm1d(3), device="cpu", sync_batchnorm="yes")


def test_a_bare_cuda_device_under_torchrun_is_the_local_rank_gpu(monkeypatch):
    from epochal import model as model_mod

    monkeypatch.setattr(d, "setup", lambda: d.World(rank=3, size=4, local_rank=1))
    assert model_mod._device("cuda") == torch.device("cuda", 1)
    assert model_mod._device("cuda:0") == torch.device("cuda", 0)
    assert model_mod._device("cpu") == torch.device("cpu")
