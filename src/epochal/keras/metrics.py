"""Keras's metric classes, logged under their ``name`` and computed by epochal's metrics.

Each instance names one of epochal's metrics (see `epochal.metrics`) and the
key it is logged under: ``metrics=[AUC(name="auc_roc")]`` logs ``auc_roc``
and ``val_auc_roc``. Values are exact over the whole epoch (AUC too: no
threshold buckets). Used alone, an instance works as in Keras:
``update_state(y_true, y_pred)``, ``result()``, ``reset_state()``.

Example:
    >>> from epochal.keras import metrics
    >>> model.compile(optimizer="adam", loss="binary_crossentropy",
    ...               metrics=[metrics.BinaryAccuracy(), metrics.AUC(name="auc")])
"""

from __future__ import annotations

import copy
import functools
from typing import Any, ClassVar

import torch
from torch import Tensor

from epochal import metrics as _metrics
from epochal.errors import ArgumentError, ArgumentTypeError
from epochal.keras import _layer
from epochal.keras import losses as _keras_losses
from epochal.keras._variable import Variable
from epochal.keras.ops._convert import to_dtype

__all__ = [
    "AUC",
    "Accuracy",
    "BinaryAccuracy",
    "BinaryCrossentropy",
    "CategoricalAccuracy",
    "CategoricalCrossentropy",
    "F1Score",
    "FalseNegatives",
    "FalsePositives",
    "Hinge",
    "Mean",
    "MeanAbsoluteError",
    "MeanAbsolutePercentageError",
    "MeanIoU",
    "MeanMetricWrapper",
    "MeanSquaredError",
    "Metric",
    "Precision",
    "PrecisionAtRecall",
    "R2Score",
    "Recall",
    "RecallAtPrecision",
    "RootMeanSquaredError",
    "SparseCategoricalAccuracy",
    "SparseCategoricalCrossentropy",
    "SparseTopKCategoricalAccuracy",
    "SquaredHinge",
    "Sum",
    "TopKCategoricalAccuracy",
    "TrueNegatives",
    "TruePositives",
]


def _unsupported(owner: str, arg: str, value: Any, allowed: tuple[Any, ...]) -> None:
    if value not in allowed:
        raise ArgumentError(
            f"{owner}: `{arg}` is not supported. Received: {arg}={value!r}. "
            f"Expected one of: {', '.join(repr(a) for a in allowed)}"
        )


class Metric:
    """Keras's base metric, to subclass: ``update_state``, ``result``, ``reset_state``.

    State lives in variables made by `add_variable` (or `add_weight`):
    ``Variable``s with Keras's ``assign``/``assign_add``/``assign_sub``. Given to
    ``compile(metrics=[...])``, the instance is copied for training and for
    validation, fed each batch as ``update_state(y_true, y_pred)`` (Keras's
    order; probabilities for a model trained on logits), read once at the end
    of the epoch by ``result()``, so the value is exact over the epoch; its
    variables are saved in mid-epoch checkpoints and restored on resume.

    Args:
        dtype: the variables' default dtype (float32).
        name: the log name (default: the class name in snake case).

    Example:
        >>> from epochal import keras
        >>> class TruePositives(keras.metrics.Metric):
        ...     def __init__(self, name="true_positives", **kwargs):
        ...         super().__init__(name=name, **kwargs)
        ...         self.count = self.add_variable(shape=(), initializer="zeros", name="count")
        ...     def update_state(self, y_true, y_pred, sample_weight=None):
        ...         hits = keras.ops.logical_and(y_true > 0.5, y_pred > 0.5)
        ...         self.count.assign_add(keras.ops.sum(keras.ops.cast(hits, "float32")))
        ...     def result(self):
        ...         return self.count
        >>> model.compile(optimizer="adam", loss="binary_crossentropy", metrics=[TruePositives()])
    """

    def __init__(self, dtype: Any = None, name: str | None = None) -> None:
        if name is not None and (not isinstance(name, str) or not name):
            raise ArgumentTypeError(
                f"{type(self).__name__}: expected `name` to be a non-empty str. Received: name={name!r}"
            )
        self.name: str = name or _snake(type(self).__name__)
        self.dtype = dtype
        self._variables: list[Variable] = []

    # -- state -------------------------------------------------------------------------
    def add_variable(
        self,
        shape: Any = (),
        initializer: Any = "zeros",
        dtype: Any = None,
        aggregation: str = "sum",
        name: str | None = None,
    ) -> Variable:
        """A state variable of the metric (not trainable), kept in `variables`.

        Args:
            shape: its shape (``()`` for a scalar).
            initializer: a name from `epochal.initializers`, a callable filling a tensor, or a number.
            dtype: its dtype (default: the metric's, else float32).
            aggregation: accepted for Keras compatibility.
            name: its name.

        Raises:
            ArgumentTypeError: a shape that is not a tuple of ints, or an unusable initializer.
        """
        owner = f"{type(self).__name__}.add_variable"
        if "_variables" not in self.__dict__:
            raise ArgumentError(
                f"{owner}: call super().__init__() in __init__ before add_variable()"
            )
        sizes = _layer._weight_shape(owner, shape)
        target = (
            to_dtype(dtype if dtype is not None else self.dtype, "add_variable") or torch.float32
        )
        value = torch.zeros(sizes, dtype=target if not target.is_floating_point else torch.float32)
        with torch.no_grad():
            _layer._initializer(owner, initializer)(value)
        variable = Variable(
            value.to(target), False, name=name or f"variable_{len(self._variables)}"
        )
        if "_variables" not in self.__dict__:
            raise ArgumentError(
                f"{type(self).__name__}: call super().__init__() before add_variable()"
            )
        self._variables.append(variable)
        return variable

    def add_weight(
        self,
        name: str | None = None,
        shape: Any = (),
        aggregation: str = "sum",
        initializer: Any = "zeros",
        dtype: Any = None,
    ) -> Variable:
        """`add_variable` with Keras's ``add_weight`` argument order (``name`` first)."""
        return self.add_variable(shape, initializer, dtype, aggregation, name)

    @property
    def variables(self) -> list[Variable]:
        """The metric's state variables."""
        return list(self._variables)

    @property
    def direction(self) -> str | None:
        """``"max"``/``"min"`` from Keras's ``self._direction = "up"``/``"down"`` (for monitors' ``mode="auto"``)."""
        return {"up": "max", "down": "min"}.get(str(self.__dict__.get("_direction")))

    # -- Keras's methods ------------------------------------------------------------------
    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Accumulate a batch; subclasses implement it."""
        raise NotImplementedError(
            f"{type(self).__name__} must implement update_state(y_true, y_pred, sample_weight=None)"
        )

    def result(self) -> Any:
        """The metric over everything accumulated; subclasses implement it."""
        raise NotImplementedError(f"{type(self).__name__} must implement result()")

    def reset_state(self) -> None:
        """Set every variable to zeros (override for other initial values)."""
        for variable in self._variables:
            variable.assign(torch.zeros_like(variable))

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Any:
        """``update_state`` then ``result``, as Keras's metrics do."""
        self.update_state(y_true, y_pred, sample_weight=sample_weight)
        return self.result()

    def get_config(self) -> dict[str, Any]:
        """The metric's arguments."""
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Metric:
        """A new metric from `get_config`'s dict."""
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}>"

    @property
    def _epochal_metric_state(self) -> Any:
        """How ``compile`` builds this metric's per-epoch state (read by `epochal.metrics.request`)."""
        return functools.partial(KerasMetricState, self)


class KerasMetricState(_metrics.SumMetric):
    """A `Metric` instance as epochal's training loop runs it: a private copy, fed in Keras's order."""

    def __init__(self, metric: Metric) -> None:
        super().__init__()
        self.keras = copy.deepcopy(metric)
        self.keras.reset_state()

    def update(self, preds: Tensor, target: Tensor) -> None:
        # (N,) labels against (N, 1) outputs would broadcast to (N, N): match the ranks first.
        if isinstance(target, Tensor) and isinstance(preds, Tensor):
            target = _keras_losses._same_rank(target, preds)
        self.keras.update_state(target, preds)

    def compute(self) -> Tensor:
        value = self.keras.result()
        out = value if isinstance(value, Tensor) else torch.as_tensor(value)
        return out.detach()

    def reset(self) -> None:
        self.keras.reset_state()

    def to(self, device: torch.device) -> KerasMetricState:
        for variable in self.keras._variables:
            variable.data = variable.data.to(device)
        return self

    def clone(self) -> KerasMetricState:
        return KerasMetricState(self.keras)

    def state(self) -> dict[str, Any]:
        return {f"variable_{i}": v.detach().clone() for i, v in enumerate(self.keras._variables)}

    def load_state(self, state: dict[str, Any]) -> None:
        for i, variable in enumerate(self.keras._variables):
            variable.assign(state[f"variable_{i}"])


class Mean(Metric):
    """The (weighted) mean of the values given to ``update_state(values, sample_weight=None)``.

    Example:
        >>> tracker = Mean(name="loss")
        >>> tracker.update_state([1.0, 3.0])
        >>> float(tracker.result())
        2.0
    """

    def __init__(self, name: str = "mean", dtype: Any = None) -> None:
        super().__init__(dtype=dtype, name=name)
        self.total = self.add_variable((), "zeros", name="total")
        self.count = self.add_variable((), "zeros", name="count")

    def update_state(self, values: Any, sample_weight: Any = None) -> None:  # type: ignore[override]
        """Add ``values`` (any shape), weighted by ``sample_weight`` (broadcast) when given."""
        v = torch.as_tensor(values, device=self.total.device).to(self.total.dtype).detach()
        if sample_weight is None:
            self.total.assign_add(v.sum())
            self.count.assign_add(v.numel())
            return
        w = torch.as_tensor(sample_weight, device=v.device).to(v.dtype)
        w = torch.broadcast_to(w.reshape(w.shape + (1,) * (v.ndim - w.ndim)), v.shape)
        self.total.assign_add((v * w).sum())
        self.count.assign_add(w.sum())

    def result(self) -> Tensor:
        """``total / count`` (0 before any update)."""
        return torch.where(self.count > 0, self.total / self.count.clamp_min(1e-12), 0.0)


class Sum(Metric):
    """The (weighted) sum of the values given to ``update_state(values, sample_weight=None)``."""

    def __init__(self, name: str = "sum", dtype: Any = None) -> None:
        super().__init__(dtype=dtype, name=name)
        self.total = self.add_variable((), "zeros", name="total")

    def update_state(self, values: Any, sample_weight: Any = None) -> None:  # type: ignore[override]
        """Add ``values``, weighted by ``sample_weight`` when given."""
        v = torch.as_tensor(values, device=self.total.device).to(self.total.dtype).detach()
        if sample_weight is not None:
            w = torch.as_tensor(sample_weight, device=v.device).to(v.dtype)
            v = v * w.reshape(w.shape + (1,) * (v.ndim - w.ndim))
        self.total.assign_add(v.sum())

    def result(self) -> Tensor:
        """The sum so far."""
        return self.total.detach().clone()


class MeanMetricWrapper(Mean):
    """The mean over samples of ``fn(y_true, y_pred, **kwargs)`` (one value per sample), as a metric.

    Args:
        fn: a Keras-order function returning per-sample values (or a scalar batch mean).
        name: the log name (default: the function's name).
        dtype: the variables' dtype.
        **kwargs: passed to ``fn``.

    Raises:
        ArgumentTypeError: ``fn`` is not callable.
    """

    def __init__(self, fn: Any, name: str | None = None, dtype: Any = None, **kwargs: Any) -> None:
        if not callable(fn):
            raise ArgumentTypeError(
                f"MeanMetricWrapper: expected `fn` to be callable. Received: fn={fn!r}"
            )
        super().__init__(
            name=name or str(getattr(fn, "__name__", "mean_metric_wrapper")), dtype=dtype
        )
        self._fn = fn
        self._fn_kwargs = kwargs

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:  # type: ignore[override]
        """Add ``fn(y_true, y_pred)`` for the batch."""
        values = torch.as_tensor(self._fn(y_true, y_pred, **self._fn_kwargs))
        if values.ndim == 0:  # a batch mean: weigh it by the batch size
            n = len(y_pred) if hasattr(y_pred, "__len__") else 1
            values = values.expand(n)
        super().update_state(values, sample_weight)


def _snake(name: str) -> str:
    out = []
    for i, ch in enumerate(name):
        if ch.isupper() and i and not name[i - 1].isupper():
            out.append("_")
        out.append(ch.lower())
    return "".join(out)


class _Metric(Metric):
    """A Keras metric class: an epochal metric name and a log name."""

    _registry: ClassVar[str]

    def __init__(self, name: str | None = None, dtype: Any = None) -> None:
        super().__init__(dtype=dtype, name=name or self._registry)
        self._state: _metrics.CompiledMetric | None = None

    @property
    def _epochal_metric(self) -> tuple[str, str]:
        """``(registry name, log name)``, read by `epochal.metrics.request`."""
        return self._registry, self.name

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Accumulate a batch.

        Args:
            y_true: the targets.
            y_pred: the model's outputs (probabilities for classification).
            sample_weight: not supported; must be None.

        Raises:
            ArgumentError: ``sample_weight`` was given.
        """
        if sample_weight is not None:
            raise ArgumentError(
                f"{type(self).__name__}.update_state: `sample_weight` is not supported. "
                "Received a value; expected None"
            )
        pred = torch.as_tensor(y_pred)
        if not pred.is_floating_point():
            pred = pred.to(torch.get_default_dtype())
        true = torch.as_tensor(y_true, device=pred.device)
        if self._state is None:
            self._state = _metrics.build(_metrics.request(self), pred, pred.device)
        self._state.update(pred, true)

    def result(self) -> Tensor:
        """The metric over everything accumulated since the last reset (a scalar tensor).

        Raises:
            ArgumentError: nothing was accumulated yet.
        """
        if self._state is None:
            raise ArgumentError(
                f"{type(self).__name__}.result: no data yet. Call update_state(y_true, y_pred) first"
            )
        return self._state.compute()

    def reset_state(self) -> None:
        """Forget what was accumulated."""
        if self._state is not None:
            self._state.reset()

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Tensor:
        """``update_state`` then ``result``, as Keras's metrics do."""
        self.update_state(y_true, y_pred, sample_weight)
        return self.result()

    def get_config(self) -> dict[str, Any]:
        """The metric's arguments."""
        return {"name": self.name}

    @property
    def _epochal_metric_state(self) -> Any:
        return None  # compiled by name (`_epochal_metric`)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class Accuracy(_Metric):
    """Accuracy, with the task read from the outputs (epochal's ``"accuracy"``).

    Unlike Keras's ``Accuracy`` (exact equality of ``y_true`` and ``y_pred``),
    one output unit is thresholded at 0.5 and several are compared by argmax,
    which is what ``metrics=["accuracy"]`` means in Keras.
    """

    _registry = "accuracy"


class BinaryAccuracy(_Metric):
    """The share of outputs on the same side of 0.5 as their labels.

    Args:
        name: the log name (default ``"binary_accuracy"``).
        dtype: accepted for Keras compatibility.
        threshold: only 0.5 is supported.
    """

    _registry = "binary_accuracy"

    def __init__(self, name: str | None = None, dtype: Any = None, threshold: float = 0.5) -> None:
        _unsupported("BinaryAccuracy", "threshold", threshold, (0.5,))
        super().__init__(name, dtype)


class CategoricalAccuracy(_Metric):
    """The share of samples whose argmax matches the one-hot target's."""

    _registry = "categorical_accuracy"


class SparseCategoricalAccuracy(_Metric):
    """The share of samples whose argmax equals the integer label."""

    _registry = "sparse_categorical_accuracy"


class AUC(_Metric):
    """Area under the ROC curve, computed exactly (binary; macro one-vs-rest for classes).

    Args:
        num_thresholds: accepted for Keras compatibility; the area is exact.
        curve: only ``"ROC"`` is supported.
        summation_method: accepted for Keras compatibility.
        name: the log name (default ``"auc"``).
        dtype: accepted for Keras compatibility.
        thresholds: only None is supported.
        multi_label: only False is supported.
        num_labels: only None is supported.
        label_weights: only None is supported.
        from_logits: accepted; the ROC area does not change under a sigmoid.
    """

    _registry = "auc"

    def __init__(
        self,
        num_thresholds: int = 200,
        curve: str = "ROC",
        summation_method: str = "interpolation",
        name: str | None = None,
        dtype: Any = None,
        thresholds: Any = None,
        multi_label: bool = False,
        num_labels: int | None = None,
        label_weights: Any = None,
        from_logits: bool = False,
    ) -> None:
        _unsupported("AUC", "curve", curve, ("ROC",))
        _unsupported("AUC", "thresholds", thresholds, (None,))
        _unsupported("AUC", "multi_label", multi_label, (False,))
        _unsupported("AUC", "num_labels", num_labels, (None,))
        _unsupported("AUC", "label_weights", label_weights, (None,))
        super().__init__(name, dtype)
        self.from_logits = from_logits


class _PrecisionRecall(_Metric):
    def __init__(
        self,
        thresholds: float | None = None,
        top_k: int | None = None,
        class_id: int | None = None,
        name: str | None = None,
        dtype: Any = None,
    ) -> None:
        owner = type(self).__name__
        _unsupported(owner, "thresholds", thresholds, (None, 0.5))
        _unsupported(owner, "top_k", top_k, (None,))
        _unsupported(owner, "class_id", class_id, (None,))
        super().__init__(name, dtype)


class Precision(_PrecisionRecall):
    """Precision at threshold 0.5 (binary), macro-averaged over classes otherwise.

    Args:
        thresholds: None or 0.5.
        top_k, class_id: only None is supported.
        name: the log name (default ``"precision"``).
        dtype: accepted for Keras compatibility.
    """

    _registry = "precision"


class Recall(_PrecisionRecall):
    """Recall at threshold 0.5 (binary), macro-averaged over classes otherwise.

    Args: as `Precision`; the log name defaults to ``"recall"``.
    """

    _registry = "recall"


class F1Score(_Metric):
    """F1 at threshold 0.5 (binary), macro-averaged over classes otherwise.

    Args:
        average: None or ``"macro"``; the log holds the macro average (one
            float), not Keras's per-class array for None.
        threshold: None or 0.5.
        name: the log name (default ``"f1_score"``).
        dtype: accepted for Keras compatibility.
    """

    _registry = "f1_score"

    def __init__(
        self,
        average: str | None = None,
        threshold: float | None = None,
        name: str | None = None,
        dtype: Any = None,
    ) -> None:
        _unsupported("F1Score", "average", average, (None, "macro"))
        _unsupported("F1Score", "threshold", threshold, (None, 0.5))
        super().__init__(name, dtype)


class MeanSquaredError(_Metric):
    """Mean squared error over the epoch."""

    _registry = "mean_squared_error"


class RootMeanSquaredError(_Metric):
    """Square root of the mean squared error over the epoch."""

    _registry = "root_mean_squared_error"


class MeanAbsoluteError(_Metric):
    """Mean absolute error over the epoch."""

    _registry = "mean_absolute_error"


class MeanAbsolutePercentageError(_Metric):
    """Mean absolute percentage error over the epoch."""

    _registry = "mean_absolute_percentage_error"


class R2Score(_Metric):
    """The coefficient of determination over the epoch."""

    _registry = "r2_score"


class _Parameterized(_Metric):
    """A metric whose epochal kind takes keyword arguments (read by `epochal.metrics.request`)."""

    def __init__(self, name: str | None, dtype: Any, **options: Any) -> None:
        super().__init__(name, dtype)
        self._options = options

    @property
    def _epochal_options(self) -> dict[str, Any]:
        return dict(self._options)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, **self._options}


class Hinge(_Metric):
    """Mean hinge loss ``max(1 - y_true * y_pred, 0)`` (0/1 targets become -1/1)."""

    _registry = "hinge"


class SquaredHinge(_Metric):
    """Mean squared hinge loss ``max(1 - y_true * y_pred, 0) ** 2``."""

    _registry = "squared_hinge"


class _Crossentropy(_Metric):
    def __init__(
        self,
        name: str | None = None,
        dtype: Any = None,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
        axis: int = -1,
        ignore_class: int | None = None,
    ) -> None:
        owner = type(self).__name__
        _unsupported(owner, "from_logits", from_logits, (False,))
        _unsupported(owner, "label_smoothing", label_smoothing, (0, 0.0))
        _unsupported(owner, "axis", axis, (-1,))
        _unsupported(owner, "ignore_class", ignore_class, (None,))
        super().__init__(name, dtype)


class BinaryCrossentropy(_Crossentropy):
    """Mean binary cross-entropy of probabilities (a model with a cross-entropy loss
    and logits outputs feeds its metrics probabilities)."""

    _registry = "binary_crossentropy"


class CategoricalCrossentropy(_Crossentropy):
    """Mean categorical cross-entropy of class probabilities and one-hot targets."""

    _registry = "categorical_crossentropy"


class SparseCategoricalCrossentropy(_Crossentropy):
    """Mean categorical cross-entropy of class probabilities and integer targets."""

    _registry = "sparse_categorical_crossentropy"


class _Count(_Parameterized):
    def __init__(
        self, thresholds: float | None = None, name: str | None = None, dtype: Any = None
    ) -> None:
        owner = type(self).__name__
        if thresholds is not None and (
            isinstance(thresholds, bool) or not isinstance(thresholds, (int, float))
        ):
            raise ArgumentError(
                f"{owner}: `thresholds` must be one number (a list is not supported). "
                f"Received: thresholds={thresholds!r}"
            )
        threshold = 0.5 if thresholds is None else float(thresholds)
        super().__init__(name, dtype, threshold=threshold)


class TruePositives(_Count):
    """The number of positive predictions (output > ``thresholds``, default 0.5) that are right."""

    _registry = "true_positives"


class FalsePositives(_Count):
    """The number of positive predictions that are wrong."""

    _registry = "false_positives"


class TrueNegatives(_Count):
    """The number of negative predictions that are right."""

    _registry = "true_negatives"


class FalseNegatives(_Count):
    """The number of negative predictions that are wrong."""

    _registry = "false_negatives"


def _fraction(owner: str, arg: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ArgumentError(f"{owner}: expected `{arg}` in [0, 1]. Received: {arg}={value!r}")
    return float(value)


class PrecisionAtRecall(_Parameterized):
    """The best precision at which recall is at least ``recall`` (binary, exact thresholds).

    Args:
        recall: the recall to reach, in [0, 1].
        num_thresholds: accepted for Keras compatibility; every threshold is tried.
        class_id: only None is supported.
        name, dtype: as Keras.
    """

    _registry = "precision_at_recall"

    def __init__(
        self,
        recall: float,
        num_thresholds: int = 200,
        class_id: int | None = None,
        name: str | None = None,
        dtype: Any = None,
    ) -> None:
        _unsupported("PrecisionAtRecall", "class_id", class_id, (None,))
        super().__init__(name, dtype, value=_fraction("PrecisionAtRecall", "recall", recall))


class RecallAtPrecision(_Parameterized):
    """The best recall at which precision is at least ``precision`` (binary, exact thresholds).

    Args: as `PrecisionAtRecall`, with ``precision`` the precision to reach.
    """

    _registry = "recall_at_precision"

    def __init__(
        self,
        precision: float,
        num_thresholds: int = 200,
        class_id: int | None = None,
        name: str | None = None,
        dtype: Any = None,
    ) -> None:
        _unsupported("RecallAtPrecision", "class_id", class_id, (None,))
        super().__init__(name, dtype, value=_fraction("RecallAtPrecision", "precision", precision))


class _TopK(_Parameterized):
    def __init__(self, k: int = 5, name: str | None = None, dtype: Any = None) -> None:
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ArgumentError(
                f"{type(self).__name__}: expected `k` to be a positive int. Received: k={k!r}"
            )
        super().__init__(name, dtype, k=k)


class TopKCategoricalAccuracy(_TopK):
    """How often the one-hot target's class is among the ``k`` highest outputs."""

    _registry = "top_k_categorical_accuracy"


class SparseTopKCategoricalAccuracy(_TopK):
    """How often the integer target is among the ``k`` highest outputs."""

    _registry = "sparse_top_k_categorical_accuracy"


class MeanIoU(_Parameterized):
    """Mean intersection-over-union over ``num_classes`` classes.

    Args:
        num_classes: the number of classes (at least 2).
        name, dtype: as Keras.
        ignore_class: only None is supported.
        sparse_y_true: targets are class ids (else one-hot).
        sparse_y_pred: outputs are class ids, as Keras's default (else class
            scores, reduced by argmax; set False for a softmax model's metric).
        axis: only -1 is supported.
    """

    _registry = "mean_io_u"

    def __init__(
        self,
        num_classes: int,
        name: str | None = None,
        dtype: Any = None,
        ignore_class: int | None = None,
        sparse_y_true: bool = True,
        sparse_y_pred: bool = True,
        axis: int = -1,
    ) -> None:
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
            raise ArgumentError(
                f"MeanIoU: expected `num_classes` to be an int >= 2. Received: {num_classes!r}"
            )
        _unsupported("MeanIoU", "ignore_class", ignore_class, (None,))
        _unsupported("MeanIoU", "axis", axis, (-1,))
        super().__init__(
            name,
            dtype,
            num_classes=num_classes,
            sparse_y_true=bool(sparse_y_true),
            sparse_y_pred=bool(sparse_y_pred),
        )


# Keras names this module does not have raise an error saying what to do instead.
from epochal.keras._missing import module_getattr  # noqa: E402

__getattr__ = module_getattr("keras.metrics")
