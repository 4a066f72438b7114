"""Finding a model's final sigmoid/softmax, so cross-entropy never applies it twice.

`split_head` looks at the module's structure: a final ``nn.Sigmoid`` or
``nn.Softmax`` (last axis), or a final epochal layer with
``activation="sigmoid"/"softmax"`` (layers expose ``activation_name`` and
``forward_preactivation``), possibly nested in ``nn.Sequential`` containers.
It returns a forward function that stops before that activation.

`output_activation` looks at an output tensor's autograd node, which also
catches ``torch.sigmoid``/``softmax`` called inside a custom ``forward``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

__all__ = ["Head", "output_activation", "split_head"]

Forward = Callable[[Any], Any]


class Head:
    """A module's final activation and the forward pass without it."""

    def __init__(self, activation: str, pre: Forward, softmax_dim: int | None = None) -> None:
        self.activation = activation  # "sigmoid" or "softmax"
        self.pre = pre
        self.softmax_dim = softmax_dim


def _layers_of(module: nn.Module) -> list[nn.Module] | None:
    """The ordered layers of a sequential container, or None for other modules."""
    if isinstance(module, nn.Sequential):
        return list(module)
    layers = getattr(module, "sequential_layers", None)
    if callable(layers):
        result = layers()
        return list(result) if result is not None else None
    return None


def split_head(module: nn.Module) -> Head | None:
    """The removable final sigmoid/softmax of ``module``, or None."""
    if isinstance(module, nn.Sigmoid):
        return Head("sigmoid", lambda x: x)
    if isinstance(module, nn.Softmax):
        return Head("softmax", lambda x: x, softmax_dim=module.dim)
    name = getattr(module, "activation_name", None)
    pre = getattr(module, "forward_preactivation", None)
    if name in ("sigmoid", "softmax") and callable(pre):
        return Head(name, pre, softmax_dim=-1)
    layers = _layers_of(module)
    if layers:
        inner = split_head(layers[-1])
        if inner is None:
            return None
        body = layers[:-1]
        inner_pre = inner.pre

        def pre_forward(x: Any) -> Any:
            for layer in body:
                x = layer(x)
            return inner_pre(x)

        return Head(inner.activation, pre_forward, inner.softmax_dim)
    return None


def output_activation(output: Any) -> str | None:
    """``"sigmoid"``/``"softmax"`` when ``output`` was produced by that op (seen via autograd)."""
    if not isinstance(output, torch.Tensor) or output.grad_fn is None:
        return None
    node = type(output.grad_fn).__name__
    if node.startswith("SigmoidBackward"):
        return "sigmoid"
    if node.startswith("SoftmaxBackward"):
        return "softmax"
    return None
