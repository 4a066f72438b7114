"""Keras's losses: classes for ``compile``, functions with Keras's ``(y_true, y_pred)`` order.

A loss object given to ``compile`` trains exactly as the named epochal loss
does (it carries an `epochal.losses.LossSpec`), including the handling of
``from_logits``: a model ending in a sigmoid/softmax is never activated twice.
Called directly, ``loss(y_true, y_pred, sample_weight=None)`` returns the
reduced loss as Keras does (``reduction="sum_over_batch_size"`` by default).

The functions (``binary_crossentropy(y_true, y_pred)``, ...) return one loss
per sample (the mean over the last axis), as Keras's do, and take Keras's
argument order (as plain functions given to a Keras model's ``compile`` are
called; the native `epochal.Model` calls them ``loss(y_pred, y_true)``).
Subclass `Loss` and implement ``call(y_true, y_pred)``, or wrap a function
with `LossFunctionWrapper`, to pass a Keras-order custom loss to either face.

Example:
    >>> from epochal.keras import losses
    >>> model.compile(optimizer="adam", loss=losses.BinaryCrossentropy(from_logits=True))
    >>> losses.binary_crossentropy([[1.0]], [[0.9]])
    tensor([0.1054])
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from epochal import losses as _losses
from epochal._names import snake_case
from epochal.errors import ArgumentError, ArgumentTypeError
from epochal.keras.ops import _convert as _ops_convert
from epochal.losses import LossSpec

__all__ = [
    "BinaryCrossentropy",
    "CategoricalCrossentropy",
    "CosineSimilarity",
    "Hinge",
    "Huber",
    "KLDivergence",
    "LogCosh",
    "Loss",
    "LossFunctionWrapper",
    "MeanAbsoluteError",
    "MeanAbsolutePercentageError",
    "MeanSquaredError",
    "MeanSquaredLogarithmicError",
    "Poisson",
    "SparseCategoricalCrossentropy",
    "SquaredHinge",
    "binary_crossentropy",
    "categorical_crossentropy",
    "cosine_similarity",
    "hinge",
    "huber",
    "kl_divergence",
    "log_cosh",
    "mae",
    "mape",
    "mean_absolute_error",
    "mean_absolute_percentage_error",
    "mean_squared_error",
    "mean_squared_logarithmic_error",
    "mse",
    "msle",
    "poisson",
    "sparse_categorical_crossentropy",
    "squared_hinge",
]

Reduction = Literal["sum_over_batch_size", "mean", "sum", "mean_with_sample_weight", "none"]
_REDUCTIONS = ("sum_over_batch_size", "mean", "sum", "mean_with_sample_weight", "none", None)
EPSILON = _losses.EPSILON


# -- tensors ----------------------------------------------------------------------


def _float(value: Any) -> Tensor:
    tensor = torch.as_tensor(value)
    return tensor if tensor.is_floating_point() else tensor.to(torch.get_default_dtype())


def _same_rank(true: Tensor, pred: Tensor) -> Tensor:
    """``true`` with a trailing axis of size 1 added or removed to match ``pred``'s rank, as Keras does."""
    if true.ndim == pred.ndim - 1 and pred.shape[-1] == 1:
        return true.unsqueeze(-1)
    if true.ndim == pred.ndim + 1 and true.shape[-1] == 1:
        return true.squeeze(-1)
    return true


def _pair(y_true: Any, y_pred: Any) -> tuple[Tensor, Tensor]:
    """Float tensors of the same rank (Keras squeezes or expands a trailing axis of size 1)."""
    pred = _float(y_pred)
    true = torch.as_tensor(y_true, device=pred.device).to(pred.dtype)
    if true.ndim == pred.ndim - 1 and pred.shape[-1] == 1:
        true = true.unsqueeze(-1)
    elif true.ndim == pred.ndim + 1 and true.shape[-1] == 1:
        true = true.squeeze(-1)
    return true, pred


# -- per-sample loss functions (Keras's order) ------------------------------------
def binary_crossentropy(
    y_true: Any,
    y_pred: Any,
    from_logits: bool = False,
    label_smoothing: float = 0.0,
    axis: int = -1,
) -> Tensor:
    """Binary cross-entropy per sample: the mean over ``axis`` of ``-(y log p + (1 - y) log(1 - p))``.

    Args:
        y_true: 0/1 labels (or probabilities).
        y_pred: probabilities, or logits with ``from_logits=True``; probabilities
            are clipped to ``[1e-7, 1 - 1e-7]``, as Keras does.
        from_logits: whether ``y_pred`` holds logits.
        label_smoothing: squeeze the labels towards 0.5 by this fraction.
        axis: the axis to average over.

    Returns:
        A tensor with ``axis`` removed: ``(N,)`` for ``(N, 1)`` outputs.
    """
    true, pred = _pair(y_true, y_pred)
    if label_smoothing:
        true = true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        per = F.binary_cross_entropy_with_logits(pred, true, reduction="none")
    else:
        p = pred.clamp(EPSILON, 1.0 - EPSILON)
        per = -(true * torch.log(p) + (1.0 - true) * torch.log1p(-p))
    return per.mean(dim=axis)


def categorical_crossentropy(
    y_true: Any,
    y_pred: Any,
    from_logits: bool = False,
    label_smoothing: float = 0.0,
    axis: int = -1,
) -> Tensor:
    """Cross-entropy per sample between one-hot (or soft) targets and class scores.

    Args:
        y_true: one-hot targets, shaped like ``y_pred``.
        y_pred: class probabilities (normalized to sum 1, then clipped), or
            logits with ``from_logits=True``.
        from_logits: whether ``y_pred`` holds logits.
        label_smoothing: mix the targets with the uniform distribution by this fraction.
        axis: the class axis.

    Returns:
        A tensor with the class axis removed.
    """
    true, pred = _pair(y_true, y_pred)
    if label_smoothing:
        classes = pred.shape[axis]
        true = true * (1.0 - label_smoothing) + label_smoothing / classes
    if from_logits:
        logp = F.log_softmax(pred, dim=axis)
    else:
        pred = pred / pred.sum(dim=axis, keepdim=True)
        logp = torch.log(pred.clamp(EPSILON, 1.0 - EPSILON))
    return -(true * logp).sum(dim=axis)


def sparse_categorical_crossentropy(
    y_true: Any, y_pred: Any, from_logits: bool = False, axis: int = -1
) -> Tensor:
    """Cross-entropy per sample between integer class labels and class scores.

    Args:
        y_true: integer labels, shaped like ``y_pred`` without its class axis
            (a trailing axis of size 1 is accepted).
        y_pred: class probabilities, or logits with ``from_logits=True``.
        from_logits: whether ``y_pred`` holds logits.
        axis: the class axis.

    Returns:
        A tensor shaped like the labels: ``(N,)`` for ``(N, classes)`` outputs.
    """
    pred = _float(y_pred)
    labels = torch.as_tensor(y_true, device=pred.device).long()
    if labels.ndim == pred.ndim and labels.shape[-1] == 1:
        labels = labels.squeeze(-1)
    if from_logits:
        logp = F.log_softmax(pred, dim=axis)
    else:
        pred = pred / pred.sum(dim=axis, keepdim=True)
        logp = torch.log(pred.clamp(EPSILON, 1.0 - EPSILON))
    logp = logp.movedim(axis, -1)
    return -logp.gather(-1, labels.unsqueeze(-1)).squeeze(-1)


def _per_sample(name: str, y_true: Any, y_pred: Any, **params: float) -> Tensor:
    """epochal's element-wise loss ``name``, averaged over the last axis (Keras's per-sample value)."""
    true, pred = _pair(y_true, y_pred)
    return _losses.elementwise(name)(pred, true, **params).mean(dim=-1)


def mean_squared_error(y_true: Any, y_pred: Any) -> Tensor:
    """``mean((y_true - y_pred) ** 2)`` over the last axis, per sample."""
    return _per_sample("mean_squared_error", y_true, y_pred)


def mean_absolute_error(y_true: Any, y_pred: Any) -> Tensor:
    """``mean(|y_true - y_pred|)`` over the last axis, per sample."""
    return _per_sample("mean_absolute_error", y_true, y_pred)


def mean_absolute_percentage_error(y_true: Any, y_pred: Any) -> Tensor:
    """``100 * mean(|y_true - y_pred| / max(|y_true|, 1e-7))`` over the last axis, per sample."""
    return _per_sample("mean_absolute_percentage_error", y_true, y_pred)


def mean_squared_logarithmic_error(y_true: Any, y_pred: Any) -> Tensor:
    """``mean((log(1 + y_pred) - log(1 + y_true)) ** 2)`` over the last axis (values floored at 1e-7)."""
    return _per_sample("mean_squared_logarithmic_error", y_true, y_pred)


def huber(y_true: Any, y_pred: Any, delta: float = 1.0) -> Tensor:
    """The Huber loss per sample: quadratic for errors up to ``delta``, linear beyond."""
    return _per_sample("huber", y_true, y_pred, delta=float(delta))


def log_cosh(y_true: Any, y_pred: Any) -> Tensor:
    """``mean(log(cosh(y_pred - y_true)))`` over the last axis, computed stably."""
    return _per_sample("log_cosh", y_true, y_pred)


def poisson(y_true: Any, y_pred: Any) -> Tensor:
    """``mean(y_pred - y_true * log(y_pred + 1e-7))`` over the last axis, per sample."""
    return _per_sample("poisson", y_true, y_pred)


def kl_divergence(y_true: Any, y_pred: Any) -> Tensor:
    """``sum(y_true * log(y_true / y_pred))`` over the last axis (both clipped to ``[1e-7, 1]``)."""
    return _per_sample("kl_divergence", y_true, y_pred)


def hinge(y_true: Any, y_pred: Any) -> Tensor:
    """``mean(max(1 - y_true * y_pred, 0))`` over the last axis; 0/1 labels become -1/1."""
    return _per_sample("hinge", y_true, y_pred)


def squared_hinge(y_true: Any, y_pred: Any) -> Tensor:
    """``mean(max(1 - y_true * y_pred, 0) ** 2)`` over the last axis; 0/1 labels become -1/1."""
    return _per_sample("squared_hinge", y_true, y_pred)


def cosine_similarity(y_true: Any, y_pred: Any, axis: int = -1) -> Tensor:
    """Minus the cosine similarity along ``axis``, per sample (-1 means the same direction)."""
    true, pred = _pair(y_true, y_pred)
    return -(F.normalize(true, dim=axis) * F.normalize(pred, dim=axis)).sum(dim=axis)


# Keras 2's short aliases.
mse = mean_squared_error
mae = mean_absolute_error
mape = mean_absolute_percentage_error
msle = mean_squared_logarithmic_error


# -- loss classes ------------------------------------------------------------------
def _reduce(values: Tensor, sample_weight: Any, reduction: str | None) -> Tensor:
    weights: Tensor | None = None
    if sample_weight is not None:
        weights = torch.as_tensor(sample_weight, device=values.device).to(values.dtype)
        while weights.ndim > values.ndim and weights.shape[-1] == 1:
            weights = weights.squeeze(-1)
        while weights.ndim < values.ndim:
            weights = weights.unsqueeze(-1)
        values = values * weights
    if reduction in (None, "none"):
        return values
    total = values.sum()
    if reduction == "sum":
        return total
    if reduction == "mean_with_sample_weight" and weights is not None:
        return total / torch.broadcast_to(weights, values.shape).sum()
    return total / max(values.numel(), 1)


class Loss:
    """Base class of the Keras-style losses; subclass it for a custom loss in Keras's order.

    A subclass implements ``call(y_true, y_pred)`` returning one value per
    sample; ``compile`` accepts the instance and calls it in Keras's order.

    Args:
        name: the loss's name.
        reduction: how ``__call__`` reduces the per-sample values:
            ``"sum_over_batch_size"`` (Keras's default; ``"mean"`` is the same),
            ``"sum"``, ``"mean_with_sample_weight"``, or ``"none"``/None. ``compile``
            needs ``"sum_over_batch_size"``.
        dtype: the dtype ``call`` sees ``y_true`` and ``y_pred`` in (default: the
            outputs' float dtype; integer targets are cast to it, as Keras does).

    Example:
        >>> class WeightedMSE(Loss):
        ...     def call(self, y_true, y_pred):
        ...         return ((y_pred - y_true) ** 2 * 2.0).mean(dim=-1)
        >>> model.compile(optimizer="adam", loss=WeightedMSE())
    """

    def __init__(
        self,
        name: str | None = None,
        reduction: Reduction | None = "sum_over_batch_size",
        dtype: Any = None,
    ) -> None:
        owner = type(self).__name__
        if reduction not in _REDUCTIONS:
            raise ArgumentError(
                f"{owner}: expected `reduction` to be one of "
                f"{', '.join(repr(r) for r in _REDUCTIONS)}. Received: reduction={reduction!r}"
            )
        if name is not None and not isinstance(name, str):
            raise ArgumentTypeError(
                f"{owner}: expected `name` to be a str. Received: name={name!r}"
            )
        self.name = name or snake_case(owner)
        self.reduction = reduction
        self.dtype = _ops_convert.to_dtype(dtype, owner)
        self._named: LossSpec | None = None  # set by the built-in losses
        self._compile_blockers: dict[str, Any] = {}

    def call(self, y_true: Any, y_pred: Any) -> Tensor:
        """The loss per sample, in Keras's argument order. Subclasses implement it."""
        raise NotImplementedError(
            f"{type(self).__name__} must implement call(y_true, y_pred) returning one loss per sample"
        )

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Tensor:
        """The loss of a batch, reduced as ``reduction`` says.

        Args:
            y_true: the targets.
            y_pred: the model's outputs.
            sample_weight: optional weights, one per sample (or broadcastable).

        Returns:
            A scalar tensor (per-sample values with ``reduction="none"``).
        """
        true, pred = self._keras_inputs(y_true, y_pred)
        return _reduce(torch.as_tensor(self.call(true, pred)), sample_weight, self.reduction)

    def _keras_inputs(self, y_true: Any, y_pred: Any) -> tuple[Any, Any]:
        """Both as tensors of the loss's dtype (the outputs' float dtype by default), as Keras converts them."""
        pred = _float(y_pred)
        if self.dtype is not None:
            pred = pred.to(self.dtype)
        true = torch.as_tensor(y_true, device=pred.device)
        true = true if true.dtype == pred.dtype else true.to(pred.dtype)
        return _same_rank(true, pred), pred

    def _torch_order(self, y_pred: Tensor, y_true: Tensor) -> Tensor:
        values = torch.as_tensor(self.call(*self._keras_inputs(y_true, y_pred)))
        return values.reshape(values.shape[0], -1).mean(dim=1) if values.ndim > 1 else values

    @property
    def _epochal_loss_spec(self) -> LossSpec:
        """What ``compile`` trains with (read by `epochal.losses.get`)."""
        owner = type(self).__name__
        if self.reduction not in ("sum_over_batch_size", "mean"):
            raise ArgumentError(
                f"{owner}: compile trains with reduction='sum_over_batch_size'. "
                f"Received: reduction={self.reduction!r}. Other reductions work when calling "
                "the loss directly"
            )
        if self._compile_blockers:
            arg, value = next(iter(self._compile_blockers.items()))
            raise ArgumentError(
                f"{owner}: `{arg}` is not supported by compile yet. Received: {arg}={value!r}. "
                "It works when calling the loss directly"
            )
        if self._named is not None:
            return self._named
        return LossSpec(self.name, "custom", None, self._torch_order)

    def get_config(self) -> dict[str, Any]:
        """The loss's arguments."""
        config: dict[str, Any] = {"name": self.name, "reduction": self.reduction}
        if self.dtype is not None:
            config["dtype"] = _ops_convert.dtype_name(self.dtype)
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Loss:
        """A new loss from `get_config`'s dict."""
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class LossFunctionWrapper(Loss):
    """A loss from a function ``fn(y_true, y_pred, **kwargs)`` in Keras's order.

    Use it to give ``compile`` a Keras-style custom loss function with
    keyword arguments, or a named one: a Keras model's ``compile`` calls plain
    functions in this order too; the native `epochal.Model` calls them
    ``loss(y_pred, y_true)``.

    Args:
        fn: returns one loss per sample (or a scalar).
        reduction: see `Loss`.
        name: defaults to the function's name.
        **kwargs: passed to ``fn`` on every call.

    Example:
        >>> def my_loss(y_true, y_pred):
        ...     return ((y_true - y_pred) ** 2).mean(dim=-1)
        >>> model.compile(optimizer="adam", loss=LossFunctionWrapper(my_loss))
    """

    def __init__(
        self,
        fn: Callable[..., Any],
        reduction: Reduction | None = "sum_over_batch_size",
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        if not callable(fn):
            raise ArgumentTypeError(
                f"LossFunctionWrapper: expected `fn` to be callable. Received: fn={fn!r}"
            )
        super().__init__(name=name or getattr(fn, "__name__", None), reduction=reduction)
        self.fn = fn
        self.fn_kwargs = kwargs

    def call(self, y_true: Any, y_pred: Any) -> Tensor:
        """``fn(y_true, y_pred, **kwargs)`` as a tensor."""
        return torch.as_tensor(self.fn(y_true, y_pred, **self.fn_kwargs))


class _Builtin(Loss):
    """A Keras loss class backed by an epochal named loss."""

    _registry_name: str
    _default_name: str

    def __init__(
        self,
        *,
        name: str | None,
        reduction: Reduction | None,
        from_logits: bool | None = None,
        params: dict[str, float] | None = None,
    ) -> None:
        super().__init__(name=name or self._default_name, reduction=reduction)
        spec = _losses.get(self._registry_name, from_logits=from_logits)
        self._named = dataclasses.replace(spec, params=dict(params or {}))

    def _blocker(self, arg: str, value: Any, default: Any) -> None:
        if value != default:
            self._compile_blockers[arg] = value


def _check_flag(owner: str, name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ArgumentTypeError(
            f"{owner}: expected `{name}` to be a bool. Received: {name}={value!r}"
        )
    return value


def _check_fraction(owner: str, name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise ArgumentError(
            f"{owner}: expected `{name}` to be a number in [0, 1]. Received: {name}={value!r}"
        )
    return float(value)


class _CrossEntropy(_Builtin):
    """Shared arguments of the binary and categorical cross-entropies."""

    def __init__(
        self,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
        axis: int = -1,
        reduction: Reduction | None = "sum_over_batch_size",
        name: str | None = None,
    ) -> None:
        owner = type(self).__name__
        self.from_logits = _check_flag(owner, "from_logits", from_logits)
        self.label_smoothing = _check_fraction(owner, "label_smoothing", label_smoothing)
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise ArgumentTypeError(
                f"{owner}: expected `axis` to be an int. Received: axis={axis!r}"
            )
        self.axis = axis
        super().__init__(name=name, reduction=reduction, from_logits=self.from_logits)
        self._blocker("label_smoothing", self.label_smoothing, 0.0)
        self._blocker("axis", axis, -1)

    def get_config(self) -> dict[str, Any]:
        """The loss's arguments."""
        return {
            **super().get_config(),
            "from_logits": self.from_logits,
            "label_smoothing": self.label_smoothing,
            "axis": self.axis,
        }


class BinaryCrossentropy(_CrossEntropy):
    """Binary cross-entropy; ``compile`` trains it as ``"binary_crossentropy"``.

    Args:
        from_logits: True if the model outputs logits. As in Keras, the default
            False means probabilities; a model ending in a sigmoid layer is
            trained from the layer's input either way (never activated twice).
        label_smoothing: squeeze labels towards 0.5; direct calls only
            (``compile`` needs 0).
        axis: the axis to average over; direct calls only (``compile`` needs -1).
        reduction: see `Loss`.
        name: defaults to ``"binary_crossentropy"``.

    Example:
        >>> model.compile(optimizer="adam", loss=BinaryCrossentropy(from_logits=True))
    """

    _registry_name = _default_name = "binary_crossentropy"

    def call(self, y_true: Any, y_pred: Any) -> Tensor:
        """Per-sample binary cross-entropy."""
        return binary_crossentropy(
            y_true, y_pred, self.from_logits, self.label_smoothing, self.axis
        )


class CategoricalCrossentropy(_CrossEntropy):
    """Cross-entropy for one-hot targets; ``compile`` trains it as ``"categorical_crossentropy"``.

    Args:
        from_logits: True if the model outputs logits; the default False means
            softmax probabilities (a final softmax layer is never applied twice).
        label_smoothing: mix the targets with the uniform distribution; direct
            calls only (``compile`` needs 0).
        axis: the class axis; direct calls only (``compile`` needs -1).
        reduction: see `Loss`.
        name: defaults to ``"categorical_crossentropy"``.
    """

    _registry_name = _default_name = "categorical_crossentropy"

    def call(self, y_true: Any, y_pred: Any) -> Tensor:
        """Per-sample categorical cross-entropy."""
        return categorical_crossentropy(
            y_true, y_pred, self.from_logits, self.label_smoothing, self.axis
        )


class SparseCategoricalCrossentropy(_Builtin):
    """Cross-entropy for integer labels; ``compile`` trains it as ``"sparse_categorical_crossentropy"``.

    Args:
        from_logits: True if the model outputs logits (see `BinaryCrossentropy`).
        ignore_class: not supported; must be None.
        reduction: see `Loss`.
        name: defaults to ``"sparse_categorical_crossentropy"``.
    """

    _registry_name = "sparse_categorical_crossentropy"
    _default_name = "sparse_categorical_crossentropy"

    def __init__(
        self,
        from_logits: bool = False,
        ignore_class: int | None = None,
        reduction: Reduction | None = "sum_over_batch_size",
        name: str | None = None,
    ) -> None:
        owner = type(self).__name__
        self.from_logits = _check_flag(owner, "from_logits", from_logits)
        if ignore_class is not None:
            raise ArgumentError(
                f"{owner}: `ignore_class` is not supported. Received: ignore_class={ignore_class!r}. "
                "Expected None; pass sample_weight=0 for the samples to ignore"
            )
        super().__init__(name=name, reduction=reduction, from_logits=self.from_logits)

    def call(self, y_true: Any, y_pred: Any) -> Tensor:
        """Per-sample sparse categorical cross-entropy."""
        return sparse_categorical_crossentropy(y_true, y_pred, self.from_logits)

    def get_config(self) -> dict[str, Any]:
        """The loss's arguments."""
        return {**super().get_config(), "from_logits": self.from_logits}


class _Regression(_Builtin):
    """A regression loss without options."""

    _fn: Callable[[Any, Any], Tensor]

    def __init__(
        self, reduction: Reduction | None = "sum_over_batch_size", name: str | None = None
    ) -> None:
        super().__init__(name=name, reduction=reduction)

    def call(self, y_true: Any, y_pred: Any) -> Tensor:
        """The loss per sample."""
        return type(self)._fn(y_true, y_pred)


class MeanSquaredError(_Regression):
    """Mean squared error; ``compile`` trains it as ``"mean_squared_error"``."""

    _registry_name = _default_name = "mean_squared_error"
    _fn = staticmethod(mean_squared_error)


class MeanAbsoluteError(_Regression):
    """Mean absolute error; ``compile`` trains it as ``"mean_absolute_error"``."""

    _registry_name = _default_name = "mean_absolute_error"
    _fn = staticmethod(mean_absolute_error)


class MeanAbsolutePercentageError(_Regression):
    """Mean absolute percentage error; ``compile`` trains it as ``"mean_absolute_percentage_error"``."""

    _registry_name = _default_name = "mean_absolute_percentage_error"
    _fn = staticmethod(mean_absolute_percentage_error)


class MeanSquaredLogarithmicError(_Regression):
    """Mean squared logarithmic error; ``compile`` trains it as ``"mean_squared_logarithmic_error"``."""

    _registry_name = _default_name = "mean_squared_logarithmic_error"
    _fn = staticmethod(mean_squared_logarithmic_error)


class LogCosh(_Regression):
    """Log-cosh error; ``compile`` trains it as ``"log_cosh"``."""

    _registry_name = _default_name = "log_cosh"
    _fn = staticmethod(log_cosh)


class Poisson(_Regression):
    """Poisson loss; ``compile`` trains it as ``"poisson"``."""

    _registry_name = _default_name = "poisson"
    _fn = staticmethod(poisson)


class KLDivergence(_Regression):
    """Kullback-Leibler divergence; ``compile`` trains it as ``"kl_divergence"``."""

    _registry_name = _default_name = "kl_divergence"
    _fn = staticmethod(kl_divergence)


class Hinge(_Regression):
    """Hinge loss (0/1 labels become -1/1); ``compile`` trains it as ``"hinge"``."""

    _registry_name = _default_name = "hinge"
    _fn = staticmethod(hinge)


class SquaredHinge(_Regression):
    """Squared hinge loss; ``compile`` trains it as ``"squared_hinge"``."""

    _registry_name = _default_name = "squared_hinge"
    _fn = staticmethod(squared_hinge)


class CosineSimilarity(_Builtin):
    """Minus the cosine similarity; ``compile`` trains it as ``"cosine_similarity"``.

    Args:
        axis: for direct calls only (``compile`` needs -1).
        reduction: see `Loss`.
        name: defaults to ``"cosine_similarity"``.
    """

    _registry_name = _default_name = "cosine_similarity"

    def __init__(
        self,
        axis: int = -1,
        reduction: Reduction | None = "sum_over_batch_size",
        name: str | None = None,
    ) -> None:
        super().__init__(name=name, reduction=reduction)
        self.axis = axis
        self._blocker("axis", axis, -1)

    def call(self, y_true: Any, y_pred: Any) -> Tensor:
        """Per-sample negative cosine similarity."""
        return cosine_similarity(y_true, y_pred, self.axis)


class Huber(_Builtin):
    """The Huber loss; ``compile`` trains it as ``"huber"`` with this ``delta``.

    Args:
        delta: where the loss turns from quadratic to linear (positive).
        reduction: see `Loss`.
        name: defaults to ``"huber_loss"``, Keras's name.

    Example:
        >>> model.compile(optimizer="adam", loss=Huber(delta=0.5))
    """

    _registry_name = "huber"
    _default_name = "huber_loss"

    def __init__(
        self,
        delta: float = 1.0,
        reduction: Reduction | None = "sum_over_batch_size",
        name: str | None = None,
    ) -> None:
        if isinstance(delta, bool) or not isinstance(delta, (int, float)) or not delta > 0:
            raise ArgumentError(
                f"Huber: expected `delta` to be a positive number. Received: delta={delta!r}"
            )
        self.delta = float(delta)
        super().__init__(name=name, reduction=reduction, params={"delta": self.delta})

    def call(self, y_true: Any, y_pred: Any) -> Tensor:
        """Per-sample Huber loss."""
        return huber(y_true, y_pred, self.delta)

    def get_config(self) -> dict[str, Any]:
        """The loss's arguments."""
        return {**super().get_config(), "delta": self.delta}


# Keras names this module does not have raise an error saying what to do instead.
from epochal.keras._missing import module_getattr  # noqa: E402

__getattr__ = module_getattr("keras.losses")
