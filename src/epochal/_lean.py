"""torch's per-step entry points without their per-call Python overhead.

A training step on a small model spends a fifth of its time in Python
around the work: ``optimizer.zero_grad`` opens a profiler range and a
``torch._dynamo`` guard; ``Tensor.backward`` checks its arguments and builds
the seed gradient through several helpers; ``optimizer.step`` opens another
profiler range around the step hooks. The three functions here do the same
work with the same results, bit for bit, and less around it:

- `clear_grads` sets every gradient of the optimizer's parameters to None,
  which is what torch's ``zero_grad()`` does (``set_to_none=True``);
- `backward` hands the loss and its seed gradient (ones) straight to
  torch's autograd engine, through the same internal entry point
  ``Tensor.backward`` ends in;
- `step` runs the optimizer's step pre-hooks, its undecorated ``step`` and
  its post-hooks in the order torch's wrapper does (and marks the step as
  taken for a learning-rate scheduler, as the scheduler's own wrapper does).

Each falls back to torch's own call whenever the shortcut could differ:
while torch's profiler records (its ranges are then kept), for a loss that
is a tensor subclass or a leaf, for an optimizer whose class overrides
``zero_grad``, whose ``step`` is not torch's hook wrapper or whose instance
has a ``zero_grad`` or a ``step`` of its own (other than a learning-rate
scheduler's marker), and on a torch without these internals.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import chain
from typing import Any

import torch

__all__ = ["backward", "clear_grads", "stepper"]

try:  # torch's internals behind Tensor.backward and Optimizer.step (torch >= 2.3)
    from torch.autograd.graph import _engine_run_backward
    from torch.optim.optimizer import _global_optimizer_post_hooks, _global_optimizer_pre_hooks

    # Whether a profiler records (torch.profiler or torch.autograd.profiler):
    # then torch's own calls run, so the profile keeps their named ranges.
    _profiler_on: Callable[[], bool] = torch._C._autograd._profiler_enabled
    _AVAILABLE = True
except (ImportError, AttributeError):  # pragma: no cover - older or newer torch
    _AVAILABLE = False


def clear_grads(optimizer: torch.optim.Optimizer) -> None:
    """``optimizer.zero_grad(set_to_none=True)``, without the profiler range around it."""
    if (
        not _AVAILABLE
        or type(optimizer).zero_grad is not torch.optim.Optimizer.zero_grad
        or "zero_grad" in optimizer.__dict__  # replaced on the instance: call it
        or _profiler_on()
    ):
        optimizer.zero_grad(set_to_none=True)
        return
    for group in optimizer.param_groups:
        for p in group["params"]:
            p.grad = None


def backward(loss: torch.Tensor) -> None:
    """``loss.backward()`` for a scalar loss: the same engine call, without the argument checks."""
    if (
        not _AVAILABLE
        or type(loss) is not torch.Tensor
        or loss.grad_fn is None
        or loss.numel() != 1
        or not loss.is_floating_point()  # torch refuses an implicit complex seed: let it say so
        or _profiler_on()
    ):
        loss.backward()
        return
    _engine_run_backward(
        (loss,),
        (torch.ones_like(loss, memory_format=torch.preserve_format),),
        False,  # keep_graph
        False,  # create_graph
        (),  # inputs: every leaf
        allow_unreachable=True,
        accumulate_grad=True,
    )


def stepper(optimizer: torch.optim.Optimizer) -> Callable[[], Any]:
    """A function calling ``optimizer.step()`` with its hooks, without the profiler range.

    Decided once per optimizer: torch wraps an optimizer class's ``step`` in
    a wrapper (marked ``hooked``) that runs the step hooks inside a profiler
    range. The function returned calls the wrapped ``step`` between the same
    hooks, and calls ``optimizer.step()`` itself while the profiler records.
    """
    wrapped = type(optimizer).step
    inner = getattr(wrapped, "__wrapped__", None)
    if not _AVAILABLE or not getattr(wrapped, "hooked", False) or inner is None:
        return optimizer.step
    pre_hooks = optimizer._optimizer_step_pre_hooks
    post_hooks = optimizer._optimizer_step_post_hooks
    instance = optimizer.__dict__

    def lean_step() -> Any:
        patched = instance.get("step")
        if patched is not None:
            if not getattr(patched, "_wrapped_by_lr_sched", False):
                return optimizer.step()  # the instance's own step (patched by someone): call it
            # A learning-rate scheduler's wrapper, which marks the step as taken
            # (its check that step comes before scheduler.step) and calls the class's.
            optimizer._opt_called = True  # type: ignore[attr-defined]
        if _profiler_on():
            return optimizer.step()
        args: tuple[Any, ...] = (optimizer,)
        kwargs: dict[str, Any] = {}
        for hook in chain(_global_optimizer_pre_hooks.values(), pre_hooks.values()):
            result = hook(optimizer, args, kwargs)
            if result is not None:
                if not (isinstance(result, tuple) and len(result) == 2):
                    raise RuntimeError(
                        f"{inner} must return None or a tuple of (new_args, new_kwargs), "
                        f"but got {result}."
                    )
                args, kwargs = result
        out = inner(*args, **kwargs)
        optimizer._optimizer_step_code()  # the profiler's entry point
        for hook in chain(post_hooks.values(), _global_optimizer_post_hooks.values()):
            hook(optimizer, args, kwargs)
        return out

    return lean_step
