"""Layer weight regularizers and constraints: what a layer declares, and what a step applies.

A layer declares, per parameter, a regularizer (a penalty added to the
training loss) and a constraint (applied to the weight after each optimizer
step), plus an optional activity regularizer on its output. Both see the
weight in Keras's layout (a layer may store it transposed or permuted for
torch; ``_keras_layout`` gives the view), so ``MaxNorm(axis=0)`` means what
it means in Keras.

The training step asks :func:`penalty_fn` and :func:`constraint_fn` once for
the model; they return None when no layer declares anything, so a model
without regularizers pays nothing per step.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import Tensor, nn

from epochal.errors import ArgumentError, ArgumentTypeError

PenaltySpec = Mapping[str, tuple[Any, Any]]


def _resolve(owner: str, argument: str, value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == "regularizer":
        from epochal.keras import regularizers as module
    else:
        from epochal.keras import constraints as module  # type: ignore[no-redef]
    try:
        return module.get(value)
    except (ArgumentError, ArgumentTypeError) as error:
        raise type(error)(f"{owner}: `{argument}`: {error}") from None


def attach(
    layer: nn.Module,
    owner: str,
    weights: Mapping[str, tuple[str, Any, str, Any]],
    activity_regularizer: Any = None,
) -> None:
    """Record a layer's regularizers and constraints.

    Args:
        layer: the layer.
        owner: its class name, for error messages.
        weights: ``{parameter path: (regularizer argument name, regularizer,
            constraint argument name, constraint)}``; the parameter may not exist
            yet (lazy layers).
        activity_regularizer: a regularizer of the layer's output, or None.
    """
    regularizers: dict[str, Any] = {}
    constraints: dict[str, Any] = {}
    for path, (reg_arg, reg, con_arg, con) in weights.items():
        resolved = _resolve(owner, reg_arg, reg, "regularizer")
        if resolved is not None:
            regularizers[path] = resolved
        resolved = _resolve(owner, con_arg, con, "constraint")
        if resolved is not None:
            constraints[path] = resolved
        # Keras's attribute names: layer.kernel_regularizer, layer.bias_constraint, ...
        object.__setattr__(layer, reg_arg, _resolve(owner, reg_arg, reg, "regularizer"))
        object.__setattr__(layer, con_arg, _resolve(owner, con_arg, con, "constraint"))
    object.__setattr__(layer, "_weight_regularizers", regularizers)
    object.__setattr__(layer, "_weight_constraints", constraints)
    activity = _resolve(owner, "activity_regularizer", activity_regularizer, "regularizer")
    object.__setattr__(layer, "activity_regularizer", activity)
    object.__setattr__(layer, "_activity_penalty", None)
    if activity is not None:
        layer.register_forward_hook(_record_activity)


def add_weight_penalty(
    layer: nn.Module, path: str, *, regularizer: Any = None, constraint: Any = None
) -> None:
    """Declare a regularizer and/or constraint for one more parameter of ``layer`` (``add_weight``)."""
    owner = type(layer).__name__
    if regularizer is not None:
        regs = dict(getattr(layer, "_weight_regularizers", {}))
        regs[path] = _resolve(owner, "regularizer", regularizer, "regularizer")
        object.__setattr__(layer, "_weight_regularizers", regs)
    if constraint is not None:
        cons = dict(getattr(layer, "_weight_constraints", {}))
        cons[path] = _resolve(owner, "constraint", constraint, "constraint")
        object.__setattr__(layer, "_weight_constraints", cons)


def _record_activity(module: nn.Module, inputs: Any, output: Any) -> None:
    # Only while training with gradients: inference never pays for the penalty.
    if not (module.training and torch.is_grad_enabled()):
        return
    regularizer: Any = module.activity_regularizer
    outputs = output if isinstance(output, (tuple, list)) else (output,)
    penalty = module._activity_penalty
    for item in outputs:
        if isinstance(item, Tensor) and item.is_floating_point():
            value = regularizer(item)
            penalty = value if penalty is None else penalty + value
    object.__setattr__(module, "_activity_penalty", penalty)


def keras_layout(layer: nn.Module, path: str, tensor: Tensor) -> Tensor:
    """``tensor`` (the parameter at ``path``) viewed in Keras's layout."""
    view = getattr(layer, "_keras_layout", None)
    return tensor if view is None else view(path, tensor)


def _declared(module: nn.Module) -> list[nn.Module]:
    return [
        m
        for m in module.modules()
        if getattr(m, "_weight_regularizers", None)
        or getattr(m, "_weight_constraints", None)
        or getattr(m, "activity_regularizer", None) is not None
    ]


def _scalar(value: Any, layer: nn.Module, path: str) -> Tensor:
    if not isinstance(value, Tensor) or value.numel() != 1:
        raise ArgumentTypeError(
            f"{type(layer).__name__}: expected the regularizer of `{path}` to return a scalar "
            f"tensor. Received: {value!r}"
        )
    return value.reshape(())


def regularization_loss(module: nn.Module) -> Tensor | None:
    """The sum of every regularization penalty in ``module`` now (None if it declares none).

    The activity penalties recorded by the last training forward are consumed.

    Example:
        >>> from epochal.layers import Dense
        >>> layer = Dense(2, kernel_regularizer="l2", input_shape=(3,))
        >>> regularization_loss(layer).shape
        torch.Size([])
    """
    fn = penalty_fn(module)
    return None if fn is None else fn()


def penalty_fn(module: nn.Module) -> Callable[[], Tensor] | None:
    """A function summing ``module``'s penalties, or None when no layer declares any."""
    layers = [
        m
        for m in _declared(module)
        if getattr(m, "_weight_regularizers", None) or getattr(m, "activity_regularizer", None)
    ]
    if not layers:
        return None

    def total() -> Tensor:
        parts: list[Tensor] = []
        for layer in layers:
            regularizers: dict[str, Any] = getattr(layer, "_weight_regularizers", {})
            for path, regularizer in regularizers.items():
                weight = _parameter(layer, path)
                if weight is not None:
                    view = keras_layout(layer, path, weight)
                    parts.append(_scalar(regularizer(view), layer, path))
            activity = getattr(layer, "_activity_penalty", None)
            if activity is not None:
                parts.append(_scalar(activity, layer, "activity"))
                object.__setattr__(layer, "_activity_penalty", None)
        if not parts:
            return torch.zeros(())
        out = parts[0]
        for part in parts[1:]:
            out = out + part.to(out.device)
        return out

    return total


def constraint_fn(module: nn.Module) -> Callable[[], None] | None:
    """A function applying ``module``'s weight constraints in place, or None when there are none."""
    items = [
        (layer, path, constraint)
        for layer in _declared(module)
        for path, constraint in getattr(layer, "_weight_constraints", {}).items()
    ]
    if not items:
        return None

    def apply() -> None:
        with torch.no_grad():
            for layer, path, constraint in items:
                weight = _parameter(layer, path)
                if weight is not None:
                    view = keras_layout(layer, path, weight)
                    view.copy_(constraint(view))

    return apply


def apply_constraints(module: nn.Module) -> None:
    """Apply every weight constraint in ``module`` now."""
    fn = constraint_fn(module)
    if fn is not None:
        fn()


def _parameter(layer: nn.Module, path: str) -> Tensor | None:
    # Attribute lookup, not get_parameter: under torch.func.functional_call (the compiled
    # whole step) the parameters are swapped for plain tensors, which must be penalized too.
    value: Any = layer
    for part in path.split("."):
        value = getattr(value, part, None)
        if value is None:  # a lazy layer not built yet, or a weight turned off
            return None
    return value if isinstance(value, Tensor) else None


def install_constraints(optimizer: torch.optim.Optimizer, module: nn.Module) -> None:
    """Apply ``module``'s weight constraints after every ``optimizer.step`` (a step post-hook).

    Installing again (a new compile on the same optimizer) replaces the hook.
    """
    previous = getattr(optimizer, "_epochal_constraints", None)
    if previous is not None:
        previous.remove()
        optimizer._epochal_constraints = None  # type: ignore[attr-defined]
    apply = constraint_fn(module)
    if apply is not None:
        handle = optimizer.register_step_post_hook(lambda opt, args, kwargs: apply())
        optimizer._epochal_constraints = handle  # type: ignore[attr-defined]
