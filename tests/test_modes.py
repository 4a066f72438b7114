"""`epochal._modes.evaluating`: eval mode for evaluate/predict, each submodule's mode given back."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

import epochal as ep
from epochal._modes import evaluating, keeps_nothing


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


# -- autograd off: inference mode only where no tensor can leak ---------------


def _compiled(net: nn.Module, loss: str = "mse") -> ep.Model:
    model = ep.Model(net)
    model.compile(optimizer="adam", loss=loss, seed=0)
    return model


def test_torch_modules_keep_nothing_and_others_may() -> None:
    from epochal import layers

    assert keeps_nothing(list(_net().modules()))
    assert not keeps_nothing([nn.LSTM(2, 2)])  # cuDNN re-flattens weights in forward
    assert not keeps_nothing([nn.LazyLinear(2)])  # makes its weights at the first call

    class Custom(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x

    assert not keeps_nothing([Custom()])
    hooked = nn.Linear(2, 2)
    hooked.register_forward_hook(lambda m, i, o: None)
    assert not keeps_nothing([hooked])
    assert keeps_nothing([layers.Dense(2, input_shape=(3,))])
    assert not keeps_nothing([layers.Dense(2)])  # not built yet


def test_evaluating_without_grad_picks_inference_mode_only_when_asked_and_safe() -> None:
    net = _net()
    with evaluating(net, grad=False, inference=True):
        assert torch.is_inference_mode_enabled()
    with evaluating(net, grad=False):
        assert not torch.is_inference_mode_enabled() and not torch.is_grad_enabled()
    net[0].register_forward_hook(lambda m, i, o: None)
    with evaluating(net, grad=False, inference=True):
        assert not torch.is_inference_mode_enabled() and not torch.is_grad_enabled()
    assert torch.is_grad_enabled()


def test_predict_returns_ordinary_tensors() -> None:
    model = _compiled(_net())
    for rows in (5, 70):  # one batch, several
        out = model.predict(torch.randn(rows, 4), verbose=0)
        assert isinstance(out, torch.Tensor) and not out.is_inference()
        out.add_(1)  # an inference tensor would refuse this outside inference mode


def test_predict_with_several_outputs_returns_ordinary_tensors() -> None:
    class TwoHeads(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b = nn.Linear(4, 1), nn.Linear(4, 2)

        def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
            return {"a": self.a(x), "b": self.b(x)}

    out = ep.Model(TwoHeads()).predict(torch.randn(3, 4), verbose=0)
    assert not any(t.is_inference() for t in out.values())


class _Remembers(nn.Module):
    """Keeps its last hidden activation and feeds it into the next call (a user's cache)."""

    def __init__(self) -> None:
        super().__init__()
        self.inp, self.out = nn.Linear(4, 8), nn.Linear(8, 1)
        self.memory: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.inp(x))
        if self.memory is not None and self.memory.shape == h.shape:
            h = h * self.memory  # the kept tensor is saved for backward in training
        self.memory = h.detach()
        return self.out(h)


def test_a_model_keeping_a_tensor_from_evaluate_still_trains() -> None:
    torch.manual_seed(0)
    model = _compiled(_Remembers())
    x, y = torch.randn(32, 4), torch.randn(32, 1)
    model.evaluate(x, y, batch_size=32, verbose=0)
    model.predict(x, batch_size=32, verbose=0)
    model.fit(x, y, epochs=1, batch_size=32, verbose=0)  # would raise on an inference tensor


def test_a_hook_capturing_activations_in_evaluate_gets_ordinary_tensors() -> None:
    net = _net()
    captured: list[torch.Tensor] = []
    net[0].register_forward_hook(lambda m, i, o: captured.append(o))
    model = _compiled(net)
    model.evaluate(torch.randn(8, 4), torch.randn(8, 1), verbose=0)
    model.predict(torch.randn(8, 4), verbose=0)
    assert captured and not any(t.is_inference() for t in captured)


def test_evaluate_in_inference_mode_leaves_the_model_trainable_and_equal() -> None:
    def run(hooked: bool) -> tuple[dict[str, float], list[torch.Tensor]]:
        net = _net()
        if hooked:  # a no-op hook: evaluate runs under no_grad instead
            net[3].register_forward_hook(lambda m, i, o: None)
        model = _compiled(net)
        g = torch.Generator().manual_seed(0)
        x, y = torch.randn(48, 4, generator=g), torch.randn(48, 1, generator=g)
        model.evaluate(x, y, batch_size=16, verbose=0)
        model.fit(x, y, epochs=2, batch_size=16, verbose=0)
        logs = model.evaluate(x, y, batch_size=16, verbose=0)
        assert not any(t.is_inference() for t in [*net.parameters(), *net.buffers()])
        return logs, [p.detach().clone() for p in net.parameters()]

    fast_logs, fast_weights = run(False)
    slow_logs, slow_weights = run(True)
    assert fast_logs == slow_logs
    assert all(torch.equal(a, b) for a, b in zip(fast_weights, slow_weights, strict=True))


def test_a_predict_batch_callback_gets_ordinary_tensors() -> None:
    from epochal.callbacks import Callback

    got: list[torch.Tensor] = []

    class Keep(Callback):
        def on_predict_batch_end(self, batch: int, logs: Any = None) -> None:
            got.append(logs["outputs"])

    _compiled(_net()).predict(torch.randn(40, 4), batch_size=16, verbose=0, callbacks=[Keep()])
    assert len(got) == 3 and not any(t.is_inference() for t in got)


def test_a_submodule_made_during_the_block_takes_its_parents_mode() -> None:
    inner = nn.Sequential(nn.Linear(2, 2))
    net = nn.Sequential(nn.Linear(2, 2), inner)
    net.train()
    inner.eval()  # frozen part
    with evaluating(net):
        net.add_module("late", nn.Dropout())  # as a lazy layer's children appear
        inner.add_module("late", nn.Dropout())
    assert net.training and net.late.training and net[0].training
    assert not inner.training and not inner.late.training and not inner[0].training


def test_submodules_walks_like_modules_with_shared_and_missing_children() -> None:
    from epochal._modes import submodules

    shared = nn.Linear(2, 2)
    inner = nn.Sequential(nn.ReLU(), shared)
    net = nn.Sequential(nn.Linear(2, 2), shared, inner, nn.Sequential(inner, nn.Tanh()))
    net.register_module("missing", None)
    assert submodules(net) == list(net.modules())


class _RecordsMode:
    """Wraps `evaluating.__enter__` to record whether each block runs in inference mode."""

    def __init__(self, monkeypatch: Any) -> None:
        self.seen: list[bool] = []
        original = evaluating.__enter__

        def enter(block: evaluating) -> None:
            original(block)
            self.seen.append(torch.is_inference_mode_enabled())

        monkeypatch.setattr(evaluating, "__enter__", enter)


def test_evaluate_with_epochal_loss_and_metrics_runs_in_inference_mode(monkeypatch: Any) -> None:
    model = ep.Model(_net())
    model.compile(optimizer="adam", loss="mse", metrics=["mae"], seed=0)
    x, y = torch.randn(16, 4), torch.randn(16, 1)
    model.fit(x, y, epochs=1, verbose=0)
    model.predict(x, verbose=0)  # prepares x for predict (its probe runs in eval mode only)
    record = _RecordsMode(monkeypatch)
    model.evaluate(x, y, verbose=0)
    model.predict(x, verbose=0)
    assert record.seen == [True, True]


class _RunningScale:
    """A user's loss keeping a running scale it divides by (a tensor kept across calls)."""

    def __init__(self) -> None:
        self.scale = torch.ones(())
        self.__name__ = "running_scale"

    def __call__(self, y_pred: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
        err = (y_pred - y_true.reshape(y_pred.shape)).square().mean()
        loss = err / self.scale  # the kept tensor is saved for backward
        self.scale = 0.9 * self.scale + 0.1 * err.detach()
        return loss


def test_a_users_loss_keeping_a_tensor_in_evaluate_still_trains(monkeypatch: Any) -> None:
    record = _RecordsMode(monkeypatch)
    model = ep.Model(_net())
    model.compile(optimizer="adam", loss=_RunningScale(), seed=0)
    x, y = torch.randn(16, 4), torch.randn(16, 1)
    model.fit(x, y, epochs=1, verbose=0)
    record.seen.clear()
    model.evaluate(x, y, verbose=0)  # user code in the loop: no-grad, not inference mode
    assert record.seen == [False]
    model.fit(x, y, epochs=1, verbose=0)  # would raise on an inference tensor


def test_a_users_metric_keeps_evaluate_out_of_inference_mode(monkeypatch: Any) -> None:
    def fraction_positive(y_pred: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
        return (y_pred > 0).float().mean()

    model = ep.Model(_net())
    model.compile(optimizer="adam", loss="mse", metrics=[fraction_positive], seed=0)
    x, y = torch.randn(16, 4), torch.randn(16, 1)
    model.fit(x, y, epochs=1, verbose=0)
    record = _RecordsMode(monkeypatch)
    logs = model.evaluate(x, y, verbose=0)
    assert record.seen == [False] and "fraction_positive" in logs


class _CachingDataset(torch.utils.data.Dataset):
    """A user's Dataset that keeps each item it made (a common memoizing pattern)."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.x, self.y = x, y
        self.cache: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        if i not in self.cache:
            self.cache[i] = (self.x[i] * 1.0, self.y[i] * 1.0)  # made in whatever mode runs
        return self.cache[i]


@pytest.mark.parametrize("first", ["evaluate", "predict"])
def test_a_dataset_keeping_its_items_from_evaluate_still_trains(first: str) -> None:
    torch.manual_seed(0)
    data = _CachingDataset(torch.randn(24, 4), torch.randn(24, 1))
    model = _compiled(_net())
    if first == "evaluate":
        model.evaluate(data, batch_size=8, verbose=0)
    else:
        model.predict(data, batch_size=8, verbose=0)
    assert not any(t.is_inference() for pair in data.cache.values() for t in pair)
    model.fit(data, epochs=1, batch_size=8, verbose=0)  # would raise on inference tensors
