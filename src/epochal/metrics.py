"""Metrics by name, as callables, or as `torchmetrics.Metric` instances.

Every metric accumulates on the device over a whole epoch (or the whole
validation set) and is computed once at its end, so values are exact, not
averages of batch averages. Names infer the task from the model's output:
one output unit is binary (probability threshold 0.5), several are
multiclass, with integer or one-hot targets.

When the loss is a cross-entropy, metrics see probabilities, also for a
model that outputs logits.

Accuracy and the regression errors are small sum-based metrics written here
(`SumMetric`: no per-step checks, no host sync, no torchmetrics bookkeeping);
precision, recall, F1, AUC and R² are torchmetrics' metrics.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import torch
import torchmetrics
from torch import Tensor

from epochal import _metric_kinds as kinds
from epochal._metric_kinds import SumMetric
from epochal._names import snake_case
from epochal.errors import ArgumentError, ArgumentTypeError

__all__ = ["METRICS", "ChunkedUpdates", "CompiledMetric", "MetricRequest", "build", "request"]

Direction = Literal["min", "max"]


MetricImpl = torchmetrics.Metric | SumMetric


class BinaryAccuracy(SumMetric):
    higher_is_better = True
    counts_only = True  # hit counts: see CompiledMetric.counts_only
    threshold = 0.5  # 0.0 when it is given logits

    def update(self, preds: Tensor, target: Tensor) -> None:
        if target.shape != preds.shape:
            target = target.reshape(preds.shape)
        hits = (preds > self.threshold) == (target > 0.5)
        self.total += hits.sum()
        self.count += hits.numel()


class MulticlassAccuracy(SumMetric):
    higher_is_better = True
    counts_only = True

    def update(self, preds: Tensor, target: Tensor) -> None:
        if target.shape == preds.shape:  # one-hot targets
            target = target.argmax(dim=-1)
        hits = preds.argmax(dim=-1) == target.reshape(preds.shape[:-1])
        self.total += hits.sum()
        self.count += hits.numel()


class MeanSquaredError(SumMetric):
    higher_is_better = False

    def update(self, preds: Tensor, target: Tensor) -> None:
        self.total += (preds - target.reshape(preds.shape)).square().sum()
        self.count += preds.numel()


class RootMeanSquaredError(MeanSquaredError):
    def compute(self) -> Tensor:
        return super().compute().sqrt()


class MeanAbsoluteError(SumMetric):
    higher_is_better = False

    def update(self, preds: Tensor, target: Tensor) -> None:
        self.total += (preds - target.reshape(preds.shape)).abs().sum()
        self.count += preds.numel()


class MeanAbsolutePercentageError(SumMetric):
    higher_is_better = False

    def update(self, preds: Tensor, target: Tensor) -> None:
        target = target.reshape(preds.shape)
        self.total += (100.0 * (preds - target).abs() / target.abs().clamp_min(1e-7)).sum()
        self.count += preds.numel()


Task = Literal["binary", "multiclass", "regression"]


def _classification(kind: str) -> Callable[[Task, int], torchmetrics.Metric]:
    def factory(task: Task, classes: int) -> torchmetrics.Metric:
        if task == "binary":
            cls = {
                "precision": torchmetrics.classification.BinaryPrecision,
                "recall": torchmetrics.classification.BinaryRecall,
                "f1": torchmetrics.classification.BinaryF1Score,
                "auc": torchmetrics.classification.BinaryAUROC,
            }[kind]
            return cls(validate_args=False)
        mcls = {
            "precision": torchmetrics.classification.MulticlassPrecision,
            "recall": torchmetrics.classification.MulticlassRecall,
            "f1": torchmetrics.classification.MulticlassF1Score,
            "auc": torchmetrics.classification.MulticlassAUROC,
        }[kind]
        return mcls(num_classes=classes, average="macro", validate_args=False)

    return factory


def _accuracy(task: Task, classes: int) -> MetricImpl:
    return BinaryAccuracy() if task == "binary" else MulticlassAccuracy()


def _fixed(cls: type[SumMetric]) -> Callable[[Task, int], MetricImpl]:
    return lambda task, classes: cls()


def _r2(task: Task, classes: int) -> torchmetrics.Metric:
    return torchmetrics.R2Score()


def _plain(cls: type[kinds.SampleMean]) -> Callable[..., MetricImpl]:
    return lambda task, classes, **options: cls(**options)


def _count(kind: str) -> Callable[..., MetricImpl]:
    return lambda task, classes, threshold=0.5: kinds.ConfusionCount(kind, threshold)


def _top_k(sparse: bool) -> Callable[..., MetricImpl]:
    return lambda task, classes, k=5: kinds.TopKAccuracy(k, sparse)


def _mean_iou(
    task: Task,
    classes: int,
    num_classes: int = 2,
    sparse_y_true: bool = True,
    sparse_y_pred: bool = True,
) -> MetricImpl:
    return kinds.MeanIoU(num_classes, sparse_y_true, sparse_y_pred)


def _at_fixed(kind: str, default: float) -> Callable[..., MetricImpl]:
    return lambda task, classes, value=default: kinds.at_fixed(kind, value)


# name -> (factory(task, classes), direction, fixed task or None)
_REGISTRY: dict[str, tuple[Callable[[Task, int], MetricImpl], Direction, Task | None]] = {
    "accuracy": (_accuracy, "max", None),
    "binary_accuracy": (_accuracy, "max", "binary"),
    "categorical_accuracy": (_accuracy, "max", "multiclass"),
    "sparse_categorical_accuracy": (_accuracy, "max", "multiclass"),
    "precision": (_classification("precision"), "max", None),
    "recall": (_classification("recall"), "max", None),
    "f1_score": (_classification("f1"), "max", None),
    "auc": (_classification("auc"), "max", None),
    "mean_squared_error": (_fixed(MeanSquaredError), "min", "regression"),
    "root_mean_squared_error": (_fixed(RootMeanSquaredError), "min", "regression"),
    "mean_absolute_error": (_fixed(MeanAbsoluteError), "min", "regression"),
    "mean_absolute_percentage_error": (_fixed(MeanAbsolutePercentageError), "min", "regression"),
    "r2_score": (_r2, "max", "regression"),
    # "regression" here means: outputs and targets are passed through as they are.
    "hinge": (_plain(kinds.HingeMean), "min", "regression"),
    "squared_hinge": (_plain(kinds.SquaredHingeMean), "min", "regression"),
    "binary_crossentropy": (_plain(kinds.BinaryCrossentropyMean), "min", "regression"),
    "categorical_crossentropy": (_plain(kinds.CategoricalCrossentropyMean), "min", "regression"),
    "sparse_categorical_crossentropy": (
        _plain(kinds.SparseCategoricalCrossentropyMean),
        "min",
        "regression",
    ),
    "true_positives": (_count("true_positives"), "max", "regression"),
    "false_positives": (_count("false_positives"), "min", "regression"),
    "true_negatives": (_count("true_negatives"), "max", "regression"),
    "false_negatives": (_count("false_negatives"), "min", "regression"),
    "top_k_categorical_accuracy": (_top_k(sparse=False), "max", "regression"),
    "sparse_top_k_categorical_accuracy": (_top_k(sparse=True), "max", "regression"),
    "mean_io_u": (_mean_iou, "max", "regression"),
    "precision_at_recall": (_at_fixed("precision_at_recall", 0.5), "max", "regression"),
    "recall_at_precision": (_at_fixed("recall_at_precision", 0.5), "max", "regression"),
}
_ALIASES = {
    "acc": "accuracy",
    "f1": "f1_score",
    "auroc": "auc",
    "mse": "mean_squared_error",
    "rmse": "root_mean_squared_error",
    "mae": "mean_absolute_error",
    "mape": "mean_absolute_percentage_error",
    "r2": "r2_score",
    "top_k_accuracy": "top_k_categorical_accuracy",
    "mean_iou": "mean_io_u",
}

#: Every accepted metric name (canonical names and aliases).
METRICS: tuple[str, ...] = tuple(sorted({*_REGISTRY, *_ALIASES}))


@dataclass(frozen=True)
class MetricRequest:
    """A metric as compiled: its log name and how to build it once outputs are known."""

    name: str
    direction: Direction | None
    key: str | None = None  # registry key for names
    instance: torchmetrics.Metric | None = None
    fn: Callable[..., Any] | None = None
    options: dict[str, Any] | None = None  # keyword arguments of a parameterized kind
    factory: Callable[[], MetricImpl] | None = None  # subclasses of keras.metrics.Metric


def request(identifier: Any) -> MetricRequest:
    """Validate one entry of ``compile(metrics=...)``.

    Raises:
        ArgumentError: unknown name (lists the valid ones).
        ArgumentTypeError: not a name, callable or torchmetrics.Metric.
    """
    if isinstance(identifier, str):
        key = _ALIASES.get(identifier.lower(), identifier.lower())
        if key not in _REGISTRY:
            raise ArgumentError(
                f"Unknown metric: {identifier!r}. Expected one of: {', '.join(METRICS)}; "
                "or a callable metric(y_pred, y_true), or a torchmetrics.Metric"
            )
        # Keras logs a metric under the name the user wrote.
        return MetricRequest(identifier, _REGISTRY[key][1], key=key)
    named = getattr(identifier, "_epochal_metric", None)
    if isinstance(named, tuple):  # metric classes of epochal.keras: (registry name, log name)
        key, log_name = named
        resolved = request(key)
        options = getattr(identifier, "_epochal_options", None)
        return MetricRequest(log_name, resolved.direction, key=resolved.key, options=options)
    factory = getattr(identifier, "_epochal_metric_state", None)
    if callable(factory):  # a keras.metrics.Metric subclass: builds its own state
        return MetricRequest(
            identifier.name, getattr(identifier, "direction", None), factory=factory
        )
    # An explicit `name` attribute (Keras's convention; settable on torchmetrics objects
    # and functions) is the log name, so two metrics of one class can be told apart.
    given = getattr(identifier, "name", None)
    given = given if isinstance(given, str) and given else None
    if isinstance(identifier, torchmetrics.Metric):
        hib = getattr(identifier, "higher_is_better", None)
        direction: Direction | None = None if hib is None else ("max" if hib else "min")
        name = given or snake_case(type(identifier).__name__)
        return MetricRequest(name, direction, instance=identifier)
    if callable(identifier):
        name = given or snake_case(
            getattr(identifier, "__name__", None) or type(identifier).__name__
        )
        direction = getattr(identifier, "direction", None)
        return MetricRequest(name, direction, fn=identifier)
    raise ArgumentTypeError(
        "Expected each metric to be a name, a callable metric(y_pred, y_true) or a "
        f"torchmetrics.Metric. Received: {identifier!r} of type {type(identifier).__name__}"
    )


class _CallableMean(SumMetric):
    """A callable ``fn(y_pred, y_true)`` averaged over samples (weighted by batch size)."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        super().__init__()
        self.fn = fn

    def update(self, preds: Tensor, target: Tensor) -> None:
        value = torch.as_tensor(self.fn(preds, target), device=self.total.device)
        n = preds.shape[0]
        # A per-sample result is summed; a scalar is taken as the batch mean.
        self.total += value.detach().sum() if value.ndim else value.detach() * n
        self.count += n


_STAT_SCORES = (
    torchmetrics.classification.BinaryStatScores,
    torchmetrics.classification.MulticlassStatScores,
)


class CompiledMetric:
    """A metric bound to a model's outputs, accumulating on the device."""

    def __init__(
        self, name: str, direction: Direction | None, metric: MetricImpl, task: Task
    ) -> None:
        self.name = name
        self.direction = direction
        self.metric = metric
        self.task = task
        #: fed logits directly (accuracy needs no sigmoid/softmax: a threshold
        #: at 0 or an argmax gives the same answer, without the extra kernel)
        self.takes_logits = False
        #: ``update(preds, target)``: the metric's own, or adapted to what
        #: torchmetrics' binary and multiclass metrics take; chosen once here,
        #: as it runs for every batch.
        self.update: Callable[[Tensor, Tensor], None] = self._adapted_update()

    def accept_logits(self) -> None:
        """Take logits rather than probabilities, if the result does not change."""
        if isinstance(self.metric, BinaryAccuracy):
            self.metric.threshold = 0.0
            self.takes_logits = True
        elif isinstance(self.metric, MulticlassAccuracy):
            self.takes_logits = True

    def _adapted_update(self) -> Callable[[Tensor, Tensor], None]:
        metric = self.metric
        if self.task == "binary" and not isinstance(metric, BinaryAccuracy):

            def binary(preds: Tensor, target: Tensor) -> None:
                # torchmetrics' binary metrics want flat probabilities and integer targets.
                metric.update(preds.reshape(-1), target.reshape(-1).round().long())

            return binary
        if self.task == "multiclass" and not isinstance(metric, MulticlassAccuracy):

            def multiclass(preds: Tensor, target: Tensor) -> None:
                if target.shape == preds.shape:
                    target = target.argmax(dim=-1)
                metric.update(preds.reshape(-1, preds.shape[-1]), target.reshape(-1).long())

            return multiclass
        return metric.update

    @property
    def counts_only(self) -> bool:
        """Whether the state is whole counts, so updating on several batches at once gives the same bits.

        Accuracy's hits and torchmetrics' confusion counts (precision, recall,
        F1) are; a float sum is not (its rounding depends on the grouping).
        """
        metric = self.metric
        if isinstance(metric, SumMetric):
            return getattr(metric, "counts_only", False) is True
        return isinstance(metric, _STAT_SCORES)

    def compute(self) -> Tensor:
        return self.metric.compute()

    def reset(self) -> None:
        self.metric.reset()

    def clone(self) -> CompiledMetric:
        out = CompiledMetric(self.name, self.direction, self.metric.clone(), self.task)
        out.takes_logits = self.takes_logits
        return out

    def state(self) -> dict[str, Any]:
        """The accumulated state (tensors or lists of tensors), copied: for step checkpoints."""
        if isinstance(self.metric, SumMetric):
            return self.metric.state()
        out: dict[str, Any] = {}
        for name in self.metric._defaults:
            value = getattr(self.metric, name)
            out[name] = (
                [v.detach().clone() for v in value]
                if isinstance(value, list)
                else value.detach().clone()
            )
        return out

    def load_state(self, state: dict[str, Any]) -> None:
        if isinstance(self.metric, SumMetric):
            self.metric.load_state(state)
            return
        for name, value in state.items():
            setattr(self.metric, name, value)
        self.metric._update_count = 1  # torchmetrics warns on compute() before any update
        self.metric._computed = None


def _infer_task(y_pred: Tensor) -> tuple[Task, int]:
    classes = int(y_pred.shape[-1]) if y_pred.ndim > 1 else 1
    return ("binary", 1) if classes == 1 else ("multiclass", classes)


def build(req: MetricRequest, y_pred: Any, device: torch.device) -> CompiledMetric:
    """Build the metric for outputs shaped like ``y_pred`` (a sample batch)."""
    if req.instance is not None:
        return CompiledMetric(req.name, req.direction, req.instance.to(device), "regression")
    if req.factory is not None:
        return CompiledMetric(req.name, req.direction, req.factory().to(device), "regression")
    if req.fn is not None:
        return CompiledMetric(
            req.name, req.direction, _CallableMean(req.fn).to(device), "regression"
        )
    assert req.key is not None
    factory, direction, fixed = _REGISTRY[req.key]
    if not isinstance(y_pred, Tensor):
        raise ArgumentError(
            f"Metric {req.name!r} needs the model to return one tensor. Received a "
            f"{type(y_pred).__name__}; pass a callable metric instead"
        )
    task, classes = _infer_task(y_pred)
    if fixed == "regression":
        task = "regression"
    elif fixed is not None and fixed != task:
        raise ArgumentError(
            f"Metric {req.name!r} is for {fixed} outputs, but the model outputs "
            f"{classes} unit(s) per sample. Use metrics=['accuracy'] to infer the task"
        )
    impl = factory(task, classes, **(req.options or {}))
    return CompiledMetric(req.name, direction, impl.to(device), task)


class ChunkedUpdates:
    """Metric updates over many batches at once, for metrics whose state is counts.

    Evaluation hands each batch's outputs and targets to `add`; the metrics
    are updated once per `LIMIT` output elements (and at `flush`) on the
    batches concatenated: a few kernels per chunk instead of per batch, with
    the same result for `CompiledMetric.counts_only` metrics. Outputs or
    targets that are not tensors are updated on as they come.
    """

    LIMIT = 1 << 16  # output elements held before an update (memory stays small)

    def __init__(self, update: Callable[[Any, Any], None]) -> None:
        self._update = update
        self._outs: list[Tensor] = []
        self._targets: list[Tensor] = []
        self._size = 0

    def add(self, out: Any, target: Any) -> None:
        if not (isinstance(out, Tensor) and isinstance(target, Tensor)):
            self.flush()
            self._update(out, target)
            return
        self._outs.append(out)
        self._targets.append(target)
        self._size += out.numel()
        if self._size >= self.LIMIT:
            self.flush()

    def flush(self) -> None:
        outs, targets = self._outs, self._targets
        if not outs:
            return
        self._outs, self._targets, self._size = [], [], 0
        if len(outs) == 1:
            self._update(outs[0], targets[0])
        else:
            self._update(torch.cat(outs), torch.cat(targets))
