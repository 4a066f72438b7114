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

from typing import Any, ClassVar

import torch
from torch import Tensor

from epochal import metrics as _metrics
from epochal.errors import ArgumentError, ArgumentTypeError

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
    "MeanAbsoluteError",
    "MeanAbsolutePercentageError",
    "MeanIoU",
    "MeanSquaredError",
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


class _Metric:
    """A Keras metric class: an epochal metric name and a log name."""

    _registry: ClassVar[str]

    def __init__(self, name: str | None = None, dtype: Any = None) -> None:
        if name is not None and (not isinstance(name, str) or not name):
            raise ArgumentTypeError(
                f"{type(self).__name__}: expected `name` to be a non-empty str. Received: name={name!r}"
            )
        self.name: str = name or self._registry
        self.dtype = dtype
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
