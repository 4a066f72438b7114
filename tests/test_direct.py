"""`epochal._direct`: layers called through ``forward`` directly only where nothing can tell."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import torch
from torch import nn

import epochal as ep
from epochal._direct import Forward, direct_calls, hooks_active, plain
from epochal.callbacks import Callback


@contextmanager
def counting_module_calls() -> Iterator[list[str]]:
    """Records the class name of every module called through torch's ``_call_impl``."""
    seen: list[str] = []
    code = nn.Module._call_impl.__code__

    def profile(frame: Any, event: str, arg: Any) -> None:
        if event == "call" and frame.f_code is code:
            seen.append(type(frame.f_locals["self"]).__name__)

    sys.setprofile(profile)
    try:
        yield seen
    finally:
        sys.setprofile(None)


def _net() -> nn.Sequential:
    torch.manual_seed(0)
    inner = nn.Sequential(nn.Linear(8, 8), nn.Tanh())
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), inner, nn.Linear(8, 1))


def test_direct_calls_skip_call_impl_and_give_the_same_bits() -> None:
    net = _net()
    x = torch.randn(16, 4)
    forward = Forward([net], spread=True)
    with counting_module_calls() as slow_calls:
        slow = forward(x)
    with forward.direct(), counting_module_calls() as fast_calls:
        fast = forward(x)
    assert slow_calls == ["Sequential", "Linear", "ReLU", "Sequential", "Linear", "Tanh", "Linear"]
    assert fast_calls == []  # nested Sequentials opened, every layer's forward called directly
    assert torch.equal(slow, fast) and torch.equal(fast, net(x))
    assert forward.call is forward.slow  # back to __call__ after the block


@pytest.mark.parametrize(
    "register",
    [
        lambda m: m.register_forward_hook(lambda mod, i, o: None),
        lambda m: m.register_forward_pre_hook(lambda mod, i: None),
        lambda m: m.register_full_backward_hook(lambda mod, gi, go: None),
        lambda m: m.register_full_backward_pre_hook(lambda mod, go: None),
    ],
    ids=["forward", "forward_pre", "backward", "backward_pre"],
)
def test_a_module_with_hooks_is_called_through_call(register: Callable[[nn.Module], Any]) -> None:
    net = _net()
    register(net[2])  # the nested Sequential
    assert not plain(net[2]) and plain(net[0])
    forward = Forward([net], spread=True)
    with forward.direct(), counting_module_calls() as calls:
        forward(torch.randn(2, 4))
    # the hooked container runs whole (its layers inside it, as torch calls them)
    assert calls == ["Sequential", "Linear", "Tanh"]


def test_a_hook_on_the_outer_container_keeps_every_call() -> None:
    net = _net()
    seen: list[torch.Size] = []
    net.register_forward_hook(lambda mod, i, o: seen.append(o.shape))
    forward = Forward([net], spread=True)
    with forward.direct():
        forward(torch.randn(3, 4))
    assert seen == [torch.Size([3, 1])]


def test_a_global_hook_turns_direct_calls_off() -> None:
    net = _net()
    seen: list[str] = []
    handle = nn.modules.module.register_module_forward_hook(
        lambda mod, i, o: seen.append(type(mod).__name__)
    )
    try:
        assert hooks_active()
        forward = Forward([net], spread=True)
        with forward.direct():
            assert forward.call is forward.slow
            forward(torch.randn(2, 4))
    finally:
        handle.remove()
    assert seen.count("Linear") == 3 and not hooks_active()


def test_a_compiled_module_and_an_own_call_are_not_plain() -> None:
    class OwnCall(nn.Linear):
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            return super().__call__(*args, **kwargs) * 2

    compiled = nn.Linear(2, 2)
    compiled.compile()  # compiles lazily, at its first call: nothing is compiled here
    assert not plain(compiled) and not plain(OwnCall(2, 2))
    own = OwnCall(2, 2)
    forward = Forward([nn.Sequential(own)], spread=True)
    x = torch.randn(1, 2)
    with forward.direct():
        assert torch.equal(forward(x), own(x))


def test_a_sequential_with_its_own_forward_is_not_opened() -> None:
    class Doubling(nn.Sequential):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return super().forward(x) * 2

    net = Doubling(nn.Linear(2, 2))
    forward = Forward([net], spread=True)
    x = torch.randn(3, 2)
    with forward.direct():
        assert torch.equal(forward(x), net(x))


def test_tuple_and_dict_inputs_are_spread_on_the_direct_path() -> None:
    class Two(nn.Module):
        def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
            return a - b

    forward = Forward([Two()], spread=True)
    a, b = torch.ones(2), torch.zeros(2)
    with forward.direct():
        assert torch.equal(forward((a, b)), a) and torch.equal(forward({"a": b, "b": a}), -a)


def test_direct_calls_leave_other_callables_alone() -> None:
    fn = nn.Linear(2, 2)
    with direct_calls(fn):
        pass  # no error, nothing to switch


class _HookAtBatch(Callback):
    """Registers a forward hook on a layer at a given batch of the first epoch."""

    def __init__(self, layer: nn.Module, at: int, hook_name: str) -> None:
        super().__init__()
        self.layer, self.at, self.hook_name = layer, at, hook_name
        self.seen: list[int] = []
        self.handle: Any = None

    def _maybe_register(self, batch: int) -> None:
        if batch == self.at and self.handle is None:
            self.handle = self.layer.register_forward_hook(
                lambda mod, i, o: self.seen.append(o.shape[0])
            )

    def on_train_batch_begin(self, batch: int, logs: Any = None) -> None:
        if self.hook_name == "train":
            self._maybe_register(batch)

    def on_test_batch_begin(self, batch: int, logs: Any = None) -> None:
        if self.hook_name == "test":
            self._maybe_register(batch)


@pytest.mark.parametrize("where", ["train", "test"])
def test_a_hook_registered_by_a_callback_mid_loop_runs_from_the_next_batch(where: str) -> None:
    net = _net()
    model = ep.Model(net)
    model.compile(optimizer="sgd", loss="mse", seed=0)
    x, y = torch.randn(40, 4), torch.randn(40, 1)
    hook = _HookAtBatch(net[3], at=2, hook_name=where)
    if where == "train":
        model.fit(x, y, epochs=1, batch_size=8, verbose=0, callbacks=[hook])
    else:
        model.evaluate(x, y, batch_size=8, verbose=0, callbacks=[hook])
    assert hook.seen == [8, 8, 8]  # batches 2, 3 and 4 of five


def test_training_through_direct_calls_ends_with_the_bits_of_hooked_calls() -> None:
    def run(hooked: bool) -> tuple[list[torch.Tensor], dict[str, list[float]]]:
        net = _net()
        if hooked:  # a no-op hook on every layer: every call through __call__
            for layer in net.modules():
                layer.register_forward_hook(lambda mod, i, o: None)
        model = ep.Model(net)
        model.compile(optimizer="adam", loss="mse", metrics=["mae"], seed=3)
        g = torch.Generator().manual_seed(1)
        x, y = torch.randn(64, 4, generator=g), torch.randn(64, 1, generator=g)
        history = model.fit(x, y, epochs=3, batch_size=16, validation_split=0.25, verbose=0)
        return [p.detach().clone() for p in net.parameters()], history.history

    fast_weights, fast_history = run(False)
    slow_weights, slow_history = run(True)
    assert all(torch.equal(a, b) for a, b in zip(fast_weights, slow_weights, strict=True))
    assert fast_history == slow_history


def test_the_engine_forward_is_back_on_call_after_fit() -> None:
    net = _net()
    model = ep.Model(net)
    model.compile(optimizer="sgd", loss="mse", seed=0)
    x, y = torch.randn(16, 4), torch.randn(16, 1)
    model.fit(x, y, epochs=1, verbose=0)
    model.evaluate(x, y, verbose=0)
    forward = model._trainer.engine.forward  # type: ignore[union-attr]
    assert isinstance(forward, Forward) and forward.call is forward.slow
    seen: list[int] = []
    net[0].register_forward_hook(lambda mod, i, o: seen.append(1))
    model.train_on_batch(x, y)  # called outside an epoch: through __call__, the hook runs
    assert seen == [1]


def test_a_head_split_off_still_calls_its_layers_directly() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Sequential(nn.Linear(8, 1), nn.Sigmoid()))
    model = ep.Model(net)
    model.compile(optimizer="sgd", loss="binary_crossentropy", metrics=["accuracy"], seed=0)
    x, y = torch.randn(16, 4), (torch.rand(16, 1) > 0.5).float()
    model.fit(x, y, epochs=1, verbose=0)
    forward = model._trainer.engine.forward  # type: ignore[union-attr]
    with forward.direct(), counting_module_calls() as calls:
        logits = forward(x)
    assert calls == []
    with torch.no_grad():
        assert torch.allclose(torch.sigmoid(logits), net(x))


def test_an_evaluate_inside_a_training_epoch_leaves_the_epoch_on_direct_calls() -> None:
    net = _net()
    model = ep.Model(net)
    model.compile(optimizer="sgd", loss="mse", seed=0)
    x, y = torch.randn(32, 4), torch.randn(32, 1)
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)  # binds (the probe calls __call__)
    model.evaluate(x, y, batch_size=8, verbose=0)
    seen: list[dict[str, float]] = []

    class EvaluateEachBatch(Callback):
        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            seen.append(model.evaluate(x, y, batch_size=8, verbose=0))  # type: ignore[arg-type]

    with counting_module_calls() as calls:
        model.fit(x, y, epochs=1, batch_size=8, verbose=0, callbacks=[EvaluateEachBatch()])
    assert len(seen) == 4 and calls == []  # the steps after each evaluate too
    forward = model._trainer.engine.forward  # type: ignore[union-attr]
    assert forward.depth == 0 and forward.call is forward.slow
