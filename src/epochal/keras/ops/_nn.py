"""Neural-network ops: activations, softmax, one-hot, cross-entropies, moments, normalization."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from epochal.errors import ArgumentError
from epochal.keras.ops._convert import axes, floating, tensor, to_dtype

_EPSILON = 1e-7  # Keras's backend.epsilon(), used to clip probabilities


def relu(x: Any) -> Any:
    """``max(x, 0)``, element-wise."""
    return torch.relu(tensor(x))


def relu6(x: Any) -> Any:
    """``min(max(x, 0), 6)``, element-wise."""
    return torch.clamp(tensor(x), 0, 6)


def sigmoid(x: Any) -> Any:
    """``1 / (1 + exp(-x))``, element-wise."""
    return torch.sigmoid(floating(x))


def tanh(x: Any) -> Any:
    """The hyperbolic tangent, element-wise."""
    return torch.tanh(floating(x))


def softplus(x: Any) -> Any:
    """``log(1 + exp(x))``, element-wise, computed stably."""
    return F.softplus(floating(x))


def softsign(x: Any) -> Any:
    """``x / (1 + |x|)``, element-wise."""
    return F.softsign(floating(x))


def silu(x: Any) -> Any:
    """``x * sigmoid(x)`` (also called swish), element-wise."""
    return F.silu(floating(x))


swish = silu


def gelu(x: Any, approximate: bool = True) -> Any:
    """The Gaussian error linear unit; the tanh approximation by default, as in Keras's ``ops.gelu``."""
    return F.gelu(floating(x), approximate="tanh" if approximate else "none")


def elu(x: Any, alpha: float = 1.0) -> Any:
    """``x`` for positive ``x``, else ``alpha * (exp(x) - 1)``."""
    return F.elu(floating(x), alpha=alpha)


def selu(x: Any) -> Any:
    """The scaled exponential linear unit."""
    return F.selu(floating(x))


def leaky_relu(x: Any, negative_slope: float = 0.2) -> Any:
    """``x`` for positive ``x``, else ``negative_slope * x`` (Keras's default slope 0.2)."""
    return F.leaky_relu(floating(x), negative_slope)


def hard_sigmoid(x: Any) -> Any:
    """``relu6(x + 3) / 6``, a piecewise-linear sigmoid."""
    return F.hardsigmoid(floating(x))


def hard_silu(x: Any) -> Any:
    """``x * hard_sigmoid(x)``."""
    return F.hardswish(floating(x))


hard_swish = hard_silu


def log_sigmoid(x: Any) -> Any:
    """``log(sigmoid(x))``, computed stably."""
    return F.logsigmoid(floating(x))


def _class_axis(axis: Any, owner: str) -> Any:
    checked = axes(axis, owner)
    if checked is None:
        return None
    return checked


def softmax(x: Any, axis: Any = -1) -> Any:
    """``exp(x) / sum(exp(x))`` along ``axis`` (every axis when None or a tuple)."""
    x = floating(x)
    dim = _class_axis(axis, "softmax")
    if isinstance(dim, int):
        return torch.softmax(x, dim=dim)
    dims = tuple(range(x.ndim)) if dim is None else dim
    return torch.exp(x - torch.logsumexp(x, dim=dims, keepdim=True))


def log_softmax(x: Any, axis: Any = -1) -> Any:
    """``log(softmax(x))`` along ``axis``, computed stably."""
    x = floating(x)
    dim = _class_axis(axis, "log_softmax")
    if isinstance(dim, int):
        return torch.log_softmax(x, dim=dim)
    dims = tuple(range(x.ndim)) if dim is None else dim
    return x - torch.logsumexp(x, dim=dims, keepdim=True)


def one_hot(
    x: Any, num_classes: int, axis: int = -1, dtype: Any = None, sparse: bool = False
) -> Any:
    """Integer labels as one-hot vectors of ``num_classes`` along a new ``axis`` (float32 by default).

    Labels outside ``[0, num_classes)`` give rows of zeros, as in Keras.

    Raises:
        ArgumentError: ``num_classes`` is not a positive int, or ``sparse`` was requested.
    """
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes <= 0:
        raise ArgumentError(
            f"keras.ops.one_hot: expected `num_classes` to be a positive int. Received: num_classes={num_classes!r}"
        )
    if sparse:
        raise ArgumentError("keras.ops.one_hot: sparse tensors are not available in epochal.keras")
    labels = tensor(x).long()
    valid = torch.logical_and(torch.ge(labels, 0), torch.lt(labels, num_classes))
    out = F.one_hot(torch.where(valid, labels, torch.zeros_like(labels)), num_classes)
    out = out * torch.unsqueeze(valid, -1)
    out = out.to(to_dtype(dtype, "one_hot") or torch.get_default_dtype())
    return out if axis == -1 else torch.movedim(out, -1, axis)


def multi_hot(inputs: Any, num_classes: int, axis: int = -1, dtype: Any = None) -> Any:
    """Each row of integer labels as one vector with ones at those labels."""
    encoded = one_hot(inputs, num_classes, dtype=dtype)
    out = torch.amax(encoded, dim=-2) if encoded.ndim > 1 else encoded
    return out if axis == -1 else torch.movedim(out, -1, axis)


def _probability_pair(target: Any, output: Any) -> tuple[Any, Any]:
    out = floating(output)
    return tensor(target, like=out).to(out.dtype), out


def binary_crossentropy(target: Any, output: Any, from_logits: bool = False) -> Any:
    """Binary cross-entropy per element (no reduction), as Keras's ``ops.binary_crossentropy``.

    Args:
        target: 0/1 labels (or probabilities), shaped like ``output``.
        output: probabilities (clipped to ``[1e-7, 1 - 1e-7]``), or logits with ``from_logits=True``.
        from_logits: whether ``output`` holds logits.

    Raises:
        ArgumentError: ``target`` and ``output`` shapes differ.
    """
    t, o = _probability_pair(target, output)
    if tuple(t.shape) != tuple(o.shape):
        raise ArgumentError(
            "keras.ops.binary_crossentropy: expected `target` and `output` of the same shape. "
            f"Received: target.shape={tuple(t.shape)}, output.shape={tuple(o.shape)}"
        )
    if from_logits:
        return F.binary_cross_entropy_with_logits(o, t, reduction="none")
    p = torch.clamp(o, _EPSILON, 1.0 - _EPSILON)
    return -(t * torch.log(p) + (1.0 - t) * torch.log1p(-p))


def categorical_crossentropy(
    target: Any, output: Any, from_logits: bool = False, axis: int = -1
) -> Any:
    """Cross-entropy between one-hot (or soft) targets and class scores, reducing the class ``axis``.

    Raises:
        ArgumentError: ``target`` and ``output`` shapes differ.
    """
    t, o = _probability_pair(target, output)
    if tuple(t.shape) != tuple(o.shape):
        raise ArgumentError(
            "keras.ops.categorical_crossentropy: expected `target` and `output` of the same shape. "
            f"Received: target.shape={tuple(t.shape)}, output.shape={tuple(o.shape)}"
        )
    if from_logits:
        logp = torch.log_softmax(o, dim=axis)
    else:
        o = o / torch.sum(o, dim=axis, keepdim=True)
        logp = torch.log(torch.clamp(o, _EPSILON, 1.0 - _EPSILON))
    return -torch.sum(t * logp, dim=axis)


def sparse_categorical_crossentropy(
    target: Any, output: Any, from_logits: bool = False, axis: int = -1
) -> Any:
    """Cross-entropy between integer labels and class scores, reducing the class ``axis``.

    Raises:
        ArgumentError: the labels do not have ``output``'s shape without its class axis.
    """
    o = floating(output)
    labels = tensor(target, like=o).long()
    if labels.ndim == o.ndim and labels.shape[-1] == 1:
        labels = torch.squeeze(labels, -1)
    if labels.ndim != o.ndim - 1:
        raise ArgumentError(
            "keras.ops.sparse_categorical_crossentropy: expected `target` to have the shape of "
            f"`output` without its class axis. Received: target.shape={tuple(labels.shape)}, "
            f"output.shape={tuple(o.shape)}"
        )
    if from_logits:
        logp = torch.log_softmax(o, dim=axis)
    else:
        o = o / torch.sum(o, dim=axis, keepdim=True)
        logp = torch.log(torch.clamp(o, _EPSILON, 1.0 - _EPSILON))
    logp = torch.movedim(logp, axis, -1)
    return -torch.squeeze(torch.gather(logp, -1, torch.unsqueeze(labels, -1)), -1)


def moments(
    x: Any, axes: Any, keepdims: bool = False, synchronized: bool = False
) -> tuple[Any, Any]:
    """The mean and (population) variance over ``axes``."""
    x = floating(x)
    dims = (axes,) if isinstance(axes, int) else tuple(axes)
    var, mean = torch.var_mean(x, dim=dims, keepdim=keepdims, correction=0)
    return mean, var


def normalize(x: Any, axis: int = -1, order: int = 2, epsilon: float | None = None) -> Any:
    """``x`` divided by its ``order``-norm along ``axis`` (Keras's ``ops.normalize``)."""
    x = floating(x)
    return F.normalize(x, p=order, dim=axis, eps=1e-12 if epsilon is None else epsilon)


def batch_normalization(
    x: Any,
    mean: Any,
    variance: Any,
    axis: int,
    offset: Any = None,
    scale: Any = None,
    epsilon: float = 1e-3,
) -> Any:
    """``(x - mean) / sqrt(variance + epsilon) * scale + offset``, the statistics running along ``axis``."""
    x = floating(x)
    shape = [1] * x.ndim
    shape[axis] = -1

    def along(v: Any) -> Any:
        return torch.reshape(tensor(v, like=x).to(x.dtype), shape)

    out = (x - along(mean)) * torch.rsqrt(along(variance) + epsilon)
    if scale is not None:
        out = out * along(scale)
    if offset is not None:
        out = out + along(offset)
    return out
