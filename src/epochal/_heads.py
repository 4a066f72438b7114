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

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from epochal._direct import Forward as ModelForward
from epochal.errors import ArgumentError
from epochal.losses import LossSpec

__all__ = ["Head", "LossForm", "loss_form", "output_activation", "split_head", "tensor_form"]

Forward = Callable[[Any], Any]


class Head:
    """A module's final activation and the forward pass without it.

    The forward without it is ``body`` (the layers before, nested sequential
    containers opened) called in turn, then ``last`` (the final layer's
    forward without its activation; nothing for a bare sigmoid/softmax).
    """

    def __init__(
        self,
        activation: str,
        body: list[nn.Module],
        last: Forward | None,
        softmax_dim: int | None = None,
    ) -> None:
        self.activation = activation  # "sigmoid" or "softmax"
        self.body = body
        self.last = last
        self.softmax_dim = softmax_dim

    @property
    def pre(self) -> ModelForward:
        """The forward pass without the final activation."""
        return ModelForward(self.body, self.last)


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
        return Head("sigmoid", [], None)
    if isinstance(module, nn.Softmax):
        return Head("softmax", [], None, softmax_dim=module.dim)
    name = getattr(module, "activation_name", None)
    pre = getattr(module, "forward_preactivation", None)
    if name in ("sigmoid", "softmax") and callable(pre):
        return Head(name, [], pre, softmax_dim=-1)
    layers = _layers_of(module)
    if layers:
        inner = split_head(layers[-1])
        if inner is None:
            return None
        return Head(inner.activation, [*layers[:-1], *inner.body], inner.last, inner.softmax_dim)
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


@dataclass(frozen=True)
class LossForm:
    """How a cross-entropy is computed for a model: on logits or on probabilities."""

    forward: ModelForward  # the training forward: stops before a removed final activation
    logits: bool
    metric_input: Callable[[Any], Any] | None  # logits -> probabilities for the metrics


def _activation_fn(name: str) -> Callable[[torch.Tensor], torch.Tensor]:
    if name == "sigmoid":
        return torch.sigmoid
    return lambda t: torch.softmax(t, dim=-1)


def loss_form(module: nn.Module, out: Any, spec: LossSpec) -> LossForm:
    """Decide, from the module and a sample output ``out``, how ``spec`` is computed.

    See `epochal.losses` for the rule. Raises `ArgumentError` when an explicit
    ``from_logits=True`` contradicts a sigmoid/softmax output, and warns when
    ``from_logits=False`` meets outputs outside [0, 1].
    """

    full_forward = ModelForward([module], spread=True)
    if not spec.is_cross_entropy:
        return LossForm(full_forward, False, None)
    head = split_head(module)
    if head is not None and head.softmax_dim not in (None, -1, out.ndim - 1):
        head = None  # softmax over another axis than the classes: keep it
    if head is not None:
        return LossForm(head.pre, True, _activation_fn(head.activation))
    logits, metric_input = tensor_form(out, spec)
    return LossForm(full_forward, logits, metric_input)


def tensor_form(out: Any, spec: LossSpec) -> tuple[bool, Callable[[Any], Any] | None]:
    """(logits, logits -> probabilities for metrics) for an output tensor ``out`` as computed.

    For one output of several (no final layer is split off): an output made by a
    sigmoid/softmax gets the probability form, any other the logits form, unless
    ``from_logits`` says otherwise. Raises `ArgumentError` when an explicit
    ``from_logits=True`` contradicts a sigmoid/softmax output, and warns when
    ``from_logits=False`` meets outputs outside [0, 1].
    """
    if not spec.is_cross_entropy:
        return False, None
    activation = output_activation(out)
    if activation is not None:
        if spec.from_logits is True:
            raise ArgumentError(
                f"The loss says from_logits=True, but the model's output comes from a "
                f"{activation}. Drop the final {activation} or use from_logits=False"
            )
        return False, None
    if spec.from_logits is not False:
        return True, _activation_fn("sigmoid" if spec.kind == "binary" else "softmax")
    if isinstance(out, torch.Tensor) and out.numel():
        low, high = float(out.detach().min()), float(out.detach().max())
        if low < 0.0 or high > 1.0:
            warnings.warn(
                "The loss treats the model's outputs as probabilities (from_logits=False), "
                f"but they range over [{low:.3g}, {high:.3g}]: they look like logits. Use "
                "from_logits=True, or the loss by name, which detects logits",
                RuntimeWarning,
                stacklevel=6,
            )
    return False, None
