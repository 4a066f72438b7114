"""More metric kinds for `epochal.metrics`: hinge and cross-entropy means, confusion
counts, top-k accuracy, mean IoU, and precision/recall at a fixed recall/precision.

Each is exact over the epoch: sums and counts (or a confusion matrix) kept
on the device, or torchmetrics' exact curves for the fixed-point metrics.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
import torchmetrics
from torch import Tensor

from epochal.errors import ArgumentError

__all__ = [
    "SampleMean",
    "SumMetric",
    "BinaryCrossentropyMean",
    "CategoricalCrossentropyMean",
    "ConfusionCount",
    "HingeMean",
    "MeanIoU",
    "SparseCategoricalCrossentropyMean",
    "SquaredHingeMean",
    "TopKAccuracy",
    "at_fixed",
]

_EPS = 1e-7


class SumMetric:
    """A ratio of a sum kept on the device and a sample count kept in Python.

    The hot metrics (accuracy, the regression errors) are this small class
    rather than a ``torchmetrics.Metric``: torchmetrics' per-update bookkeeping
    and a tensor sample count cost about 15 µs a step on a CPU, as much as a
    small model's whole forward pass.
    """

    higher_is_better: bool

    def __init__(self) -> None:
        self.total = torch.zeros((), dtype=torch.float64)
        self.count = 0

    def update(self, preds: Tensor, target: Tensor) -> None:
        raise NotImplementedError

    def to(self, device: torch.device) -> SumMetric:
        # MPS has no float64.
        dtype = torch.float32 if device.type == "mps" else torch.float64
        self.total = self.total.to(device=device, dtype=dtype)
        return self

    def reset(self) -> None:
        self.total = torch.zeros((), dtype=self.total.dtype, device=self.total.device)
        self.count = 0

    def compute(self) -> Tensor:
        return (self.total / max(self.count, 1)).float()

    def clone(self) -> SumMetric:
        new = copy.copy(self)
        new.total = self.total.clone()
        return new

    def state(self) -> dict[str, Any]:
        return {"total": self.total.clone(), "count": self.count}

    def load_state(self, state: dict[str, Any]) -> None:
        self.total = state["total"].to(self.total.device)
        self.count = int(state["count"])


class SampleMean(SumMetric):
    """Mean over samples of a per-sample value (the base of the loss-like metrics)."""

    higher_is_better = False

    def per_sample(self, preds: Tensor, target: Tensor) -> Tensor:
        raise NotImplementedError

    def update(self, preds: Tensor, target: Tensor) -> None:
        values = self.per_sample(preds, target)
        self.total += values.sum()
        self.count += values.numel()


def _signed(target: Tensor) -> Tensor:
    """Keras's hinge targets: 0/1 labels become -1/1; -1/1 stay."""
    return torch.where(target == 0, -torch.ones_like(target), target)


class HingeMean(SampleMean):
    def per_sample(self, preds: Tensor, target: Tensor) -> Tensor:
        target = _signed(target.reshape(preds.shape).to(preds.dtype))
        return (
            (1 - target * preds).clamp_min(0).mean(dim=-1)
            if preds.ndim > 1
            else (1 - target * preds).clamp_min(0)
        )


class SquaredHingeMean(SampleMean):
    def per_sample(self, preds: Tensor, target: Tensor) -> Tensor:
        target = _signed(target.reshape(preds.shape).to(preds.dtype))
        values = (1 - target * preds).clamp_min(0).square()
        return values.mean(dim=-1) if preds.ndim > 1 else values


class BinaryCrossentropyMean(SampleMean):
    """Keras's ``binary_crossentropy`` metric on probabilities (clipped as Keras clips)."""

    def per_sample(self, preds: Tensor, target: Tensor) -> Tensor:
        p = preds.clamp(_EPS, 1 - _EPS)
        t = target.reshape(preds.shape).to(preds.dtype)
        values = -(t * p.log() + (1 - t) * (1 - p).log())
        return values.mean(dim=-1) if preds.ndim > 1 else values


class CategoricalCrossentropyMean(SampleMean):
    def per_sample(self, preds: Tensor, target: Tensor) -> Tensor:
        p = preds / preds.sum(dim=-1, keepdim=True)
        p = p.clamp(_EPS, 1 - _EPS)
        return -(target.reshape(preds.shape).to(preds.dtype) * p.log()).sum(dim=-1)


class SparseCategoricalCrossentropyMean(SampleMean):
    def per_sample(self, preds: Tensor, target: Tensor) -> Tensor:
        p = preds / preds.sum(dim=-1, keepdim=True)
        p = p.clamp(_EPS, 1 - _EPS)
        labels = target.reshape(preds.shape[:-1]).long()
        return -p.log().gather(-1, labels.unsqueeze(-1)).squeeze(-1)


class ConfusionCount(SampleMean):
    """The number of true/false positives/negatives at threshold 0.5 (binary), a count."""

    def __init__(self, kind: str, threshold: float = 0.5) -> None:
        super().__init__()
        self.kind = kind
        self.threshold = threshold
        self.higher_is_better = kind in ("true_positives", "true_negatives")

    def per_sample(self, preds: Tensor, target: Tensor) -> Tensor:
        predicted = preds > self.threshold
        actual = target.reshape(preds.shape) > 0.5
        picked = {
            "true_positives": predicted & actual,
            "false_positives": predicted & ~actual,
            "true_negatives": ~predicted & ~actual,
            "false_negatives": ~predicted & actual,
        }[self.kind]
        return picked.to(self.total.dtype)

    def compute(self) -> Tensor:
        return self.total.float()


class TopKAccuracy(SampleMean):
    """Whether the target class is among the ``k`` highest outputs (one-hot or sparse targets)."""

    higher_is_better = True

    def __init__(self, k: int, sparse: bool) -> None:
        super().__init__()
        self.k = k
        self.sparse = sparse

    def per_sample(self, preds: Tensor, target: Tensor) -> Tensor:
        if preds.ndim < 2:
            raise ArgumentError(
                "Top-k accuracy needs one output per class (outputs of shape (n, classes)). "
                f"Received outputs of shape {tuple(preds.shape)}"
            )
        labels = target.reshape(preds.shape[:-1]).long() if self.sparse else target.argmax(dim=-1)
        top = preds.topk(min(self.k, preds.shape[-1]), dim=-1).indices
        return (top == labels.unsqueeze(-1)).any(dim=-1).to(self.total.dtype)


class MeanIoU(SampleMean):
    """Mean intersection-over-union over classes, from a confusion matrix kept on the device.

    ``sparse_y_pred`` (Keras's default) takes predicted class ids; otherwise the
    argmax of the outputs (or a 0.5 threshold for one output unit).
    """

    higher_is_better = True

    def __init__(self, num_classes: int, sparse_y_true: bool, sparse_y_pred: bool) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.sparse_y_true = sparse_y_true
        self.sparse_y_pred = sparse_y_pred
        self.total = torch.zeros((num_classes, num_classes), dtype=torch.float64)

    def _ids(self, values: Tensor, sparse: bool) -> Tensor:
        if sparse:
            return values.reshape(-1).round().long()
        if values.ndim > 1 and values.shape[-1] > 1:
            return values.argmax(dim=-1).reshape(-1)
        return (values.reshape(-1) > 0.5).long()

    def update(self, preds: Tensor, target: Tensor) -> None:
        pred_ids = self._ids(preds, self.sparse_y_pred)
        true_ids = self._ids(target, self.sparse_y_true)
        n = self.num_classes
        if pred_ids.numel() != true_ids.numel():
            raise ArgumentError(
                f"MeanIoU: {true_ids.numel()} target labels for {pred_ids.numel()} predictions; "
                "set sparse_y_pred=False for probability outputs"
            )
        keep = (true_ids >= 0) & (true_ids < n) & (pred_ids >= 0) & (pred_ids < n)
        index = true_ids[keep] * n + pred_ids[keep]
        counts = torch.bincount(index, minlength=n * n).reshape(n, n)
        self.total += counts.to(self.total.dtype)
        self.count += int(keep.numel())

    def reset(self) -> None:
        self.total = torch.zeros_like(self.total)
        self.count = 0

    def compute(self) -> Tensor:
        matrix = self.total
        hits = matrix.diagonal()
        union = matrix.sum(dim=0) + matrix.sum(dim=1) - hits
        present = union > 0
        if not bool(present.any()):
            return torch.zeros((), dtype=torch.float32, device=matrix.device)
        return (hits[present] / union[present]).mean().float()


class _AtFixed(torchmetrics.Metric):
    """torchmetrics' exact precision-at-recall (or recall-at-precision), value only."""

    higher_is_better = True
    full_state_update = False

    def __init__(self, kind: str, value: float) -> None:
        super().__init__()
        self.inner: torchmetrics.Metric = (
            torchmetrics.classification.BinaryPrecisionAtFixedRecall(
                min_recall=value, validate_args=False
            )
            if kind == "precision_at_recall"
            else torchmetrics.classification.BinaryRecallAtFixedPrecision(
                min_precision=value, validate_args=False
            )
        )
        # The inner metric's lists are this metric's states, so state()/load_state() see them.
        self.add_state("preds", default=[], dist_reduce_fx="cat")
        self.add_state("target", default=[], dist_reduce_fx="cat")
        self.preds: list[Tensor]
        self.target: list[Tensor]

    def update(self, preds: Tensor, target: Tensor) -> None:
        self.preds.append(preds.reshape(-1).detach())
        self.target.append(target.reshape(-1).round().long().detach())

    def compute(self) -> Tensor:
        self.inner.reset()
        if self.preds:
            self.inner.update(torch.cat(self.preds), torch.cat(self.target))
        value = self.inner.compute()[0]
        return value.float()


def at_fixed(kind: str, value: float) -> torchmetrics.Metric:
    """An exact precision-at-recall or recall-at-precision metric (binary outputs)."""
    return _AtFixed(kind, value)
