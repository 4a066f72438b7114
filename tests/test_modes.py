"""`epochal._modes.evaluating`: eval mode for evaluate/predict, each submodule's mode given back."""

from __future__ import annotations

import torch
from torch import nn

import epochal as ep
from epochal._modes import evaluating


def _net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Dropout(0.5), nn.Linear(8, 1))


def test_mixed_modes_come_back_as_they_were() -> None:
    net = _net()
    net.train()
    net[1].eval()  # a frozen batch norm inside a training model, as in fine-tuning
    before = [m.training for m in net.modules()]
    with evaluating(net):
        assert not any(m.training for m in net.modules())
    assert [m.training for m in net.modules()] == before


def test_modes_come_back_after_an_error() -> None:
    net = _net()
    try:
        with evaluating(net):
            raise ValueError("boom")
    except ValueError:
        pass
    assert all(m.training for m in net.modules())


def test_a_model_in_eval_mode_is_not_switched() -> None:
    calls: list[bool] = []

    class Counting(nn.Sequential):
        def train(self, mode: bool = True) -> Counting:
            calls.append(mode)
            return super().train(mode)

    net = Counting(nn.Linear(2, 2))
    net.eval()
    calls.clear()
    with evaluating(net):
        pass
    assert calls == [] and not net.training


def test_predict_and_evaluate_keep_a_frozen_batch_norm_frozen() -> None:
    net = _net()
    model = ep.Model(net)
    model.compile(optimizer="adam", loss="mse", seed=0)
    x, y = torch.randn(32, 4), torch.randn(32, 1)
    model.fit(x, y, epochs=1, verbose=0)
    net[1].eval()
    stats = net[1].running_mean.clone()
    model.predict(x, verbose=0)
    model.evaluate(x, y, verbose=0)
    assert net.training and not net[1].training and net[2].training
    assert torch.equal(net[1].running_mean, stats)
