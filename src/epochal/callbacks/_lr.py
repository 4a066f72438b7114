"""Learning-rate helpers shared by the callbacks that read or set it.

The rate lives in ``optimizer.param_groups[i]["lr"]``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from epochal._optim_hooks import has_schedule
from epochal.errors import ArgumentTypeError, NotCompiledError

if TYPE_CHECKING:
    from epochal.callbacks.base import CallbackContext


def optimizer_of(owner: str, model: CallbackContext | None) -> torch.optim.Optimizer:
    """The model's optimizer, or a clear error when there is none to act on."""
    if model is None:
        raise NotCompiledError(
            f"{owner} is not attached to a model. Pass it to `model.fit(callbacks=[...])`."
        )
    optimizer = getattr(model, "optimizer", None)
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise NotCompiledError(
            f"{owner}: expected `model.optimizer` to be a torch.optim.Optimizer. "
            f"Received: optimizer={optimizer!r}. Call `model.compile(optimizer=...)` first."
        )
    return optimizer


def get_learning_rate(optimizer: torch.optim.Optimizer) -> float:
    """The learning rate of the first parameter group, as a Python float."""
    return float(optimizer.param_groups[0]["lr"])


def set_learning_rate(
    optimizer: torch.optim.Optimizer, lr: float, group: int | None = None
) -> None:
    """Set the learning rate of parameter group ``group``, or of every group when ``None``."""
    groups = optimizer.param_groups if group is None else [optimizer.param_groups[group]]
    for param_group in groups:
        current = param_group["lr"]
        if isinstance(current, torch.Tensor):
            # A tensor lr (capturable/fused optimizers) is read by compiled
            # steps; update it in place instead of swapping the object.
            current.fill_(lr)
        else:
            param_group["lr"] = lr


def refuse_schedule(owner: str, model: CallbackContext | None) -> None:
    """Refuse to set a rate a learning-rate schedule owns (it would be overwritten at the next
    update without a word); Keras refuses it too."""
    optimizer = getattr(model, "optimizer", None)
    if isinstance(optimizer, torch.optim.Optimizer) and has_schedule(optimizer):
        raise ArgumentTypeError(
            f"{owner} cannot set the learning rate: the optimizer was created with a "
            "LearningRateSchedule as its `learning_rate`, which sets the rate after every "
            "update. Give the optimizer a float `learning_rate` to use this callback"
        )
