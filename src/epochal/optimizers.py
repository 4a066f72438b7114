"""Optimizers by name, instance or factory.

Names build a ``torch.optim`` optimizer with Keras's defaults (learning rate,
epsilon 1e-7, RMSprop's rho 0.9, Adagrad's initial accumulator 0.1, AdamW's
weight decay 0.004), so a Keras script trains as it did.

The implementation (``optimizer_impl``): torch has up to three kernels for
the same algorithm: a Python loop over the parameters (``"for-loop"``, torch's
default on the CPU), multi-tensor ops (``"foreach"``, torch's default on
CUDA) and one fused kernel per device (``"fused"``: Adam, AdamW, SGD and
Adagrad on CPU, CUDA, MPS and XPU). ``"auto"`` (the default) picks the fused
kernel where torch has one for that optimizer and the parameters' device,
else foreach on accelerators and the for-loop on the CPU (where foreach is not
faster). It is applied to optimizers built from a name and to a factory's
optimizer when the factory left ``fused`` and ``foreach`` unset; an
optimizer instance is always used as given. Same algorithm, same
hyperparameters; every kernel is deterministic (the fused ones round
differently from the for-loop in the last bits).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Literal

import torch
from torch import nn

from epochal.errors import ArgumentError, ArgumentTypeError

__all__ = [
    "OPTIMIZER_IMPLS",
    "OPTIMIZERS",
    "build",
    "build_scheduler",
    "check",
    "check_impl",
    "implementation",
]

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

OptimizerImpl = Literal["auto", "fused", "foreach", "for-loop"]
#: Every accepted ``optimizer_impl``.
OPTIMIZER_IMPLS: tuple[str, ...] = ("auto", "fused", "foreach", "for-loop")

# torch's optimizers that take `fused=` / `foreach=` (their exact classes:
# a subclass may not forward the flags to its parent).
_FUSED = (torch.optim.Adam, torch.optim.AdamW, torch.optim.SGD, torch.optim.Adagrad)
_FOREACH = (
    *_FUSED,
    torch.optim.RMSprop,
    torch.optim.Adadelta,
    torch.optim.Adamax,
    torch.optim.NAdam,
    torch.optim.RAdam,
    torch.optim.ASGD,
    torch.optim.Rprop,
)

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


def check_impl(optimizer: Any, optimizer_impl: Any) -> OptimizerImpl:
    """Validate ``compile(optimizer_impl=...)`` against the optimizer, before building anything."""
    if optimizer_impl not in OPTIMIZER_IMPLS:
        raise ArgumentError(
            f"Expected `optimizer_impl` to be one of {', '.join(map(repr, OPTIMIZER_IMPLS))}. "
            f"Received: optimizer_impl={optimizer_impl!r}"
        )
    if optimizer_impl != "auto" and isinstance(optimizer, torch.optim.Optimizer):
        raise ArgumentError(
            f"optimizer_impl={optimizer_impl!r} cannot change an optimizer instance, which is "
            "used as built. Pass fused=/foreach= to its constructor, or give a name or a factory "
            "params -> Optimizer"
        )
    if isinstance(optimizer, str) and optimizer.lower() in _REGISTRY:
        cls = _REGISTRY[optimizer.lower()][0]
        _check_supported(cls, optimizer_impl)
    return optimizer_impl


def _check_supported(cls: type, optimizer_impl: str) -> None:
    if optimizer_impl == "fused" and cls not in _FUSED:
        fused = ", ".join(c.__name__ for c in _FUSED)
        raise ArgumentError(
            f"optimizer_impl='fused': torch has no fused {cls.__name__} (it has fused {fused}). "
            "Use 'foreach', 'for-loop' or 'auto'"
        )
    if optimizer_impl in ("foreach", "for-loop") and cls not in _FOREACH:
        raise ArgumentError(
            f"optimizer_impl={optimizer_impl!r}: {cls.__name__} has no choice of implementation "
            "(only torch's Adam, AdamW, SGD, Adagrad, RMSprop, Adadelta, Adamax, NAdam, RAdam, "
            "ASGD and Rprop have). Use optimizer_impl='auto'"
        )


def _has_sparse_gradients(module: nn.Module) -> bool:
    return any(
        isinstance(m, (nn.Embedding, nn.EmbeddingBag)) and m.sparse for m in module.modules()
    )


def _flags(
    cls: type, optimizer_impl: str, params: list[nn.Parameter], module: nn.Module
) -> dict[str, Any]:
    """The ``fused``/``foreach`` arguments that select ``optimizer_impl`` for ``cls``."""
    if cls not in _FOREACH:
        return {}
    choice = optimizer_impl
    if choice == "auto":
        floating = all(torch.is_floating_point(p) for p in params)
        accelerated = any(p.device.type != "cpu" for p in params)
        if _has_sparse_gradients(module) or not floating:
            choice = "for-loop"  # fused and foreach kernels take dense real tensors only
        elif cls in _FUSED:
            choice = "fused"
        else:  # on the CPU foreach is a loop too, and measured no faster
            choice = "foreach" if accelerated else "for-loop"
    if choice == "fused":
        return {"fused": True, "foreach": False}
    flags: dict[str, Any] = {"foreach": choice == "foreach"}
    if cls in _FUSED:
        flags["fused"] = False
    return flags


def implementation(optimizer: torch.optim.Optimizer) -> str:
    """Which kernel ``optimizer`` steps with: ``"fused"``, ``"foreach"``, ``"for-loop"`` or ``"default"``."""
    group = optimizer.param_groups[0] if optimizer.param_groups else optimizer.defaults
    if group.get("fused"):
        return "fused"
    foreach = group.get("foreach")
    if foreach is None:
        return "default"  # torch decides at each step (foreach on CUDA, for-loop on the CPU)
    return "foreach" if foreach else "for-loop"


def _reimplemented(
    built: torch.optim.Optimizer, optimizer_impl: str, module: nn.Module
) -> torch.optim.Optimizer:
    """A factory's optimizer switched, in place, to the chosen kernel.

    In place, not rebuilt: hooks and attributes the factory gave it (Keras's
    step options, for one) stay. Only the ``fused``/``foreach`` flags change,
    which torch's optimizers read at every step; the construction-time effects
    of ``fused=True`` (the checks and the gradient scaler's fast path) are
    repeated here.
    """
    cls = type(built)
    if cls not in _FOREACH:
        if optimizer_impl != "auto":
            _check_supported(cls, optimizer_impl)
        return built
    _check_supported(cls, optimizer_impl)
    defaults = built.defaults
    unset = defaults.get("fused") is None and defaults.get("foreach") is None
    if optimizer_impl == "auto" and not unset:
        return built  # the user chose a kernel: use it as given
    if built.state or defaults.get("differentiable"):
        if optimizer_impl == "auto":
            return built
        raise ArgumentError(
            f"optimizer_impl={optimizer_impl!r} cannot switch this {cls.__name__}: it "
            f"{'holds state already' if built.state else 'is differentiable'}. Pass "
            "fused=/foreach= in the factory instead"
        )
    params = [p for g in built.param_groups for p in g["params"]]
    flags = _flags(cls, optimizer_impl, params, module)
    if flags.get("fused"):
        devices = {p.device.type for p in params}
        supported = set(_fused_devices())
        if not devices <= supported or not all(torch.is_floating_point(p) for p in params):
            raise ArgumentError(
                f"optimizer_impl='fused': torch's fused {cls.__name__} takes floating-point "
                f"parameters on {', '.join(sorted(supported))}. Received parameters on "
                f"{', '.join(sorted(devices))}"
            )
        # what torch's __init__ sets for fused=True
        built._step_supports_amp_scaling = True  # type: ignore[attr-defined]
    defaults.update(flags)
    for group in built.param_groups:
        group.update(flags)
    return built


def _fused_devices() -> list[str]:
    from torch.optim.optimizer import _get_fused_kernels_supported_devices

    return list(_get_fused_kernels_supported_devices())


def build(
    optimizer: OptimizerLike,
    module: nn.Module,
    learning_rate: float | None,
    optimizer_impl: OptimizerImpl = "auto",
) -> torch.optim.Optimizer:
    """The optimizer for ``module``'s trainable parameters, with the chosen kernel (see above)."""
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
        return cls(params, lr=lr, **extra, **_flags(cls, optimizer_impl, params, module))
    built = optimizer(params)
    if not isinstance(built, torch.optim.Optimizer):
        raise ArgumentTypeError(
            "Expected the optimizer factory to return a torch.optim.Optimizer. "
            f"Received: {type(built).__name__}"
        )
    built = _reimplemented(built, optimizer_impl, module)
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
