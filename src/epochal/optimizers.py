"""Optimizers by name, instance or factory.

Names build a ``torch.optim`` optimizer with Keras's defaults (learning rate,
epsilon 1e-7, RMSprop's rho 0.9, Adagrad's initial accumulator 0.1, AdamW's
weight decay 0.004), so a Keras script trains as it did.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn

from epochal.errors import ArgumentError, ArgumentTypeError

__all__ = ["OPTIMIZERS", "build", "build_scheduler", "check"]

# name -> (class, Keras default learning rate, extra Keras defaults)
_REGISTRY: dict[str, tuple[Any, float, dict[str, Any]]] = {
    "adam": (torch.optim.Adam, 1e-3, {"eps": 1e-7}),
    "adamw": (torch.optim.AdamW, 1e-3, {"eps": 1e-7, "weight_decay": 0.004}),
    "sgd": (torch.optim.SGD, 1e-2, {}),
    "rmsprop": (torch.optim.RMSprop, 1e-3, {"alpha": 0.9, "eps": 1e-7}),
    "adagrad": (torch.optim.Adagrad, 1e-3, {"initial_accumulator_value": 0.1, "eps": 1e-7}),
    "adadelta": (torch.optim.Adadelta, 1e-3, {"rho": 0.95, "eps": 1e-7}),
    "adamax": (torch.optim.Adamax, 1e-3, {"eps": 1e-7}),
    "nadam": (torch.optim.NAdam, 1e-3, {"eps": 1e-7}),
    "radam": (torch.optim.RAdam, 1e-3, {"eps": 1e-7}),
}

#: Every accepted optimizer name.
OPTIMIZERS: tuple[str, ...] = tuple(sorted(_REGISTRY))

OptimizerLike = (
    str | torch.optim.Optimizer | Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer]
)


def check(optimizer: Any, learning_rate: float | None) -> None:
    """Validate ``compile(optimizer=..., learning_rate=...)`` without building anything."""
    if learning_rate is not None and (
        isinstance(learning_rate, bool)
        or not isinstance(learning_rate, (int, float))
        or not learning_rate > 0
    ):
        raise ArgumentError(
            f"Expected `learning_rate` to be a positive number. Received: learning_rate={learning_rate!r}"
        )
    if isinstance(optimizer, str):
        if optimizer.lower() not in _REGISTRY:
            raise ArgumentError(
                f"Unknown optimizer: optimizer={optimizer!r}. Expected one of: "
                f"{', '.join(OPTIMIZERS)}; or a torch.optim.Optimizer, or a factory params -> Optimizer"
            )
    elif not (isinstance(optimizer, torch.optim.Optimizer) or callable(optimizer)):
        raise ArgumentTypeError(
            "Expected `optimizer` to be a name, a torch.optim.Optimizer or a factory "
            f"params -> Optimizer. Received: optimizer of type {type(optimizer).__name__}"
        )


def build(
    optimizer: OptimizerLike, module: nn.Module, learning_rate: float | None
) -> torch.optim.Optimizer:
    """The optimizer for ``module``'s trainable parameters."""
    params = [p for p in module.parameters() if p.requires_grad]
    if isinstance(optimizer, torch.optim.Optimizer):
        owned = {id(p) for p in module.parameters()}
        foreign = [p for g in optimizer.param_groups for p in g["params"] if id(p) not in owned]
        if foreign:
            raise ArgumentError(
                f"The optimizer instance holds {len(foreign)} parameter(s) that are not the "
                "model's. Create it from this model's module.parameters(), or pass a name or a "
                "factory such as lambda params: torch.optim.Adam(params, lr=1e-3)"
            )
        if learning_rate is not None:
            for group in optimizer.param_groups:
                group["lr"] = float(learning_rate)
        return optimizer
    if not params:
        raise ArgumentError(
            "The model has no trainable parameters to optimize. Check requires_grad, or give "
            "lazy layers an input_shape"
        )
    if isinstance(optimizer, str):
        cls, default_lr, extra = _REGISTRY[optimizer.lower()]
        lr = float(learning_rate) if learning_rate is not None else default_lr
        return cls(params, lr=lr, **extra)
    built = optimizer(params)
    if not isinstance(built, torch.optim.Optimizer):
        raise ArgumentTypeError(
            "Expected the optimizer factory to return a torch.optim.Optimizer. "
            f"Received: {type(built).__name__}"
        )
    if learning_rate is not None:
        for group in built.param_groups:
            group["lr"] = float(learning_rate)
    return built


def build_scheduler(spec: Any, optimizer: torch.optim.Optimizer) -> tuple[Any, str | None]:
    """The LR scheduler for ``optimizer`` from a factory or an instance."""
    if spec is None:
        return None, None
    scheduler = spec if hasattr(spec, "step") and not isinstance(spec, type) else spec(optimizer)
    if getattr(scheduler, "optimizer", optimizer) is not optimizer:
        raise ArgumentError(
            "The scheduler instance drives another optimizer than the model's. Pass a factory "
            "such as lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=10)"
        )
    if not hasattr(scheduler, "step") or not hasattr(scheduler, "state_dict"):
        raise ArgumentTypeError(
            f"Expected the scheduler factory to return an LR scheduler. Received: {type(scheduler).__name__}"
        )
    return scheduler, None
