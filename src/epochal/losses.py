"""Losses by name, as callables, or as `nn.Module`s.

Named losses follow Keras: one value per sample (the mean over the sample's
elements), weighted by ``sample_weight`` and divided by the batch size
("sum over batch size"). Custom losses are called ``loss(y_pred, y_true)``.

Cross-entropy and activations: a model whose last layer is a sigmoid or
softmax outputs probabilities, one without outputs logits. With a
cross-entropy loss epochal finds out which (from the model's structure, or
from the autograd node of its output) and never applies the activation twice:

- a removable final ``sigmoid``/``softmax`` layer is skipped during training
  and the loss is computed from its input, the logits (numerically stable);
- a model that outputs logits gets the logits form of the loss;
- a final activation that cannot be removed (computed inside ``forward``) gets
  the probability form, clipped to ``[1e-7, 1 - 1e-7]`` as Keras does.

``from_logits=True/False`` on a loss object states it explicitly instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import torch
import torch.nn.functional as F
from torch import Tensor

from epochal._names import snake_case
from epochal.errors import ArgumentError, ArgumentTypeError, DataError

__all__ = [
    "LOSSES",
    "ConformsTargets",
    "LossSpec",
    "baseline_loss",
    "build_loss",
    "elementwise",
    "get",
    "prepare_targets",
]

Kind = Literal["binary", "categorical", "sparse", "regression", "custom"]
EPSILON = 1e-7


def _mse(p: Tensor, y: Tensor) -> Tensor:
    return (p - y).square()


def _mae(p: Tensor, y: Tensor) -> Tensor:
    return (p - y).abs()


def _huber(p: Tensor, y: Tensor, delta: float = 1.0) -> Tensor:
    return F.huber_loss(p, y, reduction="none", delta=delta)


def _msle(p: Tensor, y: Tensor) -> Tensor:
    return (torch.log1p(p.clamp_min(EPSILON)) - torch.log1p(y.clamp_min(EPSILON))).square()


def _mape(p: Tensor, y: Tensor) -> Tensor:
    return 100.0 * ((y - p).abs() / y.abs().clamp_min(EPSILON))


def _log_cosh(p: Tensor, y: Tensor) -> Tensor:
    d = p - y
    return d + F.softplus(-2.0 * d) - math.log(2.0)


def _poisson(p: Tensor, y: Tensor) -> Tensor:
    return p - y * torch.log(p + EPSILON)


def _kld(p: Tensor, y: Tensor) -> Tensor:
    y = y.clamp(EPSILON, 1.0)
    p = p.clamp(EPSILON, 1.0)
    return (y * torch.log(y / p)).sum(-1, keepdim=True)


def _hinge(p: Tensor, y: Tensor) -> Tensor:
    y = torch.where(y == 0, -torch.ones_like(y), y)  # Keras maps 0/1 labels to -1/1
    return (1.0 - y * p).clamp_min(0.0)


def _squared_hinge(p: Tensor, y: Tensor) -> Tensor:
    return _hinge(p, y).square()


def _cosine(p: Tensor, y: Tensor) -> Tensor:
    return -(F.normalize(y, dim=-1) * F.normalize(p, dim=-1)).sum(-1, keepdim=True)


_REGRESSION: dict[str, Callable[..., Tensor]] = {
    "mean_squared_error": _mse,
    "mean_absolute_error": _mae,
    "huber": _huber,
    "mean_squared_logarithmic_error": _msle,
    "mean_absolute_percentage_error": _mape,
    "log_cosh": _log_cosh,
    "poisson": _poisson,
    "kl_divergence": _kld,
    "hinge": _hinge,
    "squared_hinge": _squared_hinge,
    "cosine_similarity": _cosine,
}

_ALIASES = {
    "bce": "binary_crossentropy",
    "binary_cross_entropy": "binary_crossentropy",
    "cce": "categorical_crossentropy",
    "categorical_cross_entropy": "categorical_crossentropy",
    "crossentropy": "categorical_crossentropy",
    "scce": "sparse_categorical_crossentropy",
    "sparse_categorical_cross_entropy": "sparse_categorical_crossentropy",
    "mse": "mean_squared_error",
    "mae": "mean_absolute_error",
    "huber_loss": "huber",
    "msle": "mean_squared_logarithmic_error",
    "mape": "mean_absolute_percentage_error",
    "logcosh": "log_cosh",
    "kld": "kl_divergence",
    "kullback_leibler_divergence": "kl_divergence",
}

_CROSS_ENTROPY: dict[str, Kind] = {
    "binary_crossentropy": "binary",
    "categorical_crossentropy": "categorical",
    "sparse_categorical_crossentropy": "sparse",
}

#: Every accepted loss name (canonical names and aliases).
LOSSES: tuple[str, ...] = tuple(sorted({*_CROSS_ENTROPY, *_REGRESSION, *_ALIASES}))


def elementwise(name: str) -> Callable[..., Tensor]:
    """The element-wise form ``fn(y_pred, y_true, **params)`` of a regression loss name.

    Before any reduction; `build_loss` and the Keras-order functions of
    `epochal.keras.losses` both compute from it.
    """
    return _REGRESSION[_ALIASES.get(name, name)]


@dataclass(frozen=True)
class LossSpec:
    """What a loss is, before it is bound to a model's output form."""

    name: str
    kind: Kind
    from_logits: bool | None = None  # None: decide from the model
    fn: Callable[..., Any] | None = None
    params: dict[str, float] = field(default_factory=dict)

    @property
    def is_cross_entropy(self) -> bool:
        return self.kind in ("binary", "categorical", "sparse")


def get(identifier: Any, *, from_logits: bool | None = None) -> LossSpec:
    """Resolve a loss name, callable or module into a `LossSpec`.

    Raises:
        ArgumentError: unknown name (the message lists the valid ones).
        ArgumentTypeError: neither a string nor a callable.
    """
    if isinstance(identifier, LossSpec):
        return identifier
    if isinstance(identifier, str):
        key = identifier.lower()
        key = _ALIASES.get(key, key)
        if key in _CROSS_ENTROPY:
            return LossSpec(key, _CROSS_ENTROPY[key], from_logits)
        if key in _REGRESSION:
            return LossSpec(key, "regression", None)
        raise ArgumentError(
            f"Unknown loss: loss={identifier!r}. Expected one of: {', '.join(LOSSES)}; "
            "or a callable loss(y_pred, y_true), or an nn.Module"
        )
    spec = getattr(identifier, "_epochal_loss_spec", None)
    if isinstance(spec, LossSpec):  # loss classes of epochal.keras carry their spec
        return spec
    if callable(identifier):
        name = getattr(identifier, "__name__", None) or type(identifier).__name__
        return LossSpec(snake_case(name), "custom", None, identifier)
    raise ArgumentTypeError(
        "Expected `loss` to be a loss name, a callable loss(y_pred, y_true) or an nn.Module. "
        f"Received: loss of type {type(identifier).__name__}"
    )


def _reduce(per_element: Tensor, sample_weight: Tensor | None) -> Tensor:
    """Mean per sample, then Keras's weighted "sum over batch size"."""
    if sample_weight is None:
        return per_element.mean()
    per_sample = per_element.reshape(per_element.shape[0], -1).mean(dim=1)
    return (per_sample * sample_weight).sum() / per_sample.shape[0]


LossFn = Callable[[Tensor, Any, "Tensor | None"], Tensor]


def build_loss(spec: LossSpec, *, logits: bool) -> LossFn:
    """The training loss for ``spec`` on outputs that are logits (``logits=True``) or probabilities."""
    if spec.kind == "binary":
        if logits:

            def binary(p: Tensor, y: Tensor, sw: Tensor | None) -> Tensor:
                if sw is None:
                    return F.binary_cross_entropy_with_logits(p, y)
                return _reduce(F.binary_cross_entropy_with_logits(p, y, reduction="none"), sw)

            return binary

        def binary_prob(p: Tensor, y: Tensor, sw: Tensor | None) -> Tensor:
            p = p.clamp(EPSILON, 1.0 - EPSILON)
            return _reduce(-(y * torch.log(p) + (1.0 - y) * torch.log1p(-p)), sw)

        return binary_prob
    if spec.kind == "categorical":

        def categorical(p: Tensor, y: Tensor, sw: Tensor | None) -> Tensor:
            if logits:
                logp = F.log_softmax(p, dim=-1)
            else:
                p = p / p.sum(dim=-1, keepdim=True)
                logp = torch.log(p.clamp(EPSILON, 1.0 - EPSILON))
            return _reduce(-(y * logp).sum(dim=-1), sw)

        return categorical
    if spec.kind == "sparse":

        def sparse(p: Tensor, y: Tensor, sw: Tensor | None) -> Tensor:
            scores = p if logits else torch.log(p.clamp(EPSILON, 1.0 - EPSILON))
            if scores.ndim > 2:  # (N, ..., C) -> (N, C, ...), torch's class axis
                scores = scores.movedim(-1, 1)
            if logits:
                per = F.cross_entropy(scores, y, reduction="none" if sw is not None else "mean")
            else:
                per = F.nll_loss(scores, y, reduction="none" if sw is not None else "mean")
            return per if sw is None else _reduce(per, sw)

        return sparse
    if spec.kind == "regression":
        elementwise = _REGRESSION[spec.name]
        params = dict(spec.params)

        def regression(p: Tensor, y: Tensor, sw: Tensor | None) -> Tensor:
            return _reduce(elementwise(p, y, **params), sw)

        return regression
    fn = spec.fn
    assert fn is not None

    def custom(p: Tensor, y: Any, sw: Tensor | None) -> Tensor:
        value = fn(p, y)
        if sw is None:
            return value if value.ndim == 0 else value.mean()
        if value.ndim != 1 or value.shape[0] != sw.shape[0]:
            raise DataError(
                f"sample_weight/class_weight need the loss to return one value per sample; "
                f"loss {spec.name!r} returned shape {tuple(value.shape)}. Return unreduced "
                "per-sample losses, or drop the weights"
            )
        return (value * sw).sum() / value.shape[0]

    return custom


class ConformsTargets(Protocol):
    """Targets checked per output (`epochal._outputs.BoundOutputs`), in place of one spec."""

    def conform_targets(
        self, y: Any, y_pred: Any, *, where: str = "y", check_values: bool = True
    ) -> Any: ...


def _shape(t: Tensor) -> str:
    return "(N" + "".join(f", {d}" for d in t.shape[1:]) + ")"


def prepare_targets(
    spec: LossSpec | ConformsTargets,
    y: Any,
    y_pred: Any,
    *,
    where: str = "y",
    check_values: bool = True,
) -> Any:
    """Conform targets to what ``spec`` needs for outputs like ``y_pred``, or raise `DataError`.

    Applied once to whole in-memory target arrays (so no per-step work), and
    per batch for other inputs. ``check_values=False`` skips the value-range
    checks, which read values (a device sync). Follows Keras's rank rule:
    targets may have one dimension less or more than the outputs when that
    dimension is 1. Several outputs are checked each against its own loss.
    """
    if not isinstance(spec, LossSpec):
        return spec.conform_targets(y, y_pred, where=where, check_values=check_values)
    if spec.kind == "custom":
        return y
    if not isinstance(y_pred, Tensor):
        raise DataError(
            f"The loss {spec.name!r} needs the model to return one tensor. The model returned a "
            f"{type(y_pred).__name__}: pass a callable loss that takes it"
        )
    if not isinstance(y, Tensor):
        raise DataError(
            f"The loss {spec.name!r} needs `{where}` to be one array. Received a {type(y).__name__}"
        )
    if spec.kind == "sparse":
        return _sparse_targets(y, y_pred, where, check_values)
    y = _dense_targets(spec, y, y_pred, where)
    if spec.kind == "binary" and check_values:
        _check_probabilities(y, where)
    return y


def _sparse_targets(y: Tensor, y_pred: Tensor, where: str, check_values: bool) -> Tensor:
    """Integer class labels of shape ``y_pred.shape[:-1]``, in ``[0, classes)``."""
    pshape = tuple(y_pred.shape[1:])
    classes = pshape[-1] if pshape else 1
    if y.is_floating_point():
        if y.ndim == y_pred.ndim and y.shape[-1] == classes and classes > 1:
            raise DataError(
                "sparse_categorical_crossentropy expects integer class labels; received "
                f"`{where}` of shape {_shape(y)} that looks one-hot. Use "
                "loss='categorical_crossentropy' for one-hot targets"
            )
        if check_values and not bool((y == y.round()).all()):
            raise DataError(
                f"sparse_categorical_crossentropy expects integer class labels in `{where}`. "
                f"Received non-integer values of dtype {y.dtype}"
            )
    y = y.long()
    if y.ndim == y_pred.ndim and y.shape[-1] == 1:
        y = y.squeeze(-1)
    if tuple(y.shape[1:]) != pshape[:-1]:
        raise DataError(
            f"sparse_categorical_crossentropy: `{where}` of shape {_shape(y)} does not fit "
            f"model outputs of shape {_shape(y_pred)}. Expected labels of shape "
            f"(N{''.join(f', {d}' for d in pshape[:-1])})"
        )
    if check_values and y.numel():
        lo, hi = (int(v) for v in torch.aminmax(y))
        if lo < 0 or hi >= classes:
            raise DataError(
                f"sparse_categorical_crossentropy: `{where}` holds labels in [{lo}, {hi}] but "
                f"the model outputs {classes} classes. Expected labels in [0, {classes - 1}]"
            )
    return y


def _is_integer(y: Tensor) -> bool:
    return y.dtype in (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8)


def _dense_targets(spec: LossSpec, y: Tensor, y_pred: Tensor, where: str) -> Tensor:
    """Floating targets of the outputs' shape (binary, categorical and regression losses)."""
    if not (y.is_floating_point() or _is_integer(y) or y.dtype == torch.bool):
        raise DataError(
            f"Expected numeric `{where}` for loss {spec.name!r}. Received dtype {y.dtype}"
        )
    if spec.kind == "categorical" and not y.is_floating_point() and y.ndim == y_pred.ndim - 1:
        raise DataError(
            f"categorical_crossentropy expects one-hot targets of shape {_shape(y_pred)}; received "
            f"integer `{where}` of shape {_shape(y)}. Use loss='sparse_categorical_crossentropy' "
            "for integer class labels"
        )
    y = y.to(y_pred.dtype if y_pred.is_floating_point() else torch.float32)
    if y.shape[1:] != y_pred.shape[1:]:
        y = _match_rank(spec, y, y_pred, where)
    return y


def _match_rank(spec: LossSpec, y: Tensor, y_pred: Tensor, where: str) -> Tensor:
    """Keras's rank rule: add or drop a trailing axis of size 1, else raise."""
    pshape = tuple(y_pred.shape[1:])
    if y.ndim == y_pred.ndim - 1 and pshape[-1:] == (1,) and tuple(y.shape[1:]) == pshape[:-1]:
        return y.unsqueeze(-1)
    if y.ndim == y_pred.ndim + 1 and y.shape[-1] == 1 and tuple(y.shape[1:-1]) == pshape:
        return y.squeeze(-1)
    hint = (
        " (for integer class labels use loss='sparse_categorical_crossentropy')"
        if spec.kind == "categorical"
        else ""
    )
    raise DataError(
        f"Loss {spec.name!r}: `{where}` of shape {_shape(y)} does not fit model outputs of "
        f"shape {_shape(y_pred)}. Expected `{where}` of shape {_shape(y_pred)}{hint}"
    )


def _check_probabilities(y: Tensor, where: str) -> None:
    """Binary cross-entropy targets must lie in [0, 1] (NaN included as out of range)."""
    if not y.numel():
        return
    low, high = (float(v) for v in torch.aminmax(y))
    if not (low >= 0.0 and high <= 1.0):  # NaN compares False: refused too
        raise DataError(
            f"binary_crossentropy expects `{where}` in [0, 1] (0/1 labels or probabilities). "
            f"Received values in [{low:g}, {high:g}]"
        )


def baseline_loss(spec: LossSpec, y: Tensor) -> float | None:
    """The loss of the best constant prediction on targets ``y`` (prepared), or None if unknown.

    The trivial baseline the learning-curve diagnosis compares with: the class
    prior for cross-entropies, the mean for squared error, the median for
    absolute error.
    """
    with torch.no_grad():
        if spec.kind == "binary":
            prior = y.float().mean(dim=0, keepdim=True).clamp(EPSILON, 1 - EPSILON)
            p = prior.expand_as(y)
            return float(-(y * p.log() + (1 - y) * (1 - p).log()).mean())
        if spec.kind == "categorical":
            freq = y.float().mean(dim=0, keepdim=True).clamp_min(EPSILON)
            return float(-(y * freq.log()).sum(-1).mean())
        if spec.kind == "sparse":
            counts = torch.bincount(y.reshape(-1)).float()
            freq = (counts / counts.sum()).clamp_min(EPSILON)
            return float(-freq[y.reshape(-1)].log().mean())
        if spec.name == "mean_squared_error":
            return float((y - y.float().mean(dim=0, keepdim=True)).square().mean())
        if spec.name == "mean_absolute_error":
            return float((y - y.float().median(dim=0, keepdim=True).values).abs().mean())
    return None
