"""`epochal._lean`: torch's per-step calls without their Python overhead, same results."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.optim.optimizer import (
    register_optimizer_step_post_hook,
    register_optimizer_step_pre_hook,
)

from epochal import _lean


def _net(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))


def _batch() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    return torch.randn(16, 4, generator=gen), torch.randn(16, 1, generator=gen)


@pytest.mark.parametrize("fused", [False, True])
def test_lean_steps_end_bit_equal_to_torch_calls(fused: bool) -> None:
    x, y = _batch()
    plain, lean = _net(), _net()
    opt_plain = torch.optim.Adam(plain.parameters(), lr=1e-2, fused=fused)
    opt_lean = torch.optim.Adam(lean.parameters(), lr=1e-2, fused=fused)
    step = _lean.stepper(opt_lean)
    for _ in range(5):
        loss = nn.functional.mse_loss(plain(x), y)
        opt_plain.zero_grad(set_to_none=True)
        loss.backward()
        opt_plain.step()
        loss = nn.functional.mse_loss(lean(x), y)
        _lean.clear_grads(opt_lean)
        _lean.backward(loss)
        step()
    for a, b in zip(plain.parameters(), lean.parameters(), strict=True):
        assert torch.equal(a, b)
    assert torch.equal(
        opt_plain.state_dict()["state"][0]["exp_avg"], opt_lean.state_dict()["state"][0]["exp_avg"]
    )


def test_clear_grads_sets_none_and_respects_an_overridden_zero_grad() -> None:
    net = _net()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    x, y = _batch()
    nn.functional.mse_loss(net(x), y).backward()
    _lean.clear_grads(opt)
    assert all(p.grad is None for p in net.parameters())

    calls = []

    class Counting(torch.optim.SGD):
        def zero_grad(self, set_to_none: bool = True) -> None:
            calls.append(set_to_none)
            super().zero_grad(set_to_none)

    _lean.clear_grads(Counting(net.parameters(), lr=0.1))
    assert calls == [True]


def test_backward_falls_back_for_what_it_does_not_handle() -> None:
    leaf = torch.ones((), requires_grad=True)
    _lean.backward(leaf)  # a leaf loss: torch's own backward
    assert leaf.grad is not None and float(leaf.grad) == 1.0
    w = torch.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="scalar"):
        _lean.backward(w * 2)  # a non-scalar needs a gradient: torch's own error


def test_backward_accumulates_like_torch() -> None:
    x, y = _batch()
    a, b = _net(), _net()
    for _ in range(2):  # two backward passes add up, as with loss.backward()
        nn.functional.mse_loss(a(x), y).backward()
        _lean.backward(nn.functional.mse_loss(b(x), y))
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(p.grad, q.grad)


def test_stepper_runs_hooks_in_torchs_order_with_new_arguments() -> None:
    net = _net()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    seen: list[str] = []

    def global_pre(o, args, kwargs):
        seen.append("global-pre")

    def pre(o, args, kwargs):
        seen.append("pre")
        return args, {**kwargs, "closure": lambda: seen.append("closure") or torch.zeros(())}

    def post(o, args, kwargs):
        seen.append(f"post:{sorted(kwargs)}")

    def global_post(o, args, kwargs):
        seen.append("global-post")

    handles = [
        register_optimizer_step_pre_hook(global_pre),
        register_optimizer_step_post_hook(global_post),
        opt.register_step_pre_hook(pre),
        opt.register_step_post_hook(post),
    ]
    try:
        _lean.stepper(opt)()
    finally:
        for handle in handles:
            handle.remove()
    assert seen == ["global-pre", "pre", "closure", "post:['closure']", "global-post"]


def test_stepper_refuses_a_bad_pre_hook_result_as_torch_does() -> None:
    opt = torch.optim.SGD(_net().parameters(), lr=0.1)
    opt.register_step_pre_hook(lambda o, a, k: "nonsense")
    with pytest.raises(RuntimeError, match="must return None or a tuple"):
        _lean.stepper(opt)()


def test_under_the_profiler_torchs_own_calls_run() -> None:
    x, y = _batch()
    net = _net()
    opt = torch.optim.Adam(net.parameters())
    step = _lean.stepper(opt)
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        loss = nn.functional.mse_loss(net(x), y)
        _lean.clear_grads(opt)
        _lean.backward(loss)
        step()
    names = {event.key for event in prof.key_averages()}
    assert "Optimizer.step#Adam.step" in names
    assert "Optimizer.zero_grad#Adam.zero_grad" in names


def test_an_optimizer_without_torchs_wrapper_is_stepped_directly() -> None:
    class Plain:
        def __init__(self) -> None:
            self.steps = 0

        def step(self) -> None:
            self.steps += 1

    plain = Plain()
    _lean.stepper(plain)()  # type: ignore[arg-type]
    assert plain.steps == 1


def test_a_learning_rate_scheduler_sees_the_step_taken() -> None:
    import warnings

    net = _net()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    step = _lean.stepper(opt)  # built before the scheduler patches the instance
    scheduler = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    x, y = _batch()
    nn.functional.mse_loss(net(x), y).backward()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch warns when scheduler.step() comes first
        step()
        scheduler.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.05)


def test_an_instance_step_patched_by_the_user_is_called() -> None:
    net = _net()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    calls = []
    original = opt.step

    def patched(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    opt.step = patched  # type: ignore[method-assign]
    _lean.stepper(opt)()
    assert calls == [1]


def test_a_complex_loss_gets_torchs_own_error() -> None:
    w = torch.ones(2, dtype=torch.complex64, requires_grad=True)
    with pytest.raises(RuntimeError, match="real scalar"):
        _lean.backward((w * 2).sum())


def test_a_zero_grad_replaced_on_the_instance_is_called() -> None:
    opt = torch.optim.SGD(_net().parameters(), lr=0.1)
    calls = []
    original = opt.zero_grad

    def counting(set_to_none: bool = True) -> None:
        calls.append(set_to_none)
        original(set_to_none)

    opt.zero_grad = counting  # type: ignore[method-assign]
    _lean.clear_grads(opt)
    assert calls == [True]
