"""Step options installed on a torch optimizer as step hooks, for both faces.

Gradient accumulation, clipping, a learning-rate schedule and weight EMA sit
around ``optimizer.step`` (the one training step calls it once per batch)
instead of in copies of the step:

- accumulation (``gradient_accumulation_steps=N``): each call adds the batch's
  gradients to a buffer; every N-th call applies their mean, the other calls
  update nothing (parameters without a gradient are skipped by torch's
  optimizers), as Keras 3 does;
- clipping: ``clipvalue`` clamps each gradient entry, ``clipnorm`` each
  parameter's gradient norm, ``global_clipnorm`` the norm of all of them
  together, on the gradient actually applied;
- a schedule ``step -> learning rate`` sets every group's ``lr`` from the
  count of applied updates (``optimizer.param_groups[i]["iterations"]``);
- EMA (``use_ema``): a moving average of the weights updated after each
  applied step, written into the weights every ``ema_overwrite_frequency``
  updates, and by `finalize_ema` (Keras's end of ``fit``).

Everything these options remember (buffers, counts, averages) is saved in
the optimizer's ``state_dict`` (counts in its param groups, buffers under the
key ``"step_options"``), so it is part of the run: split ``fit`` calls and
resumed runs apply the same updates. The buffers are kept apart from
``optimizer.state``, whose per-parameter entries torch's optimizers create
themselves on their first step.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from epochal.errors import ArgumentError, ArgumentTypeError

__all__ = [
    "StepOptions",
    "check_step_options",
    "ema_weights",
    "finalize_ema",
    "has_schedule",
    "install",
    "iterations",
]


@dataclass(frozen=True)
class StepOptions:
    """What to install around ``optimizer.step`` (None/False: that option is off)."""

    clipnorm: float | None = None
    clipvalue: float | None = None
    global_clipnorm: float | None = None
    accumulation_steps: int | None = None
    schedule: Callable[[int], float] | None = None
    use_ema: bool = False
    ema_momentum: float = 0.99
    ema_overwrite_frequency: int | None = None

    def any(self) -> bool:
        return any(
            (
                self.clipnorm is not None,
                self.clipvalue is not None,
                self.global_clipnorm is not None,
                self.accumulation_steps not in (None, 1),
                self.schedule is not None,
                self.use_ema,
            )
        )


def _positive_number(owner: str, name: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ArgumentTypeError(
            f"{owner}: expected `{name}` to be a positive number or None. "
            f"Received: {name}={value!r} of type {type(value).__name__}"
        )
    if not math.isfinite(value) or value <= 0:
        raise ArgumentError(
            f"{owner}: expected `{name}` to be a positive number or None. Received: {name}={value!r}"
        )
    return float(value)


def _positive_int(owner: str, name: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ArgumentTypeError(
            f"{owner}: expected `{name}` to be a positive int or None. Received: {name}={value!r}"
        )
    if value < 1:
        raise ArgumentError(
            f"{owner}: expected `{name}` to be a positive int or None. Received: {name}={value!r}"
        )
    return value


def check_step_options(
    owner: str,
    *,
    clipnorm: Any = None,
    clipvalue: Any = None,
    global_clipnorm: Any = None,
    gradient_accumulation_steps: Any = None,
    schedule: Any = None,
    use_ema: Any = False,
    ema_momentum: Any = 0.99,
    ema_overwrite_frequency: Any = None,
) -> StepOptions:
    """Validate the options (as Keras names them) and return them as `StepOptions`.

    Raises:
        ArgumentError, ArgumentTypeError: a value of the wrong type or range,
            or both ``clipnorm`` and ``global_clipnorm`` (Keras refuses that too).
    """
    norm = _positive_number(owner, "clipnorm", clipnorm)
    value = _positive_number(owner, "clipvalue", clipvalue)
    global_norm = _positive_number(owner, "global_clipnorm", global_clipnorm)
    if norm is not None and global_norm is not None:
        raise ArgumentError(
            f"{owner}: only one of `clipnorm` and `global_clipnorm` can be set. "
            f"Received: clipnorm={clipnorm!r}, global_clipnorm={global_clipnorm!r}"
        )
    steps = _positive_int(owner, "gradient_accumulation_steps", gradient_accumulation_steps)
    if schedule is not None and not callable(schedule):
        raise ArgumentTypeError(
            f"{owner}: expected the learning-rate schedule to be callable step -> rate. "
            f"Received: {schedule!r}"
        )
    if not isinstance(use_ema, bool):
        raise ArgumentTypeError(f"{owner}: expected `use_ema` to be a bool. Received: {use_ema!r}")
    if (
        isinstance(ema_momentum, bool)
        or not isinstance(ema_momentum, (int, float))
        or not 0.0 <= ema_momentum < 1.0
    ):
        raise ArgumentError(
            f"{owner}: expected `ema_momentum` in [0, 1). Received: ema_momentum={ema_momentum!r}"
        )
    overwrite = _positive_int(owner, "ema_overwrite_frequency", ema_overwrite_frequency)
    return StepOptions(
        clipnorm=norm,
        clipvalue=value,
        global_clipnorm=global_norm,
        accumulation_steps=steps,
        schedule=schedule,
        use_ema=use_ema,
        ema_momentum=float(ema_momentum),
        ema_overwrite_frequency=overwrite,
    )


def iterations(optimizer: torch.optim.Optimizer) -> int:
    """Updates applied so far (Keras's ``optimizer.iterations``; 0 before any step)."""
    return int(optimizer.param_groups[0].get("iterations", 0))


def has_schedule(optimizer: torch.optim.Optimizer) -> bool:
    """Whether a learning-rate schedule sets ``optimizer``'s rate after every update."""
    return getattr(optimizer, "_epochal_schedule", None) is not None


def _params(optimizer: torch.optim.Optimizer) -> list[torch.Tensor]:
    return [p for group in optimizer.param_groups for p in group["params"]]


class _Buffers:
    """Per-parameter tensors of the step options, in the optimizer's parameter order."""

    def __init__(self, optimizer: torch.optim.Optimizer) -> None:
        n = len(_params(optimizer))
        self.accumulators: list[torch.Tensor | None] = [None] * n
        self.ema: list[torch.Tensor | None] = [None] * n

    def sync(self, optimizer: torch.optim.Optimizer) -> None:
        """Make room for parameters that joined the optimizer (``add_param_group``).

        Layers unfrozen for fine-tuning join as a new group: they get empty
        buffers, and the group takes the count of applied updates and the
        accumulation window of the others, so every group says the same.
        """
        missing = len(_params(optimizer)) - len(self.accumulators)
        if missing > 0:
            self.accumulators.extend([None] * missing)
            self.ema.extend([None] * missing)
        first = optimizer.param_groups[0]
        for group in optimizer.param_groups[1:]:
            for key in ("iterations", "accumulated"):
                if key not in group and key in first:
                    group[key] = first[key]

    def state_dict(self) -> dict[str, Any]:
        return {"accumulators": list(self.accumulators), "ema": list(self.ema)}

    def load(self, state: dict[str, Any], optimizer: torch.optim.Optimizer) -> None:
        self.sync(optimizer)
        params = _params(optimizer)
        for key in ("accumulators", "ema"):
            values = list(state.get(key) or [None] * len(params))
            if len(values) != len(params):
                raise ArgumentError(
                    f"The optimizer state's step options hold {len(values)} {key} for "
                    f"{len(params)} parameters: it belongs to another model"
                )
            setattr(
                self,
                key,
                [
                    None if v is None else v.to(p.device, p.dtype).clone()
                    for v, p in zip(values, params, strict=True)
                ],
            )


def _accumulate(optimizer: torch.optim.Optimizer, buffers: _Buffers, steps: int) -> None:
    """Add this batch's gradients; on every ``steps``-th call leave their mean, else none."""
    group0 = optimizer.param_groups[0]
    count = int(group0.get("accumulated", 0)) + 1
    due = count == steps
    for i, p in enumerate(_params(optimizer)):
        buffer = buffers.accumulators[i]
        if p.grad is not None:
            if buffer is None:
                buffer = torch.zeros_like(p)
                buffers.accumulators[i] = buffer
            buffer.add_(p.grad)
        if due and buffer is not None:
            p.grad = buffer / steps
            buffer.zero_()
        elif not due:
            p.grad = None  # torch's optimizers skip parameters without a gradient
    for group in optimizer.param_groups:
        group["accumulated"] = 0 if due else count


def _clip(optimizer: torch.optim.Optimizer, options: StepOptions) -> None:
    grads = [p.grad for p in _params(optimizer) if p.grad is not None]
    if not grads:
        return
    if options.clipvalue is not None:
        for g in grads:
            g.clamp_(-options.clipvalue, options.clipvalue)
    if options.clipnorm is not None:
        for g in grads:
            norm = torch.linalg.vector_norm(g)
            g.mul_(torch.clamp(options.clipnorm / torch.clamp(norm, min=1e-12), max=1.0))
    if options.global_clipnorm is not None:
        torch.nn.utils.clip_grad_norm_(
            [p for p in _params(optimizer) if p.grad is not None], options.global_clipnorm
        )


def _applies_update(optimizer: torch.optim.Optimizer) -> bool:
    return any(p.grad is not None for p in _params(optimizer))


def _set_lr(optimizer: torch.optim.Optimizer, schedule: Callable[[int], float]) -> None:
    lr = float(schedule(iterations(optimizer)))
    for group in optimizer.param_groups:
        if isinstance(group["lr"], torch.Tensor):
            group["lr"].fill_(lr)
        else:
            group["lr"] = lr


def _update_ema(optimizer: torch.optim.Optimizer, buffers: _Buffers, options: StepOptions) -> None:
    first = iterations(optimizer) == 1  # counted already: the first applied update
    with torch.no_grad():
        for i, p in enumerate(_params(optimizer)):
            average = buffers.ema[i]
            if average is None or first:
                buffers.ema[i] = p.detach().clone()
            else:
                average.mul_(options.ema_momentum).add_(p.detach(), alpha=1 - options.ema_momentum)
        frequency = options.ema_overwrite_frequency
        if frequency is not None and iterations(optimizer) % frequency == 0:
            finalize_ema(optimizer)


def finalize_ema(optimizer: torch.optim.Optimizer) -> bool:
    """Write the weights' moving averages into the weights; False if there are none."""
    buffers = getattr(optimizer, "_epochal_step_buffers", None)
    if buffers is None:
        return False
    buffers.sync(optimizer)
    done = False
    with torch.no_grad():
        for p, average in zip(_params(optimizer), buffers.ema, strict=True):
            if average is not None:
                p.copy_(average)
                done = True
    return done


def ema_weights(
    optimizer: torch.optim.Optimizer, module: torch.nn.Module
) -> dict[str, torch.Tensor] | None:
    """``module``'s state dict with every averaged parameter replaced by its average.

    None when the optimizer keeps no averages (no ``use_ema``, or no update yet).
    """
    buffers = getattr(optimizer, "_epochal_step_buffers", None)
    if buffers is None or all(a is None for a in buffers.ema):
        return None
    buffers.sync(optimizer)
    averages = {
        id(p): a for p, a in zip(_params(optimizer), buffers.ema, strict=True) if a is not None
    }
    named = dict(module.named_parameters())
    state = dict(module.state_dict())
    for name in list(state):
        param = named.get(name)
        if param is not None and id(param) in averages:
            state[name] = averages[id(param)].clone()
    return state


def install(optimizer: torch.optim.Optimizer, options: StepOptions) -> torch.optim.Optimizer:
    """Register ``options`` on ``optimizer`` as step hooks; returns the optimizer.

    The pre-hook (accumulation, then clipping) runs before torch's update and
    any hook registered later (Keras's weight decay); the post-hook counts the
    applied update, moves the schedule on and updates the EMA.
    """
    if not options.any():
        return optimizer
    for group in optimizer.param_groups:
        group.setdefault("iterations", 0)
    if options.schedule is not None:
        _set_lr(optimizer, options.schedule)
        optimizer._epochal_schedule = options.schedule  # type: ignore[attr-defined]
    pending = {"update": False}
    buffers = _Buffers(optimizer)
    optimizer._epochal_step_buffers = buffers  # type: ignore[attr-defined]

    def before(opt: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        buffers.sync(opt)
        if options.accumulation_steps not in (None, 1):
            assert options.accumulation_steps is not None
            _accumulate(opt, buffers, options.accumulation_steps)
        pending["update"] = _applies_update(opt)
        if pending["update"]:
            _clip(opt, options)

    def after(opt: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        if not pending["update"]:
            return
        for group in opt.param_groups:
            group["iterations"] = int(group.get("iterations", 0)) + 1
        if options.schedule is not None:
            _set_lr(opt, options.schedule)
        if options.use_ema:
            _update_ema(opt, buffers, options)

    def save(opt: torch.optim.Optimizer, state: dict[str, Any]) -> dict[str, Any]:
        buffers.sync(opt)
        state["step_options"] = buffers.state_dict()
        return state

    def load(opt: torch.optim.Optimizer, state: dict[str, Any]) -> dict[str, Any]:
        state = dict(state)
        buffers.load(state.pop("step_options", {}), opt)
        return state

    optimizer.register_step_pre_hook(before)
    optimizer.register_step_post_hook(after)
    optimizer.register_state_dict_post_hook(save)
    optimizer.register_load_state_dict_pre_hook(load)
    return optimizer
